"""The accept function on moto: every decision path, same-account, cross-account, inter-Region.

Each test asserts on the resulting AWS state (connection status and tags, ledger items, messages
on the notification topic, metrics printed), never only on return values.
"""

from __future__ import annotations

import ipaddress
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from moto.ec2.models import ec2_backends

from emulation import lifecycle
from peering.aws import policy_store
from peering.aws.clients import AwsClients
from peering.aws.observe import describe_vpcs
from peering.core.errors import NotReadyError
from peering.runtime.config import Settings
from tests.builders import (
    ACCEPT_TAG,
    cloudtrail_event,
    ledger_items,
    ledger_state,
    make_vpc,
    request_peering,
    status,
    tags,
)
from tests.conftest import (
    HUB_ACCOUNT,
    OTHER_REGION,
    POLICY_PARAMETER,
    REGION,
    FakeContext,
    Organization,
    ec2,
    emitted_metrics,
    load_function,
    put_policy,
)

accept = load_function("accept")


def run(event: Any, context: FakeContext) -> dict[str, Any]:
    result: dict[str, Any] = accept.lambda_handler(event, context)
    return result


def test_same_account_request_is_accepted(organization: Organization, context: FakeContext, capsys: Any) -> None:
    requester = make_vpc(HUB_ACCOUNT, "10.0.0.0/16")
    accepter = make_vpc(HUB_ACCOUNT, "10.1.0.0/16")
    pcx, event = request_peering(HUB_ACCOUNT, requester, HUB_ACCOUNT, accepter)

    result = run(event, context)

    assert result["ok"]
    assert result["outcome"] == "accepted"
    assert status(HUB_ACCOUNT, pcx) == "active"
    assert tags(HUB_ACCOUNT, pcx)["peering-autopilot:decision"] == "accepted"
    assert tags(HUB_ACCOUNT, pcx)["peering-autopilot:rule"] == "hub-internal"
    state = ledger_state(pcx)
    assert state["decision"]["S"] == "accepted"
    assert state["policyVersion"]["S"] == "test-1"
    assert state["accepter"]["S"] == f"{HUB_ACCOUNT}/{REGION}/{accepter}"
    expires = datetime.fromisoformat(state["expirationTime"]["S"])  # the request's 7-day expiry, recorded
    assert timedelta(days=6) < expires - datetime.now(UTC) <= timedelta(days=7)
    assert organization.notifications() == []  # nothing for a person to do
    assert emitted_metrics(capsys.readouterr().out)["RequestsAccepted"] == 1


def test_cross_account_request_from_platform_ou_is_accepted_into_opted_in_vpc(
    organization: Organization, context: FakeContext
) -> None:
    requester = make_vpc(organization.platform_account, "10.20.0.0/16")
    accepter = make_vpc(HUB_ACCOUNT, "10.1.0.0/16", tags=ACCEPT_TAG)
    pcx, event = request_peering(organization.platform_account, requester, HUB_ACCOUNT, accepter)

    result = run(event, context)

    assert result["outcome"] == "accepted", result
    assert status(HUB_ACCOUNT, pcx) == "active"
    assert status(organization.platform_account, pcx) == "active"  # the requester sees it too
    assert ledger_state(pcx)["rule"]["S"] == "platform-into-opted-in-vpcs"


def test_accepter_in_member_account_is_reached_through_the_member_role(
    organization: Organization, context: FakeContext
) -> None:
    # The event arrives from the requester (hub); accepting must happen in the member account.
    put_policy(
        "schemaVersion: 1\nversion: test-2\nrules:\n"
        f"  - {{name: hub-out, action: accept, requester: {{accounts: ['{HUB_ACCOUNT}']}}}}\n"
    )
    requester = make_vpc(HUB_ACCOUNT, "10.0.0.0/16")
    accepter = make_vpc(organization.platform_account, "10.30.0.0/16")
    pcx, event = request_peering(HUB_ACCOUNT, requester, organization.platform_account, accepter)

    result = run(event, context)

    assert result["outcome"] == "accepted", result
    assert status(organization.platform_account, pcx) == "active"
    # the decision tag lives in the accepter's account, where it was set
    assert tags(organization.platform_account, pcx)["peering-autopilot:decision"] == "accepted"


