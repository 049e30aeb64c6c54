"""The pure route and DNS planner: selection, never clobbering, removals, DNS per side."""

from __future__ import annotations

import ipaddress
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from peering.core.cleanup_plan import CleanupOptions, SideLeftovers, plan_cleanup
from peering.core.models import Connection, ConnectionStatus, Side, Vpc
from peering.core.network import DnsAttributes, Route, RouteTable, SideNetwork, Subnet
from peering.core.routing import (
    ConfigurePlan,
    DestinationScope,
    RouteManagement,
    RoutingOptions,
    TableSelection,
    desired_destinations,
    plan_configuration,
    plan_side_routes,
    route_ref,
    select_tables,
)

PCX = "pcx-0a1b2c3d4e5f60718"
OTHER = "pcx-0fffffffffffffff0"


def table(rtb: str, *routes: Route, main: bool = False, subnets: tuple[str, ...] = (), **tags: str) -> RouteTable:
    local = Route("10.0.0.0/16", "local", "local")
    return RouteTable(rtb, "vpc-a", main, subnets, (local, *routes), dict(tags))


def side(
    *tables: RouteTable,
    subnets: tuple[Subnet, ...] = (),
    dns: DnsAttributes | None = None,
    peerings: dict[str, ConnectionStatus | None] | None = None,
) -> SideNetwork:
    vpc = Vpc("111111111111", "us-east-1", "vpc-a", ("10.0.0.0/16",))
    return SideNetwork("111111111111", "us-east-1", vpc, tables, subnets, dns, peerings or {})


def peer_side() -> SideNetwork:
    vpc = Vpc("111111111111", "us-east-1", "vpc-b", ("10.1.0.0/16", "10.2.0.0/16"))
    return SideNetwork("111111111111", "us-east-1", vpc, ())


def connection(
    requester_dns: bool = False, accepter_dns: bool = False, *, cross_account: bool = False, inter_region: bool = False
) -> Connection:
    return Connection(
        PCX,
        ConnectionStatus.ACTIVE,
        "Active",
        Side("111111111111", "us-east-1", "vpc-a", ("10.0.0.0/16",), (), requester_dns),
        Side(
            "222222222222" if cross_account else "111111111111",
            "eu-west-1" if inter_region else "us-east-1",
            "vpc-b",
            ("10.1.0.0/16", "10.2.0.0/16"),
            ("2600:1f18::/56",),
            accepter_dns,
        ),
    )


def test_every_peer_block_goes_to_every_table_by_default() -> None:
    changes, findings, ok, *_ = plan_side_routes(
        PCX, side(table("rtb-1", main=True), table("rtb-2")), ("10.1.0.0/16", "10.2.0.0/16"), (), RoutingOptions()
    )
    assert {(c.kind, c.route_table_id, c.destination) for c in changes} == {
        ("create", "rtb-1", "10.1.0.0/16"),
        ("create", "rtb-1", "10.2.0.0/16"),
        ("create", "rtb-2", "10.1.0.0/16"),
        ("create", "rtb-2", "10.2.0.0/16"),
    }
    assert findings == []
    assert ok == []


def test_ipv6_only_when_asked_and_exclusions_apply() -> None:
    v4, v6 = ("10.1.0.0/16", "10.2.0.0/16"), ("2600:1f18::/56",)
    assert desired_destinations(v4, v6, RoutingOptions()) == v4
    assert desired_destinations(v4, v6, RoutingOptions(ipv6=True)) == (*v4, "2600:1f18::/56")
    assert desired_destinations(v4, v6, RoutingOptions(exclude=("10.2.0.0/20",))) == ("10.1.0.0/16",)


def test_existing_route_to_this_connection_is_success() -> None:
    existing = table("rtb-1", Route("10.1.0.0/16", "vpc-peering-connection", PCX))
    changes, findings, ok, *_ = plan_side_routes(PCX, side(existing), ("10.1.0.0/16",), (), RoutingOptions())
    assert changes == []
    assert findings == []
    assert ok == ["rtb-1:10.1.0.0/16"]


def test_blackhole_route_is_replaced_live_route_is_a_conflict() -> None:
    dead = table("rtb-1", Route("10.1.0.0/16", "vpc-peering-connection", OTHER, "blackhole"))
    live = table("rtb-2", Route("10.1.0.0/16", "gateway", "igw-1"))
    network = side(dead, live, peerings={OTHER: ConnectionStatus.DELETED})
    changes, findings, *_ = plan_side_routes(PCX, network, ("10.1.0.0/16",), (), RoutingOptions())
    assert [(c.kind, c.route_table_id, c.previous_target) for c in changes] == [("replace", "rtb-1", OTHER)]
    assert [(f.kind, f.key) for f in findings] == [("route-conflict", "conflict:rtb-2:10.1.0.0/16:igw-1")]
    assert "igw-1" in findings[0].message


