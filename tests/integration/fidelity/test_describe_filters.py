"""Gap ``describe_filters`` (emulation/fidelity/describe_filters.py): DescribeVpcPeeringConnections applies Filters."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.integration.fidelity.calls import describe, error_code
from tests.integration.fidelity.world import EAST, HUB, MEMBER, WEST, World, ec2, gap_fixed


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
