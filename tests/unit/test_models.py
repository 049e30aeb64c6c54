"""Models built from EC2 API responses (the shapes boto3 returns)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from peering.core.models import (
    DEAD_STATUSES,
    LIVE_STATUSES,
    AcceptObservation,
    Connection,
    ConnectionStatus,
    RequesterIdentity,
    Side,
    Vpc,
)
from tests.unit.strategies import connection, observation, side, vpc


def _info(**extra: Any) -> dict[str, Any]:
    return {"OwnerId": "222222222222", "VpcId": "vpc-0a", "Region": "eu-west-1", **extra}


def _peering(**extra: Any) -> dict[str, Any]:
    item: dict[str, Any] = {
        "VpcPeeringConnectionId": "pcx-0123456789abcdef0",
        "Status": {"Code": "pending-acceptance", "Message": "Pending Acceptance by 111111111111"},
        "RequesterVpcInfo": _info(CidrBlock="10.1.0.0/16"),
        "AccepterVpcInfo": {"OwnerId": "111111111111", "VpcId": "vpc-0b", "Region": "us-east-1"},
    }
    item.update(extra)
    return item


# --- Side ----------------------------------------------------------------------------------------


def test_side_reads_every_block_of_the_cidr_block_sets() -> None:
    got = Side.from_api(
        _info(
            CidrBlock="10.1.0.0/16",
            CidrBlockSet=[{"CidrBlock": "10.1.0.0/16"}, {"CidrBlock": "100.64.0.0/20"}],
            Ipv6CidrBlockSet=[{"Ipv6CidrBlock": "2600:1f18::/56"}, {"Ipv6CidrBlock": "2600:1f19::/56"}],
        ),
        "us-east-1",
    )
    assert got == Side(
        "222222222222", "eu-west-1", "vpc-0a", ("10.1.0.0/16", "100.64.0.0/20"), ("2600:1f18::/56", "2600:1f19::/56")
    )


def test_side_falls_back_to_the_primary_block_without_a_cidr_block_set() -> None:
    # moto (and some older responses) carry only CidrBlock.
    got = Side.from_api(_info(CidrBlock="10.1.0.0/16"), "us-east-1")
    assert got.cidr_blocks == ("10.1.0.0/16",)
    assert got.ipv6_cidr_blocks == ()


def test_side_falls_back_to_the_primary_block_when_the_set_is_empty() -> None:
    got = Side.from_api(_info(CidrBlock="10.1.0.0/16", CidrBlockSet=[]), "us-east-1")
    assert got.cidr_blocks == ("10.1.0.0/16",)


def test_side_without_any_block_has_none() -> None:
    # The accepter's blocks are not known while the request is pending.
    got = Side.from_api({"OwnerId": "111111111111", "VpcId": "vpc-0b"}, "us-east-1")
    assert got.cidr_blocks == ()
    assert got.ipv6_cidr_blocks == ()


def test_side_skips_set_items_without_a_block_and_removes_duplicates() -> None:
    got = Side.from_api(
        _info(
            CidrBlockSet=[{"CidrBlock": "10.1.0.0/16"}, {}, {"CidrBlock": "10.1.0.0/16"}],
            Ipv6CidrBlockSet=[{}, {"Ipv6CidrBlock": "2600:1f18::/56"}, {"Ipv6CidrBlock": "2600:1f18::/56"}],
        ),
        "us-east-1",
    )
    assert got.cidr_blocks == ("10.1.0.0/16",)
    assert got.ipv6_cidr_blocks == ("2600:1f18::/56",)


def test_side_region_falls_back_to_the_region_it_was_read_in() -> None:
    info = _info()
    del info["Region"]
    assert Side.from_api(info, "ap-southeast-2").region == "ap-southeast-2"
    assert Side.from_api(_info(), "ap-southeast-2").region == "eu-west-1"


def test_side_owner_id_is_text() -> None:
    assert Side.from_api(_info(OwnerId=222222222222), "us-east-1").account == "222222222222"


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        (None, False),
        ({}, False),
        ({"AllowDnsResolutionFromRemoteVpc": False}, False),
        ({"AllowDnsResolutionFromRemoteVpc": True}, True),
    ],
)
def test_side_reads_the_dns_resolution_option(options: dict[str, bool] | None, expected: bool) -> None:
    info = _info() if options is None else _info(PeeringOptions=options)
    assert Side.from_api(info, "us-east-1").allow_dns_resolution_from_remote is expected


# --- Connection ----------------------------------------------------------------------------------


@pytest.mark.parametrize("status", list(ConnectionStatus))
def test_connection_reads_every_status_code(status: ConnectionStatus) -> None:
    got = Connection.from_api(_peering(Status={"Code": status.value, "Message": "m"}), "us-east-1")
    assert got.status is status
    assert got.status_message == "m"


def test_connection_refuses_an_unknown_status_code() -> None:
    with pytest.raises(ValueError, match="not-a-status"):
        Connection.from_api(_peering(Status={"Code": "not-a-status"}), "us-east-1")


def test_connection_reads_both_sides_and_the_expiry() -> None:
    expiry = datetime(2030, 1, 8, tzinfo=UTC)
    got = Connection.from_api(_peering(ExpirationTime=expiry), "us-east-1")
    assert got.connection_id == "pcx-0123456789abcdef0"
    assert got.status_message == "Pending Acceptance by 111111111111"
    assert got.requester == Side("222222222222", "eu-west-1", "vpc-0a", ("10.1.0.0/16",))
    assert got.accepter == Side("111111111111", "us-east-1", "vpc-0b")
    assert got.expiration_time == expiry


def test_connection_ignores_an_expiry_that_is_not_a_datetime() -> None:
    # An event payload carries text; only what boto3 parsed is trusted.
    got = Connection.from_api(_peering(ExpirationTime="2030-01-08T00:00:00Z"), "us-east-1")
    assert got.expiration_time is None
    assert Connection.from_api(_peering(), "us-east-1").expiration_time is None


def test_connection_reads_tags_and_they_do_not_change_identity() -> None:
    tagged = Connection.from_api(_peering(Tags=[{"Key": "Name", "Value": "a-to-b"}, {"Key": "flag"}]), "us-east-1")
    assert tagged.tags == {"Name": "a-to-b", "flag": ""}
    untagged = Connection.from_api(_peering(), "us-east-1")
    assert untagged.tags == {}
    assert tagged == untagged
    assert hash(tagged) == hash(untagged)


def test_connection_reads_a_full_boto3_shape_with_block_sets() -> None:
    item = _peering(
        RequesterVpcInfo=_info(
            CidrBlock="10.1.0.0/16",
            CidrBlockSet=[{"CidrBlock": "10.1.0.0/16"}, {"CidrBlock": "10.2.0.0/16"}],
            Ipv6CidrBlockSet=[{"Ipv6CidrBlock": "2600:1f18::/56"}],
            PeeringOptions={"AllowDnsResolutionFromRemoteVpc": True},
        ),
        AccepterVpcInfo={
            "OwnerId": "111111111111",
            "VpcId": "vpc-0b",
            "Region": "us-east-1",
            "CidrBlock": "10.0.0.0/16",
            "CidrBlockSet": [{"CidrBlock": "10.0.0.0/16"}],
        },
    )
    got = Connection.from_api(item, "us-east-1")
    assert got.requester.cidr_blocks == ("10.1.0.0/16", "10.2.0.0/16")
    assert got.requester.ipv6_cidr_blocks == ("2600:1f18::/56",)
    assert got.requester.allow_dns_resolution_from_remote is True
    assert got.accepter.cidr_blocks == ("10.0.0.0/16",)
    assert got.accepter.allow_dns_resolution_from_remote is False


def test_connection_properties() -> None:
    same = connection(
        requester=side(account="1" * 12, region="us-east-1"),
        accepter=side(account="1" * 12, vpc_id="vpc-b", region="us-east-1"),
    )
    assert not same.is_inter_region
    assert not same.is_cross_account
    other = connection(
        requester=side(account="1" * 12, region="us-east-1"),
        accepter=side(account="2" * 12, vpc_id="vpc-b", region="eu-west-1"),
    )
    assert other.is_inter_region
    assert other.is_cross_account


def test_connection_joins_either_direction_and_touches_either_side() -> None:
    conn = connection(requester=side(vpc_id="vpc-a"), accepter=side(vpc_id="vpc-b"))
    assert conn.joins("vpc-a", "vpc-b")
    assert conn.joins("vpc-b", "vpc-a")
    assert not conn.joins("vpc-a", "vpc-c")
    assert not conn.joins("vpc-a", "vpc-a")
    assert conn.touches("vpc-a")
    assert conn.touches("vpc-b")
    assert not conn.touches("vpc-c")


# --- statuses ------------------------------------------------------------------------------------


def test_every_status_is_exactly_one_of_live_or_dead() -> None:
    assert set(ConnectionStatus) == LIVE_STATUSES | DEAD_STATUSES
    assert not LIVE_STATUSES & DEAD_STATUSES
    for status in ConnectionStatus:
        assert status.is_live != status.is_dead


@pytest.mark.parametrize("status", ["initiating-request", "pending-acceptance", "provisioning", "active"])
def test_live_statuses(status: str) -> None:
    assert ConnectionStatus(status).is_live


@pytest.mark.parametrize("status", ["rejected", "deleting", "deleted", "failed", "expired"])
def test_dead_statuses(status: str) -> None:
    assert ConnectionStatus(status).is_dead


# --- Vpc -----------------------------------------------------------------------------------------


def _vpc_item(**extra: Any) -> dict[str, Any]:
    item: dict[str, Any] = {"VpcId": "vpc-0a", "OwnerId": "222222222222", "CidrBlock": "10.1.0.0/16"}
    item.update(extra)
    return item


def _assoc(block: str, state: str | None = "associated") -> dict[str, Any]:
    out: dict[str, Any] = {"CidrBlock": block, "AssociationId": f"vpc-cidr-assoc-{block[:4]}"}
    if state is not None:
        out["CidrBlockState"] = {"State": state}
    return out


def _assoc6(block: str | None, state: str = "associated") -> dict[str, Any]:
    out: dict[str, Any] = {"Ipv6CidrBlockState": {"State": state}, "AssociationId": "a"}
    if block is not None:
        out["Ipv6CidrBlock"] = block
    return out


def test_vpc_reads_associated_secondary_blocks() -> None:
    got = Vpc.from_api(
        _vpc_item(CidrBlockAssociationSet=[_assoc("10.1.0.0/16"), _assoc("100.64.0.0/16")]), "999999999999", "eu-west-1"
    )
    assert got == Vpc("222222222222", "eu-west-1", "vpc-0a", ("10.1.0.0/16", "100.64.0.0/16"))


@pytest.mark.parametrize("state", ["disassociated", "disassociating", "failed", "failing"])
def test_vpc_ignores_blocks_that_are_not_associated(state: str) -> None:
    got = Vpc.from_api(
        _vpc_item(CidrBlockAssociationSet=[_assoc("10.1.0.0/16"), _assoc("10.9.0.0/16", state)]), "2" * 12, "us-east-1"
    )
    assert got.cidr_blocks == ("10.1.0.0/16",)


def test_vpc_treats_a_block_without_state_as_associated() -> None:
    got = Vpc.from_api(_vpc_item(CidrBlockAssociationSet=[_assoc("10.1.0.0/16", None)]), "2" * 12, "us-east-1")
    assert got.cidr_blocks == ("10.1.0.0/16",)


def test_vpc_falls_back_to_the_primary_block() -> None:
    assert Vpc.from_api(_vpc_item(), "2" * 12, "us-east-1").cidr_blocks == ("10.1.0.0/16",)
    assert Vpc.from_api(_vpc_item(CidrBlockAssociationSet=[]), "2" * 12, "us-east-1").cidr_blocks == ("10.1.0.0/16",)
    bare = {"VpcId": "vpc-0a"}
    assert Vpc.from_api(bare, "2" * 12, "us-east-1").cidr_blocks == ()


def test_vpc_reads_only_associated_ipv6_blocks_with_an_address() -> None:
    got = Vpc.from_api(
        _vpc_item(
            Ipv6CidrBlockAssociationSet=[
                _assoc6("2600:1f18::/56"),
                _assoc6("2600:1f19::/56", "disassociated"),
                _assoc6(None),  # an IPAM block still being allocated
                _assoc6("2600:1f18::/56"),
            ]
        ),
        "2" * 12,
        "us-east-1",
    )
    assert got.ipv6_cidr_blocks == ("2600:1f18::/56",)


def test_vpc_owner_and_tags() -> None:
    got = Vpc.from_api(
        _vpc_item(Tags=[{"Key": "peering-autopilot:accept", "Value": "true"}, {"Key": "bare"}]),
        "999999999999",
        "us-east-1",
    )
    assert got.account == "222222222222"  # the owner reported by EC2 wins over the account asked
    assert got.tags == {"peering-autopilot:accept": "true", "bare": ""}
    no_owner = {"VpcId": "vpc-0a", "CidrBlock": "10.1.0.0/16"}
    assert Vpc.from_api(no_owner, "999999999999", "us-east-1").account == "999999999999"


# --- identity and observation --------------------------------------------------------------------


def test_requester_identity_in_organization() -> None:
    assert RequesterIdentity("2" * 12, "us-east-1", "o-abc").in_organization
    assert not RequesterIdentity("2" * 12, "us-east-1").in_organization


def test_observation_prefers_the_requester_vpc_blocks_it_read() -> None:
    conn = connection(requester=side(cidrs=("10.1.0.0/16",), ipv6=("2600:1f18::/56",)))
    read = vpc("vpc-requester", cidrs=("10.1.0.0/16", "10.2.0.0/16"), ipv6=("2600:1f19::/56",))
    got = observation(conn, requester_vpc=read)
    assert got.requester_cidr_blocks == ("10.1.0.0/16", "10.2.0.0/16")
    assert got.requester_ipv6_cidr_blocks == ("2600:1f19::/56",)


def test_observation_falls_back_to_the_connection_blocks_outside_the_organization() -> None:
    conn = connection(requester=side(cidrs=("10.1.0.0/16",), ipv6=("2600:1f18::/56",)))
    base = observation(conn)
    outside = type(base)(connection=conn, accepter_vpc=base.accepter_vpc, requester_vpc=None, requester=base.requester)
    assert outside.requester_cidr_blocks == ("10.1.0.0/16",)
    assert outside.requester_ipv6_cidr_blocks == ("2600:1f18::/56",)


def test_blocks_still_associating_count_as_in_use() -> None:
    vpc = Vpc.from_api(
        {
            "VpcId": "vpc-1",
            "CidrBlock": "10.0.0.0/16",
            "CidrBlockAssociationSet": [
                {"CidrBlock": "10.0.0.0/16", "CidrBlockState": {"State": "associated"}},
                {"CidrBlock": "10.5.0.0/16", "CidrBlockState": {"State": "associating"}},
                {"CidrBlock": "10.6.0.0/16", "CidrBlockState": {"State": "disassociated"}},
            ],
        },
        "111111111111",
        "us-east-1",
    )
    assert vpc.cidr_blocks == ("10.0.0.0/16", "10.5.0.0/16")


def test_the_requester_vpc_as_rules_see_it_every_block_reported_and_tags_only_when_read() -> None:
    conn = connection(requester=side(cidrs=("10.1.0.0/16",), ipv6=("2600:1f18::/56",)))
    read = vpc("vpc-requester", "222222222222", cidrs=("10.1.0.0/16", "10.9.0.0/16"), tags={"team": "platform"})

    inside = observation(conn, requester_vpc=read).requester_match
    outside = AcceptObservation(conn, vpc(), None, RequesterIdentity("444444444444", "us-east-1")).requester_match

    # A block still associating is in the VPC, not yet in the connection: both views count.
    assert (inside.cidr_blocks, inside.ipv6_cidr_blocks) == (("10.1.0.0/16", "10.9.0.0/16"), ("2600:1f18::/56",))
    assert inside.tags == {"team": "platform"}
    assert (outside.cidr_blocks, outside.ipv6_cidr_blocks) == (("10.1.0.0/16",), ("2600:1f18::/56",))
    assert outside.tags is None  # not read in its account: unknown, never "no tags"
