"""Events that lie or name the wrong place: the engine may look, never write (issue 10).

Every test sends a real-shaped event for a real connection (or a made-up one) to a handler on
moto and asserts the state of EC2, the ledger and the topic afterwards.
"""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from emulation import cloudtrail
from peering.sweep.messages import SweepTarget
from tests.builders import cloudtrail_event, ledger_state, sqs_event, status
from tests.conftest import HUB_ACCOUNT, OTHER_REGION, REGION, FakeContext, Organization, emitted_metrics, load_function
from tests.integration.test_cleanup import call_event, wired
from tests.integration.test_configure import accept_event, accepted, dns_ready_vpc, peer_routes

cleanup = load_function("cleanup")
configure = load_function("configure")
worker = load_function("worker")


def live(organization: Organization, context: FakeContext) -> tuple[str, str, str]:
    a = dns_ready_vpc(HUB_ACCOUNT, "10.0.0.0/16")
    b = dns_ready_vpc(HUB_ACCOUNT, "10.1.0.0/16")
    pcx = wired(organization, context, (HUB_ACCOUNT, a), (HUB_ACCOUNT, b))
    organization.notifications()
    return pcx, a, b


@pytest.mark.parametrize("event_name", ["DeleteVpcPeeringConnection", "RejectVpcPeeringConnection"])
@pytest.mark.parametrize(
    "where",
    [(HUB_ACCOUNT, OTHER_REGION), ("222222222222", REGION)],
    ids=["wrong-region", "wrong-account"],
)
def test_a_delete_naming_the_wrong_place_does_not_tear_down_a_live_connection(
    organization: Organization, context: FakeContext, event_name: str, where: tuple[str, str]
) -> None:
    pcx, a, b = live(organization, context)

    result = cleanup.lambda_handler(call_event(event_name, where[0], pcx, where[1]), context)

    assert result["outcome"] == "not-dead"  # found alive where the ledger recorded its sides
    assert status(HUB_ACCOUNT, pcx) == "active"
    assert peer_routes(HUB_ACCOUNT, a, pcx)
    assert peer_routes(HUB_ACCOUNT, b, pcx)
    assert "closedAt" not in ledger_state(pcx)
    assert organization.notifications() == []


def test_a_delete_for_an_id_nobody_knows_writes_nothing(
    organization: Organization, context: FakeContext, capsys: Any
) -> None:
    result = cleanup.lambda_handler(
        call_event("DeleteVpcPeeringConnection", HUB_ACCOUNT, "pcx-0123456789abcdef0"), context
    )

    assert (result["ok"], result["outcome"]) == (True, "not-found")  # answered: no retry, no DLQ
    assert ledger_state("pcx-0123456789abcdef0") == {}
    assert organization.notifications() == []
    assert emitted_metrics(capsys.readouterr().out)["UnknownConnections"] == 1


def test_a_late_delete_does_not_rewrite_a_final_status(organization: Organization, context: FakeContext) -> None:
    pcx, _, _ = live(organization, context)
    boto3.client("ec2", region_name=REGION).delete_vpc_peering_connection(VpcPeeringConnectionId=pcx)
    assert cleanup.lambda_handler(call_event("DeleteVpcPeeringConnection", HUB_ACCOUNT, pcx), context)["outcome"] == (
        "cleaned"
    )
    closed_at = ledger_state(pcx)["closedAt"]
    organization.notifications()

    again = cleanup.lambda_handler(call_event("RejectVpcPeeringConnection", HUB_ACCOUNT, pcx), context)

    assert again["outcome"] == "unchanged"
    assert ledger_state(pcx)["closedAt"] == closed_at
    assert ledger_state(pcx)["status"]["S"] == "deleted"
    assert organization.notifications() == []


def test_the_owners_copy_of_an_inter_region_accept_converges_without_a_retry(
    organization: Organization, context: FakeContext
) -> None:
    """The accepter (hub, eu-west-1) accepts; CloudTrail also delivers a copy to the requester's
    account. Both copies must lead to the caller's view: one configuration, no retry."""
    requester = dns_ready_vpc(organization.platform_account, "10.20.0.0/16", region=REGION)
    accepter = dns_ready_vpc(
        HUB_ACCOUNT, "10.40.0.0/16", region=OTHER_REGION, tags={"peering-autopilot:accept": "true"}
    )
    pcx = accepted(
        organization,
        context,
        (organization.platform_account, requester),
        (HUB_ACCOUNT, accepter),
        region=REGION,
        peer_region=OTHER_REGION,
    )
    original = accept_event(HUB_ACCOUNT, pcx, OTHER_REGION)
    copy = cloudtrail.owner_copy(original, organization.platform_account)

    first = configure.lambda_handler(copy, context)  # the copy may arrive first
    second = configure.lambda_handler(original, context)

    assert (first["outcome"], second["outcome"]) == ("configured", "unchanged")
    assert peer_routes(organization.platform_account, requester, pcx, REGION)
    assert peer_routes(HUB_ACCOUNT, accepter, pcx, OTHER_REGION)


def test_configure_refuses_to_act_in_an_account_outside_the_organization(
    organization: Organization, context: FakeContext, capsys: Any
) -> None:
    event = accept_event(organization.outsider_account, "pcx-0123456789abcdef0")

    result = configure.lambda_handler(event, context)

    assert (result["ok"], result["error"]) == (False, "outside_organization")
    assert emitted_metrics(capsys.readouterr().out)["OutsideOrganizationEvents"] == 1


def test_a_cidr_change_in_an_account_outside_the_organization_is_answered(
    organization: Organization, context: FakeContext
) -> None:
    event = cloudtrail_event(
        "AssociateVpcCidrBlock",
        account=organization.outsider_account,
        region=REGION,
        request_parameters={"vpcId": "vpc-0123456789abcdef0", "cidrBlock": "10.9.0.0/16"},
        response_elements={"vpcId": "vpc-0123456789abcdef0"},
    )
    assert configure.lambda_handler(event, context)["error"] == "outside_organization"


@pytest.mark.parametrize("body", ["not json", "{}", '{"account": "12", "region": "us-east-1"}', "[1, 2]"])
def test_a_malformed_sweep_message_is_dropped_not_retried(
    organization: Organization, context: FakeContext, capsys: Any, body: str
) -> None:
    good = SweepTarget(HUB_ACCOUNT, REGION, "s").to_message()

    answer = worker.lambda_handler(sqs_event(body, good), context)

    assert answer == {"batchItemFailures": []}  # a retry could never help the bad one
    assert emitted_metrics(capsys.readouterr().out)["InvalidEvents"] == 1
