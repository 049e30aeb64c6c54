"""Operator events on moto: approving or rejecting a held request, and refusing bad ones."""

from __future__ import annotations

from typing import Any

import pytest

from tests.builders import ledger_items, ledger_state, make_vpc, operator_event, request_peering, status
from tests.conftest import (
    HUB_ACCOUNT,
    OTHER_REGION,
    REGION,
    FakeContext,
    Organization,
    ec2,
    emitted_metrics,
    load_function,
)

accept = load_function("accept")
operator = load_function("operator")
configure = load_function("configure")

APPROVE = "Approve Peering Request"
REJECT = "Reject Peering Request"


def held_request(organization: Organization, context: FakeContext, requester_cidr: str = "172.16.0.0/16") -> str:
    requester = make_vpc(organization.outsider_account, requester_cidr)
    accepter = make_vpc(HUB_ACCOUNT, "10.1.0.0/16")
    pcx, event = request_peering(organization.outsider_account, requester, HUB_ACCOUNT, accepter)
    assert accept.lambda_handler(event, context)["outcome"] == "held"
    organization.notifications()  # drain the hold notification
    return pcx


def test_operator_approval_accepts_a_held_request(organization: Organization, context: FakeContext) -> None:
    pcx = held_request(organization, context)

    result = operator.lambda_handler(operator_event(APPROVE, pcx, comment="ticket NET-42"), context)

    assert result["outcome"] == "accepted", result
    assert status(HUB_ACCOUNT, pcx) == "active"
    recorded = ledger_state(pcx)
    assert recorded["decidedBy"]["S"] == "operator:alice"
    assert "comment: ticket NET-42" in [r["S"] for r in recorded["reasons"]["L"]]


def test_operator_rejection_rejects_a_held_request(organization: Organization, context: FakeContext) -> None:
    pcx = held_request(organization, context)

    result = operator.lambda_handler(operator_event(REJECT, pcx), context)

    assert result["outcome"] == "rejected"
    assert status(HUB_ACCOUNT, pcx) == "rejected"
    assert "rejected" in organization.notifications()[0]["subject"]


def test_approval_reruns_the_safety_checks(organization: Organization, context: FakeContext) -> None:
    requester = make_vpc(organization.outsider_account, "172.16.0.0/16")
    accepter = make_vpc(HUB_ACCOUNT, "10.1.0.0/16")
    pcx, event = request_peering(organization.outsider_account, requester, HUB_ACCOUNT, accepter)
    assert accept.lambda_handler(event, context)["outcome"] == "held"
    # While it waits, someone joins the same two VPCs by hand: approving now would duplicate it.
    other = ec2(HUB_ACCOUNT).create_vpc_peering_connection(
        VpcId=accepter, PeerVpcId=requester, PeerOwnerId=organization.outsider_account
    )["VpcPeeringConnection"]["VpcPeeringConnectionId"]
    ec2(organization.outsider_account).accept_vpc_peering_connection(VpcPeeringConnectionId=other)

    result = operator.lambda_handler(operator_event(APPROVE, pcx), context)

    assert result["outcome"] == "rejected"
    assert any(other in reason for reason in result["reasons"])
    assert status(HUB_ACCOUNT, pcx) == "rejected"


def test_approval_with_explicit_location_works_without_the_ledger(
    organization: Organization, context: FakeContext
) -> None:
    requester = make_vpc(organization.outsider_account, "172.16.0.0/16")
    accepter = make_vpc(HUB_ACCOUNT, "10.1.0.0/16")
    pcx, _ = request_peering(organization.outsider_account, requester, HUB_ACCOUNT, accepter)

    result = operator.lambda_handler(operator_event(APPROVE, pcx, accountId=HUB_ACCOUNT, region=REGION), context)

    assert result["outcome"] == "accepted"
    assert status(HUB_ACCOUNT, pcx) == "active"


