"""Reminders before a held request expires (pure): which are due, and what they say.

AWS expires an unanswered request 168 h after it was made, with no event. A request whose
requester is one of ours ends sooner: the requester's sweep withdraws it after the policy's
``cleanup.pendingRequestMaxAgeHours`` (cleanup.is_stale_request). The policy's
``cleanup.remindBeforeExpiryHours`` (default [24]) names points before whichever comes first; the
sweep of the accepter's account+Region (sweep/target.py) reminds the notification topic once per
point, recording the point with the notice in one conditional write (ledger.record_reminder).
When the sweep reaches a request after several points have passed, one reminder covers them all.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from peering.core.models import Connection, ConnectionStatus, LedgerState, Notice
from peering.core.plan import Outcome, operator_hint

REQUEST_LIFETIME = timedelta(hours=168)  # AWS expires an unanswered request after 7 days
EXPIRES, WITHDRAWN = "expires", "is withdrawn"  # how a held request ends: AWS's expiry, our requester's sweep


@dataclass(frozen=True)
class Reminder:
    connection_id: str
    points: tuple[int, ...]  # the hours-before-expiry points it covers, largest first
    time_left: timedelta
    notice: Notice
    ending: str = EXPIRES  # or WITHDRAWN (by the requester's sweep)

    @property
    def key(self) -> str:
        """The outbox key: one reminder per point (the smallest point it covers)."""
        return f"reminder|{min(self.points)}h"

    def describe(self) -> str:
        return f"remind: {self.connection_id} {self.ending} in {format_time_left(self.time_left)}"


def format_time_left(left: timedelta) -> str:
    minutes = max(0, int(left.total_seconds() // 60))
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    if days:
        return f"{days} d {hours} h"
    return f"{hours} h {minutes:02d} min"


def request_end(expiration_time: datetime, withdrawn_after_hours: int | None = None) -> tuple[datetime, str]:
    """A pending request's real end and how it comes: AWS's expiry, or, when its requester is one
    of ours (``withdrawn_after_hours``: cleanup.pendingRequestMaxAgeHours), its withdrawal by the
    requester's sweep that long after it was made, whichever comes first."""
    if withdrawn_after_hours is not None:
        withdrawal = expiration_time - REQUEST_LIFETIME + timedelta(hours=withdrawn_after_hours)
        if withdrawal < expiration_time:
            return withdrawal, WITHDRAWN
    return expiration_time, EXPIRES


def decide_commands(connection_id: str, bus_name: str) -> str:
    """The exact commands that decide a held request: the runner's, or the AWS CLI's."""
    return (
        f"  python -m runner approve {connection_id} --comment 'why'\n"
        f"  python -m runner reject {connection_id} --comment 'why'\n"
        "or, with the AWS CLI:\n" + operator_hint(connection_id, bus_name)
    )


def is_held(state: LedgerState | None) -> bool:
    """Held, notified, still open: the only records a reminder is for."""
    return (
        state is not None
        and state.decision == Outcome.HELD.value
        and state.applied  # its first notice is not out yet otherwise
        and not state.closed
    )


def due_reminder(
    conn: Connection,
    state: LedgerState | None,
    points: tuple[int, ...],
    now: datetime,
    *,
    withdrawn_after_hours: int | None = None,
    bus_name: str = "peering-autopilot",
) -> Reminder | None:
    """The reminder owed now for a request held (and notified) and still pending, if any.

    ``withdrawn_after_hours``: the requester is one of ours, so its sweep withdraws the request
    that long after it was made; the reminder points count back from whichever end comes first.
    """
    if conn.status is not ConnectionStatus.PENDING_ACCEPTANCE or conn.expiration_time is None or not is_held(state):
        return None
    assert state is not None
    deadline, ending = request_end(conn.expiration_time, withdrawn_after_hours)
    left = deadline - now
    if left <= timedelta(0):
        return None
    due = sorted((p for p in points if left <= timedelta(hours=p) and p not in state.reminders_sent), reverse=True)
    if not due:
        return None
    when = deadline.isoformat(timespec="minutes")
    subject = f"Reminder: peering request {conn.connection_id} {ending} in {format_time_left(left)}"
    requester, accepter = conn.requester, conn.accepter
    because = "\n".join(f"- {r}" for r in state.reasons) or "- (no reason recorded)"
    end = (
        "AWS then drops it without a word."
        if ending == EXPIRES
        else f"its requester is in the organization, whose sweep withdraws requests unanswered after "
        f"{withdrawn_after_hours} h (cleanup.pendingRequestMaxAgeHours)."
    )
    message = (
        f"Peering request {conn.connection_id} is still held for a decision. It {ending} in "
        f"{format_time_left(left)} ({when}); {end}\n"
        f"Request: {requester.account}/{requester.region}/{requester.vpc_id} -> "
        f"{accepter.account}/{accepter.region}/{accepter.vpc_id}\n"
        f"Held because:\n{because}\n\n"
        f"To decide it, run one of:\n{decide_commands(conn.connection_id, bus_name)}\n"
    )
    return Reminder(conn.connection_id, tuple(due), left, Notice(subject=subject[:100], message=message), ending)
