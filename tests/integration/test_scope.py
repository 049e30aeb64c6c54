"""Scope on moto: peerings that existed before the autopilot are not changed until the policy adopts
them, the first-run report predicts what adoption then does, and the hands-off tag holds on every path.

The organization already has two peerings before the first sweep: one made by hand in the consoles
(cross-account, with a narrower route a person added), one made by "Terraform" (plain API calls,
same account, a route on one side only). Assertions read routes and options back from EC2 and the
ledger and notifications back from DynamoDB and the topic.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from peering.aws.clients import AwsClients
from peering.aws.ledger import Ledger
from peering.core.scope import Scope, ScopeRecordKind
from peering.lifecycle.engine import Engine
from peering.runtime.config import Settings
from peering.sweep.first_run import first_run
from peering.sweep.messages import SweepTarget
from peering.sweep.target import converge_target
from tests.builders import ACCEPT_TAG, cloudtrail_event, request_peering, status
from tests.conftest import (
    HUB_ACCOUNT,
    LEDGER_TABLE,
    REGION,
    FakeContext,
    Organization,
    default_policy,
    ec2,
    load_function,
    put_policy,
)
from tests.integration.test_configure import accept_event, dns_options, dns_ready_vpc, peer_routes, routes

accept = load_function("accept")
configure = load_function("configure")
cleanup = load_function("cleanup")

HANDS_OFF = {"peering-autopilot:manage": "false"}


@dataclass(frozen=True)
class Existing:
    """The peerings made before the deployment, and their VPCs (account, VPC id)."""

    by_hand: str
    terraform: str
    vpcs: tuple[tuple[str, str], ...]


def existing_peerings(organization: Organization, *, hand_vpc_tags: dict[str, str] | None = None) -> Existing:
    platform = organization.platform_account
    # By hand, in the consoles: the platform team asks, the hub's network team accepts, and adds
    # a route for one subnet of the peer.
    a = dns_ready_vpc(platform, "10.70.0.0/16", tags=hand_vpc_tags)
    b = dns_ready_vpc(HUB_ACCOUNT, "10.71.0.0/16", tags=ACCEPT_TAG)
    by_hand = ec2(platform).create_vpc_peering_connection(VpcId=a, PeerVpcId=b, PeerOwnerId=HUB_ACCOUNT)
    by_hand_id = by_hand["VpcPeeringConnection"]["VpcPeeringConnectionId"]
    ec2(HUB_ACCOUNT).accept_vpc_peering_connection(VpcPeeringConnectionId=by_hand_id)
    hub_table = next(iter(routes(HUB_ACCOUNT, b)))
    ec2(HUB_ACCOUNT).create_route(
        RouteTableId=hub_table, DestinationCidrBlock="10.70.1.0/24", VpcPeeringConnectionId=by_hand_id
    )
    # By "Terraform": one account, a peering and a route on one side, DNS left off.
    c = dns_ready_vpc(platform, "10.72.0.0/16")
    d = dns_ready_vpc(platform, "10.73.0.0/16")
    made = ec2(platform).create_vpc_peering_connection(VpcId=c, PeerVpcId=d)["VpcPeeringConnection"]
    terraform = made["VpcPeeringConnectionId"]
    ec2(platform).accept_vpc_peering_connection(VpcPeeringConnectionId=terraform)
    table_c = next(iter(routes(platform, c)))
    ec2(platform).create_route(
        RouteTableId=table_c, DestinationCidrBlock="10.73.0.0/16", VpcPeeringConnectionId=terraform
    )
    return Existing(by_hand_id, terraform, ((platform, a), (HUB_ACCOUNT, b), (platform, c), (platform, d)))


def network(organization: Organization, existing: Existing) -> dict[str, Any]:
    """Everything of theirs the autopilot could change: every route of the four VPCs, DNS options."""
    platform = organization.platform_account
    return {
        "routes": {vpc: routes(account, vpc) for account, vpc in existing.vpcs},
        "dns": {
            existing.by_hand: (dns_options(platform, existing.by_hand), dns_options(HUB_ACCOUNT, existing.by_hand)),
            existing.terraform: dns_options(platform, existing.terraform),
        },
    }


def sweep(account: str) -> dict[str, Any]:
    return converge_target(Engine(Settings.from_env()), SweepTarget(account, REGION, "test-sweep")).as_dict()


def sweep_all(organization: Organization) -> list[dict[str, Any]]:
    return [sweep(HUB_ACCOUNT), sweep(organization.platform_account)]


def scope_item(connection_id: str) -> str | None:
    record = Ledger(AwsClients(Settings.from_env()), LEDGER_TABLE).scope_record(connection_id)
    return record.kind.value if record else None


def adopt(organization: Organization, entries: str, *, version: str = "test-2") -> None:
    put_policy(default_policy(organization).replace("version: test-1", f"version: {version}") + entries)


# --- nothing of theirs changes until adopted ----------------------------------------------------------


def test_events_before_the_first_sweep_change_nothing_and_make_nothing_managed(
    organization: Organization, context: FakeContext
) -> None:
    existing = existing_peerings(organization)
    _, b = existing.vpcs[1]
    ec2(HUB_ACCOUNT).associate_vpc_cidr_block(VpcId=b, CidrBlock="10.79.0.0/16")  # a block added by its team
    before = network(organization, existing)
    options = cloudtrail_event(
        "ModifyVpcPeeringConnectionOptions",
        account=HUB_ACCOUNT,
        region=REGION,
        request_parameters={"vpcPeeringConnectionId": existing.by_hand},
    )
    cidr = cloudtrail_event(
        "AssociateVpcCidrBlock",
        account=HUB_ACCOUNT,
        region=REGION,
        request_parameters={"vpcId": b, "cidrBlock": "10.79.0.0/16"},
        response_elements={"vpcId": b},
    )

    answers = [configure.lambda_handler(options, context), configure.lambda_handler(cidr, context)]

    assert answers[0]["outcome"] == "unmanaged"
    assert [c["outcome"] for c in answers[1]["connections"]] == ["unmanaged"]
    assert network(organization, existing) == before
    assert scope_item(existing.by_hand) is None  # an event about it never makes it managed
    assert all(s["scopes"] == {"unmanaged": 1 if s["account"] == HUB_ACCOUNT else 2} for s in sweep_all(organization))
    assert network(organization, existing) == before


def test_the_sweep_reports_once_and_changes_nothing_a_late_accept_event_changes_nothing(
    organization: Organization, context: FakeContext
) -> None:
    existing = existing_peerings(organization)
    before = network(organization, existing)
    organization.notifications()

    first = sweep_all(organization)
    notes = organization.notifications()
    again = sweep_all(organization)
    late = configure.lambda_handler(accept_event(HUB_ACCOUNT, existing.by_hand), context)

    assert network(organization, existing) == before
    assert [s["drift"] for s in first + again] == [0, 0, 0, 0]
    assert scope_item(existing.by_hand) == scope_item(existing.terraform) == "pre-existing"
    assert late["outcome"] == "unmanaged"
    subjects = sorted(n["subject"] for n in notes)
    assert subjects.count(f"Peering autopilot: first sweep of {HUB_ACCOUNT}/{REGION}") == 1
    assert subjects.count(f"Peering autopilot: first sweep of {organization.platform_account}/{REGION}") == 1
    unmanaged = [n for n in notes if "unmanaged: would add" in n["message"]]
    # Each side's sweep says what adoption would change on its side: hub 1, platform 2 (by hand + Terraform).
    assert len(unmanaged) == 3
    assert "set DNS" in unmanaged[0]["message"]
    assert organization.notifications() == []  # the second sweep and the late event told nobody


def test_a_connection_accepted_by_a_person_after_deployment_is_managed(
    organization: Organization, context: FakeContext
) -> None:
    """Its Create event was lost; the Accept event reaches configure: recorded managed, then wired."""
    a = dns_ready_vpc(organization.platform_account, "10.20.0.0/16")
    b = dns_ready_vpc(HUB_ACCOUNT, "10.1.0.0/16")
    pcx, _ = request_peering(organization.platform_account, a, HUB_ACCOUNT, b)  # the accept function never ran
    ec2(HUB_ACCOUNT).accept_vpc_peering_connection(VpcPeeringConnectionId=pcx)

    answer = configure.lambda_handler(accept_event(HUB_ACCOUNT, pcx), context)

    assert answer["outcome"] == "configured"
    assert scope_item(pcx) == "managed"
    assert {d for _, d in peer_routes(HUB_ACCOUNT, b, pcx)} == {"10.20.0.0/16"}
    assert {d for _, d in peer_routes(organization.platform_account, a, pcx)} == {"10.1.0.0/16"}


# --- adoption: the report predicts what the sweep then does --------------------------------------------


def peer_route_set(organization: Organization, existing: Existing) -> set[tuple[str, str, str]]:
    out = set()
    for account, vpc in existing.vpcs:
        for table, entries in routes(account, vpc).items():
            out |= {(table, dest, target) for dest, target in entries.items() if target.startswith("pcx-")}
    return out


def test_the_first_run_report_predicts_what_adoption_then_does(organization: Organization) -> None:
    existing = existing_peerings(organization)
    sweep_all(organization)  # the first sweep: nothing changes, both are recorded pre-existing
    organization.notifications()
    adopt(organization, f'adopt:\n  connections:\n    - accounts: ["{organization.platform_account}"]\n')
    engine = Engine(Settings.from_env())
    report = first_run(engine, [(HUB_ACCOUNT, REGION), (organization.platform_account, REGION)])
    predicted = {p.connection_id: p for p in report.previews}
    before = peer_route_set(organization, existing)

    sweep_all(organization)

    after = peer_route_set(organization, existing)
    assert {p.decision.scope for p in report.previews} == {Scope.ADOPTED}
    assert set(predicted) == {existing.by_hand, existing.terraform}
    changes = [c for p in report.previews if p.plan for c in p.plan.route_changes]
    created = {(c.route_table_id, c.destination, c.connection_id) for c in changes if c.kind == "create"}
    deleted = {(c.route_table_id, c.destination, c.connection_id) for c in changes if c.kind == "delete"}
    assert created  # the report is not empty: adoption wires what was not wired
    assert after - before == created
    assert before - after == deleted
    dns = [c for p in report.previews if p.plan for c in p.plan.dns_changes]
    assert dns
    assert dns_options(organization.platform_account, existing.terraform) == (True, True)
    assert scope_item(existing.by_hand) == scope_item(existing.terraform) == "adopted"
    adopted = [n for n in organization.notifications() if "adopted by policy test-2" in n["subject"]]
    assert len(adopted) == 2
    sweep_all(organization)
    assert not [n for n in organization.notifications() if "adopted" in n["subject"]]  # notified once


@pytest.mark.parametrize("take_over", [False, True])
def test_after_adoption_only_the_routes_the_autopilot_installed_or_took_over_are_removed(
    organization: Organization, take_over: bool
) -> None:
    """Issue 22's "done when" across scope and route ownership: adopted, then both connections
    deleted. The autopilot's own /16 goes; the person's narrower /24 stays (a blackhole for its owner
    to remove); Terraform's route, which is exactly the route the routing wants, stays unless the
    policy took such routes over (``takeOverRoutes``), in which case it is the autopilot's to remove."""
    existing = existing_peerings(organization)
    platform = organization.platform_account
    sweep_all(organization)  # the first sweep: both recorded pre-existing, nothing changed
    switch = "true" if take_over else "false"
    adopt(organization, f'adopt:\n  takeOverRoutes: {switch}\n  connections:\n    - accounts: ["{platform}"]\n')
    sweep_all(organization)  # adopted: wired with the document's routing
    hub_vpc = dict(existing.vpcs[1:2])[HUB_ACCOUNT]
    terraform_vpc = existing.vpcs[2][1]
    (hub_table,) = routes(HUB_ACCOUNT, hub_vpc)
    (terraform_table,) = routes(platform, terraform_vpc)
    assert routes(HUB_ACCOUNT, hub_vpc)[hub_table]["10.70.0.0/16"] == existing.by_hand  # installed on adoption
    assert routes(HUB_ACCOUNT, hub_vpc)[hub_table]["10.70.1.0/24"] == existing.by_hand  # the person's, kept

    ec2(HUB_ACCOUNT).delete_vpc_peering_connection(VpcPeeringConnectionId=existing.by_hand)
    ec2(platform).delete_vpc_peering_connection(VpcPeeringConnectionId=existing.terraform)
    sweep_all(organization)  # the sweep cleans up after the dead connections

    hub_routes = routes(HUB_ACCOUNT, hub_vpc)[hub_table]
    assert "10.70.0.0/16" not in hub_routes  # the autopilot's own: removed
    assert hub_routes["10.70.1.0/24"] == existing.by_hand  # the person's: never removed
    terraform_routes = routes(platform, terraform_vpc)[terraform_table]
    if take_over:
        assert "10.73.0.0/16" not in terraform_routes  # taken over on adoption: the autopilot's to remove
    else:
        assert terraform_routes["10.73.0.0/16"] == existing.terraform  # Terraform's: left to Terraform


