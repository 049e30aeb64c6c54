"""Routing scope on moto: destinations by subnet, and routing per accept rule.

Given a policy whose document or accept rule narrows the routing, when configure or the sweep
runs, then the route tables of both owners (cross-account, inter-Region) and the ledger's route
records hold exactly the routes that routing asks for, and the plan says whose routing it was.
"""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from peering.core.errors import SweepIncompleteError
from tests.builders import ACCEPT_TAG, operator_event, request_peering
from tests.conftest import (
    HUB_ACCOUNT,
    LEDGER_TABLE,
    OTHER_REGION,
    REGION,
    FakeContext,
    Organization,
    ec2,
    load_function,
    put_policy,
)
from tests.faults import Faults
from tests.integration.test_configure import (
    accept_event,
    accepted,
    dns_options,
    dns_ready_vpc,
    main_table,
    peer_routes,
    run,
)
from tests.integration.test_sweep import run_target

operator = load_function("operator")

SHARE_KEY = "peering:share"
BY_SUBNET = f"{{destinations: subnets, destinationTag: {{key: '{SHARE_KEY}', value: 'yes'}}}}"


def policy(organization: Organization, version: str, *, platform: str = "", hub: str = "", document: str = "") -> str:
    """The tests' organization policy, with optional routing sections (YAML flow mappings)."""
    text = (
        f"schemaVersion: 1\nversion: {version}\nrules:\n"
        f"  - name: platform-shared\n    action: accept\n"
        f"    requester: {{organizationalUnits: [{organization.platform_ou}]}}\n"
        f"    accepter: {{vpcTag: {{key: 'peering-autopilot:accept', value: 'true'}}}}\n"
        + (f"    routing: {platform}\n" if platform else "")
        + f"  - name: hub-internal\n    action: accept\n"
        f"    requester: {{accounts: ['{HUB_ACCOUNT}']}}\n    accepter: {{accounts: ['{HUB_ACCOUNT}']}}\n"
        + (f"    routing: {hub}\n" if hub else "")
        + (f"routing: {document}\n" if document else "")
    )
    put_policy(text)
    return text


def subnet(account: str, vpc_id: str, cidr: str, region: str = REGION, *, shared: bool = True, ipv6: str = "") -> str:
    tags = [{"ResourceType": "subnet", "Tags": [{"Key": SHARE_KEY, "Value": "yes" if shared else "no"}]}]
    params: dict[str, Any] = {"VpcId": vpc_id, "CidrBlock": cidr, "TagSpecifications": tags}
    if ipv6:
        params["Ipv6CidrBlock"] = ipv6
    return str(ec2(account, region).create_subnet(**params)["Subnet"]["SubnetId"])


def ipv6_block(account: str, vpc_id: str, region: str = REGION) -> str:
    vpc = ec2(account, region).describe_vpcs(VpcIds=[vpc_id])["Vpcs"][0]
    return str(vpc["Ipv6CidrBlockAssociationSet"][0]["Ipv6CidrBlock"])


def routed(account: str, vpc_id: str, pcx: str, region: str = REGION) -> set[str]:
    """Destinations routed to ``pcx`` in the VPC's tables, as its owner reads them."""
    return {destination for _, destination in peer_routes(account, vpc_id, pcx, region)}


def recorded(pcx: str) -> set[tuple[str, str, str]]:
    """(account, Region, destination) of the ledger's route records of ``pcx``."""
    items = boto3.client("dynamodb", region_name=REGION).query(
        TableName=LEDGER_TABLE,
        KeyConditionExpression="pk = :pk AND begins_with(sk, :r)",
        ExpressionAttributeValues={":pk": {"S": pcx}, ":r": {"S": "ROUTE#"}},
    )["Items"]
    return {(i["account"]["S"], i["region"]["S"], i["destination"]["S"]) for i in items}


