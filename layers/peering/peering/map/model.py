"""The peering map's data model: what one account+Region shows (a fragment) and the whole mesh.

Pure and typed. A fragment is built from the sweep's snapshot of one account+Region
(observe.RegionSnapshot), the ledger's records of its connections and, for the findings, the same
planning the sweep runs (routing.plan_side_routes, observe's leftovers of a dead connection): the
map shows exactly the drift the sweep would repair or report. Fragments are plain JSON (the
deployed hub keeps one per account+Region in the map bucket); ``assemble`` joins them into the
organization's map, one edge per connection with each side as its owner observed it.

Each connection is planned with its own routing, as the sweep plans it (sweep/target.py): its
accepting rule's routing (read from its ledger record) else the document's, destinations by
subnet from the subnets observed here and the peers' subnets read elsewhere, "routes: none" (no
route judged: the team routes it) and DNS left as it is (no DNS finding).

Only the standard library and the engine's own models: it ships in the layer, imported lazily
(never on a handler's cold start).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from typing import Any

from peering.core.cleanup_plan import SideLeftovers
from peering.core.models import Connection, ConnectionStatus, Side
from peering.core.network import DnsAttributes, RouteTable, SideNetwork, Subnet
from peering.core.routing import ConfigurePlan, RouteManagement, RoutingOptions, plan_configuration

# What a person sees first: is it fine, does it drift, does it wait for someone, is it over.
HEALTHY, DRIFT, WAITING, FAILED, ENDED = "healthy", "drift", "waiting", "failed", "ended"
# The states of the legend and the filter (EC2's status, with "held" for a request kept for a person).
STATES = ("active", "held", "pending", "failed", "expired", "rejected", "deleted")
# Findings that mean the connection does not carry traffic (or names) as it should.
FINDING_LABELS = {
    "missing-route": "missing route",
    "stale-route": "route to a block the peer no longer has",
    "route-conflict": "route conflict",
    "route-quota-full": "route table full",
    "dns-off": "DNS resolution not enabled",
    "dns-prerequisite": "DNS prerequisites missing",
    "leftover-route": "route left to a dead connection",
    "stale-sg-reference": "stale security-group reference",
    "side-unmanaged": "side outside the organization",
    "peer-subnets-unknown": "the peer's subnets cannot be read",
    "destination-tag-unmatched": "no peer subnet carries the destination tag",
}
# Findings that leave a side's routes short of what its routing wants.
_ROUTE_GAPS = frozenset(
    {"missing-route", "route-conflict", "route-quota-full", "peer-subnets-unknown", "destination-tag-unmatched"}
)


@dataclass(frozen=True)
class AccountInfo:
    account: str
    name: str = ""
    ou: str = ""  # the direct parent's name (or id), "" when Organizations is not readable


@dataclass(frozen=True)
class VpcNode:
    vpc_id: str
    account: str
    region: str
    name: str = ""
    cidrs: tuple[str, ...] = ()
    observed: bool = True  # False: known only from a connection (its account+Region is not swept)


@dataclass(frozen=True)
class RouteView:
    destination: str
    target: str  # the target's id ("local", "pcx-...", "igw-...")
    state: str  # active | blackhole
    verdict: str  # ok | missing | conflict | blackhole | stale | leftover


@dataclass(frozen=True)
class TableView:
    route_table_id: str
    is_main: bool
    routes: tuple[RouteView, ...]


@dataclass(frozen=True)
class SideView:
    role: str  # requester | accepter
    account: str
    region: str
    vpc_id: str
    cidrs: tuple[str, ...] = ()  # the VPC's blocks as the connection reports them
    observed: bool = False  # read by its owner in this map (else: as the connection describes it)
    tables: tuple[TableView, ...] = ()
    dns: bool = False  # AllowDnsResolutionFromRemoteVpc on this side
    #: None: not observed, the connection is not active, or its routing leaves them to the team
    routes_complete: bool | None = None
    dns_complete: bool | None = None  # None also when its routing leaves the DNS option as it is


@dataclass(frozen=True)
class FindingView:
    kind: str
    side: str  # requester | accepter
    message: str


@dataclass(frozen=True)
class DecisionView:
    """The ledger's record of a connection (STATE item)."""

    decision: str = ""
    decided_by: str = ""
    rule: str = ""
    reasons: tuple[str, ...] = ()
    policy_version: str = ""
    expiration_time: str = ""
    status: str = ""
    closed: bool = False

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> DecisionView:
        def text(name: str) -> str:
            return str(item.get(name, {}).get("S", ""))

        return cls(
            decision=text("decision"),
            decided_by=text("decidedBy"),
            rule=text("rule"),
            reasons=tuple(str(r.get("S", "")) for r in item.get("reasons", {}).get("L", [])),
            policy_version=text("policyVersion"),
            expiration_time=text("expirationTime"),
            status=text("status"),
            closed="closedAt" in item,
        )