def test_a_policy_adopting_nothing_of_theirs_leaves_them_alone(organization: Organization) -> None:
    existing = existing_peerings(organization)
    before = network(organization, existing)
    adopt(organization, 'adopt:\n  connections:\n    - accounts: ["999999999999"]\n')

    results = sweep_all(organization)

    assert network(organization, existing) == before
    assert [r.get("scopes") for r in results] == [{"unmanaged": 1}, {"unmanaged": 2}]


# --- hands-off: on every path --------------------------------------------------------------------------


def test_hands_off_tag_on_the_requester_vpc_keeps_the_request_from_being_accepted(
    organization: Organization, context: FakeContext
) -> None:
    a = dns_ready_vpc(organization.platform_account, "10.20.0.0/16", tags=HANDS_OFF)
    b = dns_ready_vpc(HUB_ACCOUNT, "10.1.0.0/16", tags=ACCEPT_TAG)  # the policy accepts the platform OU here
    pcx, event = request_peering(organization.platform_account, a, HUB_ACCOUNT, b)

    answer = accept.lambda_handler(event, context)
    swept = sweep(HUB_ACCOUNT)

    assert answer["outcome"] == "not-managed"
    assert "hands-off" in answer["reasons"][0]
    assert swept["done"] == {}
    assert status(HUB_ACCOUNT, pcx) == "pending-acceptance"


