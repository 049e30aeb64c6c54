"""Gap ``blackhole_targets`` (emulation/fidelity/blackhole_targets.py): routes to a target that is
gone (a NAT gateway, an interface, a transit gateway, a stopped instance, a detached gateway) are blackholes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from peering.core.network import RouteTable
from tests.integration.fidelity.world import HUB, World, ec2, gap_fixed

DESTINATION = "10.50.0.0/16"


def table_in(vpc_id: str) -> str:
    return str(ec2(HUB).create_route_table(VpcId=vpc_id)["RouteTable"]["RouteTableId"])


def subnet_in(vpc_id: str) -> str:
    return str(ec2(HUB).create_subnet(VpcId=vpc_id, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"])


def state_of(table_id: str, destination: str = DESTINATION) -> str:
    item = ec2(HUB).describe_route_tables(RouteTableIds=[table_id])["RouteTables"][0]
    route = RouteTable.from_api(item).route_for(destination)
    assert route is not None
    return route.state


def nat_gateway(vpc_id: str) -> tuple[dict[str, str], Callable[[], Any]]:
    client = ec2(HUB)
    allocation = client.allocate_address(Domain="vpc")["AllocationId"]
    nat = client.create_nat_gateway(SubnetId=subnet_in(vpc_id), AllocationId=allocation)["NatGateway"]["NatGatewayId"]
    return {"NatGatewayId": nat}, lambda: client.delete_nat_gateway(NatGatewayId=nat)


def network_interface(vpc_id: str) -> tuple[dict[str, str], Callable[[], Any]]:
    client = ec2(HUB)
    eni = client.create_network_interface(SubnetId=subnet_in(vpc_id))["NetworkInterface"]["NetworkInterfaceId"]
    return {"NetworkInterfaceId": eni}, lambda: client.delete_network_interface(NetworkInterfaceId=eni)


def transit_gateway(vpc_id: str) -> tuple[dict[str, str], Callable[[], Any]]:
    client = ec2(HUB)
    tgw = client.create_transit_gateway()["TransitGateway"]["TransitGatewayId"]
    return {"TransitGatewayId": tgw}, lambda: client.delete_transit_gateway(TransitGatewayId=tgw)


def stopped_instance(vpc_id: str) -> tuple[dict[str, str], Callable[[], Any]]:
    client = ec2(HUB)
    run = client.run_instances(ImageId="ami-12345678", MinCount=1, MaxCount=1, SubnetId=subnet_in(vpc_id))
    instance = run["Instances"][0]["InstanceId"]
    return {"InstanceId": instance}, lambda: client.stop_instances(InstanceIds=[instance])


def internet_gateway(vpc_id: str) -> tuple[dict[str, str], Callable[[], Any]]:
    client = ec2(HUB)
    igw = client.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    client.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc_id)
    return {"GatewayId": igw}, lambda: client.detach_internet_gateway(InternetGatewayId=igw, VpcId=vpc_id)


def vpn_gateway(vpc_id: str) -> tuple[dict[str, str], Callable[[], Any]]:
    client = ec2(HUB)
    vgw = client.create_vpn_gateway(Type="ipsec.1")["VpnGateway"]["VpnGatewayId"]
    client.attach_vpn_gateway(VpnGatewayId=vgw, VpcId=vpc_id)
    return {"GatewayId": vgw}, lambda: client.detach_vpn_gateway(VpnGatewayId=vgw, VpcId=vpc_id)


def egress_only_gateway(vpc_id: str) -> tuple[dict[str, str], Callable[[], Any]]:
    client = ec2(HUB)
    eigw = client.create_egress_only_internet_gateway(VpcId=vpc_id)["EgressOnlyInternetGateway"]
    gateway = eigw["EgressOnlyInternetGatewayId"]
    return {"EgressOnlyInternetGatewayId": gateway}, lambda: client.delete_egress_only_internet_gateway(
        EgressOnlyInternetGatewayId=gateway
    )


#: how to make each kind of target, and how to make it unavailable
TARGETS = {
    "nat-gateway-deleted": nat_gateway,
    "network-interface-deleted": network_interface,
    "transit-gateway-deleted": transit_gateway,
    "instance-stopped": stopped_instance,
    "internet-gateway-detached": internet_gateway,
    "vpn-gateway-detached": vpn_gateway,
    "egress-only-internet-gateway-deleted": egress_only_gateway,
}


def routed(
    vpc_id: str, make: Callable[[str], tuple[dict[str, str], Callable[[], Any]]]
) -> tuple[str, Callable[[], Any]]:
    """A route to DESTINATION (or an IPv6 block, for an egress-only gateway) through a new target."""
    target, take_away = make(vpc_id)
    table = table_in(vpc_id)
    where = (
        {"DestinationIpv6CidrBlock": "2600:1f18:aa::/56"}
        if "EgressOnlyInternetGatewayId" in target
        else {"DestinationCidrBlock": DESTINATION}
    )
    ec2(HUB).create_route(RouteTableId=table, **where, **target)
    return table, take_away


def destination_of(make: Callable[..., Any]) -> str:
    return "2600:1f18:aa::/56" if make is egress_only_gateway else DESTINATION


def test_raw_moto_still_has_gap_blackhole_targets(raw: World) -> None:
    table, delete_nat = routed(raw.hub_vpc, nat_gateway)
    delete_nat()
    state = state_of(table)
    assert state == "active", gap_fixed("blackhole_targets", f"a route to a deleted NAT gateway is {state}")


@pytest.mark.parametrize("kind", list(TARGETS))
def test_blackhole_targets_once_the_target_is_unavailable(patched: World, kind: str) -> None:
    make = TARGETS[kind]
    table, take_away = routed(patched.hub_vpc, make)
    assert state_of(table, destination_of(make)) == "active"

    take_away()

    assert state_of(table, destination_of(make)) == "blackhole"


def test_blackhole_targets_come_back_with_their_target(patched: World) -> None:
    table, stop = routed(patched.hub_vpc, stopped_instance)
    stop()
    instance = ec2(HUB).describe_route_tables(RouteTableIds=[table])["RouteTables"][0]["Routes"][-1]["InstanceId"]
    assert state_of(table) == "blackhole"
    ec2(HUB).start_instances(InstanceIds=[instance])
    assert state_of(table) == "active"  # the route was waiting for its target


def test_blackhole_targets_leave_the_local_route_and_peering_routes_alone(patched: World) -> None:
    table, delete_nat = routed(patched.hub_vpc, nat_gateway)
    ec2(HUB).create_route(
        RouteTableId=table, DestinationCidrBlock="10.1.0.0/16", VpcPeeringConnectionId=patched.same_account
    )
    delete_nat()
    routes = ec2(HUB).describe_route_tables(RouteTableIds=[table])["RouteTables"][0]["Routes"]
    states = {r["DestinationCidrBlock"]: r["State"] for r in routes if "DestinationCidrBlock" in r}
    assert states == {
        "10.0.0.0/16": "active",
        "10.10.0.0/16": "active",
        "10.1.0.0/16": "active",
        DESTINATION: "blackhole",
    }


def test_blackhole_targets_are_found_by_the_route_state_filter(patched: World) -> None:
    table, delete_nat = routed(patched.hub_vpc, nat_gateway)
    delete_nat()
    found = ec2(HUB).describe_route_tables(Filters=[{"Name": "route.state", "Values": ["blackhole"]}])["RouteTables"]
    assert [t["RouteTableId"] for t in found] == [table]
