"""The configure function on moto: routes on both sides, every block, DNS, and never clobbering.

Assertions read the route tables and peering options back from EC2 in each owner's account.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from emulation import lifecycle
from peering.core.errors import NotReadyError
from peering.core.network import DnsAttributes
from tests import paths
from tests.builders import (
    ACCEPT_TAG,
    cloudtrail_event,
    connection,
    make_vpc,
    operator_event,
    request_peering,
)
from tests.conftest import (
    HUB_ACCOUNT,
    LEDGER_TABLE,
    OTHER_REGION,
    REGION,
    FakeContext,
    Organization,
    ec2,
    emitted_metrics,
    load_function,
    put_policy,
)

accept = load_function("accept")
configure = load_function("configure")


def routes(account: str, vpc_id: str, region: str = REGION) -> dict[str, dict[str, str]]:
    """{route table id: {destination: target}} for a VPC, as its owner reads it."""
    tables = ec2(account, region).describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])
    out: dict[str, dict[str, str]] = {}
    for table in tables["RouteTables"]:
        entries = {}
        for r in table["Routes"]:
            destination = r.get("DestinationCidrBlock") or r.get("DestinationIpv6CidrBlock")
            target = r.get("VpcPeeringConnectionId") or r.get("GatewayId") or r.get("NatGatewayId") or "?"
            entries[destination] = target
        out[table["RouteTableId"]] = entries
    return out


def peer_routes(account: str, vpc_id: str, pcx: str, region: str = REGION) -> set[tuple[str, str]]:
    return {
        (rtb, dest)
        for rtb, entries in routes(account, vpc_id, region).items()
        for dest, t in entries.items()
        if t == pcx
    }


def main_table(account: str, vpc_id: str, region: str = REGION) -> str:
    tables = ec2(account, region).describe_route_tables(
        Filters=[{"Name": "vpc-id", "Values": [vpc_id]}, {"Name": "association.main", "Values": ["true"]}]
    )["RouteTables"]
    return str(tables[0]["RouteTableId"])


def dns_options(account: str, pcx: str, region: str = REGION) -> tuple[bool, bool]:
    item = connection(account, pcx, region)
    return (
        item["RequesterVpcInfo"]["PeeringOptions"]["AllowDnsResolutionFromRemoteVpc"],
        item["AccepterVpcInfo"]["PeeringOptions"]["AllowDnsResolutionFromRemoteVpc"],
    )


def dns_ready_vpc(account: str, cidr: str, region: str = REGION, **kwargs: Any) -> str:
    vpc_id = make_vpc(account, cidr, region=region, **kwargs)
    ec2(account, region).modify_vpc_attribute(VpcId=vpc_id, EnableDnsHostnames={"Value": True})
    return vpc_id


def accept_event(account: str, pcx: str, region: str = REGION) -> dict[str, Any]:
    return cloudtrail_event(
        "AcceptVpcPeeringConnection",
        account=account,
        region=region,
        request_parameters={"vpcPeeringConnectionId": pcx},
        response_elements={"vpcPeeringConnection": {"vpcPeeringConnectionId": pcx, "status": {"code": "provisioning"}}},
    )


def accepted(
    organization: Organization,
    context: FakeContext,
    requester: tuple[str, str],
    accepter: tuple[str, str],
    *,
    region: str = REGION,
    peer_region: str | None = None,
) -> str:
    pcx, event = request_peering(
        requester[0], requester[1], accepter[0], accepter[1], region=region, peer_region=peer_region
    )
    assert accept.lambda_handler(event, context)["outcome"] == "accepted"
    return pcx


def run(event: dict[str, Any], context: FakeContext) -> dict[str, Any]:
    result: dict[str, Any] = configure.lambda_handler(event, context)
    return result


def test_same_account_routes_and_dns_on_both_sides(
    organization: Organization, context: FakeContext, capsys: Any
) -> None:
    a = dns_ready_vpc(HUB_ACCOUNT, "10.0.0.0/16")
    b = dns_ready_vpc(HUB_ACCOUNT, "10.1.0.0/16")
    pcx = accepted(organization, context, (HUB_ACCOUNT, a), (HUB_ACCOUNT, b))
    capsys.readouterr()

    result = run(accept_event(HUB_ACCOUNT, pcx), context)

    assert result["outcome"] == "configured", result
    assert peer_routes(HUB_ACCOUNT, a, pcx) == {(main_table(HUB_ACCOUNT, a), "10.1.0.0/16")}
    assert peer_routes(HUB_ACCOUNT, b, pcx) == {(main_table(HUB_ACCOUNT, b), "10.0.0.0/16")}
    assert dns_options(HUB_ACCOUNT, pcx) == (True, True)
    metrics = emitted_metrics(capsys.readouterr().out)
    assert metrics["RoutesInstalled"] == 2
    assert metrics["DnsOptionsSet"] == 1  # same account and Region: both sides in one call
    recorded = boto3.client("dynamodb", region_name=REGION).query(
        TableName=LEDGER_TABLE,
        KeyConditionExpression="pk = :pk AND begins_with(sk, :r)",
        ExpressionAttributeValues={":pk": {"S": pcx}, ":r": {"S": "ROUTE#"}},
    )["Items"]
    assert {(i["routeTableId"]["S"], i["destination"]["S"]) for i in recorded} == {
        (main_table(HUB_ACCOUNT, a), "10.1.0.0/16"),
        (main_table(HUB_ACCOUNT, b), "10.0.0.0/16"),
    }


def test_repeated_run_changes_nothing(organization: Organization, context: FakeContext) -> None:
    a = dns_ready_vpc(HUB_ACCOUNT, "10.0.0.0/16")
    b = dns_ready_vpc(HUB_ACCOUNT, "10.1.0.0/16")
    pcx = accepted(organization, context, (HUB_ACCOUNT, a), (HUB_ACCOUNT, b))
    run(accept_event(HUB_ACCOUNT, pcx), context)
    before = (routes(HUB_ACCOUNT, a), routes(HUB_ACCOUNT, b), dns_options(HUB_ACCOUNT, pcx))

    result = run(accept_event(HUB_ACCOUNT, pcx), context)

    assert result["outcome"] == "unchanged"
    assert result["actions"] == []
    assert (routes(HUB_ACCOUNT, a), routes(HUB_ACCOUNT, b), dns_options(HUB_ACCOUNT, pcx)) == before


def test_two_runs_at_once_converge_to_the_same_state(organization: Organization, context: FakeContext) -> None:
    a = dns_ready_vpc(HUB_ACCOUNT, "10.0.0.0/16", extra_cidrs=("10.2.0.0/16",))
    b = dns_ready_vpc(HUB_ACCOUNT, "10.1.0.0/16")
    ec2(HUB_ACCOUNT).create_route_table(VpcId=b)
    pcx = accepted(organization, context, (HUB_ACCOUNT, a), (HUB_ACCOUNT, b))

    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(lambda _: run(accept_event(HUB_ACCOUNT, pcx), context), range(2)))

    assert all(r["ok"] for r in results)
    assert len(peer_routes(HUB_ACCOUNT, b, pcx)) == 4  # two tables x two blocks
    assert len(peer_routes(HUB_ACCOUNT, a, pcx)) == 1
    assert run(accept_event(HUB_ACCOUNT, pcx), context)["outcome"] == "unchanged"


def test_cross_account_each_side_in_its_owner_account(organization: Organization, context: FakeContext) -> None:
    requester = dns_ready_vpc(organization.platform_account, "10.20.0.0/16")
    accepter = dns_ready_vpc(HUB_ACCOUNT, "10.1.0.0/16", tags=ACCEPT_TAG)
    pcx = accepted(organization, context, (organization.platform_account, requester), (HUB_ACCOUNT, accepter))

    result = run(accept_event(HUB_ACCOUNT, pcx), context)

    assert result["outcome"] == "configured", result
    assert peer_routes(organization.platform_account, requester, pcx) == {
        (main_table(organization.platform_account, requester), "10.1.0.0/16")
    }
    assert peer_routes(HUB_ACCOUNT, accepter, pcx) == {(main_table(HUB_ACCOUNT, accepter), "10.20.0.0/16")}
    dns_calls = [a for a in result["actions"] if a["action"].startswith("set AllowDns")]
    assert len(dns_calls) == 2  # one per owner
    assert any(organization.platform_account in a["action"] and "requester=True" in a["action"] for a in dns_calls)
    assert dns_options(HUB_ACCOUNT, pcx) == (True, True)


def test_inter_region_routes_in_each_region(organization: Organization, context: FakeContext) -> None:
    requester = dns_ready_vpc(organization.platform_account, "10.20.0.0/16", region=REGION)
    accepter = dns_ready_vpc(HUB_ACCOUNT, "10.40.0.0/16", region=OTHER_REGION, tags=ACCEPT_TAG)
    pcx = accepted(
        organization,
        context,
        (organization.platform_account, requester),
        (HUB_ACCOUNT, accepter),
        region=REGION,
        peer_region=OTHER_REGION,
    )

    result = run(accept_event(HUB_ACCOUNT, pcx, OTHER_REGION), context)

    assert result["outcome"] == "configured", result
    assert peer_routes(organization.platform_account, requester, pcx, REGION) == {
        (main_table(organization.platform_account, requester, REGION), "10.40.0.0/16")
    }
    assert peer_routes(HUB_ACCOUNT, accepter, pcx, OTHER_REGION) == {
        (main_table(HUB_ACCOUNT, accepter, OTHER_REGION), "10.20.0.0/16")
    }
    regions = {a["action"].rsplit("/", 1)[-1] for a in result["actions"] if a["action"].startswith("set AllowDns")}
    assert regions == {REGION, OTHER_REGION}


def test_secondary_blocks_get_routes_and_exclusions_are_honoured(
    organization: Organization, context: FakeContext
) -> None:
    put_policy(
        "schemaVersion: 1\nversion: test-routing\n"
        f"rules:\n  - {{name: hub, action: accept, requester: {{accounts: ['{HUB_ACCOUNT}']}}}}\n"
        "routing:\n  excludeCidrs: ['10.3.0.0/16']\n"
    )
    a = dns_ready_vpc(HUB_ACCOUNT, "10.0.0.0/16", extra_cidrs=("10.2.0.0/16", "10.3.0.0/16"))
    b = dns_ready_vpc(HUB_ACCOUNT, "10.1.0.0/16")
    pcx = accepted(organization, context, (HUB_ACCOUNT, a), (HUB_ACCOUNT, b))

    run(accept_event(HUB_ACCOUNT, pcx), context)

    table = main_table(HUB_ACCOUNT, b)
    assert peer_routes(HUB_ACCOUNT, b, pcx) == {(table, "10.0.0.0/16"), (table, "10.2.0.0/16")}


def test_ipv6_routes_when_the_policy_asks(organization: Organization, context: FakeContext) -> None:
    put_policy(
        "schemaVersion: 1\nversion: test-ipv6\n"
        f"rules:\n  - {{name: hub, action: accept, requester: {{accounts: ['{HUB_ACCOUNT}']}}}}\n"
        "routing:\n  ipv6: true\n"
    )
    a = dns_ready_vpc(HUB_ACCOUNT, "10.0.0.0/16", ipv6=True)
    b = dns_ready_vpc(HUB_ACCOUNT, "10.1.0.0/16", ipv6=True)
    pcx = accepted(organization, context, (HUB_ACCOUNT, a), (HUB_ACCOUNT, b))
    a_v6 = ec2(HUB_ACCOUNT).describe_vpcs(VpcIds=[a])["Vpcs"][0]["Ipv6CidrBlockAssociationSet"][0]["Ipv6CidrBlock"]

    run(accept_event(HUB_ACCOUNT, pcx), context)

    destinations = {dest for _, dest in peer_routes(HUB_ACCOUNT, b, pcx)}
    assert destinations == {"10.0.0.0/16", a_v6}


def test_tagged_route_tables_only(organization: Organization, context: FakeContext) -> None:
    put_policy(
        "schemaVersion: 1\nversion: test-tagged\n"
        f"rules:\n  - {{name: hub, action: accept, requester: {{accounts: ['{HUB_ACCOUNT}']}}}}\n"
        "routing:\n  routeTables: {select: tagged, tag: {key: peering, value: 'yes'}}\n"
    )
    a = dns_ready_vpc(HUB_ACCOUNT, "10.0.0.0/16")
    b = dns_ready_vpc(HUB_ACCOUNT, "10.1.0.0/16")
    tagged = ec2(HUB_ACCOUNT).create_route_table(
        VpcId=b, TagSpecifications=[{"ResourceType": "route-table", "Tags": [{"Key": "peering", "Value": "yes"}]}]
    )["RouteTable"]["RouteTableId"]
    ec2(HUB_ACCOUNT).create_route_table(VpcId=b)  # untagged: left alone
    pcx = accepted(organization, context, (HUB_ACCOUNT, a), (HUB_ACCOUNT, b))

    run(accept_event(HUB_ACCOUNT, pcx), context)

    assert peer_routes(HUB_ACCOUNT, b, pcx) == {(tagged, "10.0.0.0/16")}
    assert peer_routes(HUB_ACCOUNT, a, pcx) == set()  # a has no tagged table


def test_tagged_subnets_with_main_table_fallback(organization: Organization, context: FakeContext) -> None:
    put_policy(
        "schemaVersion: 1\nversion: test-subnets\n"
        f"rules:\n  - {{name: hub, action: accept, requester: {{accounts: ['{HUB_ACCOUNT}']}}}}\n"
        "routing:\n  routeTables: {select: subnets, tag: {key: tier}}\n"
    )
    client = ec2(HUB_ACCOUNT)
    a = dns_ready_vpc(HUB_ACCOUNT, "10.0.0.0/16")
    b = dns_ready_vpc(HUB_ACCOUNT, "10.1.0.0/16")

    def subnet(cidr: str, tagged: bool) -> str:
        tags = [{"ResourceType": "subnet", "Tags": [{"Key": "tier", "Value": "app"}]}] if tagged else []
        return str(client.create_subnet(VpcId=b, CidrBlock=cidr, TagSpecifications=tags)["Subnet"]["SubnetId"])

    with_own_table = subnet("10.1.1.0/24", tagged=True)
    subnet("10.1.2.0/24", tagged=True)  # no table of its own: the main table serves it
    untagged = subnet("10.1.3.0/24", tagged=False)
    own_table = client.create_route_table(VpcId=b)["RouteTable"]["RouteTableId"]
    client.associate_route_table(RouteTableId=own_table, SubnetId=with_own_table)
    untagged_table = client.create_route_table(VpcId=b)["RouteTable"]["RouteTableId"]
    client.associate_route_table(RouteTableId=untagged_table, SubnetId=untagged)
    pcx = accepted(organization, context, (HUB_ACCOUNT, a), (HUB_ACCOUNT, b))

    run(accept_event(HUB_ACCOUNT, pcx), context)

    assert peer_routes(HUB_ACCOUNT, b, pcx) == {(own_table, "10.0.0.0/16"), (main_table(HUB_ACCOUNT, b), "10.0.0.0/16")}


def test_route_to_another_live_target_is_a_reported_conflict(
    organization: Organization, context: FakeContext, capsys: Any
) -> None:
    a = dns_ready_vpc(HUB_ACCOUNT, "10.0.0.0/16")
    b = dns_ready_vpc(HUB_ACCOUNT, "10.1.0.0/16")
    client = ec2(HUB_ACCOUNT)
    igw = client.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    client.attach_internet_gateway(InternetGatewayId=igw, VpcId=b)
    table_b = main_table(HUB_ACCOUNT, b)
    client.create_route(RouteTableId=table_b, DestinationCidrBlock="10.0.0.0/16", GatewayId=igw)
    pcx = accepted(organization, context, (HUB_ACCOUNT, a), (HUB_ACCOUNT, b))
    capsys.readouterr()

    result = run(accept_event(HUB_ACCOUNT, pcx), context)

    assert routes(HUB_ACCOUNT, b)[table_b]["10.0.0.0/16"] == igw  # left alone
    assert peer_routes(HUB_ACCOUNT, a, pcx) == {(main_table(HUB_ACCOUNT, a), "10.1.0.0/16")}  # the rest goes in
    assert any("route-conflict" in r and igw in r for r in result["reasons"])
    notes = organization.notifications()
    assert len(notes) == 1
    assert igw in notes[0]["message"]
    assert emitted_metrics(capsys.readouterr().out)["RouteConflicts"] == 1
    # reported once: a second run does not notify again
    run(accept_event(HUB_ACCOUNT, pcx), context)
    assert organization.notifications() == []


def test_full_route_table_is_reported_and_other_routes_still_go_in(
    organization: Organization, context: FakeContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ROUTES_PER_TABLE_QUOTA", "1")
    a = dns_ready_vpc(HUB_ACCOUNT, "10.0.0.0/16")
    b = dns_ready_vpc(HUB_ACCOUNT, "10.1.0.0/16")
    client = ec2(HUB_ACCOUNT)
    igw = client.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    client.attach_internet_gateway(InternetGatewayId=igw, VpcId=b)
    client.create_route(RouteTableId=main_table(HUB_ACCOUNT, b), DestinationCidrBlock="0.0.0.0/0", GatewayId=igw)
    pcx = accepted(organization, context, (HUB_ACCOUNT, a), (HUB_ACCOUNT, b))

    result = run(accept_event(HUB_ACCOUNT, pcx), context)

    assert peer_routes(HUB_ACCOUNT, b, pcx) == set()
    assert peer_routes(HUB_ACCOUNT, a, pcx) == {(main_table(HUB_ACCOUNT, a), "10.1.0.0/16")}
    assert any("route-quota-full" in r for r in result["reasons"])


def test_removed_block_loses_only_its_routes(organization: Organization, context: FakeContext) -> None:
    a = dns_ready_vpc(HUB_ACCOUNT, "10.0.0.0/16", extra_cidrs=("10.2.0.0/16",))
    b = dns_ready_vpc(HUB_ACCOUNT, "10.1.0.0/16")
    pcx = accepted(organization, context, (HUB_ACCOUNT, a), (HUB_ACCOUNT, b))
    run(accept_event(HUB_ACCOUNT, pcx), context)
    table_b = main_table(HUB_ACCOUNT, b)
    assert peer_routes(HUB_ACCOUNT, b, pcx) == {(table_b, "10.0.0.0/16"), (table_b, "10.2.0.0/16")}
    client = ec2(HUB_ACCOUNT)
    association = next(
        x["AssociationId"]
        for x in client.describe_vpcs(VpcIds=[a])["Vpcs"][0]["CidrBlockAssociationSet"]
        if x["CidrBlock"] == "10.2.0.0/16"
    )
    client.disassociate_vpc_cidr_block(AssociationId=association)
    event = cloudtrail_event(
        "DisassociateVpcCidrBlock",
        account=HUB_ACCOUNT,
        region=REGION,
        request_parameters={"associationId": association},
        response_elements={
            "vpcId": a,
            "cidrBlockAssociation": {"associationId": association, "cidrBlock": "10.2.0.0/16"},
        },
    )

    result = run(event, context)

    assert result["vpcId"] == a
    assert peer_routes(HUB_ACCOUNT, b, pcx) == {(table_b, "10.0.0.0/16")}


def test_added_block_is_followed(organization: Organization, context: FakeContext) -> None:
    a = dns_ready_vpc(HUB_ACCOUNT, "10.0.0.0/16")
    b = dns_ready_vpc(HUB_ACCOUNT, "10.1.0.0/16")
    pcx = accepted(organization, context, (HUB_ACCOUNT, a), (HUB_ACCOUNT, b))
    run(accept_event(HUB_ACCOUNT, pcx), context)
    ec2(HUB_ACCOUNT).associate_vpc_cidr_block(VpcId=b, CidrBlock="10.9.0.0/16")
    event = cloudtrail_event(
        "AssociateVpcCidrBlock",
        account=HUB_ACCOUNT,
        region=REGION,
        request_parameters={"vpcId": b, "cidrBlock": "10.9.0.0/16"},
        response_elements={"vpcId": b},
    )

    run(event, context)

    assert {d for _, d in peer_routes(HUB_ACCOUNT, a, pcx)} == {"10.1.0.0/16", "10.9.0.0/16"}


def test_vpc_without_dns_hostnames_is_reported_not_forced(organization: Organization, context: FakeContext) -> None:
    a = make_vpc(HUB_ACCOUNT, "10.0.0.0/16")  # enableDnsHostnames stays false
    b = dns_ready_vpc(HUB_ACCOUNT, "10.1.0.0/16")
    pcx = accepted(organization, context, (HUB_ACCOUNT, a), (HUB_ACCOUNT, b))

    result = run(accept_event(HUB_ACCOUNT, pcx), context)
    again = run(accept_event(HUB_ACCOUNT, pcx), context)

    assert dns_options(HUB_ACCOUNT, pcx) == (False, False)
    assert any("dns-prerequisite" in r and a in r for r in result["reasons"])
    notes = organization.notifications()
    assert len(notes) == 1  # the second run finds the same, already reported
    assert a in notes[0]["message"]
    assert len(peer_routes(HUB_ACCOUNT, b, pcx)) == 1  # routes still go in
    assert again["outcome"] == "configured"  # tried again: the owner may have fixed the VPC meanwhile


def test_dns_refused_although_both_vpcs_are_ready_is_an_error(
    organization: Organization, context: FakeContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    made = paths.accepted(organization, "same account+Region")
    ec2(HUB_ACCOUNT).modify_vpc_attribute(VpcId=made.requester_vpc, EnableDnsHostnames={"Value": False})
    # The attributes read after the refusal say "ready" (changed back meanwhile, or another cause).
    monkeypatch.setattr("peering.aws.apply.dns_attributes", lambda *_: DnsAttributes(support=True, hostnames=True))

    with pytest.raises(ClientError, match="OperationNotPermitted"):
        run(made.accept_event(), context)


def test_dns_disabled_by_policy_is_turned_off(organization: Organization, context: FakeContext) -> None:
    put_policy(
        "schemaVersion: 1\nversion: test-nodns\n"
        f"rules:\n  - {{name: hub, action: accept, requester: {{accounts: ['{HUB_ACCOUNT}']}}}}\n"
        "routing:\n  dnsResolution: false\n"
    )
    a = dns_ready_vpc(HUB_ACCOUNT, "10.0.0.0/16")
    b = dns_ready_vpc(HUB_ACCOUNT, "10.1.0.0/16")
    pcx = accepted(organization, context, (HUB_ACCOUNT, a), (HUB_ACCOUNT, b))
    ec2(HUB_ACCOUNT).modify_vpc_peering_connection_options(
        VpcPeeringConnectionId=pcx, RequesterPeeringConnectionOptions={"AllowDnsResolutionFromRemoteVpc": True}
    )

    run(accept_event(HUB_ACCOUNT, pcx), context)

    assert dns_options(HUB_ACCOUNT, pcx) == (False, False)


def test_pending_connection_is_skipped(organization: Organization, context: FakeContext) -> None:
    a = make_vpc(organization.outsider_account, "172.16.0.0/16")
    b = make_vpc(HUB_ACCOUNT, "10.1.0.0/16")
    pcx, _ = request_peering(organization.outsider_account, a, HUB_ACCOUNT, b)

    result = run(accept_event(HUB_ACCOUNT, pcx), context)

    assert result["outcome"] == "not-active"
    assert routes(HUB_ACCOUNT, b)[main_table(HUB_ACCOUNT, b)].get("172.16.0.0/16") is None


def test_provisioning_is_waited_for_then_retried(
    organization: Organization, context: FakeContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ACTIVATION_WAIT_SECONDS", "1")
    a = dns_ready_vpc(HUB_ACCOUNT, "10.0.0.0/16")
    b = dns_ready_vpc(HUB_ACCOUNT, "10.1.0.0/16")
    pcx = accepted(organization, context, (HUB_ACCOUNT, a), (HUB_ACCOUNT, b))
    lifecycle.set_status(pcx, "provisioning")  # AWS's state between accept and active

    with pytest.raises(NotReadyError):
        run(accept_event(HUB_ACCOUNT, pcx), context)
    assert peer_routes(HUB_ACCOUNT, b, pcx) == set()


def test_operator_converge_in_dry_run_changes_nothing(organization: Organization, context: FakeContext) -> None:
    a = dns_ready_vpc(HUB_ACCOUNT, "10.0.0.0/16")
    b = dns_ready_vpc(HUB_ACCOUNT, "10.1.0.0/16")
    pcx = accepted(organization, context, (HUB_ACCOUNT, a), (HUB_ACCOUNT, b))
    event = operator_event("Converge Peering Connection", pcx, dryRun=True)  # type: ignore[arg-type]

    result = run(event, context)

    assert result["dryRun"] is True
    assert {x["status"] for x in result["actions"]} == {"dry-run"}
    assert "create route 10.1.0.0/16" in result["plan"]
    assert peer_routes(HUB_ACCOUNT, a, pcx) == set()
    assert dns_options(HUB_ACCOUNT, pcx) == (False, False)


def test_operator_converge_applies(organization: Organization, context: FakeContext) -> None:
    a = dns_ready_vpc(HUB_ACCOUNT, "10.0.0.0/16")
    b = dns_ready_vpc(HUB_ACCOUNT, "10.1.0.0/16")
    pcx = accepted(organization, context, (HUB_ACCOUNT, a), (HUB_ACCOUNT, b))

    result = run(operator_event("Converge Peering Connection", pcx), context)

    assert result["outcome"] == "configured"
    assert len(peer_routes(HUB_ACCOUNT, a, pcx)) == 1


def test_configure_refuses_approval_events(organization: Organization, context: FakeContext) -> None:
    result = run(operator_event("Approve Peering Request", "pcx-0123456789abcdef0"), context)
    assert result["error"] == "invalid_event"


def test_connection_deleted_between_plan_and_apply_skips_dns(
    organization: Organization, context: FakeContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    a = dns_ready_vpc(HUB_ACCOUNT, "10.0.0.0/16")
    b = dns_ready_vpc(HUB_ACCOUNT, "10.1.0.0/16")
    pcx = accepted(organization, context, (HUB_ACCOUNT, a), (HUB_ACCOUNT, b))
    from peering.aws.apply import ConfigureApplier  # noqa: PLC0415 - patched for this test only

    original = ConfigureApplier.apply

    def delete_first(self: ConfigureApplier, plan: Any) -> Any:
        ec2(HUB_ACCOUNT).delete_vpc_peering_connection(VpcPeeringConnectionId=pcx)
        return original(self, plan)

    monkeypatch.setattr(ConfigureApplier, "apply", delete_first)

    result = run(accept_event(HUB_ACCOUNT, pcx), context)

    dns = [x for x in result["actions"] if x["action"].startswith("set AllowDns")]
    assert [x["status"] for x in dns] == ["skipped: deleted"]


def test_blackhole_route_left_by_a_dead_connection_is_replaced(
    organization: Organization, context: FakeContext
) -> None:
    a = dns_ready_vpc(HUB_ACCOUNT, "10.0.0.0/16")
    b = dns_ready_vpc(HUB_ACCOUNT, "10.1.0.0/16")
    old = accepted(organization, context, (HUB_ACCOUNT, a), (HUB_ACCOUNT, b))
    run(accept_event(HUB_ACCOUNT, old), context)
    table_b = main_table(HUB_ACCOUNT, b)
    ec2(HUB_ACCOUNT).delete_vpc_peering_connection(VpcPeeringConnectionId=old)  # its routes stay, as blackholes
    blackholed = ec2(HUB_ACCOUNT).describe_route_tables(RouteTableIds=[table_b])["RouteTables"][0]["Routes"]
    assert {r["State"] for r in blackholed if r.get("VpcPeeringConnectionId") == old} == {"blackhole"}
    new = accepted(organization, context, (HUB_ACCOUNT, a), (HUB_ACCOUNT, b))

    result = run(accept_event(HUB_ACCOUNT, new), context)

    assert routes(HUB_ACCOUNT, b)[table_b]["10.0.0.0/16"] == new
    assert routes(HUB_ACCOUNT, a)[main_table(HUB_ACCOUNT, a)]["10.1.0.0/16"] == new
    assert sum(1 for x in result["actions"] if x["action"].startswith("replace blackhole route")) == 2


SECONDARY = "10.50.0.0/16"  # the block the peer associates: the victim's blackholed destination


def _nat_gateway(vpc_id: str) -> tuple[dict[str, str], Any]:
    client = ec2(HUB_ACCOUNT)
    subnet = client.create_subnet(VpcId=vpc_id, CidrBlock="10.1.1.0/24")["Subnet"]["SubnetId"]
    allocation = client.allocate_address(Domain="vpc")["AllocationId"]
    nat = client.create_nat_gateway(SubnetId=subnet, AllocationId=allocation)["NatGateway"]["NatGatewayId"]
    return {"NatGatewayId": nat}, lambda: client.delete_nat_gateway(NatGatewayId=nat)


def _transit_gateway(vpc_id: str) -> tuple[dict[str, str], Any]:
    client = ec2(HUB_ACCOUNT)
    tgw = client.create_transit_gateway()["TransitGateway"]["TransitGatewayId"]
    return {"TransitGatewayId": tgw}, lambda: client.delete_transit_gateway(TransitGatewayId=tgw)


def _network_interface(vpc_id: str) -> tuple[dict[str, str], Any]:
    client = ec2(HUB_ACCOUNT)
    subnet = client.create_subnet(VpcId=vpc_id, CidrBlock="10.1.2.0/24")["Subnet"]["SubnetId"]
    eni = client.create_network_interface(SubnetId=subnet)["NetworkInterface"]["NetworkInterfaceId"]
    return {"NetworkInterfaceId": eni}, lambda: client.delete_network_interface(NetworkInterfaceId=eni)


def _pending_peering(vpc_id: str) -> tuple[dict[str, str], Any]:
    """Someone else's request from the victim's VPC, not accepted yet: its route is a blackhole."""
    other = make_vpc(HUB_ACCOUNT, SECONDARY)
    pcx = ec2(HUB_ACCOUNT).create_vpc_peering_connection(VpcId=vpc_id, PeerVpcId=other)["VpcPeeringConnection"]
    return {"VpcPeeringConnectionId": pcx["VpcPeeringConnectionId"]}, lambda: None


def victim_route(table: str, destination: str = SECONDARY) -> dict[str, Any]:
    """The route for ``destination`` in ``table``, as the victim's account reads it."""
    found = ec2(HUB_ACCOUNT).describe_route_tables(RouteTableIds=[table])["RouteTables"][0]["Routes"]
    return next(r for r in found if r.get("DestinationCidrBlock") == destination)