def test_inter_region_request_is_accepted_in_the_accepter_region(
    organization: Organization, context: FakeContext
) -> None:
    requester = make_vpc(organization.platform_account, "10.20.0.0/16", region=REGION)
    accepter = make_vpc(HUB_ACCOUNT, "10.40.0.0/16", region=OTHER_REGION, tags=ACCEPT_TAG)
    pcx, event = request_peering(
        organization.platform_account, requester, HUB_ACCOUNT, accepter, region=REGION, peer_region=OTHER_REGION
    )

    result = run(event, context)

    assert result["outcome"] == "accepted", result
    assert status(HUB_ACCOUNT, pcx, OTHER_REGION) == "active"
    assert ledger_state(pcx)["accepter"]["S"] == f"{HUB_ACCOUNT}/{OTHER_REGION}/{accepter}"


def test_overlapping_secondary_block_is_rejected_with_the_blocks_named(
    organization: Organization, context: FakeContext, capsys: Any
) -> None:
    requester = make_vpc(organization.platform_account, "10.20.0.0/16")
    accepter = make_vpc(HUB_ACCOUNT, "10.50.128.0/17", tags=ACCEPT_TAG)
    pcx, event = request_peering(organization.platform_account, requester, HUB_ACCOUNT, accepter)
    # AWS fails a request whose VPCs overlap when it is made; a block associated while the
    # request waits is only caught by checking again before accepting.
    ec2(organization.platform_account).associate_vpc_cidr_block(VpcId=requester, CidrBlock="10.50.0.0/16")

    result = run(event, context)

    assert result["outcome"] == "rejected"
    assert status(HUB_ACCOUNT, pcx) == "rejected"
    assert any("10.50.128.0/17 overlaps 10.50.0.0/16" in r for r in result["reasons"])
    notes = organization.notifications()
    assert len(notes) == 1
    assert "rejected" in notes[0]["subject"]
    assert "10.50.128.0/17 overlaps 10.50.0.0/16" in notes[0]["message"]
    assert emitted_metrics(capsys.readouterr().out)["RequestsRejected"] == 1


def test_ipv6_overlap_is_rejected(organization: Organization, context: FakeContext) -> None:
    requester = make_vpc(HUB_ACCOUNT, "10.0.0.0/16", ipv6=True)
    accepter = make_vpc(HUB_ACCOUNT, "10.1.0.0/16", ipv6=True)
    ipv6 = ec2_ipv6_block(requester)
    # Amazon hands out distinct /56 blocks, so give the accepter the requester's block directly,
    # after the request was made (AWS fails overlapping requests at creation): IPv6 is checked too.
    pcx, event = request_peering(HUB_ACCOUNT, requester, HUB_ACCOUNT, accepter)
    vpc = ec2_backends[HUB_ACCOUNT][REGION].get_vpc(accepter)
    for association in vpc._cidr_block_association_set.values():
        if ":" in association["cidr_block"]:
            association["cidr_block"] = ipv6

    result = run(event, context)

    assert result["outcome"] == "rejected", result
    canonical = str(ipaddress.ip_network(ipv6))  # reasons name blocks in canonical form
    assert any(f"{canonical} overlaps {canonical}" in r for r in result["reasons"])
    assert status(HUB_ACCOUNT, pcx) == "rejected"


def ec2_ipv6_block(vpc_id: str) -> str:
    vpc = boto3.client("ec2", region_name=REGION).describe_vpcs(VpcIds=[vpc_id])["Vpcs"][0]
    return str(vpc["Ipv6CidrBlockAssociationSet"][0]["Ipv6CidrBlock"])


