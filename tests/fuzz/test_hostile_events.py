"""Hostile and malformed events through all six handlers, against a seeded organization on moto.

Every example starts from a sample event of events/ (or an SQS batch for the worker) and mutates
it: wrong types, missing and extra fields, wrong and oversized ids, foreign sources and detail
types, spoofed accounts and Regions, real ids in the wrong place, Unicode and control characters;
one in ten is then wrapped as a continuation (an event function handing its event on to its next
invocation), well formed or with a hostile count or field. For each one it asserts:

- the handler returns (no unhandled exception, and no retry: a raise is a Lambda retry, and a
  retry caused by the event's own content only fills the dead-letter queue);
- EC2, the ledger and the topic are exactly as before, unless the event was an operator event
  the hub account may send: compared in full after every example that made a call that could
  write (a botocore hook sees each one), and every 100 examples regardless.

The seed is fixed. `make test` runs 3,000 examples (FUZZ_EXAMPLES; about 25 ms of CPU each on
moto, so a little over a minute on one core, beside the rest of the suite on the other);
`make fuzz` runs 50,000.
"""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from peering.aws.clients import shared_session
from peering.core.errors import PeeringError
from peering.core.events import MAX_CONTINUATIONS, continuation_of, parse_operator_event, parse_sweep_event
from peering.core.policy_events import parse_put_parameter
from peering.runtime.observability import logger
from tests.builders import ACCEPT_TAG, make_vpc, request_peering, sqs_event
from tests.conftest import (
    HUB_ACCOUNT,
    LEDGER_TABLE,
    POLICY_PARAMETER,
    REGION,
    FakeContext,
    Organization,
    ec2,
    load_function,
)
from tests.integration.test_configure import accept_event, dns_ready_vpc

EVENTS = Path(__file__).resolve().parents[2] / "events"
SAMPLES = {p.name: json.loads(p.read_text()) for p in sorted(EVENTS.glob("*.json"))}
HANDLERS = ("accept", "operator", "configure", "cleanup", "sweep", "worker")
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "3000"))


def intended(name: str) -> str:
    """The handler a sample is meant for (the rules say so: tests/e2e/test_events_match_rules.py)."""
    if name.startswith(("CreateVpcPeeringConnection",)):
        return "accept"
    if name.startswith(("RejectVpcPeeringConnection", "DeleteVpcPeeringConnection")):
        return "cleanup"
    if name.startswith(("operator__approve", "operator__reject")):
        return "operator"
    if name.startswith(("operator__sweep", "scheduled", "PutParameter")):
        return "sweep"
    return "configure"


# --- the seeded world ---------------------------------------------------------------------------


class World:
    """The hub and a member account: an active configured connection, a held request."""

    def __init__(self, organization: Organization) -> None:
        self.organization = organization
        member = organization.platform_account
        a = dns_ready_vpc(HUB_ACCOUNT, "10.0.0.0/16")
        b = dns_ready_vpc(HUB_ACCOUNT, "10.1.0.0/16")
        accept, configure = load_function("accept"), load_function("configure")
        self.active, create = request_peering(HUB_ACCOUNT, a, HUB_ACCOUNT, b)
        assert accept.lambda_handler(create, FakeContext())["outcome"] == "accepted"
        assert configure.lambda_handler(accept_event(HUB_ACCOUNT, self.active), FakeContext())["outcome"] == (
            "configured"
        )
        requester = make_vpc(member, "10.20.0.0/16")
        accepter = make_vpc(HUB_ACCOUNT, "10.30.0.0/16")  # not opted in: the request is held
        self.held, create = request_peering(member, requester, HUB_ACCOUNT, accepter)
        assert accept.lambda_handler(create, FakeContext())["outcome"] == "held"
        self.vpcs = [a, b, requester, accepter]
        self.accounts = [HUB_ACCOUNT, member, organization.sandbox_account, organization.outsider_account]
        make_vpc(HUB_ACCOUNT, "10.50.0.0/16", tags=ACCEPT_TAG)
        organization.notifications()
        self.before = self.snapshot()
        self.watch()

    def watch(self) -> None:
        """Record every call the engine makes that could change EC2, the ledger or the topic."""
        self.writes: list[str] = []
        self.examples = 0

        def record(model: Any, **_: Any) -> None:
            service = model.service_model.service_id.hyphenize()
            if service in ("ec2", "dynamodb", "sns") and not model.name.startswith(READ_ONLY):
                self.writes.append(f"{service}:{model.name}")

        shared_session().events.register("before-call", record)
        self.unwatch = lambda: shared_session().events.unregister("before-call", record)

    def snapshot(self) -> dict[str, Any]:
        ledger = boto3.client("dynamodb", region_name=REGION).scan(TableName=LEDGER_TABLE)["Items"]
        state: dict[str, Any] = {"ledger": sorted(json.dumps(i, sort_keys=True) for i in ledger)}
        for account in self.accounts[:2]:
            client = ec2(account)
            connections = client.describe_vpc_peering_connections()["VpcPeeringConnections"]
            state[f"connections {account}"] = sorted(json.dumps(c, sort_keys=True, default=str) for c in connections)
            tables = client.describe_route_tables()["RouteTables"]
            state[f"routes {account}"] = sorted(json.dumps(t["Routes"], sort_keys=True) for t in tables)
        state["notifications"] = len(self.organization.notifications())  # new since the last snapshot (drained)
        return state