#: (target kind, target id, status EC2 shows of that peering connection) of a blackhole route
#: standing where a route to PCX is planned, and whether the planner may replace it
BLACKHOLES = [
    ("transit-gateway", "tgw-0123456789abcdef0", None, False),
    ("nat-gateway", "nat-0123456789abcdef0", None, False),
    ("instance", "i-0123456789abcdef0", None, False),
    ("network-interface", "eni-0123456789abcdef0", None, False),
    ("gateway", "igw-0123456789abcdef0", None, False),  # internet gateway
    ("gateway", "vgw-0123456789abcdef0", None, False),  # virtual private gateway
    ("gateway", "vpce-0123456789abcdef0", None, False),  # gateway / Gateway Load Balancer endpoint
    ("egress-only-internet-gateway", "eigw-0123456789abcdef0", None, False),
    ("carrier-gateway", "cagw-0123456789abcdef0", None, False),
    ("local-gateway", "lgw-0123456789abcdef0", None, False),
    ("core-network", "arn:aws:networkmanager::111111111111:core-network/core-network-0123", None, False),
    ("odb-network", "arn:aws:odb:us-east-1:111111111111:odb-network/odb-0123", None, False),
    ("unknown", "", None, False),  # a target kind this code does not know yet
    ("vpc-peering-connection", OTHER, ConnectionStatus.DELETED, True),
    ("vpc-peering-connection", OTHER, ConnectionStatus.REJECTED, True),
    ("vpc-peering-connection", OTHER, ConnectionStatus.EXPIRED, True),
    ("vpc-peering-connection", OTHER, ConnectionStatus.FAILED, True),
    ("vpc-peering-connection", OTHER, None, True),  # EC2 no longer knows it
    ("vpc-peering-connection", OTHER, ConnectionStatus.PENDING_ACCEPTANCE, False),
    ("vpc-peering-connection", OTHER, ConnectionStatus.PROVISIONING, False),
    ("vpc-peering-connection", OTHER, ConnectionStatus.ACTIVE, False),
]


@pytest.mark.parametrize(
    ("kind", "target", "status", "replaced"),
    BLACKHOLES,
    ids=[f"{k}-{t[:4]}-{s.value if s else 'gone'}" for k, t, s, _ in BLACKHOLES],
)
def test_only_a_blackhole_to_a_dead_peering_connection_is_replaced(
    kind: str, target: str, status: ConnectionStatus | None, replaced: bool
) -> None:
    """Given a blackhole route for the peer's block (someone's NAT gateway being replaced, a
    stopped instance, a peering connection waiting for acceptance...), when routes are planned,
    then only a route to a peering connection EC2 shows dead or no longer knows is replaced;
    every other is a conflict, reported once and left alone."""
    blackhole = table("rtb-1", Route("10.1.0.0/16", kind, target, "blackhole"))
    known = {OTHER: status} if kind == "vpc-peering-connection" else {}
    network = side(blackhole, peerings=known)

    changes, findings, ok, unread, _ = plan_side_routes(PCX, network, ("10.1.0.0/16",), (), RoutingOptions())

    assert ok == []
    assert unread == []
    if replaced:
        assert [(c.kind, c.previous_target) for c in changes] == [("replace", target)]
        assert findings == []
    else:
        assert changes == []
        assert [(f.kind, f.key) for f in findings] == [("route-conflict", f"conflict:rtb-1:10.1.0.0/16:{target}")]
        assert "blackhole" in findings[0].message


def test_a_blackhole_to_a_peering_connection_not_read_is_left_alone_and_asked_for() -> None:
    """Given a blackhole route to another connection whose status the sides do not hold, the plan
    leaves it alone and names the connection to read (the engine reads it and plans again)."""
    blackhole = table("rtb-1", Route("10.1.0.0/16", "vpc-peering-connection", OTHER, "blackhole"))
    other = table("rtb-2", Route("10.2.0.0/16", "vpc-peering-connection", OTHER, "blackhole"))

    plan = plan_configuration(connection(), side(blackhole, other), None, RoutingOptions(), frozenset({"requester"}))

    assert [c.kind for c in plan.route_changes] == ["create", "create"]  # the other table's block only
    assert [f.kind for f in plan.findings] == ["route-conflict", "route-conflict"]
    assert plan.unread_peerings == (("111111111111", "us-east-1", OTHER),)  # once, however many routes
    known = side(blackhole, other, peerings={OTHER: ConnectionStatus.DELETED})
    again = plan_configuration(connection(), known, None, RoutingOptions(), frozenset({"requester"}))
    replaced = [(c.route_table_id, c.destination) for c in again.route_changes if c.kind == "replace"]
    assert replaced == [("rtb-1", "10.1.0.0/16"), ("rtb-2", "10.2.0.0/16")]
    assert again.findings == ()
    assert again.unread_peerings == ()


