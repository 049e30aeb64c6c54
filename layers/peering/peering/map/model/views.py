"""The peering map's data: accounts, VPCs, connections (edges) with each side's routes, findings and
ledger decision, a fragment (one account+Region) and the whole map; their JSON form read back.

Plain frozen dataclasses (the deployed hub keeps fragments as JSON in the map bucket).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from peering.core.models import ConnectionStatus
from peering.core.routing import RouteManagement

# What a person sees first: is it fine, does it drift, does it wait for someone, is it over.
HEALTHY, DRIFT, WAITING, FAILED, ENDED = "healthy", "drift", "waiting", "failed", "ended"
#: an active connection the autopilot leaves alone (core/scope.py): not adopted, or hands-off
OUT_OF_SCOPE = "out-of-scope"
SCOPE_STATES = ("unmanaged", "hands-off")
# The states of the legend and the filter (EC2's status, with "held" for a request kept for a person).
STATES = ("active", "unmanaged", "hands-off", "held", "pending", "failed", "expired", "rejected", "deleted")
# Findings that mean the connection does not carry traffic (or names) as it should.
FINDING_LABELS = {
    "missing-route": "missing route",
    "stale-route": "route to a block the peer no longer has",
    "route-conflict": "route conflict",
    "route-quota-full": "route table full",
    "dns-off": "DNS resolution not enabled",
    "dns-prerequisite": "DNS prerequisites missing",
    "leftover-route": "route left to a dead connection",
    "foreign-route": "route the autopilot did not install (left alone)",
    "take-over-route": "route made outside the autopilot, to be taken over",
    "stale-sg-reference": "stale security-group reference",
    "side-unmanaged": "side outside the organization",
    "peer-subnets-unknown": "the peer's subnets cannot be read",
    "destination-tag-unmatched": "no peer subnet carries the destination tag",
    "route-tables-unlisted": "no route table of this VPC is listed",
}
# Findings that leave a side's routes short of what its routing wants.
_ROUTE_GAPS = frozenset(
    {
        "missing-route",
        "route-conflict",
        "route-quota-full",
        "peer-subnets-unknown",
        "destination-tag-unmatched",
        "route-tables-unlisted",
    }
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
    #: an active connection's scope (core/scope.py): managed, adopted, unmanaged or hands-off
    scope: str = ""

    @property
    def state(self) -> str:
        """active, unmanaged, hands-off, held, pending, failed, expired, rejected or deleted (the
        legend's states)."""
        status = ConnectionStatus(self.status)
        if status is ConnectionStatus.ACTIVE and self.scope in SCOPE_STATES:
            return self.scope
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
        if state in SCOPE_STATES:
            return OUT_OF_SCOPE
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
class WorstFinding:
    connection_id: str
    kind: str
    side: str
    message: str


@dataclass(frozen=True)
class FragmentSummary:
    """An account+Region too large to draw (model/summary.py): what it holds, counted, and its
    worst findings. ``reason``: "fragment" (over the fragment's cap, summarized by its worker) or
    "page" (drawn in full it would take the page over its cap)."""

    vpcs: int
    connections: dict[str, int]  # by health (healthy, drift, waiting, failed, ended)
    findings: dict[str, int]  # by kind
    worst: tuple[WorstFinding, ...]
    size: int  # bytes of the fragment in full (JSON)
    reason: str


@dataclass(frozen=True)
class MapFragment:
    """What one account+Region shows: its VPCs and every connection visible there (or, when it is
    too large to draw, its summary and neither)."""

    account: str
    region: str
    observed_at: str
    vpcs: tuple[VpcNode, ...] = ()
    edges: tuple[EdgeView, ...] = ()
    accounts: tuple[AccountInfo, ...] = ()
    policy_version: str = ""
    summary: FragmentSummary | None = None

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
            summary=_summary(data["summary"]) if data.get("summary") else None,
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
    #: account+Regions counted but not drawn (their fragment carries the summary), worst first
    summarized: tuple[MapFragment, ...] = ()
    #: account+Regions whose fragment was not read: (account, Region, why), e.g. not in time
    unread: tuple[tuple[str, str, str], ...] = ()

    def counts(self) -> dict[str, int]:
        out = {name: 0 for name in (HEALTHY, DRIFT, WAITING, FAILED, ENDED, OUT_OF_SCOPE)}
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


def _summary(data: Mapping[str, Any]) -> FragmentSummary:
    return FragmentSummary(
        vpcs=int(data["vpcs"]),
        connections={str(k): int(v) for k, v in data.get("connections", {}).items()},
        findings={str(k): int(v) for k, v in data.get("findings", {}).items()},
        worst=tuple(WorstFinding(**w) for w in data.get("worst", ())),
        size=int(data.get("size", 0)),
        reason=str(data.get("reason", "")),
    )


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
        scope=str(data.get("scope", "")),
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