# --- mutations ----------------------------------------------------------------------------------

CONTROL = "".join(chr(c) for c in range(32)) + "\x7f"
READ_ONLY = ("Describe", "Get", "List", "Query", "Scan", "BatchGet")
FULL_CHECK_EVERY = 100  # a state comparison even without a write call, as a check of the check


def hostile_values(world_ids: list[str]) -> st.SearchStrategy[Any]:
    text = st.text(alphabet=st.characters(codec="utf-8"), max_size=40)
    return st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(2**70), max_value=2**70),
        st.floats(allow_nan=True, allow_infinity=True),
        text,
        st.text(alphabet=CONTROL, min_size=1, max_size=10),
        st.just("x" * 100_000),  # oversized
        st.sampled_from(world_ids),  # real ids, in the wrong place
        st.sampled_from(
            [
                "pcx-0123456789abcdef0",
                "vpc-0123456789abcdef0",
                "pcx-../../etc",
                "us-east-1",
                "eu-west-1",
                "xx-nowhere-1",
            ]
        ),
        st.lists(text, max_size=3),
        st.dictionaries(text, text, max_size=3),
    )


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield prefix
    if isinstance(value, dict):
        for key, child in value.items():
            yield from paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from paths(child, (*prefix, index))


def mutate(event: Any, data: st.DataObject, world_ids: list[str]) -> Any:
    event = copy.deepcopy(event)
    for _ in range(data.draw(st.integers(1, 3), label="mutations")):
        path = data.draw(st.sampled_from(list(paths(event))), label="path")
        kind = data.draw(st.sampled_from(["replace", "delete", "add"]), label="kind")
        if not path:
            if kind == "replace":
                event = data.draw(hostile_values(world_ids), label="whole event")
            continue
        parent = event
        for key in path[:-1]:
            parent = parent[key]
        last = path[-1]
        if kind == "delete" and isinstance(parent, dict):
            parent.pop(last, None)
        elif kind == "add" and isinstance(parent, dict):
            parent[data.draw(st.text(max_size=20), label="new key")] = data.draw(hostile_values(world_ids))
        else:
            parent[last] = data.draw(hostile_values(world_ids), label="value")
    return event


def spoof(event: dict[str, Any], data: st.DataObject, world: World) -> dict[str, Any]:
    """Real-looking envelopes that name other accounts, Regions, sources and connections."""
    event = copy.deepcopy(event)
    detail = event.get("detail") if isinstance(event.get("detail"), dict) else {}
    choice = data.draw(st.sampled_from(["account", "region", "source", "connection", "caller"]), label="spoof")
    if choice == "account":
        event["account"] = data.draw(st.sampled_from(world.accounts))
        detail["recipientAccountId"] = event["account"]
    elif choice == "region":
        # the call's Region, and the envelope's (the Region of the bus an operator event was put on)
        event["region"] = detail["awsRegion"] = data.draw(st.sampled_from(["eu-west-1", "ap-southeast-2", "us-west-2"]))
    elif choice == "source":
        event["source"] = data.draw(st.sampled_from(["aws.ec2", "peering-autopilot.operator", "aws.events", "evil"]))
        event["detail-type"] = data.draw(
            st.sampled_from(["Approve Peering Request", "AWS API Call via CloudTrail", "Scheduled Event", "x"])
        )
    elif choice == "connection":
        pcx = data.draw(st.sampled_from([world.active, world.held, "pcx-0123456789abcdef0"]))
        text = json.dumps(event)
        for sample_id in {p for p in text.split('"') if p.startswith("pcx-")}:
            text = text.replace(sample_id, pcx)
        event = json.loads(text)
    else:
        detail["userIdentity"] = {"accountId": data.draw(st.sampled_from(world.accounts))}
    return event


