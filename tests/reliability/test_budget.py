"""Configure and cleanup work within their invocation's time and hand the rest on to the next.

The scenario (tests/budget.py): a connection needing about 1,000 routes, EC2's mutating-call
bucket (50 tokens, 5 a second) enforced in front of moto on a simulated clock, 120 s invocations
whose context reads the time left from that clock. Each invocation stops starting work once less
than its margin is left and invokes its function again with the event (a continuation, on moto's
Lambda); the next invocation is run as Lambda would run it, until nothing is handed on.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from peering.aws.clients import AwsClients
from peering.aws.continuation import invoke_later
from peering.core.events import MAX_CONTINUATIONS
from peering.runtime.config import Settings
from runner.cfn import Stack
from runner.world import ApiRecorder, World
from tests.budget import (
    CONFLICT,
    TIMEOUT_SECONDS,
    Continuations,
    function_arn,
    large_connection,
    recorded_continuations,
    with_budget,
)
from tests.builders import ACCEPT_TAG, cloudtrail_event, make_vpc, request_peering
from tests.conftest import HUB_ACCOUNT, REGION, FakeContext, Organization, ec2, emitted_metrics, load_function
from tests.reliability.conftest import ledger_summary, routes_to

configure = load_function("configure")
cleanup = load_function("cleanup")
accept = load_function("accept")


@pytest.fixture
def continuations(organization: Organization) -> Iterator[Continuations]:
    with recorded_continuations() as queued:
        yield queued


def test_configure_installs_a_thousand_routes_across_invocations_without_starting_over(
    organization: Organization, continuations: Continuations, capsys: Any
) -> None:
    # Given a connection that needs 1,000 routes (200 s of EC2's bucket) and 120 s invocations
    connection = large_connection()
    organization.notifications()
    capsys.readouterr()

    # When configure handles its Accept event, and each invocation it hands the rest on to
    runs = with_budget(configure, connection.accept_event, continuations)

    # Then it converged across several invocations, none of them past its time
    assert len(runs.seconds) >= 2, runs.seconds
    assert max(runs.seconds) <= TIMEOUT_SECONDS, runs.seconds
    assert all(answer and answer["ok"] for answer in runs.answers)
    assert [a and a.get("continuation") for a in runs.answers[:-1]] == list(range(1, len(runs.seconds)))
    assert runs.answers[-1]
    assert runs.answers[-1]["outcome"] == "configured"
    assert set(continuations.targets) == {function_arn(configure)}
    # each route created once: no run started over (throttled attempts are retried, not repeated work)
    assert runs.bucket
    assert runs.bucket.sent["CreateRoute"] - runs.bucket.throttled["CreateRoute"] == connection.routes
    assert len(routes_to(HUB_ACCOUNT, connection.pcx)) == connection.routes
    # one record per route, none for a route not made
    assert len(ledger_summary(connection.pcx)["routes"]) == connection.routes
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
    connection = large_connection()
    assert configure.lambda_handler(connection.accept_event, FakeContext())["outcome"] == "configured"
    assert len(routes_to(HUB_ACCOUNT, connection.pcx)) == connection.routes
    delete = connection.delete_event()
    organization.notifications()
    capsys.readouterr()

    # When cleanup handles the Delete, and each invocation it hands the rest on to
    runs = with_budget(cleanup, delete, continuations)

    # Then every route is gone, across several invocations none of which ran past its time
    assert len(runs.seconds) >= 2, runs.seconds
    assert max(runs.seconds) <= TIMEOUT_SECONDS, runs.seconds
    assert runs.answers[-1]
    assert runs.answers[-1]["outcome"] == "cleaned"
    assert runs.bucket
    assert runs.bucket.sent["DeleteRoute"] - runs.bucket.throttled["DeleteRoute"] == connection.routes  # each once
    assert routes_to(HUB_ACCOUNT, connection.pcx) == set()
    summary = ledger_summary(connection.pcx)
    assert summary["routes"] == []
    assert summary["closed"]
    assert not summary["intent"]
    # the record was closed, and its notice sent, once: by the run that finished, listing every route
    (notice,) = organization.notifications()
    assert "deleted: cleaned up" in notice["subject"]
    assert notice["message"].count("delete route") == connection.routes
    assert emitted_metrics(capsys.readouterr().out)["HandedOn"] == len(runs.seconds) - 1


def test_a_cidr_change_reconverges_every_connection_across_invocations(
    organization: Organization, continuations: Continuations
) -> None:
    # Given a VPC peered with 3 VPCs of 60 route tables each, all configured, and 20 s invocations
    changed = make_vpc(HUB_ACCOUNT, "10.1.0.0/16", tags=ACCEPT_TAG)
    hub = ec2(HUB_ACCOUNT)
    connections = []
    for n in range(3):
        peer = make_vpc(HUB_ACCOUNT, f"10.{20 + n}.0.0/16")
        for _ in range(60 - 1):
            hub.create_route_table(VpcId=peer)
        pcx, request_event = request_peering(HUB_ACCOUNT, peer, HUB_ACCOUNT, changed)
        assert accept.lambda_handler(request_event, FakeContext())["outcome"] == "accepted"
        assert configure.lambda_handler(accept_event(pcx), FakeContext())["outcome"] == "configured"
        connections.append(pcx)
    # When the VPC gets a new block: 180 routes to add, about 30 s of EC2's bucket
    hub.associate_vpc_cidr_block(VpcId=changed, CidrBlock="10.9.0.0/16")
    event = cloudtrail_event(
        "AssociateVpcCidrBlock",
        account=HUB_ACCOUNT,
        region=REGION,
        request_parameters={"vpcId": changed, "cidrBlock": "10.9.0.0/16"},
        response_elements={"vpcId": changed},
    )
    runs = with_budget(configure, event, continuations, timeout=20)

    # Then every connection has the block in every table, across invocations none past its time
    assert len(runs.seconds) >= 2, runs.seconds
    assert max(runs.seconds) <= 20, runs.seconds
    for pcx in connections:
        assert sum(1 for _, destination, _ in routes_to(HUB_ACCOUNT, pcx) if destination == "10.9.0.0/16") == 60
    assert runs.bucket
    assert runs.bucket.sent["CreateRoute"] - runs.bucket.throttled["CreateRoute"] == 180  # each route once
    last = runs.answers[-1]
    assert last
    assert [c["connectionId"] for c in last["connections"]] == connections


def accept_event(pcx: str) -> dict[str, Any]:
    return cloudtrail_event(
        "AcceptVpcPeeringConnection",
        account=HUB_ACCOUNT,
        region=REGION,
        request_parameters={"vpcPeeringConnectionId": pcx},
        response_elements={"_return": True},
    )


def test_an_event_still_unfinished_after_the_last_continuation_fails(
    organization: Organization, continuations: Continuations
) -> None:
    # Given the large connection and a continuation that is the last one allowed
    connection = large_connection()
    last = {"continuation": MAX_CONTINUATIONS, "event": connection.accept_event}

    # When it runs out of time again, Then it raises (Lambda retries it, then dead-letters it)
    with pytest.raises(Exception, match="still unfinished"):
        with_budget(configure, last, continuations)
    assert continuations.payloads == []


def test_a_continuation_is_handled_as_the_event_it_carries(
    organization: Organization, continuations: Continuations
) -> None:
    # Given a small accepted connection and its Accept event, handed on as a continuation
    requester_vpc = make_vpc(HUB_ACCOUNT, "10.20.0.0/16")
    accepter_vpc = make_vpc(HUB_ACCOUNT, "10.1.0.0/16", tags=ACCEPT_TAG)
    pcx, request_event = request_peering(HUB_ACCOUNT, requester_vpc, HUB_ACCOUNT, accepter_vpc)
    assert accept.lambda_handler(request_event, FakeContext())["outcome"] == "accepted"
    # When configure receives it
    answer = configure.lambda_handler({"continuation": 3, "event": accept_event(pcx)}, FakeContext())

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


def test_the_local_world_runs_what_a_function_hands_on(organization: Organization) -> None:
    # Given the local runner's world of the hub stack, watching a session's Lambda calls
    stack = Stack.load(account=HUB_ACCOUNT, region=REGION)
    session = boto3.session.Session(region_name=REGION)
    world = World(stack, ApiRecorder(lambda _: HUB_ACCOUNT), sqs=session.client("sqs"))
    world.mappings = []  # no sweep queue here
    world.run_hand_ons(session)
    configure_function = world.functions["ConfigureFunction"]
    arn = f"arn:aws:lambda:{REGION}:{HUB_ACCOUNT}:function:{configure_function.function_name}"

    # When a function hands an event on to the configure function
    invoke_later(AwsClients(Settings.from_env(), session), arn, {"continuation": 1, "event": {"not": "an event"}})
    world.run()

    # Then the world runs it, as Lambda would: the configure function refuses what it carries
    (ran,) = world.invocations
    assert ran.function == "ConfigureFunction"
    assert ran.result["error"] == "invalid_event", ran.result
