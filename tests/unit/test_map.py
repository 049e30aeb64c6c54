"""The peering map's data model, layout and page, pure: no AWS.

Given a hand-made view of an account+Region (connections, route tables, DNS attributes, leftovers),
when the fragment is built, its edges carry the state a person must see and the drift the sweep
would repair or report; fragments join into one map; the layout keeps boxes apart; the page holds
every connection with its state and findings, escaped, and stays under 2 MB at 200 VPCs / 500
connections.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import unicodedata
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser

import pytest

from peering.core.cleanup_plan import GroupReference, SideLeftovers
from peering.core.models import Connection, ConnectionStatus, Side, Vpc
from peering.core.network import DnsAttributes, Route, RouteTable, SideNetwork, Subnet
from peering.core.routing import DestinationScope, RouteManagement, RoutingOptions, TableSelection, route_ref
from peering.core.text import escaped
from peering.map.assets import SCRIPT
from peering.map.layout import NODE_H, NODE_W, layout
from peering.map.model import (
    AccountInfo,
    DecisionView,
    EdgeView,
    MapFragment,
    PeeringMap,
    RegionView,
    Sized,
    assemble,
    build_fragment,
    fit_page,
    route_records_wanted,
    summarize,
    time_left,
)
from peering.map.render import render

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
HUB, MEMBER = "111111111111", "222222222222"
REGION = "us-east-1"
OPTIONS = RoutingOptions(routes_per_table=3)


def side(account: str, vpc: str, cidr: str, *, dns: bool = True, region: str = REGION) -> Side:
    return Side(account, region, vpc, (cidr,), (), dns)


def connection(pcx: str, status: str, requester: Side, accepter: Side, **kwargs: object) -> Connection:
    return Connection(pcx, ConnectionStatus(status), "", requester, accepter, **kwargs)  # type: ignore[arg-type]


def network(account: str, vpc: str, cidr: str, *routes: Route, name: str = "", table: str = "") -> SideNetwork:
    local = Route(cidr, "local", "local")
    tables = (RouteTable(table or f"rtb-{vpc[4:]}", vpc, True, (), (local, *routes)),)
    return SideNetwork(account, REGION, Vpc(account, REGION, vpc, (cidr,), (), {"Name": name}), tables)


def to(pcx: str, destination: str, state: str = "active") -> Route:
    return Route(destination, "vpc-peering-connection", pcx, state)


def fragment(
    *connections: Connection, networks: list[SideNetwork], account: str = HUB, **kwargs: object
) -> MapFragment:
    view = RegionView(account, REGION, connections, {n.vpc.vpc_id: n for n in networks}, **kwargs)  # type: ignore[arg-type]
    records = {"pcx-held": DecisionView("held", "policy", "", ("no rule matches",), "v1")}
    return build_fragment(view, records, OPTIONS, NOW, accounts=[AccountInfo(account, "hub", "platform")])


def kinds(frag: MapFragment, pcx: str) -> set[str]:
    return {f.kind for e in frag.edges if e.connection_id == pcx for f in e.findings}


def edge_of(frag: MapFragment, pcx: str) -> EdgeView:
    return next(e for e in frag.edges if e.connection_id == pcx)


# --- data model ------------------------------------------------------------------------------


def test_a_converged_connection_is_healthy_with_both_sides_complete() -> None:
    a, b = side(HUB, "vpc-a", "10.0.0.0/16"), side(HUB, "vpc-b", "10.1.0.0/16")
    pcx = connection("pcx-ok", "active", a, b)
    frag = fragment(
        pcx,
        networks=[
            network(HUB, "vpc-a", "10.0.0.0/16", to("pcx-ok", "10.1.0.0/16")),
            network(HUB, "vpc-b", "10.1.0.0/16", to("pcx-ok", "10.0.0.0/16")),
        ],
    )

    edge = edge_of(frag, "pcx-ok")
    assert (edge.state, edge.health, edge.findings) == ("active", "healthy", ())
    assert edge.requester.routes_complete
    assert edge.accepter.dns_complete
    (table,) = edge.requester.tables
    assert [(r.destination, r.target, r.verdict) for r in table.routes] == [("10.1.0.0/16", "pcx-ok", "ok")]


def test_drift_is_what_the_sweep_would_repair_or_report() -> None:
    a, b = side(HUB, "vpc-a", "10.0.0.0/16", dns=False), side(HUB, "vpc-b", "10.1.0.0/16", dns=False)
    pcx = connection("pcx-drift", "active", a, b)
    full = tuple(Route(f"192.168.{n}.0/24", "gateway", "igw-1") for n in range(3))
    frag = fragment(
        pcx,
        networks=[
            network(HUB, "vpc-a", "10.0.0.0/16"),  # the route to the peer is missing
            network(HUB, "vpc-b", "10.1.0.0/16", *full),  # no room for it
        ],
        dns={"vpc-a": DnsAttributes(support=True, hostnames=False)},
    )

    edge = edge_of(frag, "pcx-drift")
    assert edge.health == "drift"
    assert {(f.kind, f.side) for f in edge.findings} == {
        ("missing-route", "requester"),
        ("dns-prerequisite", "requester"),
        ("route-quota-full", "accepter"),
        ("dns-off", "accepter"),
    }
    assert edge.requester.routes_complete is False
    assert edge.requester.dns_complete is False
    assert [r.verdict for t in edge.requester.tables for r in t.routes] == ["missing"]


def test_a_route_to_another_target_is_a_conflict_and_a_block_gone_a_stale_route() -> None:
    a, b = side(HUB, "vpc-a", "10.0.0.0/16"), side(HUB, "vpc-b", "10.1.0.0/16")
    pcx = connection("pcx-c", "active", a, b)
    frag = fragment(
        pcx,
        networks=[
            network(HUB, "vpc-a", "10.0.0.0/16", Route("10.1.0.0/16", "transit-gateway", "tgw-1")),
            network(HUB, "vpc-b", "10.1.0.0/16", to("pcx-c", "10.0.0.0/16"), to("pcx-c", "10.9.0.0/16")),
        ],
        owned={"pcx-c": frozenset({route_ref("rtb-b", "10.0.0.0/16"), route_ref("rtb-b", "10.9.0.0/16")})},
    )

    assert kinds(frag, "pcx-c") == {"route-conflict", "stale-route"}
    verdicts = {
        r.destination: r.verdict
        for s in (edge_of(frag, "pcx-c").requester, edge_of(frag, "pcx-c").accepter)
        for t in s.tables
        for r in t.routes
    }
    assert verdicts == {"10.1.0.0/16": "conflict", "10.0.0.0/16": "ok", "10.9.0.0/16": "stale"}


def test_a_route_the_autopilot_did_not_install_is_foreign_not_stale_and_its_records_are_asked_for() -> None:
    a, b = side(HUB, "vpc-a", "10.0.0.0/16"), side(HUB, "vpc-b", "10.1.0.0/16")
    pcx = connection("pcx-c", "active", a, b)
    networks = [
        network(HUB, "vpc-a", "10.0.0.0/16", to("pcx-c", "10.1.0.0/16")),
        network(HUB, "vpc-b", "10.1.0.0/16", to("pcx-c", "10.0.0.0/16"), to("pcx-c", "10.0.1.0/24")),  # by hand
    ]
    view = RegionView(HUB, REGION, (pcx,), {n.vpc.vpc_id: n for n in networks})
    installed = {"pcx-c": frozenset({route_ref("rtb-a", "10.1.0.0/16"), route_ref("rtb-b", "10.0.0.0/16")})}

    frag = fragment(pcx, networks=networks, owned=installed)

    assert route_records_wanted(view, OPTIONS) == ("pcx-c",)
    assert kinds(frag, "pcx-c") == {"foreign-route"}


# --- a connection's own routing (its accepting rule's), as the sweep plans it ------------------

RULE_SUBNETS = RoutingOptions(
    routes_per_table=3,
    destinations=DestinationScope.SUBNETS,
    destination_tag_key="peering",
    source="rule 'payments-to-data-shared-subnets' (policy v1)",
)
# The peer (in another account) shares one of its two subnets: only that one is a destination.
PEER_SUBNETS = {
    "vpc-b": (
        Subnet("subnet-shared", "vpc-b", {"peering": "shared"}, "10.1.1.0/24"),
        Subnet("subnet-private", "vpc-b", {}, "10.1.2.0/24"),
    )
}


def rule_fragment(routing: RoutingOptions, *routes: Route, dns: bool = True, **kwargs: object) -> EdgeView:
    """vpc-a (here) requested a connection to vpc-b (another account), accepted by a rule with
    its own routing; the document's routing (OPTIONS) would want all of 10.1.0.0/16 and DNS on."""
    pcx = connection(
        "pcx-rule", "active", side(HUB, "vpc-a", "10.0.0.0/16", dns=dns), side(MEMBER, "vpc-b", "10.1.0.0/16")
    )
    view = RegionView(HUB, REGION, (pcx,), {"vpc-a": network(HUB, "vpc-a", "10.0.0.0/16", *routes)}, **kwargs)  # type: ignore[arg-type]
    frag = build_fragment(view, {}, OPTIONS, NOW, routing={"pcx-rule": routing})
    return edge_of(frag, "pcx-rule")