def test_hands_off_never_lets_a_request_slip_past_a_reject(organization: Organization, context: FakeContext) -> None:
    a = dns_ready_vpc(organization.sandbox_account, "10.30.0.0/16", tags=HANDS_OFF)  # no-sandbox rejects
    b = dns_ready_vpc(HUB_ACCOUNT, "10.1.0.0/16", tags=ACCEPT_TAG)
    pcx, event = request_peering(organization.sandbox_account, a, HUB_ACCOUNT, b)

    assert accept.lambda_handler(event, context)["outcome"] == "rejected"
    assert status(HUB_ACCOUNT, pcx) == "rejected"


@pytest.mark.parametrize("where", ["connection", "accepter VPC", "requester VPC"])
def test_hands_off_tag_on_a_managed_connection_stops_configure_and_the_sweep(
    organization: Organization, context: FakeContext, where: str
) -> None:
    platform = organization.platform_account
    a = dns_ready_vpc(platform, "10.20.0.0/16")
    b = dns_ready_vpc(HUB_ACCOUNT, "10.1.0.0/16", tags=ACCEPT_TAG)
    pcx, event = request_peering(platform, a, HUB_ACCOUNT, b)
    assert accept.lambda_handler(event, context)["outcome"] == "accepted"
    tagged = {"connection": (HUB_ACCOUNT, pcx), "accepter VPC": (HUB_ACCOUNT, b), "requester VPC": (platform, a)}
    account, resource = tagged[where]
    ec2(account).create_tags(Resources=[resource], Tags=[{"Key": k, "Value": v} for k, v in HANDS_OFF.items()])

    answer = configure.lambda_handler(accept_event(HUB_ACCOUNT, pcx), context)
    swept = [sweep(HUB_ACCOUNT), sweep(platform)]

    assert answer["outcome"] == "hands-off"
    assert peer_routes(HUB_ACCOUNT, b, pcx) == set()
    assert peer_routes(platform, a, pcx) == set()
    assert dns_options(HUB_ACCOUNT, pcx) == (False, False)
    assert [s["scopes"] for s in swept] == [{"hands-off": 1}, {"hands-off": 1}]