def sqs_batch(data: st.DataObject, world: World) -> dict[str, Any]:
    good = json.dumps({"account": HUB_ACCOUNT, "region": REGION, "sweepId": "fuzz"})
    bodies = data.draw(
        st.lists(
            st.one_of(
                st.just(good),
                st.text(max_size=60),
                hostile_values(world.vpcs).map(lambda v: json.dumps(v, default=str)),
                st.fixed_dictionaries(
                    {"account": hostile_values(world.accounts), "region": hostile_values(["us-east-1"])}
                ).map(lambda v: json.dumps(v, default=str)),
            ),
            min_size=1,
            max_size=3,
        ),
        label="bodies",
    )
    return sqs_event(*bodies)


def authorized_operator_event(event: Any) -> bool:
    """An operator event the hub account may put on the peering bus (or configure's continuation
    of one): it is allowed to change things."""
    try:
        event, _ = continuation_of(event)
    except PeeringError:
        return False
    if not isinstance(event, dict) or event.get("source") != "peering-autopilot.operator":
        return False
    for parse in (parse_operator_event, parse_sweep_event):
        try:
            parsed = parse(event) if parse is parse_sweep_event else parse(event, frozenset({event.get("detail-type")}))
        except Exception:  # noqa: S112 - not this kind of operator event
            continue
        if (parsed.account, parsed.region) == (HUB_ACCOUNT, REGION):
            return True
    return False


def authorized_policy_write(event: Any) -> bool:
    """CloudTrail's record of a write to the policy parameter in the hub: its notice is the point
    (only AWS puts aws.* events on a bus; what the notice says is read from SSM)."""
    try:
        parse_put_parameter(event, POLICY_PARAMETER, HUB_ACCOUNT)
    except PeeringError:
        return False
    return True


# --- the suite ----------------------------------------------------------------------------------


@pytest.fixture
def world(organization: Organization, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    monkeypatch.setenv("SWEEP_QUEUE_URL", boto3.client("sqs").create_queue(QueueName="sweep")["QueueUrl"])
    level = logger.log_level
    logger.setLevel("CRITICAL")  # 10,000 refusals need no log lines here; the metrics still count
    seeded = World(organization)
    yield seeded
    seeded.unwatch()
    logger.setLevel(level)


@seed(20261130)
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=st.data())
def test_hostile_events_change_nothing_and_are_never_retried(
    world: World, data: st.DataObject, capsys: pytest.CaptureFixture[str]
) -> None:
    handler = data.draw(st.sampled_from(HANDLERS), label="handler")
    if handler == "worker":
        event: Any = sqs_batch(data, world)
    else:
        name = data.draw(st.sampled_from(sorted(SAMPLES)), label="sample")
        event = SAMPLES[name]
        if data.draw(st.booleans(), label="to its own handler"):
            handler = intended(name)
        strategy = data.draw(st.sampled_from(["mutate", "spoof", "both"]), label="how")
        if strategy in ("spoof", "both") and isinstance(event, dict):
            event = spoof(event, data, world)
        if strategy in ("mutate", "both"):
            event = mutate(event, data, [*world.vpcs, world.active, world.held, *world.accounts])
        if data.draw(st.integers(0, 9), label="continued") == 0:
            # Handed on as a continuation (configure, cleanup read it), well formed or not.
            run = data.draw(st.one_of(st.integers(-1, MAX_CONTINUATIONS + 1), hostile_values(world.accounts)))
            event = {"continuation": run, "event": event}
            if data.draw(st.booleans(), label="extra field"):
                event["extra"] = data.draw(hostile_values(world.accounts))

    world.writes.clear()
    world.examples += 1
    try:
        result = load_function(handler).lambda_handler(event, FakeContext())
    except Exception as exc:  # a raise is a retry by Lambda: never for the event's own content
        pytest.fail(f"{handler} raised {type(exc).__name__}: {exc} for {json.dumps(event, default=str)[:2000]}")
    capsys.readouterr()  # the metrics each invocation prints

    assert isinstance(result, dict)
    if handler == "worker":
        assert result == {"batchItemFailures": []}, result
    if authorized_operator_event(event) or authorized_policy_write(event):
        world.before = world.snapshot()  # an operator decided, or the policy changed: its changes are the point
        # the snapshot drained the notices this event sent; the next one must find none new
        world.before["notifications"] = 0
        return
    if world.writes or world.examples % FULL_CHECK_EVERY == 0:
        after = world.snapshot()
        changed = [key for key in after if after[key] != world.before[key]]
        assert not changed, (
            f"{handler} changed {changed} with {world.writes} on {json.dumps(event, default=str)[:2000]}"
        )
