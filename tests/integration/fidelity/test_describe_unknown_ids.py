"""Gap ``describe_unknown_ids`` (emulation/fidelity/describe_unknown_ids.py): unknown ids are NotFound."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from emulation.fidelity.describe_unknown_ids import MALFORMED_CODE
from emulation.fidelity.patching import NOT_FOUND_CODE
from tests.integration.fidelity.calls import describe, error_code, one
from tests.integration.fidelity.world import EAST, HUB, MEMBER, UNKNOWN_ID, WEST, World, gap_fixed


def test_raw_moto_still_has_gap_describe_unknown_ids(raw: World) -> None:
    try:
        found = describe(HUB, VpcPeeringConnectionIds=[UNKNOWN_ID])
    except ClientError as exc:
        pytest.fail(gap_fixed("describe_unknown_ids", f"it raised {exc.response['Error']['Code']}"))
    assert found == [], f"unexpected moto behaviour: {found}"


def test_describe_unknown_ids_raise_not_found(patched: World) -> None:
    with pytest.raises(ClientError) as exc:
        describe(HUB, VpcPeeringConnectionIds=[UNKNOWN_ID])
    assert error_code(exc) == NOT_FOUND_CODE == "InvalidVpcPeeringConnectionID.NotFound"
    assert UNKNOWN_ID in exc.value.response["Error"]["Message"]


def test_describe_unknown_ids_one_unknown_among_known_still_fails(patched: World) -> None:
    with pytest.raises(ClientError) as exc:
        describe(HUB, VpcPeeringConnectionIds=[patched.same_account, UNKNOWN_ID])
    assert error_code(exc) == NOT_FOUND_CODE
    assert patched.same_account not in exc.value.response["Error"]["Message"]


@pytest.mark.parametrize("bad", ["pcx-1", "vpc-0123456789abcdef0", "pcx-0123456789ABCDEF0", "pcx-0123456789abcdef0 "])
def test_describe_unknown_ids_malformed_id_is_malformed(patched: World, bad: str) -> None:
    with pytest.raises(ClientError) as exc:
        describe(HUB, VpcPeeringConnectionIds=[bad])
    assert error_code(exc) == MALFORMED_CODE


@pytest.mark.parametrize(
    ("account", "region", "field", "known"),
    [
        pytest.param(HUB, EAST, "cross_account", True, id="cross-account accepter"),
        pytest.param(MEMBER, EAST, "cross_account", True, id="cross-account requester"),
        pytest.param(HUB, EAST, "inter_region", True, id="inter-Region requester"),
        pytest.param(MEMBER, WEST, "inter_region", True, id="inter-Region accepter"),
        pytest.param(MEMBER, EAST, "same_account", False, id="another account's own connection"),
        pytest.param(MEMBER, WEST, "cross_account", False, id="right account, wrong Region"),
        pytest.param(HUB, WEST, "inter_region", False, id="requester account in the accepter Region"),
    ],
)
def test_describe_unknown_ids_only_the_two_sides_know_a_connection(
    patched: World, account: str, region: str, field: str, known: bool
) -> None:
    connection_id = getattr(patched, field)
    if known:
        assert one(account, connection_id, region)["VpcPeeringConnectionId"] == connection_id
        return
    with pytest.raises(ClientError) as exc:
        describe(account, region, VpcPeeringConnectionIds=[connection_id])
    assert error_code(exc) == NOT_FOUND_CODE
