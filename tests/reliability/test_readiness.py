"""Sweep targets that are not ready (peering/sweep/readiness.py): each cause detected from AWS's own
answer on real moto calls, recorded, counted, summarized once a day and skipped, never retried
into the dead-letter queue; a target that becomes ready is swept again by itself; a real failure
(throttling, 5xx, a missing permission) is still retried.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from peering.lifecycle.engine import Engine
from peering.runtime.batch import BatchProcessingError
from peering.runtime.config import Settings
from peering.sweep import readiness
from peering.sweep.messages import SweepSettings, SweepTarget, sweeps_account
from tests.builders import scheduled_event
from tests.builders import sqs_event as queue_event
from tests.conftest import HUB_ACCOUNT, LEDGER_TABLE, REGION, FakeContext, Organization, emitted_metrics, load_function
from tests.faults import Faults
from tests.reliability.conftest import routes_to
from tests.reliability.test_sweep import unconfigured

worker = load_function("worker")
sweep = load_function("sweep")
OTHER_REGION = "eu-west-1"


def sqs_event(*targets: SweepTarget) -> dict[str, Any]:
    return queue_event(*(t.to_message() for t in targets))


def records() -> dict[str, dict[str, str]]:
    """The not-ready items of the ledger, by "<account>#<Region>"."""
    items = boto3.client("dynamodb", region_name=REGION).query(
        TableName=LEDGER_TABLE,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": readiness.NOT_READY}},
    )["Items"]
    return {i["sk"]["S"]: {k: v.get("S", v.get("N", "")) for k, v in i.items()} for i in items}


@pytest.fixture(autouse=True)
def swept(monkeypatch: pytest.MonkeyPatch) -> None:
    """The stack sweeps two Regions of every active account of the organization."""
    monkeypatch.setenv("SWEEP_REGIONS", f"{REGION},{OTHER_REGION}")
    monkeypatch.delenv("SWEEP_ACCOUNTS", raising=False)


@pytest.fixture
def sweep_queue(organization: Organization, monkeypatch: pytest.MonkeyPatch) -> str:
    url: str = boto3.client("sqs", region_name=REGION).create_queue(QueueName="sweep")["QueueUrl"]
    monkeypatch.setenv("SWEEP_QUEUE_URL", url)
    monkeypatch.setenv("SWEEP_REGIONS", f"{REGION},{OTHER_REGION}")
    monkeypatch.delenv("SWEEP_ACCOUNTS", raising=False)
    return url


def queued(url: str) -> dict[str, dict[str, Any]]:
    """The queued messages by account (the fan-out sends one per account, naming its Regions)."""
    sqs = boto3.client("sqs", region_name=REGION)
    bodies: dict[str, dict[str, Any]] = {}
    while batch := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        for message in batch:
            body = json.loads(message["Body"])
            bodies[body["account"]] = body
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return bodies


# --- each cause -----------------------------------------------------------------------------------


def test_missing_member_role_is_skipped_counted_and_recovers_by_itself(
    organization: Organization, faults: Faults, sweep_queue: str, capsys: pytest.CaptureFixture[str]
) -> None:
    member = organization.platform_account
    ours, _ = unconfigured(organization, HUB_ACCOUNT)
    theirs, _ = unconfigured(organization, member)
    faults.deny("sts", "AssumeRole", when=lambda text: member in text)  # the member stack is not there yet

    answer = worker.lambda_handler(
        sqs_event(SweepTarget(HUB_ACCOUNT, REGION, "s1"), SweepTarget(member, REGION, "s1")), FakeContext()
    )

    # Consumed, not retried (no dead letter); the other account converged anyway.
    assert answer == {"batchItemFailures": []}
    assert len(routes_to(HUB_ACCOUNT, ours)) == 2
    assert routes_to(member, theirs) == set()
    first = records()[f"{member}#{REGION}"]
    assert first["cause"] == readiness.MEMBER_ROLE_MISSING
    assert emitted_metrics(capsys.readouterr().out)["NotReadyMemberRoleMissing"] == 1

    # The next sweep sees it again: same record, same "since".
    worker.lambda_handler(sqs_event(SweepTarget(member, REGION, "s2")), FakeContext())
    again = records()[f"{member}#{REGION}"]
    assert again["since"] == first["since"]
    assert again["lastSeen"] >= first["lastSeen"]

    # The member stack arrives: the next scheduled sweep asks for a recheck, and the run that
    # converges the target removes the record. Nobody did anything.
    faults.clear()
    sweep.lambda_handler(scheduled_event(), FakeContext())
    message = queued(sweep_queue)[member]
    assert message["regions"] == [REGION, OTHER_REGION]
    assert message["recheck"] == [REGION]
    assert worker.lambda_handler(queue_event(json.dumps(message)), FakeContext()) == {"batchItemFailures": []}
    assert len(routes_to(member, theirs)) == 2
    assert f"{member}#{REGION}" not in records()


@pytest.mark.parametrize("code", ["AuthFailure", "OptInRequired"])
def test_region_not_enabled_is_skipped_only_in_that_region(
    organization: Organization, faults: Faults, code: str
) -> None:
    member = organization.platform_account
    # EC2 refuses the member's credentials in the opt-in Region only (the URL names the Region).
    faults.answer("ec2", "DescribeVpcPeeringConnections", code, 401, when=lambda text: OTHER_REGION in text)

    answer = worker.lambda_handler(
        sqs_event(SweepTarget(member, REGION, "s1"), SweepTarget(member, OTHER_REGION, "s1")), FakeContext()
    )

    assert answer == {"batchItemFailures": []}
    assert set(records()) == {f"{member}#{OTHER_REGION}"}
    assert records()[f"{member}#{OTHER_REGION}"]["cause"] == readiness.REGION_NOT_ENABLED


def test_suspended_account_is_not_queued_and_is_recorded_once_per_account(
    organization: Organization, sweep_queue: str, capsys: pytest.CaptureFixture[str]
) -> None:
    boto3.client("organizations", region_name=REGION).close_account(AccountId=organization.sandbox_account)

    result = sweep.lambda_handler(scheduled_event(), FakeContext())

    messages = queued(sweep_queue)
    assert result["targets"] == 4  # hub and platform account, two Regions each
    assert set(messages) == {HUB_ACCOUNT, organization.platform_account}
    assert records()[f"{organization.sandbox_account}#*"]["cause"] == readiness.ACCOUNT_SUSPENDED
    assert emitted_metrics(capsys.readouterr().out)["NotReadyAccountSuspended"] == 1


def test_account_active_again_is_forgotten(organization: Organization) -> None:
    engine = Engine(Settings.from_env())
    account = organization.sandbox_account
    readiness.before_fan_out(engine, [{"Id": account, "Status": "SUSPENDED", "State": "PENDING_CLOSURE"}])
    assert records()[f"{account}#*"]["cause"] == readiness.ACCOUNT_CLOSING

    seen = readiness.before_fan_out(engine, [{"Id": account, "Status": "ACTIVE"}])

    assert records() == {}
    assert seen.records == ()


# --- real failures are still retried -------------------------------------------------------------------


@pytest.mark.parametrize("fault", ["throttle", "server_error", "unauthorized"])
def test_real_failures_are_retried_and_not_recorded(organization: Organization, faults: Faults, fault: str) -> None:
    member = organization.platform_account
    unconfigured(organization, member)
    if fault == "throttle":
        faults.throttle("ec2", "DescribeVpcPeeringConnections", times=None)
    elif fault == "server_error":
        faults.server_error("sts", "AssumeRole", times=None)
    else:  # the member role lacks a permission: not a Region that is not enabled
        faults.deny("ec2", "DescribeVpcPeeringConnections")

    with pytest.raises(BatchProcessingError):  # the one record failed: the queue retries it
        worker.lambda_handler(sqs_event(SweepTarget(member, REGION, "s1")), FakeContext())

    assert records() == {}


# --- one summary a day ---------------------------------------------------------------------------------


def test_one_summary_a_day_lists_every_target_not_ready(
    organization: Organization, faults: Faults, sweep_queue: str
) -> None:
    member = organization.platform_account
    faults.deny("sts", "AssumeRole", when=lambda text: member in text)
    worker.lambda_handler(
        sqs_event(SweepTarget(member, REGION, "s1"), SweepTarget(member, OTHER_REGION, "s1")), FakeContext()
    )
    boto3.client("organizations", region_name=REGION).close_account(AccountId=organization.sandbox_account)

    for _ in range(3):  # three sweeps on the same day
        sweep.lambda_handler(scheduled_event(), FakeContext())

    notices = organization.notifications()
    assert len(notices) == 1
    assert "3 sweep targets not ready" in notices[0]["subject"]
    text = notices[0]["message"]
    assert f"{member} {REGION}: member-role-missing since" in text
    assert f"{member} {OTHER_REGION}: member-role-missing" in text
    assert f"{organization.sandbox_account} *: account-suspended" in text

    # The next day: one more.
    engine = Engine(Settings.from_env())
    seen = readiness.FanOutReadiness(tuple(readiness.NotReadyRegister(engine).all()))
    tomorrow = datetime.now(UTC) + timedelta(days=1)
    assert readiness.queue_daily_summary(engine, seen, now=tomorrow - timedelta(hours=1)) is True
    assert readiness.queue_daily_summary(engine, seen, now=tomorrow - timedelta(hours=1)) is False


def test_no_summary_when_every_target_is_ready(organization: Organization, sweep_queue: str) -> None:
    sweep.lambda_handler(scheduled_event(), FakeContext())

    assert organization.notifications() == []


def test_records_not_seen_for_a_day_are_left_out_of_the_summary(organization: Organization) -> None:
    engine = Engine(Settings.from_env())
    readiness.NotReadyRegister(engine).record(organization.platform_account, REGION, readiness.REGION_NOT_ENABLED)
    seen = readiness.FanOutReadiness(tuple(readiness.NotReadyRegister(engine).all()))

    assert readiness.queue_daily_summary(engine, seen, now=datetime.now(UTC) + timedelta(days=2)) is False


# --- the rules ---------------------------------------------------------------------------------------


def test_causes_and_message_field() -> None:
    assert readiness.account_cause({"Id": "1", "Status": "ACTIVE"}) is None
    assert readiness.account_cause({"Id": "1", "State": "CLOSED", "Status": "SUSPENDED"}) == readiness.ACCOUNT_CLOSING
    assert readiness.metric_name(readiness.REGION_NOT_ENABLED) == "NotReadyRegionNotEnabled"
    assert readiness.cause_of(ValueError("not an AWS error")) is None
    target = SweepTarget("111111111111", REGION, "s", recheck=True)
    assert SweepTarget.from_message(target.to_message()) == target
    assert "recheck" not in SweepTarget("111111111111", REGION, "s").to_message()


def test_long_summary_is_cut() -> None:
    many = [
        readiness.NotReadyTarget(f"{n:012d}", REGION, readiness.MEMBER_ROLE_MISSING, "t", "t")
        for n in range(readiness.LISTED_IN_SUMMARY + 5)
    ]
    notice = readiness.summary_notice(many, "2026-11-30")
    assert "... and 5 more" in notice.message


def test_the_worker_checks_membership_with_one_cached_organizations_call(organization: Organization) -> None:
    engine = Engine(Settings.from_env())
    settings = SweepSettings.from_env()
    member = organization.platform_account

    assert sweeps_account(engine, settings, member) is True
    assert sweeps_account(engine, settings, member) is True  # cached
    assert sweeps_account(engine, settings, organization.outsider_account) is False
    assert engine.directory.member_state(organization.outsider_account) is None

    organizations = Counter(op for (_, _, op) in engine.aws.calls.elements() if op.startswith("organizations:"))
    assert organizations == {"organizations:DescribeOrganization": 1, "organizations:DescribeAccount": 2}


def test_a_suspended_member_is_not_swept(organization: Organization) -> None:
    boto3.client("organizations", region_name=REGION).close_account(AccountId=organization.sandbox_account)
    engine = Engine(Settings.from_env())

    assert engine.directory.member_state(organization.sandbox_account) in {"SUSPENDED", "PENDING_CLOSURE", "CLOSED"}
    assert sweeps_account(engine, SweepSettings.from_env(), organization.sandbox_account) is False


def test_a_new_cause_restarts_since(organization: Organization) -> None:
    engine = Engine(Settings.from_env())
    register = readiness.NotReadyRegister(engine)
    member = organization.platform_account
    register.record(member, REGION, readiness.MEMBER_ROLE_MISSING)
    first = records()[f"{member}#{REGION}"]

    register.record(member, REGION, readiness.REGION_NOT_ENABLED, "AuthFailure")

    now = records()[f"{member}#{REGION}"]
    assert now["cause"] == readiness.REGION_NOT_ENABLED
    assert now["since"] >= first["since"]
    assert now["since"] == now["lastSeen"]
    assert now["detail"] == "AuthFailure"
