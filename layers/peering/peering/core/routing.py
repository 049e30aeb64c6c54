"""Pure planning of routes and DNS options for an active connection, side by side.

Rules (README "Routes and DNS"):
- destinations: every IPv4 block of the peer VPC (and IPv6 when asked), or only the blocks of the
  peer's subnets carrying a tag ("subnets"), minus excluded blocks; "routes: none" plans no route;
- route tables: all of the VPC's, those tagged, or those of tagged subnets (main table fallback);
- a route to this connection is success; a blackhole route to another peering connection that EC2
  shows dead (rejected, deleting, deleted, expired, failed) or no longer knows is replaced; any other route
  for the destination is a conflict, reported and left alone: a live target, and a blackhole to
  anything else (a transit gateway, NAT gateway, instance, interface, gateway, endpoint...: its
  target may come back) or to a peering connection still pending or active; a full table is
  reported, others go on;
- routes to this connection for blocks the peer no longer has (or subnets that no longer qualify)
  are removed (only those);
- DNS: each side sets its own AllowDnsResolutionFromRemoteVpc, only when both VPCs resolve DNS.

The lifecycle that observes the sides and applies this plan is configure.py.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from peering.core.models import Connection
from peering.core.network import PEERING_TARGET, Route, RouteTable, SideNetwork, Subnet, ip_version

DEFAULT_ROUTES_PER_TABLE = 50  # L-93826ACB default, counted per IP version


class TableSelection(StrEnum):
    ALL = "all"
    TAGGED = "tagged"  # route tables carrying the tag
    SUBNETS = "subnets"  # tables of subnets carrying the tag (main table for unassociated subnets)


class DestinationScope(StrEnum):
    VPC = "vpc"  # every block of the peer VPC
    SUBNETS = "subnets"  # the blocks of the peer's subnets carrying the destination tag


class RouteManagement(StrEnum):
    MANAGED = "managed"
    NONE = "none"  # the team manages its routes itself: none is created, replaced or removed


def _tagged(tags: dict[str, str], key: str | None, value: str | None) -> bool:
    if key is None or key not in tags:
        return False
    return value is None or tags[key] == value


@dataclass(frozen=True)
class RoutingOptions:
    ipv6: bool = False
    exclude: tuple[str, ...] = ()
    selection: TableSelection = TableSelection.ALL
    tag_key: str | None = None
    tag_value: str | None = None
    dns_resolution: bool | None = True  # None: leave each side's option as it is
    routes_per_table: int = DEFAULT_ROUTES_PER_TABLE
    destinations: DestinationScope = DestinationScope.VPC
    destination_tag_key: str | None = None
    destination_tag_value: str | None = None
    routes: RouteManagement = RouteManagement.MANAGED
    #: where these options come from (the policy document, an accept rule), said in the plan
    source: str = ""
    take_over_foreign_routes: bool = False

    @property
    def reads_subnets(self) -> bool:
        """Planning needs the subnets of the VPCs (table selection or destinations by subnet)."""
        by_subnet = self.selection is TableSelection.SUBNETS or self.destinations is DestinationScope.SUBNETS
        return self.routes is RouteManagement.MANAGED and by_subnet

    def qualifying_subnets(self, subnets: Iterable[Subnet]) -> tuple[Subnet, ...]:
        return tuple(s for s in subnets if _tagged(s.tags, self.destination_tag_key, self.destination_tag_value))


# --- actions -------------------------------------------------------------------------------


@dataclass(frozen=True)
class RouteChange:
    kind: str  # create | replace | delete
    account: str
    region: str
    route_table_id: str
    destination: str
    connection_id: str
    previous_target: str | None = None

    def describe(self) -> str:
        where = f"{self.route_table_id} ({self.account}/{self.region})"
        if self.kind == "delete":
            return f"delete route {self.destination} -> {self.connection_id} from {where}"
        if self.kind == "replace":
            return (
                f"replace blackhole route {self.destination} -> {self.previous_target} "
                f"by {self.connection_id} in {where}"
            )
        return f"create route {self.destination} -> {self.connection_id} in {where}"


@dataclass(frozen=True)
class SetDnsResolution:
    """ModifyVpcPeeringConnectionOptions in one owner's account and Region, for its own side(s)."""

    connection_id: str
    account: str
    region: str
    requester: bool | None  # None: leave that side alone
    accepter: bool | None
    #: (account, Region, VPC) whose DNS attributes enabling needs: read only if AWS refuses it
    prerequisites: tuple[tuple[str, str, str], ...] = ()

    @property
    def enables(self) -> bool:
        return bool(self.requester or self.accepter)

    @property
    def roles(self) -> tuple[str, ...]:
        return tuple(role for role, value in (("requester", self.requester), ("accepter", self.accepter)) if value)

    def describe(self) -> str:
        sides = []
        if self.requester is not None:
            sides.append(f"requester={self.requester}")
        if self.accepter is not None:
            sides.append(f"accepter={self.accepter}")
        where = f"{self.account}/{self.region}"
        return f"set AllowDnsResolutionFromRemoteVpc {', '.join(sides)} on {self.connection_id} in {where}"


