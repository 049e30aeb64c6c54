"""The moto fidelity patches (emulation.moto_fidelity): for every gap, two kinds of test.

* ``test_raw_moto_still_has_gap_<name>``: moto as released still deviates from AWS. When a moto
  upgrade fixes the gap this test fails and says so: drop the patch, its docs section and the test.
* ``test_<name>_...``: with the patch, the API responses are what the AWS documentation says.

The world: hub 111111111111 and member 222222222222, us-east-1 and eu-west-1, three connections
(same-account active, cross-account pending, cross-account inter-Region pending). Accounts are
reached as moto maps them: STS AssumeRole into arn:aws:iam::<account>:role/x.
"""

from __future__ import annotations

import inspect
import sys
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.ec2.exceptions import InvalidVPCPeeringConnectionIdError
from moto.ec2.models import ec2_backends
from moto.ec2.models.route_tables import Route
from moto.ec2.models.route_tables import RouteTable as MotoRouteTable
from moto.ec2.models.vpc_peering_connections import VPCPeeringConnection, VPCPeeringConnectionBackend
from moto.ec2.responses.vpc_peering_connections import VPCPeeringConnections
from moto.server import ThreadedMotoServer

from emulation import moto_fidelity
from emulation.moto_fidelity import MALFORMED_CODE, NOT_FOUND_CODE
from peering.models import Connection
from peering.network import RouteTable

HUB, MEMBER = "111111111111", "222222222222"
EAST, WEST = "us-east-1", "eu-west-1"
UNKNOWN_ID = "pcx-0123456789abcdef0"
ROOT = Path(__file__).resolve().parents[2]


def gap_fixed(name: str, seen: Any = "") -> str:
    return (
        f"moto now behaves as AWS documents for gap {name!r} ({moto_fidelity.gap(name).doc}); {seen} "
        f"-> drop the patch _install_{name} from emulation/moto_fidelity.py, its section in "
        "docs/moto-gaps.md and its tests here"
    )


