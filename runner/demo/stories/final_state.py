"""The final state of the stories' connections: status, ledger record, routes and DNS of each side."""

from __future__ import annotations

from runner.demo.stage import Demo, Net


def _final_state(demo: Demo, connections: list[tuple[str, Net, Net]]) -> None:
    demo.story("Final state")
    for pcx, requester, accepter in connections:
        ledger = demo.ledger(pcx)
        closed = ", closed" if "closedAt" in ledger else ""
        demo.said(
            f"{pcx}: {demo.status(accepter.account, pcx, accepter.region)}; ledger {ledger.get('decision')} "
            f"by {ledger.get('decidedBy')}{closed}"
        )
        for role, net in (("requester", requester), ("accepter", accepter)):
            dns = "on" if demo.dns(net.account, pcx, net.region, role.capitalize()) else "off"
            routes = demo.routes(net, pcx)
            demo.said(
                f"  {role:9} {demo.label(net.account)}/{net.region} {net.name}: "
                f"routes to it {', '.join(routes) or 'none'}; DNS resolution from the peer {dns}"
            )
