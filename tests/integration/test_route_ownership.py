"""Ownership of routes on moto: the autopilot removes only the routes it installed (its ledger's
route records), on every path; a route to a connection made by a person or by Terraform is left
alone and reported once as a foreign route; with take_over_foreign_routes, such a route where the
routing wants one is recorded and managed from then on.

Every test asserts on the route tables read back from EC2, the ledger's items and the notices.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import boto3
import pytest

from emulation import lifecycle
from peering.aws.clients import shared_session
from peering.core.routing import RoutingOptions
from peering.lifecycle.configure import ConfigureLifecycle
from peering.lifecycle.engine import Engine
from peering.map.publish import observe_fragment
from peering.runtime.config import Settings
from tests.builders import cloudtrail_event, ledger_state, request_peering
from tests.conftest import HUB_ACCOUNT, LEDGER_TABLE, REGION, FakeContext, Organization, ec2, load_function
from tests.integration.test_configure import (
    accept_event,
    accepted,
    dns_ready_vpc,
    findings_recorded,
    main_table,
    peer_routes,
    run,
)
from tests.integration.test_routing_scope import BY_SUBNET, SHARE_KEY, policy, subnet
from tests.integration.test_sweep import run_target

cleanup = load_function("cleanup")

FOREIGN = "a route the autopilot did not install"


def by_hand(table: str, destination: str, pcx: str) -> None:
    """A route made outside the autopilot (the console, a Terraform module): no route record."""
    ec2(HUB_ACCOUNT).create_route(RouteTableId=table, DestinationCidrBlock=destination, VpcPeeringConnectionId=pcx)


def route_records(pcx: str) -> set[tuple[str, str]]:
    """(route table, destination) of the ledger's route records of ``pcx``."""
    items = boto3.client("dynamodb", region_name=REGION).query(
        TableName=LEDGER_TABLE,
        KeyConditionExpression="pk = :pk AND begins_with(sk, :r)",
        ExpressionAttributeValues={":pk": {"S": pcx}, ":r": {"S": "ROUTE#"}},
    )["Items"]
    return {(i["routeTableId"]["S"], i["destination"]["S"]) for i in items}


def foreign_notices(organization: Organization) -> list[dict[str, str]]:
    return [n for n in organization.notifications() if FOREIGN in n["message"]]


def foreign_key(table: str, destination: str, pcx: str) -> str:
    return f"foreign:{table}:{destination}:{pcx}"


def remove_block(vpc_id: str, block: str) -> dict[str, Any]:
    """Disassociate ``block`` from the VPC: its DisassociateVpcCidrBlock event, as configure gets it."""
    client = ec2(HUB_ACCOUNT)
    association = next(
        x["AssociationId"]
        for x in client.describe_vpcs(VpcIds=[vpc_id])["Vpcs"][0]["CidrBlockAssociationSet"]
        if x["CidrBlock"] == block
    )
    client.disassociate_vpc_cidr_block(AssociationId=association)
    return cloudtrail_event(
        "DisassociateVpcCidrBlock",
        account=HUB_ACCOUNT,
        region=REGION,
        request_parameters={"associationId": association},
        response_elements={"vpcId": vpc_id, "cidrBlockAssociation": {"associationId": association, "cidrBlock": block}},
    )


def configured_with_hand_routes(
    organization: Organization, context: FakeContext, *, before: Callable[[str, str, str], None] | None = None
) -> tuple[str, str, str, str]:
    """(connection, a, b's main table, b's second table): a (10.0.0.0/16 and 10.2.0.0/16) peered
    with b (10.1.0.0/16, two route tables), configured by the autopilot; by hand, a narrower
    10.2.1.0/24 in b's main table after it. ``before(pcx, main, second)`` runs before configure."""
    a = dns_ready_vpc(HUB_ACCOUNT, "10.0.0.0/16", extra_cidrs=("10.2.0.0/16",))
    b = dns_ready_vpc(HUB_ACCOUNT, "10.1.0.0/16")
    second = ec2(HUB_ACCOUNT).create_route_table(VpcId=b)["RouteTable"]["RouteTableId"]
    main = main_table(HUB_ACCOUNT, b)
    pcx = accepted(organization, context, (HUB_ACCOUNT, a), (HUB_ACCOUNT, b))
    if before is not None:
        before(pcx, main, second)
    assert run(accept_event(HUB_ACCOUNT, pcx), context)["outcome"] == "configured"
    by_hand(main, "10.2.1.0/24", pcx)
    return pcx, a, main, second


# --- configure: a peer block removed, subnets no longer tagged ---------------------------------------


