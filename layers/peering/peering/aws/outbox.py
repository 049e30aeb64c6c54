"""The outbox: notifications are queued in the ledger with the write they report, then published.

A notice is queued in the same DynamoDB transaction that marks its work done (a decision carried
out, a record closed, findings recorded), so it can be neither lost nor queued twice. Publishing
claims the notice first (a conditional write with a lease), publishes, then deletes it: two runs
never publish the same notice, a failed Publish releases the claim and raises (the invocation is
retried), and a run killed mid-publish leaves a claim that expires, after which the next run or
the sweep publishes it. The one window left is a kill between Publish and the delete: the notice
is then published again (at least once, never zero times). docs/reliability.md has the reasoning.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from peering.aws.clients import AwsClients
from peering.aws.ledger.table import OUTBOX, LedgerTable, now_text
from peering.aws.notify import Notifier
from peering.runtime.observability import MetricUnit, logger, metrics

# Longer than any function's timeout (Lambda allows 15 minutes): a live claimant is never
# overtaken, and a killed one's notice is published by the next run after this.
CLAIM_SECONDS = 900


def clock() -> float:
    """Seconds since the epoch (tests move it forward to expire a dead run's claim)."""
    return time.time()


@dataclass(frozen=True)
class FlushResult:
    sent: int = 0
    in_flight: int = 0  # claimed by another run that is (or was) publishing them


class Outbox:
    def __init__(self, aws: AwsClients, ledger: LedgerTable, notifier: Notifier) -> None:
        self._aws = aws
        self._ledger = ledger
        self._table = ledger.table_name
        self._notifier = notifier

    def _ddb(self) -> Any:
        return self._aws.hub("dynamodb")

    def pending(self, connection_id: str | None = None) -> list[dict[str, Any]]:
        """Queued notices, of one connection or of all (the sweep)."""
        values: dict[str, Any] = {":pk": {"S": OUTBOX}}
        condition = "pk = :pk"
        if connection_id is not None:
            condition += " AND begins_with(sk, :prefix)"
            values[":prefix"] = {"S": f"{connection_id}#"}
        items: list[dict[str, Any]] = []
        paginator = self._ddb().get_paginator("query")
        for page in paginator.paginate(
            TableName=self._table,
            KeyConditionExpression=condition,
            ExpressionAttributeValues=values,
            ConsistentRead=True,
        ):
            items.extend(page["Items"])
        return items

    def flush(self, connection_id: str | None = None) -> FlushResult:
        sent = in_flight = 0
        for item in self.pending(connection_id):
            if self._publish(item):
                sent += 1
            else:
                in_flight += 1
        if sent:
            metrics.add_metric(name="NotificationsSent", unit=MetricUnit.Count, value=sent)
        return FlushResult(sent, in_flight)

    def _publish(self, item: dict[str, Any]) -> bool:
        key = {"pk": item["pk"], "sk": item["sk"]}
        now = clock()
        try:
            self._ddb().update_item(
                TableName=self._table,
                Key=key,
                UpdateExpression="SET claimedUntil = :until ADD attempts :one",
                ConditionExpression=(
                    "attribute_exists(pk) AND (attribute_not_exists(claimedUntil) OR claimedUntil < :now)"
                ),
                ExpressionAttributeValues={
                    ":until": {"N": str(int(now) + CLAIM_SECONDS)},
                    ":now": {"N": str(int(now))},
                    ":one": {"N": "1"},
                },
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False  # another run holds it, or already published and deleted it
            raise
        subject, message = item["subject"]["S"], item["message"]["S"]
        try:
            self._notifier.send(subject, message, notice_id=item["sk"]["S"])
        except Exception:
            # Give it back at once: the retry of this invocation publishes it.
            self._ddb().update_item(TableName=self._table, Key=key, UpdateExpression="REMOVE claimedUntil")
            raise
        self._ddb().delete_item(TableName=self._table, Key=key)
        connection_id = item["connectionId"]["S"]
        self._ledger.log(
            connection_id,
            "notified",
            {
                "noticeKey": item["noticeKey"],
                "subject": {"S": subject},
                "queuedAt": item["queuedAt"],
                "sentAt": {"S": now_text()},
            },
        )
        logger.info("notified", extra={"connection_id": connection_id, "subject": subject})
        return True
