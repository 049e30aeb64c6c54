"""The peering map as one self-contained HTML page: inline SVG, CSS and script, no fetch.

Pure (standard library only). The SVG is drawn here, so the picture shows even without script;
the script adds the filter (account, Region, state), the detail panel on click (routes per table
on both sides, the ledger's decision, rule, reasons, policy version) and the list of connections.
The data the panel shows is embedded as JSON in a ``<script type="application/json">``.

Hostile text is made harmless in two ways. Every string of the map (names, tags, OUs, reasons,
ids) passes through ``readable`` once, before anything is drawn: a character that is invisible or
turns the text around (Unicode Cc and Cf: U+202E, U+2066-2069, U+200B-200F, U+FEFF...) shows as
its escape (``\u202e``), so no name can pose as another. And the page carries a
Content-Security-Policy that runs only its own inline script and style, by their SHA-256 hashes
(computed here from the exact bodies), and loads nothing else: the script attaches its handlers
with addEventListener and no element has a style attribute (CSP hashes cover neither).
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import asdict, fields, is_dataclass, replace
from datetime import datetime
from html import escape
from typing import Any, TypeVar

from peering.core.text import escaped
from peering.map.assets import CSS, SCRIPT
from peering.map.layout import NODE_H, NODE_W, EdgePath, Layout, layout
from peering.map.model import FINDING_LABELS, STATES, EdgeView, PeeringMap, time_left

TITLE = "Peering Autopilot: peering map"
LISTED_PLACES = 50  # account+Regions named in a header line (not observed, not read), then a count
SUMMARY_ROWS = 200  # summarized account+Regions listed, worst first
Shown = TypeVar("Shown")


def readable(value: Shown) -> Shown:
    """The map (or any part of it) with every string passed through ``core.text.escaped``: the one place the
    page's text is made safe to read, before the SVG, the filters and the embedded JSON use it."""
    shown: Any
    if isinstance(value, str):
        shown = escaped(value)
    elif isinstance(value, tuple):
        shown = tuple(readable(v) for v in value)
    elif isinstance(value, list):
        shown = [readable(v) for v in value]
    elif isinstance(value, dict):
        shown = {readable(k): readable(v) for k, v in value.items()}
    elif is_dataclass(value) and not isinstance(value, type):
        shown = replace(value, **{f.name: readable(getattr(value, f.name)) for f in fields(value)})
    else:
        shown = value
    result: Shown = shown
    return result


def _source_hash(body: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(body.encode()).digest()).decode() + "'"


def content_security_policy(script: str = SCRIPT, style: str = CSS) -> str:
    """Nothing loads, only the page's own inline script and style run (by hash)."""
    return (
        f"default-src 'none'; script-src {_source_hash(script)}; style-src {_source_hash(style)}; "
        "base-uri 'none'; form-action 'none'"
    )


def _attr(value: object) -> str:
    return escape(str(value), quote=True)


def _account_label(peering_map: PeeringMap, account: str) -> str:
    info = peering_map.accounts.get(account)
    name = f"{info.name} " if info and info.name else ""
    ou = f" · OU {info.ou}" if info and info.ou else ""
    return f"{name}({account}){ou}"


def _box_title(peering_map: PeeringMap, account: str, region: str) -> str:
    return f"{_account_label(peering_map, account)} · {region}"


def _edge_data(peering_map: PeeringMap, edge: EdgeView, now: datetime) -> dict[str, Any]:
    data = asdict(edge)
    data["state"] = edge.state
    data["health"] = edge.health
    expiry = edge.expiration_time or (edge.decision.expiration_time if edge.decision else "")
    data["time_left"] = time_left(expiry, now) if edge.state in ("held", "pending") else ""
    data["labels"] = {
        "requester": _account_label(peering_map, edge.requester.account),
        "accepter": _account_label(peering_map, edge.accepter.account),
    }
    return data


def _summary(edge: EdgeView, left: str) -> str:
    """One line a person reads on hover: the state and what is wrong."""
    text = f"{edge.connection_id}: {edge.state}"
    if left:
        text += f", {left} left before it expires"
    if edge.findings:
        kinds = sorted({FINDING_LABELS.get(f.kind, f.kind) for f in edge.findings})
        text += " · " + ", ".join(kinds)
    return text


