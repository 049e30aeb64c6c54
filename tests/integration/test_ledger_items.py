"""The ledger's items on disk: what was written before the ledger was split is read back, and the
same calls still write the same items (same keys, attributes, conditions' effects and TTLs).

tests/fixtures/ledger_items.json holds every item the single-class ledger (before the split into
peering.aws.ledger's stores) wrote for ``write_every_kind`` with the clock and uuid4 held still.
Regenerate it only for a deliberate change of the items (and then a migration is owed):
``PYTHONPATH=layers/peering:. .venv/bin/python -m tests.integration.test_ledger_items`` writes it again.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from itertools import count
from types import SimpleNamespace
from typing import Any

import boto3
import pytest

from peering.aws.clients import AwsClients
from peering.aws.ledger import Ledger
from peering.aws.notify import Notifier
from peering.aws.outbox import Outbox
from peering.core.models import Intent, LedgerState, Notice
from peering.core.plan import Decision, Outcome, RecordDecision
from peering.runtime.config import Settings
from tests.conftest import LEDGER_TABLE, REGION, ROOT, Organization

FIXTURE = ROOT / "tests" / "fixtures" / "ledger_items.json"
#: the module whose ``datetime`` and ``uuid`` give the ledger its times (now_text, expiresAt) and keys
CLOCK_MODULE = "peering.aws.ledger.table"
NOW = datetime(2026, 12, 6, 12, 0, 0, 123000, tzinfo=UTC)

HELD = "pcx-0000000000000a001"
DRY = "pcx-0000000000000a002"
ACTIVE = "pcx-0000000000000a003"
CLOSED = "pcx-0000000000000a004"
REQUESTER = "222222222222/us-east-1/vpc-0000000000000000a"
ACCEPTER = "333333333333/eu-west-1/vpc-0000000000000000b"


class _StillClock(datetime):
    @classmethod
    def now(cls, tz: Any = None) -> Any:
        return NOW


def hold_time_still(monkeypatch: pytest.MonkeyPatch, clock_module: str = CLOCK_MODULE) -> None:
    """Times at NOW and uuid4 counting up: the items two runs write can be compared byte for byte."""
    numbers = count(1)
    monkeypatch.setattr(f"{clock_module}.datetime", _StillClock)
    still_uuid = SimpleNamespace(uuid4=lambda: uuid.UUID(int=next(numbers) << 96))
    monkeypatch.setattr(f"{clock_module}.uuid", still_uuid)


def write_every_kind(ledger: Ledger) -> None:
    """One of each write the ledger makes: decisions, intents and commits, reminders, route
    records, findings, configuration logs, closing, and a notice queued once."""
    held = Decision(Outcome.HELD, ("no rule matched", "hold for review"), "review", "v3", "policy")
    ledger.record_decision(
        RecordDecision(HELD, held, "pending-acceptance", REQUESTER, ACCEPTER, NOW, Notice("Held", "held for review"))
    )
    ledger.record_reminder(HELD, [72, 24], "reminder|24h", Notice("Reminder", "24 hours left"))
    accepted = Decision(Outcome.ACCEPTED, ("rule platform",), "platform", "v3", "policy")
    ledger.record_decision(RecordDecision(DRY, accepted, "pending-acceptance", REQUESTER, ACCEPTER, None), dry_run=True)
    record = RecordDecision(ACTIVE, accepted, "pending-acceptance", REQUESTER, ACCEPTER, None, Notice("Accepted", "ok"))
    ledger.record_decision(record)
    ledger.commit_decision(ACTIVE, record.key, "active", Notice("Accepted", "ok"))
    routes = [(ACTIVE, "222222222222", "us-east-1", f"rtb-{n:017d}", "10.1.0.0/16") for n in range(3)]
    ledger.write_routes(record=routes)
    ledger.write_routes(forget=routes[2:])
    ledger.record_findings(
        ACTIVE,
        [("dns-off", "dns|requester", "DNS resolution is off"), ("overlap", "overlap|rtb", "a route overlaps")],
        Notice("Findings", "two findings"),
    )
    ledger.record_configuration(ACTIVE, ["add route 10.1.0.0/16", "enable DNS"], dry_run=False)
    ledger.begin(CLOSED, Intent("cleanup|deleted", Notice("Deleted", "gone")))
    ledger.close(CLOSED, "deleted", REQUESTER, ACCEPTER, notice=Notice("Deleted", "gone"))
    ledger.notice_once(("NOTREADY-SUMMARY", "2026-12-06"), Notice("Not ready", "1 target"), {"count": {"N": "1"}})


def every_item() -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    for page in boto3.client("dynamodb", region_name=REGION).get_paginator("scan").paginate(TableName=LEDGER_TABLE):
        items.extend(page["Items"])
    return sorted(items, key=lambda i: (i["pk"]["S"], i["sk"]["S"]))


def canonical(items: list[dict[str, Any]]) -> str:
    """The items as bytes to compare: keys sorted, string sets sorted (DynamoDB keeps no order)."""

    def tidy(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: sorted(v) if k in ("SS", "NS") else tidy(v) for k, v in value.items()}
        if isinstance(value, list):
            return [tidy(v) for v in value]
        return value

    return json.dumps(tidy(items), indent=1, sort_keys=True) + "\n"


@pytest.fixture
def ledger(organization: Organization) -> Ledger:
    settings = Settings.from_env()
    return Ledger(AwsClients(settings), settings.ledger_table)


def test_the_same_calls_write_the_same_items(ledger: Ledger, monkeypatch: pytest.MonkeyPatch) -> None:
    hold_time_still(monkeypatch)

    write_every_kind(ledger)

    assert canonical(every_item()) == FIXTURE.read_text()


def test_items_written_before_the_split_are_read_back(ledger: Ledger) -> None:
    ddb = boto3.client("dynamodb", region_name=REGION)
    for item in json.loads(FIXTURE.read_text()):
        ddb.put_item(TableName=LEDGER_TABLE, Item=item)

    held = ledger.get_state(HELD)
    assert held == LedgerState(
        connection_id=HELD,
        decision="held",
        policy_version="v3",
        status="pending-acceptance",
        closed=False,
        decided_by="policy",
        applied=False,
        intent=Intent("decision|held|v3|policy", Notice("Held", "held for review")),
        rule="review",
        reasons=("no rule matched", "hold for review"),
        reminders_sent=frozenset({72, 24}),
    )
    assert ledger.get_state(DRY) is None  # a dry run only logs
    assert ledger.get_location(HELD) == ("333333333333", "eu-west-1")
    assert ledger.sides(CLOSED) == (REQUESTER, ACCEPTER)
    states = ledger.states([HELD, ACTIVE, CLOSED, DRY])
    assert sorted(states) == [HELD, ACTIVE, CLOSED]
    assert (states[ACTIVE].applied, states[ACTIVE].status, states[ACTIVE].intent) == (True, "active", None)
    assert (states[CLOSED].closed, states[CLOSED].status, states[CLOSED].decision) == (True, "deleted", "none")
    assert [(r["routeTableId"], r["destination"]) for r in ledger.routes(ACTIVE)] == [
        (f"rtb-{n:017d}", "10.1.0.0/16") for n in range(2)
    ]
    assert ledger.findings_seen(ACTIVE) == {"dns|requester", "overlap|rtb"}
    assert [i["kind"]["S"] for i in ledger.history(ACTIVE) if i["sk"]["S"].startswith("LOG#")] == [
        "decision",
        "dns-off",
        "overlap",
        "configure",
    ]
    # Reminders and findings already recorded are refused, as they were before the split.
    assert ledger.record_reminder(HELD, [24], "reminder|24h", Notice("Reminder", "again")) is False
    assert ledger.record_findings(ACTIVE, [("dns-off", "dns|requester", "again")], Notice("Findings", "again")) is False
    assert ledger.notice_once(("NOTREADY-SUMMARY", "2026-12-06"), Notice("Not ready", "again")) is False
    settings = Settings.from_env()
    pending = Outbox(AwsClients(settings), ledger, Notifier(AwsClients(settings), None)).pending()
    assert sorted((i["connectionId"]["S"], i["noticeKey"]["S"], i["subject"]["S"]) for i in pending) == [
        ("NOTREADY-SUMMARY", "2026-12-06", "Not ready"),
        (HELD, "reminder|24h", "Reminder"),
        (ACTIVE, "decision|accepted|v3|policy", "Accepted"),
        (ACTIVE, "findings", "Findings"),
        (CLOSED, "cleanup|deleted", "Deleted"),
    ]


if __name__ == "__main__":  # write the fixture from today's ledger (see the module's docstring)
    import sys

    from tests.conftest import emulated_organization, set_hub_env

    with pytest.MonkeyPatch.context() as patch:
        set_hub_env(patch)
        hold_time_still(patch, sys.argv[1] if len(sys.argv) > 1 else CLOCK_MODULE)
        with emulated_organization(patch):
            settings = Settings.from_env()
            write_every_kind(Ledger(AwsClients(settings), settings.ledger_table))
            FIXTURE.parent.mkdir(exist_ok=True)
            FIXTURE.write_text(canonical(every_item()))