def test_a_blackhole_is_drift_only_when_it_points_at_a_dead_peering_connection() -> None:
    """The map shows what the sweep plans: a blackhole to a dead connection is a route to put in;
    a blackhole to a NAT gateway (or a live connection) is a conflict the sweep leaves alone."""
    a, b = side(HUB, "vpc-a", "10.0.0.0/16"), side(HUB, "vpc-b", "10.1.0.0/16")
    pcx = connection("pcx-c", "active", a, b)
    to_nat = Route("10.1.0.0/16", "nat-gateway", "nat-1", "blackhole")
    to_dead = to("pcx-old", "10.0.0.0/16", "blackhole")
    net_a = replace(network(HUB, "vpc-a", "10.0.0.0/16", to_nat), peerings={})
    net_b = replace(network(HUB, "vpc-b", "10.1.0.0/16", to_dead), peerings={"pcx-old": None})

    frag = fragment(pcx, networks=[net_a, net_b])

    edge = edge_of(frag, "pcx-c")
    assert {(f.kind, f.side) for f in edge.findings} == {("route-conflict", "requester"), ("missing-route", "accepter")}
    verdicts = {r.destination: r.verdict for s in (edge.requester, edge.accepter) for t in s.tables for r in t.routes}
    assert verdicts == {"10.1.0.0/16": "conflict", "10.0.0.0/16": "missing"}


