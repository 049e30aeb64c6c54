"""Notices queued once under a marker item of their own (the daily not-ready summary)."""

from __future__ import annotations

from typing import Any

from peering.aws.ledger.table import LedgerTable, now_text
from peering.core.models import Notice


class NoticeMarkers(LedgerTable):
    """A notice queued once, whoever races to queue it: its marker and it are one transaction."""

    def notice_once(self, marker: tuple[str, str], notice: Notice, attributes: dict[str, Any] | None = None) -> bool:
        """Queue ``notice`` in the outbox unless ``marker`` (pk, sk) was written before: the marker
        and the notice are one transaction, so however many runs race, one notice is queued.
        False: another run queued it already."""
        pk, sk = marker
        item = {"pk": {"S": pk}, "sk": {"S": sk}, "queuedAt": {"S": now_text()}, **(attributes or {})}
        put = {"Put": {"TableName": self._table, "Item": item, "ConditionExpression": "attribute_not_exists(pk)"}}
        return self._transact([put, *self._outbox_put(pk, sk, notice)])
