"""Observation: read connections and VPCs from the EC2 API, in each owner's account and Region.

Per connection (what an event's lifecycle reads), or a whole account+Region at once with
paginated describes (``observe_region``: what the sweep reads).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from botocore.exceptions import ClientError

from peering.aws import AwsClients
from peering.cleanup import GroupReference, SideLeftovers, references_to
from peering.errors import OutsideOrganizationError, UnknownConnectionError
from peering.ledger import Ledger
from peering.models import AcceptObservation, Connection, RequesterIdentity, Vpc
from peering.network import DnsAttributes, RouteTable, SideNetwork, Subnet
from peering.observability import logger
from peering.org import OrganizationDirectory

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


def describe_vpc(aws: AwsClients, account: str, region: str, vpc_id: str) -> Vpc | None:
    ec2 = aws.client("ec2", account, region)
    try:
        vpcs = ec2.describe_vpcs(VpcIds=[vpc_id])["Vpcs"]
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "InvalidVpcID.NotFound":
            return None
        raise
    return Vpc.from_api(vpcs[0], account, region) if vpcs else None


def connections_touching(aws: AwsClients, account: str, region: str, vpc_id: str) -> list[Connection]:
    """Every connection visible in account/Region with ``vpc_id`` on either side (two filtered pages)."""
    paginator = aws.client("ec2", account, region).get_paginator("describe_vpc_peering_connections")
    seen: dict[str, Connection] = {}
    for side in ("requester-vpc-info.vpc-id", "accepter-vpc-info.vpc-id"):
        for page in paginator.paginate(Filters=[{"Name": side, "Values": [vpc_id]}]):
            for item in page["VpcPeeringConnections"]:
                conn = Connection.from_api(item, region)
                seen[conn.connection_id] = conn
    return list(seen.values())


def _reachable(aws: AwsClients, who: RequesterIdentity) -> bool:
    """We can read an account only if it is ours or a member of the organization."""
    return who.account == aws.own_account or who.in_organization


def observe_request(
    aws: AwsClients,
    *,
    connection_id: str,
    account: str,
    region: str,
    directory: OrganizationDirectory,
    ledger: Ledger,
) -> AcceptObservation:
    """Observe a peering request from the accepter's side (where accept/reject must be called)."""
    conn = find_connection(aws, connection_id, account, region)
    accepter = conn.accepter
    if (accepter.account, accepter.region) != (account, region):
        # The hint pointed at the requester's view: the accepter's view is the one that counts.
        if not is_reachable(aws, directory, accepter.account, accepter.region):
            raise OutsideOrganizationError(f"accepter account {accepter.account} is outside the organization")
        logger.info("re-reading the connection on the accepter side", extra={"accepter": accepter.account})
        conn = find_connection(aws, connection_id, accepter.account, accepter.region)
    accepter_vpc = describe_vpc(aws, accepter.account, accepter.region, accepter.vpc_id)
    if accepter_vpc is None:
        raise UnknownConnectionError(f"accepter VPC {accepter.vpc_id} of {connection_id} no longer exists")

    requester = directory.identify(conn.requester.account, conn.requester.region)
    neighbours = {
        c.connection_id: c for c in connections_touching(aws, accepter.account, accepter.region, accepter.vpc_id)
    }
    requester_vpc: Vpc | None = None
    if _reachable(aws, requester):
        # Never decide on a view with holes: an error here (throttling, a 5xx, a missing member
        # role) raises and the request is decided by the retry, with every check.
        requester_vpc = describe_vpc(aws, requester.account, conn.requester.region, conn.requester.vpc_id)
        for c in connections_touching(aws, requester.account, conn.requester.region, conn.requester.vpc_id):
            neighbours.setdefault(c.connection_id, c)
    return AcceptObservation(
        connection=conn,
        accepter_vpc=accepter_vpc,
        requester_vpc=requester_vpc,
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


def observe_side(aws: AwsClients, account: str, region: str, vpc_id: str, *, with_subnets: bool) -> SideNetwork | None:
    """A VPC with its route tables (and subnets when selection needs them): 2-3 filtered calls."""
    vpc = describe_vpc(aws, account, region, vpc_id)
    if vpc is None:
        return None
    by_vpc = [{"Name": "vpc-id", "Values": [vpc_id]}]
    tables = paginate(aws, account, region, "describe_route_tables", "RouteTables", Filters=by_vpc)
    subnets = paginate(aws, account, region, "describe_subnets", "Subnets", Filters=by_vpc) if with_subnets else []
    return SideNetwork(
        account=account,
        region=region,
        vpc=vpc,
        route_tables=tuple(RouteTable.from_api(t) for t in tables),
        subnets=tuple(Subnet.from_api(s) for s in subnets),
    )


def with_dns_attributes(aws: AwsClients, side: SideNetwork) -> SideNetwork:
    """Read enableDnsSupport / enableDnsHostnames (two calls): only done when DNS must change."""
    ec2 = aws.client("ec2", side.account, side.region)
    support = ec2.describe_vpc_attribute(VpcId=side.vpc.vpc_id, Attribute="enableDnsSupport")
    hostnames = ec2.describe_vpc_attribute(VpcId=side.vpc.vpc_id, Attribute="enableDnsHostnames")
    dns = DnsAttributes(
        support=bool(support["EnableDnsSupport"]["Value"]), hostnames=bool(hostnames["EnableDnsHostnames"]["Value"])
    )
    return replace(side, dns=dns)


def is_reachable(aws: AwsClients, directory: OrganizationDirectory, account: str, region: str) -> bool:
    return _reachable(aws, directory.identify(account, region))


def observe_connection_sides(
    aws: AwsClients, conn: Connection, directory: OrganizationDirectory, *, with_subnets: bool
) -> tuple[SideNetwork | None, SideNetwork | None]:
    """Both sides of a connection, each read by its owner.

    None only for a side outside the organization (its owner configures it; the plan says so).
    Any error reading a side we manage raises: configuring the other side alone and answering
    "ok" would leave the work half done with nobody to finish it.
    """
    sides: list[SideNetwork | None] = []
    for info in (conn.requester, conn.accepter):
        if not is_reachable(aws, directory, info.account, info.region):
            sides.append(None)
            continue
        sides.append(observe_side(aws, info.account, info.region, info.vpc_id, with_subnets=with_subnets))
    return sides[0], sides[1]


def observe_leftovers(
    aws: AwsClients, connection_id: str, account: str, region: str, *, vpc_id: str | None, peer_vpc_id: str | None
) -> SideLeftovers:
    """Route tables with routes to the connection, and rules referencing the peer: two calls."""
    by_target = [{"Name": "route.vpc-peering-connection-id", "Values": [connection_id]}]
    if vpc_id is not None:
        # Same account and Region: both sides share the listing; each side takes its own VPC's.
        by_target.append({"Name": "vpc-id", "Values": [vpc_id]})
    tables = [
        RouteTable.from_api(t)
        for t in paginate(aws, account, region, "describe_route_tables", "RouteTables", Filters=by_target)
    ]
    references: tuple[GroupReference, ...] = ()
    if vpc_id is not None:
        groups = paginate(
            aws,
            account,
            region,
            "describe_security_groups",
            "SecurityGroups",
            Filters=[{"Name": "vpc-id", "Values": [vpc_id]}],
        )
        references = references_to(groups, account, region, connection_id, peer_vpc_id)
    return SideLeftovers(account, region, vpc_id or "", tuple(tables), references)


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
        vpc = self.vpcs.get(vpc_id)
        if vpc is None:
            return None
        return SideNetwork(
            account=self.account,
            region=self.region,
            vpc=vpc,
            route_tables=tuple(t for t in self.route_tables if t.vpc_id == vpc_id),
            subnets=tuple(s for s in self.subnets if s.vpc_id == vpc_id),
        )

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
    connections = [
        Connection.from_api(c, region)
        for c in paginate(aws, account, region, "describe_vpc_peering_connections", "VpcPeeringConnections")
    ]
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
