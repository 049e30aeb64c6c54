"""The cleanup function on moto: routes to a dead connection go, stale rules are reported
(or revoked when the policy says), and the ledger record is closed, on both sides."""

from __future__ import annotations

import time
from typing import Any

import pytest

from emulation import lifecycle
from tests.builders import ACCEPT_TAG, cloudtrail_event, ledger_state, make_vpc
from tests.conftest import (
    HUB_ACCOUNT,
    REGION,
    FakeContext,
    Organization,
    ec2,
    emitted_metrics,
    load_function,
    put_policy,
)
from tests.integration.test_configure import accept_event, accepted, dns_ready_vpc, peer_routes, routes

configure = load_function("configure")
cleanup = load_function("cleanup")


def call_event(name: str, account: str, pcx: str, region: str = REGION) -> dict[str, Any]:
    return cloudtrail_event(
        name,
        account=account,
        region=region,
        request_parameters={"vpcPeeringConnectionId": pcx},
        response_elements={"_return": True},
    )


def wired(
    organization: Organization, context: FakeContext, requester: tuple[str, str], accepter: tuple[str, str]
) -> str:
    pcx = accepted(organization, context, requester, accepter)
    configure.lambda_handler(accept_event(accepter[0], pcx), context)
    assert peer_routes(*requester, pcx)
    assert peer_routes(*accepter, pcx)
    return pcx


def test_deletion_removes_routes_on_both_sides_and_closes_the_record(
    organization: Organization, context: FakeContext, capsys: Any
) -> None:
    requester = dns_ready_vpc(organization.platform_account, "10.20.0.0/16")
    accepter = dns_ready_vpc(HUB_ACCOUNT, "10.1.0.0/16", tags=ACCEPT_TAG)
    pcx = wired(organization, context, (organization.platform_account, requester), (HUB_ACCOUNT, accepter))
    client = ec2(HUB_ACCOUNT)
    igw = client.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    client.attach_internet_gateway(InternetGatewayId=igw, VpcId=accepter)
    table = client.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [accepter]}])["RouteTables"][0]
    client.create_route(RouteTableId=table["RouteTableId"], DestinationCidrBlock="0.0.0.0/0", GatewayId=igw)
    ec2(organization.platform_account).delete_vpc_peering_connection(VpcPeeringConnectionId=pcx)
    organization.notifications()
    capsys.readouterr()

    result = cleanup.lambda_handler(
        call_event("DeleteVpcPeeringConnection", organization.platform_account, pcx), context
    )

    assert result["outcome"] == "cleaned", result
    assert peer_routes(organization.platform_account, requester, pcx) == set()
    assert peer_routes(HUB_ACCOUNT, accepter, pcx) == set()
    assert routes(HUB_ACCOUNT, accepter)[table["RouteTableId"]]["0.0.0.0/0"] == igw  # other routes untouched
    recorded = ledger_state(pcx)
    assert recorded["status"]["S"] == "deleted"
    assert "closedAt" in recorded
    assert int(recorded["expiresAt"]["N"]) > time.time() + 80 * 86400  # kept ~90 days, then TTL
    assert recorded["decision"]["S"] == "accepted"  # the decision is kept
    metrics = emitted_metrics(capsys.readouterr().out)
    assert metrics["RoutesRemoved"] == 2
    assert metrics["ConnectionsClosed"] == 1
    notes = organization.notifications()
    assert len(notes) == 1
    assert "delete route 10.1.0.0/16" in notes[0]["message"]


def test_repeated_cleanup_changes_nothing(organization: Organization, context: FakeContext) -> None:
    a = dns_ready_vpc(HUB_ACCOUNT, "10.0.0.0/16")
    b = dns_ready_vpc(HUB_ACCOUNT, "10.1.0.0/16")
    pcx = wired(organization, context, (HUB_ACCOUNT, a), (HUB_ACCOUNT, b))
    ec2(HUB_ACCOUNT).delete_vpc_peering_connection(VpcPeeringConnectionId=pcx)
    event = call_event("DeleteVpcPeeringConnection", HUB_ACCOUNT, pcx)
    cleanup.lambda_handler(event, context)
    first = organization.notifications()
    assert first[0]["message"].count("delete route") == 2  # each route once, though both sides share a listing

    result = cleanup.lambda_handler(event, context)

    assert result["outcome"] == "unchanged"
    assert organization.notifications() == []