@pytest.fixture(autouse=True)
def _credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SECURITY_TOKEN", "AWS_SESSION_TOKEN"):
        monkeypatch.setenv(key, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", EAST)
    monkeypatch.setenv("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")  # no AMIs needed: much faster backends
    for key in ("AWS_PROFILE", "MOTO_ACCOUNT_ID", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(key, raising=False)


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


@pytest.fixture
def raw() -> Iterator[World]:
    """moto as released (whatever another test or conftest enabled is restored afterwards)."""
    with fresh_moto(), moto_fidelity.raw_moto():
        yield build_world()


@pytest.fixture
def patched() -> Iterator[World]:
    with fresh_moto(), moto_fidelity.enabled():
        yield build_world()


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


def tags_of(item: dict[str, Any]) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in item.get("Tags", [])}


# =============================================================================================
# describe_filters
# =============================================================================================


def test_raw_moto_still_has_gap_describe_filters(raw: World) -> None:
    found = describe(HUB, Filters=[{"Name": "status-code", "Values": ["active"]}])
    statuses = {item["Status"]["Code"] for item in found}
    assert statuses != {"active"}, gap_fixed("describe_filters", f"status-code=active returned {statuses}")


def flt(name: str, *values: str) -> dict[str, Any]:
    return {"Name": name, "Values": list(values)}


#: (account, region, filters, expected connections by World field name); "{field}" is a World value
FILTER_CASES = [
    pytest.param(
        HUB, EAST, [flt("requester-vpc-info.vpc-id", "{hub_vpc}")], {"same_account", "inter_region"}, id="requester vpc"
    ),
    pytest.param(HUB, EAST, [flt("accepter-vpc-info.vpc-id", "{hub_vpc}")], {"cross_account"}, id="accepter vpc"),
    pytest.param(HUB, EAST, [flt("requester-vpc-info.owner-id", MEMBER)], {"cross_account"}, id="requester owner"),
    pytest.param(HUB, EAST, [flt("accepter-vpc-info.owner-id", MEMBER)], {"inter_region"}, id="accepter owner member"),
    pytest.param(
        HUB, EAST, [flt("accepter-vpc-info.owner-id", HUB)], {"same_account", "cross_account"}, id="accepter owner hub"
    ),
    pytest.param(HUB, EAST, [flt("status-code", "active")], {"same_account"}, id="status active"),
    pytest.param(
        HUB, EAST, [flt("status-code", "pending-acceptance")], {"cross_account", "inter_region"}, id="status pending"
    ),
    pytest.param(
        HUB,
        EAST,
        [flt("status-code", "active", "pending-acceptance")],
        {"same_account", "cross_account", "inter_region"},
        id="values are ORed",
    ),
    pytest.param(HUB, EAST, [flt("status-code", "Active")], set(), id="values are case-sensitive"),
    pytest.param(
        HUB,
        EAST,
        [flt("requester-vpc-info.vpc-id", "{hub_vpc}"), flt("status-code", "pending-acceptance")],
        {"inter_region"},
        id="filters are ANDed",
    ),
    pytest.param(
        HUB, EAST, [flt("vpc-peering-connection-id", "{cross_account}")], {"cross_account"}, id="connection id"
    ),
    pytest.param(
        HUB, EAST, [flt("status-message", f"Pending Acceptance by {MEMBER}")], {"inter_region"}, id="status message"
    ),
    pytest.param(
        HUB,
        EAST,
        [flt("requester-vpc-info.cidr-block", "10.10.0.0/16")],
        {"same_account", "inter_region"},
        id="secondary requester cidr",
    ),
    pytest.param(
        HUB, EAST, [flt("accepter-vpc-info.cidr-block", "10.30.0.0/16")], {"inter_region"}, id="accepter cidr"
    ),
    pytest.param(HUB, EAST, [flt("tag:team", "network")], {"same_account"}, id="tag key=value"),
    pytest.param(HUB, EAST, [flt("tag-key", "team")], {"same_account"}, id="tag key"),
    pytest.param(HUB, EAST, [flt("tag:team", "net*")], {"same_account"}, id="wildcard *"),
    pytest.param(HUB, EAST, [flt("requester-vpc-info.owner-id", "?2222222222?")], {"cross_account"}, id="wildcard ?"),
    pytest.param(HUB, EAST, [flt("status-code", "pending")], set(), id="wildcard is anchored"),
    pytest.param(
        MEMBER, WEST, [flt("accepter-vpc-info.owner-id", MEMBER)], {"inter_region"}, id="member west accepter owner"
    ),
    pytest.param(
        MEMBER, WEST, [flt("requester-vpc-info.owner-id", HUB)], {"inter_region"}, id="member west requester owner"
    ),
    pytest.param(MEMBER, WEST, [flt("status-code", "active")], set(), id="member west nothing active"),
    pytest.param(
        MEMBER,
        EAST,
        [flt("requester-vpc-info.vpc-id", "{member_east}")],
        {"cross_account"},
        id="member east requester vpc",
    ),
    pytest.param(
        MEMBER, EAST, [flt("requester-vpc-info.vpc-id", "{hub_vpc}")], set(), id="member east sees only its own"
    ),
]


@pytest.mark.parametrize(("account", "region", "filters", "expected"), FILTER_CASES)
def test_describe_filters_select_what_aws_documents(
    patched: World, account: str, region: str, filters: list[dict[str, Any]], expected: set[str]
) -> None:
    values = vars(patched)
    resolved = [{"Name": f["Name"], "Values": [v.format(**values) for v in f["Values"]]} for f in filters]
    found = {patched.name(item["VpcPeeringConnectionId"]) for item in describe(account, region, Filters=resolved)}
    assert found == expected


def test_describe_filters_with_the_paginator_as_the_engine_pages(patched: World) -> None:
    """observe.connections_touching pages twice, once per side of the VPC: both pages are exact."""
    paginator = ec2(HUB).get_paginator("describe_vpc_peering_connections")
    seen: dict[str, set[str]] = {}
    for side in ("requester-vpc-info.vpc-id", "accepter-vpc-info.vpc-id"):
        seen[side] = {
            patched.name(item["VpcPeeringConnectionId"])
            for page in paginator.paginate(Filters=[{"Name": side, "Values": [patched.hub_vpc]}])
            for item in page["VpcPeeringConnections"]
        }
    assert seen == {
        "requester-vpc-info.vpc-id": {"same_account", "inter_region"},
        "accepter-vpc-info.vpc-id": {"cross_account"},
    }


def test_describe_filters_and_ids_together(patched: World) -> None:
    ids = [patched.same_account, patched.cross_account]
    found = describe(HUB, VpcPeeringConnectionIds=ids, Filters=[{"Name": "status-code", "Values": ["active"]}])
    assert [item["VpcPeeringConnectionId"] for item in found] == [patched.same_account]


@pytest.mark.parametrize("name", ["vpc-id", "requester-vpc-info.vpcId", "Status-Code", "tag:", "owner-id"])
def test_describe_filters_unknown_name_is_invalid(patched: World, name: str) -> None:
    with pytest.raises(ClientError) as exc:
        describe(HUB, Filters=[{"Name": name, "Values": ["x"]}])
    assert error_code(exc) == "InvalidParameterValue"
    assert name in exc.value.response["Error"]["Message"]


def test_describe_filters_expiration_time_is_a_known_filter(patched: World) -> None:
    describe(HUB, Filters=[{"Name": "expiration-time", "Values": ["*"]}])  # no InvalidParameterValue


# =============================================================================================
# describe_unknown_ids
# =============================================================================================


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
    ("account", "region", "field"),
    [
        pytest.param(MEMBER, EAST, "same_account", id="another account's own connection"),
        pytest.param(MEMBER, WEST, "cross_account", id="right account, wrong Region"),
        pytest.param(HUB, WEST, "inter_region", id="requester account in the accepter Region"),
    ],
)
def test_describe_unknown_ids_only_the_two_sides_know_a_connection(
    patched: World, account: str, region: str, field: str
) -> None:
    with pytest.raises(ClientError) as exc:
        describe(account, region, VpcPeeringConnectionIds=[getattr(patched, field)])
    assert error_code(exc) == NOT_FOUND_CODE


@pytest.mark.parametrize(
    ("account", "region", "field"),
    [
        pytest.param(HUB, EAST, "cross_account", id="cross-account accepter"),
        pytest.param(MEMBER, EAST, "cross_account", id="cross-account requester"),
        pytest.param(HUB, EAST, "inter_region", id="inter-Region requester"),
        pytest.param(MEMBER, WEST, "inter_region", id="inter-Region accepter"),
    ],
)
def test_describe_unknown_ids_known_ids_are_found_on_both_sides(
    patched: World, account: str, region: str, field: str
) -> None:
    assert one(account, getattr(patched, field), region)["VpcPeeringConnectionId"] == getattr(patched, field)


