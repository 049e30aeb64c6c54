"""``python -m runner approve|reject|pending`` (runner/operator_cli.py) on the mocked organization.

Given a request held by the accept function, when an operator runs ``approve`` or ``reject``, then
the operator event lands on the peering bus (a rule copies it to a queue here) and, handed to the
operator function as EventBridge would, decides the request in EC2 and in the ledger. Bad input
is refused before anything is sent. ``pending`` lists what the ledger holds.
"""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from emulation import lifecycle
from runner.cli import main
from tests.builders import ledger_state, make_vpc, request_peering, status
from tests.conftest import (
    HUB_ACCOUNT,
    LEDGER_TABLE,
    REGION,
    FakeContext,
    Organization,
    default_policy,
    load_function,
    put_policy,
)
from tests.integration.test_reminders import run_target

accept = load_function("accept")
operator = load_function("operator")
cleanup = load_function("cleanup")

BUS = "peering-autopilot"
HUB = ["--bus", BUS, "--table", LEDGER_TABLE]


@pytest.fixture
def bus_copy(organization: Organization) -> str:
    """The peering bus, with a rule that copies every operator event to a queue (to read them)."""
    events = boto3.client("events", region_name=REGION)
    sqs = boto3.client("sqs", region_name=REGION)
    events.create_event_bus(Name=BUS)
    url = sqs.create_queue(QueueName="operator-events")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name="copy", EventBusName=BUS, EventPattern=json.dumps({"source": ["peering-autopilot.operator"]}))
    events.put_targets(Rule="copy", EventBusName=BUS, Targets=[{"Id": "queue", "Arn": arn}])
    return str(url)


def sent(url: str) -> list[dict[str, Any]]:
    """The events the bus delivered. moto 5 leaves out ``account``, which EventBridge sets to the
    sender's account (the operator function trusts only the hub's): it is put back here."""
    sqs = boto3.client("sqs", region_name=REGION)
    out = []
    while batch := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        for message in batch:
            out.append({"account": HUB_ACCOUNT, **json.loads(message["Body"])})
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return out


def held(
    organization: Organization,
    context: FakeContext,
    cidr: str = "172.16.0.0/16",
    accepter_cidr: str = "10.1.0.0/16",
    *,
    made_hours_ago: float = 0,
) -> str:
    """A request from outside the organization, made ``made_hours_ago`` and held when it arrived."""
    requester = make_vpc(organization.outsider_account, cidr)
    accepter = make_vpc(HUB_ACCOUNT, accepter_cidr)
    pcx, event = request_peering(organization.outsider_account, requester, HUB_ACCOUNT, accepter)
    lifecycle.age(pcx, hours=made_hours_ago)
    assert accept.lambda_handler(event, context)["outcome"] == "held"
    organization.notifications()
    return pcx


# --- approve / reject ---------------------------------------------------------------------------


def test_approve_puts_the_event_that_accepts_the_request(
    organization: Organization, context: FakeContext, bus_copy: str, capsys: pytest.CaptureFixture[str]
) -> None:
    pcx = held(organization, context)

    assert main(["approve", pcx, "--comment", "CHG-4711: checked", *HUB]) == 0

    [event] = sent(bus_copy)
    assert event["source"] == "peering-autopilot.operator"
    assert event["detail-type"] == "Approve Peering Request"
    assert event["account"] == HUB_ACCOUNT
    assert event["detail"] == {"connectionId": pcx, "requestedBy": "moto", "comment": "CHG-4711: checked"}
    assert f"sent Approve Peering Request for {pcx} to bus {BUS}" in capsys.readouterr().out
    # What the operator function does with it, as EventBridge delivers it:
    assert operator.lambda_handler(event, context)["outcome"] == "accepted"
    assert status(HUB_ACCOUNT, pcx) == "active"
    assert ledger_state(pcx)["decidedBy"]["S"] == "operator:moto"


def test_reject_dry_run_plans_and_changes_nothing(
    organization: Organization, context: FakeContext, bus_copy: str
) -> None:
    pcx = held(organization, context)

    assert main(["reject", pcx, "--dry-run", "--requested-by", "bob@example.com", *HUB]) == 0

    [event] = sent(bus_copy)
    assert event["detail-type"] == "Reject Peering Request"
    assert event["detail"] == {"connectionId": pcx, "requestedBy": "bob@example.com", "dryRun": True}
    result = operator.lambda_handler(event, context)
    assert result["outcome"] == "rejected"
    assert result["dryRun"] is True
    assert status(HUB_ACCOUNT, pcx) == "pending-acceptance"
    assert ledger_state(pcx)["decision"]["S"] == "held"


