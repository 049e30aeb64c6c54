"""Gap ``peering_tags_per_account`` (emulation/fidelity/peering_tags_per_account.py): each side its own tags."""

from __future__ import annotations

from typing import Any

from tests.integration.fidelity.calls import describe, one
from tests.integration.fidelity.world import HUB, MEMBER, WEST, World, ec2, gap_fixed


def tags_of(item: dict[str, Any]) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in item.get("Tags", [])}


def test_raw_moto_still_has_gap_peering_tags_per_account(raw: World) -> None:
    ec2(HUB).create_tags(Resources=[raw.cross_account], Tags=[{"Key": "decision", "Value": "held"}])
    seen_by_accepter = tags_of(one(HUB, raw.cross_account))
    assert seen_by_accepter == {"Name": "platform-to-shared"}, gap_fixed(
        "peering_tags_per_account", f"the accepter sees {seen_by_accepter}"
    )


def test_peering_tags_per_account_each_side_sees_only_its_own(patched: World) -> None:
    hub, member = ec2(HUB), ec2(MEMBER)
    assert tags_of(one(MEMBER, patched.cross_account)) == {"Name": "platform-to-shared"}
    assert tags_of(one(HUB, patched.cross_account)) == {}
    hub.create_tags(Resources=[patched.cross_account], Tags=[{"Key": "decision", "Value": "held"}])
    assert tags_of(one(HUB, patched.cross_account)) == {"decision": "held"}
    assert tags_of(one(MEMBER, patched.cross_account)) == {"Name": "platform-to-shared"}
    # DescribeVpcPeeringConnections agrees with DescribeTags in each account
    for client, account in ((hub, HUB), (member, MEMBER)):
        by_tags = client.describe_tags(Filters=[{"Name": "resource-id", "Values": [patched.cross_account]}])["Tags"]
        assert {t["Key"]: t["Value"] for t in by_tags} == tags_of(one(account, patched.cross_account))


def test_peering_tags_per_account_inter_region(patched: World) -> None:
    ec2(HUB).create_tags(Resources=[patched.inter_region], Tags=[{"Key": "side", "Value": "requester"}])
    ec2(MEMBER, WEST).create_tags(Resources=[patched.inter_region], Tags=[{"Key": "side", "Value": "accepter"}])
    assert tags_of(one(HUB, patched.inter_region)) == {"side": "requester"}
    assert tags_of(one(MEMBER, patched.inter_region, WEST)) == {"side": "accepter"}


def test_peering_tags_per_account_tag_filters_use_the_callers_tags(patched: World) -> None:
    name = [{"Name": "tag:Name", "Values": ["platform-to-shared"]}]
    assert describe(HUB, Filters=name) == []
    assert [i["VpcPeeringConnectionId"] for i in describe(MEMBER, Filters=name)] == [patched.cross_account]


def test_peering_tags_per_account_in_the_accept_response(patched: World) -> None:
    west = ec2(MEMBER, WEST)
    west.create_tags(Resources=[patched.inter_region], Tags=[{"Key": "approved-by", "Value": "alice"}])
    accepted = west.accept_vpc_peering_connection(VpcPeeringConnectionId=patched.inter_region)
    assert tags_of(accepted["VpcPeeringConnection"]) == {"approved-by": "alice"}


def test_peering_tags_per_account_same_account_sees_its_tags(patched: World) -> None:
    assert tags_of(one(HUB, patched.same_account)) == {"team": "network"}
