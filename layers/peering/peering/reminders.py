"""Reminders before a held request expires (pure): which are due, and what they say.

AWS expires an unanswered request 168 h after it was made, with no event. The policy's
``cleanup.remindBeforeExpiryHours`` (default [24]) names points before that moment; the sweep of
the accepter's account+Region (sweep_region.py) reminds the notification topic once per point,
recording the point with the notice in one conditional write (ledger.record_reminder). When the
sweep reaches a request after several points have passed, one reminder covers them all.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from peering.models import Connection, ConnectionStatus, LedgerState, Notice
from peering.plan import Outcome, operator_hint


@dataclass(frozen=True)
class Reminder:
    connection_id: str
    points: tuple[int, ...]  # the hours-before-expiry points it covers, largest first
    time_left: timedelta
    notice: Notice

    @property
    def key(self) -> str:
        """The outbox key: one reminder per point (the smallest point it covers)."""
        return f"reminder|{min(self.points)}h"

    def describe(self) -> str:
        return f"remind: {self.connection_id} expires in {format_time_left(self.time_left)}"


def format_time_left(left: timedelta) -> str:
    minutes = max(0, int(left.total_seconds() // 60))
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    if days:
        return f"{days} d {hours} h"
    return f"{hours} h {minutes:02d} min"


def decide_commands(connection_id: str, bus_name: str) -> str:
    """The exact commands that decide a held request: the runner's, or the AWS CLI's."""
    return (
        f"  python -m runner approve {connection_id} --comment 'why'\n"
        f"  python -m runner reject {connection_id} --comment 'why'\n"
        "or, with the AWS CLI:\n" + operator_hint(connection_id, bus_name)
    )


def due_reminder(
    conn: Connection,
    state: LedgerState | None,
    points: tuple[int, ...],
    now: datetime,
    *,
    bus_name: str = "peering-autopilot",
) -> Reminder | None:
    """The reminder owed now for a request held (and notified) and still pending, if any."""
    if (
        conn.status is not ConnectionStatus.PENDING_ACCEPTANCE
        or conn.expiration_time is None
        or state is None
        or state.decision != Outcome.HELD.value
        or not state.applied  # its first notice is not out yet
        or state.closed
    ):
        return None
    left = conn.expiration_time - now
    if left <= timedelta(0):
        return None
    due = sorted((p for p in points if left <= timedelta(hours=p) and p not in state.reminders_sent), reverse=True)
    if not due:
        return None
    when = conn.expiration_time.isoformat(timespec="minutes")
    subject = f"Reminder: peering request {conn.connection_id} expires in {format_time_left(left)}"
    requester, accepter = conn.requester, conn.accepter
    because = "\n".join(f"- {r}" for r in state.reasons) or "- (no reason recorded)"
    message = (
        f"Peering request {conn.connection_id} is still held for a decision. It expires in "
        f"{format_time_left(left)} ({when}); AWS then drops it without a word.\n"
        f"Request: {requester.account}/{requester.region}/{requester.vpc_id} -> "
        f"{accepter.account}/{accepter.region}/{accepter.vpc_id}\n"
        f"Held because:\n{because}\n\n"
        f"To decide it, run one of:\n{decide_commands(conn.connection_id, bus_name)}\n"
    )
    return Reminder(conn.connection_id, tuple(due), left, Notice(subject=subject[:100], message=message))
