"""Faults during the sweep: one account failing never stops the others, a dry run records every
change it would make, and a withdrawal interrupted anywhere is finished, notice included.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from emulation import lifecycle
from peering.runtime.batch import BatchProcessingError
from peering.sweep.messages import SweepTarget
from tests.builders import accepted_by_hand, ledger_items, make_vpc, status
from tests.builders import sqs_event as queue_event
from tests.conftest import HUB_ACCOUNT, REGION, FakeContext, Organization, ec2, load_function
from tests.faults import Faults
from tests.integration.test_configure import accept_event, accepted, dns_ready_vpc
from tests.reliability.conftest import invoke, ledger_summary, outbox_items, routes_to

worker = load_function("worker")
configure = load_function("configure")


def sqs_event(*targets: SweepTarget) -> dict[str, Any]:
    """The worker's SQS event, one record per target (message ids m-0, m-1, ...)."""
    return queue_event(*(t.to_message() for t in targets))


def unconfigured(organization: Organization, account: str) -> tuple[str, str]:
    """An active same-account connection in ``account`` whose Accept event was lost."""
    a = dns_ready_vpc(account, "10.0.0.0/16")
    b = dns_ready_vpc(account, "10.1.0.0/16")
    pcx = ec2(account).create_vpc_peering_connection(VpcId=a, PeerVpcId=b)["VpcPeeringConnection"][
        "VpcPeeringConnectionId"
    ]
    accepted_by_hand(account, pcx)  # the Accept event reached configure, whose work was lost
    return pcx, a


def test_a_long_outage_of_a_target_fails_the_whole_one_record_batch(organization: Organization, faults: Faults) -> None:
    unconfigured(organization, HUB_ACCOUNT)
    faults.server_error("ec2", "DescribeVpcPeeringConnections", times=None)

    with pytest.raises(BatchProcessingError):
        worker.lambda_handler(sqs_event(SweepTarget(HUB_ACCOUNT, REGION, "s1")), FakeContext())


# --- 7. a dry run records every change it would make ---------------------------------------------------


def _stale_request(organization: Organization) -> str:
    a = make_vpc(HUB_ACCOUNT, "10.0.0.0/16")
    b = make_vpc(organization.outsider_account, "172.16.0.0/16")
    pcx: str = ec2(HUB_ACCOUNT).create_vpc_peering_connection(
        VpcId=a, PeerVpcId=b, PeerOwnerId=organization.outsider_account
    )["VpcPeeringConnection"]["VpcPeeringConnectionId"]
    lifecycle.age(pcx, hours=73)  # the policy's default limit is 72 h
    return pcx


def _plans_in_ledger(connection_id: str) -> list[str]:
    return [
        line["S"]
        for item in ledger_items(connection_id)
        if item.get("kind", {}).get("S") == "configure" and item.get("dryRun", {}).get("BOOL")
        for line in item["plan"]["L"]
    ]


def test_a_dry_run_sweep_puts_every_planned_change_in_the_ledger(organization: Organization) -> None:
    stale = _stale_request(organization)
    a = dns_ready_vpc(HUB_ACCOUNT, "10.5.0.0/16")
    b = dns_ready_vpc(HUB_ACCOUNT, "10.6.0.0/16")
    vanished = accepted(organization, FakeContext(), (HUB_ACCOUNT, a), (HUB_ACCOUNT, b))
    configure.lambda_handler(accept_event(HUB_ACCOUNT, vanished), FakeContext())
    ec2(HUB_ACCOUNT).delete_vpc_peering_connection(VpcPeeringConnectionId=vanished)
    lifecycle.forget_connection(vanished)  # only its blackhole routes are left
    organization.notifications()

    worker.lambda_handler(sqs_event(SweepTarget(HUB_ACCOUNT, REGION, "dry", dry_run=True)), FakeContext())

    assert status(HUB_ACCOUNT, stale) == "pending-acceptance"  # nothing changed...
    assert len(routes_to(HUB_ACCOUNT, vanished)) == 2
    assert organization.notifications() == []
    assert [line for line in _plans_in_ledger(stale) if line.startswith("withdraw")]  # ...all of it recorded
    assert len([line for line in _plans_in_ledger(vanished) if line.startswith("delete route")]) == 2


# --- the withdrawal of a stale request, interrupted anywhere ------------------------------------------

WITHDRAW_MUTATIONS = [
    "dynamodb:UpdateItem",  # the intent, with its notice
    "ec2:DeleteVpcPeeringConnection",
    "dynamodb:TransactWriteItems",  # closed as withdrawn + notice queued
    "dynamodb:UpdateItem",  # claimed
    "sns:Publish",
    "dynamodb:DeleteItem",
    "dynamodb:PutItem",
]


def test_the_pinned_order_of_withdrawal_changes_is_the_engines(organization: Organization, faults: Faults) -> None:
    _stale_request(organization)
    seen = faults.crash_after_mutation(0)
    worker.lambda_handler(sqs_event(SweepTarget(HUB_ACCOUNT, REGION, "s")), FakeContext())
    assert seen == WITHDRAW_MUTATIONS


@pytest.mark.parametrize("n", range(1, len(WITHDRAW_MUTATIONS) + 1))
def test_a_withdrawal_interrupted_after_any_change_is_finished_by_the_next_sweep(
    organization: Organization, faults: Faults, sweep_now: Callable[[], dict[str, Any]], n: int
) -> None:
    stale = _stale_request(organization)
    faults.crash_after_mutation(n)
    assert invoke(worker, sqs_event(SweepTarget(HUB_ACCOUNT, REGION, "s1"))) == "crashed"
    faults.clear()

    # The message is received again after its visibility timeout.
    assert worker.lambda_handler(sqs_event(SweepTarget(HUB_ACCOUNT, REGION, "s1")), FakeContext()) == {
        "batchItemFailures": []
    }
    if outbox_items():
        # Killed after the notice was queued: the worker's retry sees a closed record, and the
        # sweep, which publishes every queued notice, sends it (once its claim, if any, expired).
        assert WITHDRAW_MUTATIONS[n - 1] in ("dynamodb:TransactWriteItems", "dynamodb:UpdateItem", "sns:Publish")
        assert n >= 3
        sweep_now()

    assert status(HUB_ACCOUNT, stale) == "deleted"
    summary = ledger_summary(stale)
    assert (summary["closed"], summary["status"], summary["intent"]) == (True, "withdrawn", False)
    assert outbox_items() == []
    notes = organization.notifications()
    assert [note["subject"] for note in notes] == [f"Peering request {stale} withdrawn"] * (
        2 if WITHDRAW_MUTATIONS[n - 1] == "sns:Publish" else 1
    )