def test_a_rule_routing_to_the_peers_subnets_is_not_drift_when_those_routes_are_there() -> None:
    edge = rule_fragment(RULE_SUBNETS, to("pcx-rule", "10.1.1.0/24"), peer_subnets=PEER_SUBNETS)

    assert (edge.health, edge.findings) == ("healthy", ())
    assert edge.routing == "rule 'payments-to-data-shared-subnets' (policy v1)"  # the panel says whose
    assert edge.requester.routes_complete
    (table,) = edge.requester.tables
    assert [(r.destination, r.verdict) for r in table.routes] == [("10.1.1.0/24", "ok")]
    # The model's JSON (the page's data, the hub's fragments) carries it.
    again = MapFragment.from_json(json.loads(json.dumps(MapFragment("a", "r", "t", edges=(edge,)).to_json())))
    assert again.edges[0].routing == edge.routing


def test_a_missing_subnet_route_is_drift_and_unknown_peer_subnets_are_said() -> None:
    missing = rule_fragment(RULE_SUBNETS, peer_subnets=PEER_SUBNETS)
    unknown = rule_fragment(RULE_SUBNETS)  # the peer's subnets were not read (outside the organization)
    unread = rule_fragment(RULE_SUBNETS, peer_subnets={}, unread_peers=frozenset({"vpc-b"}))

    assert [(f.kind, f.message) for f in missing.findings] == [("missing-route", "rtb-a: no route 10.1.1.0/24")]
    assert [r.verdict for t in missing.requester.tables for r in t.routes] == ["missing"]
    assert missing.health == "drift"
    for edge in (unknown, unread):
        assert {f.kind for f in edge.findings} == {"peer-subnets-unknown"}
        assert edge.requester.routes_complete is False


