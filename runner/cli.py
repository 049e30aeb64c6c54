"""``python -m runner <command>``: invoke, route, explain, bootstrap, map, demo, policy, approve,
reject, pending (docs/try-it.md)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import ClientError

from runner import HUB_TEMPLATE, operator_cli, policy_cli, smoke_cli
from runner.bootstrap import bootstrap
from runner.cfn import DEFAULT_STACK_NAME, Stack
from runner.demo import run_demo
from runner.invoke import captured_output, function_environment, invoke, patched_environ
from runner.model import find_function, rules
from runner.routing import deliver, describe_event, matching_rules
from runner.template import TemplateError

__all__ = ["main"]


def _pairs(values: Sequence[str] | None, what: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in values or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise SystemExit(f"{what} must be KEY=VALUE, got {item!r}")
        out[key] = value
    return out


def _read_event(path: str) -> Any:
    text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    return json.loads(text)


def _target() -> tuple[Any, str, str]:
    """(boto3 session, account, Region) of the standard AWS environment (real AWS or AWS_ENDPOINT_URL)."""
    session = boto3.session.Session()
    region = session.region_name or os.environ.get("AWS_REGION") or "us-east-1"
    if session.region_name is None:
        session = boto3.session.Session(region_name=region)
    identity = session.client("sts").get_caller_identity()
    return session, str(identity["Account"]), region


def _hub_stack(args: argparse.Namespace, session: Any, account: str, region: str) -> Stack:
    sqs = session.client("sqs")

    def queue_url(name: str) -> str:
        try:
            return str(sqs.get_queue_url(QueueName=name)["QueueUrl"])
        except ClientError:
            print(f"note: queue {name} does not exist here (run bootstrap); using its AWS URL", file=sys.stderr)
            return f"https://sqs.{region}.amazonaws.com/{account}/{name}"

    return Stack.load(
        Path(args.template),
        account=account,
        region=region,
        overrides=_pairs(args.param, "--param"),
        stack_name=args.stack_name,
        queue_url=queue_url,
    )


# ------------------------------------------------------------------------------------------------


def cmd_invoke(args: argparse.Namespace) -> int:
    event = _read_event(args.event_file)
    session, account, region = _target()
    stack = _hub_stack(args, session, account, region)
    spec = find_function(stack, args.function)
    print(f"invoking {spec.logical_id} ({spec.handler_file}) in {account}/{region}", file=sys.stderr)
    invocation = invoke(
        spec, event, account=account, region=region, overrides=_pairs(args.env, "--env"), output=sys.stderr
    )
    if invocation.error is not None:
        print(json.dumps(invocation.error_payload(), indent=2), file=sys.stdout)
    else:
        print(json.dumps(invocation.result, indent=2, default=str))
    print(
        f"{spec.logical_id}: {'succeeded' if invocation.ok else 'FAILED'} in {invocation.duration_ms:.0f} ms",
        file=sys.stderr,
    )
    return 0 if invocation.ok else 1


def cmd_route(args: argparse.Namespace) -> int:
    event = _read_event(args.event_file)
    if not isinstance(event, dict):
        raise SystemExit("the event must be a JSON object")
    account = args.account or str(event.get("account") or "")
    # The hub's Region is where the stack runs (the configured Region), not where the event comes from.
    region = args.region or os.environ.get("AWS_REGION") or boto3.session.Session().region_name or "us-east-1"
    stack = Stack.load(
        Path(args.template),
        account=account,
        region=region,
        overrides=_pairs(args.param, "--param"),
        stack_name=args.stack_name,
    )
    every = rules(stack)
    matched = matching_rules(every, event, args.bus)
    is_cloudtrail = event.get("detail-type") == "AWS API Call via CloudTrail"
    arrival = deliver(event, stack) if is_cloudtrail else None
    functions = sorted({f for r in matched for f in r.functions})
    if args.json:
        print(
            json.dumps(
                {
                    "event": describe_event(event),
                    "hub": {"account": account, "region": region, "stack": stack.stack_name},
                    "arrives": {"bus": arrival.bus, "how": arrival.how} if arrival else None,
                    "matches": [
                        {
                            "rule": r.rule_id,
                            "bus": r.bus,
                            "kind": r.kind,
                            "function": ", ".join(r.functions),
                            "schedule": r.schedule,
                            "targets": [
                                {
                                    "id": t.target_id,
                                    "arn": t.arn,
                                    "retryPolicy": t.retry_policy,
                                    "deadLetterArn": t.dead_letter_arn,
                                }
                                for t in r.targets
                            ],
                        }
                        for r in matched
                    ],
                    "functions": functions,
                },
                indent=2,
            )
        )
        return 0 if matched else 1
    print(f"event:   {describe_event(event)}")
    assumed = "" if args.account else " (the event's account taken as the hub's; --account to change)"
    print(f"hub:     {account}/{region}, stack {stack.stack_name}{assumed}")
    if arrival is not None:
        print(f"arrives: {'bus ' + arrival.bus if arrival.bus else 'nowhere in the hub'} ({arrival.how})")
    elif event.get("source") in ("aws.events", "aws.scheduler"):
        print("arrives: delivered by the schedule rule itself (default bus)")
    else:
        print("arrives: on the bus it is put on (PutEvents EventBusName)")
    if not matched:
        print(f"rules:   none of the {len(every)} rules matches")
        return 1
    print("rules:")
    width = max(len(r.rule_id) for r in matched)
    for rule in matched:
        where = f"schedule {rule.schedule}" if rule.schedule else f"bus {rule.bus}"
        mark = "  <- where it arrives" if arrival is not None and arrival.bus == rule.bus else ""
        print(f"  {rule.rule_id:{width}}  {where:28} -> {', '.join(rule.functions)}{mark}")
    print(f"runs:    {', '.join(functions)}")
    return 0


def cmd_explain(args: argparse.Namespace) -> int:
    session, hub_account, region = _target()
    stack = _hub_stack(args, session, hub_account, region)
    spec = find_function(stack, "AcceptFunction")
    # The functions' settings (Globals); engine logs only from WARNING up, on stderr.
    quiet = {"POWERTOOLS_LOG_LEVEL": "WARNING", **_pairs(args.env, "--env")}
    env = function_environment(spec, account=hub_account, region=region, overrides=quiet)
    with patched_environ(env):
        # The engine reads its Powertools settings when it is imported: import it in this environment.
        from runner.explain import explain  # noqa: PLC0415

        with captured_output(sys.stderr):
            result = explain(args.connection_id, account=args.account, region=args.region or region, env=env)
    if args.json:
        print(json.dumps(result.as_dict(), indent=2))
    else:
        print(result.render())
    return 1 if result.status == "unknown" else 0


def cmd_bootstrap(args: argparse.Namespace) -> int:
    session, account, region = _target()
    stack = _hub_stack(args, session, account, region)
    endpoint = os.environ.get("AWS_ENDPOINT_URL") or "AWS"
    print(f"bootstrapping stack {stack.stack_name} from {args.template} in {account}/{region} ({endpoint})")
    done = bootstrap(stack, session)
    for resource in done:
        print(f"  {resource.logical_id:28} {resource.kind:22} {resource.physical_id}  [{resource.status}]")
    spec = find_function(stack, "AcceptFunction")
    print("the functions' environment refers to them as:")
    for key in ("LEDGER_TABLE", "TOPIC_ARN", "POLICY_PARAMETER", "EVENT_BUS_NAME"):
        print(f"  {key}={spec.environment.get(key, '')}")
    return 0


def cmd_map(args: argparse.Namespace) -> int:
    from runner.map_cli import LinkLifetimeError, presigned_map_url, write_map_file  # noqa: PLC0415

    if args.from_stack:
        try:
            print(presigned_map_url(boto3.session.Session(), args.from_stack, args.expires))
        except LinkLifetimeError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        return 0
    session, account, region = _target()
    stack = _hub_stack(args, session, account, region)
    written = write_map_file(stack, account=account, region=region, path=Path(args.out))
    print(f"peering map: {written.summary()}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    return run_demo(verbose=args.verbose)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m runner", description="Run Peering Autopilot's functions and rules locally (docs/try-it.md)."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    def stack_options(p: argparse.ArgumentParser) -> None:
        p.add_argument("--template", default=str(HUB_TEMPLATE), help="the hub template (default: template.yaml)")
        p.add_argument("--stack-name", default=DEFAULT_STACK_NAME, help="prefix of local resource names")
        p.add_argument("--param", action="append", metavar="Name=Value", help="a template parameter (repeatable)")

    p = sub.add_parser("invoke", help="run one function's handler on an event file, with the template's environment")
    p.add_argument("function", help="logical id (AcceptFunction) or code folder (accept)")
    p.add_argument("event_file", help="event JSON file ('-' for stdin)")
    p.add_argument("--env", action="append", metavar="KEY=VALUE", help="override an environment variable (repeatable)")
    stack_options(p)
    p.set_defaults(run=cmd_invoke)

    p = sub.add_parser("route", help="which of the template's rules match an event, and which functions they run")
    p.add_argument("event_file", help="event JSON file ('-' for stdin)")
    p.add_argument("--account", help="the hub account (default: the event's account)")
    p.add_argument("--region", help="the hub Region (default: the configured Region, else us-east-1)")
    p.add_argument("--bus", help="only rules on this bus (default, peering-autopilot)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    stack_options(p)
    p.set_defaults(run=cmd_route)

    p = sub.add_parser("explain", help="observe one connection and print the decision and plan (changes nothing)")
    p.add_argument("connection_id")
    p.add_argument(
        "--account", required=True, help="an account that sees the connection (the accepter's for a request)"
    )
    p.add_argument("--region", help="its Region (default: the current Region)")
    p.add_argument("--env", action="append", metavar="KEY=VALUE", help="override a setting (repeatable)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    stack_options(p)
    p.set_defaults(run=cmd_explain)

    p = sub.add_parser("bootstrap", help="create the hub resources the functions need (from template.yaml)")
    stack_options(p)
    p.set_defaults(run=cmd_bootstrap)

    p = sub.add_parser("map", help="the peering map: one HTML file of every VPC, connection, state and drift")
    p.add_argument("--out", default="map.html", help="where to write it (default: map.html)")
    p.add_argument("--from-stack", metavar="STACK", help="print a link to the deployed hub's map instead")
    p.add_argument(
        "--expires",
        type=int,
        default=3600,
        help="the link's lifetime in seconds, at most 604800 (7 days; default: 3600)",
    )
    stack_options(p)
    p.set_defaults(run=cmd_map)

    p = sub.add_parser("demo", help="the whole lifecycle on a local moto server, through the template's rules")
    p.add_argument("--verbose", action="store_true", help="also print the functions' logs (stderr)")
    p.set_defaults(run=cmd_demo)

    policy_cli.register(sub)
    operator_cli.register(sub, stack_options)
    smoke_cli.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        code: int = args.run(args)
    except (TemplateError, FileNotFoundError, json.JSONDecodeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except ClientError as exc:  # the endpoint refused a call of the runner itself (not of a function)
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return code
