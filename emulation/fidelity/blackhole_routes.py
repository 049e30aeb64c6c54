"""Gap ``blackhole_routes``: a route to a peering connection that is not active is a blackhole.

AWS: Route ``State``: "The blackhole state indicates that the route's target isn't available".
Such routes stay until deleted and count against the route-table quota. A peering connection is
available only while active: routes to a pending, provisioning, rejected, deleted, expired or
failed connection, or to one the API no longer shows, are blackholes (the per-status detail is [U]
beyond "isn't available"). DescribeRouteTables documents the filter ``route.state``.
https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_Route.html
https://docs.aws.amazon.com/vpc/latest/userguide/route-table-options.html

moto 5.2: every route is active whatever happened to its target, and ``route.state`` is not a known
filter (FilterNotImplementedError): cleanup and the sweep's orphan-route removal would never see a
blackhole.

Patch: moto's ``Route.state`` answers blackhole for a route whose target is a peering connection
unless that connection is active and still held by the route table's backend (account and Region);
other routes are unchanged. The route keeps its ``VpcPeeringConnectionId``, so the filter
``route.vpc-peering-connection-id`` still finds it once the connection is forgotten.
``RouteTable.get_filter_value`` learns ``route.state``.

Turn on: ``fidelity.enable()`` (every gap) or ``fidelity.enabled(["blackhole_routes"])`` for a
block, from ``emulation.fidelity``. docs/moto-gaps.md#blackhole_routes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from moto.ec2.models.route_tables import Route, RouteTable

from emulation.fidelity.patching import Gap, Patcher

ROUTE_DOC = "https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_Route.html"


def install(patcher: Patcher) -> None:
    """Routes to a connection that is not active (or is gone) render State blackhole."""
    previous = patcher.current(Route, "state")
    if not isinstance(previous, property) or previous.fget is None:
        raise TypeError("Route.state is not a property: moto changed, revisit the patch")

    def state(self: Any, _previous: Callable[[Any], str] = previous.fget) -> str:
        connection = self.vpc_pcx
        if connection is not None:
            shown = self.route_table.ec2_backend.vpc_pcxs.get(connection.id)
            if shown is not connection or connection._status.code != "active":
                return "blackhole"
        return _previous(self)

    def make_filter(previous_filter: Callable[..., Any]) -> Callable[..., Any]:
        def get_filter_value(self: Any, filter_name: str, method_name: str | None = None) -> Any:
            if filter_name == "route.state":
                return [route.state for route in self._routes.values()]
            return previous_filter(self, filter_name, method_name)

        return get_filter_value

    patcher.replace(Route, "state", property(state, doc=previous.__doc__))
    patcher.wrap(RouteTable, "get_filter_value", make_filter)


GAP = Gap("blackhole_routes", ROUTE_DOC, install, __doc__ or "")
