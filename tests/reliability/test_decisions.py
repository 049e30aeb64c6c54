"""Faults while a peering request is decided: every one ends, on the retry, in one recorded
decision carried out in EC2 and exactly one notification (docs/reliability.md).

Each test injects faults on real calls to moto (tests/faults.py), then retries the invocation
the way Lambda does, and asserts the connection in EC2, the ledger and the notifications.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import pytest

from peering.lifecycle.engine import Engine
from peering.runtime.config import Settings
from peering.sweep.messages import SweepTarget
from peering.sweep.target import converge_target
from tests.builders import ACCEPT_TAG, ledger_state, make_vpc, request_peering, status, tags
from tests.conftest import HUB_ACCOUNT, Organization, default_policy, ec2, load_function, put_policy
from tests.faults import Faults
from tests.reliability.conftest import invoke, ledger_summary, outbox_items

accept = load_function("accept")
cleanup = load_function("cleanup")

Request = tuple[str, dict[str, Any]]


def held_request(organization: Organization) -> Request:
    """A platform request into a hub VPC that did not opt in: no rule matches, so it is held."""
    requester = make_vpc(organization.platform_account, "10.20.0.0/16")
    accepter = make_vpc(HUB_ACCOUNT, "10.1.0.0/16")
    return request_peering(organization.platform_account, requester, HUB_ACCOUNT, accepter)


def accepted_request(organization: Organization) -> Request:
    requester = make_vpc(organization.platform_account, "10.20.0.0/16")
    accepter = make_vpc(HUB_ACCOUNT, "10.1.0.0/16", tags=ACCEPT_TAG)
    return request_peering(organization.platform_account, requester, HUB_ACCOUNT, accepter)


def rejected_request(organization: Organization) -> Request:
    """From the sandbox OU, which the policy rejects."""
    requester = make_vpc(organization.sandbox_account, "10.30.0.0/16")
    accepter = make_vpc(HUB_ACCOUNT, "10.1.0.0/16", tags=ACCEPT_TAG)
    return request_peering(organization.sandbox_account, requester, HUB_ACCOUNT, accepter)


REQUESTS: dict[str, tuple[Callable[[Organization], Request], str, str, int]] = {
    # kind: (builder, decision, EC2 status after it, notifications owed)
    "hold": (held_request, "held", "pending-acceptance", 1),
    "accept": (accepted_request, "accepted", "active", 0),
    "reject": (rejected_request, "rejected", "rejected", 1),
}


def assert_decided(pcx: str, decision: str, ec2_status: str) -> None:
    assert status(HUB_ACCOUNT, pcx) == ec2_status
    assert tags(HUB_ACCOUNT, pcx)["peering-autopilot:decision"] == decision
    summary = ledger_summary(pcx)
    assert (summary["decision"], summary["applied"], summary["intent"]) == (decision, True, False)
    assert outbox_items() == []


# --- 1. the hold notification and SNS -------------------------------------------------------------


def test_a_hold_notice_that_fails_to_publish_is_published_by_the_retry(
    organization: Organization, faults: Faults
) -> None:
    pcx, event = held_request(organization)
    faults.server_error("sns", "Publish", times=None)  # longer than the retries absorb

    assert invoke(accept, event) == "raised InternalErrorException"
    assert organization.notifications() == []
    assert len(outbox_items()) == 1  # committed with the decision, waiting
    faults.clear()

    assert invoke(accept, event)["outcome"] == "unchanged"  # type: ignore[index]
    notes = organization.notifications()
    assert [n["subject"] for n in notes] == [f"Peering request {pcx} is held for a decision"]
    assert_decided(pcx, "held", "pending-acceptance")
    assert invoke(accept, event)["outcome"] == "unchanged"  # type: ignore[index]
    assert organization.notifications() == []


def test_a_hold_notice_left_by_a_killed_run_is_published_by_the_sweep_once_its_claim_expired(
    organization: Organization, faults: Faults, sweep_now: Callable[[], dict[str, Any]]
) -> None:
    pcx, event = held_request(organization)
    faults.crash_before("sns", "Publish")  # killed after claiming the notice, before publishing it

    assert invoke(accept, event) == "crashed"
    assert invoke(accept, event)["outcome"] == "unchanged"  # type: ignore[index]
    assert organization.notifications() == []  # the claim may still be a live run's: not taken over

    assert sweep_now()["notificationsSent"] == 1
    assert len(organization.notifications()) == 1
    assert_decided(pcx, "held", "pending-acceptance")
    assert sweep_now()["notificationsSent"] == 0


# --- 2. a crash right after the transition ------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "call"), [("accept", "AcceptVpcPeeringConnection"), ("reject", "RejectVpcPeeringConnection")]
)
def test_a_crash_right_after_accepting_or_rejecting_is_finished_by_the_retry(
    organization: Organization, faults: Faults, kind: str, call: str
) -> None:
    build, decision, ec2_status, owed = REQUESTS[kind]
    pcx, event = build(organization)
    faults.crash_after("ec2", call)

    assert invoke(accept, event) == "crashed"
    assert ledger_summary(pcx)["applied"] is False  # recorded before, not yet carried out

    result = invoke(accept, event)
    assert isinstance(result, dict)
    assert result["outcome"] == decision
    assert "interrupted run" in result["reasons"][0]
    assert_decided(pcx, decision, ec2_status)
    assert len(organization.notifications()) == owed


# --- crash between every pair of consecutive changes ------------------------------------------------


def _mutations(organization: Organization, kind: str, faults: Faults) -> list[str]:
    """The changes a fault-free run makes, in order (a dry count in a world of its own)."""
    build = REQUESTS[kind][0]
    _, event = build(organization)
    seen = faults.crash_after_mutation(0)
    invoke(accept, event)
    faults.clear()
    return seen


# Found by _mutations on a fault-free run (pinned, so a change in the order is reviewed here).
MUTATIONS = {
    "hold": [
        "dynamodb:PutItem",  # history
        "dynamodb:UpdateItem",  # the intent, with its notice
        "ec2:CreateTags",
        "dynamodb:TransactWriteItems",  # carried out + notice queued
        "dynamodb:UpdateItem",  # notice claimed
        "sns:Publish",
        "dynamodb:DeleteItem",  # notice done
        "dynamodb:PutItem",  # history: notified
    ],
    "accept": [
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "ec2:CreateTags",
        "ec2:AcceptVpcPeeringConnection",
        "dynamodb:TransactWriteItems",
    ],
    "reject": [
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "ec2:CreateTags",
        "ec2:RejectVpcPeeringConnection",
        "dynamodb:TransactWriteItems",
        "dynamodb:UpdateItem",
        "sns:Publish",
        "dynamodb:DeleteItem",
        "dynamodb:PutItem",
    ],
}


@pytest.mark.parametrize("kind", sorted(MUTATIONS))
def test_the_pinned_order_of_changes_is_the_engines(organization: Organization, faults: Faults, kind: str) -> None:
    assert _mutations(organization, kind, faults) == MUTATIONS[kind]


@pytest.mark.parametrize(
    ("kind", "n"), [(kind, n) for kind, calls in sorted(MUTATIONS.items()) for n in range(1, len(calls) + 1)]
)
def test_a_crash_after_any_change_is_finished_by_the_retry_or_the_sweep(
    organization: Organization, faults: Faults, sweep_now: Callable[[], dict[str, Any]], kind: str, n: int
) -> None:
    build, decision, ec2_status, owed = REQUESTS[kind]
    pcx, event = build(organization)
    faults.crash_after_mutation(n)
    assert invoke(accept, event) == "crashed"
    faults.clear()

    assert isinstance(invoke(accept, event), dict)
    mutation = MUTATIONS[kind][n - 1]
    claimed = n >= 2 and MUTATIONS[kind][n - 2] == "dynamodb:TransactWriteItems"  # n is the claim
    if claimed or mutation == "sns:Publish":
        # Killed while holding the notice's claim: the retry cannot tell a dead run from a slow
        # one, so the sweep publishes it once the claim expired.
        assert len(outbox_items()) == 1
        assert sweep_now()["notificationsSent"] == 1

    assert_decided(pcx, decision, ec2_status)
    # Killed between Publish and the delete is the one window where a notice goes out twice
    # (at least once, never lost): docs/reliability.md.
    assert len(organization.notifications()) == owed + (1 if mutation == "sns:Publish" else 0)


# --- 4. never decide on a view with holes -----------------------------------------------------------


def test_an_error_reading_the_requester_side_is_retried_not_decided_on_a_partial_view(
    organization: Organization, faults: Faults, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ACTIVE_PEERINGS_QUOTA", "1")
    requester = make_vpc(organization.platform_account, "10.20.0.0/16")
    other = make_vpc(organization.platform_account, "10.40.0.0/16")
    busy = ec2(organization.platform_account).create_vpc_peering_connection(VpcId=requester, PeerVpcId=other)
    ec2(organization.platform_account).accept_vpc_peering_connection(
        VpcPeeringConnectionId=busy["VpcPeeringConnection"]["VpcPeeringConnectionId"]
    )  # the requester VPC is at its quota of 1
    accepter = make_vpc(HUB_ACCOUNT, "10.1.0.0/16", tags=ACCEPT_TAG)
    pcx, event = request_peering(organization.platform_account, requester, HUB_ACCOUNT, accepter)
    faults.server_error("ec2", "DescribeVpcs", times=None, when=lambda text: requester in text)

    assert invoke(accept, event) == "raised ClientError"
    assert status(HUB_ACCOUNT, pcx) == "pending-acceptance"
    assert ledger_state(pcx) == {}
    faults.clear()

    result = invoke(accept, event)
    assert isinstance(result, dict)
    assert result["outcome"] == "held"
    assert any("no headroom under the active peerings quota" in r for r in result["reasons"])
    assert status(HUB_ACCOUNT, pcx) == "pending-acceptance"
    assert len(organization.notifications()) == 1


# --- 5. the same Create delivered twice at once -------------------------------------------------


@pytest.mark.usefixtures("atomic_moto")
@pytest.mark.parametrize("kind", ["hold", "reject", "accept"])
def test_the_same_request_delivered_twice_at_once_is_decided_and_notified_once(
    organization: Organization, faults: Faults, kind: str
) -> None:
    build, decision, ec2_status, owed = REQUESTS[kind]
    pcx, event = build(organization)
    faults.rendezvous("ec2", "CreateTags", threading.Barrier(2))  # both planned before either acts

    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda _: invoke(accept, event), range(2)))

    assert all(isinstance(r, dict) for r in results), results
    assert_decided(pcx, decision, ec2_status)
    assert len(organization.notifications()) == owed


# --- throttling and 5xx on every service the decision uses ---------------------------------------


CALLS = [
    ("ec2", "DescribeVpcPeeringConnections"),
    ("ec2", "CreateTags"),
    ("sts", "AssumeRole"),
    ("dynamodb", "UpdateItem"),
    ("dynamodb", "TransactWriteItems"),
    ("sns", "Publish"),
    ("ssm", "GetParameter"),  # the policy
    ("organizations", "DescribeAccount"),  # the requester's OU path
]


@pytest.mark.parametrize(("service", "operation"), CALLS)
def test_a_short_throttling_burst_is_absorbed_by_the_adaptive_retries(
    organization: Organization, faults: Faults, service: str, operation: str
) -> None:
    pcx, event = rejected_request(organization)  # reads the member side, writes, notifies
    rule = faults.throttle(service, operation, times=3)

    result = invoke(accept, event)

    assert isinstance(result, dict), result
    assert rule.injected == 3
    assert_decided(pcx, "rejected", "rejected")
    assert len(organization.notifications()) == 1


@pytest.mark.parametrize("fault", ["throttle", "server_error"])
@pytest.mark.parametrize(("service", "operation"), CALLS)
def test_a_long_outage_raises_and_the_retry_converges(
    organization: Organization, faults: Faults, service: str, operation: str, fault: str
) -> None:
    pcx, event = rejected_request(organization)
    getattr(faults, fault)(service, operation, times=None)

    assert str(invoke(accept, event)).startswith("raised")
    faults.clear()
    assert isinstance(invoke(accept, event), dict)

    assert_decided(pcx, "rejected", "rejected")
    assert len(organization.notifications()) == 1


# --- out of order: a Create that arrives after the Delete --------------------------------------


def test_a_create_delivered_after_the_delete_decides_nothing(organization: Organization) -> None:
    pcx, event = held_request(organization)
    ec2(organization.platform_account).delete_vpc_peering_connection(VpcPeeringConnectionId=pcx)

    result = invoke(accept, event)

    assert isinstance(result, dict)
    assert result["outcome"] == "not-pending"
    assert ledger_state(pcx) == {}
    assert organization.notifications() == []


# --- 6. a held request under a new policy -----------------------------------------------------------


def test_a_held_request_is_decided_again_by_the_sweep_when_the_policy_changes(
    organization: Organization,
) -> None:
    pcx, event = held_request(organization)
    assert invoke(accept, event)["outcome"] == "held"  # type: ignore[index]
    assert len(organization.notifications()) == 1

    quiet = converge_target(Engine(Settings.from_env()), SweepTarget(HUB_ACCOUNT, "us-east-1", "s0"))
    assert quiet.drift == 0  # the same policy: nothing decided again, nobody notified again
    put_policy(
        default_policy(organization).replace("version: test-1", "version: test-2")
        + f"""  - name: platform-anywhere
    action: accept
    requester:
      organizationalUnits: [{organization.platform_ou}]
"""
    )
    engine = Engine(Settings.from_env())
    result = converge_target(engine, SweepTarget(HUB_ACCOUNT, "us-east-1", "s1"))

    assert result.done["request-accepted"] == 4
    assert_decided(pcx, "accepted", "active")
    assert organization.notifications() == []


def test_a_notice_published_twice_by_a_killed_run_carries_the_same_notice_id(
    organization: Organization, faults: Faults, sweep_now: Callable[[], dict[str, Any]]
) -> None:
    pcx, event = held_request(organization)
    faults.crash_after("sns", "Publish")  # published, then killed before the outbox knew

    assert invoke(accept, event) == "crashed"
    sweep_now()

    raw = boto3.client("sqs").receive_message(QueueUrl=organization.topic_queue_url, MaxNumberOfMessages=10)
    bodies = [json.loads(m["Body"]) for m in raw["Messages"]]
    ids = [b["MessageAttributes"]["noticeId"]["Value"] for b in bodies]
    assert len(ids) == 2  # at least once: the one window a notice can repeat
    assert ids[0] == ids[1]
    assert ids[0].startswith(f"{pcx}#decision|held|")