def test_full_table_is_reported_and_counts_per_ip_version() -> None:
    full = table("rtb-1", Route("0.0.0.0/0", "gateway", "igw-1"))
    changes, findings, *_ = plan_side_routes(
        PCX,
        side(full, table("rtb-2")),
        ("10.1.0.0/16",),
        ("2600:1f18::/56",),
        RoutingOptions(ipv6=True, routes_per_table=1),
    )
    # rtb-1 has one IPv4 route (full for IPv4) but room for IPv6; rtb-2 takes the first of each
    assert {(c.route_table_id, c.destination) for c in changes} == {
        ("rtb-1", "2600:1f18::/56"),
        ("rtb-2", "10.1.0.0/16"),
        ("rtb-2", "2600:1f18::/56"),
    }
    assert [f.kind for f in findings] == ["route-quota-full"]


def test_planned_routes_count_against_the_quota() -> None:
    changes, findings, *_ = plan_side_routes(
        PCX, side(table("rtb-1")), ("10.1.0.0/16", "10.2.0.0/16"), (), RoutingOptions(routes_per_table=1)
    )
    assert [c.destination for c in changes] == ["10.1.0.0/16"]
    assert [f.key for f in findings] == ["quota:rtb-1:10.2.0.0/16"]


def test_routes_for_blocks_the_peer_no_longer_has_are_removed_only_if_ours() -> None:
    tables = table(
        "rtb-1",
        Route("10.1.0.0/16", "vpc-peering-connection", PCX),
        Route("10.9.0.0/16", "vpc-peering-connection", PCX),  # block gone, installed by us: remove
        Route("10.1.1.0/24", "vpc-peering-connection", PCX),  # made by hand (Terraform): foreign, kept
        Route("10.8.0.0/16", "vpc-peering-connection", OTHER),  # another connection's: keep
    )
    owned = frozenset({route_ref("rtb-1", "10.1.0.0/16"), route_ref("rtb-1", "10.9.0.0/16")})

    changes, findings, *_, unread = plan_side_routes(
        PCX, side(tables), ("10.1.0.0/16",), (), RoutingOptions(), owned=owned
    )

    assert [(c.kind, c.destination) for c in changes] == [("delete", "10.9.0.0/16")]
    assert [(f.kind, f.key) for f in findings] == [("foreign-route", f"foreign:rtb-1:10.1.1.0/24:{PCX}")]
    assert "did not install" in findings[0].message
    assert unread is False


def test_without_its_route_records_a_plan_removes_nothing_and_asks_for_them() -> None:
    stale = table("rtb-1", Route("10.9.0.0/16", "vpc-peering-connection", PCX))
    in_place = table("rtb-1", Route("10.1.0.0/16", "vpc-peering-connection", PCX))

    changes, findings, _, _, unread = plan_side_routes(PCX, side(stale), ("10.1.0.0/16",), (), RoutingOptions())
    steady = plan_side_routes(PCX, side(in_place), ("10.1.0.0/16",), (), RoutingOptions())

    assert [(c.kind, c.destination) for c in changes] == [("create", "10.1.0.0/16")]  # nothing removed
    assert (findings, unread) == ([], True)
    assert steady == ([], [], ["rtb-1:10.1.0.0/16"], [], False)  # nothing to remove: no ledger read


def test_a_foreign_route_the_routing_wants_is_taken_over_only_when_the_policy_says() -> None:
    tables = table("rtb-1", Route("10.1.0.0/16", "vpc-peering-connection", PCX))  # made by hand
    conn_side = side(tables)
    peer = ("10.1.0.0/16",)
    taking = RoutingOptions(take_over_foreign_routes=True)

    left, left_findings, *_ = plan_side_routes(PCX, conn_side, peer, (), RoutingOptions(), owned=frozenset())
    unread = plan_side_routes(PCX, conn_side, peer, (), taking)[-1]
    taken, *_ = plan_side_routes(PCX, conn_side, peer, (), taking, owned=frozenset())
    already, *_ = plan_side_routes(
        PCX, conn_side, peer, (), taking, owned=frozenset({route_ref("rtb-1", "10.1.0.0/16")})
    )

    assert (left, left_findings) == ([], [])  # it does what the routing wants: nothing to say
    assert unread is True
    assert [(c.kind, c.route_table_id, c.destination) for c in taken] == [("take-over", "rtb-1", "10.1.0.0/16")]
    assert "take over route 10.1.0.0/16" in taken[0].describe()
    assert already == []


