"""Story 7: a held request reminded once before its end, then rejected by an operator."""

from __future__ import annotations

from runner.demo.stage import Demo, Net


def _reminded(demo: Demo, nets: dict[str, Net]) -> str:
    """A held request is reminded once before its end (policy cleanup.remindBeforeExpiryHours,
    default 24 h), then decided by the command the reminder names."""
    lab, shared = nets["lab"], nets["shared"]
    demo.story("7. A held request reminded a day before its end: analytics-b analytics-lab -> shared-services")
    pcx = demo.request(lab, shared)
    demo.act("analytics-b (a person)")
    demo.check("held", demo.ledger(pcx).get("decision") == "held")
    demo.said("52 h pass without an answer; its requester's sweep withdraws requests unanswered after 72 h")
    demo.server.age(pcx, hours=52)  # emulation.lifecycle.age, inside the emulator
    demo.said("the schedule rule fires:")
    demo.schedule()
    reminded = demo.ledger(pcx).get("remindedAt", "")
    demo.check("reminded once, 24 h before its end (recorded with its notice)", bool(reminded))
    demo.said("the schedule rule fires again:")
    demo.schedule()
    demo.check("not reminded twice", demo.ledger(pcx).get("remindedAt") == reminded)
    demo.said(f"an operator runs the command the reminder names: python -m runner reject {pcx} --comment CHG-4720")
    demo.operator("Reject Peering Request", {"connectionId": pcx, "requestedBy": "bob", "comment": "CHG-4720"})
    demo.check("rejected by the operator", demo.status(demo.hub, pcx) == "rejected")
    return pcx
