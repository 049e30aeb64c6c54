"""Story 4: the connection of story 1 deleted: its routes removed, its record closed."""

from __future__ import annotations

from runner.demo.stage import Demo, Net


def _deleted(demo: Demo, nets: dict[str, Net], pcx: str) -> None:
    app, shared = nets["app"], nets["shared"]
    demo.story("4. Deletion: network-a deletes the connection of story 1 (in eu-west-1)")
    demo.ec2(app.account, app.region).delete_vpc_peering_connection(VpcPeeringConnectionId=pcx)
    demo.said(f"{demo.label(app.account)} in {app.region}: DeleteVpcPeeringConnection {pcx}")
    demo.act("network-a (a person)")
    demo.check("routes removed on both sides", demo.routes(app, pcx) == [] == demo.routes(shared, pcx))
    state = demo.ledger(pcx)
    demo.check("record closed as deleted", state.get("status") == "deleted" and "closedAt" in state)
