"""Observation: read connections and VPCs from the EC2 API, in each owner's account and Region.

Per connection (what an event's lifecycle reads), or a whole account+Region at once with
paginated describes (``observe_region``: what the sweep reads). Either way each kind of thing is
read once per account+Region: where both sides of a connection live in the same place, one call
lists both VPCs, both VPCs' route tables, both VPCs' security groups.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Any

from botocore.exceptions import ClientError

from peering.aws.clients import AwsClients
from peering.aws.ledger.decisions import DecisionRecords
from peering.aws.org import OrganizationDirectory
from peering.core.cleanup_plan import SideLeftovers, references_to
from peering.core.errors import OutsideOrganizationError, UnknownConnectionError
from peering.core.models import AcceptObservation, Connection, ConnectionStatus, RequesterIdentity, Side, Vpc
from peering.core.network import DnsAttributes, RouteTable, SideNetwork, Subnet
from peering.core.routing import DestinationScope, RouteManagement, RoutingOptions
from peering.runtime.observability import logger

_NOT_FOUND = {"InvalidVpcPeeringConnectionID.NotFound", "InvalidVpcPeeringConnectionId.Malformed"}


def find_connection(aws: AwsClients, connection_id: str, account: str, region: str) -> Connection:
    ec2 = aws.client("ec2", account, region)
    try:
        found = ec2.describe_vpc_peering_connections(VpcPeeringConnectionIds=[connection_id])
    except ClientError as exc:
        if exc.response["Error"]["Code"] in _NOT_FOUND:
            raise UnknownConnectionError(f"{connection_id} is not known in {account}/{region}") from exc
        raise
    items = [i for i in found.get("VpcPeeringConnections", []) if i["VpcPeeringConnectionId"] == connection_id]
    if not items:
        raise UnknownConnectionError(f"{connection_id} is not known in {account}/{region}")
    return Connection.from_api(items[0], region)


def describe_vpcs(aws: AwsClients, account: str, region: str, vpc_ids: Sequence[str]) -> dict[str, Vpc]:
    """The VPCs among ``vpc_ids`` that exist in account/Region, by id: one call."""
    ec2 = aws.client("ec2", account, region)
    try:
        found = ec2.describe_vpcs(VpcIds=list(vpc_ids))["Vpcs"]
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "InvalidVpcID.NotFound":
            raise
        if len(vpc_ids) == 1:
            return {}
        # One of them is gone (the whole call fails): ask for each, so the others are still seen.
        return {k: v for vpc_id in vpc_ids for k, v in describe_vpcs(aws, account, region, [vpc_id]).items()}
    return {str(v["VpcId"]): Vpc.from_api(v, account, region) for v in found}


def list_connections(aws: AwsClients, account: str, region: str) -> list[Connection]:
    """Every connection visible in account/Region, whatever its status (one paginated listing).

    EC2 cannot filter on "either side's VPC" in one call (filters are ANDed), so the listing is
    filtered here: it holds a connection itself, its duplicates and every VPC's active peerings.
    """
    return [
        Connection.from_api(item, region)
        for item in paginate(aws, account, region, "describe_vpc_peering_connections", "VpcPeeringConnections")
    ]


def connections_touching(aws: AwsClients, account: str, region: str, vpc_id: str) -> list[Connection]:
    """Every connection visible in account/Region with ``vpc_id`` on either side."""
    return [c for c in list_connections(aws, account, region) if c.touches(vpc_id)]


def _reachable(aws: AwsClients, who: RequesterIdentity) -> bool:
    """We can read an account only if it is ours or a member of the organization."""
    return who.account == aws.own_account or who.in_organization


def _listed(connections: list[Connection], connection_id: str, account: str, region: str) -> Connection:
    for conn in connections:
        if conn.connection_id == connection_id:
            return conn
    raise UnknownConnectionError(f"{connection_id} is not known in {account}/{region}")


def observe_request(
    aws: AwsClients,
    *,
    connection_id: str,
    account: str,
    region: str,
    directory: OrganizationDirectory,
    ledger: DecisionRecords,
) -> AcceptObservation:
    """Observe a peering request from the accepter's side (where accept/reject must be called).

    Per account+Region a side lives in: one listing of its connections (the request itself, its
    duplicates, every VPC's active peerings) and one read of its VPCs.
    """
    listings: dict[tuple[str, str], list[Connection]] = {}

    def listing(place: tuple[str, str]) -> list[Connection]:
        if place not in listings:
            listings[place] = list_connections(aws, *place)
        return listings[place]

    conn = _listed(listing((account, region)), connection_id, account, region)
    accepter = conn.accepter
    here = (accepter.account, accepter.region)
    if here != (account, region):
        # The hint pointed at the requester's view: the accepter's view is the one that counts.
        if not is_reachable(aws, directory, *here):
            raise OutsideOrganizationError(f"accepter account {accepter.account} is outside the organization")
        logger.info("re-reading the connection on the accepter side", extra={"accepter": accepter.account})
        conn = _listed(listing(here), connection_id, *here)
    requester = directory.identify(conn.requester.account, conn.requester.region)
    there = (conn.requester.account, conn.requester.region)
    wanted: dict[tuple[str, str], list[str]] = {here: [accepter.vpc_id]}
    if _reachable(aws, requester):
        # Never decide on a view with holes: an error here (throttling, a 5xx, a missing member
        # role) raises and the request is decided by the retry, with every check.
        wanted.setdefault(there, []).append(conn.requester.vpc_id)
        listing(there)
    vpcs = {k: v for place, ids in wanted.items() for k, v in describe_vpcs(aws, *place, ids).items()}
    accepter_vpc = vpcs.get(accepter.vpc_id)
    if accepter_vpc is None:
        raise UnknownConnectionError(f"accepter VPC {accepter.vpc_id} of {connection_id} no longer exists")
    ends = (accepter.vpc_id, conn.requester.vpc_id)
    neighbours: dict[str, Connection] = {}
    for place in (here, there):
        for other in listings.get(place, ()):
            if other.touches(ends[0]) or other.touches(ends[1]):
                neighbours.setdefault(other.connection_id, other)
    return AcceptObservation(
        connection=conn,
        accepter_vpc=accepter_vpc,
        requester_vpc=vpcs.get(conn.requester.vpc_id),
        requester=requester,
        neighbours=tuple(neighbours.values()),
        previous=ledger.get_state(connection_id),
    )


def paginate(aws: AwsClients, account: str, region: str, operation: str, key: str, **params: Any) -> list[Any]:
    paginator = aws.client("ec2", account, region).get_paginator(operation)
    items: list[Any] = []
    for page in paginator.paginate(**params):
        items.extend(page[key])
    return items


def dns_attributes(aws: AwsClients, account: str, region: str, vpc_id: str) -> DnsAttributes:
    """enableDnsSupport / enableDnsHostnames of a VPC (two calls): read only when AWS refused to
    enable DNS resolution, to tell a missing prerequisite from an error."""
    ec2 = aws.client("ec2", account, region)
    support = ec2.describe_vpc_attribute(VpcId=vpc_id, Attribute="enableDnsSupport")
    hostnames = ec2.describe_vpc_attribute(VpcId=vpc_id, Attribute="enableDnsHostnames")
    return DnsAttributes(
        support=bool(support["EnableDnsSupport"]["Value"]), hostnames=bool(hostnames["EnableDnsHostnames"]["Value"])
    )


def is_reachable(aws: AwsClients, directory: OrganizationDirectory, account: str, region: str) -> bool:
    return _reachable(aws, directory.identify(account, region))


def _vpc_of(side: Side) -> Vpc:
    """The VPC as the connection reports it: its blocks are the connection's CidrBlockSet and
    Ipv6CidrBlockSet, which AWS keeps current as blocks are associated and removed."""
    return Vpc(side.account, side.region, side.vpc_id, side.cidr_blocks, side.ipv6_cidr_blocks)


def observe_connection_sides(
    aws: AwsClients,
    conn: Connection,
    directory: OrganizationDirectory,
    *,
    with_subnets: bool,
    with_vpcs: bool = False,
) -> tuple[SideNetwork | None, SideNetwork | None]:
    """Both sides of a connection, each read by its owner, once per account+Region: the route
    tables of the sides that live there (and their subnets when selection needs them).

    The VPCs' blocks come from the connection, unless ``with_vpcs`` (a VPC's blocks just changed:
    a block still associating is not in the connection yet, and is read from the VPC).
    None only for a side outside the organization (its owner configures it; the plan says so).
    Any error reading a side we manage raises: configuring the other side alone and answering
    "ok" would leave the work half done with nobody to finish it.
    """
    places: dict[tuple[str, str], list[Side]] = {}
    for info in (conn.requester, conn.accepter):
        if is_reachable(aws, directory, info.account, info.region):
            places.setdefault((info.account, info.region), []).append(info)
    networks: dict[str, SideNetwork] = {}
    for (account, region), infos in places.items():
        by_vpc = [{"Name": "vpc-id", "Values": [info.vpc_id for info in infos]}]
        tables = [
            RouteTable.from_api(t)
            for t in paginate(aws, account, region, "describe_route_tables", "RouteTables", Filters=by_vpc)
        ]
        subnets = (
            [Subnet.from_api(s) for s in paginate(aws, account, region, "describe_subnets", "Subnets", Filters=by_vpc)]
            if with_subnets
            else []
        )
        vpcs = describe_vpcs(aws, account, region, [info.vpc_id for info in infos]) if with_vpcs else {}
        for info in infos:
            networks[info.vpc_id] = SideNetwork(
                account=account,
                region=region,
                vpc=vpcs.get(info.vpc_id) or _vpc_of(info),
                route_tables=tuple(t for t in tables if t.vpc_id == info.vpc_id),
                subnets=tuple(s for s in subnets if s.vpc_id == info.vpc_id),
            )
    return networks.get(conn.requester.vpc_id), networks.get(conn.accepter.vpc_id)


def peering_statuses(
    aws: AwsClients, account: str, region: str, connection_ids: Iterable[str]
) -> dict[str, ConnectionStatus | None]:
    """The status EC2 shows of each connection in account/Region (None: it no longer knows it).
    One call for all of them: a filter, since asking by id fails the whole call on an unknown one."""
    wanted = sorted(set(connection_ids))
    by_id = [{"Name": "vpc-peering-connection-id", "Values": wanted}]
    found = paginate(aws, account, region, "describe_vpc_peering_connections", "VpcPeeringConnections", Filters=by_id)
    shown = {str(i["VpcPeeringConnectionId"]): Connection.from_api(i, region).status for i in found}
    return {connection_id: shown.get(connection_id) for connection_id in wanted}


def with_peering_statuses(
    aws: AwsClients,
    sides: tuple[SideNetwork | None, SideNetwork | None],
    wanted: Iterable[tuple[str, str, str]],
) -> tuple[SideNetwork | None, SideNetwork | None]:
    """The sides with the status of the peering connections ``wanted`` ((account, Region, id), as
    ConfigurePlan.unread_peerings lists them) added: one call per account+Region, for both sides."""
    by_place: dict[tuple[str, str], set[str]] = {}
    for account, region, connection_id in wanted:
        by_place.setdefault((account, region), set()).add(connection_id)
    read = {place: peering_statuses(aws, *place, ids) for place, ids in by_place.items()}

    def added(side: SideNetwork | None) -> SideNetwork | None:
        statuses = read.get((side.account, side.region)) if side is not None else None
        if side is None or not statuses:
            return side
        return replace(side, peerings={**side.peerings, **statuses})

    return added(sides[0]), added(sides[1])


def subnets_of(aws: AwsClients, account: str, region: str, vpc_ids: Sequence[str]) -> dict[str, tuple[Subnet, ...]]:
    """The subnets of each of ``vpc_ids`` (all in account/Region; one paginated call), by VPC id:
    what the sweep of another account+Region needs to route to these VPCs' tagged subnets."""
    by_vpc = [{"Name": "vpc-id", "Values": list(vpc_ids)}]
    subnets = [
        Subnet.from_api(s) for s in paginate(aws, account, region, "describe_subnets", "Subnets", Filters=by_vpc)
    ]
    return {vpc_id: tuple(s for s in subnets if s.vpc_id == vpc_id) for vpc_id in vpc_ids}