def render(peering_map: PeeringMap, *, now: datetime | None = None) -> str:
    peering_map = readable(peering_map)
    now = now or datetime.fromisoformat(peering_map.generated_at)
    titles = {(v.account, v.region): _box_title(peering_map, v.account, v.region) for v in peering_map.vpcs}
    placed = layout(peering_map.vpcs, peering_map.edges, titles)
    data = {
        "generatedAt": peering_map.generated_at,
        "policyVersion": peering_map.policy_version,
        "edges": {e.connection_id: _edge_data(peering_map, e, now) for e in peering_map.edges},
        "vpcs": {v.vpc_id: asdict(v) for v in peering_map.vpcs},
        "accounts": {a: _account_label(peering_map, a) for a in sorted({v.account for v in peering_map.vpcs})},
        "findingLabels": FINDING_LABELS,
    }
    # "</" inside the JSON would end the script element: escape "<" the JSON way.
    payload = json.dumps(data, separators=(",", ":"), sort_keys=True).replace("<", "\\u003c")
    counts = peering_map.counts()
    accounts = sorted({v.account for v in peering_map.vpcs})
    regions = sorted({v.region for v in peering_map.vpcs})
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{content_security_policy()}">',
        f"<title>{TITLE}</title>",
        f"<style>{CSS}</style></head><body>",
        "<header>",
        f'<h1>Peering map</h1><p class="meta">observed {_attr(peering_map.generated_at)}'
        f" · policy {_attr(peering_map.policy_version or 'none')}"
        f" · {len(peering_map.vpcs)} VPCs · {len(peering_map.edges)} connections</p>",
        '<p class="counts">',
        *(
            f'<span class="count {name}" data-health="{name}"><b>{counts[name]}</b> {label}</span>'
            for name, label in (
                ("healthy", "healthy"),
                ("drift", "drift"),
                ("waiting", "wait for a decision"),
                ("failed", "failed"),
                ("ended", "ended"),
            )
        ),
        "</p>",
        _missing(peering_map),
        _unread(peering_map),
        _summarized_note(peering_map),
        '<form id="filters">',
        _select("account", "Account", [(a, _account_label(peering_map, a)) for a in accounts]),
        _select("region", "Region", [(r, r) for r in regions]),
        _select("state", "State", [(s, s) for s in STATES]),
        "</form></header>",
        '<main><div id="canvas">',
        _svg(peering_map, placed, now),
        "</div>",
        '<aside id="panel"><h2>Details</h2><div id="detail"><p>Click a connection (or a VPC) for its routes, '
        "decision and findings.</p></div>",
        _legend(),
        _summaries(peering_map),
        '<h2>Connections</h2><table id="connection-list"><thead><tr><th>connection</th><th>state</th>'
        "<th>findings</th></tr></thead><tbody></tbody></table>",
        "</aside></main>",
        f'<script type="application/json" id="map-data">{payload}</script>',
        f"<script>{SCRIPT}</script>",
        "</body></html>",
    ]
    return "\n".join(p for p in parts if p)


def _some(places: list[str]) -> str:
    """At most LISTED_PLACES of them, and how many more."""
    shown = ", ".join(places[:LISTED_PLACES])
    return shown + (f" and {len(places) - LISTED_PLACES:,} more" if len(places) > LISTED_PLACES else "")


def _missing(peering_map: PeeringMap) -> str:
    if not peering_map.missing:
        return ""
    places = _some([f"{a}/{r}" for a, r in peering_map.missing])
    return f'<p class="missing">not observed yet: {_attr(places)}</p>'


def _unread(peering_map: PeeringMap) -> str:
    if not peering_map.unread:
        return ""
    places = _some([f"{a}/{r} ({why})" for a, r, why in peering_map.unread])
    return f'<p class="missing" id="unread">not on this page, its fragment not read: {_attr(places)}</p>'


def _summarized_note(peering_map: PeeringMap) -> str:
    summarized = peering_map.summarized
    if not summarized:
        return ""
    connections = sum(sum(f.summary.connections.values()) for f in summarized if f.summary)
    findings = sum(sum(f.summary.findings.values()) for f in summarized if f.summary)
    return (
        f'<p class="missing" id="summarized-note">{len(summarized):,} account+Regions summarized, not drawn '
        f"(too large for the page's size cap): {connections:,} connections, {findings:,} findings, "
        "counted under Summarized</p>"
    )


