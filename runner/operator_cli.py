"""``python -m runner approve|reject|pending``: an operator's commands (docs/try-it.md).

``approve`` and ``reject`` put the operator event on the hub's peering bus (no hand-written JSON);
the operator function then re-reads the request and decides it. ``pending`` lists the requests
the ledger holds for a person, with who asked, why they are held, their age and the time left
before they end: AWS's expiry, or sooner, when the requester is one of ours, the withdrawal by
its sweep after cleanup.pendingRequestMaxAgeHours (the end the sweep's reminders count back
from). Both work against a deployed stack (names from its outputs) and against an emulator
bootstrapped by ``python -m runner bootstrap`` (names from the template), through the standard
AWS environment (``AWS_ENDPOINT_URL`` for an emulator).

Exit status: 0 done; 1 the bus refused the event; 2 bad input (an id, a name or a comment the
operator function would refuse, a request the ledger does not know): nothing is sent.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from peering.core.event_fields import ACCOUNT_ID, CONNECTION_ID, FREE_TEXT, PRINCIPAL_NAME, REGION
from peering.core.events import APPROVE_DETAIL_TYPE, OPERATOR_SOURCE, REJECT_DETAIL_TYPE
from peering.core.reminders import EXPIRES, WITHDRAWN, format_time_left, request_end
from runner import invoked_as
from runner.errors import CommandError
from runner.invoke import captured_output

if TYPE_CHECKING:
    from runner.cfn import Stack

REQUEST_LIFETIME = timedelta(hours=168)  # AWS expires an unanswered request after 7 days
COMMENT_MAX = 1024


class OperatorInputError(Exception):
    """Input the operator function would refuse: nothing is sent."""


@dataclass(frozen=True)
class Hub:
    session: Any
    account: str
    region: str
    bus_name: str
    ledger_table: str
    source: str  # where the names came from


#: what describe_stacks answers for a stack that is not there (a ValidationError, not a 404)
NO_SUCH_STACK = "ValidationError"


def _session() -> tuple[Any, str, str]:
    import boto3  # noqa: PLC0415 - not for --help

    session = boto3.session.Session()
    region = session.region_name or os.environ.get("AWS_REGION") or "us-east-1"
    if session.region_name is None:
        session = boto3.session.Session(region_name=region)
    return session, str(session.client("sts").get_caller_identity()["Account"]), region


def locate_hub(args: argparse.Namespace) -> Hub:
    """The bus and ledger of the hub: --bus/--table, else the deployed stack's outputs, else the
    names the template gives them (what ``bootstrap`` creates in an emulator)."""
    session, account, region = _session()
    bus, table, source = args.bus, args.table, "given"
    if not (bus and table):
        outputs = _stack_outputs(session, args.stack_name)
        if "PeeringEventBusName" in outputs and "LedgerTableName" in outputs:
            bus, table = bus or outputs["PeeringEventBusName"], table or outputs["LedgerTableName"]
            source = f"outputs of stack {args.stack_name}"
        else:
            stack = _template_stack(args, account, region)
            bus, table = bus or str(stack.ref("PeeringEventBus")), table or str(stack.ref("LedgerTable"))
            source = f"names {args.template} gives them (no stack {args.stack_name} deployed here)"
    return Hub(session, account, region, str(bus), str(table), source)


def _stack_outputs(session: Any, stack_name: str) -> dict[str, str]:
    """The stack's outputs; empty when there is no such stack here (any other refusal is raised:
    access denied or expired credentials are the user's to fix, not a reason to guess names)."""
    try:
        stacks = session.client("cloudformation").describe_stacks(StackName=stack_name)["Stacks"]
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == NO_SUCH_STACK:
            return {}
        raise
    return {o["OutputKey"]: o["OutputValue"] for o in (stacks[0].get("Outputs", []) if stacks else [])}


def _template_stack(args: argparse.Namespace, account: str, region: str) -> Stack:
    """The names the template gives the hub's resources (what ``bootstrap`` creates in an emulator).

    Only in the development environment: an installed command line has neither the template nor
    the SAM translator, and needs the deployed stack."""
    where = f"{account}/{region}"
    try:
        from runner.cfn import Stack  # noqa: PLC0415 - the SAM translator, only without a deployed stack
    except ImportError:
        raise CommandError(
            f"no stack {args.stack_name} in {where}: give the deployed hub's stack name with --stack-name "
            "(or its bus and ledger with --bus and --table), or check AWS_PROFILE and AWS_REGION"
        ) from None
    if not Path(args.template).is_file():
        raise CommandError(f"no stack {args.stack_name} in {where}, and no template {args.template} to name the hub")
    params = dict(p.split("=", 1) for p in args.param or [] if "=" in p)
    return Stack.load(Path(args.template), account=account, region=region, overrides=params, stack_name=args.stack_name)