def observe_leftovers(
    aws: AwsClients, connection_id: str, account: str, region: str, sides: Sequence[tuple[str, str]]
) -> list[SideLeftovers]:
    """What the connection left on the sides (VPC, peer VPC) that live in account/Region: route
    tables with routes to it, and rules referencing the peer. Two calls, however many sides."""
    vpc_ids = [vpc_id for vpc_id, _ in sides]
    by_vpc = {"Name": "vpc-id", "Values": vpc_ids}
    by_target = [{"Name": "route.vpc-peering-connection-id", "Values": [connection_id]}, by_vpc]
    tables = [
        RouteTable.from_api(t)
        for t in paginate(aws, account, region, "describe_route_tables", "RouteTables", Filters=by_target)
    ]
    groups = paginate(aws, account, region, "describe_security_groups", "SecurityGroups", Filters=[by_vpc])
    return [
        SideLeftovers(
            account,
            region,
            vpc_id,
            tuple(t for t in tables if t.vpc_id == vpc_id),
            references_to([g for g in groups if g.get("VpcId") == vpc_id], account, region, connection_id, peer),
        )
        for vpc_id, peer in sides
    ]


@dataclass(frozen=True)
class RegionSnapshot:
    """Everything in one account+Region that the sweep needs, read with paginated describes."""

    account: str
    region: str
    connections: tuple[Connection, ...]
    vpcs: dict[str, Vpc]
    route_tables: tuple[RouteTable, ...]
    subnets: tuple[Subnet, ...] = ()

    def side(self, vpc_id: str) -> SideNetwork | None:
        """A VPC that lives here, with the status of every connection its blackhole routes point
        at: a route can only point at a connection of its own VPC, which this listing holds while
        EC2 shows it (absent: EC2 no longer knows it). No call."""
        vpc = self.vpcs.get(vpc_id)
        if vpc is None:
            return None
        network = SideNetwork(
            account=self.account,
            region=self.region,
            vpc=vpc,
            route_tables=tuple(t for t in self.route_tables if t.vpc_id == vpc_id),
            subnets=tuple(s for s in self.subnets if s.vpc_id == vpc_id),
        )
        blackholes = network.blackhole_peerings()
        if not blackholes:
            return network
        return replace(network, peerings={pcx: self._statuses.get(pcx) for pcx in blackholes})

    @cached_property
    def _statuses(self) -> dict[str, ConnectionStatus]:
        return {c.connection_id: c.status for c in self.connections}

    def local_roles(self, conn: Connection) -> frozenset[str]:
        roles = set()
        if (conn.requester.account, conn.requester.region) == (self.account, self.region):
            roles.add("requester")
        if (conn.accepter.account, conn.accepter.region) == (self.account, self.region):
            roles.add("accepter")
        return frozenset(roles)

    def leftovers(self, conn: Connection, groups: list[dict[str, Any]]) -> list[SideLeftovers]:
        """What a dead connection left on the sides that live here, from the snapshot and ``groups``."""
        out = []
        for role in sorted(self.local_roles(conn)):
            side = conn.requester if role == "requester" else conn.accepter
            peer = conn.accepter if role == "requester" else conn.requester
            tables = tuple(
                t
                for t in self.route_tables
                if t.vpc_id == side.vpc_id and any(r.target_id == conn.connection_id for r in t.routes)
            )
            own_groups = [g for g in groups if g.get("VpcId") == side.vpc_id]
            references = references_to(own_groups, side.account, side.region, conn.connection_id, peer.vpc_id)
            out.append(SideLeftovers(side.account, side.region, side.vpc_id, tables, references))
        return out


