"""The EC2 calls the tests of several gaps make in the world (world.py), as one account in one Region."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.integration.fidelity.world import EAST, ec2


def describe(account: str, region: str = EAST, **kwargs: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = ec2(account, region).describe_vpc_peering_connections(**kwargs)[
        "VpcPeeringConnections"
    ]
    return found


def one(account: str, connection_id: str, region: str = EAST) -> dict[str, Any]:
    (item,) = describe(account, region, VpcPeeringConnectionIds=[connection_id])
    return item


def error_code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return str(exc.value.response["Error"]["Code"])


def vpc_with(account: str, *blocks: str, region: str = EAST, ipv6: bool = False) -> str:
    """A VPC with these IPv4 blocks (the first primary), and an Amazon IPv6 block if ``ipv6``."""
    client = ec2(account, region)
    vpc_id: str = client.create_vpc(CidrBlock=blocks[0], AmazonProvidedIpv6CidrBlock=ipv6)["Vpc"]["VpcId"]
    for block in blocks[1:]:
        client.associate_vpc_cidr_block(VpcId=vpc_id, CidrBlock=block)
    client.modify_vpc_attribute(VpcId=vpc_id, EnableDnsHostnames={"Value": True})  # DNS-ready, like the world's
    return vpc_id


def ipv6_blocks(account: str, vpc_id: str, region: str = EAST) -> list[str]:
    vpc = ec2(account, region).describe_vpcs(VpcIds=[vpc_id])["Vpcs"][0]
    return [a["Ipv6CidrBlock"] for a in vpc.get("Ipv6CidrBlockAssociationSet", [])]


def new_request(account: str, vpc: str, peer_vpc: str, peer_account: str, peer_region: str = EAST) -> dict[str, Any]:
    """CreateVpcPeeringConnection as ``account`` in us-east-1 (the response's VpcPeeringConnection)."""
    created: dict[str, Any] = ec2(account).create_vpc_peering_connection(
        VpcId=vpc, PeerVpcId=peer_vpc, PeerOwnerId=peer_account, PeerRegion=peer_region
    )["VpcPeeringConnection"]
    return created