def test_routes_none_leaves_routes_to_the_team() -> None:
    team = RoutingOptions(routes=RouteManagement.NONE, source="rule 'team-routes'")

    edge = rule_fragment(team, Route("10.1.0.0/16", "transit-gateway", "tgw-1"))

    assert (edge.health, edge.findings) == ("healthy", ())
    assert edge.routes == "none"
    assert edge.requester.routes_complete is None  # not judged: the team routes it
    page = render(assemble([MapFragment(HUB, REGION, "t", edges=(edge,))], NOW))
    assert '"routes":"none"' in page  # the detail panel says "routes managed by the team"


def test_dns_left_as_it_is_is_not_dns_off() -> None:
    as_is = RoutingOptions(dns_resolution=None, source="DNS left as it is")

    edge = rule_fragment(as_is, to("pcx-rule", "10.1.0.0/16"), dns=False)

    assert (edge.health, edge.findings) == ("healthy", ())
    assert edge.requester.dns_complete is None


def test_a_held_request_shows_its_decision_and_time_left() -> None:
    a, b = side(MEMBER, "vpc-m", "10.20.0.0/16"), side(HUB, "vpc-b", "10.1.0.0/16")
    expiry = NOW + timedelta(days=6, hours=23)
    held = connection("pcx-held", "pending-acceptance", a, b, expiration_time=expiry)
    pending = connection("pcx-new", "pending-acceptance", a, side(HUB, "vpc-c", "10.2.0.0/16"))
    frag = fragment(
        held, pending, networks=[network(HUB, "vpc-b", "10.1.0.0/16"), network(HUB, "vpc-c", "10.2.0.0/16")]
    )

    edge = edge_of(frag, "pcx-held")
    assert (edge.state, edge.health) == ("held", "waiting")
    assert edge.decision is not None
    assert edge.decision.reasons == ("no rule matches",)
    assert time_left(edge.expiration_time, NOW) == "6 d 23 h"
    assert edge_of(frag, "pcx-new").state == "pending"
    assert not edge.requester.observed
    assert edge.accepter.observed


def test_a_dead_connections_leftovers_are_findings() -> None:
    a, b = side(HUB, "vpc-a", "10.0.0.0/16"), side(HUB, "vpc-b", "10.1.0.0/16")
    dead = connection("pcx-dead", "deleted", a, b)
    blackhole = to("pcx-dead", "10.1.0.0/16", "blackhole")
    net_a = network(HUB, "vpc-a", "10.0.0.0/16", blackhole)
    reference = GroupReference(HUB, REGION, "sg-1", "ingress", (), (("GroupId", "sg-peer"),))
    leftovers = [SideLeftovers(HUB, REGION, "vpc-a", net_a.route_tables, (reference,))]
    frag = fragment(dead, networks=[net_a, network(HUB, "vpc-b", "10.1.0.0/16")], leftovers={"pcx-dead": leftovers})

    edge = edge_of(frag, "pcx-dead")
    assert (edge.state, edge.health) == ("deleted", "drift")
    assert {(f.kind, f.side) for f in edge.findings} == {
        ("leftover-route", "requester"),
        ("stale-sg-reference", "requester"),
    }
    clean = fragment(connection("pcx-gone", "expired", a, b), networks=[network(HUB, "vpc-a", "10.0.0.0/16")])
    assert (edge_of(clean, "pcx-gone").state, edge_of(clean, "pcx-gone").health) == ("expired", "ended")


@pytest.mark.parametrize(
    ("status", "state", "health"),
    [
        ("failed", "failed", "failed"),
        ("rejected", "rejected", "ended"),
        ("deleting", "deleted", "ended"),
        ("provisioning", "pending", "waiting"),
    ],
)
def test_every_status_has_a_state_and_a_health(status: str, state: str, health: str) -> None:
    conn = connection("pcx-x", status, side(HUB, "vpc-a", "10.0.0.0/16"), side(HUB, "vpc-b", "10.1.0.0/16"))
    edge = edge_of(fragment(conn, networks=[]), "pcx-x")
    assert (edge.state, edge.health) == (state, health)