def test_hands_off_wins_over_adopt_all(organization: Organization) -> None:
    existing = existing_peerings(organization, hand_vpc_tags=HANDS_OFF)
    before = network(organization, existing)
    adopt(organization, "adopt:\n  connections:\n    - all: true\n")
    report = first_run(Engine(Settings.from_env()), [(HUB_ACCOUNT, REGION), (organization.platform_account, REGION)])

    sweep_all(organization)

    scopes = {p.connection_id: p.decision.scope for p in report.previews}
    assert scopes == {existing.by_hand: Scope.HANDS_OFF, existing.terraform: Scope.ADOPTED}
    after = network(organization, existing)
    assert after["routes"][existing.vpcs[0][1]] == before["routes"][existing.vpcs[0][1]]
    assert after["routes"][existing.vpcs[1][1]] == before["routes"][existing.vpcs[1][1]]
    assert after["dns"][existing.by_hand] == before["dns"][existing.by_hand]
    assert scope_item(existing.by_hand) is None  # never adopted (nor judged: out of scope everywhere)
    assert scope_item(existing.terraform) == ScopeRecordKind.ADOPTED.value


def test_a_hands_off_tag_cannot_hide_the_cleanup_of_the_autopilots_own_routes(
    organization: Organization, context: FakeContext
) -> None:
    """A peer that tags its VPC after the autopilot wired the connection cannot leave the
    organization with blackhole routes the autopilot installed: cleanup removes its own routes."""
    platform = organization.platform_account
    a = dns_ready_vpc(platform, "10.20.0.0/16")
    b = dns_ready_vpc(HUB_ACCOUNT, "10.1.0.0/16", tags=ACCEPT_TAG)
    pcx, event = request_peering(platform, a, HUB_ACCOUNT, b)
    accept.lambda_handler(event, context)
    configure.lambda_handler(accept_event(HUB_ACCOUNT, pcx), context)
    assert peer_routes(HUB_ACCOUNT, b, pcx)
    ec2(platform).create_tags(Resources=[a], Tags=[{"Key": k, "Value": v} for k, v in HANDS_OFF.items()])
    ec2(platform).delete_vpc_peering_connection(VpcPeeringConnectionId=pcx)
    deleted = cloudtrail_event(
        "DeleteVpcPeeringConnection",
        account=platform,
        region=REGION,
        request_parameters={"vpcPeeringConnectionId": pcx},
    )

    cleanup.lambda_handler(deleted, context)

    assert peer_routes(HUB_ACCOUNT, b, pcx) == set()
    assert peer_routes(platform, a, pcx) == set()


