"""The pure reminder planning (peering.core.reminders): which reminder is due, and what it says."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from peering.core.models import Connection, ConnectionStatus, LedgerState, Side
from peering.core.reminders import due_reminder, format_time_left

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
HELD = LedgerState("pcx-0123456789abcdef0", "held", "v1", "pending-acceptance", reasons=("no rule matches",))


def request(hours_left: float, status: ConnectionStatus = ConnectionStatus.PENDING_ACCEPTANCE) -> Connection:
    return Connection(
        "pcx-0123456789abcdef0",
        status,
        "",
        Side("444444444444", "us-east-1", "vpc-0a1b2c3d4e5f60718"),
        Side("123456789012", "us-east-1", "vpc-0b1b2c3d4e5f60718"),
        expiration_time=NOW + timedelta(hours=hours_left),
    )


def test_due_inside_a_point_with_the_time_left_reasons_and_commands() -> None:
    reminder = due_reminder(request(20), HELD, (24,), NOW, bus_name="my-bus")

    assert reminder is not None
    assert reminder.points == (24,)
    assert reminder.key == "reminder|24h"
    assert reminder.notice.subject == "Reminder: peering request pcx-0123456789abcdef0 expires in 20 h 00 min"
    assert "- no rule matches" in reminder.notice.message
    assert "python -m runner approve pcx-0123456789abcdef0 --comment 'why'" in reminder.notice.message
    assert '"EventBusName":"my-bus"' in reminder.notice.message
    assert reminder.describe() == "remind: pcx-0123456789abcdef0 expires in 20 h 00 min"


def test_several_points_passed_at_once_are_one_reminder() -> None:
    reminder = due_reminder(request(10), HELD, (72, 24, 12), NOW)
    assert reminder is not None
    assert reminder.points == (72, 24, 12)
    assert reminder.key == "reminder|12h"


def test_points_already_sent_are_not_due_again() -> None:
    sent = replace(HELD, reminders_sent=frozenset({72}))
    assert due_reminder(request(50), sent, (72, 24), NOW) is None
    later = due_reminder(request(20), sent, (72, 24), NOW)
    assert later is not None
    assert later.points == (24,)


@pytest.mark.parametrize(
    ("conn", "state"),
    [
        (request(30), HELD),  # before the first point
        (request(-1), HELD),  # past its end: the cleanup's business
        (request(10, ConnectionStatus.ACTIVE), HELD),
        (replace(request(10), expiration_time=None), HELD),
        (request(10), None),
        (request(10), replace(HELD, decision="accepted")),
        (request(10), replace(HELD, applied=False)),  # its hold notice is not out yet
        (request(10), replace(HELD, closed=True)),
    ],
)
def test_no_reminder(conn: Connection, state: LedgerState | None) -> None:
    assert due_reminder(conn, state, (24,), NOW) is None


def test_an_organization_requester_counts_back_from_its_withdrawal() -> None:
    # Made 52 h ago: AWS expires it in 116 h, its requester's sweep withdraws it at 72 h.
    reminder = due_reminder(request(116), replace(HELD, reasons=()), (24,), NOW, withdrawn_after_hours=72)

    assert reminder is not None
    assert reminder.ending == "is withdrawn"
    assert reminder.notice.subject.endswith("is withdrawn in 20 h 00 min")
    assert "(cleanup.pendingRequestMaxAgeHours)" in reminder.notice.message
    assert "- (no reason recorded)" in reminder.notice.message
    assert due_reminder(request(116), HELD, (24,), NOW) is None  # without the withdrawal: not yet
    expiring_first = due_reminder(request(20), HELD, (24,), NOW, withdrawn_after_hours=168)
    assert expiring_first is not None
    assert expiring_first.ending == "expires"


@pytest.mark.parametrize(
    ("left", "text"),
    [
        (timedelta(hours=50, minutes=5), "2 d 2 h"),
        (timedelta(minutes=61), "1 h 01 min"),
        (timedelta(seconds=-5), "0 h 00 min"),
    ],
)
def test_time_left_reads_well(left: timedelta, text: str) -> None:
    assert format_time_left(left) == text