def test_fragments_join_each_side_as_its_owner_saw_it() -> None:
    """Cross-account: the hub's fragment knows the accepter side, the member's the requester side."""
    a, b = side(MEMBER, "vpc-m", "10.20.0.0/16"), side(HUB, "vpc-b", "10.1.0.0/16")
    pcx = connection("pcx-x", "active", a, b)
    hub = fragment(pcx, networks=[network(HUB, "vpc-b", "10.1.0.0/16", to("pcx-x", "10.20.0.0/16"))])
    member = fragment(pcx, networks=[network(MEMBER, "vpc-m", "10.20.0.0/16")], account=MEMBER)
    # Through JSON, as the bucket keeps them.
    member = MapFragment.from_json(json.loads(json.dumps(member.to_json())))

    joined = assemble([hub, member], NOW, missing=[(MEMBER, "eu-west-1")])

    (edge,) = joined.edges
    assert edge.requester.observed
    assert edge.accepter.observed
    assert edge.accepter.routes_complete
    assert not edge.requester.routes_complete
    assert [(f.kind, f.side) for f in edge.findings] == [("missing-route", "requester")]
    assert {v.vpc_id for v in joined.vpcs} == {"vpc-m", "vpc-b"}
    assert joined.missing == ((MEMBER, "eu-west-1"),)
    assert joined.counts()["drift"] == 1


def test_a_peer_nobody_sweeps_is_drawn_from_the_connection() -> None:
    outsider = side("999999999999", "vpc-out", "172.16.0.0/16")
    pcx = connection("pcx-out", "pending-acceptance", outsider, side(HUB, "vpc-b", "10.1.0.0/16"))
    joined = assemble([fragment(pcx, networks=[network(HUB, "vpc-b", "10.1.0.0/16")])], NOW)
    node = next(v for v in joined.vpcs if v.vpc_id == "vpc-out")
    assert (node.observed, node.cidrs, node.account) == (False, ("172.16.0.0/16",), "999999999999")


def test_time_left() -> None:
    assert time_left("", NOW) == ""
    assert time_left("not a time", NOW) == ""
    assert time_left((NOW - timedelta(minutes=1)).isoformat(), NOW) == "expired"
    assert time_left((NOW + timedelta(hours=2, minutes=5)).isoformat(), NOW) == "2 h 5 min"


# --- a large organization ----------------------------------------------------------------------


