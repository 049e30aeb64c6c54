"""A route table's index: built once when the table is observed, it answers as a scan of its routes
would, however the blocks are spelt; and planning parses each block once, not once per table."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from peering.core import network as network_module
from peering.core.models import Vpc
from peering.core.network import Route, RouteTable, SideNetwork, parse_cidr
from peering.core.routing import RoutingOptions, plan_side_routes

PCX = "pcx-0a1b2c3d4e5f60718"

# Blocks that overlap, nest and share addresses, so that tables hold one block under several spellings.
BLOCKS = [
    ipaddress.ip_network(b)
    for b in (
        "10.0.0.0/16",
        "10.0.0.0/24",
        "10.1.0.0/16",
        "10.0.0.0/8",
        "0.0.0.0/0",
        "192.168.7.0/24",
        "192.168.7.128/25",
        "10.0.0.1/32",
        "2600:1f18::/56",
        "2600:1f18:0:100::/56",
        "2600:1f18::/64",
        "::/0",
        "fd00::1/128",
    )
]


@st.composite
def spellings(draw: st.DrawFn) -> str:
    """One of BLOCKS as EC2, a policy or a person may write it: canonical, with host bits set
    (10.0.0.1/16), IPv6 exploded, with zeros kept or upper case."""
    block = draw(st.sampled_from(BLOCKS))
    host = block.network_address + draw(st.integers(0, block.num_addresses - 1))
    address = draw(st.sampled_from([block.network_address, host]))
    if address.version == 6:
        text = draw(st.sampled_from([address.compressed, address.exploded, address.exploded.upper()]))
    else:
        text = str(address)
    return f"{text}/{block.prefixlen}"


TARGETS = st.sampled_from(
    [
        ("vpc-peering-connection", PCX),
        ("vpc-peering-connection", "pcx-0fffffffffffffff0"),
        ("gateway", "igw-1"),
        ("local", "local"),
    ]
)


@st.composite
def tables(draw: st.DrawFn) -> RouteTable:
    routes = []
    for destination in draw(st.lists(spellings(), max_size=12)):
        kind, target = draw(TARGETS)
        routes.append(Route(destination, kind, target, draw(st.sampled_from(["active", "blackhole"]))))
    return RouteTable("rtb-1", "vpc-a", False, (), tuple(routes))


def scanned_route_for(table: RouteTable, destination: str) -> Route | None:
    """The lookup as it was: every route parsed again, the first equal block wins."""
    wanted = ipaddress.ip_network(destination, strict=False)
    for route in table.routes:
        if ipaddress.ip_network(route.destination, strict=False) == wanted:
            return route
    return None


@settings(max_examples=500, deadline=None)
@given(table=tables(), destinations=st.lists(spellings(), min_size=1, max_size=8))
def test_the_index_answers_as_a_scan_of_the_routes(table: RouteTable, destinations: list[str]) -> None:
    for destination in destinations + [r.destination for r in table.routes]:
        assert table.route_for(destination) is scanned_route_for(table, destination)
    for version in (4, 6):
        scanned = sum(
            1
            for r in table.routes
            if ipaddress.ip_network(r.destination, strict=False).version == version and r.target_kind != "local"
        )
        assert table.count(version) == scanned
    for target in {r.target_id for r in table.routes} | {"pcx-unknown"}:
        assert table.routes_to(target) == tuple(r for r in table.routes if r.target_id == target)


def test_a_destination_that_is_no_block_is_refused_as_before() -> None:
    table = RouteTable("rtb-1", "vpc-a", False, (), (Route("10.0.0.0/16", "local", "local"),))
    with pytest.raises(ValueError, match="does not appear to be an IPv4 or IPv6 network"):
        table.route_for("10.0.0.0/33")


def test_the_index_is_no_part_of_a_tables_identity() -> None:
    routes = (Route("10.0.0.0/16", "local", "local"), Route("10.1.0.0/16", "vpc-peering-connection", PCX))
    table = RouteTable("rtb-1", "vpc-a", False, (), routes)
    assert table == RouteTable("rtb-1", "vpc-a", False, (), routes)
    assert hash(table) == hash(RouteTable("rtb-1", "vpc-a", False, (), routes))
    assert "_index" not in repr(table)


def _counting(calls: list[str]) -> Callable[..., Any]:
    original = ipaddress.ip_network

    def ip_network(address: Any, strict: bool = True) -> Any:
        calls.append(str(address))
        return original(address, strict=strict)

    return ip_network


def test_planning_a_200_table_vpc_parses_each_block_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """A VPC of 200 route tables, each routing 19 peers (a member's full mesh of 20 VPCs), planned
    for one more connection: each distinct block is parsed once, not once per table and route."""
    peers = [f"10.{n}.0.0/16" for n in range(1, 20)]
    routes = (
        Route("10.0.0.0/16", "local", "local"),
        *(Route(block, "vpc-peering-connection", f"pcx-{n:017x}") for n, block in enumerate(peers)),
        Route("10.99.0.0/16", "vpc-peering-connection", PCX),  # a block the peer no longer has
    )
    vpc = Vpc("111111111111", "us-east-1", "vpc-a", ("10.0.0.0/16",))
    side = SideNetwork(
        "111111111111",
        "us-east-1",
        vpc,
        tuple(RouteTable(f"rtb-{n}", "vpc-a", n == 0, (), routes) for n in range(200)),
    )
    owned = frozenset((f"rtb-{n}", "10.99.0.0/16") for n in range(200))  # the stale routes are ours
    calls: list[str] = []
    network_module.parse_cidr.cache_clear()
    monkeypatch.setattr(ipaddress, "ip_network", _counting(calls))
    changes, findings, satisfied, *_ = plan_side_routes(PCX, side, ("10.20.0.0/16",), (), RoutingOptions(), owned=owned)
    assert sorted({c.kind for c in changes}) == ["create", "delete"]
    assert len(changes) == 400
    assert findings == []
    assert satisfied == []
    assert len(calls) == len(set(calls)) <= 2  # the peer's block and the stale one, once each
    assert parse_cidr("10.20.0.0/16") == ipaddress.IPv4Network("10.20.0.0/16")