def test_the_map_shows_unmanaged_and_hands_off_connections_as_such(organization: Organization) -> None:
    from peering.map.publish import observe_map  # noqa: PLC0415 - the map is imported only when wanted

    existing = existing_peerings(organization, hand_vpc_tags=HANDS_OFF)

    peering_map = observe_map(
        Engine(Settings.from_env()), [(HUB_ACCOUNT, REGION), (organization.platform_account, REGION)]
    )

    states = {e.connection_id: (e.state, e.health) for e in peering_map.edges}
    assert states == {
        existing.by_hand: ("hands-off", "out-of-scope"),
        existing.terraform: ("unmanaged", "out-of-scope"),
    }
    assert peering_map.counts()["out-of-scope"] == 2


def test_a_hands_off_connections_stale_rules_are_reported_not_revoked(
    organization: Organization, context: FakeContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ALLOW_SG_REVOCATION", "true")
    put_policy(default_policy(organization) + "cleanup:\n  revokeStaleSecurityGroupRules: true\n")
    a = dns_ready_vpc(HUB_ACCOUNT, "10.0.0.0/16")
    b = dns_ready_vpc(HUB_ACCOUNT, "10.1.0.0/16")
    pcx, event = request_peering(HUB_ACCOUNT, a, HUB_ACCOUNT, b)
    accept.lambda_handler(event, context)
    client = ec2(HUB_ACCOUNT)
    group_a = client.create_security_group(GroupName="app", Description="app", VpcId=a)["GroupId"]
    group_b = client.create_security_group(GroupName="db", Description="db", VpcId=b)["GroupId"]
    pair = {"GroupId": group_a, "UserId": HUB_ACCOUNT, "VpcId": a, "VpcPeeringConnectionId": pcx}
    client.authorize_security_group_ingress(
        GroupId=group_b,
        IpPermissions=[{"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432, "UserIdGroupPairs": [pair]}],
    )
    client.create_tags(Resources=[b], Tags=[{"Key": k, "Value": v} for k, v in HANDS_OFF.items()])
    client.delete_vpc_peering_connection(VpcPeeringConnectionId=pcx)
    deleted = cloudtrail_event(
        "DeleteVpcPeeringConnection",
        account=HUB_ACCOUNT,
        region=REGION,
        request_parameters={"vpcPeeringConnectionId": pcx},
    )

    result = cleanup.lambda_handler(deleted, context)

    assert not [a for a in result["actions"] if a["action"].startswith("revoke")]
    kept = client.describe_security_groups(GroupIds=[group_b])["SecurityGroups"][0]["IpPermissions"]
    assert kept[0]["UserIdGroupPairs"][0]["GroupId"] == group_a
    assert any(group_b in r for r in result["reasons"])  # reported


def test_a_request_to_an_account_outside_the_organization_is_managed_once_accepted(
    organization: Organization, context: FakeContext
) -> None:
    """No decision is recorded (the outsider decides) and its Accept event never reaches the hub:
    the requester side saw the request after deployment, so its sweep wires that side."""
    ours = dns_ready_vpc(organization.platform_account, "10.20.0.0/16")
    theirs = dns_ready_vpc(organization.outsider_account, "172.16.0.0/16")
    pcx, event = request_peering(organization.platform_account, ours, organization.outsider_account, theirs)
    assert accept.lambda_handler(event, context)["outcome"] == "not-managed"
    ec2(organization.outsider_account).accept_vpc_peering_connection(VpcPeeringConnectionId=pcx)

    swept = sweep(organization.platform_account)

    assert scope_item(pcx) == "managed"
    assert "scopes" not in swept
    assert {d for _, d in peer_routes(organization.platform_account, ours, pcx)} == {"172.16.0.0/16"}
