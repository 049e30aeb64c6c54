"""One sweep message per account naming its Regions (sweep.AccountSweep): one AssumeRole serves
every Region, a Region that fails is queued again alone, a Region out of time is handed back alone.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from peering.aws import org
from peering.core.deadline import Deadline
from peering.core.errors import InvalidEventError
from peering.sweep.messages import AccountSweep, SweepTarget, parse_sweep_message
from tests.builders import accepted_by_hand, sqs_event
from tests.conftest import (
    HUB_ACCOUNT,
    LEDGER_TABLE,
    REGION,
    FakeContext,
    Organization,
    ec2,
    emitted_metrics,
    load_function,
)
from tests.faults import Faults
from tests.reliability.conftest import routes_to
from tests.reliability.test_readiness import OTHER_REGION, records

worker = load_function("worker")
THIRD_REGION = "ap-southeast-2"
MEMBER = "222222222222"


@pytest.fixture(autouse=True)
def swept(monkeypatch: pytest.MonkeyPatch) -> None:
    """The stack sweeps three Regions of every active account of the organization."""
    monkeypatch.setenv("SWEEP_REGIONS", ",".join((REGION, OTHER_REGION, THIRD_REGION)))
    monkeypatch.delenv("SWEEP_ACCOUNTS", raising=False)


@pytest.fixture
def sweep_queue(organization: Organization, monkeypatch: pytest.MonkeyPatch) -> str:
    url: str = boto3.client("sqs", region_name=REGION).create_queue(QueueName="sweep")["QueueUrl"]
    monkeypatch.setenv("SWEEP_QUEUE_URL", url)
    monkeypatch.setattr("peering.sweep.messages.CONTINUATION_DELAY_SECONDS", 0)  # read the queue at once
    return url


def queued(url: str) -> list[dict[str, Any]]:
    sqs = boto3.client("sqs", region_name=REGION)
    answer = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)
    return [json.loads(m["Body"]) for m in answer.get("Messages", [])]


def connections(organization: Organization, regions: tuple[str, ...]) -> dict[str, str]:
    """An active same-account connection without routes in each Region of the platform account."""
    made = {}
    for region in regions:
        client = ec2(organization.platform_account, region)
        a = client.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
        b = client.create_vpc(CidrBlock="10.1.0.0/16")["Vpc"]["VpcId"]
        for vpc in (a, b):
            client.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})
        pcx = client.create_vpc_peering_connection(VpcId=a, PeerVpcId=b)["VpcPeeringConnection"]
        accepted_by_hand(organization.platform_account, pcx["VpcPeeringConnectionId"], region)
        made[region] = pcx["VpcPeeringConnectionId"]
    return made


def routes_in(organization: Organization, region: str, pcx: str) -> int:
    return len(routes_to(organization.platform_account, pcx, region))


def test_one_assume_role_serves_every_region_of_the_account(
    organization: Organization, faults: Faults, sweep_queue: str
) -> None:
    regions = (REGION, OTHER_REGION, THIRD_REGION)
    made = connections(organization, regions)
    assumed: list[str] = []
    faults.before("sts", "AssumeRole", lambda: assumed.append("assume"), times=100)
    message = AccountSweep(organization.platform_account, regions, "s1").to_message()

    assert worker.lambda_handler(sqs_event(message), FakeContext()) == {"batchItemFailures": []}

    assert assumed == ["assume"]
    for region, pcx in made.items():
        assert routes_in(organization, region, pcx) == 2, region
    assert queued(sweep_queue) == []


def test_a_failing_region_is_queued_again_alone(
    organization: Organization, faults: Faults, sweep_queue: str, capsys: pytest.CaptureFixture[str]
) -> None:
    made = connections(organization, (REGION, OTHER_REGION))
    # A real failure in one Region (a permission missing there), not a cause of not being ready.
    faults.answer(
        "ec2", "DescribeVpcPeeringConnections", "UnauthorizedOperation", 403, when=lambda t: OTHER_REGION in t
    )
    message = AccountSweep(organization.platform_account, (REGION, OTHER_REGION), "s1").to_message()

    assert worker.lambda_handler(sqs_event(message), FakeContext()) == {"batchItemFailures": []}

    assert routes_in(organization, REGION, made[REGION]) == 2
    assert routes_in(organization, OTHER_REGION, made[OTHER_REGION]) == 0
    assert queued(sweep_queue) == [
        {"account": organization.platform_account, "region": OTHER_REGION, "sweepId": "s1", "dryRun": None}
    ]
    assert emitted_metrics(capsys.readouterr().out)["SweepTargetsRequeued"] == 1
    assert records() == {}  # a failure, not a target that is not ready


def test_regions_out_of_time_are_handed_back_one_by_one(organization: Organization, sweep_queue: str) -> None:
    record = sqs_event(AccountSweep(organization.platform_account, (REGION, OTHER_REGION), "s1").to_message())

    # One second left, a minute of margin: no Region may start.
    result = worker.converge_record(SQSRecord(record["Records"][0]), Deadline(lambda: 1_000, 60))

    assert [r["handedBack"] for r in result["regions"]] == [True, True]
    handed = sorted(queued(sweep_queue), key=lambda m: m["region"])
    assert [(m["region"], m["continuation"]) for m in handed] == [(OTHER_REGION, 1), (REGION, 1)]


def ledger_items() -> list[dict[str, Any]]:
    return boto3.client("dynamodb", region_name=REGION).scan(TableName=LEDGER_TABLE)["Items"]


def refusals(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    """The worker's log lines for refused messages."""
    return [r for r in caplog.records if r.getMessage() == "sweep message refused"]