def test_document_subnet_destinations_route_both_sides_cross_account(
    organization: Organization, context: FakeContext
) -> None:
    # Given: a document routing to tagged subnets, each VPC with one shared and one private subnet
    policy(organization, "subnets-1", document=BY_SUBNET)
    member = organization.platform_account
    requester = dns_ready_vpc(member, "10.20.0.0/16")
    accepter = dns_ready_vpc(HUB_ACCOUNT, "10.1.0.0/16", tags=ACCEPT_TAG)
    subnet(member, requester, "10.20.1.0/24")
    subnet(member, requester, "10.20.2.0/24", shared=False)
    subnet(HUB_ACCOUNT, accepter, "10.1.1.0/24")
    subnet(HUB_ACCOUNT, accepter, "10.1.2.0/24", shared=False)
    pcx = accepted(organization, context, (member, requester), (HUB_ACCOUNT, accepter))

    # When
    result = run(accept_event(HUB_ACCOUNT, pcx), context)

    # Then: each side routes the other's shared subnet only, recorded in the ledger
    assert result["outcome"] == "configured", result
    assert routed(member, requester, pcx) == {"10.1.1.0/24"}
    assert routed(HUB_ACCOUNT, accepter, pcx) == {"10.20.1.0/24"}
    assert recorded(pcx) == {(member, REGION, "10.1.1.0/24"), (HUB_ACCOUNT, REGION, "10.20.1.0/24")}
    assert "routing: the policy document (policy subnets-1)" in result["plan"]
    assert dns_options(HUB_ACCOUNT, pcx) == (True, True)


def test_inter_region_sweep_follows_subnets_created_retagged_and_deleted(
    organization: Organization, context: FakeContext
) -> None:
    # Given: a rule routing to shared subnets with IPv6, across accounts and Regions, configured
    policy(organization, "subnets-2", platform="{ipv6: true, " + BY_SUBNET[1:])
    member = organization.platform_account
    requester = dns_ready_vpc(member, "10.20.0.0/16", region=REGION)
    accepter = dns_ready_vpc(HUB_ACCOUNT, "10.40.0.0/16", region=OTHER_REGION, tags=ACCEPT_TAG, ipv6=True)
    v6 = ipv6_block(HUB_ACCOUNT, accepter, OTHER_REGION).replace("/56", "/64")
    subnet(member, requester, "10.20.1.0/24")
    subnet(HUB_ACCOUNT, accepter, "10.40.1.0/24", OTHER_REGION, ipv6=v6)
    retagged = subnet(HUB_ACCOUNT, accepter, "10.40.2.0/24", OTHER_REGION)
    deleted = subnet(HUB_ACCOUNT, accepter, "10.40.3.0/24", OTHER_REGION)
    pcx = accepted(
        organization, context, (member, requester), (HUB_ACCOUNT, accepter), region=REGION, peer_region=OTHER_REGION
    )
    first = run(accept_event(HUB_ACCOUNT, pcx, OTHER_REGION), context)
    assert "routing: rule 'platform-shared' (policy subnets-2)" in first["plan"]
    assert routed(member, requester, pcx) == {"10.40.1.0/24", v6, "10.40.2.0/24", "10.40.3.0/24"}
    assert routed(HUB_ACCOUNT, accepter, pcx, OTHER_REGION) == {"10.20.1.0/24"}

    # When: the accepter shares a new subnet, stops sharing one and deletes another; both sweeps run
    hub = ec2(HUB_ACCOUNT, OTHER_REGION)
    subnet(HUB_ACCOUNT, accepter, "10.40.4.0/24", OTHER_REGION)
    hub.create_tags(Resources=[retagged], Tags=[{"Key": SHARE_KEY, "Value": "no"}])
    hub.delete_subnet(SubnetId=deleted)
    member_sweep = run_target(member, REGION)
    hub_sweep = run_target(HUB_ACCOUNT, OTHER_REGION)

    # Then: the requester routes the accepter's shared subnets as they are now, ledger included
    assert routed(member, requester, pcx) == {"10.40.1.0/24", v6, "10.40.4.0/24"}
    assert routed(HUB_ACCOUNT, accepter, pcx, OTHER_REGION) == {"10.20.1.0/24"}
    assert recorded(pcx) == {
        (member, REGION, "10.40.1.0/24"),
        (member, REGION, v6),
        (member, REGION, "10.40.4.0/24"),
        (HUB_ACCOUNT, OTHER_REGION, "10.20.1.0/24"),
    }
    assert member_sweep["done"]["configured"] == 3  # one route created, two removed
    assert hub_sweep["drift"] == 0
    # the peer's subnets: one read in the peer's account+Region, the sweep's own in its snapshot
    assert member_sweep["calls"][(HUB_ACCOUNT, OTHER_REGION, "ec2:DescribeSubnets")] == 1
    assert member_sweep["calls"][(member, REGION, "ec2:DescribeSubnets")] == 1


