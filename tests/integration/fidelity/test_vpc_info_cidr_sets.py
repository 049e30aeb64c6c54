"""Gap ``vpc_info_cidr_sets`` (emulation/fidelity/vpc_info_cidr_sets.py): VpcInfo lists every block."""

from __future__ import annotations

from peering.core.models import Connection
from tests.integration.fidelity.calls import ipv6_blocks, one
from tests.integration.fidelity.world import EAST, HUB, MEMBER, WEST, World, ec2, gap_fixed


def test_raw_moto_still_has_gap_vpc_info_cidr_sets(raw: World) -> None:
    info = one(HUB, raw.same_account)["RequesterVpcInfo"]
    assert "CidrBlockSet" not in info, gap_fixed("vpc_info_cidr_sets", info)
    assert "Ipv6CidrBlockSet" not in info, gap_fixed("vpc_info_cidr_sets", info)


def test_vpc_info_cidr_sets_list_every_block_of_both_sides(patched: World) -> None:
    item = one(HUB, patched.same_account)
    requester, accepter = item["RequesterVpcInfo"], item["AccepterVpcInfo"]
    assert requester["CidrBlock"] == "10.0.0.0/16"
    assert requester["CidrBlockSet"] == [{"CidrBlock": "10.0.0.0/16"}, {"CidrBlock": "10.10.0.0/16"}]
    ipv6 = ipv6_blocks(HUB, patched.hub_vpc)
    assert len(ipv6) == 1
    assert requester["Ipv6CidrBlockSet"] == [{"Ipv6CidrBlock": ipv6[0]}]
    assert accepter["CidrBlockSet"] == [{"CidrBlock": "10.1.0.0/16"}]
    assert accepter.get("Ipv6CidrBlockSet", []) == []


def test_vpc_info_cidr_sets_in_the_create_response(patched: World) -> None:
    requester = patched.created["RequesterVpcInfo"]
    assert [b["CidrBlock"] for b in requester["CidrBlockSet"]] == ["10.0.0.0/16", "10.10.0.0/16"]
    assert len(requester["Ipv6CidrBlockSet"]) == 1


def test_vpc_info_cidr_sets_inter_region_seen_from_the_accepter(patched: World) -> None:
    item = one(MEMBER, patched.inter_region, WEST)
    requester, accepter = item["RequesterVpcInfo"], item["AccepterVpcInfo"]
    assert (requester["OwnerId"], requester["Region"]) == (HUB, EAST)
    assert [b["CidrBlock"] for b in requester["CidrBlockSet"]] == ["10.0.0.0/16", "10.10.0.0/16"]
    assert (accepter["OwnerId"], accepter["Region"]) == (MEMBER, WEST)
    assert accepter["CidrBlockSet"] == [{"CidrBlock": "10.30.0.0/16"}]


def test_vpc_info_cidr_sets_follow_blocks_associated_and_removed_later(patched: World) -> None:
    hub = ec2(HUB)
    hub.associate_vpc_cidr_block(VpcId=patched.hub_vpc, CidrBlock="10.11.0.0/16")
    vpc = hub.describe_vpcs(VpcIds=[patched.hub_vpc])["Vpcs"][0]
    (secondary,) = [a for a in vpc["CidrBlockAssociationSet"] if a["CidrBlock"] == "10.10.0.0/16"]
    hub.disassociate_vpc_cidr_block(AssociationId=secondary["AssociationId"])
    blocks = [b["CidrBlock"] for b in one(HUB, patched.cross_account)["AccepterVpcInfo"]["CidrBlockSet"]]
    assert blocks == ["10.0.0.0/16", "10.11.0.0/16"]


def test_vpc_info_cidr_sets_reach_the_engine_model(patched: World) -> None:
    connection = Connection.from_api(one(HUB, patched.same_account), EAST)
    assert connection.requester.cidr_blocks == ("10.0.0.0/16", "10.10.0.0/16")
    assert connection.requester.ipv6_cidr_blocks == tuple(ipv6_blocks(HUB, patched.hub_vpc))
    assert connection.accepter.cidr_blocks == ("10.1.0.0/16",)
