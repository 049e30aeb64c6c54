"""Typed models of a VPC's routing as its owner sees it: route tables, routes, subnets, DNS."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from peering.core.models import ConnectionStatus, Vpc

#: the target kind of a route to a VPC peering connection: the only kind peering may ever replace
PEERING_TARGET = "vpc-peering-connection"

_TARGET_KEYS = (
    ("VpcPeeringConnectionId", PEERING_TARGET),
    ("TransitGatewayId", "transit-gateway"),
    ("NatGatewayId", "nat-gateway"),
    ("NetworkInterfaceId", "network-interface"),
    ("InstanceId", "instance"),
    ("EgressOnlyInternetGatewayId", "egress-only-internet-gateway"),
    ("CarrierGatewayId", "carrier-gateway"),
    ("LocalGatewayId", "local-gateway"),
    ("CoreNetworkArn", "core-network"),
    ("OdbNetworkArn", "odb-network"),
    ("GatewayId", "gateway"),
)


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=8192)  # about 3 MiB when full; a Region's blocks are far fewer
def parse_cidr(cidr: str) -> Network:
    """A CIDR block as a network (host bits dropped: 10.0.0.1/16 is 10.0.0.0/16), parsed once per
    spelling: planning compares the same few blocks across every table of a VPC. Raises ValueError
    for what is not a block (not cached)."""
    return ipaddress.ip_network(cidr, strict=False)


def ip_version(cidr: str) -> int:
    return parse_cidr(cidr).version


@dataclass(frozen=True)
class Route:
    destination: str  # IPv4 or IPv6 CIDR
    target_kind: str
    target_id: str
    #: "blackhole" when the target is unavailable: a dead or pending peering connection, but also a
    #: deleted NAT gateway, network interface or transit gateway attachment, a stopped instance...
    state: str = "active"

    @property
    def version(self) -> int:
        return ip_version(self.destination)

    @property
    def is_blackhole(self) -> bool:
        return self.state == "blackhole"

    @classmethod
    def from_api(cls, item: dict[str, Any]) -> Route | None:
        destination = item.get("DestinationCidrBlock") or item.get("DestinationIpv6CidrBlock")
        if not destination:
            return None  # prefix-list routes are not ours to manage
        for key, kind in _TARGET_KEYS:
            if item.get(key):
                return cls(destination, kind, str(item[key]), str(item.get("State", "active")))
        return cls(destination, "unknown", "", str(item.get("State", "active")))


@dataclass(frozen=True)
class RouteTable:
    route_table_id: str
    vpc_id: str
    is_main: bool
    subnet_ids: tuple[str, ...]
    routes: tuple[Route, ...]
    tags: dict[str, str] = field(default_factory=dict, hash=False, compare=False)
    #: the routes indexed once, when the table is observed: by destination network (the first
    #: route of each, as a scan in order finds it), by target, and counted per IP version
    _index: _RouteIndex = field(init=False, repr=False, hash=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_index", _RouteIndex.of(self.routes))

    def route_for(self, destination: str) -> Route | None:
        """The route for ``destination``, however either is spelt (10.0.0.1/16 and 10.0.0.0/16,
        2600:1f18:0000::/56 and 2600:1f18::/56 are one destination)."""
        return self._index.by_network.get(parse_cidr(destination))

    def routes_to(self, target_id: str) -> tuple[Route, ...]:
        """The routes whose target is ``target_id``, in the table's order."""
        return self._index.by_target.get(target_id, ())

    def count(self, version: int) -> int:
        """Routes counted against the quota (IPv4 and IPv6 are counted separately)."""
        return self._index.counted.get(version, 0)

    @classmethod
    def from_api(cls, item: dict[str, Any]) -> RouteTable:
        associations = item.get("Associations", [])
        routes = []
        for raw in item.get("Routes", []):
            route = Route.from_api(raw)
            if route is not None:
                if route.target_id == "local":
                    route = Route(route.destination, "local", "local", route.state)
                routes.append(route)
        return cls(
            route_table_id=str(item["RouteTableId"]),
            vpc_id=str(item["VpcId"]),
            is_main=any(a.get("Main") for a in associations),
            subnet_ids=tuple(str(a["SubnetId"]) for a in associations if a.get("SubnetId")),
            routes=tuple(routes),
            tags={t["Key"]: t.get("Value", "") for t in item.get("Tags", [])},
        )


@dataclass(frozen=True)
class _RouteIndex:
    by_network: Mapping[Network, Route]
    by_target: Mapping[str, tuple[Route, ...]]
    counted: Mapping[int, int]  # routes counted against the quota, per IP version

    @classmethod
    def of(cls, routes: tuple[Route, ...]) -> _RouteIndex:
        by_network: dict[Network, Route] = {}
        by_target: dict[str, list[Route]] = {}
        counted: dict[int, int] = {}
        for route in routes:
            by_target.setdefault(route.target_id, []).append(route)
            try:
                network = parse_cidr(route.destination)
            except ValueError:
                continue  # EC2 answers only blocks: a destination that is none matches no block
            by_network.setdefault(network, route)
            if route.target_kind != "local":
                counted[network.version] = counted.get(network.version, 0) + 1
        return cls(by_network, {t: tuple(found) for t, found in by_target.items()}, counted)


# An IPv6 block being associated will carry traffic in a moment (as for a VPC's blocks).
_IPV6_IN_USE = frozenset({"associated", "associating"})


@dataclass(frozen=True)
class Subnet:
    subnet_id: str
    vpc_id: str
    tags: dict[str, str] = field(default_factory=dict, hash=False, compare=False)
    cidr_block: str | None = None  # None for an IPv6-only subnet
    ipv6_cidr_blocks: tuple[str, ...] = ()

    @classmethod
    def from_api(cls, item: dict[str, Any]) -> Subnet:
        return cls(
            subnet_id=str(item["SubnetId"]),
            vpc_id=str(item["VpcId"]),
            tags={t["Key"]: t.get("Value", "") for t in item.get("Tags", [])},
            cidr_block=str(item["CidrBlock"]) if item.get("CidrBlock") else None,
            ipv6_cidr_blocks=tuple(
                str(a["Ipv6CidrBlock"])
                for a in item.get("Ipv6CidrBlockAssociationSet", [])
                if a.get("Ipv6CidrBlock") and (a.get("Ipv6CidrBlockState") or {}).get("State") in _IPV6_IN_USE
            ),
        )


@dataclass(frozen=True)
class DnsAttributes:
    support: bool
    hostnames: bool

    @property
    def ready(self) -> bool:
        return self.support and self.hostnames


@dataclass(frozen=True)
class SideNetwork:
    """One side of a connection as its owner sees it (read in the owner's account and Region)."""

    account: str
    region: str
    vpc: Vpc
    route_tables: tuple[RouteTable, ...]
    subnets: tuple[Subnet, ...] = ()
    dns: DnsAttributes | None = None  # read only when a DNS change is planned
    #: the status EC2 shows of the other peering connections that blackhole routes here point at,
    #: by id (None: EC2 no longer knows it). Read only for routes standing where a route is
    #: planned; an id missing here was not read (routing leaves its route alone and says so).
    peerings: Mapping[str, ConnectionStatus | None] = field(default_factory=dict, hash=False, compare=False)

    def blackhole_peerings(self) -> frozenset[str]:
        """The peering connections that blackhole routes of this VPC's tables point at."""
        return frozenset(
            r.target_id
            for t in self.route_tables
            for r in t.routes
            if r.target_kind == PEERING_TARGET and r.is_blackhole
        )
