"""The ledger: one DynamoDB table recording every decision and what the engine did.

Items: ``pk = <connection id>``; ``sk = "STATE"`` holds the latest decision, ``sk = "LOG#<time>#<n>"``
keeps the history (append-only, never overwritten). ``pk = "OUTBOX"`` holds notifications that are
committed but not yet published (see ``peering.aws.outbox`` and docs/reliability.md).

Every write that two runs can race on is conditional, and every "done" is written in the same
transaction as the notification it owes, so a crash or a duplicate delivery can neither lose nor
double a decision, a cleanup or a notification.

The records are kept by one store each, over the same table: ``decisions`` (STATE: decisions,
intents, commits, closing), ``reminders``, ``routes`` (route records), ``findings`` and
``notices`` (a notice queued once under a marker), ``scope`` (whether the autopilot manages an
active connection: SCOPE); ``table`` holds what they share (keys, clock,
history, the outbox item a write queues). ``Ledger`` is all of them on one table, as the engine
context builds it; code that needs one kind of record takes that store's type.
"""

from __future__ import annotations

from peering.aws.ledger.decisions import DecisionRecords
from peering.aws.ledger.findings import FindingRecords
from peering.aws.ledger.notices import NoticeMarkers
from peering.aws.ledger.reminders import ReminderRecords
from peering.aws.ledger.routes import RouteRecords
from peering.aws.ledger.scope import ScopeRecords
from peering.aws.ledger.table import now_text

__all__ = ["Ledger", "now_text"]


class Ledger(DecisionRecords, ReminderRecords, RouteRecords, FindingRecords, NoticeMarkers, ScopeRecords):
    """Every store of ledger records on the one table (``EngineContext.ledger``)."""
