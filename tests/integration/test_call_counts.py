"""The event paths cost what they must: EC2 calls per path and case, pinned at their targets.

Counts, not seconds (a regression is a call too many, whatever the machine). The scenarios and
their floors are in tests/paths.py; `scripts/bench_paths.py` prints the same figures.
"""

from __future__ import annotations

import pytest

from tests.builders import make_vpc
from tests.conftest import FakeContext, Organization, ec2, load_function, put_policy
from tests.paths import (
    PATHS,
    Path,
    accepted,
    counted,
    request,
    service_calls,
    sweep_ledger_writes,
    sweep_member_role_calls,
    sweep_route_record_writes,
)


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.label)
def test_each_event_path_makes_no_more_ec2_calls_than_its_target(organization: Organization, path: Path) -> None:
    calls = path.run(organization)

    assert service_calls(calls, "ec2") <= path.target, dict(calls)


def test_a_warm_worker_assumes_each_member_role_once(organization: Organization) -> None:
    assumed, targets = sweep_member_role_calls(organization, invocations=3)

    assert (assumed, targets) == (2, 6)  # one per member account, not one per target and run


def test_drifted_routes_are_recorded_25_to_a_write(organization: Organization) -> None:
    writes, routes = sweep_route_record_writes(organization, routes=60)

    assert (writes, routes) == (3, 60)  # ceil(60 / 25) BatchWriteItem calls, not 60 PutItem


def test_route_records_are_batched_across_the_connections_of_a_worker_run(organization: Organization) -> None:
    """50 connections missing 2 routes each: 4 BatchWriteItem of route records (100 / 25) and 2 of the
    connections' configure history (50 / 25), where each connection used to cost one BatchWriteItem
    and one PutItem (50 + 50)."""
    writes, routes = sweep_ledger_writes(organization, connections=50)

    assert routes == 100
    assert writes["BatchWriteItem"] == 4 + 2
    assert writes["PutItem"] == 0
    assert set(writes) <= {"BatchWriteItem", "BatchGetItem", "Query"}, dict(writes)


@pytest.mark.parametrize("case", ["same account+Region", "cross-account"])
def test_blackhole_routes_to_other_connections_cost_one_read_per_account_and_region(
    organization: Organization, case: str
) -> None:
    """Blackhole routes to another connection where routes are planned: its status is read once per
    account+Region holding such routes, however many, and only then (no such route: no such read)."""
    made = accepted(organization, case, tables=3)
    _dead_peering_routes(*made.requester, made.requester_vpc, "10.1.0.0/16")
    _dead_peering_routes(*made.accepter, made.accepter_vpc, "10.20.0.0/16")

    with counted() as calls:
        result = load_function("configure").lambda_handler(made.accept_event(), FakeContext())

    replaced = [a["status"] for a in result["actions"] if a["action"].startswith("replace blackhole route")]
    assert replaced == ["done"] * 6, result  # 3 tables per side
    places = len({made.requester, made.accepter})
    # The connection, the other owner's tags on it (its scope: core/scope.py), then the old ones.
    assert calls["ec2:DescribeVpcPeeringConnections"] == 1 + (places - 1) + places, dict(calls)


def _dead_peering_routes(account: str, region: str, vpc_id: str, peer_block: str) -> None:
    """A connection from ``vpc_id`` to a new VPC, deleted, whose routes for ``peer_block`` stay in
    every table of ``vpc_id`` as blackholes."""
    client = ec2(account, region)
    other = make_vpc(account, "10.99.0.0/16", region=region)
    pcx = client.create_vpc_peering_connection(VpcId=vpc_id, PeerVpcId=other)["VpcPeeringConnection"]
    pcx_id = pcx["VpcPeeringConnectionId"]
    client.accept_vpc_peering_connection(VpcPeeringConnectionId=pcx_id)
    tables = client.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["RouteTables"]
    for table in tables:
        client.create_route(
            RouteTableId=table["RouteTableId"], DestinationCidrBlock=peer_block, VpcPeeringConnectionId=pcx_id
        )
    client.delete_vpc_peering_connection(VpcPeeringConnectionId=pcx_id)


TAG_AND_RANGE_POLICY = """
schemaVersion: 1
version: matching-1
rules:
  - name: tagged-requesters
    action: accept
    requester: {organization: self, vpcTags: [{key: team, value: platform}], within: [10.0.0.0/8]}
    accepter: {within: [10.0.0.0/8]}
  - name: tagged-anywhere
    action: accept
    requester: {accounts: ["444444444444"], vpcTags: [{key: team, value: platform}]}
"""


@pytest.mark.parametrize("path", [p for p in PATHS if p.name.startswith("accept one request")], ids=lambda p: p.label)
def test_rules_on_requester_tags_and_ranges_cost_no_call_more_than_the_floor(
    organization: Organization, path: Path
) -> None:
    """The requester VPC is read anyway, in its own account, for the safety checks: its tags and
    blocks come with it. Outside the organization nothing is read, and no tag rule matches."""
    put_policy(TAG_AND_RANGE_POLICY)
    made = request(organization, path.case)
    ec2(*made.requester).create_tags(Resources=[made.requester_vpc], Tags=[{"Key": "team", "Value": "platform"}])

    with counted() as calls:
        result = load_function("accept").lambda_handler(made.event, FakeContext())

    outside = path.case == "requester outside the organization"
    assert result["outcome"] == ("held" if outside else "accepted"), result
    assert result["reasons"][0].startswith("no rule" if outside else "rule 'tagged-requesters' says accept"), result
    assert service_calls(calls, "ec2") == path.floor, dict(calls)
    assert calls["ec2:DescribeVpcs"] == len({made.requester, made.accepter}) - outside, dict(calls)