def _no_ledger(hub: Hub, exc: ClientError) -> CommandError | None:
    """A ledger table that is not there: most often a wrong --stack-name (no stack, so the
    template's names, which an emulator has only after ``bootstrap``)."""
    if exc.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
        return None
    return CommandError(
        f"no ledger table {hub.ledger_table} in {hub.account}/{hub.region} (from the {hub.source}): give the "
        "deployed hub's stack name with --stack-name, or run `python -m runner bootstrap` against an emulator"
    )


def _state(hub: Hub, connection_id: str) -> dict[str, Any] | None:
    try:
        item: dict[str, Any] | None = (
            hub.session.client("dynamodb")
            .get_item(
                TableName=hub.ledger_table,
                Key={"pk": {"S": connection_id}, "sk": {"S": "STATE"}},
                ConsistentRead=True,
            )
            .get("Item")
        )
    except ClientError as exc:
        raise _no_ledger(hub, exc) or exc from None
    return item


def _caller_name(hub: Hub) -> str:
    """Who is asking, as the event records it: the caller's user or role session name."""
    arn = str(hub.session.client("sts").get_caller_identity()["Arn"])
    name = arn.rsplit("/", 1)[-1] if "/" in arn else arn.rsplit(":", 1)[-1]
    return name if re.match(PRINCIPAL_NAME, name) else "unknown"


def operator_detail(args: argparse.Namespace, requested_by: str) -> dict[str, Any]:
    """The event's detail, checked as the operator function checks it (events.OperatorDetail)."""
    if not re.match(CONNECTION_ID, args.connection_id):
        raise OperatorInputError(f"{args.connection_id!r} is not a peering connection id (pcx- and 8 or 17 hex digits)")
    if not re.match(PRINCIPAL_NAME, requested_by):
        raise OperatorInputError(f"--requested-by {requested_by!r}: letters, digits, spaces and .:/=+@- only (1-128)")
    if len(args.comment) > COMMENT_MAX or not re.match(FREE_TEXT, args.comment):
        raise OperatorInputError(f"--comment: at most {COMMENT_MAX} characters, no control characters")
    if bool(args.account) != bool(args.region):
        raise OperatorInputError("--account and --region go together (the accepter side)")
    detail: dict[str, Any] = {"connectionId": args.connection_id, "requestedBy": requested_by}
    if args.comment:
        detail["comment"] = args.comment
    if args.account:
        detail.update(accountId=args.account, region=args.region)
    if args.dry_run:
        detail["dryRun"] = True
    return detail


def _send(args: argparse.Namespace, detail_type: str) -> int:
    hub = locate_hub(args)
    detail = operator_detail(args, args.requested_by or _caller_name(hub))
    state = _state(hub, args.connection_id)
    if state is None and not args.account:
        raise OperatorInputError(
            f"{args.connection_id} is not in the ledger {hub.ledger_table}: give --account and --region of the "
            "accepter side"
        )
    if state is not None and "closedAt" in state:
        raise OperatorInputError(
            f"{args.connection_id} is closed in the ledger ({state.get('status', {}).get('S', '?')}): "
            "there is nothing left to decide"
        )
    if state is not None and state.get("decision", {}).get("S") != "held":
        print(
            f"note: the ledger records {args.connection_id} as {state.get('decision', {}).get('S', '?')}, not held; "
            "the operator function decides on what EC2 shows",
            file=sys.stderr,
        )
    entry = {
        "Source": OPERATOR_SOURCE,
        "DetailType": detail_type,
        "Detail": json.dumps(detail),
        "EventBusName": hub.bus_name,
    }
    answer = hub.session.client("events").put_events(Entries=[entry])
    result = answer["Entries"][0]
    if answer.get("FailedEntryCount") or "EventId" not in result:
        print(
            f"error: the bus refused the event: {result.get('ErrorCode')} {result.get('ErrorMessage')}", file=sys.stderr
        )
        return 1
    print(f"sent {detail_type} for {args.connection_id} to bus {hub.bus_name} in {hub.account}/{hub.region}")
    print(f"  event {result['EventId']}, detail {json.dumps(detail)}")
    print(f"  (bus and ledger: {hub.source})")
    if args.dry_run:
        print("  dry run: the operator function plans and records the decision, and changes nothing")
    return 0