def test_unknown_requester_is_held_and_the_operator_is_told_what_to_do(
    organization: Organization, context: FakeContext, capsys: Any
) -> None:
    requester = make_vpc(organization.outsider_account, "172.16.0.0/16")
    accepter = make_vpc(HUB_ACCOUNT, "10.1.0.0/16", tags=ACCEPT_TAG)
    pcx, event = request_peering(organization.outsider_account, requester, HUB_ACCOUNT, accepter)

    result = run(event, context)

    assert result["outcome"] == "held"
    assert status(HUB_ACCOUNT, pcx) == "pending-acceptance"
    assert tags(HUB_ACCOUNT, pcx)["peering-autopilot:decision"] == "held"
    assert ledger_state(pcx)["decision"]["S"] == "held"
    notes = organization.notifications()
    assert len(notes) == 1
    assert "held" in notes[0]["subject"]
    assert "Approve Peering Request" in notes[0]["message"]
    assert pcx in notes[0]["message"]
    assert emitted_metrics(capsys.readouterr().out)["RequestsHeld"] == 1


def test_sandbox_ou_is_rejected_even_into_an_opted_in_vpc(organization: Organization, context: FakeContext) -> None:
    requester = make_vpc(organization.sandbox_account, "10.60.0.0/16")
    accepter = make_vpc(organization.platform_account, "10.30.0.0/16", tags=ACCEPT_TAG)
    pcx, event = request_peering(organization.sandbox_account, requester, organization.platform_account, accepter)

    result = run(event, context)

    assert result["outcome"] == "rejected"
    assert "no-sandbox" in result["reasons"][0]
    assert status(organization.platform_account, pcx) == "rejected"


def test_platform_request_into_vpc_without_opt_in_tag_is_held(organization: Organization, context: FakeContext) -> None:
    requester = make_vpc(organization.platform_account, "10.20.0.0/16")
    accepter = make_vpc(HUB_ACCOUNT, "10.1.0.0/16")  # no opt-in tag
    pcx, event = request_peering(organization.platform_account, requester, HUB_ACCOUNT, accepter)

    assert run(event, context)["outcome"] == "held"
    assert status(HUB_ACCOUNT, pcx) == "pending-acceptance"


def test_second_connection_between_the_same_vpcs_is_rejected(organization: Organization, context: FakeContext) -> None:
    requester = make_vpc(HUB_ACCOUNT, "10.0.0.0/16")
    accepter = make_vpc(HUB_ACCOUNT, "10.1.0.0/16")
    first, first_event = request_peering(HUB_ACCOUNT, requester, HUB_ACCOUNT, accepter)
    run(first_event, context)
    second, second_event = request_peering(HUB_ACCOUNT, accepter, HUB_ACCOUNT, requester)  # reverse direction

    result = run(second_event, context)

    assert result["outcome"] == "rejected"
    assert any(first in r for r in result["reasons"])
    assert status(HUB_ACCOUNT, first) == "active"
    assert status(HUB_ACCOUNT, second) == "rejected"


