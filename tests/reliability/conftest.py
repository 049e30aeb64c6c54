"""Fixtures for the fault-injection tests: faults on real moto calls, retries without waiting,
a clock for the outbox's claims, atomic moto calls for threads, and what a test reads back.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from botocore.retries import standard
from moto.core.botocore_stubber import BotocoreStubber

from peering.aws import outbox
from tests.builders import ledger_items, ledger_state
from tests.conftest import LEDGER_TABLE, REGION, FakeContext, Organization, ec2, load_function
from tests.faults import Crash, Faults, VirtualClock


@pytest.fixture(autouse=True)
def instant_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """botocore's backoff and adaptive rate limiter, on a virtual clock: the same retry decisions
    (how many attempts, which errors), none of the waiting."""
    monkeypatch.setattr("botocore.retries.bucket.Clock", VirtualClock)
    monkeypatch.setattr(standard.ExponentialBackoff, "delay_amount", lambda self, context: 0)


@pytest.fixture
def faults(organization: Organization) -> Iterator[Faults]:
    injected = Faults()
    yield injected
    injected.clear()


@pytest.fixture
def later(monkeypatch: pytest.MonkeyPatch) -> Callable[[float], None]:
    """Move the outbox's clock on (a killed run's claim expires after outbox.CLAIM_SECONDS)."""
    offset = [0.0]
    real = outbox.clock

    def move(seconds: float) -> None:
        offset[0] += seconds
        monkeypatch.setattr(outbox, "clock", lambda: real() + offset[0])

    return move


@pytest.fixture
def atomic_moto(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each AWS request is atomic in AWS (a conditional write is checked and applied at once);
    moto's in-process backends are not thread-safe. Serialize moto's handling of each request,
    so threads interleave between calls, as concurrent Lambda invocations do."""
    lock = threading.RLock()
    original = BotocoreStubber.__call__

    def atomic(self: Any, event_name: str, request: Any, **kwargs: Any) -> Any:
        with lock:
            return original(self, event_name, request, **kwargs)

    monkeypatch.setattr(BotocoreStubber, "__call__", atomic)


@pytest.fixture
def sweep_now(organization: Organization, monkeypatch: pytest.MonkeyPatch, later: Callable[[float], None]) -> Any:
    """The next scheduled sweep, run after every claim a killed run left has expired."""
    url = boto3.client("sqs", region_name=REGION).create_queue(QueueName="sweep")["QueueUrl"]
    monkeypatch.setenv("SWEEP_QUEUE_URL", url)
    sweep = load_function("sweep")

    def run() -> dict[str, Any]:
        later(outbox.CLAIM_SECONDS + 1)
        result = invoke(sweep, SCHEDULED)
        assert isinstance(result, dict), result
        return result

    return run


SCHEDULED = {
    "version": "0",
    "id": "5c1f7f2e-1111-2222-3333-444455556666",
    "detail-type": "Scheduled Event",
    "source": "aws.events",
    "account": "123456789012",
    "time": "2026-11-26T10:00:00Z",
    "region": REGION,
    "resources": [],
    "detail": {},
}


def invoke(function: Any, event: dict[str, Any]) -> dict[str, Any] | str:
    """One Lambda invocation: its result, "crashed" when the process died, or the error's name
    when it raised (Lambda then retries the event)."""
    try:
        result: dict[str, Any] = function.lambda_handler(event, FakeContext())
    except Crash:
        return "crashed"
    except Exception as exc:  # the invocation failed: Lambda retries it
        return f"raised {type(exc).__name__}"
    return result


def outbox_items() -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = boto3.client("dynamodb", region_name=REGION).query(
        TableName=LEDGER_TABLE,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": "OUTBOX"}},
    )["Items"]
    return items


def ledger_summary(connection_id: str) -> dict[str, Any]:
    """What the ledger says of a connection, in the terms the tests compare."""
    state = ledger_state(connection_id)
    routes = sorted(
        (i["account"]["S"], i["routeTableId"]["S"], i["destination"]["S"])
        for i in ledger_items(connection_id)
        if i["sk"]["S"].startswith("ROUTE#")
    )
    return {
        "decision": state.get("decision", {}).get("S"),
        "applied": state.get("applied", {}).get("BOOL"),
        "status": state.get("status", {}).get("S"),
        "closed": "closedAt" in state,
        "intent": "intent" in state,
        "routes": routes,
    }


def routes_to(account: str, connection_id: str, region: str = REGION) -> set[tuple[str, str, str]]:
    """(route table, destination, state) of every route targeting the connection, as EC2 shows it."""
    tables = ec2(account, region).describe_route_tables(
        Filters=[{"Name": "route.vpc-peering-connection-id", "Values": [connection_id]}]
    )["RouteTables"]
    return {
        (t["RouteTableId"], r.get("DestinationCidrBlock") or r.get("DestinationIpv6CidrBlock", ""), r["State"])
        for t in tables
        for r in t["Routes"]
        if r.get("VpcPeeringConnectionId") == connection_id
    }