def test_reject_puts_the_event_that_rejects_the_request(
    organization: Organization, context: FakeContext, bus_copy: str
) -> None:
    pcx = held(organization, context)
    assert main(["reject", pcx, "--comment", "not ours", *HUB]) == 0
    [event] = sent(bus_copy)
    assert operator.lambda_handler(event, context)["outcome"] == "rejected"
    assert status(HUB_ACCOUNT, pcx) == "rejected"


def test_a_request_the_ledger_does_not_know_needs_its_place(
    organization: Organization, context: FakeContext, bus_copy: str, capsys: pytest.CaptureFixture[str]
) -> None:
    unknown = "pcx-0123456789abcdef0"
    assert main(["approve", unknown, *HUB]) == 2
    assert "is not in the ledger" in capsys.readouterr().err
    assert sent(bus_copy) == []

    assert main(["approve", unknown, "--account", HUB_ACCOUNT, "--region", REGION, *HUB]) == 0
    [event] = sent(bus_copy)
    assert event["detail"]["accountId"] == HUB_ACCOUNT
    assert event["detail"]["region"] == REGION


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (["--comment", "bad\x07bell"], "--comment: at most 1024 characters, no control characters"),
        (["--comment", "x" * 1025], "--comment: at most 1024 characters"),
        (["--requested-by", "eve;rm -rf"], "--requested-by 'eve;rm -rf'"),
        (["--account", HUB_ACCOUNT], "--account and --region go together"),
    ],
)
def test_bad_input_sends_nothing(
    organization: Organization,
    context: FakeContext,
    bus_copy: str,
    capsys: pytest.CaptureFixture[str],
    *,
    extra: list[str],
    expected: str,
) -> None:
    pcx = held(organization, context)
    assert main(["approve", pcx, *extra, *HUB]) == 2
    err = capsys.readouterr().err
    assert expected in err
    assert "nothing was sent" in err
    assert sent(bus_copy) == []
    assert status(HUB_ACCOUNT, pcx) == "pending-acceptance"


def test_a_malformed_connection_id_sends_nothing(
    organization: Organization, bus_copy: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["approve", "pcx-nothex", *HUB]) == 2
    assert "'pcx-nothex' is not a peering connection id" in capsys.readouterr().err
    assert sent(bus_copy) == []


def test_a_closed_request_is_not_sent(
    organization: Organization, context: FakeContext, bus_copy: str, capsys: pytest.CaptureFixture[str]
) -> None:
    pcx = held(organization, context)
    lifecycle.age(pcx, hours=169)  # AWS expired it; the sweep closes the record
    run_target()

    assert main(["approve", pcx, *HUB]) == 2
    assert "is closed in the ledger (expired)" in capsys.readouterr().err
    assert sent(bus_copy) == []


def test_a_request_no_longer_held_is_sent_with_a_note(
    organization: Organization, context: FakeContext, bus_copy: str, capsys: pytest.CaptureFixture[str]
) -> None:
    pcx = held(organization, context)
    assert main(["approve", pcx, *HUB]) == 0
    operator.lambda_handler(sent(bus_copy)[0], context)

    assert main(["reject", pcx, *HUB]) == 0
    assert "note: the ledger records" in capsys.readouterr().err
    result = operator.lambda_handler(sent(bus_copy)[0], context)
    assert result["outcome"] == "not-pending"
    assert status(HUB_ACCOUNT, pcx) == "active"


def test_names_come_from_the_deployed_stacks_outputs(
    organization: Organization, context: FakeContext, bus_copy: str, capsys: pytest.CaptureFixture[str]
) -> None:
    template = {
        "Resources": {"Placeholder": {"Type": "AWS::SQS::Queue"}},
        "Outputs": {"PeeringEventBusName": {"Value": BUS}, "LedgerTableName": {"Value": LEDGER_TABLE}},
    }
    boto3.client("cloudformation", region_name=REGION).create_stack(
        StackName="peering-autopilot", TemplateBody=json.dumps(template)
    )
    pcx = held(organization, context)

    assert main(["approve", pcx]) == 0

    assert "(bus and ledger: outputs of stack peering-autopilot)" in capsys.readouterr().out
    assert len(sent(bus_copy)) == 1