def cmd_approve(args: argparse.Namespace) -> int:
    return _send(args, APPROVE_DETAIL_TYPE)


def cmd_reject(args: argparse.Namespace) -> int:
    return _send(args, REJECT_DETAIL_TYPE)


# --- pending ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class HeldRequest:
    connection_id: str
    requester: str
    accepter: str
    reasons: tuple[str, ...]
    policy_version: str
    expires: datetime | None  # AWS's expiry
    reminded_at: tuple[int, ...]
    #: the real end (reminders.request_end): the expiry, or the requester's sweep withdrawing it first
    end: datetime | None = None
    ending: str = EXPIRES
    withdrawn_after_hours: int | None = None

    def age(self, now: datetime) -> timedelta | None:
        return None if self.expires is None else now - (self.expires - REQUEST_LIFETIME)

    def time_left(self, now: datetime) -> timedelta | None:
        return None if self.end is None else self.end - now

    def as_dict(self, now: datetime) -> dict[str, Any]:
        age, left = self.age(now), self.time_left(now)
        return {
            "connectionId": self.connection_id,
            "requester": self.requester,
            "accepter": self.accepter,
            "reasons": list(self.reasons),
            "policyVersion": self.policy_version,
            "expirationTime": self.expires.isoformat() if self.expires else None,
            "endTime": self.end.isoformat() if self.end else None,
            "ending": "withdrawn" if self.ending == WITHDRAWN else "expires",
            "ageHours": round(age.total_seconds() / 3600, 1) if age is not None else None,
            "hoursLeft": round(left.total_seconds() / 3600, 1) if left is not None else None,
            "remindedAtHoursBeforeExpiry": list(self.reminded_at),
        }


def _held_from_item(item: dict[str, Any]) -> HeldRequest:
    expiry = item.get("expirationTime", {}).get("S")
    when = datetime.fromisoformat(expiry) if expiry else None
    if when is not None and when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return HeldRequest(
        connection_id=item["pk"]["S"],
        requester=item.get("requester", {}).get("S", "?"),
        accepter=item.get("accepter", {}).get("S", "?"),
        reasons=tuple(r["S"] for r in item.get("reasons", {}).get("L", []) if "S" in r),
        policy_version=item.get("policyVersion", {}).get("S", "none"),
        expires=when,
        reminded_at=tuple(sorted((int(n) for n in item.get("remindersSent", {}).get("NS", [])), reverse=True)),
        end=when,
    )


def _hub_engine(hub: Hub, policy_parameter: str) -> Any:
    """The engine on the operator's credentials, for its look-ups only (Organizations, the policy)."""
    from peering.aws.clients import AwsClients  # noqa: PLC0415 - the engine only for ``pending``
    from peering.lifecycle.engine import Engine  # noqa: PLC0415
    from peering.runtime.config import Settings  # noqa: PLC0415

    settings = Settings.from_env({"LEDGER_TABLE": hub.ledger_table, "POLICY_PARAMETER": policy_parameter})
    return Engine(settings, AwsClients(settings, hub.session))


def with_real_end(held: HeldRequest, engine: Any) -> HeldRequest:
    """The request with its real end, as the sweep's reminders count back from it: the requester's
    sweep withdraws it after cleanup.pendingRequestMaxAgeHours when the requester is one of ours."""
    account, _, rest = held.requester.partition("/")
    region = rest.partition("/")[0]
    if held.expires is None or not (re.fullmatch(ACCOUNT_ID, account) and re.fullmatch(REGION, region)):
        return held
    hours = engine.withdrawn_after_hours(account, region)
    end, ending = request_end(held.expires, hours)
    return replace(held, end=end, ending=ending, withdrawn_after_hours=hours)


def held_requests(hub: Hub, policy_parameter: str | None = None) -> list[HeldRequest]:
    """Open records whose last decision is held, the soonest to end first (a Scan: a person's tool)."""
    items: list[dict[str, Any]] = []
    pages = (
        hub.session.client("dynamodb")
        .get_paginator("scan")
        .paginate(
            TableName=hub.ledger_table,
            FilterExpression="sk = :state AND decision = :held AND attribute_not_exists(closedAt)",
            ExpressionAttributeValues={":state": {"S": "STATE"}, ":held": {"S": "held"}},
            ConsistentRead=True,
        )
    )
    try:
        for page in pages:
            items.extend(page["Items"])
    except ClientError as exc:
        raise _no_ledger(hub, exc) or exc from None
    held = [_held_from_item(i) for i in items]
    if held and policy_parameter:
        with captured_output(sys.stderr):  # the engine's log lines stay off the listing
            engine = _hub_engine(hub, policy_parameter)
            held = [with_real_end(h, engine) for h in held]
    far = datetime.max.replace(tzinfo=UTC)
    return sorted(held, key=lambda h: (h.end or far, h.connection_id))


