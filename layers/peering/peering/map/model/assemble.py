"""The organization's map: every account+Region's fragment joined, each connection once, each side
as its owner observed it."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import datetime

from peering.map.model.summary import summary_order
from peering.map.model.views import (
    AccountInfo,
    EdgeView,
    MapFragment,
    PeeringMap,
    VpcNode,
)


def assemble(
    fragments: Iterable[MapFragment],
    generated_at: datetime,
    *,
    missing: Sequence[tuple[str, str]] = (),
    unread: Sequence[tuple[str, str, str]] = (),
) -> PeeringMap:
    """One map from every account+Region's fragment: each connection once, each side as its owner
    saw it; a summarized fragment (model/summary.py) is counted, not drawn."""
    vpcs: dict[str, VpcNode] = {}
    edges: dict[str, EdgeView] = {}
    accounts: dict[str, AccountInfo] = {}
    places = []
    summarized = []
    policy_version = ""
    for fragment in sorted(fragments, key=lambda f: f.observed_at):  # the newest view wins
        places.append((fragment.account, fragment.region))
        policy_version = fragment.policy_version or policy_version
        for info in fragment.accounts:
            if info.name or info.ou or info.account not in accounts:
                accounts[info.account] = info
        if fragment.summary is not None:
            summarized.append(fragment)
            continue
        for vpc in fragment.vpcs:
            vpcs[vpc.vpc_id] = vpc
        for edge in fragment.edges:
            edges[edge.connection_id] = _merge(edges.get(edge.connection_id), edge)
    for edge in edges.values():
        for side in (edge.requester, edge.accepter):
            if side.vpc_id not in vpcs:
                # A peer in an account+Region not swept (outside the organization, or not listed).
                vpcs[side.vpc_id] = VpcNode(side.vpc_id, side.account, side.region, "", side.cidrs, observed=False)
    ordered_edges = tuple(sorted(edges.values(), key=lambda e: e.connection_id))
    # In each box, the VPCs with connections first (named ones by name), the others after.
    connected = {s.vpc_id for e in edges.values() for s in (e.requester, e.accepter)}
    ordered_vpcs = tuple(
        sorted(
            vpcs.values(),
            key=lambda v: (v.account, v.region, v.vpc_id not in connected, v.name or "~", v.vpc_id),
        )
    )
    return PeeringMap(
        generated_at=generated_at.isoformat(timespec="seconds"),
        vpcs=ordered_vpcs,
        edges=ordered_edges,
        accounts=accounts,
        places=tuple(sorted(set(places))),
        missing=tuple(sorted(set(missing))),
        policy_version=policy_version,
        summarized=tuple(sorted(summarized, key=summary_order)),
        unread=tuple(sorted(set(unread))),
    )


def _merge(known: EdgeView | None, seen: EdgeView) -> EdgeView:
    """Join two views of one connection: each side from the fragment that observed it."""
    if known is None:
        return seen
    source = {
        role: seen if seen.side(role).observed or not known.side(role).observed else known
        for role in ("requester", "accepter")
    }
    return replace(
        seen,
        requester=source["requester"].requester,
        accepter=source["accepter"].accepter,
        findings=tuple(f for role in ("requester", "accepter") for f in source[role].findings if f.side == role),
        decision=seen.decision or known.decision,
        expiration_time=seen.expiration_time or known.expiration_time,
    )