# --- pending ------------------------------------------------------------------------------------


def test_pending_lists_held_requests_most_urgent_first(
    organization: Organization, context: FakeContext, bus_copy: str, capsys: pytest.CaptureFixture[str]
) -> None:
    recent = held(organization, context)
    old = held(organization, context, "172.17.0.0/16", "10.2.0.0/16", made_hours_ago=150)  # 18 h left
    approved = held(organization, context, "172.18.0.0/16", "10.3.0.0/16")
    main(["approve", approved, *HUB])
    operator.lambda_handler(sent(bus_copy)[0], context)
    run_target()  # the sweep reminds the old one
    capsys.readouterr()

    assert main(["pending", *HUB]) == 0

    out = capsys.readouterr().out
    assert out.startswith(f"2 held request(s) in ledger {LEDGER_TABLE}")
    assert out.index(old) < out.index(recent)
    assert approved not in out
    assert f"{old}  {organization.outsider_account}/{REGION}/vpc-" in out
    assert "age 6 d 6 h, expires in 17 h 59 min" in out
    assert "reminded 24 h before expiry" in out
    assert f"because no rule of policy test-1 matches requester {organization.outsider_account}" in out
    assert f"decide: python -m runner approve|reject {old} --comment 'why'" in out


def test_pending_as_json(organization: Organization, context: FakeContext, capsys: pytest.CaptureFixture[str]) -> None:
    pcx = held(organization, context, made_hours_ago=24)
    capsys.readouterr()

    assert main(["pending", "--json", *HUB]) == 0

    [listed] = json.loads(capsys.readouterr().out)
    assert listed["connectionId"] == pcx
    assert listed["accepter"].startswith(f"{HUB_ACCOUNT}/{REGION}/vpc-")
    assert listed["ageHours"] == pytest.approx(24, abs=0.1)
    assert listed["hoursLeft"] == pytest.approx(144, abs=0.1)
    assert listed["reasons"][0].startswith("no rule of policy test-1")
    assert listed["remindedAtHoursBeforeExpiry"] == []


def test_pending_with_nothing_held(organization: Organization, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["pending", *HUB]) == 0
    assert capsys.readouterr().out.startswith("0 held request(s)")


def test_pending_shows_when_our_requesters_sweep_withdraws_a_request(
    organization: Organization, context: FakeContext, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given the policy withdraws our own requests after 48 h, a request from outside the
    # organization made 90 h ago (AWS expires it in 78 h) and one from a member account made 30 h
    # ago (AWS would expire it in 138 h; its requester's sweep withdraws it in 18 h)
    put_policy(default_policy(organization) + "cleanup:\n  pendingRequestMaxAgeHours: 48\n")
    outsider = held(organization, context, made_hours_ago=90)
    member_vpc = make_vpc(organization.platform_account, "10.30.0.0/16")
    hub_vpc = make_vpc(HUB_ACCOUNT, "10.2.0.0/16")  # not opted in: the platform rule does not match
    member, event = request_peering(organization.platform_account, member_vpc, HUB_ACCOUNT, hub_vpc)
    lifecycle.age(member, hours=30)
    assert accept.lambda_handler(event, context)["outcome"] == "held"
    capsys.readouterr()

    # When the operator lists what is pending
    assert main(["pending", *HUB]) == 0

    # Then each shows its real end, the withdrawal first
    out = capsys.readouterr().out
    assert out.index(member) < out.index(outsider)
    assert "age 1 d 6 h, is withdrawn in 17 h 59 min (" in out
    assert "by its requester's sweep (cleanup.pendingRequestMaxAgeHours 48); AWS would expire it" in out
    assert "age 3 d 18 h, expires in 3 d 5 h (" in out

    assert main(["pending", "--json", *HUB]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [(r["connectionId"], r["ending"]) for r in listed] == [(member, "withdrawn"), (outsider, "expires")]
    assert [r["hoursLeft"] for r in listed] == [pytest.approx(18, abs=0.1), pytest.approx(78, abs=0.1)]
    assert listed[0]["expirationTime"] > listed[1]["expirationTime"]  # AWS alone would list them the other way