def test_stale_security_group_rule_is_reported_not_revoked_by_default(
    organization: Organization, context: FakeContext
) -> None:
    a = dns_ready_vpc(HUB_ACCOUNT, "10.0.0.0/16")
    b = dns_ready_vpc(HUB_ACCOUNT, "10.1.0.0/16")
    pcx = wired(organization, context, (HUB_ACCOUNT, a), (HUB_ACCOUNT, b))
    client = ec2(HUB_ACCOUNT)
    group_a = client.create_security_group(GroupName="app", Description="app", VpcId=a)["GroupId"]
    group_b = client.create_security_group(GroupName="db", Description="db", VpcId=b)["GroupId"]
    rule = {
        "IpProtocol": "tcp",
        "FromPort": 5432,
        "ToPort": 5432,
        "UserIdGroupPairs": [{"GroupId": group_a, "UserId": HUB_ACCOUNT, "VpcId": a, "VpcPeeringConnectionId": pcx}],
    }
    client.authorize_security_group_ingress(GroupId=group_b, IpPermissions=[rule])
    client.delete_vpc_peering_connection(VpcPeeringConnectionId=pcx)

    result = cleanup.lambda_handler(call_event("DeleteVpcPeeringConnection", HUB_ACCOUNT, pcx), context)

    assert any(group_b in r and group_a in r for r in result["reasons"])
    kept = client.describe_security_groups(GroupIds=[group_b])["SecurityGroups"][0]["IpPermissions"]
    assert kept[0]["UserIdGroupPairs"][0]["GroupId"] == group_a
    assert "STALE, review" in organization.notifications()[-1]["message"]


