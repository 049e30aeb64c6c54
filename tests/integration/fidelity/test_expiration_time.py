"""Gap ``expiration_time`` (emulation/fidelity/expiration_time.py): ExpirationTime until accepted."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from moto.ec2.models import ec2_backends

from peering.core.models import Connection
from tests.integration.fidelity.calls import describe, new_request, one
from tests.integration.fidelity.world import EAST, HUB, MEMBER, WEST, World, ec2, gap_fixed


def backend_connection(account: str, connection_id: str, region: str = EAST) -> Any:
    """moto's own connection object, as the given side's backend holds it."""
    return ec2_backends[account][region].vpc_pcxs[connection_id]


def test_raw_moto_still_has_gap_expiration_time(raw: World) -> None:
    seen = {field: one(HUB, getattr(raw, field)).get("ExpirationTime") for field in ("cross_account", "inter_region")}
    seen["create response"] = raw.created.get("ExpirationTime")
    assert set(seen.values()) == {None}, gap_fixed("expiration_time", seen)


def test_expiration_time_is_seven_days_after_the_request(patched: World) -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    created = new_request(HUB, patched.hub_other, patched.member_east, MEMBER)
    after = datetime.now(UTC)
    expiry = created["ExpirationTime"]
    assert expiry.tzinfo is not None
    assert before <= expiry - timedelta(days=7) <= after
    pcx = created["VpcPeeringConnectionId"]
    assert one(HUB, pcx)["ExpirationTime"] == one(MEMBER, pcx)["ExpirationTime"] == expiry


def test_expiration_time_in_the_create_response(patched: World) -> None:
    assert patched.created["Status"]["Code"] == "initiating-request"
    assert isinstance(patched.created["ExpirationTime"], datetime)


def test_expiration_time_is_gone_once_accepted(patched: World) -> None:
    assert "ExpirationTime" not in one(HUB, patched.same_account)
    assert "ExpirationTime" in one(MEMBER, patched.inter_region, WEST)
    accepted = ec2(MEMBER, WEST).accept_vpc_peering_connection(VpcPeeringConnectionId=patched.inter_region)
    assert "ExpirationTime" not in accepted["VpcPeeringConnection"]
    assert "ExpirationTime" not in one(HUB, patched.inter_region)


def test_expiration_time_filter_matches_the_rendered_value(patched: World) -> None:
    expiry = one(HUB, patched.cross_account)["ExpirationTime"]
    exact = expiry.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    found = describe(HUB, Filters=[{"Name": "expiration-time", "Values": [exact]}])
    assert patched.cross_account in {i["VpcPeeringConnectionId"] for i in found}
    anything = describe(HUB, Filters=[{"Name": "expiration-time", "Values": ["*"]}])
    assert {patched.name(i["VpcPeeringConnectionId"]) for i in anything} == {"cross_account", "inter_region"}


def test_expiration_time_is_an_aware_attribute_of_the_moto_object(patched: World) -> None:
    value = backend_connection(HUB, patched.cross_account).expiration_time
    assert isinstance(value, datetime)
    assert value.utcoffset() == timedelta(0)
    assert value == one(HUB, patched.cross_account)["ExpirationTime"]
    assert backend_connection(HUB, patched.same_account).expiration_time is None  # accepted


def test_expiration_time_reaches_the_engine_model(patched: World) -> None:
    item = one(HUB, patched.cross_account)
    assert Connection.from_api(item, EAST).expiration_time == item["ExpirationTime"]
