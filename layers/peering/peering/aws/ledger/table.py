"""The ledger's table: its keys, its clock, and what every store of records shares.

Every store in this package keeps its records in the one DynamoDB table (``pk``, ``sk``); this
module holds what they all use: the STATE and OUTBOX keys, the times and time-to-live written,
a connection's history (``LOG#`` items), and transactions that queue the notice a write owes.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from peering.aws.clients import AwsClients
from peering.core.models import Notice

STATE = "STATE"
OUTBOX = "OUTBOX"
# DynamoDB time-to-live (attribute expiresAt): history is kept about 13 months, a closed
# connection's record 90 days after it closed. Open records never expire.
HISTORY_DAYS = 400
CLOSED_DAYS = 90


def now_text() -> str:
    """Now, as the ledger writes times (ISO 8601, UTC, milliseconds)."""
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def _expires(days: int) -> dict[str, str]:
    return {"N": str(int((datetime.now(UTC) + timedelta(days=days)).timestamp()))}


def _log_key() -> dict[str, str]:
    return {"S": f"LOG#{now_text()}#{uuid.uuid4().hex[:8]}"}


def _cancelled_by_condition(exc: ClientError) -> bool:
    """A conditional write lost to another run (as opposed to an error worth retrying)."""
    error = exc.response.get("Error", {})
    if error.get("Code") == "ConditionalCheckFailedException":
        return True
    if error.get("Code") != "TransactionCanceledException":
        return False
    reasons = exc.response.get("CancellationReasons") or []
    if reasons:
        return any(r.get("Code") == "ConditionalCheckFailed" for r in reasons)
    return "ConditionalCheckFailed" in error.get("Message", "")


class LedgerTable:
    """The table every store of ledger records shares: one client, one table name, history."""

    def __init__(self, aws: AwsClients, table_name: str) -> None:
        self._aws = aws
        self._table = table_name

    @property
    def table_name(self) -> str:
        return self._table

    def _ddb(self) -> Any:
        return self._aws.hub("dynamodb")

    def _state_item(self, connection_id: str) -> dict[str, Any] | None:
        item: dict[str, Any] | None = (
            self._ddb()
            .get_item(TableName=self._table, Key={"pk": {"S": connection_id}, "sk": {"S": STATE}}, ConsistentRead=True)
            .get("Item")
        )
        return item

    def _transact(self, items: list[dict[str, Any]]) -> bool:
        try:
            self._ddb().transact_write_items(TransactItems=items)
        except ClientError as exc:
            if _cancelled_by_condition(exc):
                return False
            raise
        return True

    def _outbox_put(self, connection_id: str, key: str, notice: Notice | None) -> list[dict[str, Any]]:
        if notice is None:
            return []
        item = {
            "pk": {"S": OUTBOX},
            "sk": {"S": f"{connection_id}#{key}#{uuid.uuid4().hex[:8]}"},
            "connectionId": {"S": connection_id},
            "noticeKey": {"S": key},
            "subject": {"S": notice.subject},
            "message": {"S": notice.message},
            "queuedAt": {"S": now_text()},
        }
        return [{"Put": {"TableName": self._table, "Item": item, "ConditionExpression": "attribute_not_exists(pk)"}}]

    @staticmethod
    def history_item(connection_id: str, kind: str, attributes: dict[str, Any]) -> dict[str, Any]:
        """One item of a connection's history (never overwritten; expires after HISTORY_DAYS)."""
        return {
            "pk": {"S": connection_id},
            "sk": _log_key(),
            "expiresAt": _expires(HISTORY_DAYS),
            "kind": {"S": kind},
            **attributes,
        }

    def log(self, connection_id: str, kind: str, attributes: dict[str, Any]) -> None:
        """Append one item to a connection's history."""
        self._ddb().put_item(TableName=self._table, Item=self.history_item(connection_id, kind, attributes))

    def history(self, connection_id: str) -> list[dict[str, Any]]:
        """Every item recorded for a connection, oldest log first, STATE last (for tests and tools)."""
        items: list[dict[str, Any]] = []
        paginator = self._ddb().get_paginator("query")
        for page in paginator.paginate(
            TableName=self._table,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": connection_id}},
        ):
            items.extend(page["Items"])
        return sorted(items, key=lambda i: (i["sk"]["S"] == STATE, i["sk"]["S"]))

    def record_configuration(self, connection_id: str, plan_lines: list[str], *, dry_run: bool) -> None:
        self.log(connection_id, "configure", configuration_attributes(plan_lines, dry_run))


def configuration_attributes(plan_lines: list[str], dry_run: bool) -> dict[str, Any]:
    """A configure history item's own attributes: the plan, and whether it was a dry run."""
    return {"plan": {"L": [{"S": line} for line in plan_lines]}, "dryRun": {"BOOL": dry_run}}