def test_a_rule_with_routes_none_gets_no_route_but_its_dns_option(
    organization: Organization, context: FakeContext
) -> None:
    # Given: the hub's own connections are routed by the teams themselves
    policy(organization, "self-routed-1", hub="{routes: none}")
    a = dns_ready_vpc(HUB_ACCOUNT, "10.0.0.0/16")
    b = dns_ready_vpc(HUB_ACCOUNT, "10.1.0.0/16")
    pcx = accepted(organization, context, (HUB_ACCOUNT, a), (HUB_ACCOUNT, b))

    # When
    result = run(accept_event(HUB_ACCOUNT, pcx), context)
    swept = run_target(HUB_ACCOUNT)

    # Then
    assert routed(HUB_ACCOUNT, a, pcx) == routed(HUB_ACCOUNT, b, pcx) == set()
    assert recorded(pcx) == set()
    assert dns_options(HUB_ACCOUNT, pcx) == (True, True)
    assert "routing: rule 'hub-internal' (policy self-routed-1)" in result["plan"]
    assert swept["drift"] == 0


def test_an_operator_approval_uses_the_document_routing(organization: Organization, context: FakeContext) -> None:
    # Given: a request no rule accepts (the accepter VPC did not opt in), approved by an operator
    policy(organization, "approved-1", platform="{routes: none}", hub="{routes: none}")
    member = organization.platform_account
    requester = dns_ready_vpc(member, "10.20.0.0/16")
    accepter = dns_ready_vpc(HUB_ACCOUNT, "10.1.0.0/16")
    pcx = accepted_by_operator(organization, context, (member, requester), (HUB_ACCOUNT, accepter))

    # When
    result = run(accept_event(HUB_ACCOUNT, pcx), context)

    # Then: the document's routing (every block), not a rule's
    assert "routing: the policy document (policy approved-1)" in result["plan"]
    assert routed(HUB_ACCOUNT, accepter, pcx) == {"10.20.0.0/16"}
    assert routed(member, requester, pcx) == {"10.1.0.0/16"}


def accepted_by_operator(
    organization: Organization, context: FakeContext, requester: tuple[str, str], accepter: tuple[str, str]
) -> str:
    pcx, event = request_peering(requester[0], requester[1], accepter[0], accepter[1])
    accept = load_function("accept")
    assert accept.lambda_handler(event, context)["outcome"] == "held"
    organization.notifications()
    decided = operator.lambda_handler(operator_event("Approve Peering Request", pcx), context)
    assert decided["outcome"] == "accepted", decided
    return pcx


