"""Reminders sent for a held request: the points recorded on its STATE item (``remindersSent``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from peering.aws.ledger.table import STATE, LedgerTable, now_text
from peering.core.models import Notice


class ReminderRecords(LedgerTable):
    """The reminders of held requests, each point recorded once with the reminder it queued."""

    def record_reminder(self, connection_id: str, points: Sequence[int], key: str, notice: Notice) -> bool:
        """Remember that a held request was reminded at these points and queue the reminder, in
        one transaction conditional on the request still being held and open and on none of the
        points being recorded: of two sweeps that find it due, one reminds, the other gets False."""
        values: dict[str, Any] = {
            ":points": {"NS": [str(p) for p in points]},
            ":held": {"S": "held"},
            ":now": {"S": now_text()},
        }
        unsent = []
        for n, point in enumerate(points):
            values[f":p{n}"] = {"N": str(point)}
            unsent.append(f"NOT contains(remindersSent, :p{n})")
        update = {
            "Update": {
                "TableName": self._table,
                "Key": {"pk": {"S": connection_id}, "sk": {"S": STATE}},
                "UpdateExpression": "ADD remindersSent :points SET remindedAt = :now",
                "ConditionExpression": (
                    "decision = :held AND attribute_not_exists(closedAt) AND "
                    f"(attribute_not_exists(remindersSent) OR ({' AND '.join(unsent)}))"
                ),
                "ExpressionAttributeValues": values,
            }
        }
        if not self._transact([update, *self._outbox_put(connection_id, key, notice)]):
            return False
        self.log(
            connection_id, "reminder", {"points": {"NS": [str(p) for p in points]}, "subject": {"S": notice.subject}}
        )
        return True