def observe_region(aws: AwsClients, account: str, region: str, *, with_subnets: bool) -> RegionSnapshot:
    connections = list_connections(aws, account, region)
    vpcs = [Vpc.from_api(v, account, region) for v in paginate(aws, account, region, "describe_vpcs", "Vpcs")]
    tables = [RouteTable.from_api(t) for t in paginate(aws, account, region, "describe_route_tables", "RouteTables")]
    subnets = (
        [Subnet.from_api(s) for s in paginate(aws, account, region, "describe_subnets", "Subnets")]
        if with_subnets
        else []
    )
    return RegionSnapshot(
        account=account,
        region=region,
        connections=tuple(connections),
        vpcs={v.vpc_id: v for v in vpcs},
        route_tables=tuple(tables),
        subnets=tuple(subnets),
    )


def read_peer_subnets(
    aws: AwsClients,
    directory: OrganizationDirectory,
    snapshot: RegionSnapshot,
    routing: Callable[[Connection], RoutingOptions],
) -> tuple[dict[str, tuple[Subnet, ...]], set[str]]:
    """Destinations by subnet route to the peer's tagged subnets: for peers elsewhere (the snapshot
    holds the local ones), one DescribeSubnets per account+Region they live in, for all of them.
    Peers outside the organization cannot be read: their plan says so. A place that fails to
    answer fails only the connections that need it (the others are converged).

    Returns (subnets by peer VPC id, the peer VPCs that could not be read this time). The sweep
    (sweep/target.py) plans with them and the map (map/publish.py) reads them the same way, so it
    shows what the sweep plans."""
    wanted: dict[tuple[str, str], set[str]] = {}
    for conn in snapshot.connections:
        if conn.status is not ConnectionStatus.ACTIVE:
            continue
        options = routing(conn)
        if options.destinations is not DestinationScope.SUBNETS or options.routes is RouteManagement.NONE:
            continue
        for peer in (conn.requester, conn.accepter):
            place = (peer.account, peer.region)
            if place != (snapshot.account, snapshot.region) and is_reachable(aws, directory, *place):
                wanted.setdefault(place, set()).add(peer.vpc_id)
    subnets: dict[str, tuple[Subnet, ...]] = {}
    unread: set[str] = set()
    for (account, region), vpc_ids in wanted.items():
        try:
            subnets.update(subnets_of(aws, account, region, sorted(vpc_ids)))
        except Exception:  # isolate the place: its connections fail below, the target is retried
            logger.exception("could not read the peers' subnets", extra={"account": account, "region": region})
            unread |= vpc_ids
    return subnets, unread