# =============================================================================================
# vpc_info_cidr_sets
# =============================================================================================


def test_raw_moto_still_has_gap_vpc_info_cidr_sets(raw: World) -> None:
    info = one(HUB, raw.same_account)["RequesterVpcInfo"]
    assert "CidrBlockSet" not in info, gap_fixed("vpc_info_cidr_sets", info)
    assert "Ipv6CidrBlockSet" not in info, gap_fixed("vpc_info_cidr_sets", info)


def _ipv6_blocks(account: str, vpc_id: str, region: str = EAST) -> list[str]:
    vpc = ec2(account, region).describe_vpcs(VpcIds=[vpc_id])["Vpcs"][0]
    return [a["Ipv6CidrBlock"] for a in vpc.get("Ipv6CidrBlockAssociationSet", [])]


def test_vpc_info_cidr_sets_list_every_block_of_both_sides(patched: World) -> None:
    item = one(HUB, patched.same_account)
    requester, accepter = item["RequesterVpcInfo"], item["AccepterVpcInfo"]
    assert requester["CidrBlock"] == "10.0.0.0/16"
    assert requester["CidrBlockSet"] == [{"CidrBlock": "10.0.0.0/16"}, {"CidrBlock": "10.10.0.0/16"}]
    ipv6 = _ipv6_blocks(HUB, patched.hub_vpc)
    assert len(ipv6) == 1
    assert requester["Ipv6CidrBlockSet"] == [{"Ipv6CidrBlock": ipv6[0]}]
    assert accepter["CidrBlockSet"] == [{"CidrBlock": "10.1.0.0/16"}]
    assert accepter.get("Ipv6CidrBlockSet", []) == []


def test_vpc_info_cidr_sets_in_the_create_response(patched: World) -> None:
    requester = patched.created["RequesterVpcInfo"]
    assert [b["CidrBlock"] for b in requester["CidrBlockSet"]] == ["10.0.0.0/16", "10.10.0.0/16"]
    assert len(requester["Ipv6CidrBlockSet"]) == 1


def test_vpc_info_cidr_sets_inter_region_seen_from_the_accepter(patched: World) -> None:
    item = one(MEMBER, patched.inter_region, WEST)
    requester, accepter = item["RequesterVpcInfo"], item["AccepterVpcInfo"]
    assert (requester["OwnerId"], requester["Region"]) == (HUB, EAST)
    assert [b["CidrBlock"] for b in requester["CidrBlockSet"]] == ["10.0.0.0/16", "10.10.0.0/16"]
    assert (accepter["OwnerId"], accepter["Region"]) == (MEMBER, WEST)
    assert accepter["CidrBlockSet"] == [{"CidrBlock": "10.30.0.0/16"}]


def test_vpc_info_cidr_sets_follow_blocks_associated_and_removed_later(patched: World) -> None:
    hub = ec2(HUB)
    hub.associate_vpc_cidr_block(VpcId=patched.hub_vpc, CidrBlock="10.11.0.0/16")
    vpc = hub.describe_vpcs(VpcIds=[patched.hub_vpc])["Vpcs"][0]
    (secondary,) = [a for a in vpc["CidrBlockAssociationSet"] if a["CidrBlock"] == "10.10.0.0/16"]
    hub.disassociate_vpc_cidr_block(AssociationId=secondary["AssociationId"])
    blocks = [b["CidrBlock"] for b in one(HUB, patched.cross_account)["AccepterVpcInfo"]["CidrBlockSet"]]
    assert blocks == ["10.0.0.0/16", "10.11.0.0/16"]


def test_vpc_info_cidr_sets_reach_the_engine_model(patched: World) -> None:
    connection = Connection.from_api(one(HUB, patched.same_account), EAST)
    assert connection.requester.cidr_blocks == ("10.0.0.0/16", "10.10.0.0/16")
    assert connection.requester.ipv6_cidr_blocks == tuple(_ipv6_blocks(HUB, patched.hub_vpc))
    assert connection.accepter.cidr_blocks == ("10.1.0.0/16",)


# =============================================================================================
# not_found_error_code
# =============================================================================================

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


# =============================================================================================
# peering_tags_per_account
# =============================================================================================


def test_raw_moto_still_has_gap_peering_tags_per_account(raw: World) -> None:
    ec2(HUB).create_tags(Resources=[raw.cross_account], Tags=[{"Key": "decision", "Value": "held"}])
    seen_by_accepter = tags_of(one(HUB, raw.cross_account))
    assert seen_by_accepter == {"Name": "platform-to-shared"}, gap_fixed(
        "peering_tags_per_account", f"the accepter sees {seen_by_accepter}"
    )