def test_taking_over_never_removes_a_foreign_route_the_routing_does_not_want() -> None:
    tables = table(
        "rtb-1",
        Route("10.1.0.0/16", "vpc-peering-connection", PCX),
        Route("10.1.1.0/24", "vpc-peering-connection", PCX),  # narrower, made by hand
    )
    options = RoutingOptions(take_over_foreign_routes=True)

    changes, findings, *_ = plan_side_routes(PCX, side(tables), ("10.1.0.0/16",), (), options, owned=frozenset())

    assert [(c.kind, c.destination) for c in changes] == [("take-over", "10.1.0.0/16")]
    assert [f.key for f in findings] == [f"foreign:rtb-1:10.1.1.0/24:{PCX}"]


def test_ownership_compares_blocks_not_spelling() -> None:
    spelled = table("rtb-1", Route("2600:1f18:0000::/56", "vpc-peering-connection", PCX))

    changes, *_ = plan_side_routes(
        PCX, side(spelled), (), (), RoutingOptions(ipv6=True), owned=frozenset({route_ref("rtb-1", "2600:1f18::/56")})
    )

    assert [(c.kind, c.destination) for c in changes] == [("delete", "2600:1f18:0000::/56")]


def test_removal_compares_blocks_not_spelling() -> None:
    spelled = table("rtb-1", Route("2600:1f18:0000::/56", "vpc-peering-connection", PCX))
    changes, *_ = plan_side_routes(PCX, side(spelled), (), ("2600:1f18::/56",), RoutingOptions(ipv6=True))
    assert changes == []


def test_table_selection_by_tag_and_by_subnet_with_main_fallback() -> None:
    main = table("rtb-main", main=True)
    tagged = table("rtb-tagged", peering="yes")
    own = table("rtb-own", subnets=("subnet-1",))
    untagged_own = table("rtb-untagged", subnets=("subnet-3",))
    subnets = (
        Subnet("subnet-1", "vpc-a", {"tier": "app"}),
        Subnet("subnet-2", "vpc-a", {"tier": "app"}),  # no table of its own -> main
        Subnet("subnet-3", "vpc-a", {}),
    )
    network = side(main, tagged, own, untagged_own, subnets=subnets)
    by_tag = select_tables(network, RoutingOptions(selection=TableSelection.TAGGED, tag_key="peering", tag_value="yes"))
    by_subnet = select_tables(network, RoutingOptions(selection=TableSelection.SUBNETS, tag_key="tier"))
    assert [t.route_table_id for t in by_tag] == ["rtb-tagged"]
    assert sorted(t.route_table_id for t in by_subnet) == ["rtb-main", "rtb-own"]
    assert (
        select_tables(network, RoutingOptions(selection=TableSelection.TAGGED, tag_key="peering", tag_value="no")) == ()
    )


def test_dns_same_account_and_region_is_one_call() -> None:
    plan = plan_configuration(connection(), side(), side(), RoutingOptions())
    assert [(d.account, d.requester, d.accepter) for d in plan.dns_changes] == [("111111111111", True, True)]


def test_dns_cross_account_is_one_call_per_owner_in_its_region() -> None:
    plan = plan_configuration(connection(cross_account=True, inter_region=True), side(), side(), RoutingOptions())
    assert [(d.account, d.region, d.requester, d.accepter) for d in plan.dns_changes] == [
        ("111111111111", "us-east-1", True, None),
        ("222222222222", "eu-west-1", None, True),
    ]


def test_dns_already_set_is_left_alone_and_can_be_turned_off() -> None:
    assert plan_configuration(connection(True, True), side(), side(), RoutingOptions()).dns_changes == ()
    off = plan_configuration(connection(True, False), side(), side(), RoutingOptions(dns_resolution=False))
    assert [(d.requester, d.accepter) for d in off.dns_changes] == [(False, None)]


def test_dns_prerequisite_missing_is_a_finding_not_a_change() -> None:
    not_ready = side(dns=DnsAttributes(support=True, hostnames=False))
    plan = plan_configuration(connection(), not_ready, side(dns=DnsAttributes(True, True)), RoutingOptions())
    assert plan.dns_changes == ()
    assert {f.kind for f in plan.findings} == {"dns-prerequisite"}
    assert "vpc-a" in plan.findings[0].message


