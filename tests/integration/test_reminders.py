"""Reminders before a held request expires, driven by the sweep (peering.core.reminders, peering.sweep.target).

Given a request held for a person, when the sweep of the accepter's account+Region finds it
inside a configured point before its expiry, then the topic is reminded once, with the time left,
the reasons and the commands that decide it, and the point is recorded on the ledger's STATE item.
"""

from __future__ import annotations

from typing import Any

from emulation import lifecycle
from peering.aws.clients import AwsClients
from peering.aws.ledger import Ledger
from peering.core.models import Notice
from peering.lifecycle.engine import Engine
from peering.runtime.config import Settings
from peering.sweep.messages import SweepTarget
from peering.sweep.target import converge_target
from tests.builders import ledger_items, ledger_state, make_vpc, request_peering, status
from tests.conftest import HUB_ACCOUNT, REGION, FakeContext, Organization, default_policy, load_function, put_policy

accept = load_function("accept")

REQUEST_HOURS = 168


def run_target(dry_run: bool | None = None) -> dict[str, Any]:
    engine = Engine(Settings.from_env())
    return converge_target(engine, SweepTarget(HUB_ACCOUNT, REGION, "test-sweep", dry_run)).as_dict()


def held_request(organization: Organization, context: FakeContext) -> str:
    """A request from outside the organization, held (and notified) by the accept function."""
    a = make_vpc(organization.outsider_account, "172.16.0.0/16")
    b = make_vpc(HUB_ACCOUNT, "10.1.0.0/16")
    pcx, event = request_peering(organization.outsider_account, a, HUB_ACCOUNT, b)
    accept.lambda_handler(event, context)
    assert ledger_state(pcx)["decision"]["S"] == "held"
    organization.notifications()  # the hold's own notice
    return pcx


def reminders_sent(pcx: str) -> set[str]:
    return set(ledger_state(pcx).get("remindersSent", {}).get("NS", []))


def test_a_held_request_is_reminded_once_inside_the_last_day(organization: Organization, context: FakeContext) -> None:
    pcx = held_request(organization, context)
    lifecycle.age(pcx, hours=REQUEST_HOURS - 20)  # 20 h left, inside the default 24 h point

    first = run_target()
    second = run_target()

    assert first["done"] == {"reminder-sent": 1}
    assert second["drift"] == 0
    [notice] = organization.notifications()
    assert notice["subject"] == f"Reminder: peering request {pcx} expires in 19 h 59 min"
    assert "no rule of policy test-1 matches requester 444444444444" in notice["message"]
    assert f"python -m runner approve {pcx} --comment" in notice["message"]
    assert f"python -m runner reject {pcx} --comment" in notice["message"]
    assert '"DetailType":"Approve Peering Request"' in notice["message"]
    assert reminders_sent(pcx) == {"24"}
    assert [i["kind"]["S"] for i in ledger_items(pcx) if i.get("kind", {}).get("S") == "reminder"] == ["reminder"]
    assert status(HUB_ACCOUNT, pcx) == "pending-acceptance"


def test_no_reminder_before_the_first_point(organization: Organization, context: FakeContext) -> None:
    pcx = held_request(organization, context)
    lifecycle.age(pcx, hours=REQUEST_HOURS - 30)

    assert run_target()["drift"] == 0
    assert organization.notifications() == []
    assert reminders_sent(pcx) == set()


def test_each_configured_point_reminds_once(organization: Organization, context: FakeContext) -> None:
    put_policy(default_policy(organization) + "cleanup:\n  remindBeforeExpiryHours: [72, 24]\n")
    pcx = held_request(organization, context)

    lifecycle.age(pcx, hours=REQUEST_HOURS - 70)
    assert run_target()["done"] == {"reminder-sent": 1}
    assert run_target()["drift"] == 0
    lifecycle.age(pcx, hours=50)  # 20 h left
    assert run_target()["done"] == {"reminder-sent": 1}
    assert run_target()["drift"] == 0

    subjects = [n["subject"] for n in organization.notifications()]
    assert len(subjects) == 2
    assert "expires in 2 d 21 h" in subjects[0]
    assert "expires in 19 h" in subjects[1]
    assert reminders_sent(pcx) == {"72", "24"}


def test_points_passed_together_give_one_reminder(organization: Organization, context: FakeContext) -> None:
    put_policy(default_policy(organization) + "cleanup:\n  remindBeforeExpiryHours: [24, 72]\n")
    pcx = held_request(organization, context)
    lifecycle.age(pcx, hours=REQUEST_HOURS - 10)  # the sweep was away: both points passed

    assert run_target()["done"] == {"reminder-sent": 1}
    assert len(organization.notifications()) == 1
    assert reminders_sent(pcx) == {"72", "24"}


def test_dry_run_reports_a_due_reminder_and_sends_nothing(organization: Organization, context: FakeContext) -> None:
    pcx = held_request(organization, context)
    lifecycle.age(pcx, hours=REQUEST_HOURS - 5)

    result = run_target(dry_run=True)

    assert result["done"] == {"reminder-due": 1}
    assert organization.notifications() == []
    assert reminders_sent(pcx) == set()


def test_an_accepted_or_closed_request_is_never_reminded(organization: Organization, context: FakeContext) -> None:
    a = make_vpc(HUB_ACCOUNT, "10.0.0.0/16")
    b = make_vpc(HUB_ACCOUNT, "10.1.0.0/16")
    pcx, event = request_peering(HUB_ACCOUNT, a, HUB_ACCOUNT, b)
    accept.lambda_handler(event, context)  # hub-internal: accepted
    organization.notifications()

    assert run_target()["done"].get("reminder-sent") is None
    assert reminders_sent(pcx) == set()


def test_a_racing_second_reminder_is_refused_by_the_ledger(organization: Organization, context: FakeContext) -> None:
    pcx = held_request(organization, context)
    ledger = Ledger(AwsClients(Settings.from_env()), Settings.from_env().ledger_table)
    notice = Notice("Reminder", "text")

    assert ledger.record_reminder(pcx, [24], "reminder|24h", notice) is True
    assert ledger.record_reminder(pcx, [24], "reminder|24h", notice) is False  # the other sweep lost
    assert ledger.record_reminder(pcx, [48, 24], "reminder|24h", notice) is False  # 24 is known
    assert ledger.record_reminder("pcx-00000000000000000", [24], "reminder|24h", notice) is False  # no record

    outbox = [i for i in ledger_items("OUTBOX") if i.get("noticeKey", {}).get("S") == "reminder|24h"]
    assert len(outbox) == 1
    assert reminders_sent(pcx) == {"24"}


def test_a_request_from_the_organization_is_reminded_before_its_withdrawal(
    organization: Organization, context: FakeContext
) -> None:
    # The requester is one of ours: its own sweep withdraws the request after 72 h, not 168 h.
    a = make_vpc(organization.platform_account, "10.20.0.0/16")
    b = make_vpc(HUB_ACCOUNT, "10.1.0.0/16")  # not opted in: no rule matches, held
    pcx, event = request_peering(organization.platform_account, a, HUB_ACCOUNT, b)
    accept.lambda_handler(event, context)
    organization.notifications()
    lifecycle.age(pcx, hours=52)  # 20 h before the withdrawal, 116 h before AWS's expiry

    assert run_target()["done"] == {"reminder-sent": 1}

    [notice] = organization.notifications()
    assert notice["subject"] == f"Reminder: peering request {pcx} is withdrawn in 19 h 59 min"
    assert "withdraws requests unanswered after 72 h (cleanup.pendingRequestMaxAgeHours)" in notice["message"]
    assert reminders_sent(pcx) == {"24"}