def test_a_removed_peer_block_takes_only_the_routes_the_autopilot_installed(
    organization: Organization, context: FakeContext
) -> None:
    # Given: Terraform routed 10.2.0.0/16 in b's second table before the autopilot configured the
    # connection (which then routed everything else), and a person added a narrower 10.2.1.0/24
    def terraform(pcx: str, _main: str, second: str) -> None:
        by_hand(second, "10.2.0.0/16", pcx)

    pcx, a, main, second = configured_with_hand_routes(organization, context, before=terraform)
    assert route_records(pcx) >= {(main, "10.2.0.0/16"), (second, "10.0.0.0/16")}
    assert (second, "10.2.0.0/16") not in route_records(pcx)
    organization.notifications()

    # When: 10.2.0.0/16 leaves a
    run(remove_block(a, "10.2.0.0/16"), context)

    # Then: the autopilot's 10.2.0.0/16 is gone, Terraform's and the person's routes stay, reported once
    assert peer_routes(HUB_ACCOUNT, vpc_of_table(main), pcx) == {
        (main, "10.0.0.0/16"),
        (second, "10.0.0.0/16"),
        (second, "10.2.0.0/16"),
        (main, "10.2.1.0/24"),
    }
    assert {(main, "10.2.0.0/16")}.isdisjoint(route_records(pcx))
    keys = {foreign_key(second, "10.2.0.0/16", pcx), foreign_key(main, "10.2.1.0/24", pcx)}
    assert keys <= findings_recorded(pcx)
    [notice] = foreign_notices(organization)
    assert "10.2.0.0/16" in notice["message"]
    assert "10.2.1.0/24" in notice["message"]
    run(accept_event(HUB_ACCOUNT, pcx), context)
    assert foreign_notices(organization) == []  # reported once


def vpc_of_table(table: str) -> str:
    return str(ec2(HUB_ACCOUNT).describe_route_tables(RouteTableIds=[table])["RouteTables"][0]["VpcId"])


def test_an_untagged_subnet_takes_only_the_routes_the_autopilot_installed(
    organization: Organization, context: FakeContext
) -> None:
    # Given: routes to a's shared subnets, and by hand a route to one it does not share
    policy(organization, "own-1", document=BY_SUBNET)
    a = dns_ready_vpc(HUB_ACCOUNT, "10.0.0.0/16")
    b = dns_ready_vpc(HUB_ACCOUNT, "10.1.0.0/16")
    subnet(HUB_ACCOUNT, a, "10.0.1.0/24")
    leaving = subnet(HUB_ACCOUNT, a, "10.0.2.0/24")
    subnet(HUB_ACCOUNT, b, "10.1.1.0/24")
    pcx = accepted(organization, context, (HUB_ACCOUNT, a), (HUB_ACCOUNT, b))
    run(accept_event(HUB_ACCOUNT, pcx), context)
    main = main_table(HUB_ACCOUNT, b)
    by_hand(main, "10.0.3.0/24", pcx)
    assert {d for _, d in peer_routes(HUB_ACCOUNT, b, pcx)} == {"10.0.1.0/24", "10.0.2.0/24", "10.0.3.0/24"}

    # When: 10.0.2.0/24 is no longer shared, and the sweep runs
    ec2(HUB_ACCOUNT).create_tags(Resources=[leaving], Tags=[{"Key": SHARE_KEY, "Value": "no"}])
    run_target()

    # Then
    assert peer_routes(HUB_ACCOUNT, b, pcx) == {(main, "10.0.1.0/24"), (main, "10.0.3.0/24")}
    assert foreign_key(main, "10.0.3.0/24", pcx) in findings_recorded(pcx)


# --- cleanup after delete, reject, expiry ------------------------------------------------------------


def _deleted(organization: Organization, context: FakeContext) -> tuple[str, str, set[tuple[str, str]]]:
    pcx, _, main, _ = configured_with_hand_routes(organization, context)
    ec2(HUB_ACCOUNT).delete_vpc_peering_connection(VpcPeeringConnectionId=pcx)
    event = cloudtrail_event(
        "DeleteVpcPeeringConnection",
        account=HUB_ACCOUNT,
        region=REGION,
        request_parameters={"vpcPeeringConnectionId": pcx},
        response_elements={"_return": True},
    )
    assert cleanup.lambda_handler(event, context)["outcome"] == "cleaned"
    return pcx, main, {(main, "10.2.1.0/24")}


def _pending_with_a_hand_route() -> tuple[str, str]:
    a = dns_ready_vpc(HUB_ACCOUNT, "10.0.0.0/16")
    b = dns_ready_vpc(HUB_ACCOUNT, "10.1.0.0/16")
    pcx, _ = request_peering(HUB_ACCOUNT, a, HUB_ACCOUNT, b)
    main = main_table(HUB_ACCOUNT, b)
    by_hand(main, "10.0.0.0/16", pcx)  # prepared by hand for when it is accepted
    return pcx, main


