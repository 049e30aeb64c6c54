"""Story 5: a request never answered expires, and the sweep closes its record."""

from __future__ import annotations

from runner.demo.stage import Demo, Net


def _expired(demo: Demo, nets: dict[str, Net]) -> str:
    lab, ingress = nets["lab"], nets["ingress"]
    demo.story("5. An expired request closed by the sweep: analytics-b analytics-lab -> hub, never answered")
    pcx = demo.request(lab, ingress)
    demo.act("analytics-b (a person)")
    demo.check("held", demo.ledger(pcx).get("decision") == "held")
    demo.said(f"7 days pass without an answer: AWS expires {pcx}, and no event says so")
    demo.server.age(pcx, hours=7 * 24 + 1)  # emulation.lifecycle.age, inside the emulator
    demo.check("expired in EC2", demo.status(demo.hub, pcx) == "expired")
    demo.said("the schedule rule fires:")
    demo.schedule()
    state = demo.ledger(pcx)
    demo.check("record closed as expired by the worker", state.get("status") == "expired" and "closedAt" in state)
    return pcx