def _render(held: HeldRequest, now: datetime) -> list[str]:
    age, left = held.age(now), held.time_left(now)
    withdrawn = held.ending == WITHDRAWN
    if left is None or held.end is None:
        end = "expiry unknown"
    elif left <= timedelta(0):
        end = (
            "withdrawal due: its requester's next sweep withdraws it"
            if withdrawn
            else "expired: AWS dropped it; the next sweep closes the record"
        )
    else:
        end = f"{held.ending} in {format_time_left(left)} ({held.end.isoformat(timespec='minutes')})"
        if withdrawn and held.expires is not None:
            end += (
                f" by its requester's sweep (cleanup.pendingRequestMaxAgeHours {held.withdrawn_after_hours});"
                f" AWS would expire it {held.expires.isoformat(timespec='minutes')}"
            )
    before = "its withdrawal" if withdrawn else "expiry"
    reminded = f"; reminded {', '.join(f'{p} h' for p in held.reminded_at)} before {before}" if held.reminded_at else ""
    lines = [
        f"{held.connection_id}  {held.requester} -> {held.accepter}",
        f"  age {format_time_left(age) if age is not None else '?'}, {end}{reminded}",
    ]
    lines += [f"  because {reason}" for reason in held.reasons]
    lines.append(f"  decide: {invoked_as()} approve|reject {held.connection_id} --comment 'why'")
    return lines


def policy_parameter_name(args: argparse.Namespace, hub: Hub) -> str:
    """--policy-parameter, else the deployed stack's output, else the name the template gives it."""
    if args.policy_parameter:
        return str(args.policy_parameter)
    outputs = _stack_outputs(hub.session, args.stack_name)
    if "PolicyParameterName" in outputs:
        return str(outputs["PolicyParameterName"])
    return str(_template_stack(args, hub.account, hub.region).ref("PolicyParameter"))


def cmd_pending(args: argparse.Namespace) -> int:
    hub = locate_hub(args)
    now = datetime.now(UTC)
    held = held_requests(hub, policy_parameter_name(args, hub))
    if args.json:
        print(json.dumps([h.as_dict(now) for h in held], indent=2))
        return 0
    where = f"{hub.account}/{hub.region}"
    print(f"{len(held)} held request(s) in ledger {hub.ledger_table} ({where}), the soonest to end first")
    for request in held:
        print("\n".join(_render(request, now)))
    return 0


# --- registration -----------------------------------------------------------------------------


def _guarded(command: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        try:
            return command(args)
        except OperatorInputError as exc:
            print(f"error: {exc}; nothing was sent", file=sys.stderr)
            return 2

    return run


def register(sub: Any, stack_options: Callable[[argparse.ArgumentParser], None]) -> None:
    """Add ``approve``, ``reject`` and ``pending`` to the runner's parser."""

    def hub_options(p: argparse.ArgumentParser) -> None:
        stack_options(p)
        p.add_argument("--bus", help="the peering bus (default: the stack's output, else the template's name)")
        p.add_argument("--table", help="the ledger table (default: the stack's output, else the template's name)")

    for name, command, verb in (("approve", cmd_approve, "accept"), ("reject", cmd_reject, "reject")):
        p = sub.add_parser(name, help=f"put the operator event to {verb} a held request on the hub's bus")
        p.add_argument("connection_id")
        p.add_argument("--comment", default="", help="why (recorded in the ledger and the notification)")
        p.add_argument("--dry-run", action="store_true", help="the function plans and records, changes nothing")
        p.add_argument("--requested-by", help="who decides (default: your user or role session name)")
        p.add_argument("--account", help="the accepter's account, when the ledger does not know the request")
        p.add_argument("--region", help="the accepter's Region (with --account)")
        hub_options(p)
        p.set_defaults(run=_guarded(command))

    p = sub.add_parser("pending", help="the requests held for a person: who, why, age, time left before they end")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument(
        "--policy-parameter", help="the policy's SSM parameter (default: the stack's output, else the template's name)"
    )
    hub_options(p)
    p.set_defaults(run=_guarded(cmd_pending))
