"""Story 8: the peering map of the final state, with a held request and a route removed by hand."""

from __future__ import annotations

from runner.demo.stage import HUB_REGION, Demo, Net
from runner.map_cli import write_map_file


def _mapped(demo: Demo, nets: dict[str, Net], second: str) -> None:
    """The peering map of the final state, once a request waits and a route went missing."""
    lab, shared, analytics = nets["lab"], nets["shared"], nets["analytics"]
    demo.story("8. The peering map: a hub-internal connection, a request waiting, a route removed by hand")
    healthy = demo.request(nets["ingress"], shared)
    demo.act("the hub (a person)")
    waiting = demo.request(lab, shared)
    demo.act("analytics-b (a person)")
    ec2 = demo.ec2(demo.hub)
    tables = ec2.describe_route_tables(Filters=[{"Name": "route.vpc-peering-connection-id", "Values": [second]}])
    table = str(tables["RouteTables"][0]["RouteTableId"])
    ec2.delete_route(RouteTableId=table, DestinationCidrBlock=analytics.cidr)
    demo.said(f"hub: DeleteRoute {analytics.cidr} -> {second} from {table} (drift: no rule listens to DeleteRoute)")
    demo.act("hub (a person)")
    written = write_map_file(demo.stack, account=demo.hub, region=HUB_REGION, path=demo.map_path)
    demo.said(f"peering map: {written.summary()}")
    expected = {healthy: "active", second: "active", waiting: "held"}
    shown = all(written.states.get(pcx) == state for pcx, state in expected.items())
    drift = "missing-route" in written.findings.get(second, []) and not written.findings.get(healthy)
    demo.check("the map shows every connection, the held request and the missing route", shown and drift)