@dataclass(frozen=True)
class EdgeView:
    connection_id: str
    status: str  # EC2's status code
    requester: SideView
    accepter: SideView
    expiration_time: str = ""  # ISO 8601, a pending request's
    findings: tuple[FindingView, ...] = ()
    decision: DecisionView | None = None
    observed_at: str = ""
    routing: str = ""  # whose routing its findings come from (RoutingOptions.source)
    routes: str = RouteManagement.MANAGED.value  # "none": the team manages its routes itself

    @property
    def state(self) -> str:
        """active, held, pending, failed, expired, rejected or deleted (the legend's states)."""
        status = ConnectionStatus(self.status)
        if status in (ConnectionStatus.DELETING, ConnectionStatus.DELETED):
            return "deleted"
        if status.is_dead:
            return status.value
        if status is ConnectionStatus.ACTIVE:
            return "active"
        if self.decision is not None and self.decision.decision == "held":
            return "held"
        return "pending"

    @property
    def health(self) -> str:
        state = self.state
        if state == "active":
            return DRIFT if self.findings or self.incomplete else HEALTHY
        if state in ("held", "pending"):
            return WAITING
        if state == "failed":
            return FAILED
        return DRIFT if self.findings else ENDED

    @property
    def incomplete(self) -> bool:
        return any(
            side.routes_complete is False or side.dns_complete is False for side in (self.requester, self.accepter)
        )

    def side(self, role: str) -> SideView:
        return self.requester if role == "requester" else self.accepter


@dataclass(frozen=True)
class MapFragment:
    """What one account+Region shows: its VPCs and every connection visible there."""

    account: str
    region: str
    observed_at: str
    vpcs: tuple[VpcNode, ...] = ()
    edges: tuple[EdgeView, ...] = ()
    accounts: tuple[AccountInfo, ...] = ()
    policy_version: str = ""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> MapFragment:
        return cls(
            account=str(data["account"]),
            region=str(data["region"]),
            observed_at=str(data.get("observed_at", "")),
            vpcs=tuple(_vpc_node(v) for v in data.get("vpcs", ())),
            edges=tuple(_edge(e) for e in data.get("edges", ())),
            accounts=tuple(AccountInfo(**a) for a in data.get("accounts", ())),
            policy_version=str(data.get("policy_version", "")),
        )


@dataclass(frozen=True)
class PeeringMap:
    generated_at: str
    vpcs: tuple[VpcNode, ...]
    edges: tuple[EdgeView, ...]
    accounts: dict[str, AccountInfo] = field(default_factory=dict)
    places: tuple[tuple[str, str], ...] = ()  # the account+Regions observed
    missing: tuple[tuple[str, str], ...] = ()  # swept, but no fragment yet
    policy_version: str = ""

    def counts(self) -> dict[str, int]:
        out = {name: 0 for name in (HEALTHY, DRIFT, WAITING, FAILED, ENDED)}
        for edge in self.edges:
            out[edge.health] += 1
        return out


# --- JSON back to the model ------------------------------------------------------------------


def _vpc_node(data: Mapping[str, Any]) -> VpcNode:
    return VpcNode(**{**data, "cidrs": tuple(data.get("cidrs", ()))})


def _side(data: Mapping[str, Any]) -> SideView:
    tables = tuple(
        TableView(t["route_table_id"], bool(t["is_main"]), tuple(RouteView(**r) for r in t["routes"]))
        for t in data.get("tables", ())
    )
    return SideView(**{**data, "tables": tables, "cidrs": tuple(data.get("cidrs", ()))})


def _edge(data: Mapping[str, Any]) -> EdgeView:
    decision = data.get("decision")
    return EdgeView(
        connection_id=str(data["connection_id"]),
        status=str(data["status"]),
        requester=_side(data["requester"]),
        accepter=_side(data["accepter"]),
        expiration_time=str(data.get("expiration_time", "")),
        findings=tuple(FindingView(**f) for f in data.get("findings", ())),
        decision=DecisionView(**{**decision, "reasons": tuple(decision["reasons"])}) if decision else None,
        observed_at=str(data.get("observed_at", "")),
        routing=str(data.get("routing", "")),
        routes=str(data.get("routes", RouteManagement.MANAGED.value)),
    )


