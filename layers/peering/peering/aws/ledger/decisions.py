"""Decisions, intents and commits: the STATE item of each connection (``sk = "STATE"``).

A decision is recorded with its intent before it is carried out, committed (applied, its notice
queued) in one transaction after; a cleanup's intent is recorded before its first change and the
record closed with its notice in one transaction (docs/reliability.md).
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from peering.aws.ledger.table import CLOSED_DAYS, STATE, LedgerTable, _cancelled_by_condition, _expires, now_text
from peering.core.cleanup_plan import cleanup_key
from peering.core.models import Intent, LedgerState, Notice
from peering.core.plan import RecordDecision


def _intent_from_item(item: dict[str, Any]) -> Intent | None:
    raw = item.get("intent", {}).get("M")
    if not raw:
        return None
    notice = None
    if "subject" in raw and "message" in raw:
        notice = Notice(raw["subject"]["S"], raw["message"]["S"])
    return Intent(raw["key"]["S"], notice)


def _intent_value(intent: Intent) -> dict[str, Any]:
    value: dict[str, Any] = {"key": {"S": intent.key}}
    if intent.notice is not None:
        value["subject"] = {"S": intent.notice.subject}
        value["message"] = {"S": intent.notice.message}
    return {"M": value}


def _state_from_item(connection_id: str, item: dict[str, Any]) -> LedgerState:
    return LedgerState(
        connection_id=connection_id,
        decision=item.get("decision", {}).get("S", ""),
        policy_version=item.get("policyVersion", {}).get("S"),
        status=item.get("status", {}).get("S", ""),
        closed="closedAt" in item,
        decided_by=item.get("decidedBy", {}).get("S", ""),
        applied=item.get("applied", {}).get("BOOL", True),  # records older than intents were applied
        intent=_intent_from_item(item),
        rule=item.get("rule", {}).get("S"),
        reasons=tuple(r["S"] for r in item.get("reasons", {}).get("L", []) if "S" in r),
        reminders_sent=frozenset(int(n) for n in item.get("remindersSent", {}).get("NS", [])),
    )


class DecisionRecords(LedgerTable):
    """Decisions, intents and commits on the STATE item of each connection."""

    def get_state(self, connection_id: str) -> LedgerState | None:
        item = self._state_item(connection_id)
        return _state_from_item(connection_id, item) if item else None

    def get_location(self, connection_id: str) -> tuple[str, str] | None:
        """(accepter account, accepter Region) recorded for a connection, if it was seen before."""
        item = self._state_item(connection_id)
        if not item or "accepter" not in item:
            return None
        account, region, _vpc = item["accepter"]["S"].split("/", 2)
        return account, region

    def record_decision(self, record: RecordDecision, *, dry_run: bool = False) -> bool:
        """Record a decision before it is carried out (the intent), with the notice it owes.

        Returns False when the same decision is already recorded *and* carried out by another run
        (a duplicate delivery, the sweep): the caller then has nothing left to do.
        """
        decision = record.decision
        key = record.key
        attributes: dict[str, Any] = {
            "decision": {"S": decision.outcome.value},
            "reasons": {"L": [{"S": r} for r in decision.reasons]},
            "decidedBy": {"S": decision.decided_by},
            "policyVersion": {"S": decision.policy_version or "none"},
            "status": {"S": record.status},
            "requester": {"S": record.requester},
            "accepter": {"S": record.accepter},
            "updatedAt": {"S": now_text()},
        }
        if decision.rule:
            attributes["rule"] = {"S": decision.rule}
        if record.expiration_time is not None:
            attributes["expirationTime"] = {"S": record.expiration_time.isoformat()}
        self.log(record.connection_id, "decision", {**attributes, **({"dryRun": {"BOOL": True}} if dry_run else {})})
        if dry_run:
            return True
        attributes.update(
            decisionKey={"S": key},
            applied={"BOOL": False},
            intent=_intent_value(Intent(key, record.notice)),
        )
        names = {f"#{name}": name for name in attributes}
        values = {f":{name}": value for name, value in attributes.items()}
        values[":key"] = {"S": key}
        values[":yes"] = {"BOOL": True}
        try:
            self._ddb().update_item(
                TableName=self._table,
                Key={"pk": {"S": record.connection_id}, "sk": {"S": STATE}},
                UpdateExpression="SET " + ", ".join(f"#{name} = :{name}" for name in attributes),
                # Not over a record where this very decision was already carried out.
                ConditionExpression="NOT (#decisionKey = :key AND #applied = :yes)",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
            )
        except ClientError as exc:
            if _cancelled_by_condition(exc):
                return False
            raise
        return True

    def commit_decision(self, connection_id: str, key: str, status: str | None, notice: Notice | None) -> bool:
        """The decision was carried out: mark it applied and queue its notice, in one transaction.

        Returns False when another run committed it first (its notice is queued once).
        """
        names: dict[str, str] = {}
        values: dict[str, Any] = {
            ":yes": {"BOOL": True},
            ":no": {"BOOL": False},
            ":now": {"S": now_text()},
            ":key": {"S": key},
        }
        sets = "SET applied = :yes, updatedAt = :now"
        if status:
            sets += ", #status = :status"
            names["#status"] = "status"
            values[":status"] = {"S": status}
        body: dict[str, Any] = {
            "TableName": self._table,
            "Key": {"pk": {"S": connection_id}, "sk": {"S": STATE}},
            "UpdateExpression": sets + " REMOVE intent",
            "ConditionExpression": "decisionKey = :key AND applied = :no",
            "ExpressionAttributeValues": values,
        }
        if names:
            body["ExpressionAttributeNames"] = names
        update = {"Update": body}
        return self._transact([update, *self._outbox_put(connection_id, key, notice)])

    def begin(self, connection_id: str, intent: Intent) -> bool:
        """Record a cleanup's intent (and its notice) before its first change.

        Returns False when the record is already closed: another run finished this work.
        """
        try:
            self._ddb().update_item(
                TableName=self._table,
                Key={"pk": {"S": connection_id}, "sk": {"S": STATE}},
                UpdateExpression="SET intent = :intent, updatedAt = :now",
                ConditionExpression="attribute_not_exists(closedAt)",
                ExpressionAttributeValues={":intent": _intent_value(intent), ":now": {"S": now_text()}},
            )
        except ClientError as exc:
            if _cancelled_by_condition(exc):
                return False
            raise
        return True

    def close(
        self,
        connection_id: str,
        status: str,
        requester: str | None,
        accepter: str | None,
        *,
        notice: Notice | None = None,
    ) -> bool:
        """Mark the record closed with the final status and queue its notice, in one transaction.

        Creates the record if the engine never saw the connection. Returns False when it is closed
        already: closed once is closed, and its notice was queued once, by the run that closed it.
        """
        now = now_text()
        names = {"#status": "status"}
        values: dict[str, Any] = {":status": {"S": status}, ":now": {"S": now}}
        sets = [
            "#status = :status",
            "closedAt = :now",
            "updatedAt = :now",
            "expiresAt = :expires",
            "decision = if_not_exists(decision, :none)",
        ]
        values[":expires"] = _expires(CLOSED_DAYS)
        values[":none"] = {"S": "none"}
        for name, value in (("requester", requester), ("accepter", accepter)):
            if value:
                sets.append(f"{name} = if_not_exists({name}, :{name})")
                values[f":{name}"] = {"S": value}
        update = {
            "Update": {
                "TableName": self._table,
                "Key": {"pk": {"S": connection_id}, "sk": {"S": STATE}},
                "UpdateExpression": "SET " + ", ".join(sets) + " REMOVE intent",
                "ConditionExpression": "attribute_not_exists(closedAt)",
                "ExpressionAttributeNames": names,
                "ExpressionAttributeValues": values,
            }
        }
        return self._transact([update, *self._outbox_put(connection_id, cleanup_key(status), notice)])

    def sides(self, connection_id: str) -> tuple[str, str] | None:
        """The recorded "account/Region/VPC" of each side, for connections AWS no longer shows."""
        item = self._state_item(connection_id)
        if not item or "requester" not in item or "accepter" not in item:
            return None
        return item["requester"]["S"], item["accepter"]["S"]

    def states(self, connection_ids: list[str]) -> dict[str, LedgerState]:
        """STATE of many connections in as few calls as possible (BatchGetItem, 100 keys a call)."""
        return {c: _state_from_item(c, item) for c, item in self.state_items(connection_ids).items()}

    def state_items(self, connection_ids: list[str]) -> dict[str, dict[str, Any]]:
        """The STATE items themselves (decision, rule, reasons, ...), by connection id: BatchGetItem."""
        found: dict[str, dict[str, Any]] = {}
        unique = list(dict.fromkeys(connection_ids))
        for start in range(0, len(unique), 100):
            keys: list[dict[str, Any]] = [{"pk": {"S": c}, "sk": {"S": STATE}} for c in unique[start : start + 100]]
            request: dict[str, Any] = {self._table: {"Keys": keys, "ConsistentRead": True}}
            while request:
                answer = self._ddb().batch_get_item(RequestItems=request)
                for item in answer.get("Responses", {}).get(self._table, []):
                    found[item["pk"]["S"]] = item
                request = answer.get("UnprocessedKeys") or {}
        return found