def test_unreachable_side_is_reported_and_scope_limits_the_plan() -> None:
    plan = plan_configuration(connection(cross_account=True), side(table("rtb-1")), None, RoutingOptions())
    assert [f.kind for f in plan.findings] == ["side-unmanaged"]
    scoped = plan_configuration(
        connection(cross_account=True), side(table("rtb-1")), None, RoutingOptions(), scope=frozenset({"requester"})
    )
    assert scoped.findings == ()
    assert {c.destination for c in scoped.route_changes} == {"10.1.0.0/16", "10.2.0.0/16"}


def test_render_lists_every_change_and_finding() -> None:
    plan = plan_configuration(
        connection(), side(table("rtb-1", Route("10.1.0.0/16", "gateway", "igw-1"))), peer_side(), RoutingOptions()
    )
    text = plan.render()
    assert "create route 10.2.0.0/16" in text
    assert "! route-conflict" in text
    assert "set AllowDnsResolutionFromRemoteVpc requester=True, accepter=True" in text
    assert "(nothing to change)" in ConfigurePlan(PCX).render()


# --- properties -------------------------------------------------------------------------------

TARGETS = st.sampled_from(
    [("vpc-peering-connection", PCX), ("vpc-peering-connection", OTHER), ("gateway", "igw-1"), ("nat-gateway", "nat-1")]
)
DEAD_OR_GONE = {None, *(s for s in ConnectionStatus if s.is_dead)}
BLOCKS = st.sampled_from([f"10.{n}.0.0/16" for n in range(1, 9)])


@st.composite
def route_tables(draw: st.DrawFn) -> tuple[RouteTable, ...]:
    tables = []
    for n in range(draw(st.integers(1, 3))):
        routes = {}
        for destination in draw(st.lists(BLOCKS, max_size=5, unique=True)):
            kind, target = draw(TARGETS)
            routes[destination] = Route(destination, kind, target, draw(st.sampled_from(["active", "blackhole"])))
        tables.append(table(f"rtb-{n}", *routes.values(), main=n == 0))
    return tuple(tables)


@settings(max_examples=200, deadline=None)
@given(
    tables=route_tables(),
    peer=st.lists(BLOCKS, min_size=1, max_size=4, unique=True),
    quota=st.integers(1, 10),
    other_status=st.sampled_from([None, *ConnectionStatus]),
)
def test_never_clobbers_a_live_route_and_never_deletes_another_target(
    tables: tuple[RouteTable, ...], peer: list[str], quota: int, other_status: ConnectionStatus | None
) -> None:
    network = side(*tables, peerings={OTHER: other_status})
    changes, findings, *_ = plan_side_routes(PCX, network, tuple(peer), (), RoutingOptions(routes_per_table=quota))
    by_id = {t.route_table_id: t for t in tables}
    for change in changes:
        existing = by_id[change.route_table_id].route_for(change.destination)
        if change.kind == "create":
            assert existing is None
        elif change.kind == "replace":
            assert existing is not None
            assert existing.is_blackhole
            assert existing.target_id == OTHER  # a dead connection's, never a gateway's or a NAT's
            assert other_status is None or other_status.is_dead
        else:
            assert existing is not None
            assert existing.target_id == PCX
            assert ipaddress.ip_network(change.destination) not in {ipaddress.ip_network(p) for p in peer}
    conflicts = {f.key for f in findings if f.kind == "route-conflict"}
    for t in tables:
        for destination in peer:
            route = t.route_for(destination)
            replaceable = route is not None and route.target_id == OTHER and route.is_blackhole
            if route is not None and route.target_id != PCX and not (replaceable and other_status in DEAD_OR_GONE):
                assert f"conflict:{t.route_table_id}:{destination}:{route.target_id}" in conflicts


@settings(max_examples=200, deadline=None)
@given(tables=route_tables(), peer=st.lists(BLOCKS, min_size=1, max_size=4, unique=True))
def test_applying_the_plan_then_planning_again_changes_nothing(tables: tuple[RouteTable, ...], peer: list[str]) -> None:
    """Idempotence: after the planned changes, a second plan is empty (quota large enough)."""
    options = RoutingOptions(routes_per_table=1000)
    ours = frozenset(route_ref(t.route_table_id, r.destination) for t in tables for r in t.routes if r.target_id == PCX)
    changes, *_ = plan_side_routes(PCX, side(*tables), tuple(peer), (), options, owned=ours)
    applied = []
    for t in tables:
        routes = {r.destination: r for r in t.routes}
        for c in changes:
            if c.route_table_id != t.route_table_id:
                continue
            if c.kind == "delete":
                routes.pop(c.destination)
            else:
                routes[c.destination] = Route(c.destination, "vpc-peering-connection", PCX)
        applied.append(RouteTable(t.route_table_id, t.vpc_id, t.is_main, t.subnet_ids, tuple(routes.values())))
    again, *_ = plan_side_routes(PCX, side(*applied), tuple(peer), (), options, owned=ours)
    assert again == []