def _rejected(organization: Organization, context: FakeContext) -> tuple[str, str, set[tuple[str, str]]]:
    pcx, main = _pending_with_a_hand_route()
    ec2(HUB_ACCOUNT).reject_vpc_peering_connection(VpcPeeringConnectionId=pcx)  # a person, in the console
    event = cloudtrail_event(
        "RejectVpcPeeringConnection",
        account=HUB_ACCOUNT,
        region=REGION,
        request_parameters={"vpcPeeringConnectionId": pcx},
        response_elements={"_return": True},
    )
    assert cleanup.lambda_handler(event, context)["outcome"] in ("cleaned", "unchanged")
    return pcx, main, {(main, "10.0.0.0/16")}


def _expired(organization: Organization, context: FakeContext) -> tuple[str, str, set[tuple[str, str]]]:
    pcx, main = _pending_with_a_hand_route()
    lifecycle.set_status(pcx, "expired")
    run_target()
    return pcx, main, {(main, "10.0.0.0/16")}


@pytest.mark.parametrize("death", [_deleted, _rejected, _expired], ids=lambda f: f.__name__[1:])
def test_cleanup_after_a_dead_connection_leaves_hand_made_routes(
    organization: Organization, context: FakeContext, death: Any
) -> None:
    # Given / When: the connection dies with routes to it made by hand (and the autopilot's, if any)
    pcx, main, hand_made = death(organization, context)

    # Then: only the hand-made routes are left, reported as foreign, and the record is closed
    assert peer_routes(HUB_ACCOUNT, vpc_of_table(main), pcx) == hand_made
    assert route_records(pcx) == set()
    assert {foreign_key(t, d, pcx) for t, d in hand_made} <= findings_recorded(pcx)
    assert "closedAt" in ledger_state(pcx)
    assert len(foreign_notices(organization)) == 1


# --- the sweep: stale routes, orphan blackholes, repeated --------------------------------------------


def test_the_sweep_leaves_a_foreign_route_and_reports_it_once(organization: Organization, context: FakeContext) -> None:
    # Given: a configured connection with a narrower route added by hand
    pcx, a, main, _ = configured_with_hand_routes(organization, context)
    b = vpc_of_table(main)
    organization.notifications()

    # When: the sweep runs three times
    results = [run_target() for _ in range(3)]

    # Then: nothing changes, one notice
    assert [r["drift"] for r in results] == [0, 0, 0]
    assert (main, "10.2.1.0/24") in peer_routes(HUB_ACCOUNT, b, pcx)
    assert len(foreign_notices(organization)) == 1

    # When: the connection is deleted, and AWS no longer shows it before any sweep saw it dead
    ec2(HUB_ACCOUNT).delete_vpc_peering_connection(VpcPeeringConnectionId=pcx)
    lifecycle.forget_connection(pcx)
    orphans = [run_target() for _ in range(2)]

    # Then: the autopilot's blackholes go (a's and b's: 5), the hand-made one stays, told once already
    assert orphans[0]["done"] == {"blackhole-removed": 5}
    assert orphans[1]["drift"] == 0
    assert peer_routes(HUB_ACCOUNT, b, pcx) == {(main, "10.2.1.0/24")}
    assert peer_routes(HUB_ACCOUNT, a, pcx) == set()
    assert foreign_notices(organization) == []


def test_the_orphan_blackhole_pass_leaves_a_foreign_route_and_reports_it_once(
    organization: Organization, context: FakeContext
) -> None:
    # Given: a configured connection with a route made by hand, deleted and forgotten by AWS
    pcx, _, main, _ = configured_with_hand_routes(organization, context)
    ec2(HUB_ACCOUNT).delete_vpc_peering_connection(VpcPeeringConnectionId=pcx)
    lifecycle.forget_connection(pcx)
    organization.notifications()

    # When: the sweep runs twice
    first, second = run_target(), run_target()

    # Then
    assert first["done"] == {"blackhole-removed": 5}
    assert second["drift"] == 0
    assert peer_routes(HUB_ACCOUNT, vpc_of_table(main), pcx) == {(main, "10.2.1.0/24")}
    assert foreign_key(main, "10.2.1.0/24", pcx) in findings_recorded(pcx)
    assert len(foreign_notices(organization)) == 1


# --- take over ---------------------------------------------------------------------------------------


