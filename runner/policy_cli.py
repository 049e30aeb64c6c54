"""``python -m runner policy check|test|diff|publish``: the approval policy as code (docs/policy.md).

``check``, ``test`` and ``diff`` need no AWS account: they validate and evaluate with the engine's
own schema and evaluation. ``publish`` puts a document that validates, and whose ``version``
changed, into the SSM parameter the functions read (the standard AWS environment, or
``AWS_ENDPOINT_URL`` for an emulator).

Exit status: 0 done; 1 a case does not get its expected decision, or publish refused; 2 bad
input (a document or cases file that does not validate, a file that cannot be read).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

import boto3
from botocore.exceptions import ClientError

from runner.policy_tool import (
    DocumentError,
    check_policy,
    decide_case,
    decision_label,
    load_cases,
    read_text,
    run_cases,
    table,
)

DEFAULT_PARAMETER = "/peering-autopilot/policy"  # template.yaml's PolicyParameterName default
STANDARD_TIER_BYTES = 4096  # the template's parameter is Standard tier: 4 KB


def cmd_check(args: argparse.Namespace) -> int:
    policy = check_policy(args.file)
    print(f"{args.file}: valid, version {policy.version}, {len(policy.rules)} rule(s)")
    return 0


def cmd_test(args: argparse.Namespace) -> int:
    policy = check_policy(args.file)
    cases = load_cases(args.cases)
    results = run_cases(policy, cases, args.cases)
    rows = [["ok" if r.passed else "FAIL", r.case.name, r.verdict, r.decision.rule or "-", r.expected] for r in results]
    print(f"policy {policy.version} ({args.file}), cases {args.cases}")
    print(table(rows, ["", "case", "decision", "rule", "expected"]))
    failed = [r for r in results if not r.passed]
    for result in failed:
        print(f"\nFAIL {result.case.name}: got {decision_label(result.decision)}, expected {result.expected}")
        for reason in result.decision.reasons:
            print(f"  because {reason}")
    print(f"\n{len(results) - len(failed)} of {len(results)} cases pass")
    return 1 if failed else 0


def cmd_diff(args: argparse.Namespace) -> int:
    old, new = check_policy(args.old), check_policy(args.new)
    cases = load_cases(args.cases)
    rows = []
    for case in cases.cases:
        before, after = decide_case(old, case, cases), decide_case(new, case, cases)
        if before.outcome is not after.outcome:
            rows.append([case.name, decision_label(before), decision_label(after), "decision"])
        elif before.rule != after.rule:
            rows.append([case.name, decision_label(before), decision_label(after), "rule only"])
    print(f"{old.version} ({args.old}) -> {new.version} ({args.new}), cases {args.cases}")
    if rows:
        print(table(rows, ["case", old.version, new.version, "changes"]))
    changed = sum(1 for row in rows if row[3] == "decision")
    print(
        f"\n{changed} of {len(cases.cases)} cases change decision"
        + (f", {len(rows) - changed} only their rule" if len(rows) > changed else "")
    )
    return 0


def _current(ssm: Any, name: str) -> str | None:
    try:
        return str(ssm.get_parameter(Name=name)["Parameter"]["Value"])
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ParameterNotFound":
            return None
        raise


def cmd_publish(args: argparse.Namespace) -> int:
    text = read_text(args.file)
    policy = check_policy(args.file, text)
    if args.cases:
        results = run_cases(policy, load_cases(args.cases), args.cases)
        failed = [r.case.name for r in results if not r.passed]
        if failed:
            print(f"refused: {len(failed)} case(s) of {args.cases} fail: {', '.join(failed)}", file=sys.stderr)
            return 1
    size = len(text.encode("utf-8"))
    if size > STANDARD_TIER_BYTES:
        print(f"refused: {size} bytes is over the Standard parameter's {STANDARD_TIER_BYTES}", file=sys.stderr)
        return 1
    ssm = boto3.session.Session().client("ssm")
    current_text = _current(ssm, args.parameter)
    current_version = None
    if current_text is not None:
        try:
            current_version = check_policy(args.parameter, current_text).version
        except DocumentError:
            current_version = None  # the published one does not validate: any valid document replaces it
    if current_version == policy.version:
        print(
            f"refused: version {policy.version!r} is already published in {args.parameter}; every decision records "
            "the version it was made under, so change `version` with every edit",
            file=sys.stderr,
        )
        return 1
    if args.dry_run:
        print(f"would publish version {policy.version} to {args.parameter} (now: {current_version or 'none'})")
        return 0
    put = ssm.put_parameter(Name=args.parameter, Value=text, Type="String", Overwrite=True)
    print(
        f"published version {policy.version} to {args.parameter} (parameter version {put['Version']}, "
        f"was {current_version or 'none'}); warm functions read it within their POLICY_CACHE_SECONDS"
    )
    return 0


def _guarded(command: Any) -> Any:
    def run(args: argparse.Namespace) -> int:
        try:
            code: int = command(args)
        except DocumentError as exc:
            print(str(exc), file=sys.stderr)
            print(f"error: {exc.path} is not valid: nothing was changed", file=sys.stderr)
            return 2
        return code

    return run


def register(sub: Any) -> None:
    """Add ``policy`` and its subcommands to the runner's parser."""
    policy = sub.add_parser("policy", help="check, test, diff and publish the approval policy (no AWS but publish)")
    commands = policy.add_subparsers(dest="policy_command", required=True)

    p = commands.add_parser("check", help="validate a policy document; each error with its line and column")
    p.add_argument("file")
    p.set_defaults(run=_guarded(cmd_check))

    p = commands.add_parser("test", help="run a cases file of hypothetical requests; non-zero on any mismatch")
    p.add_argument("file", help="the policy document")
    p.add_argument("cases", help="the cases file (policy/example-cases.yaml shows the format)")
    p.set_defaults(run=_guarded(cmd_test))

    p = commands.add_parser("diff", help="which cases change decision between two versions of a policy")
    p.add_argument("old")
    p.add_argument("new")
    p.add_argument("cases")
    p.set_defaults(run=_guarded(cmd_diff))

    p = commands.add_parser("publish", help="put a valid document with a new version into the SSM parameter")
    p.add_argument("file")
    p.add_argument("--parameter", default=DEFAULT_PARAMETER, help=f"SSM parameter name (default {DEFAULT_PARAMETER})")
    p.add_argument("--cases", help="also refuse unless every case of this file passes")
    p.add_argument("--dry-run", action="store_true", help="check everything, put nothing")
    p.set_defaults(run=_guarded(cmd_publish))