def test_a_new_policy_version_applies_on_the_next_sweep_shown_in_a_dry_run_first(
    organization: Organization, context: FakeContext
) -> None:
    # Given: a connection routed to the peer's shared subnet under its rule's routing
    policy(organization, "v1", hub=BY_SUBNET)
    a = dns_ready_vpc(HUB_ACCOUNT, "10.0.0.0/16")
    b = dns_ready_vpc(HUB_ACCOUNT, "10.1.0.0/16")
    subnet(HUB_ACCOUNT, a, "10.0.1.0/24")
    subnet(HUB_ACCOUNT, b, "10.1.1.0/24")
    pcx = accepted(organization, context, (HUB_ACCOUNT, a), (HUB_ACCOUNT, b))
    run(accept_event(HUB_ACCOUNT, pcx), context)
    assert routed(HUB_ACCOUNT, a, pcx) == {"10.1.1.0/24"}

    # When: version 2 drops the rule's routing (the document's: every block); dry run, then for real
    policy(organization, "v2")
    preview = run_target(HUB_ACCOUNT, dry_run=True)

    # Then: the dry run plans the change under the document's routing and changes nothing
    plan = "\n".join(preview["plans"])
    assert "routing: the policy document (policy v2)" in plan
    assert f"delete route 10.1.1.0/24 -> {pcx}" in plan
    assert f"create route 10.1.0.0/16 -> {pcx}" in plan
    assert routed(HUB_ACCOUNT, a, pcx) == {"10.1.1.0/24"}

    applied = run_target(HUB_ACCOUNT)
    assert applied["drift"] == 4  # two routes created, two removed
    assert routed(HUB_ACCOUNT, a, pcx) == {"10.1.0.0/16"}
    assert routed(HUB_ACCOUNT, b, pcx) == {"10.0.0.0/16"}
    assert recorded(pcx) == {(HUB_ACCOUNT, REGION, "10.1.0.0/16"), (HUB_ACCOUNT, REGION, "10.0.0.0/16")}


def test_an_unknown_destination_tag_changes_nothing_and_is_notified(
    organization: Organization, context: FakeContext
) -> None:
    # Given: a configured connection, then a rule routing to a tag no subnet carries (a typo)
    policy(organization, "v1")
    a = dns_ready_vpc(HUB_ACCOUNT, "10.0.0.0/16")
    b = dns_ready_vpc(HUB_ACCOUNT, "10.1.0.0/16")
    subnet(HUB_ACCOUNT, b, "10.1.1.0/24")
    pcx = accepted(organization, context, (HUB_ACCOUNT, a), (HUB_ACCOUNT, b))
    run(accept_event(HUB_ACCOUNT, pcx), context)
    before = (routed(HUB_ACCOUNT, a, pcx), routed(HUB_ACCOUNT, b, pcx), recorded(pcx))
    organization.notifications()
    policy(organization, "v2", hub="{destinations: subnets, destinationTag: {key: 'peering:shair'}}")

    # When
    swept = run_target(HUB_ACCOUNT)

    # Then
    assert (routed(HUB_ACCOUNT, a, pcx), routed(HUB_ACCOUNT, b, pcx), recorded(pcx)) == before
    assert swept["drift"] == 0
    notes = organization.notifications()
    assert len(notes) == 1
    assert "destination-tag-unmatched" in notes[0]["message"]
    assert "peering:shair=*" in notes[0]["message"]


def test_an_invalid_policy_changes_no_route(organization: Organization, context: FakeContext) -> None:
    # Given: a connection routed to a shared subnet, then a policy that does not validate
    policy(organization, "v1", hub=BY_SUBNET)
    a = dns_ready_vpc(HUB_ACCOUNT, "10.0.0.0/16")
    b = dns_ready_vpc(HUB_ACCOUNT, "10.1.0.0/16")
    subnet(HUB_ACCOUNT, a, "10.0.1.0/24")
    subnet(HUB_ACCOUNT, b, "10.1.1.0/24")
    pcx = accepted(organization, context, (HUB_ACCOUNT, a), (HUB_ACCOUNT, b))
    run(accept_event(HUB_ACCOUNT, pcx), context)
    put_policy("schemaVersion: 1\nversion: broken\nrules:\n  - {name: x, action: accept, routing: {routs: none}}\n")

    # When
    swept = run_target(HUB_ACCOUNT)
    configured = run(accept_event(HUB_ACCOUNT, pcx), context)

    # Then: the narrow routes stay (the defaults would have widened them to the whole VPC)
    assert swept["drift"] == 0
    assert configured["outcome"] == "unchanged"
    assert "the policy is unavailable" in configured["plan"]
    assert routed(HUB_ACCOUNT, a, pcx) == {"10.1.1.0/24"}
    assert routed(HUB_ACCOUNT, b, pcx) == {"10.0.1.0/24"}