@dataclass(frozen=True)
class ScopeView:
    """What the scope of connections is decided on (core/scope.py): both VPCs of each (their
    tags), and each connection's tags as its other owner sees them (tags are per account)."""

    vpcs: dict[str, Vpc]
    connection_tags: dict[str, tuple[dict[str, str], ...]]

    def views(self, connection_id: str) -> tuple[dict[str, str], ...]:
        return self.connection_tags.get(connection_id, ())


def read_scope_view(
    aws: AwsClients,
    directory: OrganizationDirectory,
    connections: Sequence[Connection],
    seen_from: tuple[str, str],
    known: dict[str, Vpc] | None = None,
) -> ScopeView:
    """The VPCs and the other owners' view of ``connections`` (listed in ``seen_from``): the
    ``known`` VPCs (a sweep's snapshot) without a call, every other place inside the organization
    read once (DescribeVpcs, and DescribeVpcPeeringConnections where the other owner is not
    ``seen_from``). A place outside the organization cannot be read: it adds nothing."""
    vpcs = dict(known or {})
    wanted_vpcs: dict[tuple[str, str], set[str]] = {}
    wanted_views: dict[tuple[str, str], set[str]] = {}
    for conn in connections:
        for side in (conn.requester, conn.accepter):
            place = (side.account, side.region)
            if not is_reachable(aws, directory, *place):
                continue
            if side.vpc_id not in vpcs:
                wanted_vpcs.setdefault(place, set()).add(side.vpc_id)
            if place != seen_from:
                wanted_views.setdefault(place, set()).add(conn.connection_id)
    for (account, region), vpc_ids in wanted_vpcs.items():
        vpcs.update(describe_vpcs(aws, account, region, sorted(vpc_ids)))
    tags: dict[str, tuple[dict[str, str], ...]] = {}
    for (account, region), ids in wanted_views.items():
        for conn in _connections_by_id(aws, account, region, sorted(ids)):
            tags[conn.connection_id] = (*tags.get(conn.connection_id, ()), conn.tags)
    return ScopeView(vpcs, tags)


def _connections_by_id(aws: AwsClients, account: str, region: str, ids: Sequence[str]) -> list[Connection]:
    """The connections among ``ids`` that account/Region shows: one call (one per id if one is gone)."""
    ec2 = aws.client("ec2", account, region)
    try:
        items = ec2.describe_vpc_peering_connections(VpcPeeringConnectionIds=list(ids))["VpcPeeringConnections"]
    except ClientError as exc:
        if exc.response["Error"]["Code"] not in _NOT_FOUND:
            raise
        found = []
        for connection_id in ids if len(ids) > 1 else ():
            try:
                found.append(find_connection(aws, connection_id, account, region))
            except UnknownConnectionError:
                continue
        return found
    return [Connection.from_api(item, region) for item in items if item["VpcPeeringConnectionId"] in ids]
