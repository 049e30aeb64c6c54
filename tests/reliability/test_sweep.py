"""Faults during the sweep: one account failing never stops the others, a dry run records every
change it would make, a withdrawal interrupted anywhere is finished, notice included, and an SNS
outage never makes the sweep function fan out twice.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from typing import Any

import boto3
import pytest

from emulation import lifecycle
from peering.runtime.batch import BatchProcessingError
from peering.sweep.messages import SweepTarget
from tests.builders import ACCEPT_TAG, accepted_by_hand, ledger_items, make_vpc, request_peering, status
from tests.builders import sqs_event as queue_event
from tests.conftest import HUB_ACCOUNT, REGION, FakeContext, Organization, ec2, load_function
from tests.faults import Faults
from tests.integration.test_configure import accept_event, accepted, dns_ready_vpc
from tests.reliability.conftest import SCHEDULED, invoke, ledger_summary, outbox_items, routes_to

worker = load_function("worker")
configure = load_function("configure")
accept = load_function("accept")


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


# --- issue 23: an SNS outage never repeats the fan-out ------------------------------------------------


def queued_targets() -> Counter[tuple[str, str]]:
    """How many sweep messages name each (account, Region), read off the sweep queue."""
    sqs = boto3.client("sqs", region_name=REGION)
    url = sqs.get_queue_url(QueueName="sweep")["QueueUrl"]
    seen: Counter[tuple[str, str]] = Counter()
    while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        for message in messages:
            body = json.loads(message["Body"])
            seen[(body["account"], body["region"])] += 1
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return seen


def test_an_sns_outage_during_the_sweep_queues_each_target_once_and_a_later_sweep_notifies(
    organization: Organization, faults: Faults, sweep_now: Callable[[], dict[str, Any]]
) -> None:
    # Given a rejection whose notice is still in the outbox (SNS was down when it was decided)
    faults.server_error("sns", "Publish", times=None)
    requester = make_vpc(organization.sandbox_account, "10.30.0.0/16")
    accepter = make_vpc(HUB_ACCOUNT, "10.1.0.0/16", tags=ACCEPT_TAG)
    pcx, event = request_peering(organization.sandbox_account, requester, HUB_ACCOUNT, accepter)
    assert str(invoke(accept, event)).startswith("raised")
    assert len(outbox_items()) == 1

    # When the schedule fires while SNS is still down, and Lambda retries a failed invocation twice
    sweep = load_function("sweep")
    tries = []
    for _ in range(3):
        tries.append(invoke(sweep, SCHEDULED))
        if isinstance(tries[-1], dict):
            break

    # Then the first try succeeded: each target is queued once, the notice waits in the outbox
    assert isinstance(tries[0], dict), tries
    assert (tries[0]["notificationsSent"], len(tries)) == (0, 1)
    targets = queued_targets()
    assert set(targets.values()) == {1}
    assert len(targets) == tries[0]["targets"] >= 3
    assert len(outbox_items()) == 1
    assert organization.notifications() == []

    # And once SNS is back, the next sweep delivers it
    faults.clear()
    assert sweep_now()["notificationsSent"] == 1
    assert outbox_items() == []
    assert len(organization.notifications()) == 1
    assert any(i["sk"]["S"].startswith("LOG#") and "notified" in str(i) for i in ledger_items(pcx))


def _unconfigured_connections(count: int) -> list[str]:
    """``count`` active same-account connections in the hub, no route yet (two each, one per side)."""
    made = []
    for n in range(count):
        a, b = (dns_ready_vpc(HUB_ACCOUNT, f"10.{n}.{half * 128}.0/17") for half in (0, 1))
        pcx = ec2(HUB_ACCOUNT).create_vpc_peering_connection(VpcId=a, PeerVpcId=b)["VpcPeeringConnection"]
        accepted_by_hand(HUB_ACCOUNT, pcx["VpcPeeringConnectionId"])  # after deployment: managed
        made.append(pcx["VpcPeeringConnectionId"])
    return made


def _recorded(pcx: str) -> set[tuple[str, str]]:
    return {(table, destination) for _, table, destination in ledger_summary(pcx)["routes"]}


def _in_ec2(pcx: str) -> set[tuple[str, str]]:
    return {(table, destination) for table, destination, _ in routes_to(HUB_ACCOUNT, pcx)}


# Three connections configured by one sweep: their six route records in one write, then the six
# routes, then each one's DNS option, then their three history items in one write.
CONFIGURE_MUTATIONS = [
    "dynamodb:BatchWriteItem",
    *["ec2:CreateRoute"] * 6,
    *["ec2:ModifyVpcPeeringConnectionOptions"] * 3,
    "dynamodb:BatchWriteItem",
]


def test_the_pinned_order_of_a_sweeps_configure_changes_is_the_engines(
    organization: Organization, faults: Faults
) -> None:
    _unconfigured_connections(3)
    seen = faults.crash_after_mutation(0)
    worker.lambda_handler(sqs_event(SweepTarget(HUB_ACCOUNT, REGION, "s")), FakeContext())
    assert seen == CONFIGURE_MUTATIONS


@pytest.mark.parametrize("n", range(1, len(CONFIGURE_MUTATIONS) + 1))
def test_a_sweep_configuring_several_connections_killed_after_any_change_keeps_records_before_routes(
    organization: Organization, faults: Faults, n: int
) -> None:
    """Route records batched across connections still precede their routes: after a kill anywhere,
    every route in EC2 has its record, and the next run leaves records and routes equal."""
    connections = _unconfigured_connections(3)
    faults.crash_after_mutation(n)
    assert invoke(worker, sqs_event(SweepTarget(HUB_ACCOUNT, REGION, "s1"))) == "crashed"
    faults.clear()
    for pcx in connections:
        assert _in_ec2(pcx) <= _recorded(pcx), pcx  # never a route without its record

    assert worker.lambda_handler(sqs_event(SweepTarget(HUB_ACCOUNT, REGION, "s1")), FakeContext()) == {
        "batchItemFailures": []
    }

    for pcx in connections:
        assert len(_in_ec2(pcx)) == 2, pcx
        assert _recorded(pcx) == _in_ec2(pcx), pcx