@pytest.fixture
def taking_over(monkeypatch: pytest.MonkeyPatch) -> None:
    """take_over_foreign_routes on, as the policy's adopt section sets it for adopted connections."""
    original = ConfigureLifecycle.routing_options

    def routing_options(self: ConfigureLifecycle, decided: Any = None) -> RoutingOptions:
        return replace(original(self, decided), take_over_foreign_routes=True)

    monkeypatch.setattr(ConfigureLifecycle, "routing_options", routing_options)


@pytest.mark.usefixtures("taking_over")
def test_a_foreign_route_where_the_routing_wants_one_is_taken_over_then_managed(
    organization: Organization, context: FakeContext
) -> None:
    # Given: Terraform's 10.2.0.0/16 in b's second table before the autopilot configured it
    def terraform(pcx: str, _main: str, second: str) -> None:
        by_hand(second, "10.2.0.0/16", pcx)

    pcx, a, main, second = configured_with_hand_routes(organization, context, before=terraform)

    # Then: it is recorded as the autopilot's (the narrower one is not: the routing does not want it)
    assert (second, "10.2.0.0/16") in route_records(pcx)
    assert (main, "10.2.1.0/24") not in route_records(pcx)

    # When: 10.2.0.0/16 leaves a
    run(remove_block(a, "10.2.0.0/16"), context)

    # Then: the taken-over route goes with the autopilot's own; the narrower one stays
    assert peer_routes(HUB_ACCOUNT, vpc_of_table(main), pcx) == {
        (main, "10.0.0.0/16"),
        (second, "10.0.0.0/16"),
        (main, "10.2.1.0/24"),
    }
    assert (second, "10.2.0.0/16") not in route_records(pcx)


# --- the map's drift view ----------------------------------------------------------------------------


def test_the_map_shows_a_hand_made_route_as_foreign_not_as_one_the_sweep_removes(
    organization: Organization, context: FakeContext
) -> None:
    # Given: a configured connection with a narrower route added by hand, and one of the
    # autopilot's routes for a block the peer gives up (outside any event: the sweep's drift)
    pcx, a, main, second = configured_with_hand_routes(organization, context)
    client = ec2(HUB_ACCOUNT)
    association = next(
        x["AssociationId"]
        for x in client.describe_vpcs(VpcIds=[a])["Vpcs"][0]["CidrBlockAssociationSet"]
        if x["CidrBlock"] == "10.2.0.0/16"
    )
    client.disassociate_vpc_cidr_block(AssociationId=association)

    # When: the map observes the account+Region
    edge = next(
        e for e in observe_fragment(Engine(Settings.from_env()), HUB_ACCOUNT, REGION).edges if e.connection_id == pcx
    )

    # Then: the autopilot's 10.2.0.0/16 routes are drift it removes, the hand-made /24 is foreign
    stale = {f.message for f in edge.findings if f.kind == "stale-route"}
    foreign = [f.message for f in edge.findings if f.kind == "foreign-route"]
    assert stale == {f"{main}: 10.2.0.0/16 is not the peer's", f"{second}: 10.2.0.0/16 is not the peer's"}
    assert len(foreign) == 1
    assert f"routes 10.2.1.0/24 to {pcx}" in foreign[0]


# --- what reading the records costs ------------------------------------------------------------------


def route_record_queries(action: Callable[[], object]) -> int:
    """DynamoDB Query calls for route records the functions make while ``action`` runs."""
    queries = 0

    def count(params: dict[str, Any], **_: Any) -> None:
        nonlocal queries
        if b"ROUTE#" in params.get("body", b""):
            queries += 1

    shared_session().events.register("before-call.dynamodb.Query", count)
    try:
        action()
    finally:
        shared_session().events.unregister("before-call.dynamodb.Query", count)
    return queries


def test_route_records_are_read_only_where_a_route_would_otherwise_be_removed(
    organization: Organization, context: FakeContext
) -> None:
    # Given: two configured connections, one of them with a route added by hand
    a = dns_ready_vpc(HUB_ACCOUNT, "10.0.0.0/16")
    b = dns_ready_vpc(HUB_ACCOUNT, "10.1.0.0/16")
    c = dns_ready_vpc(HUB_ACCOUNT, "10.3.0.0/16")
    plain = accepted(organization, context, (HUB_ACCOUNT, a), (HUB_ACCOUNT, b))
    drifted = accepted(organization, context, (HUB_ACCOUNT, a), (HUB_ACCOUNT, c))
    for pcx in (plain, drifted):
        run(accept_event(HUB_ACCOUNT, pcx), context)
    before = route_record_queries(run_target)
    by_hand(main_table(HUB_ACCOUNT, c), "10.0.9.0/24", drifted)

    # When / Then: the sweep reads none without drift, then one query for the drifted connection
    assert before == 0
    assert route_record_queries(run_target) == 1