@settings(max_examples=300, deadline=None)
@given(
    tables=route_tables(),
    peer=st.lists(BLOCKS, min_size=1, max_size=4, unique=True),
    data=st.data(),
    take_over=st.booleans(),
    read=st.booleans(),
)
def test_no_plan_ever_removes_a_route_outside_the_owned_set(
    tables: tuple[RouteTable, ...], peer: list[str], data: st.DataObject, take_over: bool, read: bool
) -> None:
    """Whatever the tables, the peer's blocks and the records: configure and cleanup remove only
    recorded routes, take over only unrecorded ones, and report every unrecorded route they would
    otherwise have removed; without the records they remove nothing and ask for them."""
    to_pcx = sorted(
        {route_ref(t.route_table_id, r.destination) for t in tables for r in t.routes if r.target_id == PCX}
    )
    recorded = data.draw(st.lists(st.sampled_from(to_pcx), unique=True)) if to_pcx else []
    stray = data.draw(st.lists(st.tuples(st.sampled_from(["rtb-0", "rtb-9"]), BLOCKS), max_size=2))  # gone since
    owned = frozenset(recorded) | frozenset(route_ref(t, d) for t, d in stray)
    options = RoutingOptions(routes_per_table=1000, take_over_foreign_routes=take_over)
    peer_nets = {ipaddress.ip_network(p) for p in peer}

    changes, findings, _, _, unread = plan_side_routes(
        PCX, side(*tables), tuple(peer), (), options, owned=owned if read else None
    )
    cleanup = plan_cleanup(
        PCX,
        "deleted",
        [SideLeftovers("111111111111", "us-east-1", "vpc-a", tables, ())],
        options=CleanupOptions(),
        previous=None,
        records=tuple(("111111111111", "us-east-1", t, d) for t, d in owned) if read else (),
    )

    by_id = {t.route_table_id: t for t in tables}
    for change in [*changes, *cleanup.route_deletions]:
        ref = route_ref(change.route_table_id, change.destination)
        if change.kind == "delete":
            assert read
            assert ref in owned
        elif change.kind == "take-over":
            assert read
            assert take_over
            assert ref not in owned
            existing = by_id[change.route_table_id].route_for(change.destination)
            assert existing is not None
            assert existing.target_id == PCX
    foreign = {f.key for f in findings if f.kind == "foreign-route"}
    stale_theirs = {
        f"foreign:{t.route_table_id}:{r.destination}:{PCX}"
        for t in tables
        for r in t.routes
        if r.target_id == PCX
        and ipaddress.ip_network(r.destination) not in peer_nets
        and route_ref(t.route_table_id, r.destination) not in owned
    }
    assert foreign == (stale_theirs if read else set())
    stale = any(
        r.target_id == PCX and ipaddress.ip_network(r.destination) not in peer_nets for t in tables for r in t.routes
    )
    in_place = any((route := t.route_for(p)) is not None and route.target_id == PCX for t in tables for p in peer)
    assert unread == (not read and (stale or (take_over and in_place)))


# --- destinations by subnet, unmanaged routes, whose routing -------------------------------------

SHARED = {"share": "yes"}
BY_SUBNET = RoutingOptions(
    destinations=DestinationScope.SUBNETS, destination_tag_key="share", destination_tag_value="yes", source="rule 'x'"
)


def network(vpc_id: str, blocks: tuple[str, ...], *tables: RouteTable, subnets: tuple[Subnet, ...] = ()) -> SideNetwork:
    vpc = Vpc("111111111111", "us-east-1", vpc_id, blocks)
    return SideNetwork("111111111111", "us-east-1", vpc, tables, subnets)


def requester_side(*routes: Route, subnets: tuple[Subnet, ...] = ()) -> SideNetwork:
    return network("vpc-a", ("10.0.0.0/16",), table("rtb-a", *routes, main=True), subnets=subnets)


def accepter_side(*routes: Route, subnets: tuple[Subnet, ...] = ()) -> SideNetwork:
    rtb = RouteTable("rtb-b", "vpc-b", True, (), (Route("10.1.0.0/16", "local", "local"), *routes))
    return network("vpc-b", ("10.1.0.0/16", "10.2.0.0/16"), rtb, subnets=subnets)


def changes_of(plan: ConfigurePlan) -> set[tuple[str, str, str]]:
    return {(c.kind, c.route_table_id, c.destination) for c in plan.route_changes}


