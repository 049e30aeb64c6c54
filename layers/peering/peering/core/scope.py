"""Which active connections the autopilot may change: its scope, decided purely.

- **managed**: the autopilot accepted the connection, or saw it as a request (a decision is
  recorded, or, with no decision to make, its scope record says it was seen pending), or saw its
  acceptance after deployment (the AcceptVpcPeeringConnection event reached configure and its
  scope record says "managed");
- **unmanaged**: active with none of these records: it existed before the deployment (made in the
  console or by Terraform), or its acceptance event was lost (it fails safe: reported, adoptable).
  Nothing of it is changed; the sweep reports once what adoption would change;
- **adopted**: unmanaged, but the policy's ``adopt:`` section names it: changed like a managed one;
- **hands-off**: the tag ``peering-autopilot:manage=false`` on the connection or either VPC puts it
  out of scope everywhere (accept, configure, sweep, map; cleanup reports its stale rules without
  revoking them). It can only make the autopilot do less: a reject still stands, and the routes
  the autopilot itself installed are still removed when the connection dies, so a tag cannot
  slip a request past a deny or leave the organization's blackholes behind (docs/policy.md, "Scope").

The policy's ``adopt:`` section (core/policy.py, ``AdoptSection``) answers ``adopts`` over an
``AdoptionCandidate``; lifecycle/configure.py observes what it needs and sweep/target.py and the
first-run report (``python -m runner adopt --dry-run``) decide with the same function.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from peering.core.models import Connection, LedgerState, Notice
from peering.core.routing import ConfigurePlan, Finding

#: the tag (key ``<prefix>:manage``) whose value "false" puts a connection out of scope
HANDS_OFF_SUFFIX = "manage"
HANDS_OFF_VALUE = "false"
#: the decisions the request lifecycle records while a connection is pending: it saw it as a request
_DECIDED_AS_REQUEST = frozenset({"accepted", "held", "rejected"})


class Scope(StrEnum):
    MANAGED = "managed"
    ADOPTED = "adopted"
    UNMANAGED = "unmanaged"
    HANDS_OFF = "hands-off"


class ScopeRecordKind(StrEnum):
    """What the ledger's SCOPE item of a connection says (aws/ledger/scope.py)."""

    MANAGED = "managed"  # its acceptance was seen after deployment
    PRE_EXISTING = "pre-existing"  # first seen active by the sweep, with no record of its acceptance
    ADOPTED = "adopted"  # pre-existing, then adopted by a policy version (notified once)


@dataclass(frozen=True)
class ScopeRecord:
    kind: ScopeRecordKind
    reason: str = ""
    #: the policy version that adopted it (ADOPTED only)
    policy_version: str | None = None


@dataclass(frozen=True)
class ScopeDecision:
    scope: Scope
    reason: str

    @property
    def may_change(self) -> bool:
        """Routes and DNS of the connection may be changed."""
        return self.scope in (Scope.MANAGED, Scope.ADOPTED)


@dataclass(frozen=True)
class AdoptionCandidate:
    """What the ``adopt:`` section matches on: the connection, each side's OU path (empty outside
    the organization) and the tags of each VPC read inside the organization (by VPC id)."""

    connection: Connection
    ou_paths: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # by account
    vpc_tags: Mapping[str, Mapping[str, str]] = field(default_factory=dict)  # by VPC id
    #: the connection's tags as the other owner sees them (tags on a connection are per account)
    connection_views: tuple[Mapping[str, str], ...] = ()

    @property
    def accounts(self) -> tuple[str, str]:
        return self.connection.requester.account, self.connection.accepter.account

    @property
    def vpc_ids(self) -> tuple[str, str]:
        return self.connection.requester.vpc_id, self.connection.accepter.vpc_id


def hands_off_key(tag_prefix: str) -> str:
    return f"{tag_prefix}:{HANDS_OFF_SUFFIX}"


def hands_off_reason(
    connection: Connection,
    vpc_tags: Mapping[str, Mapping[str, str]],
    tag_prefix: str,
    connection_views: Iterable[Mapping[str, str]] = (),
) -> str | None:
    """Why the connection is hands-off (the tag and where it is), or None. A connection's tags
    exist per account: ``connection_views`` are its tags as the other owner sees them."""
    key = hands_off_key(tag_prefix)
    places: list[tuple[str, Mapping[str, str]]] = [
        (f"the connection {connection.connection_id}", tags) for tags in (connection.tags, *connection_views)
    ]
    places += [(f"the VPC {vpc_id}", vpc_tags.get(vpc_id, {})) for vpc_id in _vpcs(connection)]
    for where, tags in places:
        if tags.get(key, "").strip().lower() == HANDS_OFF_VALUE:
            return f"hands-off: {where} is tagged {key}={HANDS_OFF_VALUE}"
    return None


def _vpcs(connection: Connection) -> tuple[str, ...]:
    return tuple(dict.fromkeys((connection.requester.vpc_id, connection.accepter.vpc_id)))