@dataclass(frozen=True)
class Finding:
    """Something a person should know; reported (ledger, log, metric, notification), never forced."""

    #: route-conflict | route-quota-full | dns-prerequisite | side-unmanaged | peer-subnets-unknown |
    #: destination-tag-unmatched
    kind: str
    key: str  # stable identity, so the same finding is notified once
    message: str


@dataclass(frozen=True)
class ConfigurePlan:
    connection_id: str
    route_changes: tuple[RouteChange, ...] = ()
    dns_changes: tuple[SetDnsResolution, ...] = ()
    findings: tuple[Finding, ...] = ()
    satisfied: tuple[str, ...] = ()  # routes already in place (for the record)
    routing: str = ""  # whose routing was applied (RoutingOptions.source)
    #: (account, Region, connection id) of peering connections whose blackhole routes stand where a
    #: route is planned and whose status the sides do not hold: left alone in this plan; the engine
    #: reads them (SideNetwork.peerings) and plans again
    unread_peerings: tuple[tuple[str, str, str], ...] = ()

    @property
    def is_noop(self) -> bool:
        return not (self.route_changes or self.dns_changes)

    def render(self) -> str:
        lines = [
            f"{self.connection_id}: configure ({len(self.route_changes)} route changes, "
            f"{len(self.dns_changes)} DNS changes, {len(self.findings)} findings)"
        ]
        if self.routing:
            lines.append(f"  routing: {self.routing}")
        lines += [f"  - {c.describe()}" for c in self.route_changes]
        lines += [f"  - {c.describe()}" for c in self.dns_changes]
        lines += [f"  ! {f.kind}: {f.message}" for f in self.findings]
        if self.is_noop and not self.findings:
            lines.append("  - (nothing to change)")
        return "\n".join(lines)


# --- planning ------------------------------------------------------------------------------


def desired_destinations(peer_v4: Iterable[str], peer_v6: Iterable[str], options: RoutingOptions) -> tuple[str, ...]:
    excluded = [ipaddress.ip_network(block, strict=False) for block in options.exclude]
    blocks = list(peer_v4) + (list(peer_v6) if options.ipv6 else [])
    out: dict[ipaddress.IPv4Network | ipaddress.IPv6Network, str] = {}
    for block in blocks:
        net = ipaddress.ip_network(block, strict=False)
        if any(net.version == ex.version and net.overlaps(ex) for ex in excluded):  # type: ignore[arg-type]
            continue
        # Keep the block as the VPC reports it: routes are created with the same spelling.
        out.setdefault(net, block)
    return tuple(out.values())


