"""Gap ``modify_options_checks`` (emulation/fidelity/modify_options_checks.py): who may set which options."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from emulation import lifecycle
from emulation.fidelity.patching import NOT_FOUND_CODE
from tests.integration.fidelity.calls import error_code, new_request, one, vpc_with
from tests.integration.fidelity.world import EAST, HUB, MEMBER, WEST, World, ec2, gap_fixed

DNS_ON = {"AllowDnsResolutionFromRemoteVpc": True}


def modify(account: str, region: str, connection_id: str, *sides: str) -> None:
    params: dict[str, Any] = {"VpcPeeringConnectionId": connection_id}
    for side in sides:
        params[f"{side.capitalize()}PeeringConnectionOptions"] = DNS_ON
    ec2(account, region).modify_vpc_peering_connection_options(**params)


def attempt(account: str, region: str, connection_id: str, sides: tuple[str, ...], refused: str | None) -> None:
    """Set DNS on ``sides``: it must succeed when ``refused`` is None, else be refused with that message."""
    if refused is None:
        modify(account, region, connection_id, *sides)
        return
    with pytest.raises(ClientError) as exc:
        modify(account, region, connection_id, *sides)
    assert (error_code(exc), exc.value.response["Error"]["Message"]) == ("OperationNotPermitted", refused)


def dns_of(account: str, connection_id: str, region: str = EAST) -> tuple[bool, bool]:
    item = one(account, connection_id, region)
    return (
        item["RequesterVpcInfo"]["PeeringOptions"]["AllowDnsResolutionFromRemoteVpc"],
        item["AccepterVpcInfo"]["PeeringOptions"]["AllowDnsResolutionFromRemoteVpc"],
    )


def test_raw_moto_still_has_gap_modify_options_checks(raw: World) -> None:
    try:
        modify(HUB, EAST, raw.cross_account, "requester", "accepter")  # pending, and the member's side too
    except ClientError as exc:
        pytest.fail(gap_fixed("modify_options_checks", f"it raised {exc.response['Error']}"))


def test_modify_options_checks_refuse_a_connection_that_is_not_active(patched: World) -> None:
    with pytest.raises(ClientError) as exc:
        modify(HUB, EAST, patched.cross_account, "accepter")
    assert error_code(exc) == "OperationNotPermitted"
    assert exc.value.response["Error"]["Message"] == (
        f"Peering {patched.cross_account} is not active. Peering options can be added only to active peerings."
    )


@pytest.mark.parametrize("code", ["provisioning", "deleted", "expired", "rejected", "failed"])
def test_modify_options_checks_refuse_every_status_but_active(patched: World, code: str) -> None:
    lifecycle.set_status(patched.same_account, code)
    with pytest.raises(ClientError) as exc:
        modify(HUB, EAST, patched.same_account, "requester", "accepter")
    assert error_code(exc) == "OperationNotPermitted"


def test_modify_options_checks_same_account_and_region_sets_both_sides_at_once(patched: World) -> None:
    modify(HUB, EAST, patched.same_account, "requester", "accepter")
    assert dns_of(HUB, patched.same_account) == (True, True)


def not_yours(account: str, side: str) -> str:
    return f"User {account} does not have permission to modify the {side} side peering options"


def other_region(side: str) -> str:
    return f"{side.capitalize()}'s VPC Peering connection options cannot be modified for a different region"


#: (connection, caller (account, Region), sides set, the side refused as not the caller's, or None)
CROSS_ACCOUNT_CASES = [
    pytest.param("cross_account", (MEMBER, EAST), ("requester",), None, id="requester owner sets requester side"),
    pytest.param("cross_account", (HUB, EAST), ("accepter",), None, id="accepter owner sets accepter side"),
    pytest.param("cross_account", (MEMBER, EAST), ("accepter",), "accepter", id="requester owner sets accepter side"),
    pytest.param("cross_account", (HUB, EAST), ("requester",), "requester", id="accepter owner sets requester side"),
    pytest.param("cross_account", (MEMBER, EAST), ("requester", "accepter"), "accepter", id="one owner sets both"),
    pytest.param("inter_region", (HUB, EAST), ("requester",), None, id="inter-Region, requester side in its Region"),
    pytest.param("inter_region", (MEMBER, WEST), ("accepter",), None, id="inter-Region, accepter side in its Region"),
    pytest.param("inter_region", (HUB, EAST), ("accepter",), "accepter", id="inter-Region, requester owner, accepter"),
]
#: where each connection of the world is accepted
ACCEPTER = {"cross_account": (HUB, EAST), "inter_region": (MEMBER, WEST)}


@pytest.mark.parametrize(("field", "caller", "sides", "not_theirs"), CROSS_ACCOUNT_CASES)
def test_modify_options_checks_cross_account_each_owner_its_own_side(
    patched: World, field: str, caller: tuple[str, str], sides: tuple[str, ...], not_theirs: str | None
) -> None:
    (account, region), connection_id = caller, getattr(patched, field)
    ec2(*ACCEPTER[field]).accept_vpc_peering_connection(VpcPeeringConnectionId=connection_id)
    attempt(account, region, connection_id, sides, not_theirs and not_yours(account, not_theirs))
    expected = (False, False) if not_theirs else ("requester" in sides, "accepter" in sides)
    assert dns_of(account, connection_id, region) == expected


SAME_ACCOUNT_INTER_REGION_CASES = [
    pytest.param(EAST, ("requester",), None, id="requester side in the requester Region"),
    pytest.param(WEST, ("accepter",), None, id="accepter side in the accepter Region"),
    pytest.param(EAST, ("accepter",), other_region("accepter"), id="accepter side in the requester Region"),
    pytest.param(WEST, ("requester",), other_region("requester"), id="requester side in the accepter Region"),
    pytest.param(EAST, ("requester", "accepter"), other_region("accepter"), id="both sides in one Region"),
]


@pytest.mark.parametrize(("region", "sides", "refused"), SAME_ACCOUNT_INTER_REGION_CASES)
def test_modify_options_checks_inter_region_same_account_each_side_in_its_region(
    patched: World, region: str, sides: tuple[str, ...], refused: str | None
) -> None:
    west_vpc = vpc_with(HUB, "10.40.0.0/16", region=WEST)
    pcx = new_request(HUB, patched.hub_vpc, west_vpc, HUB, WEST)["VpcPeeringConnectionId"]
    ec2(HUB, WEST).accept_vpc_peering_connection(VpcPeeringConnectionId=pcx)
    attempt(HUB, region, pcx, sides, refused)


def test_modify_options_checks_still_answer_not_found_first(patched: World) -> None:
    with pytest.raises(ClientError) as exc:
        modify(MEMBER, WEST, patched.cross_account, "requester")  # the member's connection, wrong Region
    assert error_code(exc) == NOT_FOUND_CODE