def _summaries(peering_map: PeeringMap) -> str:
    """The summarized account+Regions, the ones with the worst findings first (at most SUMMARY_ROWS)."""
    if not peering_map.summarized:
        return ""
    rows = []
    for fragment in peering_map.summarized[:SUMMARY_ROWS]:
        summary = fragment.summary
        if summary is None:
            continue
        health = ", ".join(f"{n} {state}" for state, n in sorted(summary.connections.items()))
        worst = "".join(
            f'<li class="finding" data-kind="{_attr(w.kind)}">{_attr(FINDING_LABELS.get(w.kind, w.kind))} '
            f"({_attr(w.connection_id)}, {_attr(w.side)}): {_attr(w.message)}</li>"
            for w in summary.worst
        )
        why = "its fragment is over the size cap" if summary.reason == "fragment" else "the page's size cap"
        rows.append(
            f'<tr data-account="{_attr(fragment.account)}" data-region="{_attr(fragment.region)}">'
            f"<td>{_attr(_box_title(peering_map, fragment.account, fragment.region))}<br>"
            f"<small>{_attr(why)}, {summary.size:,} bytes</small></td>"
            f"<td>{summary.vpcs} VPCs; {_attr(health or 'no connection')}</td>"
            f"<td>{sum(summary.findings.values())}<ul>{worst}</ul></td></tr>"
        )
    more = len(peering_map.summarized) - SUMMARY_ROWS
    tail = f"<p>and {more:,} more, with fewer findings</p>" if more > 0 else ""
    return (
        '<h2>Summarized</h2><table id="summarized"><thead><tr><th>account+Region</th><th>holds</th>'
        f"<th>findings (worst)</th></tr></thead><tbody>{''.join(rows)}</tbody></table>{tail}"
    )


def _select(name: str, label: str, options: list[tuple[str, str]]) -> str:
    items = "".join(f'<option value="{_attr(v)}">{_attr(text)}</option>' for v, text in options)
    return (
        f'<label>{label} <select name="{name}" id="filter-{name}"><option value="">all</option>{items}</select></label>'
    )


def _svg(peering_map: PeeringMap, placed: Layout, now: datetime) -> str:
    out = [
        f'<svg id="map" xmlns="http://www.w3.org/2000/svg" width="{placed.width:.0f}" height="{placed.height:.0f}" '
        f'viewBox="0 0 {placed.width:.0f} {placed.height:.0f}" role="img" aria-label="peering map">'
    ]
    for box in placed.boxes:
        label = _box_title(peering_map, box.account, box.region)
        out.append(
            f'<g class="group" data-account="{_attr(box.account)}" data-region="{_attr(box.region)}">'
            f'<rect x="{box.x:.0f}" y="{box.y:.0f}" width="{box.width:.0f}" height="{box.height:.0f}" rx="10"/>'
            f'<text x="{box.x + 14:.0f}" y="{box.y + 25:.0f}">{_attr(label)}</text></g>'
        )
    edges = {e.connection_id: e for e in peering_map.edges}
    out.append('<g id="edges">')
    for path in placed.edges:
        edge = edges[path.connection_id]
        out.append(_edge_svg(edge, path, now))
    out.append("</g>")
    ends = [_ends_svg(edges[path.connection_id], path, now) for path in placed.edges]
    for vpc in peering_map.vpcs:
        place = placed.nodes[vpc.vpc_id]
        blocks = ", ".join(vpc.cidrs[:2]) + (f" +{len(vpc.cidrs) - 2}" if len(vpc.cidrs) > 2 else "")
        out.append(
            f'<g class="vpc{"" if vpc.observed else " unobserved"}" data-vpc="{_attr(vpc.vpc_id)}" '
            f'data-account="{_attr(vpc.account)}" data-region="{_attr(vpc.region)}">'
            f'<rect x="{place.x:.0f}" y="{place.y:.0f}" width="{NODE_W}" height="{NODE_H}" rx="6"/>'
            f'<text x="{place.x + 10:.0f}" y="{place.y + 18:.0f}" class="name">{_attr(vpc.name or vpc.vpc_id)}</text>'
            f'<text x="{place.x + 10:.0f}" y="{place.y + 33:.0f}">{_attr(vpc.vpc_id if vpc.name else "")}</text>'
            f'<text x="{place.x + 10:.0f}" y="{place.y + 47:.0f}" class="cidr">{_attr(blocks)}</text></g>'
        )
    # Each side's mark where the connection leaves its VPC, above the VPCs.
    out.append(f'<g id="ends">{"".join(ends)}</g></svg>')
    return "".join(out)


