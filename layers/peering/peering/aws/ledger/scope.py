"""Scope records: whether the autopilot manages an active connection (``sk = "SCOPE"``).

``managed``: its acceptance was seen after deployment (configure, on the Accept event), or it was
seen pending with no decision to record (a request of ours to an account outside the organization);
``pre-existing``: the sweep saw it active first, with no record of its acceptance; ``adopted``: a
policy version adopted it (recorded and notified once, in one transaction). Every write is
conditional, so an event arriving after the sweep cannot turn a pre-existing connection into a
managed one (core/scope.py has the rule).
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from peering.aws.ledger.table import LedgerTable, _cancelled_by_condition, now_text
from peering.core.models import Notice
from peering.core.scope import ScopeRecord, ScopeRecordKind

SCOPE = "SCOPE"


def _record_from_item(item: dict[str, Any]) -> ScopeRecord | None:
    try:
        kind = ScopeRecordKind(item.get("scope", {}).get("S", ""))
    except ValueError:
        return None
    return ScopeRecord(kind, item.get("reason", {}).get("S", ""), item.get("policyVersion", {}).get("S"))


class ScopeRecords(LedgerTable):
    """The SCOPE item of each connection the autopilot judged the scope of."""

    def scope_records(self, connection_ids: list[str]) -> dict[str, ScopeRecord]:
        """SCOPE items of many connections: BatchGetItem, 100 keys a call."""
        found: dict[str, ScopeRecord] = {}
        unique = list(dict.fromkeys(connection_ids))
        for start in range(0, len(unique), 100):
            keys: list[dict[str, Any]] = [{"pk": {"S": c}, "sk": {"S": SCOPE}} for c in unique[start : start + 100]]
            request: dict[str, Any] = {self._table: {"Keys": keys, "ConsistentRead": True}}
            while request:
                answer = self._ddb().batch_get_item(RequestItems=request)
                for item in answer.get("Responses", {}).get(self._table, []):
                    record = _record_from_item(item)
                    if record is not None:
                        found[item["pk"]["S"]] = record
                request = answer.get("UnprocessedKeys") or {}
        return found

    def scope_record(self, connection_id: str) -> ScopeRecord | None:
        """One connection's SCOPE item (GetItem: configure's role has no BatchGetItem)."""
        item = (
            self._ddb()
            .get_item(TableName=self._table, Key={"pk": {"S": connection_id}, "sk": {"S": SCOPE}}, ConsistentRead=True)
            .get("Item")
        )
        return _record_from_item(item) if item else None

    def _first_scope(self, connection_id: str, kind: ScopeRecordKind, reason: str) -> bool:
        """Write the connection's first SCOPE item; False when it already has one (kept as it is)."""
        item = {
            "pk": {"S": connection_id},
            "sk": {"S": SCOPE},
            "scope": {"S": kind.value},
            "reason": {"S": reason},
            "recordedAt": {"S": now_text()},
        }
        try:
            self._ddb().put_item(TableName=self._table, Item=item, ConditionExpression="attribute_not_exists(pk)")
        except ClientError as exc:
            if _cancelled_by_condition(exc):
                return False
            raise
        self.log(connection_id, "scope", {"scope": {"S": kind.value}, "reason": {"S": reason}})
        return True

    def record_managed(self, connection_id: str, reason: str) -> bool:
        """Its acceptance (or the request itself) was seen after deployment: managed, unless the
        sweep saw it active first (pre-existing)."""
        return self._first_scope(connection_id, ScopeRecordKind.MANAGED, reason)

    def record_pre_existing(self, connection_id: str, reason: str) -> bool:
        """The sweep saw it active with no record of its acceptance: pre-existing, once."""
        return self._first_scope(connection_id, ScopeRecordKind.PRE_EXISTING, reason)

    def record_adoption(self, connection_id: str, reason: str, policy_version: str, notice: Notice) -> bool:
        """A policy version adopted the connection: recorded with its notice in one transaction,
        once (False: already adopted, or managed after all)."""
        update = {
            "Update": {
                "TableName": self._table,
                "Key": {"pk": {"S": connection_id}, "sk": {"S": SCOPE}},
                "UpdateExpression": "SET #scope = :adopted, reason = :reason, policyVersion = :version, "
                "adoptedAt = :now",
                "ConditionExpression": "attribute_not_exists(pk) OR #scope = :pre",
                "ExpressionAttributeNames": {"#scope": "scope"},
                "ExpressionAttributeValues": {
                    ":adopted": {"S": ScopeRecordKind.ADOPTED.value},
                    ":pre": {"S": ScopeRecordKind.PRE_EXISTING.value},
                    ":reason": {"S": reason},
                    ":version": {"S": policy_version},
                    ":now": {"S": now_text()},
                },
            }
        }
        if not self._transact([update, *self._outbox_put(connection_id, "adopted", notice)]):
            return False
        self.log(connection_id, "scope", {"scope": {"S": "adopted"}, "reason": {"S": reason}})
        return True