def test_destinations_by_subnet_route_only_the_peers_tagged_subnets_on_both_sides() -> None:
    requester = requester_side(
        subnets=(
            Subnet("subnet-a1", "vpc-a", SHARED, "10.0.1.0/24"),
            Subnet("subnet-a2", "vpc-a", {"share": "no"}, "10.0.2.0/24"),
        )
    )
    accepter = accepter_side(
        subnets=(
            Subnet("subnet-b1", "vpc-b", SHARED, "10.1.1.0/24", ("2600:1f18::/64",)),
            Subnet("subnet-b2", "vpc-b", {}, "10.1.2.0/24"),
            Subnet("subnet-b3", "vpc-b", SHARED, "10.2.3.0/24"),
        )
    )

    plan = plan_configuration(connection(), requester, accepter, BY_SUBNET)

    assert changes_of(plan) == {
        ("create", "rtb-a", "10.1.1.0/24"),
        ("create", "rtb-a", "10.2.3.0/24"),
        ("create", "rtb-b", "10.0.1.0/24"),
    }
    with_ipv6 = plan_configuration(connection(), requester, accepter, replace(BY_SUBNET, ipv6=True))
    assert ("create", "rtb-a", "2600:1f18::/64") in changes_of(with_ipv6)
    assert "routing: rule 'x'" in plan.render().splitlines()[1]


def test_routes_to_subnets_that_no_longer_qualify_are_removed_only_when_they_target_this_connection() -> None:
    accepter_subnets = (Subnet("subnet-b1", "vpc-b", SHARED, "10.1.1.0/24"),)
    requester = requester_side(
        Route("10.1.1.0/24", "vpc-peering-connection", PCX),  # still qualifies
        Route("10.1.2.0/24", "vpc-peering-connection", PCX),  # untagged since
        Route("10.1.0.0/16", "vpc-peering-connection", PCX),  # the whole VPC: routed before subnets
        Route("10.1.3.0/24", "vpc-peering-connection", OTHER),  # another connection's: not ours
        subnets=(Subnet("subnet-a1", "vpc-a", SHARED, "10.0.1.0/24"),),
    )

    installed = ("10.1.1.0/24", "10.1.2.0/24", "10.1.0.0/16")

    plan = plan_configuration(
        connection(),
        requester,
        None,
        BY_SUBNET,
        scope=frozenset({"requester"}),
        peer_subnets={"vpc-b": accepter_subnets},
        owned=frozenset(route_ref("rtb-a", block) for block in installed),
    )

    assert changes_of(plan) == {("delete", "rtb-a", "10.1.2.0/24"), ("delete", "rtb-a", "10.1.0.0/16")}
    assert plan.satisfied == ("rtb-a:10.1.1.0/24",)


def test_unreadable_peer_subnets_or_an_unmatched_tag_change_nothing_and_say_why() -> None:
    requester = requester_side(Route("10.1.2.0/24", "vpc-peering-connection", PCX))
    scope = frozenset({"requester"})

    unknown = plan_configuration(connection(cross_account=True), requester, None, BY_SUBNET, scope=scope)
    untagged = (Subnet("subnet-b2", "vpc-b", {"share": "no"}, "10.1.2.0/24"),)
    unmatched = plan_configuration(
        connection(), requester, None, BY_SUBNET, scope=scope, peer_subnets={"vpc-b": untagged}
    )

    assert unknown.route_changes == unmatched.route_changes == ()
    assert [f.kind for f in unknown.findings] == ["peer-subnets-unknown"]
    assert [f.kind for f in unmatched.findings] == ["destination-tag-unmatched"]
    assert "share=yes" in unmatched.findings[0].message


def test_unmanaged_routes_plan_no_route_but_still_the_dns_option() -> None:
    requester = requester_side(Route("10.9.0.0/16", "vpc-peering-connection", PCX))  # the team's own route
    unmanaged = RoutingOptions(routes=RouteManagement.NONE)

    plan = plan_configuration(connection(), requester, accepter_side(), unmanaged)

    assert plan.route_changes == ()
    assert [(d.requester, d.accepter) for d in plan.dns_changes] == [(True, True)]
    assert not unmanaged.reads_subnets
    assert replace(BY_SUBNET).reads_subnets
    assert RoutingOptions(selection=TableSelection.SUBNETS, tag_key="t").reads_subnets


