"""``python -m runner policy check|test|diff|publish``: the approval policy as code (docs/policy.md).

``check``, ``test`` and ``diff`` need no AWS account: they validate and evaluate with the engine's
own schema and evaluation. ``publish`` puts a document that validates, and whose ``version``
changed, into the SSM parameter the functions read (the standard AWS environment, or
``AWS_ENDPOINT_URL`` for an emulator).

Every command prints a WARNING line for each accept rule open to any AWS account
(``requester: {anyone: true}``); with ``--strict`` (check, publish) a warning fails the command.

Exit status: 0 done; 1 a case does not get its expected decision, publish refused, or a warning
under ``--strict``; 2 bad input (a document or cases file that does not validate, a file that
cannot be read); 3 publish wrote, but someone else wrote the parameter between its check and
its write (see the message: compare, then publish again).
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

if TYPE_CHECKING:
    from peering.core.policy import PolicyDocument

# The commands import the policy's schema (pydantic, PyYAML) and boto3 when they run, so that
# ``--help`` imports neither (runner.cli).

DEFAULT_PARAMETER = "/peering-autopilot/policy"  # template.yaml's PolicyParameterName default
STANDARD_TIER_BYTES = 4096  # the template's parameter is Standard tier: 4 KB
RACED = 3  # exit status: another writer got in between publish's check and its write


def _warned(path: str, text: str, policy: PolicyDocument, strict: bool) -> bool:
    """Print the document's warnings; True when ``--strict`` makes them fatal."""
    from runner.policy_tool import policy_warnings  # noqa: PLC0415

    warnings = policy_warnings(path, text, policy)
    for line in warnings:
        print(line, file=sys.stderr)
    if warnings and strict:
        print(f"refused: {len(warnings)} warning(s) and --strict: nothing was changed", file=sys.stderr)
        return True
    return False


def cmd_check(args: argparse.Namespace) -> int:
    from runner.policy_tool import check_policy, read_text  # noqa: PLC0415

    text = read_text(args.file)
    policy = check_policy(args.file, text)
    print(f"{args.file}: valid, version {policy.version}, {len(policy.rules)} rule(s)")
    return 1 if _warned(args.file, text, policy, args.strict) else 0


def cmd_test(args: argparse.Namespace) -> int:
    from runner.policy_tool import check_policy, decision_label, load_cases, read_text, run_cases, table  # noqa: PLC0415

    text = read_text(args.file)
    policy = check_policy(args.file, text)
    _warned(args.file, text, policy, strict=False)
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
    from runner.policy_tool import (  # noqa: PLC0415
        check_policy,
        decide_case,
        decision_label,
        load_cases,
        rule_changes,
        table,
    )

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
    rules = rule_changes(old, new)
    if rules:
        print(table([[change, name, what] for change, name, what in rules], ["rules", "rule", "what changed"]))
        print()
    if rows:
        print(table(rows, ["case", old.version, new.version, "changes"]))
    changed = sum(1 for row in rows if row[3] == "decision")
    print(
        f"\n{changed} of {len(cases.cases)} cases change decision"
        + (f", {len(rows) - changed} only their rule" if len(rows) > changed else "")
    )
    return 0


def _current(ssm: Any, name: str) -> tuple[str | None, int]:
    """The published text and its parameter version (None and 0: no parameter yet)."""
    try:
        parameter = ssm.get_parameter(Name=name)["Parameter"]
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ParameterNotFound":
            return None, 0
        raise
    return str(parameter["Value"]), int(parameter["Version"])


def _document_version(parameter: str, text: str | None) -> str | None:
    """The ``version`` of a published document (None: none, or it does not validate)."""
    from runner.policy_tool import DocumentError, check_policy  # noqa: PLC0415

    if text is None:
        return None
    try:
        return check_policy(parameter, text).version
    except DocumentError:
        return None


def _written_between(ssm: Any, name: str, checked: int, written: int) -> list[str]:
    """What the other writers put in between (parameter versions checked+1 .. written-1)."""
    lines = []
    for version in range(checked + 1, written):
        try:
            parameter = ssm.get_parameter(Name=f"{name}:{version}")["Parameter"]
        except ClientError:
            lines.append(f"  parameter version {version}: cannot be read")
            continue
        document = _document_version(name, str(parameter["Value"]))
        shown = document if document is not None else "a document that does not validate"
        lines.append(f"  parameter version {version}: policy version {shown}")
    return lines


def _put(ssm: Any, name: str, text: str, checked: int) -> int | None:
    """Write; the parameter version written (None: nothing written, someone created it first).

    SSM has no conditional put: PutParameter answers with the version it made, which is exactly
    checked + 1 only if nobody wrote in between. A parameter that did not exist is created with
    Overwrite=False, which fails if someone created it in the meantime."""
    try:
        put = ssm.put_parameter(Name=name, Value=text, Type="String", Overwrite=checked > 0)
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ParameterAlreadyExists":
            return None
        raise
    return int(put["Version"])


def cmd_publish(args: argparse.Namespace) -> int:
    import boto3  # noqa: PLC0415

    from runner.policy_tool import check_policy, load_cases, read_text, run_cases  # noqa: PLC0415

    text = read_text(args.file)
    policy = check_policy(args.file, text)
    if _warned(args.file, text, policy, args.strict):
        return 1
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
    current_text, checked = _current(ssm, args.parameter)
    # A published document that does not validate has no version: any valid document replaces it.
    current_version = _document_version(args.parameter, current_text)
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
    return _write(ssm, args.parameter, text, policy.version, checked=checked, was=current_version)


def _write(ssm: Any, parameter: str, text: str, version: str, *, checked: int, was: str | None) -> int:
    """Put the document; 0, or RACED when another writer got in between the check and the put."""
    written = _put(ssm, parameter, text, checked)
    if written is None:
        print(
            f"conflict: {parameter} did not exist when checked, but someone created it before this "
            "write; nothing was written. See what it holds with "
            f"`aws ssm get-parameter --name {parameter}`, compare with `policy diff`, then publish again",
            file=sys.stderr,
        )
        return RACED
    if written != checked + 1:
        print(
            f"conflict: someone else wrote {parameter} between this command's check (parameter "
            f"version {checked}) and its write (parameter version {written}). Your version "
            f"{version} is now published, over what they wrote:",
            file=sys.stderr,
        )
        for line in _written_between(ssm, parameter, checked, written):
            print(line, file=sys.stderr)
        print(
            f"Find out who (`aws ssm get-parameter-history --name {parameter}`), compare the two "
            "documents with `python -m runner policy diff`, agree on one, and publish it again with a "
            "new version.",
            file=sys.stderr,
        )
        return RACED
    print(
        f"published version {version} to {parameter} (parameter version {written}, "
        f"was {was or 'none'}); warm functions read it within their POLICY_CACHE_SECONDS"
    )
    return 0


def _guarded(command: Any) -> Any:
    def run(args: argparse.Namespace) -> int:
        from runner.policy_tool import DocumentError  # noqa: PLC0415

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
    p.add_argument("--strict", action="store_true", help="a warning (an accept rule open to anyone) fails too")
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
    p.add_argument("--strict", action="store_true", help="refuse a document with warnings (anyone may ask)")
    p.set_defaults(run=_guarded(cmd_publish))