def test_no_quota_headroom_holds_an_approved_request(
    organization: Organization, context: FakeContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ACTIVE_PEERINGS_QUOTA", "1")
    hub_vpc = make_vpc(HUB_ACCOUNT, "10.1.0.0/16")
    other = make_vpc(HUB_ACCOUNT, "10.2.0.0/16")
    _, first_event = request_peering(HUB_ACCOUNT, other, HUB_ACCOUNT, hub_vpc)
    assert run(first_event, context)["outcome"] == "accepted"
    third = make_vpc(HUB_ACCOUNT, "10.3.0.0/16")
    pcx, event = request_peering(HUB_ACCOUNT, third, HUB_ACCOUNT, hub_vpc)

    result = run(event, context)

    assert result["outcome"] == "held"
    assert any("quota" in r for r in result["reasons"])
    assert status(HUB_ACCOUNT, pcx) == "pending-acceptance"


@pytest.mark.parametrize(
    "policy_text",
    [
        "schemaVersion: 1\nversion: broken\nrules:\n  - {name: x, action: allow}\n",  # unknown action
        "not: [valid",  # not YAML
        None,  # parameter missing
    ],
)
def test_invalid_or_missing_policy_holds_everything(
    organization: Organization, context: FakeContext, capsys: Any, policy_text: str | None
) -> None:
    if policy_text is None:
        boto3.client("ssm", region_name=REGION).delete_parameter(Name=POLICY_PARAMETER)
        policy_store.reset()
    else:
        put_policy(policy_text)
    requester = make_vpc(HUB_ACCOUNT, "10.0.0.0/16")
    accepter = make_vpc(HUB_ACCOUNT, "10.1.0.0/16")  # would be accepted by the valid policy
    pcx, event = request_peering(HUB_ACCOUNT, requester, HUB_ACCOUNT, accepter)

    result = run(event, context)

    assert result["outcome"] == "held"
    assert "policy unavailable" in result["reasons"][0]
    assert status(HUB_ACCOUNT, pcx) == "pending-acceptance"
    assert ledger_state(pcx)["policyVersion"]["S"] == "none"
    assert emitted_metrics(capsys.readouterr().out)["PolicyInvalid"] == 1


def test_redelivered_event_does_not_notify_twice(organization: Organization, context: FakeContext) -> None:
    requester = make_vpc(organization.outsider_account, "172.16.0.0/16")
    accepter = make_vpc(HUB_ACCOUNT, "10.1.0.0/16")
    pcx, event = request_peering(organization.outsider_account, requester, HUB_ACCOUNT, accepter)

    assert run(event, context)["outcome"] == "held"
    assert run(event, context)["outcome"] == "unchanged"

    assert len(organization.notifications()) == 1
    assert status(HUB_ACCOUNT, pcx) == "pending-acceptance"


def test_redelivered_event_after_acceptance_changes_nothing(organization: Organization, context: FakeContext) -> None:
    requester = make_vpc(HUB_ACCOUNT, "10.0.0.0/16")
    accepter = make_vpc(HUB_ACCOUNT, "10.1.0.0/16")
    pcx, event = request_peering(HUB_ACCOUNT, requester, HUB_ACCOUNT, accepter)
    run(event, context)
    before = ledger_items(pcx)

    result = run(event, context)

    assert result["ok"]
    assert result["outcome"] == "not-pending"
    assert status(HUB_ACCOUNT, pcx) == "active"
    assert len(ledger_items(pcx)) == len(before)


def test_dry_run_decides_but_changes_nothing(
    organization: Organization, context: FakeContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DRY_RUN", "true")
    requester = make_vpc(HUB_ACCOUNT, "10.0.0.0/16")
    accepter = make_vpc(HUB_ACCOUNT, "10.1.0.0/16")
    pcx, event = request_peering(HUB_ACCOUNT, requester, HUB_ACCOUNT, accepter)

    result = run(event, context)

    assert result["dryRun"]
    assert result["outcome"] == "accepted"
    assert {a["status"] for a in result["actions"]} == {"dry-run"}
    assert f"accept {pcx}" in result["plan"]
    assert status(HUB_ACCOUNT, pcx) == "pending-acceptance"
    assert "peering-autopilot:decision" not in tags(HUB_ACCOUNT, pcx)
    assert ledger_state(pcx) == {}  # only the plan is logged
    assert [i["dryRun"]["BOOL"] for i in ledger_items(pcx)] == [True]


def test_connection_still_initiating_is_retried(organization: Organization, context: FakeContext) -> None:
    requester = make_vpc(HUB_ACCOUNT, "10.0.0.0/16")
    accepter = make_vpc(HUB_ACCOUNT, "10.1.0.0/16")
    pcx, event = request_peering(HUB_ACCOUNT, requester, HUB_ACCOUNT, accepter)
    # AWS shows initiating-request for a moment after Create; moto goes straight to pending.
    lifecycle.set_status(pcx, "initiating-request")

    with pytest.raises(NotReadyError):
        run(event, context)
    assert status(HUB_ACCOUNT, pcx) == "initiating-request"
    assert ledger_items(pcx) == []


def test_failed_api_call_is_skipped_and_changes_nothing(
    organization: Organization, context: FakeContext, capsys: Any
) -> None:
    event = cloudtrail_event(
        "CreateVpcPeeringConnection",
        account=HUB_ACCOUNT,
        region=REGION,
        request_parameters={"vpcId": "vpc-1", "peerVpcId": "vpc-2"},
        error_code="Client.InvalidVpcID.NotFound",
    )

    result = run(event, context)

    assert result == {"ok": False, "error": "skipped_event", "message": result["message"]}
    assert "Client.InvalidVpcID.NotFound" in result["message"]
    assert boto3.client("ec2", region_name=REGION).describe_vpc_peering_connections()["VpcPeeringConnections"] == []
    assert emitted_metrics(capsys.readouterr().out)["SkippedEvents"] == 1


def _mutations() -> list[tuple[str, Any]]:
    def wrong_source(e: dict[str, Any]) -> None:
        e["source"] = "aws.s3"

    def wrong_detail_type(e: dict[str, Any]) -> None:
        e["detail-type"] = "EC2 Instance State-change Notification"

    def wrong_event_name(e: dict[str, Any]) -> None:
        e["detail"]["eventName"] = "DeleteVpcPeeringConnection"

    def no_detail(e: dict[str, Any]) -> None:
        del e["detail"]

    def no_connection_id(e: dict[str, Any]) -> None:
        del e["detail"]["responseElements"]["vpcPeeringConnection"]["vpcPeeringConnectionId"]

    def bad_region(e: dict[str, Any]) -> None:
        e["detail"]["awsRegion"] = "../../etc"

    return [
        (f.__name__, f)
        for f in (wrong_source, wrong_detail_type, wrong_event_name, no_detail, no_connection_id, bad_region)
    ]


@pytest.mark.parametrize(("name", "mutate"), _mutations())
def test_invalid_events_are_refused_with_a_typed_error_and_change_nothing(
    organization: Organization, context: FakeContext, capsys: Any, name: str, mutate: Any
) -> None:
    requester = make_vpc(HUB_ACCOUNT, "10.0.0.0/16")
    accepter = make_vpc(HUB_ACCOUNT, "10.1.0.0/16")
    pcx, event = request_peering(HUB_ACCOUNT, requester, HUB_ACCOUNT, accepter)
    mutate(event)

    result = run(event, context)

    assert result["ok"] is False, name
    assert result["error"] == "invalid_event", name
    assert status(HUB_ACCOUNT, pcx) == "pending-acceptance"
    assert tags(HUB_ACCOUNT, pcx) == {}
    assert ledger_items(pcx) == []
    assert emitted_metrics(capsys.readouterr().out)["InvalidEvents"] == 1


def test_non_object_event_is_refused(organization: Organization, context: FakeContext) -> None:
    assert run(["not", "an", "event"], context)["error"] == "invalid_event"


def test_unknown_connection_id_is_answered_not_retried_and_changes_nothing(
    organization: Organization, context: FakeContext, capsys: Any
) -> None:
    requester = make_vpc(HUB_ACCOUNT, "10.0.0.0/16")
    accepter = make_vpc(HUB_ACCOUNT, "10.1.0.0/16")
    pcx, event = request_peering(HUB_ACCOUNT, requester, HUB_ACCOUNT, accepter)
    event["detail"]["responseElements"]["vpcPeeringConnection"]["vpcPeeringConnectionId"] = "pcx-0123456789abcdef0"

    result = run(event, context)  # a retry could not make it exist: no retry, no dead letter

    assert (result["ok"], result["error"]) == (False, "unknown_connection")
    assert status(HUB_ACCOUNT, pcx) == "pending-acceptance"
    assert ledger_items("pcx-0123456789abcdef0") == []
    assert emitted_metrics(capsys.readouterr().out)["UnknownConnections"] == 1


def test_forged_event_cannot_change_the_decision(organization: Organization, context: FakeContext) -> None:
    """An event claiming the requester is the hub does not make an outsider's request acceptable."""
    requester = make_vpc(organization.outsider_account, "172.16.0.0/16")
    accepter = make_vpc(HUB_ACCOUNT, "10.1.0.0/16")
    pcx, event = request_peering(organization.outsider_account, requester, HUB_ACCOUNT, accepter)
    forged = event["detail"]["responseElements"]["vpcPeeringConnection"]
    forged["requesterVpcInfo"]["ownerId"] = HUB_ACCOUNT
    event["account"] = HUB_ACCOUNT
    event["detail"]["recipientAccountId"] = HUB_ACCOUNT

    result = run(event, context)

    assert result["outcome"] == "held"
    assert status(HUB_ACCOUNT, pcx) == "pending-acceptance"


def test_request_to_an_account_outside_the_organization_is_not_ours_to_decide(
    organization: Organization, context: FakeContext, capsys: Any
) -> None:
    requester = make_vpc(HUB_ACCOUNT, "10.0.0.0/16")
    accepter = make_vpc(organization.outsider_account, "172.16.0.0/16")
    pcx, event = request_peering(HUB_ACCOUNT, requester, organization.outsider_account, accepter)

    result = run(event, context)

    assert result["outcome"] == "not-managed"
    assert status(organization.outsider_account, pcx) == "pending-acceptance"  # never accepted for them
    assert tags(organization.outsider_account, pcx) == {}
    # No decision is recorded; only that our side saw the request after deployment (its scope:
    # once the outsider accepts, our side is wired, core/scope.py).
    assert ledger_state(pcx) == {}
    scope = [i for i in ledger_items(pcx) if i["sk"]["S"] == "SCOPE"]
    assert [i["scope"]["S"] for i in scope] == ["managed"]
    assert emitted_metrics(capsys.readouterr().out)["RequestsNotManaged"] == 1


def test_hint_pointing_at_the_requester_side_is_followed_to_the_real_accepter(
    organization: Organization, context: FakeContext
) -> None:
    requester = make_vpc(organization.platform_account, "10.20.0.0/16")
    accepter = make_vpc(HUB_ACCOUNT, "10.1.0.0/16", tags=ACCEPT_TAG)
    pcx, event = request_peering(organization.platform_account, requester, HUB_ACCOUNT, accepter)
    # An event without the accepter's owner: the engine looks in the requester's account first.
    del event["detail"]["responseElements"]["vpcPeeringConnection"]["accepterVpcInfo"]
    event["detail"]["requestParameters"].pop("peerOwnerId")

    result = run(event, context)

    assert result["outcome"] == "accepted"
    assert status(HUB_ACCOUNT, pcx) == "active"


def test_cross_account_request_failed_by_aws_is_not_retried(
    organization: Organization, context: FakeContext, capsys: Any
) -> None:
    """AWS fails a request between overlapping VPCs at creation; only the requester sees it."""
    requester = make_vpc(organization.platform_account, "10.1.0.0/16")
    accepter = make_vpc(HUB_ACCOUNT, "10.1.0.0/16", tags=ACCEPT_TAG)
    pcx, event = request_peering(organization.platform_account, requester, HUB_ACCOUNT, accepter)
    assert status(organization.platform_account, pcx) == "failed"

    result = run(event, context)

    assert result["outcome"] == "not-pending"
    assert "failed" in result["reasons"][0]
    assert ledger_items(pcx) == []
    assert emitted_metrics(capsys.readouterr().out)["RequestsNotPending"] == 1


def test_vpcs_read_together_are_still_found_when_one_of_them_is_gone(organization: Organization) -> None:
    kept = make_vpc(HUB_ACCOUNT, "10.0.0.0/16")
    gone = "vpc-0123456789abcdef0"  # DescribeVpcs fails as a whole for one unknown id
    aws = AwsClients(Settings.from_env())

    found = describe_vpcs(aws, HUB_ACCOUNT, REGION, [kept, gone])

    assert list(found) == [kept]
    assert describe_vpcs(aws, HUB_ACCOUNT, REGION, [gone]) == {}


# --- matching on the requester VPC's tags and on CIDR ranges ------------------------------------

PLATFORM_TEAM = {"team": "platform"}


def _matching_policy(organization: Organization) -> str:
    return f"""
schemaVersion: 1
version: test-matching
rules:
  - name: platform-team-vpcs
    action: accept
    requester:
      organization: self
      vpcTags: [{{key: team, value: platform}}]
  - name: tagged-outsider
    action: accept
    requester:
      accounts: ["{organization.outsider_account}"]
      vpcTags: [{{key: team, value: platform}}]
  - name: outsider-in-range
    action: accept
    requester:
      accounts: ["{organization.outsider_account}"]
      within: [172.16.0.0/12]
    accepter:
      within: [10.1.0.0/16]
"""


def test_requester_vpc_tags_are_read_in_the_requester_account_through_the_member_role(
    organization: Organization, context: FakeContext
) -> None:
    """The tags are on the requester's VPC, in the member account: the event carries none of them."""
    put_policy(_matching_policy(organization))
    member = organization.platform_account
    accepter = make_vpc(HUB_ACCOUNT, "10.1.0.0/16")  # no opt-in tag: only the requester's tag decides
    tagged = make_vpc(member, "10.20.0.0/16", tags={**PLATFORM_TEAM, "env": "prod"})
    other_team = make_vpc(member, "10.21.0.0/16", tags={"team": "payments"})
    pcx, event = request_peering(member, tagged, HUB_ACCOUNT, accepter)
    held_pcx, held_event = request_peering(member, other_team, HUB_ACCOUNT, make_vpc(HUB_ACCOUNT, "10.2.0.0/16"))

    accepted, held = run(event, context), run(held_event, context)

    assert (accepted["outcome"], held["outcome"]) == ("accepted", "held"), (accepted, held)
    assert status(HUB_ACCOUNT, pcx) == status(member, pcx) == "active"
    assert tags(HUB_ACCOUNT, pcx)["peering-autopilot:rule"] == "platform-team-vpcs"
    assert ledger_state(pcx)["policyVersion"]["S"] == "test-matching"
    assert status(HUB_ACCOUNT, held_pcx) == "pending-acceptance"
    assert ledger_state(held_pcx)["decision"]["S"] == "held"


def test_a_requester_outside_the_organization_never_matches_a_tag_rule(
    organization: Organization, context: FakeContext
) -> None:
    """Its VPC carries the tag, and the rule names its account: its tags are not read nor trusted."""
    put_policy(_matching_policy(organization))
    outsider = make_vpc(organization.outsider_account, "10.30.0.0/16", tags=PLATFORM_TEAM)
    pcx, event = request_peering(
        organization.outsider_account, outsider, HUB_ACCOUNT, make_vpc(HUB_ACCOUNT, "10.1.0.0/16")
    )

    result = run(event, context)

    assert result["outcome"] == "held", result
    assert status(HUB_ACCOUNT, pcx) == "pending-acceptance"
    state = ledger_state(pcx)
    assert (state["decision"]["S"], state["policyVersion"]["S"]) == ("held", "test-matching")
    assert "no rule of policy test-matching matches" in result["reasons"][0]
    assert result["reasons"][1] == (
        "the requester VPC's tags cannot be read in its account (outside the organization), "
        "so no rule on them matches ('platform-team-vpcs', 'tagged-outsider')"
    )
    assert "rule" not in state  # no rule matched it, the one naming its account included


def test_ranges_match_every_block_aws_reports_for_the_requester_outside_the_organization(
    organization: Organization, context: FakeContext
) -> None:
    """Outside the organization the requester's blocks are the connection's (which AWS verifies):
    a request whose VPC lies in the range is accepted; one with a secondary block outside is held."""
    put_policy(_matching_policy(organization))
    outsider = organization.outsider_account
    in_range = make_vpc(outsider, "172.16.0.0/16")
    straddling = make_vpc(outsider, "172.17.0.0/16", extra_cidrs=("192.168.0.0/24",))
    accepter, second_accepter = make_vpc(HUB_ACCOUNT, "10.1.0.0/16"), make_vpc(HUB_ACCOUNT, "10.1.0.0/16")
    pcx, event = request_peering(outsider, in_range, HUB_ACCOUNT, accepter)
    held_pcx, held_event = request_peering(outsider, straddling, HUB_ACCOUNT, second_accepter)

    accepted, held = run(event, context), run(held_event, context)

    assert (accepted["outcome"], held["outcome"]) == ("accepted", "held"), (accepted, held)
    assert tags(HUB_ACCOUNT, pcx)["peering-autopilot:rule"] == "outsider-in-range"
    assert status(HUB_ACCOUNT, held_pcx) == "pending-acceptance"
