"""The ledger: one DynamoDB table recording every decision and what the engine did.

Items: ``pk = <connection id>``; ``sk = "STATE"`` holds the latest decision, ``sk = "LOG#<time>#<n>"``
keeps the history (append-only, never overwritten). ``pk = "OUTBOX"`` holds notifications that are
committed but not yet published (see ``peering.aws.outbox`` and docs/reliability.md).

Every write that two runs can race on is conditional, and every "done" is written in the same
transaction as the notification it owes, so a crash or a duplicate delivery can neither lose nor
double a decision, a cleanup or a notification.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from peering.aws.clients import AwsClients
from peering.core.cleanup_plan import cleanup_key
from peering.core.errors import LedgerBusyError
from peering.core.models import Intent, LedgerState, Notice
from peering.core.plan import RecordDecision

STATE = "STATE"
OUTBOX = "OUTBOX"
# DynamoDB time-to-live (attribute expiresAt): history is kept about 13 months, a closed
# connection's record 90 days after it closed. Open records never expire.
HISTORY_DAYS = 400
CLOSED_DAYS = 90
# A condition expression may be 4 KB: findings are recorded this many keys per transaction.
FINDINGS_PER_WRITE = 40
# BatchWriteItem takes at most 25 items; what it leaves unprocessed is retried this many times,
# pausing BATCH_PAUSE seconds, doubled each time, at most BATCH_PAUSE_CAP.
ROUTES_PER_WRITE = 25
BATCH_ATTEMPTS = 8
BATCH_PAUSE = 0.05
BATCH_PAUSE_CAP = 2.0

#: (connection id, account, Region, route table id, destination): one route record
RouteKey = tuple[str, str, str, str, str]


def pause(seconds: float) -> None:
    """Wait before sending unprocessed items again (tests replace it)."""
    time.sleep(seconds)


def now_text() -> str:
    """Now, as the ledger writes times (ISO 8601, UTC, milliseconds)."""
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def _expires(days: int) -> dict[str, str]:
    return {"N": str(int((datetime.now(UTC) + timedelta(days=days)).timestamp()))}


def _log_key() -> dict[str, str]:
    return {"S": f"LOG#{now_text()}#{uuid.uuid4().hex[:8]}"}


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


class Ledger:
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

    def log(self, connection_id: str, kind: str, attributes: dict[str, Any]) -> None:
        """Append one item to a connection's history (never overwritten; expires after HISTORY_DAYS)."""
        item = {
            "pk": {"S": connection_id},
            "sk": _log_key(),
            "expiresAt": _expires(HISTORY_DAYS),
            "kind": {"S": kind},
            **attributes,
        }
        self._ddb().put_item(TableName=self._table, Item=item)

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

    def sides(self, connection_id: str) -> tuple[str, str] | None:
        """The recorded "account/Region/VPC" of each side, for connections AWS no longer shows."""
        item = self._state_item(connection_id)
        if not item or "requester" not in item or "accepter" not in item:
            return None
        return item["requester"]["S"], item["accepter"]["S"]

    # --- routes and findings (configure) -------------------------------------------------------

    @staticmethod
    def _route_key(account: str, region: str, route_table_id: str, destination: str) -> str:
        return f"ROUTE#{account}#{region}#{route_table_id}#{destination}"

    def _route_item_key(self, route: RouteKey) -> dict[str, Any]:
        connection_id, account, region, route_table_id, destination = route
        return {
            "pk": {"S": connection_id},
            "sk": {"S": self._route_key(account, region, route_table_id, destination)},
        }

    def write_routes(self, record: Sequence[RouteKey] = (), forget: Sequence[RouteKey] = ()) -> None:
        """Record routes about to be made and forget routes about to be removed: BatchWriteItem,
        ROUTES_PER_WRITE items a request (one write per 25 routes, not one per route)."""
        requests: dict[tuple[str, str], dict[str, Any]] = {}  # a batch may name an item only once
        for route in record:
            key = self._route_item_key(route)
            _, account, region, route_table_id, destination = route
            item = {
                **key,
                "kind": {"S": "route"},
                "account": {"S": account},
                "region": {"S": region},
                "routeTableId": {"S": route_table_id},
                "destination": {"S": destination},
                "installedAt": {"S": now_text()},
            }
            requests[(route[0], key["sk"]["S"])] = {"PutRequest": {"Item": item}}
        for route in forget:
            key = self._route_item_key(route)
            requests[(route[0], key["sk"]["S"])] = {"DeleteRequest": {"Key": key}}
        batch = list(requests.values())
        for start in range(0, len(batch), ROUTES_PER_WRITE):
            self._batch_write(batch[start : start + ROUTES_PER_WRITE])

    def _batch_write(self, requests: list[dict[str, Any]]) -> None:
        """One BatchWriteItem; what DynamoDB leaves unprocessed (throttling) is sent again, after
        a growing pause, until nothing is left or the attempts are spent."""
        pending: dict[str, Any] = {self._table: requests}
        for attempt in range(BATCH_ATTEMPTS):
            pending = self._ddb().batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}
            if not pending:
                return
            pause(min(BATCH_PAUSE_CAP, BATCH_PAUSE * 2**attempt))
        left = sum(len(items) for items in pending.values())
        raise LedgerBusyError(f"{left} route record(s) still unprocessed after {BATCH_ATTEMPTS} attempts")

    def routes(self, connection_id: str) -> list[dict[str, str]]:
        return [
            {k: v["S"] for k, v in item.items() if "S" in v}
            for item in self.history(connection_id)
            if item["sk"]["S"].startswith("ROUTE#")
        ]

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

    def record_configuration(self, connection_id: str, plan_lines: list[str], *, dry_run: bool) -> None:
        self.log(
            connection_id,
            "configure",
            {"plan": {"L": [{"S": line} for line in plan_lines]}, "dryRun": {"BOOL": dry_run}},
        )

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

    def notice_once(self, marker: tuple[str, str], notice: Notice, attributes: dict[str, Any] | None = None) -> bool:
        """Queue ``notice`` in the outbox unless ``marker`` (pk, sk) was written before: the marker
        and the notice are one transaction, so however many runs race, one notice is queued.
        False: another run queued it already."""
        pk, sk = marker
        item = {"pk": {"S": pk}, "sk": {"S": sk}, "queuedAt": {"S": now_text()}, **(attributes or {})}
        put = {"Put": {"TableName": self._table, "Item": item, "ConditionExpression": "attribute_not_exists(pk)"}}
        return self._transact([put, *self._outbox_put(pk, sk, notice)])