def test_peering_tags_per_account_each_side_sees_only_its_own(patched: World) -> None:
    hub, member = ec2(HUB), ec2(MEMBER)
    assert tags_of(one(MEMBER, patched.cross_account)) == {"Name": "platform-to-shared"}
    assert tags_of(one(HUB, patched.cross_account)) == {}
    hub.create_tags(Resources=[patched.cross_account], Tags=[{"Key": "decision", "Value": "held"}])
    assert tags_of(one(HUB, patched.cross_account)) == {"decision": "held"}
    assert tags_of(one(MEMBER, patched.cross_account)) == {"Name": "platform-to-shared"}
    # DescribeVpcPeeringConnections agrees with DescribeTags in each account
    for client, account in ((hub, HUB), (member, MEMBER)):
        by_tags = client.describe_tags(Filters=[{"Name": "resource-id", "Values": [patched.cross_account]}])["Tags"]
        assert {t["Key"]: t["Value"] for t in by_tags} == tags_of(one(account, patched.cross_account))


def test_peering_tags_per_account_inter_region(patched: World) -> None:
    ec2(HUB).create_tags(Resources=[patched.inter_region], Tags=[{"Key": "side", "Value": "requester"}])
    ec2(MEMBER, WEST).create_tags(Resources=[patched.inter_region], Tags=[{"Key": "side", "Value": "accepter"}])
    assert tags_of(one(HUB, patched.inter_region)) == {"side": "requester"}
    assert tags_of(one(MEMBER, patched.inter_region, WEST)) == {"side": "accepter"}


def test_peering_tags_per_account_tag_filters_use_the_callers_tags(patched: World) -> None:
    name = [{"Name": "tag:Name", "Values": ["platform-to-shared"]}]
    assert describe(HUB, Filters=name) == []
    assert [i["VpcPeeringConnectionId"] for i in describe(MEMBER, Filters=name)] == [patched.cross_account]


def test_peering_tags_per_account_in_the_accept_response(patched: World) -> None:
    west = ec2(MEMBER, WEST)
    west.create_tags(Resources=[patched.inter_region], Tags=[{"Key": "approved-by", "Value": "alice"}])
    accepted = west.accept_vpc_peering_connection(VpcPeeringConnectionId=patched.inter_region)
    assert tags_of(accepted["VpcPeeringConnection"]) == {"approved-by": "alice"}


def test_peering_tags_per_account_same_account_sees_its_tags(patched: World) -> None:
    assert tags_of(one(HUB, patched.same_account)) == {"team": "network"}


# =============================================================================================
# expiration_time
# =============================================================================================


def backend_connection(account: str, connection_id: str, region: str = EAST) -> Any:
    """moto's own connection object, as the given side's backend holds it."""
    return ec2_backends[account][region].vpc_pcxs[connection_id]


def new_request(account: str, vpc: str, peer_vpc: str, peer_account: str, peer_region: str = EAST) -> dict[str, Any]:
    """CreateVpcPeeringConnection as ``account`` in us-east-1 (the response's VpcPeeringConnection)."""
    created: dict[str, Any] = ec2(account).create_vpc_peering_connection(
        VpcId=vpc, PeerVpcId=peer_vpc, PeerOwnerId=peer_account, PeerRegion=peer_region
    )["VpcPeeringConnection"]
    return created


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


# =============================================================================================
# create_overlap_fails
# =============================================================================================


def vpc_with(account: str, *blocks: str, region: str = EAST, ipv6: bool = False) -> str:
    client = ec2(account, region)
    vpc_id: str = client.create_vpc(CidrBlock=blocks[0], AmazonProvidedIpv6CidrBlock=ipv6)["Vpc"]["VpcId"]
    for block in blocks[1:]:
        client.associate_vpc_cidr_block(VpcId=vpc_id, CidrBlock=block)
    return vpc_id


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
    assert status == {"Code": "failed", "Message": moto_fidelity.FAILED_MESSAGE}


def test_create_overlap_fails_for_overlapping_ipv6_blocks(patched: World) -> None:
    a = vpc_with(HUB, "10.50.0.0/16", ipv6=True)
    b = vpc_with(HUB, "10.51.0.0/16", ipv6=True)
    (block,) = _ipv6_blocks(HUB, a)
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


# =============================================================================================
# blackhole_routes
# =============================================================================================


def main_table(account: str, vpc_id: str, region: str = EAST) -> str:
    tables = ec2(account, region).describe_route_tables(
        Filters=[{"Name": "vpc-id", "Values": [vpc_id]}, {"Name": "association.main", "Values": ["true"]}]
    )["RouteTables"]
    return str(tables[0]["RouteTableId"])


def route_via(account: str, vpc_id: str, destination: str, connection_id: str, region: str = EAST) -> str:
    """A route in the VPC's main table to ``destination`` through the connection; the table id."""
    table = main_table(account, vpc_id, region)
    ec2(account, region).create_route(
        RouteTableId=table, DestinationCidrBlock=destination, VpcPeeringConnectionId=connection_id
    )
    return table


def route_states(account: str, connection_id: str, region: str = EAST) -> dict[str, str]:
    """{destination: State} of the routes through the connection, as ``account`` reads them."""
    tables = ec2(account, region).describe_route_tables(
        Filters=[{"Name": "route.vpc-peering-connection-id", "Values": [connection_id]}]
    )["RouteTables"]
    return {
        r["DestinationCidrBlock"]: r["State"]
        for t in tables
        for r in t["Routes"]
        if r.get("VpcPeeringConnectionId") == connection_id
    }


