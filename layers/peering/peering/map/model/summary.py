"""Bounds on the map: an account+Region too large to draw is summarized, and so are as many as it
takes to keep the page under its cap.

A member controls how much its account+Region holds (VPCs, connections it makes and accepts
itself, route tables): drawn in full, one member could make the page too large to open, and ten
thousand ordinary ones do. A summary keeps what a person needs to act: how many VPCs and
connections, by health, the findings by kind and the worst few of them (severity below), and the
size it would have taken. The worker summarizes a fragment over ``MAX_FRAGMENT_BYTES`` before it
writes it; the map function summarizes, when the drawn fragments would pass ``PAGE_BUDGET_BYTES``,
the ones with the least to show first (no finding, nothing waiting), the largest first.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from peering.map.model.views import HEALTHY, FragmentSummary, MapFragment, WorstFinding

# One account+Region's fragment (JSON). An ordinary one is a few kilobytes; 20 fully meshed VPCs
# with 200 route tables each were 20 MB (issue 23).
MAX_FRAGMENT_BYTES = 512 * 1024
# The fragments drawn in full on one page, together: the page is about twice this (SVG and data),
# under 4 MB, opened by headless Chromium in about 3 s (BENCHMARKS.md, "the peering map at scale").
PAGE_BUDGET_BYTES = 2_000_000
WORST = 10  # findings kept in a summary
MESSAGE_CHARS = 200  # of each kept finding's message

# Worst first: traffic that goes elsewhere, then what a dead connection left, then what is missing.
SEVERITY = (
    "route-conflict",
    "leftover-route",
    "stale-sg-reference",
    "missing-route",
    "route-quota-full",
    "stale-route",
    "dns-off",
    "dns-prerequisite",
    "peer-subnets-unknown",
    "destination-tag-unmatched",
    "side-unmanaged",
)
_RANK = {kind: n for n, kind in enumerate(SEVERITY)}


def summarize(fragment: MapFragment, size: int, reason: str) -> MapFragment:
    """The fragment without its VPCs and connections: their counts and its worst findings."""
    if fragment.summary is not None:
        return fragment
    found = [
        WorstFinding(edge.connection_id, f.kind, f.side, f.message[:MESSAGE_CHARS])
        for edge in fragment.edges
        for f in edge.findings
    ]
    found.sort(key=lambda w: (_RANK.get(w.kind, len(SEVERITY)), w.connection_id))
    summary = FragmentSummary(
        vpcs=len(fragment.vpcs),
        connections=dict(Counter(edge.health for edge in fragment.edges)),
        findings=dict(Counter(w.kind for w in found)),
        worst=tuple(found[:WORST]),
        size=size,
        reason=reason,
    )
    return MapFragment(
        fragment.account,
        fragment.region,
        fragment.observed_at,
        accounts=fragment.accounts,
        policy_version=fragment.policy_version,
        summary=summary,
    )


@dataclass(frozen=True)
class Sized:
    """A fragment as read, with its size in bytes."""

    fragment: MapFragment
    size: int

    @property
    def quiet(self) -> bool:
        """Nothing to act on: every connection healthy (the first to be summarized)."""
        return all(edge.health == HEALTHY for edge in self.fragment.edges)


def fit_page(fragments: Sequence[Sized], budget: int = PAGE_BUDGET_BYTES) -> list[MapFragment]:
    """Every fragment, summarized where it must be so that the ones drawn in full fit ``budget``:
    quiet ones before those with something to act on, the largest first."""
    drawn = sum(s.size for s in fragments if s.fragment.summary is None)
    out = {id(s): s.fragment for s in fragments}
    for sized in sorted((s for s in fragments if s.fragment.summary is None), key=lambda s: (not s.quiet, -s.size)):
        if drawn <= budget:
            break
        out[id(sized)] = summarize(sized.fragment, sized.size, "page")
        drawn -= sized.size
    return [out[id(s)] for s in fragments]


def summary_order(fragment: MapFragment) -> tuple[int, int, str, str]:
    """Summaries with the most to act on first: worst finding, then number of findings."""
    summary = fragment.summary
    if summary is None:
        return len(SEVERITY) + 2, 0, fragment.account, fragment.region
    worst = min((_RANK.get(w.kind, len(SEVERITY)) for w in summary.worst), default=len(SEVERITY) + 1)
    return worst, -sum(summary.findings.values()), fragment.account, fragment.region
