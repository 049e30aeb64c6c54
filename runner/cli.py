"""``python -m runner <command>`` (``peering-autopilot <command>`` when installed): invoke, route,
explain, bootstrap, map, adopt, demo, policy, approve, reject, pending, up, tail (docs/try-it.md).

Adding a command is a local change: a ``cmd_<name>(args) -> int`` function that imports what it
needs *inside* itself, and a ``sub.add_parser`` block in ``_parser`` that sets ``run=cmd_<name>``
(or a ``register(sub)`` in the command's own module, whose top level imports nothing heavy). Thus
``--help`` and every other command import neither the SAM translator, cfn-lint, moto nor the
engine (tests/e2e/test_cli_errors.py checks), and the installed command line, which has none of
the development packages, runs the commands that need none.

Errors a user can act on end as one line on stderr, ``error: <what> : <what to do>``, and an exit
status (``_explained``, the one place that maps them): no endpoint answering, no or expired
credentials, access denied (with the IAM to attach), a stack that is not there, a file that is not
JSON, a command that needs the development environment. A command raises runner.errors.CommandError
for its own. ``--debug`` (or PEERING_AUTOPILOT_DEBUG=1) shows the traceback instead.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runner import DEFAULT_STACK_NAME, HUB_TEMPLATE, invoked_as, operator_cli, policy_cli, smoke_cli
from runner.errors import ENVIRONMENT, CommandError, DevelopmentOnlyError

if TYPE_CHECKING:
    from runner.cfn import Stack

__all__ = ["main"]

#: packages only the development environment has (requirements/dev.txt), and this repository's own
DEVELOPMENT_PACKAGES = frozenset({"moto", "samtranslator", "cfnlint", "emulation", "werkzeug", "flask"})
#: the IAM policy (policy/iam/, docs/deploy.md) that a command's caller needs
IAM_POLICIES = {
    "approve": "policy/iam/operator.json",
    "reject": "policy/iam/operator.json",
    "pending": "policy/iam/operator.json",
    "policy": "policy/iam/policy-publisher.json",
}
DEBUG_VARIABLE = "PEERING_AUTOPILOT_DEBUG"
INTERRUPTED = 130  # the shell's status for a command ended by Ctrl-C


def _pairs(values: Sequence[str] | None, what: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in values or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise CommandError(f"{what} must be KEY=VALUE, got {item!r}")
        out[key] = value
    return out


def _read_event(path: str) -> Any:
    name = "standard input" if path == "-" else path
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise CommandError(
            f"{name} is not JSON ({exc.msg}, line {exc.lineno} column {exc.colno}): give an event file, "
            "e.g. one of events/"
        ) from None
    except UnicodeDecodeError:
        raise CommandError(f"{name} is not text (UTF-8): give an event file, e.g. one of events/") from None


def _target() -> tuple[Any, str, str]:
    """(boto3 session, account, Region) of the standard AWS environment (real AWS or AWS_ENDPOINT_URL)."""
    import boto3  # noqa: PLC0415

    session = boto3.session.Session()
    region = session.region_name or os.environ.get("AWS_REGION") or "us-east-1"
    if session.region_name is None:
        session = boto3.session.Session(region_name=region)
    identity = session.client("sts").get_caller_identity()
    return session, str(identity["Account"]), region


def _hub_stack(args: argparse.Namespace, session: Any, account: str, region: str) -> Stack:
    from botocore.exceptions import ClientError  # noqa: PLC0415

    from runner.cfn import Stack  # noqa: PLC0415

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
    from runner.invoke import invoke  # noqa: PLC0415
    from runner.model import find_function  # noqa: PLC0415

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
    import boto3  # noqa: PLC0415

    from runner.cfn import Stack  # noqa: PLC0415
    from runner.model import rules  # noqa: PLC0415
    from runner.routing import deliver, describe_event, matching_rules  # noqa: PLC0415

    event = _read_event(args.event_file)
    if not isinstance(event, dict):
        raise CommandError(f"{args.event_file}: the event must be a JSON object")
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
    from runner.invoke import captured_output, function_environment, patched_environ  # noqa: PLC0415
    from runner.model import find_function  # noqa: PLC0415

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
    from runner.bootstrap import bootstrap  # noqa: PLC0415
    from runner.model import find_function  # noqa: PLC0415

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
    import boto3  # noqa: PLC0415

    from runner.map_cli import LinkLifetimeError, presigned_map_url, write_map_file  # noqa: PLC0415

    if args.from_stack:
        try:
            print(presigned_map_url(boto3.session.Session(), args.from_stack, args.expires))
        except LinkLifetimeError as exc:
            raise CommandError(str(exc)) from None
        return 0
    session, account, region = _target()
    stack = _hub_stack(args, session, account, region)
    written = write_map_file(stack, account=account, region=region, path=Path(args.out))
    print(f"peering map: {written.summary()}")
    return 0


def cmd_adopt(args: argparse.Namespace) -> int:
    if not args.dry_run:
        print(
            "error: adoption is made by the policy's adopt: section (docs/policy.md), published like any "
            "policy change; `adopt --dry-run` reports what it would adopt and change",
            file=sys.stderr,
        )
        return 2
    from runner.adopt_cli import adoption_report  # noqa: PLC0415

    session, account, region = _target()
    stack = _hub_stack(args, session, account, region)
    report = adoption_report(stack, account=account, region=region, env=_pairs(args.env, "--env"), session=session)
    print(json.dumps(report.as_dict(), indent=2) if args.json else report.render())
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from runner.demo import run_demo  # noqa: PLC0415

    return run_demo(verbose=args.verbose)


def cmd_tail(args: argparse.Namespace) -> int:
    from runner.tail import cmd_tail as tail  # noqa: PLC0415 - only for tail

    return tail(args)


def cmd_up(args: argparse.Namespace) -> int:
    from runner.up import run_up  # noqa: PLC0415 - the sandbox's imports only for up

    return run_up(args)


def _sandbox_commands(sub: Any, stack_options: Callable[[argparse.ArgumentParser], None]) -> None:
    """``up`` (the live sandbox) and ``tail`` (its ledger and notifications); imported when run."""
    p = sub.add_parser("up", help="a live local organization any AWS client can drive, until Ctrl-C")
    p.add_argument("--port", type=int, default=8600, help="loopback port (default 8600; 0: a free one)")
    p.add_argument(
        "--sweep-every",
        type=float,
        metavar="SECONDS",
        help="fire the scheduled sweep this often (default: the template's SweepSchedule, 30 minutes)",
    )
    p.add_argument("--write-profiles", metavar="PATH", help="write the accounts as an AWS CLI config file")
    p.add_argument("--log", metavar="PATH", help="also write the timeline and the functions' logs to this file")
    p.add_argument("--state-file", metavar="PATH", help="write the endpoint, accounts and keys as JSON when ready")
    p.add_argument("--parent-pid", type=int, help=argparse.SUPPRESS)  # stop with it (runner.sandbox)
    p.set_defaults(run=cmd_up)

    p = sub.add_parser("tail", help="follow the hub's ledger and notifications as they change (Ctrl-C stops)")
    p.add_argument("--interval", type=float, default=1.0, help="seconds between looks at the ledger (default 1)")
    p.add_argument("--once", action="store_true", help="print every connection's record once and exit")
    p.add_argument("--bus", help=argparse.SUPPRESS)
    p.add_argument("--table", help="the ledger table (default: the stack's output, else the template's name)")
    stack_options(p)
    p.set_defaults(run=cmd_tail)


def _adopt_command(sub: Any, stack_options: Callable[[argparse.ArgumentParser], None]) -> None:
    """``adopt --dry-run``: the first-run report (runner.adopt_cli); imported when run."""
    p = sub.add_parser(
        "adopt",
        help="the first-run report: every active connection, whether the policy adopts it, what adoption changes",
    )
    p.add_argument("--dry-run", action="store_true", help="report only (required: adoption is the policy's)")
    p.add_argument("--env", action="append", metavar="KEY=VALUE", help="override a setting (repeatable)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    stack_options(p)
    p.set_defaults(run=cmd_adopt)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=invoked_as(), description="Run Peering Autopilot's functions and rules locally (docs/try-it.md)."
    )
    parser.add_argument(
        "--debug", action="store_true", help=f"show the traceback of an error (or set {DEBUG_VARIABLE}=1)"
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

    _adopt_command(sub, stack_options)

    p = sub.add_parser("demo", help="the whole lifecycle on a local moto server, through the template's rules")
    p.add_argument("--verbose", action="store_true", help="also print the functions' logs (stderr)")
    p.set_defaults(run=cmd_demo)

    _sandbox_commands(sub, stack_options)

    policy_cli.register(sub)
    operator_cli.register(sub, stack_options)
    smoke_cli.register(sub)
    return parser


# --- errors a user meets first: one line with what to do --------------------------------------

EXPIRED = frozenset({"ExpiredToken", "ExpiredTokenException", "RequestExpired", "TokenRefreshRequired"})
INVALID = frozenset(
    {
        "InvalidClientTokenId",
        "UnrecognizedClientException",
        "SignatureDoesNotMatch",
        "InvalidSignatureException",
        "AuthFailure",
        "InvalidAccessKeyId",
        "InvalidToken",
    }
)
DENIED = frozenset({"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "AuthorizationError"})
SANDBOX_CREDENTIALS = "the sandbox's: the ones `python -m runner up` prints"


def _explained(exc: BaseException, command: str) -> CommandError | None:  # noqa: PLR0911 - one per kind
    """The one line and exit status for an error a user can act on; None for a defect (traceback)."""
    from botocore import exceptions as aws  # noqa: PLC0415 - not for --help

    endpoint = os.environ.get("AWS_ENDPOINT_URL")
    if isinstance(exc, CommandError):
        return exc
    if isinstance(exc, ModuleNotFoundError) and (exc.name or "").split(".")[0] in DEVELOPMENT_PACKAGES:
        return DevelopmentOnlyError(command, str(exc.name))
    template = sys.modules.get("runner.template")  # loaded when it raised: no import for the check
    if template is not None and isinstance(exc, template.TemplateError):
        return CommandError(str(exc))
    if isinstance(exc, aws.EndpointConnectionError | aws.ConnectTimeoutError):
        url = exc.kwargs.get("endpoint_url", "the endpoint")
        if endpoint:
            return CommandError(
                f"nothing answers at {url} (AWS_ENDPOINT_URL): start the sandbox (`python -m runner up`), "
                "or unset AWS_ENDPOINT_URL to use AWS",
                ENVIRONMENT,
            )
        return CommandError(f"cannot reach {url}: check the network and AWS_REGION", ENVIRONMENT)
    if isinstance(exc, aws.NoCredentialsError | aws.PartialCredentialsError):
        where = f"; for the sandbox at {endpoint}, {SANDBOX_CREDENTIALS}" if endpoint else ""
        return CommandError(
            "no AWS credentials: set AWS_PROFILE (after `aws configure` or `aws sso login`) or "
            f"AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY{where}",
            ENVIRONMENT,
        )
    if isinstance(exc, aws.ProfileNotFound):
        return CommandError(f"{exc}: set AWS_PROFILE to a profile of ~/.aws/config (`aws configure list-profiles`)")
    if isinstance(exc, aws.TokenRetrievalError | aws.SSOTokenLoadError | aws.UnauthorizedSSOTokenError):
        return CommandError(f"your AWS SSO login has expired or is missing: run `aws sso login` ({exc})", ENVIRONMENT)
    if isinstance(exc, aws.ClientError):
        return _refused(exc, command, endpoint)
    if isinstance(exc, json.JSONDecodeError):
        return CommandError(f"not JSON: {exc}")
    if isinstance(exc, FileNotFoundError):
        return CommandError(f"{exc.filename or exc}: no such file")
    if isinstance(exc, IsADirectoryError | PermissionError):
        return CommandError(f"{exc.filename or exc}: {exc.strerror or exc}")
    return None


def _refused(exc: Any, command: str, endpoint: str | None) -> CommandError:
    """An AWS API's refusal of one of the command's own calls (botocore's ClientError)."""
    error = exc.response.get("Error", {})
    code, message, call = str(error.get("Code", "")), str(error.get("Message", "")), exc.operation_name
    if code in EXPIRED:
        return CommandError(
            f"your AWS credentials have expired ({code} calling {call}): refresh them (`aws sso login`, or new "
            "keys and session token) and run again",
            ENVIRONMENT,
        )
    if code in INVALID:
        hint = SANDBOX_CREDENTIALS if endpoint else "check AWS_PROFILE or AWS_ACCESS_KEY_ID"
        return CommandError(f"AWS does not accept these credentials ({code} calling {call}): {hint}", ENVIRONMENT)
    if code in DENIED:
        performed = re.search(r"perform: ([\w-]+:\w+)", message)
        action = performed.group(1) if performed else call
        policy = IAM_POLICIES.get(command)
        attach = f"attach {policy} to your role or user (docs/deploy.md)" if policy else f"ask for {action}"
        return CommandError(f"access denied to {action}: {attach}", ENVIRONMENT)
    if code == "403":  # a refusal botocore could not read (an emulator's): credentials or IAM
        return CommandError(f"{call} refused (HTTP 403): check the credentials and what IAM allows them", ENVIRONMENT)
    if call == "DescribeStacks" and code == "ValidationError" and "does not exist" in message:
        return CommandError(
            f"{message} in Region {_region()}: check the stack name, AWS_REGION and AWS_PROFILE "
            "(`aws cloudformation describe-stacks` lists the stacks)"
        )
    return CommandError(str(exc))


def _region() -> str:
    import boto3  # noqa: PLC0415

    return boto3.session.Session().region_name or os.environ.get("AWS_REGION") or "us-east-1"


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    run: Callable[[argparse.Namespace], int] = args.run
    try:
        return run(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return INTERRUPTED
    except Exception as exc:
        explained = _explained(exc, args.command)
        if explained is None or args.debug or os.environ.get(DEBUG_VARIABLE):
            raise
        print(f"error: {' '.join(str(explained).split())}", file=sys.stderr)
        return explained.exit_code