def test_raw_moto_still_has_gap_blackhole_routes(raw: World) -> None:
    route_via(HUB, raw.hub_vpc, "10.1.0.0/16", raw.same_account)
    ec2(HUB).delete_vpc_peering_connection(VpcPeeringConnectionId=raw.same_account)
    states = route_states(HUB, raw.same_account)
    assert states == {"10.1.0.0/16": "active"}, gap_fixed("blackhole_routes", f"a route to a deleted one is {states}")


def test_blackhole_routes_to_an_active_connection_are_active(patched: World) -> None:
    route_via(HUB, patched.hub_vpc, "10.1.0.0/16", patched.same_account)
    assert route_states(HUB, patched.same_account) == {"10.1.0.0/16": "active"}


def test_blackhole_routes_after_deletion_on_both_sides(patched: World) -> None:
    ec2(HUB).accept_vpc_peering_connection(VpcPeeringConnectionId=patched.cross_account)
    route_via(MEMBER, patched.member_east, "10.0.0.0/16", patched.cross_account)
    route_via(HUB, patched.hub_vpc, "10.20.0.0/16", patched.cross_account)
    assert route_states(MEMBER, patched.cross_account) == {"10.0.0.0/16": "active"}

    ec2(MEMBER).delete_vpc_peering_connection(VpcPeeringConnectionId=patched.cross_account)

    assert route_states(MEMBER, patched.cross_account) == {"10.0.0.0/16": "blackhole"}
    assert route_states(HUB, patched.cross_account) == {"10.20.0.0/16": "blackhole"}


def test_blackhole_routes_to_a_pending_request(patched: World) -> None:
    route_via(HUB, patched.hub_vpc, "10.30.0.0/16", patched.inter_region)
    assert route_states(HUB, patched.inter_region) == {"10.30.0.0/16": "blackhole"}


def test_blackhole_routes_after_rejection(patched: World) -> None:
    route_via(MEMBER, patched.member_east, "10.0.0.0/16", patched.cross_account)
    ec2(HUB).reject_vpc_peering_connection(VpcPeeringConnectionId=patched.cross_account)
    assert route_states(MEMBER, patched.cross_account) == {"10.0.0.0/16": "blackhole"}


@pytest.mark.parametrize("code", ["provisioning", "deleting", "deleted", "rejected", "expired", "failed"])
def test_blackhole_routes_in_every_status_but_active(patched: World, code: str) -> None:
    route_via(HUB, patched.hub_vpc, "10.1.0.0/16", patched.same_account)
    moto_fidelity.set_status(patched.same_account, code)
    assert route_states(HUB, patched.same_account) == {"10.1.0.0/16": "blackhole"}
    moto_fidelity.set_status(patched.same_account, "active")
    assert route_states(HUB, patched.same_account) == {"10.1.0.0/16": "active"}


def test_blackhole_routes_to_a_connection_the_api_no_longer_shows(patched: World) -> None:
    route_via(HUB, patched.hub_vpc, "10.1.0.0/16", patched.same_account)
    ec2(HUB).delete_vpc_peering_connection(VpcPeeringConnectionId=patched.same_account)
    moto_fidelity.forget_connection(patched.same_account)
    assert route_states(HUB, patched.same_account) == {"10.1.0.0/16": "blackhole"}  # still found by its target


def test_blackhole_routes_route_state_filter(patched: World) -> None:
    dead = route_via(HUB, patched.hub_vpc, "10.30.0.0/16", patched.inter_region)  # pending: blackhole
    live = route_via(HUB, patched.hub_other, "10.0.0.0/16", patched.same_account)

    def tables(state: str) -> set[str]:
        found = ec2(HUB).describe_route_tables(Filters=[{"Name": "route.state", "Values": [state]}])["RouteTables"]
        return {t["RouteTableId"] for t in found}

    assert tables("blackhole") == {dead}
    assert {dead, live} <= tables("active")  # every table has its active local route


def test_blackhole_routes_leave_other_routes_alone(patched: World) -> None:
    route_via(HUB, patched.hub_vpc, "10.30.0.0/16", patched.inter_region)
    table = ec2(HUB).describe_route_tables(RouteTableIds=[main_table(HUB, patched.hub_vpc)])["RouteTables"][0]
    assert {r.get("GatewayId"): r["State"] for r in table["Routes"] if r.get("GatewayId")} == {"local": "active"}


def test_blackhole_routes_reach_the_engine_model(patched: World) -> None:
    table_id = route_via(HUB, patched.hub_vpc, "10.30.0.0/16", patched.inter_region)
    item = ec2(HUB).describe_route_tables(RouteTableIds=[table_id])["RouteTables"][0]
    route = RouteTable.from_api(item).route_for("10.30.0.0/16")
    assert route is not None
    assert route.is_blackhole
    assert route.target_id == patched.inter_region


# =============================================================================================
# modify_options_checks
# =============================================================================================

DNS_ON = {"AllowDnsResolutionFromRemoteVpc": True}


def modify(account: str, region: str, connection_id: str, *sides: str) -> None:
    params: dict[str, Any] = {"VpcPeeringConnectionId": connection_id}
    for side in sides:
        params[f"{side.capitalize()}PeeringConnectionOptions"] = DNS_ON
    ec2(account, region).modify_vpc_peering_connection_options(**params)


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
    moto_fidelity.set_status(patched.same_account, code)
    with pytest.raises(ClientError) as exc:
        modify(HUB, EAST, patched.same_account, "requester", "accepter")
    assert error_code(exc) == "OperationNotPermitted"