def managed_reason(state: LedgerState | None, record: ScopeRecord | None) -> str | None:
    """Why the ledger says the autopilot manages the connection, or None (unmanaged)."""
    if record is not None and record.kind is ScopeRecordKind.MANAGED:
        return record.reason or "managed: its acceptance was seen after deployment"
    if state is not None and state.decision in _DECIDED_AS_REQUEST:
        by = f" by {state.decided_by}" if state.decided_by else ""
        return f"managed: seen as a request after deployment ({state.decision}{by})"
    return None


def decide_scope(
    candidate: AdoptionCandidate,
    *,
    state: LedgerState | None,
    record: ScopeRecord | None,
    adopts: Callable[[AdoptionCandidate], str | None] | None,
    tag_prefix: str,
) -> ScopeDecision:
    """The scope of an active connection. ``adopts`` is the policy's ``adopt:`` section (None
    while the policy is unavailable: nothing is adopted)."""
    hands_off = hands_off_reason(candidate.connection, candidate.vpc_tags, tag_prefix, candidate.connection_views)
    if hands_off is not None:
        return ScopeDecision(Scope.HANDS_OFF, hands_off)
    managed = managed_reason(state, record)
    if managed is not None:
        return ScopeDecision(Scope.MANAGED, managed)
    adopted = adopts(candidate) if adopts is not None else None
    if adopted is not None:
        return ScopeDecision(Scope.ADOPTED, f"adopted: {adopted}")
    return ScopeDecision(
        Scope.UNMANAGED,
        "unmanaged: active with no record of the autopilot accepting it or seeing it accepted "
        "(it existed before the deployment); no adopt entry of the policy names it",
    )


@dataclass(frozen=True)
class AdoptionPreview:
    """One connection in the first-run report: its scope and what adopting it changes (the
    configure plan of the sides that were read, planned by the same code as the sweep's)."""

    connection_id: str
    decision: ScopeDecision
    plan: ConfigurePlan | None  # None: hands-off, nothing planned

    @property
    def route_changes(self) -> tuple[str, ...]:
        return tuple(c.describe() for c in self.plan.route_changes) if self.plan else ()

    @property
    def dns_changes(self) -> tuple[str, ...]:
        return tuple(c.describe() for c in self.plan.dns_changes) if self.plan else ()

    def summary(self) -> str:
        return change_summary(self.plan) if self.plan else "nothing (out of scope)"

    def render(self) -> str:
        lines = [f"{self.connection_id}: {self.decision.scope.value}", f"  why: {self.decision.reason}"]
        if self.plan is not None:
            verb = "adoption changes" if self.decision.scope is Scope.UNMANAGED else "changes"
            lines.append(f"  {verb}: {self.summary()}")
            lines += [f"    - {line}" for line in (*self.route_changes, *self.dns_changes)]
        return "\n".join(lines)


def change_summary(plan: ConfigurePlan) -> str:
    """ "add N routes, remove M, set DNS": what a configure plan would change, in one line."""
    added = sum(1 for c in plan.route_changes if c.kind in ("create", "replace"))
    removed = sum(1 for c in plan.route_changes if c.kind == "delete")
    if not (added or removed or plan.dns_changes):
        return "nothing to change"
    text = f"add {added} route(s), remove {removed}"
    return text + (", set DNS" if plan.dns_changes else "")


def unmanaged_finding(plan: ConfigurePlan) -> Finding | None:
    """What the sweep reports once for an unmanaged connection it would change if adopted
    (the key holds the changes: a different set of changes is reported again)."""
    if plan.is_noop:
        return None
    changes = sorted([c.describe() for c in plan.route_changes] + [c.describe() for c in plan.dns_changes])
    return Finding(
        "unmanaged",
        "unmanaged|" + hashlib.sha256("\n".join(changes).encode()).hexdigest()[:16],
        f"unmanaged: would {change_summary(plan)} if adopted; nothing was changed (adopt it in the policy's adopt: "
        "section, or tag it peering-autopilot:manage=false)",
    )


def first_run_report(previews: Iterable[AdoptionPreview]) -> str:
    """The first-run report's body: every active connection, its scope, why, and its changes."""
    previews = list(previews)
    counts = {scope: sum(1 for p in previews if p.decision.scope is scope) for scope in Scope}
    head = ", ".join(f"{n} {scope.value}" for scope, n in counts.items() if n) or "no active connection"
    return "\n".join([f"{len(previews)} active connection(s): {head}", *(p.render() for p in previews)])


def first_run_notice(account: str, region: str, previews: Iterable[AdoptionPreview], policy_version: str) -> Notice:
    """What the first sweep of an account+Region sends once (the same report as ``runner adopt --dry-run``)."""
    return Notice(
        f"Peering autopilot: first sweep of {account}/{region}"[:100],
        f"The first sweep of {account}/{region} under policy {policy_version} found:\n\n"
        f"{first_run_report(previews)}\n\n"
        "Unmanaged connections are not changed until the policy's adopt: section names them; the changes "
        "listed are what adoption would make on this account+Region's sides. "
        "`python -m runner adopt --dry-run` shows the same for every account.\n",
    )
