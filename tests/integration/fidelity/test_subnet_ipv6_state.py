"""Gap ``subnet_ipv6_state`` (emulation/fidelity/subnet_ipv6_state.py): a subnet's IPv6 state is its text."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.fidelity.world import HUB, World, ec2, gap_fixed


def _ipv6_subnet(world: World) -> dict[str, Any]:
    client = ec2(HUB)
    vpc = client.describe_vpcs(VpcIds=[world.hub_vpc])["Vpcs"][0]
    block = vpc["Ipv6CidrBlockAssociationSet"][0]["Ipv6CidrBlock"].replace("/56", "/64")
    subnet_id = client.create_subnet(VpcId=world.hub_vpc, CidrBlock="10.0.1.0/24", Ipv6CidrBlock=block)["Subnet"][
        "SubnetId"
    ]
    found: dict[str, Any] = client.describe_subnets(SubnetIds=[subnet_id])["Subnets"][0]
    return found


def test_raw_moto_still_has_gap_subnet_ipv6_state(raw: World) -> None:
    state = _ipv6_subnet(raw)["Ipv6CidrBlockAssociationSet"][0]["Ipv6CidrBlockState"]["State"]
    if state == "associated":
        pytest.fail(gap_fixed("subnet_ipv6_state", f"State={state!r}"))
    assert "associated" in state, "unexpected moto behaviour"


def test_subnet_ipv6_state_is_the_state_text(patched: World) -> None:
    association = _ipv6_subnet(patched)["Ipv6CidrBlockAssociationSet"][0]

    assert association["Ipv6CidrBlockState"] == {"State": "associated"}
    assert association["Ipv6CidrBlock"].endswith("/64")
