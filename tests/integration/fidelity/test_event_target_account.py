"""Gap ``event_target_account`` (emulation/fidelity/event_target_account.py): a rule's target gets the
event's ``account``."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from tests.integration.fidelity.world import EAST, World, gap_fixed

MOTO_DEFAULT_ACCOUNT = "123456789012"


def _delivered(bus: str = "peering-autopilot") -> dict[str, Any]:
    """An event put on a bus, as the queue a rule of the bus sends it to receives it."""
    sqs, events = boto3.client("sqs", region_name=EAST), boto3.client("events", region_name=EAST)
    url = sqs.create_queue(QueueName="tap")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.create_event_bus(Name=bus)
    events.put_rule(Name="tap", EventBusName=bus, EventPattern=json.dumps({"source": ["peering-autopilot.operator"]}))
    events.put_targets(Rule="tap", EventBusName=bus, Targets=[{"Id": "tap", "Arn": arn}])
    events.put_events(
        Entries=[
            {
                "Source": "peering-autopilot.operator",
                "DetailType": "Approve Peering Request",
                "Detail": json.dumps({"connectionId": "pcx-0123456789abcdef0"}),
                "EventBusName": bus,
            }
        ]
    )
    message = sqs.receive_message(QueueUrl=url)["Messages"][0]
    event: dict[str, Any] = json.loads(message["Body"])
    return event


def test_raw_moto_still_has_gap_event_target_account(raw: World) -> None:
    event = _delivered()
    if "account" in event:
        pytest.fail(gap_fixed("event_target_account", f"account={event['account']!r}"))
    assert event["detail-type"] == "Approve Peering Request", "unexpected moto behaviour"


def test_event_target_account_is_the_senders(patched: World) -> None:
    event = _delivered()

    assert event["account"] == MOTO_DEFAULT_ACCOUNT
    assert set(event) >= {"version", "id", "detail-type", "source", "account", "time", "region", "resources", "detail"}
    assert event["detail"] == {"connectionId": "pcx-0123456789abcdef0"}
