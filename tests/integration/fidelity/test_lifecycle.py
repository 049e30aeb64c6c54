"""emulation.lifecycle: the states and the passing of time moto cannot reach, set by its helpers.

Not a gap (Accept is left as moto has it): ``test_raw_moto_still_skips_provisioning`` shows why the
helpers are needed; the others show ``set_status``, ``age`` and ``forget_connection`` putting a
connection where AWS would, as both sides see it, with and without the gaps enabled.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from botocore.exceptions import ClientError

from emulation import lifecycle
from emulation.fidelity.patching import NOT_FOUND_CODE
from tests.integration.fidelity.calls import describe, error_code, one
from tests.integration.fidelity.world import EAST, HUB, MEMBER, UNKNOWN_ID, WEST, World, ec2


def test_raw_moto_still_skips_provisioning(raw: World) -> None:
    """Not a patched gap (Accept is left as it is): moto's Accept goes straight to active."""
    accepted = ec2(HUB).accept_vpc_peering_connection(VpcPeeringConnectionId=raw.cross_account)
    code = accepted["VpcPeeringConnection"]["Status"]["Code"]
    assert code == "active", f"moto's Accept now answers {code}: revisit docs/moto-gaps.md (provisioning)"


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("initiating-request", f"Initiating Request to {HUB}"),
        ("pending-acceptance", f"Pending Acceptance by {HUB}"),
        ("provisioning", "Provisioning"),
        ("active", "Active"),
        ("deleting", "Deleting"),
        ("deleted", f"Deleted by {MEMBER}"),
        ("rejected", "Inactive"),
        ("expired", "Expired"),
        ("failed", "Failed due to incorrect VPC-ID, Account ID, or overlapping CIDR range"),
    ],
)
def test_set_status_shows_aws_default_message_on_both_sides(patched: World, code: str, message: str) -> None:
    lifecycle.set_status(patched.cross_account, code)
    expected = {"Code": code, "Message": message}
    assert one(HUB, patched.cross_account)["Status"] == one(MEMBER, patched.cross_account)["Status"] == expected
    found = describe(MEMBER, Filters=[{"Name": "status-code", "Values": [code]}])
    assert [i["VpcPeeringConnectionId"] for i in found] == [patched.cross_account]


def test_set_status_with_a_message(patched: World) -> None:
    lifecycle.set_status(patched.inter_region, "failed", "Failed due to an internal error")
    assert one(MEMBER, patched.inter_region, WEST)["Status"]["Message"] == "Failed due to an internal error"


def test_set_status_provisioning_then_active(patched: World) -> None:
    ec2(MEMBER, WEST).accept_vpc_peering_connection(VpcPeeringConnectionId=patched.inter_region)
    lifecycle.set_status(patched.inter_region, "provisioning")  # AWS: accepted, not active yet
    assert one(HUB, patched.inter_region)["Status"] == {"Code": "provisioning", "Message": "Provisioning"}
    assert "ExpirationTime" not in one(HUB, patched.inter_region)
    lifecycle.set_status(patched.inter_region, "active")
    assert one(MEMBER, patched.inter_region, WEST)["Status"]["Code"] == "active"


def test_set_status_refuses_a_status_aws_does_not_have(patched: World) -> None:
    with pytest.raises(ValueError, match="pending"):
        lifecycle.set_status(patched.cross_account, "pending")


def test_age_moves_the_expiration_time_into_the_past(patched: World) -> None:
    before = one(HUB, patched.cross_account)["ExpirationTime"]
    lifecycle.age(patched.cross_account, hours=73)
    item = one(MEMBER, patched.cross_account)
    assert item["ExpirationTime"] == before - timedelta(hours=73)
    assert item["Status"]["Code"] == "pending-acceptance"


def test_age_past_seven_days_expires_an_unanswered_request(patched: World) -> None:
    lifecycle.age(patched.inter_region, hours=7 * 24)
    for account, region in ((HUB, EAST), (MEMBER, WEST)):
        assert one(account, patched.inter_region, region)["Status"] == {"Code": "expired", "Message": "Expired"}
    with pytest.raises(ClientError) as exc:
        ec2(MEMBER, WEST).accept_vpc_peering_connection(VpcPeeringConnectionId=patched.inter_region)
    assert error_code(exc) == "InvalidStateTransition"


def test_age_does_not_expire_an_accepted_connection(patched: World) -> None:
    lifecycle.age(patched.same_account, hours=30 * 24)
    assert one(HUB, patched.same_account)["Status"]["Code"] == "active"


@pytest.mark.parametrize("hours", [-1, float("nan"), float("inf")])
def test_age_refuses_hours_that_are_not_a_duration(patched: World, hours: float) -> None:
    with pytest.raises(ValueError, match="hours"):
        lifecycle.age(patched.cross_account, hours=hours)


def test_forget_connection_removes_it_from_every_side(patched: World) -> None:
    lifecycle.set_status(patched.inter_region, "deleted")
    lifecycle.forget_connection(patched.inter_region)
    for account, region in ((HUB, EAST), (MEMBER, WEST)):
        with pytest.raises(ClientError) as exc:
            describe(account, region, VpcPeeringConnectionIds=[patched.inter_region])
        assert error_code(exc) == NOT_FOUND_CODE
        assert patched.inter_region not in {i["VpcPeeringConnectionId"] for i in describe(account, region)}


HELPERS = {
    "set_status": lambda pcx: lifecycle.set_status(pcx, "expired"),
    "age": lambda pcx: lifecycle.age(pcx, 1),
    "forget_connection": lifecycle.forget_connection,
}


@pytest.mark.parametrize("helper", list(HELPERS))
def test_helpers_refuse_an_unknown_connection(patched: World, helper: str) -> None:
    with pytest.raises(lifecycle.ConnectionNotInMotoError, match=UNKNOWN_ID):
        HELPERS[helper](UNKNOWN_ID)


def test_helpers_refuse_a_forgotten_connection(patched: World) -> None:
    lifecycle.forget_connection(patched.cross_account)
    with pytest.raises(lifecycle.ConnectionNotInMotoError):
        lifecycle.forget_connection(patched.cross_account)


def test_helpers_work_without_the_patches(raw: World) -> None:
    lifecycle.set_status(raw.inter_region, "provisioning")
    assert one(MEMBER, raw.inter_region, WEST)["Status"]["Code"] == "provisioning"
    lifecycle.age(raw.cross_account, 24)  # no recorded creation: taken as created now
    assert one(HUB, raw.cross_account)["Status"]["Code"] == "pending-acceptance"
    lifecycle.age(raw.cross_account, 7 * 24)
    assert one(HUB, raw.cross_account)["Status"]["Code"] == "expired"
    lifecycle.forget_connection(raw.cross_account)
    assert raw.cross_account not in {i["VpcPeeringConnectionId"] for i in describe(HUB) + describe(MEMBER)}
