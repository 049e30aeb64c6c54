"""Story 2: an unknown requester held, then approved by an operator."""

from __future__ import annotations

from runner.demo.stage import Demo, Net
from runner.demo.stories.scene import _dns_both_sides


def _held_then_approved(demo: Demo, nets: dict[str, Net]) -> str:
    analytics, shared = nets["analytics"], nets["shared"]
    demo.story("2. Unknown requester held, then approved by an operator: analytics-b (workloads OU) -> hub")
    pcx = demo.request(analytics, shared)
    demo.act("analytics-b (a person)")
    demo.check("held: no rule matches, and nothing unknown is accepted", demo.ledger(pcx).get("decision") == "held")
    demo.check("still pending acceptance", demo.status(demo.hub, pcx) == "pending-acceptance")
    demo.said("an operator approves it (the ledger knows where it lives):")
    approval = {"connectionId": pcx, "requestedBy": "alice@example.com", "comment": "CHG-4711"}
    demo.operator("Approve Peering Request", approval)
    demo.check("accepted by the operator", demo.ledger(pcx).get("decidedBy") == "operator:alice@example.com")
    demo.check("connection active", demo.status(demo.hub, pcx) == "active")
    both = demo.routes(analytics, pcx) == [shared.cidr] and demo.routes(shared, pcx) == [analytics.cidr]
    demo.check("routes both sides", both)
    demo.check("DNS resolution on both sides", _dns_both_sides(demo, pcx, analytics, shared))
    return pcx