def test_modify_options_checks_same_account_and_region_sets_both_sides_at_once(patched: World) -> None:
    modify(HUB, EAST, patched.same_account, "requester", "accepter")
    assert dns_of(HUB, patched.same_account) == (True, True)


#: (caller account, caller Region, sides set, None if allowed or the message AWS answers with)
CROSS_ACCOUNT_CASES = [
    pytest.param(MEMBER, EAST, ("requester",), None, id="requester owner sets requester side"),
    pytest.param(HUB, EAST, ("accepter",), None, id="accepter owner sets accepter side"),
    pytest.param(
        MEMBER,
        EAST,
        ("accepter",),
        f"User {MEMBER} does not have permission to modify the accepter side peering options",
        id="requester owner sets accepter side",
    ),
    pytest.param(
        HUB,
        EAST,
        ("requester",),
        f"User {HUB} does not have permission to modify the requester side peering options",
        id="accepter owner sets requester side",
    ),
    pytest.param(
        MEMBER,
        EAST,
        ("requester", "accepter"),
        f"User {MEMBER} does not have permission to modify the accepter side peering options",
        id="one owner sets both sides",
    ),
]


@pytest.mark.parametrize(("account", "region", "sides", "refused"), CROSS_ACCOUNT_CASES)
def test_modify_options_checks_cross_account_each_owner_its_own_side(
    patched: World, account: str, region: str, sides: tuple[str, ...], refused: str | None
) -> None:
    ec2(HUB).accept_vpc_peering_connection(VpcPeeringConnectionId=patched.cross_account)
    if refused is None:
        modify(account, region, patched.cross_account, *sides)
        assert dns_of(account, patched.cross_account, region) == ("requester" in sides, "accepter" in sides)
        return
    with pytest.raises(ClientError) as exc:
        modify(account, region, patched.cross_account, *sides)
    assert (error_code(exc), exc.value.response["Error"]["Message"]) == ("OperationNotPermitted", refused)
    assert dns_of(account, patched.cross_account, region) == (False, False)


INTER_REGION_CASES = [
    pytest.param(HUB, EAST, ("requester",), None, id="requester side in the requester Region"),
    pytest.param(MEMBER, WEST, ("accepter",), None, id="accepter side in the accepter Region"),
    pytest.param(
        HUB,
        EAST,
        ("accepter",),
        f"User {HUB} does not have permission to modify the accepter side peering options",
        id="requester owner sets accepter side",
    ),
]


@pytest.mark.parametrize(("account", "region", "sides", "refused"), INTER_REGION_CASES)
def test_modify_options_checks_inter_region_cross_account(
    patched: World, account: str, region: str, sides: tuple[str, ...], refused: str | None
) -> None:
    ec2(MEMBER, WEST).accept_vpc_peering_connection(VpcPeeringConnectionId=patched.inter_region)
    if refused is None:
        modify(account, region, patched.inter_region, *sides)
        return
    with pytest.raises(ClientError) as exc:
        modify(account, region, patched.inter_region, *sides)
    assert (error_code(exc), exc.value.response["Error"]["Message"]) == ("OperationNotPermitted", refused)


SAME_ACCOUNT_INTER_REGION_CASES = [
    pytest.param(EAST, ("requester",), None, id="requester side in the requester Region"),
    pytest.param(WEST, ("accepter",), None, id="accepter side in the accepter Region"),
    pytest.param(
        EAST,
        ("accepter",),
        "Accepter's VPC Peering connection options cannot be modified for a different region",
        id="accepter side in the requester Region",
    ),
    pytest.param(
        WEST,
        ("requester",),
        "Requester's VPC Peering connection options cannot be modified for a different region",
        id="requester side in the accepter Region",
    ),
    pytest.param(
        EAST,
        ("requester", "accepter"),
        "Accepter's VPC Peering connection options cannot be modified for a different region",
        id="both sides in one Region",
    ),
]


@pytest.mark.parametrize(("region", "sides", "refused"), SAME_ACCOUNT_INTER_REGION_CASES)
def test_modify_options_checks_inter_region_same_account_each_side_in_its_region(
    patched: World, region: str, sides: tuple[str, ...], refused: str | None
) -> None:
    west_vpc = vpc_with(HUB, "10.40.0.0/16", region=WEST)
    pcx = new_request(HUB, patched.hub_vpc, west_vpc, HUB, WEST)["VpcPeeringConnectionId"]
    ec2(HUB, WEST).accept_vpc_peering_connection(VpcPeeringConnectionId=pcx)
    if refused is None:
        modify(HUB, region, pcx, *sides)
        return
    with pytest.raises(ClientError) as exc:
        modify(HUB, region, pcx, *sides)
    assert (error_code(exc), exc.value.response["Error"]["Message"]) == ("OperationNotPermitted", refused)


def test_modify_options_checks_still_answer_not_found_first(patched: World) -> None:
    with pytest.raises(ClientError) as exc:
        modify(MEMBER, WEST, patched.cross_account, "requester")  # the member's connection, wrong Region
    assert error_code(exc) == NOT_FOUND_CODE