def test_subnet_from_api_keeps_ipv6_blocks_in_use_only() -> None:
    subnet = Subnet.from_api(
        {
            "SubnetId": "subnet-1",
            "VpcId": "vpc-a",
            "CidrBlock": "10.0.1.0/24",
            "Ipv6CidrBlockAssociationSet": [
                {"Ipv6CidrBlock": "2600:1f18::/64", "Ipv6CidrBlockState": {"State": "associated"}},
                {"Ipv6CidrBlock": "2600:1f18:0:1::/64", "Ipv6CidrBlockState": {"State": "disassociated"}},
            ],
        }
    )
    assert (subnet.cidr_block, subnet.ipv6_cidr_blocks) == ("10.0.1.0/24", ("2600:1f18::/64",))
    assert Subnet.from_api({"SubnetId": "subnet-2", "VpcId": "vpc-a"}).cidr_block is None


# --- route tables by id --------------------------------------------------------------------------


def by_ids(*ids: str) -> RoutingOptions:
    return RoutingOptions(selection=TableSelection.IDS, table_ids=ids)


def two_table_sides() -> tuple[SideNetwork, SideNetwork]:
    local_b = Route("10.1.0.0/16", "local", "local")
    requester = network("vpc-a", ("10.0.0.0/16",), table("rtb-a1", main=True), table("rtb-a2"))
    accepter = network(
        "vpc-b",
        ("10.1.0.0/16", "10.2.0.0/16"),
        RouteTable("rtb-b1", "vpc-b", True, (), (local_b,)),
        RouteTable("rtb-b2", "vpc-b", False, (), (local_b,)),
    )
    return requester, accepter


def test_tables_by_id_each_side_routes_only_its_own_listed_tables() -> None:
    requester, accepter = two_table_sides()

    plan = plan_configuration(connection(), requester, accepter, by_ids("rtb-a2", "rtb-b1"))

    assert changes_of(plan) == {
        ("create", "rtb-a2", "10.1.0.0/16"),
        ("create", "rtb-a2", "10.2.0.0/16"),
        ("create", "rtb-b1", "10.0.0.0/16"),
    }
    assert plan.findings == ()


def test_a_listed_table_of_another_vpc_is_never_selected() -> None:
    """A peer cannot steer routes into a table by listing it: only the side's own VPC's tables count,
    even if a table of another VPC were among the side's tables."""
    requester, _ = two_table_sides()
    stray = RouteTable("rtb-x1", "vpc-x", False, (), ())
    with_stray = replace(requester, route_tables=(*requester.route_tables, stray))

    assert [t.route_table_id for t in select_tables(with_stray, by_ids("rtb-x1", "rtb-a1"))] == ["rtb-a1"]


def test_a_side_none_of_whose_tables_is_listed_gets_no_route_and_a_finding() -> None:
    requester, accepter = two_table_sides()

    plan = plan_configuration(connection(), requester, accepter, by_ids("rtb-b2"))

    assert changes_of(plan) == {("create", "rtb-b2", "10.0.0.0/16")}
    assert [(f.kind, f.key) for f in plan.findings] == [("route-tables-unlisted", f"tables-unlisted:{PCX}:requester")]
    assert "lists no route table of vpc-a" in plan.findings[0].message


def test_a_listed_id_in_neither_vpc_is_a_finding_not_a_route_elsewhere() -> None:
    requester, accepter = two_table_sides()

    plan = plan_configuration(connection(), requester, accepter, by_ids("rtb-a1", "rtb-b1", "rtb-gone"))

    assert {c.route_table_id for c in plan.route_changes} == {"rtb-a1", "rtb-b1"}
    assert [(f.kind, f.key) for f in plan.findings] == [("route-table-id-unknown", f"table-id-unknown:{PCX}:rtb-gone")]
    assert "rtb-gone, which is not a route table of vpc-a or vpc-b" in plan.findings[0].message


def test_unknown_ids_are_told_only_when_both_sides_were_read() -> None:
    """The sweep of one side (or a peer outside the organization) cannot tell a typo from the
    other side's table: it says nothing of ids it cannot place."""
    requester, _ = two_table_sides()

    one_side = plan_configuration(
        connection(cross_account=True), requester, None, by_ids("rtb-a1", "rtb-b1"), scope=frozenset({"requester"})
    )

    assert changes_of(one_side) == {("create", "rtb-a1", "10.1.0.0/16"), ("create", "rtb-a1", "10.2.0.0/16")}
    assert one_side.findings == ()


def test_tables_by_id_with_unmanaged_routes_plan_nothing_and_find_nothing() -> None:
    requester, accepter = two_table_sides()
    unmanaged = replace(by_ids("rtb-gone"), routes=RouteManagement.NONE)

    plan = plan_configuration(connection(), requester, accepter, unmanaged)

    assert plan.route_changes == ()
    assert plan.findings == ()
