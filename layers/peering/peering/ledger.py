"""The ledger: one DynamoDB table recording every decision and what the engine did.

Items: ``pk = <connection id>``; ``sk = "STATE"`` holds the latest decision, ``sk = "LOG#<time>#<n>"``
keeps the history (append-only, never overwritten).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from peering.aws import AwsClients
from peering.models import LedgerState
from peering.plan import RecordDecision

STATE = "STATE"
# DynamoDB time-to-live (attribute expiresAt): history is kept about 13 months, a closed
# connection's record 90 days after it closed. Open records never expire.
HISTORY_DAYS = 400
CLOSED_DAYS = 90


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def _expires(days: int) -> dict[str, str]:
    return {"N": str(int((datetime.now(UTC) + timedelta(days=days)).timestamp()))}


def _log_key() -> dict[str, str]:
    return {"S": f"LOG#{_now()}#{uuid.uuid4().hex[:8]}"}


def _state_from_item(connection_id: str, item: dict[str, Any]) -> LedgerState:
    return LedgerState(
        connection_id=connection_id,
        decision=item.get("decision", {}).get("S", ""),
        policy_version=item.get("policyVersion", {}).get("S"),
        status=item.get("status", {}).get("S", ""),
        closed="closedAt" in item,
    )


class Ledger:
    def __init__(self, aws: AwsClients, table_name: str) -> None:
        self._aws = aws
        self._table = table_name

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

    def record_decision(self, record: RecordDecision, *, dry_run: bool = False) -> None:
        decision = record.decision
        attributes: dict[str, Any] = {
            "decision": {"S": decision.outcome.value},
            "reasons": {"L": [{"S": r} for r in decision.reasons]},
            "decidedBy": {"S": decision.decided_by},
            "policyVersion": {"S": decision.policy_version or "none"},
            "status": {"S": record.status},
            "requester": {"S": record.requester},
            "accepter": {"S": record.accepter},
            "updatedAt": {"S": _now()},
        }
        if decision.rule:
            attributes["rule"] = {"S": decision.rule}
        if record.expiration_time is not None:
            attributes["expirationTime"] = {"S": record.expiration_time.isoformat()}
        if dry_run:
            attributes["dryRun"] = {"BOOL": True}
        log_item = {
            "pk": {"S": record.connection_id},
            "sk": _log_key(),
            "expiresAt": _expires(HISTORY_DAYS),
            "kind": {"S": "decision"},
            **attributes,
        }
        self._ddb().put_item(TableName=self._table, Item=log_item)
        if not dry_run:
            state_item = {"pk": {"S": record.connection_id}, "sk": {"S": STATE}, **attributes}
            self._ddb().put_item(TableName=self._table, Item=state_item)

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

    def close(self, connection_id: str, status: str, requester: str | None, accepter: str | None) -> None:
        """Mark the record closed with the final status (creating it if the engine never saw it)."""
        now = _now()
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
        self._ddb().update_item(
            TableName=self._table,
            Key={"pk": {"S": connection_id}, "sk": {"S": STATE}},
            UpdateExpression="SET " + ", ".join(sets),
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
        )

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

    def record_route(
        self, connection_id: str, account: str, region: str, route_table_id: str, destination: str
    ) -> None:
        self._ddb().put_item(
            TableName=self._table,
            Item={
                "pk": {"S": connection_id},
                "sk": {"S": self._route_key(account, region, route_table_id, destination)},
                "kind": {"S": "route"},
                "account": {"S": account},
                "region": {"S": region},
                "routeTableId": {"S": route_table_id},
                "destination": {"S": destination},
                "installedAt": {"S": _now()},
            },
        )

    def forget_route(
        self, connection_id: str, account: str, region: str, route_table_id: str, destination: str
    ) -> None:
        self._ddb().delete_item(
            TableName=self._table,
            Key={
                "pk": {"S": connection_id},
                "sk": {"S": self._route_key(account, region, route_table_id, destination)},
            },
        )

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

    def record_findings(self, connection_id: str, findings: list[tuple[str, str, str]]) -> None:
        """Remember which findings were reported (kind, key, message), so each is notified once."""
        if not findings:
            return
        self._ddb().update_item(
            TableName=self._table,
            Key={"pk": {"S": connection_id}, "sk": {"S": "FINDINGS"}},
            UpdateExpression="ADD #keys :keys SET updatedAt = :now",
            ExpressionAttributeNames={"#keys": "keys"},
            ExpressionAttributeValues={":keys": {"SS": [key for _, key, _ in findings]}, ":now": {"S": _now()}},
        )
        for kind, key, message in findings:
            self._ddb().put_item(
                TableName=self._table,
                Item={
                    "pk": {"S": connection_id},
                    "sk": _log_key(),
                    "expiresAt": _expires(HISTORY_DAYS),
                    "kind": {"S": kind},
                    "findingKey": {"S": key},
                    "message": {"S": message},
                },
            )

    def record_configuration(self, connection_id: str, plan_lines: list[str], *, dry_run: bool) -> None:
        self._ddb().put_item(
            TableName=self._table,
            Item={
                "pk": {"S": connection_id},
                "sk": _log_key(),
                "expiresAt": _expires(HISTORY_DAYS),
                "kind": {"S": "configure"},
                "plan": {"L": [{"S": line} for line in plan_lines]},
                "dryRun": {"BOOL": dry_run},
            },
        )

    def states(self, connection_ids: list[str]) -> dict[str, LedgerState]:
        """STATE of many connections in as few calls as possible (BatchGetItem, 100 keys a call)."""
        found: dict[str, LedgerState] = {}
        unique = list(dict.fromkeys(connection_ids))
        for start in range(0, len(unique), 100):
            keys: list[dict[str, Any]] = [{"pk": {"S": c}, "sk": {"S": STATE}} for c in unique[start : start + 100]]
            request: dict[str, Any] = {self._table: {"Keys": keys, "ConsistentRead": True}}
            while request:
                answer = self._ddb().batch_get_item(RequestItems=request)
                for item in answer.get("Responses", {}).get(self._table, []):
                    state = _state_from_item(item["pk"]["S"], item)
                    found[state.connection_id] = state
                request = answer.get("UnprocessedKeys") or {}
        return found
