"""Gap ``not_found_error_code`` (emulation/fidelity/not_found_error_code.py): NotFound spelled as AWS does."""

from __future__ import annotations

import boto3
import pytest
from botocore.exceptions import ClientError

from emulation.fidelity.patching import NOT_FOUND_CODE
from tests.integration.fidelity.calls import error_code
from tests.integration.fidelity.world import EAST, HUB, UNKNOWN_ID, World, ec2, gap_fixed

OPERATIONS_ON_AN_ID = {
    "accept": lambda client: client.accept_vpc_peering_connection(VpcPeeringConnectionId=UNKNOWN_ID),
    "reject": lambda client: client.reject_vpc_peering_connection(VpcPeeringConnectionId=UNKNOWN_ID),
    "delete": lambda client: client.delete_vpc_peering_connection(VpcPeeringConnectionId=UNKNOWN_ID),
    "modify options": lambda client: client.modify_vpc_peering_connection_options(
        VpcPeeringConnectionId=UNKNOWN_ID, AccepterPeeringConnectionOptions={"AllowDnsResolutionFromRemoteVpc": True}
    ),
}


def test_raw_moto_still_has_gap_not_found_error_code(raw: World) -> None:
    with pytest.raises(ClientError) as exc:
        ec2(HUB).accept_vpc_peering_connection(VpcPeeringConnectionId=UNKNOWN_ID)
    code = error_code(exc)
    assert code != NOT_FOUND_CODE, gap_fixed("not_found_error_code", f"AcceptVpcPeeringConnection raised {code}")
    assert code == "InvalidVpcPeeringConnectionId.NotFound", f"unexpected moto behaviour: {code}"


@pytest.mark.parametrize("operation", list(OPERATIONS_ON_AN_ID))
def test_not_found_error_code_is_spelled_as_aws_documents(patched: World, operation: str) -> None:
    with pytest.raises(ClientError) as exc:
        OPERATIONS_ON_AN_ID[operation](ec2(HUB))
    assert error_code(exc) == "InvalidVpcPeeringConnectionID.NotFound"


def test_not_found_error_code_matches_the_botocore_waiter_model() -> None:
    """The waiter model shipped with botocore is AWS's own statement of the code."""
    waiters = boto3.client("ec2", region_name=EAST).get_waiter("vpc_peering_connection_exists")
    acceptors = waiters.config.acceptors
    assert any(a.matcher == "error" and a.expected == NOT_FOUND_CODE for a in acceptors)