def test_no_drift_with_subnet_destinations_reads_subnets_once_per_account_and_region(
    organization: Organization, context: FakeContext
) -> None:
    # Given: ten converged connections routed to tagged subnets
    policy(organization, "v1", hub=BY_SUBNET)
    for n in range(10):
        a = dns_ready_vpc(HUB_ACCOUNT, f"10.{2 * n}.0.0/16")
        b = dns_ready_vpc(HUB_ACCOUNT, f"10.{2 * n + 1}.0.0/16")
        subnet(HUB_ACCOUNT, a, f"10.{2 * n}.1.0/24")
        subnet(HUB_ACCOUNT, b, f"10.{2 * n + 1}.1.0/24")
        pcx = accepted(organization, context, (HUB_ACCOUNT, a), (HUB_ACCOUNT, b))
        run(accept_event(HUB_ACCOUNT, pcx), context)

    # When
    swept = run_target(HUB_ACCOUNT)

    # Then: one DescribeSubnets more than the pinned no-drift sweep, whatever the fleet size
    assert swept["drift"] == 0
    assert {op: n for (_, _, op), n in swept["calls"].items() if op.startswith("ec2:")} == {
        "ec2:DescribeVpcPeeringConnections": 1,
        "ec2:DescribeVpcs": 1,
        "ec2:DescribeRouteTables": 1,
        "ec2:DescribeSubnets": 1,
    }


def test_peer_subnets_that_cannot_be_read_fail_only_their_connection(
    organization: Organization, context: FakeContext
) -> None:
    # Given: two connections of the member to route by subnet, one to a peer in the hub's other
    # Region, whose subnets the member's sweep cannot read, the other between its own VPCs
    policy(organization, "subnets-3", platform=BY_SUBNET)
    member = organization.platform_account
    app = dns_ready_vpc(member, "10.20.0.0/16")
    local_peer = dns_ready_vpc(member, "10.21.0.0/16", tags=ACCEPT_TAG)
    remote_peer = dns_ready_vpc(HUB_ACCOUNT, "10.40.0.0/16", region=OTHER_REGION, tags=ACCEPT_TAG)
    for account, vpc, cidr, region in (
        (member, app, "10.20.1.0/24", REGION),
        (member, local_peer, "10.21.1.0/24", REGION),
        (HUB_ACCOUNT, remote_peer, "10.40.1.0/24", OTHER_REGION),
    ):
        subnet(account, vpc, cidr, region)
    local = accepted(organization, context, (member, app), (member, local_peer))
    remote = accepted(
        organization, context, (member, app), (HUB_ACCOUNT, remote_peer), region=REGION, peer_region=OTHER_REGION
    )
    faults = Faults()
    faults.deny("ec2", "DescribeSubnets", when=lambda text: "vpc-id" in text)  # the peers', not the snapshot's

    # When
    try:
        with pytest.raises(SweepIncompleteError, match=remote):
            run_target(member, REGION)
    finally:
        faults.clear()

    # Then: the other connection is converged; the failed one is left as it was, for the retry
    assert routed(member, app, local) == {"10.21.1.0/24"}
    assert routed(member, local_peer, local) == {"10.20.1.0/24"}
    assert routed(member, app, remote) == set()
    assert recorded(remote) == set()
    assert run_target(member, REGION)["done"]["configured"] >= 1  # the retry routes it
    assert routed(member, app, remote) == {"10.40.1.0/24"}


# --- route tables by id --------------------------------------------------------------------------


def new_table(account: str, vpc_id: str, region: str = REGION) -> str:
    return str(ec2(account, region).create_route_table(VpcId=vpc_id)["RouteTable"]["RouteTableId"])


def routes_by_table(account: str, vpc_id: str, pcx: str, region: str = REGION) -> dict[str, set[str]]:
    """Every table of the VPC (its main one included) with the destinations it routes to ``pcx``."""
    tables = ec2(account, region).describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])
    return {
        t["RouteTableId"]: {
            r.get("DestinationCidrBlock", "") for r in t["Routes"] if r.get("VpcPeeringConnectionId") == pcx
        }
        for t in tables["RouteTables"]
    }