@pytest.mark.parametrize(
    "case",
    [
        ("outsider", (REGION, OTHER_REGION, THIRD_REGION), "not an active account this stack sweeps"),
        ("suspended", (REGION,), "not an active account this stack sweeps"),
        ("platform", (REGION, "ap-northeast-3"), "ap-northeast-3 not swept by this stack"),
        ("platform", ("us-gov-west-1",), "us-gov-west-1 not swept by this stack"),
    ],
)
def test_a_message_for_what_the_sweep_does_not_cover_is_refused_and_writes_nothing(
    organization: Organization,
    faults: Faults,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    case: tuple[str, tuple[str, ...], str],
) -> None:
    # Given an account outside the organization, a suspended one, or Regions outside the stack's
    who, regions, why = case
    account = {
        "outsider": organization.outsider_account,
        "suspended": organization.sandbox_account,
        "platform": organization.platform_account,
    }[who]
    if who == "suspended":
        boto3.client("organizations", region_name=REGION).close_account(AccountId=account)
    assumed: list[str] = []
    faults.before("sts", "AssumeRole", lambda: assumed.append("assume"), times=100)
    message = (
        AccountSweep(account, regions, "s1").to_message()
        if len(regions) > 1
        else SweepTarget(account, regions[0], "s1").to_message()
    )
    capsys.readouterr()

    # When the worker receives a message naming them
    answer = worker.lambda_handler(sqs_event(message), FakeContext())

    # Then it is answered (no retry could help), counted and logged, and nothing is read or written
    assert answer == {"batchItemFailures": []}
    assert ledger_items() == []
    assert assumed == []
    out = capsys.readouterr().out
    assert emitted_metrics(out)["SweepMessagesRefused"] == 1
    [refused] = refusals(caplog)
    assert refused.levelname == "WARNING"
    assert refused.error == "not_a_sweep_target"  # type: ignore[attr-defined] - the line's extra keys
    assert why in refused.reason  # type: ignore[attr-defined]


def test_with_sweep_accounts_only_those_accounts_are_swept(
    organization: Organization, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SWEEP_ACCOUNTS", HUB_ACCOUNT)
    capsys.readouterr()

    answer = worker.lambda_handler(
        sqs_event(SweepTarget(organization.platform_account, REGION, "s1").to_message()), FakeContext()
    )

    assert answer == {"batchItemFailures": []}
    assert ledger_items() == []
    assert emitted_metrics(capsys.readouterr().out)["SweepMessagesRefused"] == 1


def test_without_an_organization_only_the_hub_account_is_swept(
    organization: Organization, capsys: pytest.CaptureFixture[str]
) -> None:
    organizations = boto3.client("organizations", region_name=REGION)
    for account in organization.accounts.values():
        organizations.remove_account_from_organization(AccountId=account)
    organizations.delete_organization()
    org.clear_cache()
    capsys.readouterr()

    member = worker.lambda_handler(sqs_event(SweepTarget(MEMBER, REGION, "s1").to_message()), FakeContext())
    hub = worker.converge_record(
        SQSRecord(sqs_event(SweepTarget(HUB_ACCOUNT, REGION, "s1").to_message())["Records"][0])
    )

    assert member == {"batchItemFailures": []}
    assert emitted_metrics(capsys.readouterr().out)["SweepMessagesRefused"] == 1
    assert (hub["account"], hub["region"], "error" in hub) == (HUB_ACCOUNT, REGION, False)  # swept


def test_account_message_round_trip() -> None:
    sweep = AccountSweep(MEMBER, (REGION, OTHER_REGION), "s1", True, frozenset({OTHER_REGION}))

    assert parse_sweep_message(sweep.to_message()) == [
        SweepTarget(MEMBER, REGION, "s1", True),
        SweepTarget(MEMBER, OTHER_REGION, "s1", True, recheck=True),
    ]
    assert parse_sweep_message(SweepTarget(MEMBER, REGION, "s1").to_message()) == [SweepTarget(MEMBER, REGION, "s1")]


@pytest.mark.parametrize(
    "body",
    [
        {"account": MEMBER, "regions": []},
        {"account": MEMBER, "regions": "us-east-1"},
        {"account": MEMBER, "regions": [REGION, REGION]},
        {"account": MEMBER, "regions": ["not a region"]},
        {"account": MEMBER, "regions": [f"us-east-{n}" for n in range(1, 70)]},  # more than AWS has
        {"account": "1234", "regions": [REGION]},
        {"account": MEMBER, "regions": [REGION], "recheck": [OTHER_REGION]},
        {"account": MEMBER, "regions": [REGION], "recheck": "yes"},
        {"account": MEMBER, "regions": [3]},
    ],
)
def test_malformed_account_messages_are_refused(body: dict[str, Any]) -> None:
    with pytest.raises(InvalidEventError):
        parse_sweep_message(json.dumps(body))


def test_a_malformed_account_message_is_answered_not_retried(organization: Organization) -> None:
    answer = worker.lambda_handler(sqs_event(json.dumps({"account": MEMBER, "regions": []})), FakeContext())

    assert answer == {"batchItemFailures": []}
    assert records() == {}
