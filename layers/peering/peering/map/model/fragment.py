"""One account+Region's fragment of the map, built from what the sweep observed there and planned as
the sweep plans it: the findings are the drift the sweep would repair or report.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from peering.core.cleanup_plan import SideLeftovers
from peering.core.models import Connection, ConnectionStatus, Side
from peering.core.network import DnsAttributes, RouteTable, SideNetwork, Subnet
from peering.core.routing import (
    ConfigurePlan,
    OwnedRoutes,
    RouteManagement,
    RoutingOptions,
    plan_configuration,
    route_ref,
)
from peering.map.model.views import (
    _ROUTE_GAPS,
    AccountInfo,
    DecisionView,
    EdgeView,
    FindingView,
    MapFragment,
    RouteView,
    SideView,
    TableView,
    VpcNode,
)


@dataclass(frozen=True)
class RegionView:
    """The inputs of a fragment, all read already (observe.RegionSnapshot and friends)."""

    account: str
    region: str
    connections: tuple[Connection, ...]
    networks: Mapping[str, SideNetwork]  # the VPCs that live here, by id
    leftovers: Mapping[str, Sequence[SideLeftovers]] = field(default_factory=dict)  # dead connections'
    dns: Mapping[str, DnsAttributes] = field(default_factory=dict)  # read for VPCs whose DNS is off
    #: subnets of peers in other accounts+Regions (destinations by subnet: observe.read_peer_subnets)
    peer_subnets: Mapping[str, tuple[Subnet, ...]] = field(default_factory=dict)
    unread_peers: frozenset[str] = frozenset()  # peer VPCs whose subnets could not be read this time
    #: route records (the routes the autopilot installed) of the connections that need them, by id
    #: (``route_records_wanted``): the only routes the sweep would remove
    owned: Mapping[str, OwnedRoutes] = field(default_factory=dict)


def route_records_wanted(
    view: RegionView, options: RoutingOptions, routing: Mapping[str, RoutingOptions] | None = None
) -> tuple[str, ...]:
    """The connections whose route records the fragment needs (read as the sweep reads them): an
    active one whose plan meets a route only its owner may remove or take over, a dead one with
    routes left to it."""
    wanted = []
    for conn in view.connections:
        if conn.status.is_dead:
            left = view.leftovers.get(conn.connection_id, ())
            if any(side.route_tables for side in left):
                wanted.append(conn.connection_id)
            continue
        if conn.status is not ConnectionStatus.ACTIVE or view.unread_peers & {
            conn.requester.vpc_id,
            conn.accepter.vpc_id,
        }:
            continue
        conn_options = (routing or {}).get(conn.connection_id, options)
        roles = [
            role for role, info in (("requester", conn.requester), ("accepter", conn.accepter)) if _here(view, info)
        ]
        if any(_plan_side(view, conn, role, conn_options).unread_route_records for role in roles):
            wanted.append(conn.connection_id)
    return tuple(wanted)


def build_fragment(
    view: RegionView,
    records: Mapping[str, DecisionView],
    options: RoutingOptions,
    now: datetime,
    *,
    routing: Mapping[str, RoutingOptions] | None = None,
    accounts: Sequence[AccountInfo] = (),
    policy_version: str = "",
    scopes: Mapping[str, str] | None = None,
) -> MapFragment:
    """``options``: the document's routing; ``routing``: a connection's own, by id (its rule's);
    ``scopes``: an active connection's scope by id (core/scope.py: unmanaged, hands-off...)."""
    routing = routing or {}
    scopes = scopes or {}
    observed_at = now.isoformat(timespec="seconds")
    vpcs = tuple(
        VpcNode(
            n.vpc.vpc_id,
            view.account,
            view.region,
            n.vpc.tags.get("Name", ""),
            (*n.vpc.cidr_blocks, *n.vpc.ipv6_cidr_blocks),
        )
        for n in view.networks.values()
    )
    edges = tuple(
        replace(
            _edge_of(view, conn, records.get(c_id := conn.connection_id), routing.get(c_id, options), observed_at),
            scope=scopes.get(c_id, ""),
        )
        for conn in view.connections
    )
    return MapFragment(view.account, view.region, observed_at, vpcs, edges, tuple(accounts), policy_version)


def _blocks(side: Side) -> tuple[str, ...]:
    return (*side.cidr_blocks, *side.ipv6_cidr_blocks)


def _here(view: RegionView, side: Side) -> bool:
    return (side.account, side.region) == (view.account, view.region) and side.vpc_id in view.networks


def _edge_of(
    view: RegionView, conn: Connection, record: DecisionView | None, options: RoutingOptions, observed_at: str
) -> EdgeView:
    findings: list[FindingView] = []
    sides: dict[str, SideView] = {}
    for role, info in (("requester", conn.requester), ("accepter", conn.accepter)):
        if not _here(view, info):
            sides[role] = SideView(
                role,
                info.account,
                info.region,
                info.vpc_id,
                _blocks(info),
                dns=info.allow_dns_resolution_from_remote,
            )
            continue
        network = view.networks[info.vpc_id]
        if conn.status is ConnectionStatus.ACTIVE:
            side, side_findings = _active_side(view, conn, role, options)
        else:
            side = SideView(
                role,
                info.account,
                info.region,
                info.vpc_id,
                _blocks(info),
                observed=True,
                tables=_related_tables(network.route_tables, conn.connection_id, {}),
                dns=info.allow_dns_resolution_from_remote,
            )
            side_findings = _dead_side_findings(
                role, conn, view.leftovers.get(conn.connection_id, ()), info, view.owned.get(conn.connection_id)
            )
        sides[role] = side
        findings += side_findings
    return EdgeView(
        connection_id=conn.connection_id,
        status=conn.status.value,
        requester=sides["requester"],
        accepter=sides["accepter"],
        expiration_time=conn.expiration_time.isoformat() if conn.expiration_time else "",
        findings=tuple(findings),
        decision=record,
        observed_at=observed_at,
        routing=options.source,
        routes=options.routes.value,
    )


def _plan_side(view: RegionView, conn: Connection, role: str, options: RoutingOptions) -> ConfigurePlan:
    """The sweep's own plan for one side that lives here (routing.plan_configuration, scope = that
    side), with the peer's network when it lives here too and its DNS attributes when read."""
    info, peer = (conn.requester, conn.accepter) if role == "requester" else (conn.accepter, conn.requester)
    network = view.networks[info.vpc_id]
    dns = view.dns.get(info.vpc_id)
    local = replace(network, dns=dns) if dns is not None else network
    other = view.networks[peer.vpc_id] if _here(view, peer) else None
    requester, accepter = (local, other) if role == "requester" else (other, local)
    return plan_configuration(
        conn,
        requester,
        accepter,
        options,
        frozenset({role}),
        peer_subnets=view.peer_subnets,
        owned=view.owned.get(conn.connection_id),
    )


def _active_side(
    view: RegionView, conn: Connection, role: str, options: RoutingOptions
) -> tuple[SideView, list[FindingView]]:
    """The sweep's plan for this side, read as findings: what it would add, remove or report."""
    info, peer = (conn.requester, conn.accepter) if role == "requester" else (conn.accepter, conn.requester)
    network = view.networks[info.vpc_id]
    findings: list[FindingView] = []
    # Per table, the destinations the plan looked at and, where it is not "ok", its verdict.
    planned: dict[str, list[str]] = {}
    verdicts: dict[tuple[str, str], str] = {}

    def judged(table: str, destination: str, verdict: str = "ok") -> None:
        if verdict != "stale":
            planned.setdefault(table, []).append(destination)
        if verdict != "ok":
            verdicts[(table, destination)] = verdict

    if peer.vpc_id in view.unread_peers:
        # The sweep retries this connection rather than planning without the peer's subnets.
        plan = ConfigurePlan(conn.connection_id, routing=options.source)
        findings.append(
            FindingView(
                "peer-subnets-unknown", role, f"the subnets of {peer.vpc_id} could not be read: retried by the sweep"
            )
        )
    else:
        plan = _plan_side(view, conn, role, options)
    for entry in plan.satisfied:
        table, destination = entry.split(":", 1)
        judged(table, destination)
    for change in plan.route_changes:
        if change.kind == "take-over":
            findings.append(
                FindingView(
                    "take-over-route",
                    role,
                    f"{change.route_table_id}: {change.destination} (made outside the autopilot)",
                )
            )
            judged(change.route_table_id, change.destination)
        elif change.kind == "delete":
            findings.append(
                FindingView("stale-route", role, f"{change.route_table_id}: {change.destination} is not the peer's")
            )
            judged(change.route_table_id, change.destination, "stale")
        else:
            was = f" (blackhole to {change.previous_target})" if change.kind == "replace" else ""
            findings.append(
                FindingView("missing-route", role, f"{change.route_table_id}: no route {change.destination}{was}")
            )
            judged(change.route_table_id, change.destination, "missing")
    for finding in plan.findings:
        findings.append(FindingView(finding.kind, role, finding.message))
        if finding.kind in ("route-conflict", "route-quota-full"):
            # keys: conflict:<table>:<destination>:<target>, quota:<table>:<destination> (IPv6 has ":")
            table, destination = finding.key.split(":", 2)[1:]
            if finding.kind == "route-conflict":
                destination = destination.rsplit(":", 1)[0]
            judged(table, destination, "conflict" if finding.kind == "route-conflict" else "missing")
    for dns_change in plan.dns_changes:
        wanted = "on" if dns_change.enables else "off"
        findings.append(
            FindingView("dns-off", role, f"AllowDnsResolutionFromRemoteVpc should be {wanted} on the {role} side")
        )
    # The tables the plan looked at, with every route it wants there; others only for what they hold.
    tables = _related_tables(
        [t for t in network.route_tables if t.route_table_id in planned or _targets(t, conn.connection_id)],
        conn.connection_id,
        planned,
        verdicts,
        others="ok",
    )
    managed = options.routes is RouteManagement.MANAGED
    side = SideView(
        role,
        info.account,
        info.region,
        info.vpc_id,
        _blocks(info),
        observed=True,
        tables=tables,
        dns=info.allow_dns_resolution_from_remote,
        routes_complete=not any(f.kind in _ROUTE_GAPS for f in findings) if managed else None,
        dns_complete=(
            None
            if options.dns_resolution is None
            else not any(f.kind in ("dns-off", "dns-prerequisite") for f in findings)
        ),
    )
    return side, findings


def _targets(table: RouteTable, connection_id: str) -> bool:
    return any(r.target_id == connection_id for r in table.routes)


def _related_tables(
    tables: Iterable[RouteTable],
    connection_id: str,
    wanted: Mapping[str, Sequence[str]],
    verdicts: Mapping[tuple[str, str], str] | None = None,
    *,
    others: str = "leftover",
) -> tuple[TableView, ...]:
    """Per table: the routes to this connection and to the destinations planned there (wanted, by
    table id), with a verdict."""
    verdicts = verdicts or {}
    out = []
    for table in tables:
        routes = []
        planned = wanted.get(table.route_table_id, ())
        for destination in planned:
            route = table.route_for(destination)
            verdict = verdicts.get((table.route_table_id, destination), "ok")
            if route is None:
                routes.append(RouteView(destination, "", "", verdict if verdict != "ok" else "missing"))
            else:
                routes.append(RouteView(route.destination, route.target_id, route.state, verdict))
        for route in table.routes:
            if route.target_id == connection_id and route.destination not in planned:
                known = verdicts.get((table.route_table_id, route.destination))
                verdict = known or ("blackhole" if route.is_blackhole else others)
                routes.append(RouteView(route.destination, route.target_id, route.state, verdict))
        if routes:
            out.append(TableView(table.route_table_id, table.is_main, tuple(routes)))
    return tuple(out)


def _dead_side_findings(
    role: str, conn: Connection, leftovers: Sequence[SideLeftovers], info: Side, owned: OwnedRoutes | None = None
) -> list[FindingView]:
    """A dead connection's leftovers on this side (what the cleanup removes or reports: a route
    the autopilot did not install is foreign, left alone; without ``owned``, all are leftovers)."""
    if not conn.status.is_dead:
        return []
    findings = []
    for left in leftovers:
        if left.vpc_id != info.vpc_id:
            continue
        for table in left.route_tables:
            for route in table.routes:
                if route.target_id == conn.connection_id:
                    where = f"{table.route_table_id}: {route.destination} ({route.state})"
                    foreign = owned is not None and route_ref(table.route_table_id, route.destination) not in owned
                    findings.append(FindingView("foreign-route" if foreign else "leftover-route", role, where))
        for reference in left.references:
            findings.append(FindingView("stale-sg-reference", role, reference.describe()))
    return findings
