"""Configure and cleanup work within their invocation's time and hand the rest on to the next.

A connection between a VPC with 200 route tables and a peer with 5 CIDR blocks needs about 1,000
routes: about 200 s at EC2's 5 mutating calls a second, more than the 120 s an event function has.
EC2's mutating-call bucket (50 tokens, 5 a second) is enforced in front of moto on a simulated
clock (``emulation.throttle``): every EC2 call takes 50 ms of it, a call finding the bucket empty
gets ``RequestLimitExceeded`` and botocore's adaptive retries wait on the same clock. The Lambda
context tells the time left from that clock. Each invocation stops starting work once less than
its margin is left and invokes its function again with the event (a continuation, on moto's
Lambda); the test then runs that invocation, as Lambda would, until nothing is handed on.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from moto.core.config import default_user_config

from emulation.throttle import SimulatedClock, ec2_throttled
from peering.aws.clients import shared_session
from peering.core.events import MAX_CONTINUATIONS
from tests.builders import ACCEPT_TAG, cloudtrail_event, make_vpc, request_peering
from tests.conftest import HUB_ACCOUNT, REGION, FakeContext, Organization, ec2, emitted_metrics, load_function
from tests.reliability.conftest import ledger_summary, routes_to

configure = load_function("configure")
cleanup = load_function("cleanup")
accept = load_function("accept")

TIMEOUT_SECONDS = 120  # the event functions' (cleanup's; Globals in template.yaml)
TABLES = 200
PEER_BLOCKS = ("10.1.0.0/16", "10.2.0.0/16", "10.3.0.0/16", "10.4.0.0/16", "10.5.0.0/16")
CONFLICT = "10.3.0.0/16"  # someone else's route in one of the tables: a finding, notified once


@dataclass
class SimulatedContext(FakeContext):
    """A Lambda context whose time left is read from the simulated clock."""

    clock: SimulatedClock = field(default_factory=SimulatedClock)
    started: float = 0.0
    timeout: float = TIMEOUT_SECONDS

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.started + self.timeout - self.clock.now) * 1000))


@dataclass
class Continuations:
    """What the functions queued for their next invocation (Invoke, asynchronous), in order."""

    payloads: list[dict[str, Any]] = field(default_factory=list)
    targets: list[str] = field(default_factory=list)

    def record(self, params: dict[str, Any], **_: Any) -> None:
        assert params["InvocationType"] == "Event"
        self.targets.append(params["FunctionName"])
        self.payloads.append(json.loads(params["Payload"]))


@dataclass
class Runs:
    """The invocations of one event: how long each took on the simulated clock, and the answers."""

    seconds: list[float] = field(default_factory=list)
    answers: list[dict[str, Any]] = field(default_factory=list)


@pytest.fixture
def continuations(organization: Organization, monkeypatch: pytest.MonkeyPatch) -> Iterator[Continuations]:
    # moto's Lambda without Docker: an asynchronous Invoke is accepted (202) and not run; the test
    # runs the invocation Lambda would.
    monkeypatch.setitem(default_user_config["lambda"], "use_docker", False)
    queued = Continuations()
    shared_session().events.register("provide-client-params.lambda.Invoke", queued.record)
    yield queued
    shared_session().events.unregister("provide-client-params.lambda.Invoke", queued.record)


def run_to_the_end(function: Any, event: dict[str, Any], clock: SimulatedClock, continuations: Continuations) -> Runs:
    """Invoke ``function`` with ``event``, then with each continuation it queues, as Lambda would."""
    runs = Runs()
    payload: dict[str, Any] | None = event
    while payload is not None:
        assert len(runs.seconds) <= MAX_CONTINUATIONS
        context = SimulatedContext(
            function_name=function.__name__,
            invoked_function_arn=f"arn:aws:lambda:{REGION}:{HUB_ACCOUNT}:function:{function.__name__}",
            clock=clock,
            started=clock.now,
        )
        before = len(continuations.payloads)
        runs.answers.append(function.lambda_handler(payload, context))
        runs.seconds.append(clock.now - context.started)
        queued = continuations.payloads[before:]
        assert len(queued) <= 1
        payload = queued[0] if queued else None
    return runs


def large_connection() -> tuple[str, dict[str, Any], int]:
    """An accepted connection (same account+Region) between a VPC with TABLES route tables and a
    peer with 5 blocks, one table holding someone else's route for one block; its Accept event and
    the number of routes configure must make."""
    requester_vpc = make_vpc(HUB_ACCOUNT, "10.20.0.0/16")
    accepter_vpc = make_vpc(HUB_ACCOUNT, PEER_BLOCKS[0], tags=ACCEPT_TAG, extra_cidrs=PEER_BLOCKS[1:])
    hub = ec2(HUB_ACCOUNT)
    for vpc in (requester_vpc, accepter_vpc):
        hub.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})
    tables = [hub.create_route_table(VpcId=requester_vpc)["RouteTable"]["RouteTableId"] for _ in range(TABLES - 1)]
    gateway = hub.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    hub.attach_internet_gateway(InternetGatewayId=gateway, VpcId=requester_vpc)
    hub.create_route(RouteTableId=tables[0], DestinationCidrBlock=CONFLICT, GatewayId=gateway)
    pcx, request_event = request_peering(HUB_ACCOUNT, requester_vpc, HUB_ACCOUNT, accepter_vpc)
    assert accept.lambda_handler(request_event, FakeContext())["outcome"] == "accepted"
    accept_event = cloudtrail_event(
        "AcceptVpcPeeringConnection",
        account=HUB_ACCOUNT,
        region=REGION,
        request_parameters={"vpcPeeringConnectionId": pcx},
        response_elements={"vpcPeeringConnection": {"vpcPeeringConnectionId": pcx, "status": {"code": "provisioning"}}},
    )
    # Every requester table gets the 5 blocks (but the conflict), the peer's one table the requester's.
    return pcx, accept_event, TABLES * len(PEER_BLOCKS) - 1 + 1


def test_configure_installs_a_thousand_routes_across_invocations_without_starting_over(
    organization: Organization, continuations: Continuations, capsys: Any
) -> None:
    # Given a connection that needs 1,000 routes (200 s of EC2's bucket) and 120 s invocations
    pcx, event, needed = large_connection()
    organization.notifications()
    clock = SimulatedClock()
    capsys.readouterr()

    # When configure handles its Accept event, and each invocation it hands the rest on to
    with ec2_throttled(shared_session().events, clock) as bucket:
        runs = run_to_the_end(configure, event, clock, continuations)

    # Then it converged across several invocations, none of them past its time
    assert len(runs.seconds) >= 2, runs.seconds
    assert max(runs.seconds) <= TIMEOUT_SECONDS, runs.seconds
    assert all(answer["ok"] for answer in runs.answers)
    assert [a.get("continuation") for a in runs.answers[:-1]] == list(range(1, len(runs.seconds)))
    assert runs.answers[-1]["outcome"] == "configured"
    assert set(continuations.targets) == {f"arn:aws:lambda:{REGION}:{HUB_ACCOUNT}:function:{configure.__name__}"}
    # each route created once: no run started over (throttled attempts are retried, not repeated work)
    assert bucket.sent["CreateRoute"] - bucket.throttled["CreateRoute"] == needed
    made = routes_to(HUB_ACCOUNT, pcx)
    assert len(made) == needed
    assert len(ledger_summary(pcx)["routes"]) == needed  # one record per route, none for routes not made
    # the conflict is notified once, by the run that finished
    (notice,) = organization.notifications()
    assert CONFLICT in notice["message"]
    metrics = emitted_metrics(capsys.readouterr().out)
    assert metrics["HandedOn"] == len(runs.seconds) - 1
    assert "Errors" not in metrics


def test_cleanup_removes_a_thousand_routes_across_invocations_and_notifies_once(
    organization: Organization, continuations: Continuations, capsys: Any
) -> None:
    # Given the same connection configured (without throttling), then deleted
    pcx, event, needed = large_connection()
    assert configure.lambda_handler(event, FakeContext())["outcome"] == "configured"
    assert len(routes_to(HUB_ACCOUNT, pcx)) == needed
    ec2(HUB_ACCOUNT).delete_vpc_peering_connection(VpcPeeringConnectionId=pcx)
    organization.notifications()
    delete = cloudtrail_event(
        "DeleteVpcPeeringConnection",
        account=HUB_ACCOUNT,
        region=REGION,
        request_parameters={"vpcPeeringConnectionId": pcx},
        response_elements={"_return": True},
    )
    clock = SimulatedClock()
    capsys.readouterr()

    # When cleanup handles the Delete, and each invocation it hands the rest on to
    with ec2_throttled(shared_session().events, clock) as bucket:
        runs = run_to_the_end(cleanup, delete, clock, continuations)

    # Then every route is gone, across several invocations none of which ran past its time
    assert len(runs.seconds) >= 2, runs.seconds
    assert max(runs.seconds) <= TIMEOUT_SECONDS, runs.seconds
    assert runs.answers[-1]["outcome"] == "cleaned"
    assert bucket.sent["DeleteRoute"] - bucket.throttled["DeleteRoute"] == needed  # each deleted once
    assert routes_to(HUB_ACCOUNT, pcx) == set()
    summary = ledger_summary(pcx)
    assert summary["routes"] == []
    assert summary["closed"]
    assert not summary["intent"]
    # the record was closed, and its notice sent, once: by the run that finished, listing every route
    (notice,) = organization.notifications()
    assert "deleted: cleaned up" in notice["subject"]
    assert notice["message"].count("delete route") == needed
    assert emitted_metrics(capsys.readouterr().out)["HandedOn"] == len(runs.seconds) - 1


def test_an_event_still_unfinished_after_the_last_continuation_fails(
    organization: Organization, continuations: Continuations
) -> None:
    # Given the large connection and a continuation that is the last one allowed
    _, event, _ = large_connection()
    clock = SimulatedClock()
    last = {"continuation": MAX_CONTINUATIONS, "event": event}

    # When it runs out of time again, Then it raises (Lambda retries it, then dead-letters it)
    with ec2_throttled(shared_session().events, clock), pytest.raises(Exception, match="still unfinished"):
        run_to_the_end(configure, last, clock, continuations)
    assert continuations.payloads == []


def test_a_continuation_is_handled_as_the_event_it_carries(
    organization: Organization, continuations: Continuations
) -> None:
    # Given a small accepted connection and its Accept event, handed on as a continuation
    requester_vpc = make_vpc(HUB_ACCOUNT, "10.20.0.0/16")
    accepter_vpc = make_vpc(HUB_ACCOUNT, "10.1.0.0/16", tags=ACCEPT_TAG)
    pcx, request_event = request_peering(HUB_ACCOUNT, requester_vpc, HUB_ACCOUNT, accepter_vpc)
    assert accept.lambda_handler(request_event, FakeContext())["outcome"] == "accepted"
    event = cloudtrail_event(
        "AcceptVpcPeeringConnection",
        account=HUB_ACCOUNT,
        region=REGION,
        request_parameters={"vpcPeeringConnectionId": pcx},
        response_elements={"_return": True},
    )

    # When configure receives it
    answer = configure.lambda_handler({"continuation": 3, "event": event}, FakeContext())

    # Then the connection is configured as for the event itself, and nothing more is handed on
    assert answer["outcome"] == "configured", answer
    assert len(routes_to(HUB_ACCOUNT, pcx)) == 2
    assert continuations.payloads == []


@pytest.mark.parametrize(
    "payload",
    [
        {"continuation": 0, "event": {}},
        {"continuation": MAX_CONTINUATIONS + 1, "event": {}},
        {"continuation": "1", "event": {}},
        {"continuation": 1, "event": []},
        {"continuation": 1, "event": {"continuation": 1, "event": {}}},
        {"continuation": 1, "event": {}, "extra": True},
    ],
)
def test_a_malformed_continuation_is_refused_and_changes_nothing(
    organization: Organization, continuations: Continuations, payload: dict[str, Any]
) -> None:
    for function in (configure, cleanup):
        answer = function.lambda_handler(payload, FakeContext())
        assert answer["ok"] is False
        assert answer["error"] == "invalid_event"
    assert continuations.payloads == []
    assert boto3.client("dynamodb", region_name=REGION).scan(TableName="peering-autopilot-ledger")["Items"] == []