@pytest.mark.parametrize("stack_allows", [True, False])
def test_stale_security_group_rule_is_revoked_when_the_policy_says_and_the_stack_allows(
    organization: Organization, context: FakeContext, monkeypatch: pytest.MonkeyPatch, stack_allows: bool
) -> None:
    monkeypatch.setenv("ALLOW_SG_REVOCATION", str(stack_allows).lower())
    put_policy(
        "schemaVersion: 1\nversion: test-revoke\n"
        f"rules:\n  - {{name: hub, action: accept, requester: {{accounts: ['{HUB_ACCOUNT}']}}}}\n"
        "cleanup:\n  revokeStaleSecurityGroupRules: true\n"
    )
    a = dns_ready_vpc(HUB_ACCOUNT, "10.0.0.0/16")
    b = dns_ready_vpc(HUB_ACCOUNT, "10.1.0.0/16")
    pcx = wired(organization, context, (HUB_ACCOUNT, a), (HUB_ACCOUNT, b))
    client = ec2(HUB_ACCOUNT)
    group_a = client.create_security_group(GroupName="app", Description="app", VpcId=a)["GroupId"]
    group_b = client.create_security_group(GroupName="db", Description="db", VpcId=b)["GroupId"]
    pair = {"GroupId": group_a, "UserId": HUB_ACCOUNT, "VpcId": a, "VpcPeeringConnectionId": pcx}
    client.authorize_security_group_ingress(
        GroupId=group_b,
        IpPermissions=[{"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432, "UserIdGroupPairs": [pair]}],
    )
    client.authorize_security_group_ingress(
        GroupId=group_b,
        IpPermissions=[{"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "10.9.0.0/16"}]}],
    )
    client.delete_vpc_peering_connection(VpcPeeringConnectionId=pcx)

    result = cleanup.lambda_handler(call_event("DeleteVpcPeeringConnection", HUB_ACCOUNT, pcx), context)

    revoked = [a for a in result["actions"] if a["action"].startswith("revoke") and a["status"] == "done"]
    left = client.describe_security_groups(GroupIds=[group_b])["SecurityGroups"][0]["IpPermissions"]
    if stack_allows:
        assert len(revoked) == 1
        assert [p.get("FromPort") for p in left] == [22]  # the unrelated rule stays
    else:  # without the IAM grant a revoke would fail and retry forever: it is reported instead
        assert revoked == []
        assert sorted(p.get("FromPort") for p in left) == [22, 5432]
        assert any(group_b in r for r in result["reasons"])


def test_rejection_closes_the_record(organization: Organization, context: FakeContext) -> None:
    requester = make_vpc(organization.outsider_account, "172.16.0.0/16")
    accepter = make_vpc(HUB_ACCOUNT, "10.1.0.0/16")
    pcx = ec2(organization.outsider_account).create_vpc_peering_connection(
        VpcId=requester, PeerVpcId=accepter, PeerOwnerId=HUB_ACCOUNT
    )["VpcPeeringConnection"]["VpcPeeringConnectionId"]
    ec2(HUB_ACCOUNT).reject_vpc_peering_connection(VpcPeeringConnectionId=pcx)

    result = cleanup.lambda_handler(call_event("RejectVpcPeeringConnection", HUB_ACCOUNT, pcx), context)

    assert result["ok"]
    assert ledger_state(pcx)["status"]["S"] == "rejected"


@pytest.mark.parametrize("event_name", ["DeleteVpcPeeringConnection", "RejectVpcPeeringConnection"])
def test_live_connection_is_not_cleaned(organization: Organization, context: FakeContext, event_name: str) -> None:
    """A Delete that failed, or a stale event: the connection is alive, so its routes stay."""
    a = dns_ready_vpc(HUB_ACCOUNT, "10.0.0.0/16")
    b = dns_ready_vpc(HUB_ACCOUNT, "10.1.0.0/16")
    pcx = wired(organization, context, (HUB_ACCOUNT, a), (HUB_ACCOUNT, b))

    result = cleanup.lambda_handler(call_event(event_name, HUB_ACCOUNT, pcx), context)

    assert result["outcome"] == "not-dead"
    assert peer_routes(HUB_ACCOUNT, a, pcx)
    assert peer_routes(HUB_ACCOUNT, b, pcx)


def test_connection_gone_from_the_api_is_cleaned_from_the_ledger_record(
    organization: Organization, context: FakeContext
) -> None:
    a = dns_ready_vpc(HUB_ACCOUNT, "10.0.0.0/16")
    b = dns_ready_vpc(HUB_ACCOUNT, "10.1.0.0/16")
    pcx = wired(organization, context, (HUB_ACCOUNT, a), (HUB_ACCOUNT, b))
    # AWS shows a deleted connection for 2 h only; afterwards Describe no longer knows it.
    lifecycle.set_status(pcx, "deleted")
    lifecycle.forget_connection(pcx)

    result = cleanup.lambda_handler(call_event("DeleteVpcPeeringConnection", HUB_ACCOUNT, pcx), context)

    assert result["outcome"] == "cleaned"
    tables = ec2(HUB_ACCOUNT).describe_route_tables(
        Filters=[{"Name": "route.vpc-peering-connection-id", "Values": [pcx]}]
    )["RouteTables"]
    assert tables == []


def test_dry_run_cleanup_changes_nothing(
    organization: Organization, context: FakeContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    a = dns_ready_vpc(HUB_ACCOUNT, "10.0.0.0/16")
    b = dns_ready_vpc(HUB_ACCOUNT, "10.1.0.0/16")
    pcx = wired(organization, context, (HUB_ACCOUNT, a), (HUB_ACCOUNT, b))
    ec2(HUB_ACCOUNT).delete_vpc_peering_connection(VpcPeeringConnectionId=pcx)
    monkeypatch.setenv("DRY_RUN", "true")

    result = cleanup.lambda_handler(call_event("DeleteVpcPeeringConnection", HUB_ACCOUNT, pcx), context)

    assert result["dryRun"]
    assert "delete route" in result["plan"]
    assert peer_routes(HUB_ACCOUNT, a, pcx)
    assert "closedAt" not in ledger_state(pcx)
