"""``python -m runner tail``: watch the hub's ledger and notifications as they change (docs/try-it.md).

The ledger: every connection's record (``sk`` STATE) is read every ``--interval`` seconds and a
line is printed when it first appears and each time its status, decision, who decided or its
closing changes. Notifications: a queue of its own (``runner-tail-<pid>``) is subscribed to the
hub's topic while it runs and removed when it stops, so that it takes no message from anyone
else's subscription. Names come from the stack's outputs (``pending``'s look-up: the sandbox of
``runner up`` has them too), through the standard AWS environment (``AWS_PROFILE=hub`` with the
profiles ``up`` writes). ``--once`` prints the ledger as it is and exits.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from typing import Any

from runner.operator_cli import Hub, locate_hub

__all__ = ["cmd_tail", "ledger_line"]

_WATCHED = ("status", "decision", "decidedBy", "closedAt")


def _text(item: dict[str, Any], key: str) -> str:
    value = item.get(key) or {}
    return str(value.get("S", value.get("N", "")))


def ledger_line(item: dict[str, Any]) -> str:
    """One line for a connection's record: id, status, decision, by whom, sides, closed."""
    parts = [f"ledger {_text(item, 'pk')}", f"status {_text(item, 'status') or '?'}"]
    if _text(item, "decision"):
        by = f" by {_text(item, 'decidedBy')}" if _text(item, "decidedBy") else ""
        parts.append(f"decision {_text(item, 'decision')}{by}")
    if _text(item, "requester") or _text(item, "accepter"):
        parts.append(f"{_text(item, 'requester') or '?'} -> {_text(item, 'accepter') or '?'}")
    if _text(item, "closedAt"):
        parts.append(f"closed {_text(item, 'closedAt')}")
    return ", ".join(parts)


def _states(hub: Hub) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    pages = (
        hub.session.client("dynamodb")
        .get_paginator("scan")
        .paginate(
            TableName=hub.ledger_table,
            FilterExpression="sk = :state",
            ExpressionAttributeValues={":state": {"S": "STATE"}},
            ConsistentRead=True,
        )
    )
    for page in pages:
        items.extend(page["Items"])
    return sorted(items, key=lambda i: _text(i, "pk"))


def _topic_arn(hub: Hub, stack_name: str) -> str | None:
    try:
        stacks = hub.session.client("cloudformation").describe_stacks(StackName=stack_name)["Stacks"]
    except Exception:  # no stack: no topic to follow (the ledger still is)
        return None
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}
    return outputs.get("NotificationTopicArn")


class _Notifications:
    """A queue of tail's own, subscribed to the topic while it runs."""

    def __init__(self, hub: Hub, topic: str) -> None:
        self.sqs = hub.session.client("sqs")
        self.sns = hub.session.client("sns")
        self.url = str(self.sqs.create_queue(QueueName=f"runner-tail-{os.getpid()}")["QueueUrl"])
        arn = self.sqs.get_queue_attributes(QueueUrl=self.url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        self.subscription = str(
            self.sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn, ReturnSubscriptionArn=True)[
                "SubscriptionArn"
            ]
        )

    def lines(self) -> list[str]:
        out: list[str] = []
        for message in self.sqs.receive_message(QueueUrl=self.url, MaxNumberOfMessages=10).get("Messages", []):
            body = json.loads(message["Body"])
            out.append(f"notified: {body.get('Subject', '')}")
            self.sqs.delete_message(QueueUrl=self.url, ReceiptHandle=message["ReceiptHandle"])
        return out

    def close(self) -> None:
        self.sns.unsubscribe(SubscriptionArn=self.subscription)
        self.sqs.delete_queue(QueueUrl=self.url)


def _watch(hub: Hub, notifications: _Notifications | None, interval: float, say: Callable[[str], None]) -> None:
    seen: dict[str, tuple[str, ...]] = {}
    while True:
        for item in _states(hub):
            key, fingerprint = _text(item, "pk"), tuple(_text(item, k) for k in _WATCHED)
            if seen.get(key) != fingerprint:
                seen[key] = fingerprint
                say(f"{time.strftime('%H:%M:%S')} {ledger_line(item)}")
        for line in notifications.lines() if notifications is not None else []:
            say(f"{time.strftime('%H:%M:%S')} {line}")
        time.sleep(interval)


def cmd_tail(args: argparse.Namespace) -> int:
    hub = locate_hub(args)

    def say(text: str) -> None:
        print(text, flush=True)

    if args.once:
        for item in _states(hub):
            say(ledger_line(item))
        return 0
    topic = _topic_arn(hub, args.stack_name)
    notifications = _Notifications(hub, topic) if topic else None
    follows = "and notifications" if notifications else "(no stack outputs: no notifications)"
    print(f"following ledger {hub.ledger_table} {follows} in {hub.account}/{hub.region}; Ctrl-C stops", file=sys.stderr)
    try:
        _watch(hub, notifications, args.interval, say)
    except KeyboardInterrupt:
        return 0
    finally:
        if notifications is not None:
            notifications.close()
    return 0  # pragma: no cover - the loop ends only by an interrupt