# --- one account+Region --------------------------------------------------------------------


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


def build_fragment(
    view: RegionView,
    records: Mapping[str, DecisionView],
    options: RoutingOptions,
    now: datetime,
    *,
    routing: Mapping[str, RoutingOptions] | None = None,
    accounts: Sequence[AccountInfo] = (),
    policy_version: str = "",
) -> MapFragment:
    """``options``: the document's routing; ``routing``: a connection's own, by id (its rule's)."""
    routing = routing or {}
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
        _edge_of(view, conn, records.get(conn.connection_id), routing.get(conn.connection_id, options), observed_at)
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
            side_findings = _dead_side_findings(role, conn, view.leftovers.get(conn.connection_id, ()), info)
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
    return plan_configuration(conn, requester, accepter, options, frozenset({role}), peer_subnets=view.peer_subnets)


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
        if change.kind == "delete":
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
    role: str, conn: Connection, leftovers: Sequence[SideLeftovers], info: Side
) -> list[FindingView]:
    """A dead connection's leftovers on this side (what the cleanup removes or reports)."""
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
                    findings.append(FindingView("leftover-route", role, where))
        for reference in left.references:
            findings.append(FindingView("stale-sg-reference", role, reference.describe()))
    return findings


# --- the organization ----------------------------------------------------------------------


def assemble(
    fragments: Iterable[MapFragment],
    generated_at: datetime,
    *,
    missing: Sequence[tuple[str, str]] = (),
) -> PeeringMap:
    """One map from every account+Region's fragment: each connection once, each side as its owner saw it."""
    vpcs: dict[str, VpcNode] = {}
    edges: dict[str, EdgeView] = {}
    accounts: dict[str, AccountInfo] = {}
    places = []
    policy_version = ""
    for fragment in sorted(fragments, key=lambda f: f.observed_at):  # the newest view wins
        places.append((fragment.account, fragment.region))
        policy_version = fragment.policy_version or policy_version
        for info in fragment.accounts:
            if info.name or info.ou or info.account not in accounts:
                accounts[info.account] = info
        for vpc in fragment.vpcs:
            vpcs[vpc.vpc_id] = vpc
        for edge in fragment.edges:
            edges[edge.connection_id] = _merge(edges.get(edge.connection_id), edge)
    for edge in edges.values():
        for side in (edge.requester, edge.accepter):
            if side.vpc_id not in vpcs:
                # A peer in an account+Region not swept (outside the organization, or not listed).
                vpcs[side.vpc_id] = VpcNode(side.vpc_id, side.account, side.region, "", side.cidrs, observed=False)
    ordered_edges = tuple(sorted(edges.values(), key=lambda e: e.connection_id))
    # In each box, the VPCs with connections first (named ones by name), the others after.
    connected = {s.vpc_id for e in edges.values() for s in (e.requester, e.accepter)}
    ordered_vpcs = tuple(
        sorted(
            vpcs.values(),
            key=lambda v: (v.account, v.region, v.vpc_id not in connected, v.name or "~", v.vpc_id),
        )
    )
    return PeeringMap(
        generated_at=generated_at.isoformat(timespec="seconds"),
        vpcs=ordered_vpcs,
        edges=ordered_edges,
        accounts=accounts,
        places=tuple(sorted(set(places))),
        missing=tuple(sorted(set(missing))),
        policy_version=policy_version,
    )


def _merge(known: EdgeView | None, seen: EdgeView) -> EdgeView:
    """Join two views of one connection: each side from the fragment that observed it."""
    if known is None:
        return seen
    source = {
        role: seen if seen.side(role).observed or not known.side(role).observed else known
        for role in ("requester", "accepter")
    }
    return replace(
        seen,
        requester=source["requester"].requester,
        accepter=source["accepter"].accepter,
        findings=tuple(f for role in ("requester", "accepter") for f in source[role].findings if f.side == role),
        decision=seen.decision or known.decision,
        expiration_time=seen.expiration_time or known.expiration_time,
    )


def time_left(expiration: str, now: datetime) -> str:
    """ "6 d 23 h" until a pending request expires ("" when unknown, "expired" when past)."""
    if not expiration:
        return ""
    try:
        when = datetime.fromisoformat(expiration)
    except ValueError:
        return ""
    seconds = int((when - now).total_seconds())
    if seconds <= 0:
        return "expired"
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    return f"{days} d {hours} h" if days else f"{hours} h {rest // 60} min"