def findings_recorded(pcx: str) -> set[str]:
    item = boto3.client("dynamodb", region_name=REGION).get_item(
        TableName=LEDGER_TABLE, Key={"pk": {"S": pcx}, "sk": {"S": "FINDINGS"}}, ConsistentRead=True
    )
    return set(item.get("Item", {}).get("keys", {}).get("SS", []))


@pytest.mark.parametrize(
    "make_target", [_nat_gateway, _transit_gateway, _network_interface, _pending_peering], ids=lambda f: f.__name__[1:]
)
def test_a_peer_cannot_take_over_a_blackhole_route_to_another_target(
    organization: Organization, context: FakeContext, make_target: Any
) -> None:
    """Given the victim's route for 10.50.0.0/16 to a target that is unavailable for now (a NAT
    gateway or transit gateway being replaced, a deleted interface, a request not accepted yet),
    when a peer the policy accepted associates 10.50.0.0/16 and configure follows the new block,
    then the victim's route still points at its own target and the conflict is notified once."""
    victim = dns_ready_vpc(HUB_ACCOUNT, "10.1.0.0/16", tags=ACCEPT_TAG)
    table = main_table(HUB_ACCOUNT, victim)
    target, take_away = make_target(victim)
    ec2(HUB_ACCOUNT).create_route(RouteTableId=table, DestinationCidrBlock=SECONDARY, **target)
    take_away()
    assert victim_route(table)["State"] == "blackhole"
    member = organization.platform_account
    peer = dns_ready_vpc(member, "10.20.0.0/16")
    pcx = accepted(organization, context, (member, peer), (HUB_ACCOUNT, victim))
    run(accept_event(HUB_ACCOUNT, pcx), context)
    organization.notifications()
    ec2(member).associate_vpc_cidr_block(VpcId=peer, CidrBlock=SECONDARY)
    event = cloudtrail_event(
        "AssociateVpcCidrBlock",
        account=member,
        region=REGION,
        request_parameters={"vpcId": peer, "cidrBlock": SECONDARY},
        response_elements={"vpcId": peer},
    )

    results = run(event, context)

    route = victim_route(table)
    ((key, value),) = target.items()
    assert route[key] == value  # still the victim's own target
    assert "VpcPeeringConnectionId" not in route or route["VpcPeeringConnectionId"] != pcx
    assert victim_route(table, "10.20.0.0/16")["VpcPeeringConnectionId"] == pcx  # the rest goes in
    assert any("route-conflict" in r and value in r for x in results["connections"] for r in x["reasons"]), results
    assert f"conflict:{table}:{SECONDARY}:{value}" in findings_recorded(pcx)
    notes = organization.notifications()
    assert len(notes) == 1
    assert value in notes[0]["message"]
    assert "blackhole" in notes[0]["message"]
    # reported once: the next run leaves the route alone and does not notify again
    run(event, context)
    assert victim_route(table)[key] == value
    assert organization.notifications() == []
