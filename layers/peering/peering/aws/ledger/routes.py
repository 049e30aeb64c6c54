"""Route records: one item per route the engine made (``sk = "ROUTE#<account>#<Region>#<table>#<destination>"``),
written before the route is made and deleted once it is removed, so the engine removes only its own:
planning is handed ``owned_routes`` and removes no route outside it;
and, for a sweep's connections configured together, their configure history in the same kind of batch.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from peering.aws.ledger.table import LedgerTable, configuration_attributes, now_text
from peering.core.errors import LedgerBusyError
from peering.core.routing import OwnedRoutes, RouteRecord, owned_of

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


class RouteRecords(LedgerTable):
    """The routes the engine made, per connection (configure and cleanup read them)."""

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

    def record_configurations(self, plans: Sequence[tuple[str, list[str]]], *, dry_run: bool) -> None:
        """The history items of several configure plans (connection id, plan lines) at once, once
        their changes are made (``record_configuration``'s items, ROUTES_PER_WRITE a request)."""
        items = [self.history_item(pcx, "configure", configuration_attributes(lines, dry_run)) for pcx, lines in plans]
        batch = [{"PutRequest": {"Item": item}} for item in items]
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

    def route_records(self, connection_id: str) -> tuple[RouteRecord, ...]:
        """The routes the engine installed for a connection: one Query of its route records
        (strongly consistent: a record written a moment ago counts)."""
        records: list[RouteRecord] = []
        paginator = self._ddb().get_paginator("query")
        for page in paginator.paginate(
            TableName=self._table,
            KeyConditionExpression="pk = :pk AND begins_with(sk, :route)",
            ExpressionAttributeValues={":pk": {"S": connection_id}, ":route": {"S": "ROUTE#"}},
            ProjectionExpression="account, #region, routeTableId, destination",
            ExpressionAttributeNames={"#region": "region"},
            ConsistentRead=True,
        ):
            records += [
                (i["account"]["S"], i["region"]["S"], i["routeTableId"]["S"], i["destination"]["S"])
                for i in page["Items"]
            ]
        return tuple(records)

    def owned_routes(self, connection_id: str) -> OwnedRoutes:
        """The routes the engine installed for a connection, as planning compares them (one Query)."""
        return owned_of(self.route_records(connection_id))

    def routes(self, connection_id: str) -> list[dict[str, str]]:
        return [
            {k: v["S"] for k, v in item.items() if "S" in v}
            for item in self.history(connection_id)
            if item["sk"]["S"].startswith("ROUTE#")
        ]