def test_a_rule_routing_by_table_id_routes_only_the_listed_tables_of_each_side(
    organization: Organization, context: FakeContext
) -> None:
    # Given: a rule listing one table of each side, a table of another VPC of the requester's
    # account (a peer cannot steer routes there by listing it) and an id that exists nowhere
    member = organization.platform_account
    requester = dns_ready_vpc(member, "10.20.0.0/16")
    accepter = dns_ready_vpc(HUB_ACCOUNT, "10.1.0.0/16", tags=ACCEPT_TAG)
    bystander = dns_ready_vpc(member, "10.90.0.0/16")
    requester_app, requester_db = new_table(member, requester), new_table(member, requester)
    accepter_app = new_table(HUB_ACCOUNT, accepter)
    bystander_table = new_table(member, bystander)
    listed = [requester_app, accepter_app, bystander_table, "rtb-0000000000000000f"]
    policy(organization, "ids-1", platform=f"{{routeTables: {{select: ids, ids: [{', '.join(listed)}]}}}}")
    pcx = accepted(organization, context, (member, requester), (HUB_ACCOUNT, accepter))
    organization.notifications()

    # When
    result = run(accept_event(HUB_ACCOUNT, pcx), context)

    # Then: EC2 holds the routes in the listed tables of each side only
    assert result["outcome"] == "configured", result
    requester_tables = routes_by_table(member, requester, pcx)
    assert requester_tables.pop(requester_app) == {"10.1.0.0/16"}
    assert requester_tables[requester_db] == set()
    assert set().union(*requester_tables.values()) == set()  # the main table and the db table
    accepter_tables = routes_by_table(HUB_ACCOUNT, accepter, pcx)
    assert accepter_tables.pop(accepter_app) == {"10.20.0.0/16"}
    assert set().union(*accepter_tables.values()) == set()
    assert routes_by_table(member, bystander, pcx) == {bystander_table: set(), main_table(member, bystander): set()}
    assert recorded(pcx) == {(member, REGION, "10.1.0.0/16"), (HUB_ACCOUNT, REGION, "10.20.0.0/16")}
    assert "routing: rule 'platform-shared' (policy ids-1)" in result["plan"]
    # and the ids that are in neither VPC are told once, not routed
    unknown = [r for r in result["reasons"] if r.startswith("route-table-id-unknown")]
    assert len(unknown) == 2
    assert any(f"lists {bystander_table}, which is not a route table of" in r for r in unknown)
    notes = organization.notifications()
    assert len(notes) == 1
    assert "rtb-0000000000000000f, which is not a route table of" in notes[0]["message"]
    assert run(accept_event(HUB_ACCOUNT, pcx), context)["outcome"] == "unchanged"
    assert organization.notifications() == []  # the same findings are not told twice


def test_a_side_none_of_whose_tables_is_listed_gets_no_route_and_is_told(
    organization: Organization, context: FakeContext
) -> None:
    # Given: the document lists only tables of the accepter, cross-account
    member = organization.platform_account
    requester = dns_ready_vpc(member, "10.20.0.0/16")
    accepter = dns_ready_vpc(HUB_ACCOUNT, "10.1.0.0/16", tags=ACCEPT_TAG)
    accepter_main = main_table(HUB_ACCOUNT, accepter)
    policy(organization, "ids-2", document=f"{{routeTables: {{select: ids, ids: [{accepter_main}]}}}}")
    pcx = accepted(organization, context, (member, requester), (HUB_ACCOUNT, accepter))
    organization.notifications()

    # When
    result = run(accept_event(HUB_ACCOUNT, pcx), context)

    # Then: the accepter's main table routes the requester; the requester side gets nothing
    assert result["outcome"] == "configured", result
    assert routes_by_table(HUB_ACCOUNT, accepter, pcx) == {accepter_main: {"10.20.0.0/16"}}
    assert set().union(*routes_by_table(member, requester, pcx).values()) == set()
    assert dns_options(HUB_ACCOUNT, pcx) == (True, True)  # DNS does not depend on the tables
    notes = organization.notifications()
    assert len(notes) == 1
    assert f"route-tables-unlisted: routeTables lists no route table of {requester}" in notes[0]["message"]
