"""The peering map's data model: what one account+Region shows (a fragment) and the whole mesh.

Pure and typed. A fragment is built from the sweep's snapshot of one account+Region
(observe.RegionSnapshot), the ledger's records of its connections and, for the findings, the same
planning the sweep runs (routing.plan_side_routes, observe's leftovers of a dead connection): the
map shows exactly the drift the sweep would repair or report. Fragments are plain JSON (the
deployed hub keeps one per account+Region in the map bucket); ``assemble`` joins them into the
organization's map, one edge per connection with each side as its owner observed it.

Each connection is planned with its own routing, as the sweep plans it (sweep/target.py): its
accepting rule's routing (read from its ledger record) else the document's, destinations by
subnet from the subnets observed here and the peers' subnets read elsewhere, "routes: none" (no
route judged: the team routes it) and DNS left as it is (no DNS finding).

Only the standard library and the engine's own models: it ships in the layer, imported lazily
(never on a handler's cold start).

The data classes are in ``views``, the fragment of one account+Region and its findings in
``fragment``, the organization's map joined from fragments in ``assemble``, the caps on a
fragment and on the page (a summary instead of the drawing) in ``summary``; every public name is
importable from ``peering.map.model``, as before the split.
"""

from __future__ import annotations

from peering.map.model.assemble import assemble
from peering.map.model.fragment import RegionView, build_fragment, route_records_wanted
from peering.map.model.summary import MAX_FRAGMENT_BYTES, PAGE_BUDGET_BYTES, Sized, fit_page, summarize
from peering.map.model.views import (
    DRIFT,
    ENDED,
    FAILED,
    FINDING_LABELS,
    HEALTHY,
    STATES,
    WAITING,
    AccountInfo,
    DecisionView,
    EdgeView,
    FindingView,
    FragmentSummary,
    MapFragment,
    PeeringMap,
    RouteView,
    SideView,
    TableView,
    VpcNode,
    WorstFinding,
    time_left,
)

__all__ = [
    "DRIFT",
    "ENDED",
    "FAILED",
    "FINDING_LABELS",
    "HEALTHY",
    "MAX_FRAGMENT_BYTES",
    "PAGE_BUDGET_BYTES",
    "STATES",
    "WAITING",
    "AccountInfo",
    "DecisionView",
    "EdgeView",
    "FindingView",
    "FragmentSummary",
    "MapFragment",
    "PeeringMap",
    "RegionView",
    "RouteView",
    "SideView",
    "Sized",
    "TableView",
    "VpcNode",
    "WorstFinding",
    "assemble",
    "build_fragment",
    "fit_page",
    "route_records_wanted",
    "summarize",
    "time_left",
]
