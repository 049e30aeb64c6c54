"""Gap ``create_overlap_fails`` (emulation/fidelity/create_overlap_fails.py): overlapping requests fail."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError
from moto.ec2.models import ec2_backends

from emulation import lifecycle
from emulation.fidelity.patching import NOT_FOUND_CODE
from tests.integration.fidelity.calls import describe, error_code, ipv6_blocks, new_request, one, vpc_with
from tests.integration.fidelity.world import EAST, HUB, MEMBER, World, ec2, gap_fixed


def test_raw_moto_still_has_gap_create_overlap_fails(raw: World) -> None:
    a, b = vpc_with(HUB, "10.50.0.0/16"), vpc_with(HUB, "10.50.0.0/16")
    pcx = ec2(HUB).create_vpc_peering_connection(VpcId=a, PeerVpcId=b)["VpcPeeringConnection"]
    code = one(HUB, pcx["VpcPeeringConnectionId"])["Status"]["Code"]
    assert code == "pending-acceptance", gap_fixed("create_overlap_fails", f"an overlapping request is {code}")


@pytest.mark.parametrize(
    ("requester", "accepter"),
    [
        pytest.param(("10.50.0.0/16",), ("10.50.0.0/16",), id="same block"),
        pytest.param(("10.50.0.0/16",), ("10.50.128.0/17",), id="contained block"),
        pytest.param(("10.50.0.0/24",), ("10.50.0.0/16",), id="containing block"),
        pytest.param(("10.50.0.0/16", "10.60.0.0/16"), ("10.60.8.0/24",), id="requester secondary block"),
        pytest.param(("10.50.0.0/16",), ("10.70.0.0/16", "10.50.64.0/18"), id="accepter secondary block"),
    ],
)
def test_create_overlap_fails_for_overlapping_ipv4_blocks(
    patched: World, requester: tuple[str, ...], accepter: tuple[str, ...]
) -> None:
    a, b = vpc_with(HUB, *requester), vpc_with(HUB, *accepter)
    pcx = ec2(HUB).create_vpc_peering_connection(VpcId=a, PeerVpcId=b)["VpcPeeringConnection"]
    assert pcx["Status"]["Code"] == "initiating-request"  # the request is made, then it fails
    status = one(HUB, pcx["VpcPeeringConnectionId"])["Status"]
    assert status == {"Code": "failed", "Message": lifecycle.FAILED_MESSAGE}


def test_create_overlap_fails_for_overlappingipv6_blocks(patched: World) -> None:
    a = vpc_with(HUB, "10.50.0.0/16", ipv6=True)
    b = vpc_with(HUB, "10.51.0.0/16", ipv6=True)
    (block,) = ipv6_blocks(HUB, a)
    # Amazon hands out distinct /56 blocks: give b the same block behind moto's back.
    for association in ec2_backends[HUB][EAST].get_vpc(b)._cidr_block_association_set.values():
        if ":" in association["cidr_block"]:
            association["cidr_block"] = block
    pcx = ec2(HUB).create_vpc_peering_connection(VpcId=a, PeerVpcId=b)["VpcPeeringConnection"]
    assert one(HUB, pcx["VpcPeeringConnectionId"])["Status"]["Code"] == "failed"


@pytest.mark.parametrize(
    ("requester", "accepter"),
    [
        pytest.param(("10.50.0.0/16",), ("10.51.0.0/16",), id="adjacent blocks"),
        pytest.param(("10.50.0.0/16", "10.52.0.0/16"), ("10.51.0.0/16", "10.53.0.0/16"), id="interleaved blocks"),
    ],
)
def test_create_overlap_fails_not_for_disjoint_blocks(
    patched: World, requester: tuple[str, ...], accepter: tuple[str, ...]
) -> None:
    a, b = vpc_with(HUB, *requester), vpc_with(HUB, *accepter)
    pcx = ec2(HUB).create_vpc_peering_connection(VpcId=a, PeerVpcId=b)["VpcPeeringConnection"]
    assert one(HUB, pcx["VpcPeeringConnectionId"])["Status"]["Code"] == "pending-acceptance"


def test_create_overlap_fails_only_at_creation(patched: World) -> None:
    """AWS does not re-check blocks associated later: the engine's own checks catch those."""
    ec2(MEMBER).associate_vpc_cidr_block(VpcId=patched.member_east, CidrBlock="10.0.128.0/17")
    assert one(HUB, patched.cross_account)["Status"]["Code"] == "pending-acceptance"


def test_create_overlap_fails_is_seen_by_the_requester_only(patched: World) -> None:
    a = vpc_with(MEMBER, "10.50.0.0/16")
    b = vpc_with(HUB, "10.50.0.0/16")
    pcx = new_request(MEMBER, a, b, HUB)["VpcPeeringConnectionId"]
    assert one(MEMBER, pcx)["Status"]["Code"] == "failed"
    for call in (
        lambda: describe(HUB, VpcPeeringConnectionIds=[pcx]),
        lambda: ec2(HUB).accept_vpc_peering_connection(VpcPeeringConnectionId=pcx),
    ):
        with pytest.raises(ClientError) as exc:
            call()
        assert error_code(exc) == NOT_FOUND_CODE


@pytest.mark.parametrize("operation", ["accept", "reject"])
def test_create_overlap_fails_cannot_be_answered(patched: World, operation: str) -> None:
    a, b = vpc_with(HUB, "10.50.0.0/16"), vpc_with(HUB, "10.50.0.0/16")
    pcx = ec2(HUB).create_vpc_peering_connection(VpcId=a, PeerVpcId=b)["VpcPeeringConnection"]
    call = getattr(ec2(HUB), f"{operation}_vpc_peering_connection")
    with pytest.raises(ClientError) as exc:
        call(VpcPeeringConnectionId=pcx["VpcPeeringConnectionId"])
    assert error_code(exc) == "InvalidStateTransition"


def test_create_overlap_fails_keeps_its_expiration_time(patched: World) -> None:
    a, b = vpc_with(HUB, "10.50.0.0/16"), vpc_with(HUB, "10.50.0.0/16")
    pcx = ec2(HUB).create_vpc_peering_connection(VpcId=a, PeerVpcId=b)["VpcPeeringConnection"]
    assert "ExpirationTime" in one(HUB, pcx["VpcPeeringConnectionId"])