def large_map(vpcs: int = 200, connections: int = 500, accounts: int = 10) -> PeeringMap:
    """``vpcs`` VPCs over ``accounts`` accounts x 2 Regions, ``connections`` connections between them."""
    fragments = []
    nodes = [
        (f"{100000000000 + n % accounts}", ("us-east-1", "eu-west-1")[n // accounts % 2], f"vpc-{n:04x}")
        for n in range(vpcs)
    ]
    statuses = ["active"] * 6 + ["pending-acceptance", "deleted", "expired", "failed"]
    conns = []
    for n in range(connections):
        a, b = nodes[n % vpcs], nodes[(n * 7 + 1 + n // vpcs) % vpcs]
        conns.append(
            connection(
                f"pcx-{n:05x}",
                statuses[n % len(statuses)],
                Side(a[0], a[1], a[2], (f"10.{n % 250}.0.0/16",), (), n % 3 != 0),
                Side(b[0], b[1], b[2], (f"10.{(n + 1) % 250}.0.0/16",), (), True),
            )
        )
    for account, region in sorted({(a, r) for a, r, _ in nodes}):
        nets = [
            SideNetwork(
                account,
                region,
                Vpc(account, region, v, (f"10.{i % 250}.0.0/16",), (), {"Name": f"app-{i}"}),
                (RouteTable(f"rtb-{v}", v, True, (), ()),),
            )
            for i, (acc, reg, v) in enumerate(nodes)
            if (acc, reg) == (account, region)
        ]
        here = tuple(
            c
            for c in conns
            if (c.requester.account, c.requester.region) == (account, region)
            or (c.accepter.account, c.accepter.region) == (account, region)
        )
        view = RegionView(account, region, here, {n.vpc.vpc_id: n for n in nets})
        fragments.append(
            build_fragment(view, {}, OPTIONS, NOW, accounts=[AccountInfo(account, f"acct-{account[-2:]}", "ou")])
        )
    return assemble(fragments, NOW)


def test_the_layout_keeps_boxes_and_vpcs_apart_and_inside() -> None:
    peering_map = large_map()
    placed = layout(peering_map.vpcs, peering_map.edges)

    assert len(placed.boxes) == 20
    assert len(placed.nodes) == 200
    assert len(placed.edges) == 500
    for n, one in enumerate(placed.boxes):
        for other in placed.boxes[n + 1 :]:
            apart = (
                one.x + one.width <= other.x
                or other.x + other.width <= one.x
                or one.y + one.height <= other.y
                or other.y + other.height <= one.y
            )
            assert apart, (one, other)
    for vpc in peering_map.vpcs:
        box = next(b for b in placed.boxes if (b.account, b.region) == (vpc.account, vpc.region))
        node = placed.nodes[vpc.vpc_id]
        assert box.x <= node.x
        assert node.x + NODE_W <= box.x + box.width
        assert box.y <= node.y
        assert node.y + NODE_H <= box.y + box.height
    assert placed.width <= 2400  # wraps into rows rather than a ribbon
    # Connections between the same two VPCs bend apart.
    pairs: dict[frozenset[str], set[tuple[float, float]]] = {}
    for path, edge in zip(placed.edges, peering_map.edges, strict=True):
        bends = pairs.setdefault(frozenset((edge.requester.vpc_id, edge.accepter.vpc_id)), set())
        assert (path.control.x, path.control.y) not in bends
        bends.add((path.control.x, path.control.y))
    assert max(len(b) for b in pairs.values()) > 1


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.edges: dict[str, dict[str, str]] = {}
        self.scripts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {k: v or "" for k, v in attrs}
        if tag == "g" and "data-id" in found:
            self.edges[found["data-id"]] = found
        self._in_script = tag == "script"

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.scripts.append(data)

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False

    @classmethod
    def parse(cls, page: str) -> _Page:
        parsed = cls()
        parsed.feed(page)
        return parsed


def test_the_page_holds_every_connection_with_its_state_and_findings() -> None:
    peering_map = large_map()

    page = render(peering_map)

    parsed = _Page()
    parsed.feed(page)
    assert set(parsed.edges) == {e.connection_id for e in peering_map.edges}
    for edge in peering_map.edges:
        shown = parsed.edges[edge.connection_id]
        assert shown["data-state"] == edge.state
        assert set(shown["data-findings"].split()) == {f.kind for f in edge.findings}
    data = json.loads(parsed.scripts[0])
    assert set(data["edges"]) == set(parsed.edges)
    assert len(page.encode()) < 2_000_000
    # Self-contained: nothing is fetched.
    assert not re.search(r"""(src|href)=["']?https?:""", page)
    assert "fetch(" not in page


def test_names_are_escaped_in_the_picture_and_the_data() -> None:
    a, b = side(HUB, "vpc-a", "10.0.0.0/16"), side(HUB, "vpc-b", "10.1.0.0/16")
    pcx = connection("pcx-ok", "active", a, b)
    hostile = "</script><img src=x onerror=alert(1)>"
    frag = fragment(
        pcx, networks=[network(HUB, "vpc-a", "10.0.0.0/16", name=hostile), network(HUB, "vpc-b", "10.1.0.0/16")]
    )

    page = render(assemble([frag], NOW))

    assert hostile not in page
    assert page.count("</script>") == 2  # the data's and the behaviour's own
    assert "&lt;/script&gt;&lt;img" in page


class _Inline(HTMLParser):
    """The page's Content-Security-Policy, its inline script and style bodies, and every attribute."""

    def __init__(self) -> None:
        super().__init__()
        self.policy = ""
        self.policy_first = False  # the policy comes before any script or style
        self.scripts: list[str] = []
        self.styles: list[str] = []
        self.attributes: list[tuple[str, str]] = []
        self._open: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {k: v or "" for k, v in attrs}
        self.attributes += [(tag, name) for name in found]
        if tag == "meta" and found.get("http-equiv") == "Content-Security-Policy":
            self.policy = found["content"]
            self.policy_first = not self.scripts and not self.styles
        executed = tag == "script" and "type" not in found
        self._open = "script" if executed else "style" if tag == "style" else None
        if self._open == "script":
            self.scripts.append("")
        elif self._open == "style":
            self.styles.append("")

    def handle_data(self, data: str) -> None:
        if self._open == "script":
            self.scripts[-1] += data
        elif self._open == "style":
            self.styles[-1] += data

    def handle_endtag(self, tag: str) -> None:
        self._open = None


def sha256_source(body: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(body.encode()).digest()).decode() + "'"


def test_the_page_runs_only_its_own_inline_script_and_style() -> None:
    # Given a map with a held request, drift and a dead connection
    peering_map = large_map(vpcs=20, connections=40, accounts=3)

    # When it is rendered
    page = render(peering_map)

    # Then its policy loads nothing and allows exactly its inline script and style, by hash
    parsed = _Inline()
    parsed.feed(page)
    assert parsed.policy_first
    directives = dict(d.strip().split(" ", 1) for d in parsed.policy.split(";"))
    assert directives["default-src"] == "'none'"
    assert directives["script-src"] == " ".join(sha256_source(body) for body in parsed.scripts)
    assert directives["style-src"] == " ".join(sha256_source(body) for body in parsed.styles)
    assert len(parsed.scripts) == len(parsed.styles) == 1
    assert "unsafe" not in parsed.policy
    # CSP hashes cover neither inline handlers nor style attributes: the page has none.
    assert not [(tag, name) for tag, name in parsed.attributes if name == "style" or name.startswith("on")]
    assert not re.search(r"""\son\w+=|style=""", SCRIPT)


HIDDEN = {
    "\u202e": "\\u202e",  # right-to-left override
    "\u2066": "\\u2066",  # left-to-right isolate
    "\u200b": "\\u200b",  # zero width space
    "\ufeff": "\\ufeff",  # zero width no-break space
    "\x1b": "\\u001b",  # escape (Cc)
    "\U000e0041": "\\U000e0041",  # tag latin capital A (Cf, beyond the BMP)
}


def test_invisible_and_direction_characters_show_escaped_everywhere() -> None:
    # Given a VPC, an account, an OU and a reason named with characters that hide or turn text
    a, b = side(HUB, "vpc-a", "10.0.0.0/16"), side(HUB, "vpc-b", "10.1.0.0/16")
    held = connection("pcx-held", "pending-acceptance", a, b)
    view = RegionView(
        HUB,
        REGION,
        (held,),
        {
            "vpc-a": network(HUB, "vpc-a", "10.0.0.0/16", name="prod\u202egnp.exe"),
            "vpc-b": network(HUB, "vpc-b", "10.1.0.0/16", name="".join(HIDDEN)),
        },
    )
    records = {"pcx-held": DecisionView("held", "policy", "", ("requester \u2066tsted\u2069 is unknown",), "v1")}
    frag = build_fragment(view, records, OPTIONS, NOW, accounts=[AccountInfo(HUB, "net\u200bwork", "plat\ufeffform")])

    # When the page is rendered
    page = render(assemble([frag], NOW))

    # Then none of them reaches the page; each shows as its escape, in the picture and in the data
    hidden = [c for c in page if unicodedata.category(c) in {"Cc", "Cf"} and c != "\n"]
    assert hidden == []
    assert "prod\\u202egnp.exe" in page
    assert "net\\u200bwork (111111111111) · OU plat\\ufeffform" in page
    data = json.loads(_Page.parse(page).scripts[0])
    assert data["vpcs"]["vpc-a"]["name"] == "prod\\u202egnp.exe"
    assert data["vpcs"]["vpc-b"]["name"] == "".join(HIDDEN.values())
    assert data["edges"]["pcx-held"]["decision"]["reasons"] == ["requester \\u2066tsted\\u2069 is unknown"]
    assert data["accounts"][HUB] == "net\\u200bwork (111111111111) · OU plat\\ufeffform"


def test_escaped_leaves_printable_text_as_it_is() -> None:
    assert escaped("prod-vpc 10.0.0.0/16 · ünïcode 名前") == "prod-vpc 10.0.0.0/16 · ünïcode 名前"
    assert escaped("a\u202eb\tc") == "a\\u202eb\\u0009c"


def test_tables_by_id_that_list_none_of_this_side_are_a_route_gap() -> None:
    """vpc-a's table is rtb-a: a rule listing only the peer's table leaves this side without routes."""
    listed_here = RoutingOptions(selection=TableSelection.IDS, table_ids=("rtb-a",), source="rule 'ids'")
    listed_elsewhere = replace(listed_here, table_ids=("rtb-b",))

    routed, unrouted = rule_fragment(listed_here), rule_fragment(listed_elsewhere)

    assert [(f.kind, f.message) for f in routed.findings] == [("missing-route", "rtb-a: no route 10.1.0.0/16")]
    assert [f.kind for f in unrouted.findings] == ["route-tables-unlisted"]
    assert unrouted.requester.routes_complete is False
    assert "no route table of this VPC is listed" in render(
        assemble([MapFragment(HUB, REGION, "t", edges=(unrouted,))], NOW)
    )


# --- bounds: a fragment too large, a page too large (issue 23) --------------------------------------


def place(account: str, *, drift: bool, vpcs: int = 2) -> MapFragment:
    """An account+Region of ``vpcs`` VPCs in a chain of connections, drifting (no routes) or healthy."""
    ids = [f"vpc-{account[-3:]}{n}" for n in range(vpcs)]
    cidrs = [f"10.{int(account[-3:]) % 250}.{n}.0/24" for n in range(vpcs)]
    conns = [
        connection(
            f"pcx-{account[-3:]}{n}", "active", side(account, ids[n], cidrs[n]), side(account, ids[n + 1], cidrs[n + 1])
        )
        for n in range(vpcs - 1)
    ]
    nets = []
    for n, vpc in enumerate(ids):
        routes = (
            []
            if drift
            else [
                to(c.connection_id, p.cidr_blocks[0])
                for c in conns
                for me, p in ((c.requester, c.accepter), (c.accepter, c.requester))
                if me.vpc_id == vpc
            ]
        )
        nets.append(network(account, vpc, cidrs[n], *routes))
    return fragment(*conns, networks=nets, account=account)


def sized(frag: MapFragment) -> Sized:
    return Sized(frag, len(json.dumps(frag.to_json())))


def test_a_summary_keeps_the_counts_and_the_worst_findings_and_reads_back() -> None:
    frag = place("100000000001", drift=True, vpcs=4)

    summary = summarize(frag, 123_456, "fragment")

    assert (summary.vpcs, summary.edges) == ((), ())
    assert summary.summary is not None
    assert summary.summary.vpcs == 4
    assert summary.summary.connections == {"drift": 3}
    assert summary.summary.findings["missing-route"] == 6  # each side of each connection
    assert [w.kind for w in summary.summary.worst] == ["missing-route"] * 6
    assert MapFragment.from_json(json.loads(json.dumps(summary.to_json()))) == summary


def test_the_page_cap_summarizes_the_quiet_largest_places_first() -> None:
    quiet_big = sized(place("100000000001", drift=False, vpcs=5))
    quiet_small = sized(place("100000000002", drift=False, vpcs=2))
    drifting = sized(place("100000000003", drift=True, vpcs=5))
    every = [quiet_big, quiet_small, drifting]

    # Room for everything: nothing summarized.
    assert [f.summary for f in fit_page(every, budget=10**9)] == [None, None, None]
    # Room for all but the largest quiet one.
    fitted = fit_page(every, budget=sum(s.size for s in every) - quiet_big.size)
    assert [f.summary is not None for f in fitted] == [True, False, False]
    # Room for the drifting one only: both quiet ones go first.
    fitted = fit_page(every, budget=drifting.size)
    assert [f.summary is not None for f in fitted] == [True, True, False]
    assert fitted[0].summary
    assert fitted[0].summary.reason == "page"


def test_a_summarized_place_is_listed_not_drawn_and_the_page_says_so() -> None:
    drawn = place("100000000001", drift=False)
    summarized = summarize(place("100000000002", drift=True, vpcs=3), 900_000, "fragment")

    peering_map = assemble([drawn, summarized], NOW, unread=[("100000000009", REGION, "not read in time")])
    page = render(peering_map)

    assert [f.account for f in peering_map.summarized] == ["100000000002"]
    assert {v.account for v in peering_map.vpcs} == {"100000000001"}
    assert "1 account+Regions summarized, not drawn" in page
    assert '<tr data-account="100000000002"' in page
    assert "its fragment is over the size cap, 900,000 bytes" in page
    assert "100000000009/us-east-1 (not read in time)" in page
    assert page.count('data-kind="missing-route"') == 4
