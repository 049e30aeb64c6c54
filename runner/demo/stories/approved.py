"""Story 1: an approved cross-account, inter-Region request, routed and resolved on both sides."""

from __future__ import annotations

from runner.demo.stage import Demo, Net
from runner.demo.stories.scene import _dns_both_sides


def _approved(demo: Demo, nets: dict[str, Net]) -> str:
    app, shared = nets["app"], nets["shared"]
    demo.story("1. Approved cross-account, inter-Region request: network-a (platform OU, eu-west-1) -> hub")
    pcx = demo.request(app, shared)
    demo.act("network-a (a person)")
    rule = demo.ledger(pcx).get("rule")
    demo.check("accepted by policy rule platform-into-opted-in-vpcs", rule == "platform-into-opted-in-vpcs", str(rule))
    demo.check("connection active", demo.status(demo.hub, pcx) == "active")
    demo.check("routes both sides", demo.routes(app, pcx) == [shared.cidr] and demo.routes(shared, pcx) == [app.cidr])
    demo.check("DNS resolution on, each side set by its owner in its Region", _dns_both_sides(demo, pcx, app, shared))
    return pcx