# =============================================================================================
# Lifecycle helpers (set_status, age, forget_connection) and the provisioning state
# =============================================================================================


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
    moto_fidelity.set_status(patched.cross_account, code)
    expected = {"Code": code, "Message": message}
    assert one(HUB, patched.cross_account)["Status"] == one(MEMBER, patched.cross_account)["Status"] == expected
    found = describe(MEMBER, Filters=[{"Name": "status-code", "Values": [code]}])
    assert [i["VpcPeeringConnectionId"] for i in found] == [patched.cross_account]


def test_set_status_with_a_message(patched: World) -> None:
    moto_fidelity.set_status(patched.inter_region, "failed", "Failed due to an internal error")
    assert one(MEMBER, patched.inter_region, WEST)["Status"]["Message"] == "Failed due to an internal error"


def test_set_status_provisioning_then_active(patched: World) -> None:
    ec2(MEMBER, WEST).accept_vpc_peering_connection(VpcPeeringConnectionId=patched.inter_region)
    moto_fidelity.set_status(patched.inter_region, "provisioning")  # AWS: accepted, not active yet
    assert one(HUB, patched.inter_region)["Status"] == {"Code": "provisioning", "Message": "Provisioning"}
    assert "ExpirationTime" not in one(HUB, patched.inter_region)
    moto_fidelity.set_status(patched.inter_region, "active")
    assert one(MEMBER, patched.inter_region, WEST)["Status"]["Code"] == "active"


def test_set_status_refuses_a_status_aws_does_not_have(patched: World) -> None:
    with pytest.raises(ValueError, match="pending"):
        moto_fidelity.set_status(patched.cross_account, "pending")


def test_age_moves_the_expiration_time_into_the_past(patched: World) -> None:
    before = one(HUB, patched.cross_account)["ExpirationTime"]
    moto_fidelity.age(patched.cross_account, hours=73)
    item = one(MEMBER, patched.cross_account)
    assert item["ExpirationTime"] == before - timedelta(hours=73)
    assert item["Status"]["Code"] == "pending-acceptance"


def test_age_past_seven_days_expires_an_unanswered_request(patched: World) -> None:
    moto_fidelity.age(patched.inter_region, hours=7 * 24)
    for account, region in ((HUB, EAST), (MEMBER, WEST)):
        assert one(account, patched.inter_region, region)["Status"] == {"Code": "expired", "Message": "Expired"}
    with pytest.raises(ClientError) as exc:
        ec2(MEMBER, WEST).accept_vpc_peering_connection(VpcPeeringConnectionId=patched.inter_region)
    assert error_code(exc) == "InvalidStateTransition"


def test_age_does_not_expire_an_accepted_connection(patched: World) -> None:
    moto_fidelity.age(patched.same_account, hours=30 * 24)
    assert one(HUB, patched.same_account)["Status"]["Code"] == "active"


@pytest.mark.parametrize("hours", [-1, float("nan"), float("inf")])
def test_age_refuses_hours_that_are_not_a_duration(patched: World, hours: float) -> None:
    with pytest.raises(ValueError, match="hours"):
        moto_fidelity.age(patched.cross_account, hours=hours)


def test_forget_connection_removes_it_from_every_side(patched: World) -> None:
    moto_fidelity.set_status(patched.inter_region, "deleted")
    moto_fidelity.forget_connection(patched.inter_region)
    for account, region in ((HUB, EAST), (MEMBER, WEST)):
        with pytest.raises(ClientError) as exc:
            describe(account, region, VpcPeeringConnectionIds=[patched.inter_region])
        assert error_code(exc) == NOT_FOUND_CODE
        assert patched.inter_region not in {i["VpcPeeringConnectionId"] for i in describe(account, region)}


HELPERS = {
    "set_status": lambda pcx: moto_fidelity.set_status(pcx, "expired"),
    "age": lambda pcx: moto_fidelity.age(pcx, 1),
    "forget_connection": moto_fidelity.forget_connection,
}


@pytest.mark.parametrize("helper", list(HELPERS))
def test_helpers_refuse_an_unknown_connection(patched: World, helper: str) -> None:
    with pytest.raises(moto_fidelity.ConnectionNotInMotoError, match=UNKNOWN_ID):
        HELPERS[helper](UNKNOWN_ID)


def test_helpers_refuse_a_forgotten_connection(patched: World) -> None:
    moto_fidelity.forget_connection(patched.cross_account)
    with pytest.raises(moto_fidelity.ConnectionNotInMotoError):
        moto_fidelity.forget_connection(patched.cross_account)


def test_helpers_work_without_the_patches(raw: World) -> None:
    moto_fidelity.set_status(raw.inter_region, "provisioning")
    assert one(MEMBER, raw.inter_region, WEST)["Status"]["Code"] == "provisioning"
    moto_fidelity.age(raw.cross_account, 24)  # no recorded creation: taken as created now
    assert one(HUB, raw.cross_account)["Status"]["Code"] == "pending-acceptance"
    moto_fidelity.age(raw.cross_account, 7 * 24)
    assert one(HUB, raw.cross_account)["Status"]["Code"] == "expired"
    moto_fidelity.forget_connection(raw.cross_account)
    assert raw.cross_account not in {i["VpcPeeringConnectionId"] for i in describe(HUB) + describe(MEMBER)}


# =============================================================================================
# The switch and the registry
# =============================================================================================


