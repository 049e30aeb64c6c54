"""Pure planning of what a dead connection leaves behind, and of withdrawing stale requests.

A dead connection (rejected, deleted, expired, failed) keeps its routes as blackholes (they count
against the route-table quota) and security-group rules that reference the peer's groups become
stale. Routes targeting it that the autopilot installed (its route records) are deleted; any other
route to it is someone else's, left alone and reported once as a foreign route; rules are
reported, and revoked only when the policy says.
The lifecycle that observes a dead connection and applies this plan is lifecycle/cleanup.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from peering.core.models import Connection, ConnectionStatus, Intent, LedgerState, Notice
from peering.core.network import RouteTable
from peering.core.routing import (
    Finding,
    OwnedRoutes,
    RouteChange,
    RouteRecord,
    foreign_route_finding,
    owned_of,
    route_ref,
)

WITHDRAWN = "withdrawn"  # the ledger's status for a request the sweep withdrew (deleted by us)


def cleanup_key(status: str) -> str:
    """Names one cleanup: the intent a retry finishes, and the notice it owes."""
    return f"cleanup|{status}"


@dataclass(frozen=True)
class CleanupOptions:
    revoke_stale_security_group_rules: bool = False
    pending_request_max_age_hours: int = 72  # requester-side requests withdrawn after this
    #: hours before a held request expires at which a person is reminded (once each, by the sweep)
    remind_before_expiry_hours: tuple[int, ...] = (24,)


@dataclass(frozen=True)
class GroupReference:
    """A security-group rule in one VPC that references a group across the connection."""

    account: str
    region: str
    group_id: str
    direction: str  # ingress | egress
    permission: tuple[tuple[str, Any], ...]  # IpProtocol/FromPort/ToPort of the rule
    pair: tuple[tuple[str, str], ...]  # the UserIdGroupPair that references the peer

    def describe(self) -> str:
        pair = dict(self.pair)
        return (
            f"{self.direction} rule of {self.group_id} ({self.account}/{self.region}) references "
            f"{pair.get('GroupId', '?')} through {pair.get('VpcPeeringConnectionId', 'the peer VPC')}"
        )

    def ip_permission(self) -> dict[str, Any]:
        return {**dict(self.permission), "UserIdGroupPairs": [dict(self.pair)]}


@dataclass(frozen=True)
class SideLeftovers:
    """What one side (read by its owner) still holds for a connection."""

    account: str
    region: str
    vpc_id: str
    route_tables: tuple[RouteTable, ...]  # tables with a route targeting the connection
    references: tuple[GroupReference, ...]


@dataclass(frozen=True)
class CleanupPlan:
    connection_id: str
    status: str
    route_deletions: tuple[RouteChange, ...] = ()
    stale_references: tuple[GroupReference, ...] = ()
    revocations: tuple[GroupReference, ...] = ()
    close_record: bool = False
    notify: Notice | None = None
    labels: tuple[str | None, str | None] = (None, None)  # "account/Region/VPC" of each side, for the record
    findings: tuple[Finding, ...] = ()  # routes to it the autopilot did not install: left alone
    #: route records of routes already gone, on the sides read (a run killed between removing a
    #: route and forgetting its record): forgotten, so the records stay the routes in EC2
    stale_records: tuple[RouteRecord, ...] = ()

    @property
    def intent(self) -> Intent:
        """Recorded before the first change, so an interrupted cleanup is finished, notice included."""
        return Intent(cleanup_key(self.status), self.notify)

    @property
    def is_noop(self) -> bool:
        return not (self.route_deletions or self.revocations or self.close_record or self.notify or self.stale_records)

    def render(self) -> str:
        lines = [f"{self.connection_id}: cleanup after {self.status}"]
        lines += [f"  - {c.describe()}" for c in self.route_deletions]
        lines += [f"  - revoke {r.describe()}" for r in self.revocations]
        reported = [r for r in self.stale_references if r not in self.revocations]
        lines += [f"  ! stale: {r.describe()} (reported, not revoked)" for r in reported]
        lines += [f"  ! {f.kind}: {f.message}" for f in self.findings]
        if self.stale_records:
            lines.append(f"  - forget {len(self.stale_records)} route record(s) of routes already gone")
        if self.close_record:
            lines.append(f"  - close the ledger record as {self.status}")
        if self.notify:
            lines.append(f"  - notify: {self.notify.subject}")
        if len(lines) == 1:
            lines.append("  - (nothing left behind)")
        return "\n".join(lines)


_WHY = {
    ConnectionStatus.EXPIRED.value: "nobody accepted it within 7 days",
    ConnectionStatus.FAILED.value: "AWS refused it (for example overlapping CIDR blocks)",
    ConnectionStatus.REJECTED.value: "the accepter rejected it",
    ConnectionStatus.DELETED.value: "one side deleted it",
    WITHDRAWN: "nobody answered it within the policy's pendingRequestMaxAgeHours, so it was withdrawn",
}


def plan_cleanup(
    connection_id: str,
    status: str,
    sides: list[SideLeftovers],
    *,
    options: CleanupOptions,
    previous: LedgerState | None,
    status_message: str = "",
    labels: tuple[str | None, str | None] = (None, None),
    records: tuple[RouteRecord, ...] = (),
) -> CleanupPlan:
    """Pure: remove the dead connection's routes the autopilot installed (``records``: its route
    records), report the others, handle stale rules, close the record once."""
    targeting = tuple(
        dict.fromkeys(  # a table listed by both sides (same account and Region) is cleaned once
            RouteChange("delete", side.account, side.region, table.route_table_id, route.destination, connection_id)
            for side in sides
            for table in side.route_tables
            for route in table.routes
            if route.target_id == connection_id
        )
    )
    deletions, foreign = owned_deletions(targeting, owned_of(records))
    places = {(side.account, side.region) for side in sides}
    left = {(c.account, c.region, route_ref(c.route_table_id, c.destination)) for c in targeting}
    stale = tuple(r for r in records if (r[0], r[1]) in places and (r[0], r[1], route_ref(r[2], r[3])) not in left)
    references = tuple(ref for side in sides for ref in side.references)
    revocations = references if options.revoke_stale_security_group_rules else ()
    begun = previous.intent if previous is not None else None
    if begun is not None and begun.key == cleanup_key(WITHDRAWN) and status == ConnectionStatus.DELETED.value:
        status = WITHDRAWN  # the sweep withdrew it and stopped before closing the record
    # Closed once is closed: a late or repeated event never rewrites the final status.
    close = previous is None or not previous.closed
    notify = None
    if close and begun is not None and begun.key == cleanup_key(status):
        notify = begun.notice  # an interrupted run's notice: it lists what that run cleaned
    elif close and (
        deletions or references or status in (ConnectionStatus.EXPIRED.value, ConnectionStatus.FAILED.value)
    ):
        why = _WHY.get(status, status)
        details = [f"- {c.describe()}" for c in deletions] + [
            f"- {'revoked' if options.revoke_stale_security_group_rules else 'STALE, review'}: {r.describe()}"
            for r in references
        ]
        message = f"Peering connection {connection_id} is {status}: {why}."
        if status_message:
            message += f"\nAWS says: {status_message}"
        if details:
            message += "\n\nCleanup:\n" + "\n".join(details)
        notify = Notice(f"Peering {connection_id} {status}: cleaned up"[:100], message + "\n")
    return CleanupPlan(
        connection_id=connection_id,
        status=status,
        route_deletions=deletions,
        stale_references=references,
        revocations=revocations,
        close_record=close,
        notify=notify,
        labels=labels,
        findings=foreign,
        stale_records=stale,
    )


def owned_deletions(
    deletions: tuple[RouteChange, ...], owned: OwnedRoutes
) -> tuple[tuple[RouteChange, ...], tuple[Finding, ...]]:
    """The deletions of routes the autopilot installed, and a foreign-route finding for each other."""
    mine = tuple(c for c in deletions if route_ref(c.route_table_id, c.destination) in owned)
    foreign = tuple(
        foreign_route_finding(c, "only the routes the autopilot installed are removed when a connection dies")
        for c in deletions
        if c not in mine
    )
    return mine, foreign


def references_to(
    security_groups: list[dict[str, Any]], account: str, region: str, connection_id: str, peer_vpc_id: str | None
) -> tuple[GroupReference, ...]:
    """Rules whose group pair goes through the connection (or names the peer VPC)."""
    found: list[GroupReference] = []
    for group in security_groups:
        for direction, key in (("ingress", "IpPermissions"), ("egress", "IpPermissionsEgress")):
            for permission in group.get(key, []):
                base = tuple((k, permission[k]) for k in ("IpProtocol", "FromPort", "ToPort") if k in permission)
                for pair in permission.get("UserIdGroupPairs", []):
                    through = pair.get("VpcPeeringConnectionId") == connection_id
                    to_peer = peer_vpc_id is not None and pair.get("VpcId") == peer_vpc_id
                    if through or to_peer:
                        kept = tuple(
                            (k, str(pair[k]))
                            for k in ("GroupId", "UserId", "VpcId", "VpcPeeringConnectionId")
                            if pair.get(k)
                        )
                        found.append(GroupReference(account, region, group["GroupId"], direction, base, kept))
    return tuple(found)


def is_stale_request(conn: Connection, account: str, now: datetime, options: CleanupOptions) -> bool:
    """A request ``account`` sent (it is the requester) that has waited longer than the policy allows."""
    if conn.status is not ConnectionStatus.PENDING_ACCEPTANCE or conn.requester.account != account:
        return False
    if conn.expiration_time is None:
        return False
    created = conn.expiration_time - timedelta(days=7)  # requests expire 168 h after creation
    return now - created > timedelta(hours=options.pending_request_max_age_hours)
