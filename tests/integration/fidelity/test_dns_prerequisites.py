"""Gap ``dns_prerequisites`` (emulation/fidelity/dns_prerequisites.py): DNS options need DNS-ready VPCs."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from tests.integration.fidelity.calls import error_code
from tests.integration.fidelity.world import HUB, World, ec2, gap_fixed

ENABLE = {"AllowDnsResolutionFromRemoteVpc": True}


def _dns_options(world: World) -> tuple[bool, bool]:
    found = ec2(HUB).describe_vpc_peering_connections(VpcPeeringConnectionIds=[world.same_account])
    connection = found["VpcPeeringConnections"][0]
    return (
        connection["RequesterVpcInfo"].get("PeeringOptions", {}).get("AllowDnsResolutionFromRemoteVpc", False),
        connection["AccepterVpcInfo"].get("PeeringOptions", {}).get("AllowDnsResolutionFromRemoteVpc", False),
    )


def _hostnames(vpc: str, on: bool) -> None:
    ec2(HUB).modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": on})


def test_raw_moto_still_has_gap_dns_prerequisites(raw: World) -> None:
    _hostnames(raw.hub_other, False)  # a new VPC's default, as in AWS
    try:
        ec2(HUB).modify_vpc_peering_connection_options(
            VpcPeeringConnectionId=raw.same_account, RequesterPeeringConnectionOptions=ENABLE
        )
    except ClientError as exc:
        pytest.fail(gap_fixed("dns_prerequisites", f"moto refused: {error_code(exc)}"))
    assert _dns_options(raw) == (True, False), "unexpected moto behaviour"


def test_dns_prerequisites_refuse_vpcs_without_dns_hostnames(patched: World) -> None:
    _hostnames(patched.hub_other, False)
    with pytest.raises(ClientError) as exc:
        ec2(HUB).modify_vpc_peering_connection_options(
            VpcPeeringConnectionId=patched.same_account, RequesterPeeringConnectionOptions=ENABLE
        )
    assert error_code(exc) == "OperationNotPermitted"
    assert patched.hub_other in str(exc.value)
    assert _dns_options(patched) == (False, False)


def test_dns_prerequisites_allow_dns_ready_vpcs_and_disabling(patched: World) -> None:
    client = ec2(HUB)
    client.modify_vpc_peering_connection_options(
        VpcPeeringConnectionId=patched.same_account,
        RequesterPeeringConnectionOptions={"AllowDnsResolutionFromRemoteVpc": False},
    )
    client.modify_vpc_peering_connection_options(
        VpcPeeringConnectionId=patched.same_account,
        RequesterPeeringConnectionOptions=ENABLE,
        AccepterPeeringConnectionOptions=ENABLE,
    )
    assert _dns_options(patched) == (True, True)


def test_dns_prerequisites_refuse_a_vpc_without_dns_support(patched: World) -> None:
    ec2(HUB).modify_vpc_attribute(VpcId=patched.hub_other, EnableDnsSupport={"Value": False})
    with pytest.raises(ClientError) as exc:
        ec2(HUB).modify_vpc_peering_connection_options(
            VpcPeeringConnectionId=patched.same_account, AccepterPeeringConnectionOptions=ENABLE
        )
    assert error_code(exc) == "OperationNotPermitted"