def _originals() -> dict[str, Any]:
    return {
        "describe": vars(VPCPeeringConnections)["describe_vpc_peering_connections"],
        "accept": vars(VPCPeeringConnections)["accept_vpc_peering_connection"],
        "requester_vpc_info": vars(VPCPeeringConnection)["requester_vpc_info"],
        "accepter_vpc_info": vars(VPCPeeringConnection)["accepter_vpc_info"],
        "error_init": vars(InvalidVPCPeeringConnectionIdError)["__init__"],
        "create": vars(VPCPeeringConnectionBackend)["create_vpc_peering_connection"],
        "modify": vars(VPCPeeringConnectionBackend)["modify_vpc_peering_connection_options"],
        "expiration_time": vars(VPCPeeringConnection).get("expiration_time"),
        "route_state": vars(Route)["state"],
        "route_filters": vars(MotoRouteTable)["get_filter_value"],
    }


def test_enable_is_idempotent_and_disable_restores_moto_exactly() -> None:
    with moto_fidelity.raw_moto():
        pristine = _originals()
        moto_fidelity.enable()
        first = _originals()
        assert all(first[k] is not pristine[k] for k in pristine)
        assert moto_fidelity.enable() is None
        assert _originals() == first, "a second enable() must not wrap twice"
        assert moto_fidelity.enabled_gaps() == tuple(g.name for g in moto_fidelity.GAPS)
        moto_fidelity.disable()
        moto_fidelity.disable()
        assert _originals() == pristine
        assert moto_fidelity.enabled_gaps() == ()


def test_context_managers_restore_the_previous_state() -> None:
    with moto_fidelity.raw_moto():
        with moto_fidelity.enabled(["describe_filters"]):
            assert moto_fidelity.enabled_gaps() == ("describe_filters",)
            with moto_fidelity.raw_moto():
                assert moto_fidelity.enabled_gaps() == ()
            assert moto_fidelity.enabled_gaps() == ("describe_filters",)
            moto_fidelity.enable(["vpc_info_cidr_sets"])  # adds, in registry order
            assert moto_fidelity.enabled_gaps() == ("vpc_info_cidr_sets", "describe_filters")
        assert moto_fidelity.enabled_gaps() == ()


def test_a_subset_patches_only_its_gaps() -> None:
    with fresh_moto(), moto_fidelity.enabled(["describe_filters"]):
        world = build_world()
        assert describe(HUB, VpcPeeringConnectionIds=[UNKNOWN_ID]) == []  # describe_unknown_ids not patched
        found = describe(HUB, Filters=[{"Name": "status-code", "Values": ["active"]}])
        assert [i["VpcPeeringConnectionId"] for i in found] == [world.same_account]


def test_unknown_gap_name_is_refused() -> None:
    with pytest.raises(KeyError, match="no-such-gap"):
        moto_fidelity.enable(["no-such-gap"])


def test_every_gap_is_documented_and_tested() -> None:
    names = [g.name for g in moto_fidelity.GAPS]
    assert len(names) == len(set(names))
    tests = [
        name for name, _ in inspect.getmembers(sys.modules[__name__], inspect.isfunction) if name.startswith("test_")
    ]
    docs = (ROOT / "docs" / "moto-gaps.md").read_text()
    for gap in moto_fidelity.GAPS:
        assert gap.doc.startswith("https://docs.aws.amazon.com/"), gap.name
        assert gap.description, gap.name
        assert gap.tests.endswith(f"*{gap.name}*"), gap.name
        assert f"test_raw_moto_still_has_gap_{gap.name}" in tests, f"{gap.name}: no test proving raw moto deviates"
        assert any(t.startswith(f"test_{gap.name}_") for t in tests), f"{gap.name}: no test of the patched behaviour"
        assert f"`{gap.name}`" in docs, f"{gap.name}: no section in docs/moto-gaps.md"


def test_patches_apply_to_an_in_process_moto_server() -> None:
    """The same patches serve HTTP clients of a moto server started in this process."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    try:
        with moto_fidelity.enabled():
            client = boto3.client("ec2", region_name=EAST, endpoint_url=url)
            a = client.create_vpc(CidrBlock="10.40.0.0/16")["Vpc"]["VpcId"]
            b = client.create_vpc(CidrBlock="10.41.0.0/16")["Vpc"]["VpcId"]
            pcx = client.create_vpc_peering_connection(VpcId=a, PeerVpcId=b)["VpcPeeringConnection"]
            found = client.describe_vpc_peering_connections(
                Filters=[{"Name": "requester-vpc-info.vpc-id", "Values": [a]}]
            )["VpcPeeringConnections"]
            assert [i["VpcPeeringConnectionId"] for i in found] == [pcx["VpcPeeringConnectionId"]]
            assert found[0]["RequesterVpcInfo"]["CidrBlockSet"] == [{"CidrBlock": "10.40.0.0/16"}]
            with pytest.raises(ClientError) as exc:
                client.describe_vpc_peering_connections(VpcPeeringConnectionIds=[UNKNOWN_ID])
            assert error_code(exc) == NOT_FOUND_CODE
    finally:
        urllib.request.urlopen(urllib.request.Request(f"{url}/moto-api/reset", method="POST"), timeout=10).close()  # noqa: S310
        server.stop()