def subnet_blocks(subnets: tuple[Subnet, ...]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(IPv4 blocks, IPv6 blocks) of subnets, each once, in the order read."""
    v4 = dict.fromkeys(s.cidr_block for s in subnets if s.cidr_block)
    v6 = dict.fromkeys(block for s in subnets for block in s.ipv6_cidr_blocks)
    return tuple(v4), tuple(v6)


def select_tables(side: SideNetwork, options: RoutingOptions) -> tuple[RouteTable, ...]:
    tables = side.route_tables
    if options.selection is TableSelection.ALL:
        return tables

    def tagged(tags: dict[str, str]) -> bool:
        return _tagged(tags, options.tag_key, options.tag_value)

    if options.selection is TableSelection.TAGGED:
        return tuple(t for t in tables if tagged(t.tags))
    # SUBNETS: a subnet with no table of its own uses the VPC's main table.
    by_subnet = {s: t for t in tables for s in t.subnet_ids}
    main = next((t for t in tables if t.is_main), None)
    chosen: dict[str, RouteTable] = {}
    for subnet in side.subnets:
        if not tagged(subnet.tags):
            continue
        table = by_subnet.get(subnet.subnet_id, main)
        if table is not None:
            chosen[table.route_table_id] = table
    return tuple(chosen.values())


def plan_side_routes(
    connection_id: str,
    side: SideNetwork,
    peer_v4: tuple[str, ...],
    peer_v6: tuple[str, ...],
    options: RoutingOptions,
) -> tuple[list[RouteChange], list[Finding], list[str], list[tuple[str, str, str]]]:
    """Routes of one side: (changes, findings, routes already in place, peerings to read: see
    ConfigurePlan.unread_peerings)."""
    changes: list[RouteChange] = []
    findings: list[Finding] = []
    satisfied: list[str] = []
    unread: list[tuple[str, str, str]] = []
    wanted = desired_destinations(peer_v4, peer_v6, options)
    for table in select_tables(side, options):
        planned_per_version: dict[int, int] = {4: 0, 6: 0}
        for destination in wanted:
            existing = table.route_for(destination)
            where = f"{table.route_table_id} ({side.account}/{side.region})"
            if existing is None:
                version = ip_version(destination)
                if table.count(version) + planned_per_version[version] >= options.routes_per_table:
                    findings.append(
                        Finding(
                            "route-quota-full",
                            f"quota:{table.route_table_id}:{destination}",
                            f"{where} already holds {table.count(version)} IPv{version} routes "
                            f"(quota {options.routes_per_table}): route {destination} -> {connection_id} not added",
                        )
                    )
                    continue
                planned_per_version[version] += 1
                changes.append(
                    RouteChange("create", side.account, side.region, table.route_table_id, destination, connection_id)
                )
            elif existing.target_id == connection_id:
                satisfied.append(f"{table.route_table_id}:{destination}")
            else:
                kept = _blackhole_kept(existing, side) if existing.is_blackhole else ""
                if kept is None:
                    changes.append(
                        RouteChange(
                            "replace",
                            side.account,
                            side.region,
                            table.route_table_id,
                            destination,
                            connection_id,
                            previous_target=existing.target_id,
                        )
                    )
                    continue
                unread_peering = existing.target_kind == PEERING_TARGET and existing.target_id not in side.peerings
                if existing.is_blackhole and unread_peering:
                    unread.append((side.account, side.region, existing.target_id))
                findings.append(
                    Finding(
                        "route-conflict",
                        f"conflict:{table.route_table_id}:{destination}:{existing.target_id}",
                        f"{where} already routes {destination} to {existing.target_kind} {existing.target_id}"
                        f"{f' ({kept})' if kept else ''}: left alone, {connection_id} gets no route there",
                    )
                )
    # Blocks the peer no longer has: remove our routes for them, wherever they are.
    peer_blocks = {ipaddress.ip_network(b, strict=False) for b in (*peer_v4, *peer_v6)}
    for table in side.route_tables:
        for route in table.routes:
            gone = ipaddress.ip_network(route.destination, strict=False) not in peer_blocks
            if route.target_id == connection_id and gone:
                changes.append(
                    RouteChange(
                        "delete", side.account, side.region, table.route_table_id, route.destination, connection_id
                    )
                )
    return changes, findings, satisfied, list(dict.fromkeys(unread))


def _blackhole_kept(route: Route, side: SideNetwork) -> str | None:
    """Why a blackhole route is left alone, or None when it may be replaced: only a route to a
    peering connection EC2 shows dead or no longer knows. A blackhole to anything else is someone's
    route waiting for its target (a gateway attachment being replaced, a stopped NAT instance); a
    blackhole to a pending or active connection is someone's connection about to carry traffic."""
    if route.target_kind != PEERING_TARGET:
        return "a blackhole: its target is unavailable now and may come back"
    if route.target_id not in side.peerings:
        return "a blackhole to a peering connection whose status was not read"
    status = side.peerings[route.target_id]
    if status is None or status.is_dead:
        return None
    return f"a blackhole to a peering connection that is {status.value}, not dead"


def dns_prerequisite_finding(connection_id: str, role: str, lacking: Iterable[str]) -> Finding:
    vpcs = list(lacking)
    return Finding(
        "dns-prerequisite",
        f"dns:{connection_id}:{role}:{','.join(vpcs)}",
        f"DNS resolution for the {role} side of {connection_id} was not enabled: "
        f"{', '.join(vpcs)} lacks enableDnsSupport or enableDnsHostnames",
    )


def plan_dns(
    conn: Connection,
    requester: SideNetwork | None,
    accepter: SideNetwork | None,
    options: RoutingOptions,
) -> tuple[list[SetDnsResolution], list[Finding]]:
    """Each owner sets its own side, in its own Region; same account and Region: one call.

    Enabling needs DNS support and hostnames in both VPCs. Attributes already known decide here;
    otherwise the change is tried and, if AWS refuses it, the applier reads them.
    """
    desired = options.dns_resolution
    if desired is None:
        return [], []
    wanted: dict[str, bool] = {}
    findings: list[Finding] = []
    managed = [n for n in (requester, accepter) if n is not None]
    sides = (("requester", conn.requester, requester), ("accepter", conn.accepter, accepter))
    for role, info, network in sides:
        if network is None or info.allow_dns_resolution_from_remote == desired:
            continue
        if desired:
            not_ready = [n.vpc.vpc_id for n in managed if n.dns is not None and not n.dns.ready]
            if not_ready:
                findings.append(dns_prerequisite_finding(conn.connection_id, role, not_ready))
                continue
        wanted[role] = desired
    if not wanted:
        return [], findings
    prerequisites = tuple((n.account, n.region, n.vpc.vpc_id) for n in managed) if desired else ()
    if not conn.is_cross_account and not conn.is_inter_region:
        return [
            SetDnsResolution(
                conn.connection_id,
                conn.accepter.account,
                conn.accepter.region,
                requester=wanted.get("requester"),
                accepter=wanted.get("accepter"),
                prerequisites=prerequisites,
            )
        ], findings
    changes = []
    if "requester" in wanted:
        changes.append(
            SetDnsResolution(
                conn.connection_id,
                conn.requester.account,
                conn.requester.region,
                wanted["requester"],
                None,
                prerequisites,
            )
        )
    if "accepter" in wanted:
        changes.append(
            SetDnsResolution(
                conn.connection_id, conn.accepter.account, conn.accepter.region, None, wanted["accepter"], prerequisites
            )
        )
    return changes, findings


BOTH_SIDES = frozenset({"requester", "accepter"})


def subnet_destinations(
    connection_id: str, role: str, peer_vpc: str, subnets: tuple[Subnet, ...] | None, options: RoutingOptions
) -> tuple[tuple[str, ...], tuple[str, ...]] | Finding:
    """The blocks of the peer's qualifying subnets, or why the side's routes are left as they are:
    the subnets cannot be read (None), or none carries the tag (most likely a misspelt tag:
    removing every route would be the wrong answer)."""
    if subnets is None:
        return Finding(
            "peer-subnets-unknown",
            f"subnets-unknown:{connection_id}:{role}",
            f"the subnets of {peer_vpc} cannot be read (its account is outside the organization): "
            f"no route on the {role} side is added or removed",
        )
    qualifying = options.qualifying_subnets(subnets)
    if not qualifying:
        tag = f"{options.destination_tag_key}={options.destination_tag_value or '*'}"
        return Finding(
            "destination-tag-unmatched",
            f"tag-unmatched:{connection_id}:{role}:{tag}",
            f"no subnet of {peer_vpc} carries the destination tag {tag}: "
            f"no route on the {role} side is added or removed",
        )
    return subnet_blocks(qualifying)


def plan_configuration(
    conn: Connection,
    requester: SideNetwork | None,
    accepter: SideNetwork | None,
    options: RoutingOptions,
    scope: frozenset[str] = BOTH_SIDES,
    *,
    peer_subnets: Mapping[str, tuple[Subnet, ...]] | None = None,
) -> ConfigurePlan:
    """Pure: routes on both sides and DNS options for an active connection.

    ``scope`` limits the plan to the sides this run is responsible for (the sweep of one
    account+Region converges only the sides that live there; the peer's sweep does the rest).
    ``peer_subnets``: subnets, by VPC id, of peers not observed here (destinations by subnet).
    """
    changes: list[RouteChange] = []
    findings: list[Finding] = []
    satisfied: list[str] = []
    unread: list[tuple[str, str, str]] = []
    requester_blocks = (
        (requester.vpc.cidr_blocks, requester.vpc.ipv6_cidr_blocks)
        if requester
        else (
            conn.requester.cidr_blocks,
            conn.requester.ipv6_cidr_blocks,
        )
    )
    accepter_blocks = (
        (accepter.vpc.cidr_blocks, accepter.vpc.ipv6_cidr_blocks)
        if accepter
        else (
            conn.accepter.cidr_blocks,
            conn.accepter.ipv6_cidr_blocks,
        )
    )
    known_subnets = dict(peer_subnets or {})
    for network in (requester, accepter):
        if network is not None:
            known_subnets[network.vpc.vpc_id] = network.subnets
    for role, network, vpc_blocks, peer_vpc in (
        ("requester", requester, accepter_blocks, conn.accepter.vpc_id),
        ("accepter", accepter, requester_blocks, conn.requester.vpc_id),
    ):
        if role not in scope:
            continue
        if network is None:
            findings.append(
                Finding(
                    "side-unmanaged",
                    f"unmanaged:{conn.connection_id}:{role}",
                    f"the {role} side ({getattr(conn, role).account}) is outside the organization: "
                    "its owner must add its routes and DNS option",
                )
            )
            continue
        if options.routes is RouteManagement.NONE:
            continue  # the team routes this connection itself
        peer_blocks = vpc_blocks
        if options.destinations is DestinationScope.SUBNETS:
            chosen = subnet_destinations(conn.connection_id, role, peer_vpc, known_subnets.get(peer_vpc), options)
            if isinstance(chosen, Finding):
                findings.append(chosen)
                continue
            peer_blocks = chosen
        side_changes, side_findings, side_ok, side_unread = plan_side_routes(
            conn.connection_id, network, *peer_blocks, options
        )
        changes += side_changes
        findings += side_findings
        satisfied += side_ok
        unread += side_unread
    dns_changes, dns_findings = plan_dns(
        conn,
        requester if "requester" in scope else None,
        accepter if "accepter" in scope else None,
        options,
    )
    return ConfigurePlan(
        connection_id=conn.connection_id,
        route_changes=tuple(changes),
        dns_changes=tuple(dns_changes),
        findings=tuple(findings + dns_findings),
        satisfied=tuple(satisfied),
        routing=options.source,
        unread_peerings=tuple(dict.fromkeys(unread)),
    )
