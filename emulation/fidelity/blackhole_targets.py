"""Gap ``blackhole_targets``: a route whose target other than a peering connection is gone is a blackhole.

AWS: Route ``State``: "The state of the route. The blackhole state indicates that the route's
target isn't available (for example, the specified gateway isn't attached to the VPC, or the
specified NAT instance has been terminated)." Such routes stay, as blackholes, until someone
deletes or replaces them; they become usable again when the target comes back (a gateway attached
again, a NAT instance started). Routes to a deleted NAT gateway, network interface or transit
gateway, and to a stopped NAT instance, are blackholes too ([U] per kind beyond the two examples
the page gives; AWS-FACTS.md, "Learned from measuring the second release").
https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_Route.html
https://docs.aws.amazon.com/vpc/latest/userguide/RouteTables.html

moto 5.2: ``Route.state`` is always ``active``, whatever happened to its target: the engine's rule
that a blackhole to anything but a dead peering connection is someone's route waiting for its
target (a conflict, never replaced) could not be shown on moto.

Patch: moto's ``Route.state`` answers blackhole when its target is unavailable in the route table's
backend: a NAT gateway deleting, deleted or failed; a network interface, transit gateway, egress-only
internet gateway or carrier gateway deleted; an instance not pending or running (stopping, stopped,
shutting down, terminated); an internet gateway deleted or not attached to the route table's VPC; a
virtual private gateway deleted or not attached to that VPC; a VPC endpoint deleted. Routes to a
peering connection are left to gap ``blackhole_routes``; other routes are unchanged.

Turn on: ``fidelity.enable()`` (every gap) or ``fidelity.enabled(["blackhole_targets"])`` for a
block, from ``emulation.fidelity``. docs/moto-gaps.md#blackhole_targets.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from moto.ec2.models.route_tables import Route

from emulation.fidelity.patching import Gap, Patcher

ROUTE_DOC = "https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_Route.html"

_RUNNING = frozenset({"pending", "running"})
_GONE = frozenset({"deleting", "deleted", "failed"})  # a NAT gateway's or transit gateway's state


def _gone(backend: Any, store: str, target: Any) -> bool:
    """The target is no longer the one the backend holds under its id (deleted)."""
    return getattr(backend, store, {}).get(target.id) is not target


def _gateway_unavailable(backend: Any, gateway: Any, vpc_id: str) -> bool:
    if gateway.id.startswith("igw-"):
        return _gone(backend, "internet_gateways", gateway) or gateway.vpc is None or gateway.vpc.id != vpc_id
    if gateway.id.startswith("vgw-"):
        attachment = gateway.attachments.get(vpc_id)
        return gateway.state == "deleted" or attachment is None or attachment.state != "attached"
    return getattr(gateway, "state", "available") == "deleted"  # a VPC endpoint


#: (attribute of moto's Route, where the backend holds such targets by id)
_HELD = (
    ("nat_gateway", "nat_gateways"),
    ("interface", "enis"),
    ("transit_gateway", "transit_gateways"),
    ("egress_only_igw", "egress_only_internet_gateways"),
    ("carrier_gateway", "carrier_gateways"),
)


def unavailable(route: Any) -> bool:
    """The route's target, other than a peering connection, is not available (see the docstring)."""
    backend = route.route_table.ec2_backend
    for attribute, store in _HELD:
        target = getattr(route, attribute)
        if target is not None:
            return _gone(backend, store, target) or getattr(target, "state", "") in _GONE
    if route.instance is not None:
        return str(route.instance.state) not in _RUNNING
    if route.gateway is not None:
        return _gateway_unavailable(backend, route.gateway, route.route_table.vpc_id)
    return False


def install(patcher: Patcher) -> None:
    """Routes to an unavailable target (not a peering connection) render State blackhole."""
    previous = patcher.current(Route, "state")
    if not isinstance(previous, property) or previous.fget is None:
        raise TypeError("Route.state is not a property: moto changed, revisit the patch")

    def state(self: Any, _previous: Callable[[Any], str] = previous.fget) -> str:
        if self.vpc_pcx is None and not self.local and unavailable(self):
            return "blackhole"
        return _previous(self)

    patcher.replace(Route, "state", property(state, doc=previous.__doc__))


GAP = Gap("blackhole_targets", ROUTE_DOC, install, __doc__ or "")