@pytest.mark.parametrize(
    "envelope",
    [
        pytest.param({"account": "210987654321"}, id="put by another account"),
        pytest.param({"region": OTHER_REGION}, id="put on a bus in another Region"),
        pytest.param({"account": "210987654321", "region": OTHER_REGION}, id="both"),
    ],
)
def test_an_operator_event_not_put_on_the_hubs_bus_changes_nothing(
    organization: Organization,
    context: FakeContext,
    capsys: Any,
    caplog: pytest.LogCaptureFixture,
    envelope: dict[str, str],
) -> None:
    # Given a held request, and an approval whose envelope EventBridge could not have written
    # for the hub's peering bus (a direct invoke can write any envelope)
    pcx = held_request(organization, context)
    recorded = ledger_items(pcx)
    capsys.readouterr()

    # When it reaches the operator function
    result = operator.lambda_handler({**operator_event(APPROVE, pcx), **envelope}, context)

    # Then it is refused, logged and counted, and nothing changes in EC2 or the ledger
    assert (result["ok"], result["error"]) == (False, "unauthorized_operator")
    assert status(HUB_ACCOUNT, pcx) == "pending-acceptance"
    assert ledger_items(pcx) == recorded
    assert emitted_metrics(capsys.readouterr().out)["UnauthorizedOperatorEvents"] == 1
    assert "event refused" in caplog.messages

    # And the same approval, as the hub's bus delivers it, is carried out
    assert operator.lambda_handler(operator_event(APPROVE, pcx), context)["outcome"] == "accepted"
    assert status(HUB_ACCOUNT, pcx) == "active"


def test_a_converge_request_from_another_region_is_refused(organization: Organization, context: FakeContext) -> None:
    pcx = held_request(organization, context)
    operator.lambda_handler(operator_event(APPROVE, pcx), context)
    recorded = ledger_items(pcx)
    event = {**operator_event("Converge Peering Connection", pcx), "region": OTHER_REGION}

    result = configure.lambda_handler(event, context)

    assert result["error"] == "unauthorized_operator"
    assert ledger_items(pcx) == recorded


def test_unknown_connection_without_location_is_refused(organization: Organization, context: FakeContext) -> None:
    result = operator.lambda_handler(operator_event(APPROVE, "pcx-0123456789abcdef0"), context)

    assert result["error"] == "invalid_event"
    assert "accountId and region" in result["message"]


def test_unknown_connection_with_location_is_answered(organization: Organization, context: FakeContext) -> None:
    result = operator.lambda_handler(
        operator_event(APPROVE, "pcx-0123456789abcdef0", accountId=HUB_ACCOUNT, region=REGION), context
    )
    assert (result["ok"], result["error"]) == (False, "unknown_connection")


@pytest.mark.parametrize(
    "change",
    [
        {"detail": {"connectionId": "not-a-pcx"}},
        {"detail": {"connectionId": "pcx-0123456789abcdef0", "accountId": "12"}},
        {"detail": {"connectionId": "pcx-0123456789abcdef0", "sneaky": "field"}},
        {"detail-type": "Delete Everything"},
        {"source": "aws.ec2"},
    ],
)
def test_malformed_operator_events_are_refused(
    organization: Organization, context: FakeContext, change: dict[str, Any]
) -> None:
    pcx = held_request(organization, context)
    event = {**operator_event(APPROVE, pcx), **change}

    result = operator.lambda_handler(event, context)

    assert result["error"] == "invalid_event"
    assert status(HUB_ACCOUNT, pcx) == "pending-acceptance"


def test_approving_an_already_accepted_request_changes_nothing(
    organization: Organization, context: FakeContext
) -> None:
    pcx = held_request(organization, context)
    operator.lambda_handler(operator_event(APPROVE, pcx), context)

    result = operator.lambda_handler(operator_event(APPROVE, pcx), context)

    assert result["outcome"] == "not-pending"
    assert status(HUB_ACCOUNT, pcx) == "active"
