"""Findings reported for a connection: their keys on one item (``sk = "FINDINGS"``), each reported once."""

from __future__ import annotations

from typing import Any

from peering.aws.ledger.table import LedgerTable, now_text
from peering.core.models import Notice

# A condition expression may be 4 KB: findings are recorded this many keys per transaction.
FINDINGS_PER_WRITE = 40


class FindingRecords(LedgerTable):
    """Which findings were reported for a connection, so each is reported once."""

    def findings_seen(self, connection_id: str) -> set[str]:
        item = (
            self._ddb()
            .get_item(
                TableName=self._table, Key={"pk": {"S": connection_id}, "sk": {"S": "FINDINGS"}}, ConsistentRead=True
            )
            .get("Item")
        )
        return set(item["keys"]["SS"]) if item and "keys" in item else set()

    def record_findings(
        self, connection_id: str, findings: list[tuple[str, str, str]], notice: Notice | None = None
    ) -> bool:
        """Remember which findings were reported (kind, key, message) and queue their notice.

        One transaction, conditional on none of the keys being known yet: of two runs that found
        the same thing, one records and notifies, the other gets False and stays quiet.
        """
        if not findings:
            return False
        recorded = False
        for start in range(0, len(findings), FINDINGS_PER_WRITE):
            chunk = findings[start : start + FINDINGS_PER_WRITE]
            values: dict[str, Any] = {":keys": {"SS": [key for _, key, _ in chunk]}, ":now": {"S": now_text()}}
            unknown = []
            for n, (_, key, _) in enumerate(chunk):
                values[f":k{n}"] = {"S": key}
                unknown.append(f"NOT contains(#keys, :k{n})")
            update = {
                "Update": {
                    "TableName": self._table,
                    "Key": {"pk": {"S": connection_id}, "sk": {"S": "FINDINGS"}},
                    "UpdateExpression": "ADD #keys :keys SET updatedAt = :now",
                    "ConditionExpression": f"attribute_not_exists(#keys) OR ({' AND '.join(unknown)})",
                    "ExpressionAttributeNames": {"#keys": "keys"},
                    "ExpressionAttributeValues": values,
                }
            }
            chunk_notice = None if recorded else notice  # one notice, with the first chunk that lands
            if not self._transact([update, *self._outbox_put(connection_id, "findings", chunk_notice)]):
                continue
            recorded = True
            for kind, key, message in chunk:
                self.log(connection_id, kind, {"findingKey": {"S": key}, "message": {"S": message}})
        return recorded