def _ends_svg(edge: EdgeView, path: EdgePath, now: datetime) -> str:
    """Above the VPCs: the findings' count or the time left mid-way; on an active connection, a
    mark where it leaves each side, green when that side's routes and DNS are complete."""
    marks = []
    middle = path.middle
    expiry = edge.expiration_time or (edge.decision.expiration_time if edge.decision else "")
    left = time_left(expiry, now) if edge.state in ("held", "pending") else ""
    if edge.findings:
        marks.append(
            f'<g class="marker"><circle cx="{middle.x:.0f}" cy="{middle.y:.0f}" r="10"/>'
            f'<text x="{middle.x:.0f}" y="{middle.y + 4:.0f}">{len(edge.findings)}</text></g>'
        )
    elif left:
        marks.append(f'<text class="clock" x="{middle.x:.0f}" y="{middle.y - 6:.0f}">{_attr(left)}</text>')
    for at_end, side in ((False, edge.requester), (True, edge.accepter)):
        if side.observed and edge.state == "active":
            point = path.leaving(at_end=at_end)
            ok = side.routes_complete is not False and side.dns_complete is not False  # None: left to the team
            marks.append(
                f'<circle class="end {"ok" if ok else "bad"}" data-side="{side.role}" '
                f'cx="{point.x:.0f}" cy="{point.y:.0f}" r="5"/>'
            )
    return f'<g class="ends" data-for="{_attr(edge.connection_id)}">{"".join(marks)}</g>' if marks else ""


def _edge_svg(edge: EdgeView, path: EdgePath, now: datetime) -> str:
    d = path.svg()
    expiry = edge.expiration_time or (edge.decision.expiration_time if edge.decision else "")
    left = time_left(expiry, now) if edge.state in ("held", "pending") else ""
    kinds = " ".join(sorted({f.kind for f in edge.findings}))
    accounts = " ".join(sorted({edge.requester.account, edge.accepter.account}))
    regions = " ".join(sorted({edge.requester.region, edge.accepter.region}))
    parts = [
        f'<g class="edge state-{edge.state} health-{edge.health}" data-id="{_attr(edge.connection_id)}" '
        f'data-state="{edge.state}" data-health="{edge.health}" data-findings="{_attr(kinds)}" '
        f'data-accounts="{_attr(accounts)}" data-regions="{_attr(regions)}" tabindex="0">',
        f"<title>{_attr(_summary(edge, left))}</title>",
        f'<path class="hit" d="{d}"/><path class="line" d="{d}"/>',
    ]
    parts.append("</g>")
    return "".join(parts)


def _legend() -> str:
    rows = [
        ("active healthy", "state-active health-healthy", "active: routes and DNS complete on both sides"),
        ("active drift", "state-active health-drift", "active with drift (numbered marker: findings)"),
        ("unmanaged", "state-unmanaged", "active, made before the autopilot and not adopted: left alone"),
        ("hands-off", "state-hands-off", "active, tagged peering-autopilot:manage=false: left alone"),
        ("held", "state-held", "held for a person (time left before it expires)"),
        ("pending", "state-pending", "pending acceptance"),
        ("failed", "state-failed", "failed (recently)"),
        ("ended", "state-expired", "expired, rejected or deleted (while AWS still shows it)"),
    ]
    items = "".join(
        f'<li><svg width="46" height="12"><g class="edge {cls}"><path class="line" d="M2,6 L44,6"/></g></svg>'
        f"{_attr(text)}</li>"
        for _, cls, text in rows
    )
    ends = (
        '<li><svg width="46" height="12"><circle class="end ok" cx="10" cy="6" r="5"/>'
        '<circle class="end bad" cx="30" cy="6" r="5"/></svg>a side\'s routes and DNS: complete / not</li>'
    )
    return f'<h2>Legend</h2><ul id="legend">{items}{ends}</ul>'
