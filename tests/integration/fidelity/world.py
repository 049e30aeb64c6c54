"""The world every fidelity test runs in: two accounts, two Regions, three connections.

The world: hub 111111111111 and member 222222222222, us-east-1 and eu-west-1, three connections
(same-account active, cross-account pending, cross-account inter-Region pending). Accounts are
reached as moto maps them: STS AssumeRole into arn:aws:iam::<account>:role/x. The fixtures
``raw`` (moto as released) and ``patched`` (every gap enabled) build it (conftest.py); calls.py
holds the calls the tests of several gaps make in it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import boto3
from moto import mock_aws

from emulation import fidelity

HUB, MEMBER = "111111111111", "222222222222"
EAST, WEST = "us-east-1", "eu-west-1"
UNKNOWN_ID = "pcx-0123456789abcdef0"


def gap_fixed(name: str, seen: Any = "") -> str:
    """The failure message of a ``test_raw_moto_still_has_gap_<name>``: what to delete."""
    gap = fidelity.gap(name)
    return (
        f"moto now behaves as AWS documents for gap {name!r} ({gap.doc}); {seen} -> delete {gap.module}, "
        f"its line in emulation/fidelity/__init__.py, {gap.tests} and its section in docs/moto-gaps.md"
    )


#: clients of the current mock (an assumed role's keys mean nothing once moto is reset)
_CLIENTS: dict[tuple[str, str], Any] = {}


def ec2(account: str, region: str = EAST) -> Any:
    """An EC2 client acting in ``account`` (moto maps an assumed role's keys to its account)."""
    if (account, region) not in _CLIENTS:
        creds = boto3.client("sts", region_name=EAST).assume_role(
            RoleArn=f"arn:aws:iam::{account}:role/x", RoleSessionName="fidelity"
        )["Credentials"]
        _CLIENTS[account, region] = boto3.client(
            "ec2",
            region_name=region,
            aws_access_key_id=creds["AccessKeyId"],
            aws_secret_access_key=creds["SecretAccessKey"],
            aws_session_token=creds["SessionToken"],
        )
    return _CLIENTS[account, region]


@contextmanager
def fresh_moto() -> Iterator[None]:
    _CLIENTS.clear()
    try:
        with mock_aws():
            yield
    finally:
        _CLIENTS.clear()


def tag_spec(**tags: str) -> list[dict[str, Any]]:
    return [{"ResourceType": "vpc-peering-connection", "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}]


@dataclass
class World:
    hub_vpc: str  # HUB/us-east-1 10.0.0.0/16 + 10.10.0.0/16 + an Amazon IPv6 block
    hub_other: str  # HUB/us-east-1 10.1.0.0/16
    member_east: str  # MEMBER/us-east-1 10.20.0.0/16
    member_west: str  # MEMBER/eu-west-1 10.30.0.0/16
    same_account: str  # hub_vpc -> hub_other, active, tagged team=network by the hub
    cross_account: str  # member_east -> hub_vpc, pending, tagged Name=platform-to-shared by the member
    inter_region: str  # hub_vpc (us-east-1) -> member_west (eu-west-1), pending
    created: dict[str, Any]  # CreateVpcPeeringConnection response of same_account

    def name(self, connection_id: str) -> str:
        for field in ("same_account", "cross_account", "inter_region"):
            if getattr(self, field) == connection_id:
                return field
        return connection_id


def build_world() -> World:
    hub, member_east, member_west = ec2(HUB), ec2(MEMBER), ec2(MEMBER, WEST)
    hub_vpc = hub.create_vpc(CidrBlock="10.0.0.0/16", AmazonProvidedIpv6CidrBlock=True)["Vpc"]["VpcId"]
    hub.associate_vpc_cidr_block(VpcId=hub_vpc, CidrBlock="10.10.0.0/16")
    hub_other = hub.create_vpc(CidrBlock="10.1.0.0/16")["Vpc"]["VpcId"]
    east_vpc = member_east.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
    west_vpc = member_west.create_vpc(CidrBlock="10.30.0.0/16")["Vpc"]["VpcId"]
    # DNS-ready, as VPCs peered with DNS resolution must be (gap dns_prerequisites tests without).
    for client, vpc in ((hub, hub_vpc), (hub, hub_other), (member_east, east_vpc), (member_west, west_vpc)):
        client.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})

    created = hub.create_vpc_peering_connection(
        VpcId=hub_vpc, PeerVpcId=hub_other, TagSpecifications=tag_spec(team="network")
    )["VpcPeeringConnection"]
    same = created["VpcPeeringConnectionId"]
    hub.accept_vpc_peering_connection(VpcPeeringConnectionId=same)
    cross = member_east.create_vpc_peering_connection(
        VpcId=east_vpc, PeerVpcId=hub_vpc, PeerOwnerId=HUB, TagSpecifications=tag_spec(Name="platform-to-shared")
    )["VpcPeeringConnection"]["VpcPeeringConnectionId"]
    inter = hub.create_vpc_peering_connection(VpcId=hub_vpc, PeerVpcId=west_vpc, PeerOwnerId=MEMBER, PeerRegion=WEST)[
        "VpcPeeringConnection"
    ]["VpcPeeringConnectionId"]
    return World(hub_vpc, hub_other, east_vpc, west_vpc, same, cross, inter, created)
