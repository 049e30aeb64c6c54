"""Gap ``blackhole_routes`` (emulation/fidelity/blackhole_routes.py): routes to a dead connection are blackholes."""

from __future__ import annotations

import pytest

from emulation import lifecycle
from peering.core.network import RouteTable
from tests.integration.fidelity.world import EAST, HUB, MEMBER, World, ec2, gap_fixed


def main_table(account: str, vpc_id: str, region: str = EAST) -> str:
    tables = ec2(account, region).describe_route_tables(
        Filters=[{"Name": "vpc-id", "Values": [vpc_id]}, {"Name": "association.main", "Values": ["true"]}]
    )["RouteTables"]
    return str(tables[0]["RouteTableId"])


def route_via(account: str, vpc_id: str, destination: str, connection_id: str, region: str = EAST) -> str:
    """A route in the VPC's main table to ``destination`` through the connection; the table id."""
    table = main_table(account, vpc_id, region)
    ec2(account, region).create_route(
        RouteTableId=table, DestinationCidrBlock=destination, VpcPeeringConnectionId=connection_id
    )
    return table


def route_states(account: str, connection_id: str, region: str = EAST) -> dict[str, str]:
    """{destination: State} of the routes through the connection, as ``account`` reads them."""
    tables = ec2(account, region).describe_route_tables(
        Filters=[{"Name": "route.vpc-peering-connection-id", "Values": [connection_id]}]
    )["RouteTables"]
    return {
        r["DestinationCidrBlock"]: r["State"]
        for t in tables
        for r in t["Routes"]
        if r.get("VpcPeeringConnectionId") == connection_id
    }


def test_raw_moto_still_has_gap_blackhole_routes(raw: World) -> None:
    route_via(HUB, raw.hub_vpc, "10.1.0.0/16", raw.same_account)
    ec2(HUB).delete_vpc_peering_connection(VpcPeeringConnectionId=raw.same_account)
    states = route_states(HUB, raw.same_account)
    assert states == {"10.1.0.0/16": "active"}, gap_fixed("blackhole_routes", f"a route to a deleted one is {states}")


def test_blackhole_routes_to_an_active_connection_are_active(patched: World) -> None:
    route_via(HUB, patched.hub_vpc, "10.1.0.0/16", patched.same_account)
    assert route_states(HUB, patched.same_account) == {"10.1.0.0/16": "active"}


def test_blackhole_routes_after_deletion_on_both_sides(patched: World) -> None:
    ec2(HUB).accept_vpc_peering_connection(VpcPeeringConnectionId=patched.cross_account)
    route_via(MEMBER, patched.member_east, "10.0.0.0/16", patched.cross_account)
    route_via(HUB, patched.hub_vpc, "10.20.0.0/16", patched.cross_account)
    assert route_states(MEMBER, patched.cross_account) == {"10.0.0.0/16": "active"}

    ec2(MEMBER).delete_vpc_peering_connection(VpcPeeringConnectionId=patched.cross_account)

    assert route_states(MEMBER, patched.cross_account) == {"10.0.0.0/16": "blackhole"}
    assert route_states(HUB, patched.cross_account) == {"10.20.0.0/16": "blackhole"}


def test_blackhole_routes_to_a_pending_request(patched: World) -> None:
    route_via(HUB, patched.hub_vpc, "10.30.0.0/16", patched.inter_region)
    assert route_states(HUB, patched.inter_region) == {"10.30.0.0/16": "blackhole"}


def test_blackhole_routes_after_rejection(patched: World) -> None:
    route_via(MEMBER, patched.member_east, "10.0.0.0/16", patched.cross_account)
    ec2(HUB).reject_vpc_peering_connection(VpcPeeringConnectionId=patched.cross_account)
    assert route_states(MEMBER, patched.cross_account) == {"10.0.0.0/16": "blackhole"}


@pytest.mark.parametrize("code", ["provisioning", "deleting", "deleted", "rejected", "expired", "failed"])
def test_blackhole_routes_in_every_status_but_active(patched: World, code: str) -> None:
    route_via(HUB, patched.hub_vpc, "10.1.0.0/16", patched.same_account)
    lifecycle.set_status(patched.same_account, code)
    assert route_states(HUB, patched.same_account) == {"10.1.0.0/16": "blackhole"}
    lifecycle.set_status(patched.same_account, "active")
    assert route_states(HUB, patched.same_account) == {"10.1.0.0/16": "active"}


def test_blackhole_routes_to_a_connection_the_api_no_longer_shows(patched: World) -> None:
    route_via(HUB, patched.hub_vpc, "10.1.0.0/16", patched.same_account)
    ec2(HUB).delete_vpc_peering_connection(VpcPeeringConnectionId=patched.same_account)
    lifecycle.forget_connection(patched.same_account)
    assert route_states(HUB, patched.same_account) == {"10.1.0.0/16": "blackhole"}  # still found by its target


def test_blackhole_routes_route_state_filter(patched: World) -> None:
    dead = route_via(HUB, patched.hub_vpc, "10.30.0.0/16", patched.inter_region)  # pending: blackhole
    live = route_via(HUB, patched.hub_other, "10.0.0.0/16", patched.same_account)

    def tables(state: str) -> set[str]:
        found = ec2(HUB).describe_route_tables(Filters=[{"Name": "route.state", "Values": [state]}])["RouteTables"]
        return {t["RouteTableId"] for t in found}

    assert tables("blackhole") == {dead}
    assert {dead, live} <= tables("active")  # every table has its active local route


def test_blackhole_routes_leave_other_routes_alone(patched: World) -> None:
    route_via(HUB, patched.hub_vpc, "10.30.0.0/16", patched.inter_region)
    table = ec2(HUB).describe_route_tables(RouteTableIds=[main_table(HUB, patched.hub_vpc)])["RouteTables"][0]
    assert {r.get("GatewayId"): r["State"] for r in table["Routes"] if r.get("GatewayId")} == {"local": "active"}


def test_blackhole_routes_reach_the_engine_model(patched: World) -> None:
    table_id = route_via(HUB, patched.hub_vpc, "10.30.0.0/16", patched.inter_region)
    item = ec2(HUB).describe_route_tables(RouteTableIds=[table_id])["RouteTables"][0]
    route = RouteTable.from_api(item).route_for("10.30.0.0/16")
    assert route is not None
    assert route.is_blackhole
    assert route.target_id == patched.inter_region
