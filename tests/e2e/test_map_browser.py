"""The demo's peering map in headless Chromium: every connection, its state and its findings.

Given the demo played to its end (``make demo``: eight connections, two healthy, one drifting,
one held, four ended), when Chromium opens the map it wrote, then the DOM (after the page's script
ran) shows each connection in the picture and in the list with the state the demo left it in,
the drift on the one whose route was removed (and none on the subnet-level one, planned with its
rule's routing as the sweep plans it), the time left on the held one, and, opened on a
connection, the detail panel with both sides' route tables, the ledger's decision and whose
routing applies. A screenshot
is taken; with UPDATE_MAP_SCREENSHOT=1 it replaces docs/peering-map.png (the README's picture).
"""

from __future__ import annotations

import os
import re
import shutil
from collections import Counter
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

import pytest

from tests.e2e.browser import chromium, dump_dom, screenshot
from tests.e2e.conftest import PlayedDemo

ROOT = Path(__file__).resolve().parents[2]
README_PICTURE = ROOT / "docs" / "peering-map.png"


@dataclass(frozen=True)
class MapOfTheDemo:
    output: str
    map_path: Path
    connections: list[str]  # in the order the demo created them

    def created(self, story: str) -> str:
        """The connection a story created (its CreateVpcPeeringConnection line)."""
        found = re.search(rf"== {re.escape(story)}.*?= (pcx-[0-9a-f]+)", self.output, re.S)
        assert found, story
        return found.group(1)


@pytest.fixture
def played(request: pytest.FixtureRequest) -> MapOfTheDemo:
    """The demo's map: the demo is played once per session, on one worker (XDIST_GROUPS)."""
    chromium()  # skip (or fail under REQUIRE_CHROMIUM) before playing the demo for nothing
    played_demo: PlayedDemo = request.getfixturevalue("played_demo")
    text = played_demo.output
    assert played_demo.returncode == 0, text[-3000:] + played_demo.errors[-3000:]
    path = re.search(r"peering map: (\S+\.html) \(", text)
    assert path, text[-2000:]
    return MapOfTheDemo(text, Path(path.group(1)), re.findall(r"CreateVpcPeeringConnection .*= (pcx-[0-9a-f]+)", text))


class _Dom(HTMLParser):
    """What the test reads from the DOM: the picture's edges, the list's rows, the panel."""

    def __init__(self) -> None:
        super().__init__()
        self.edges: dict[str, dict[str, str]] = {}
        self.rows: dict[str, dict[str, str]] = {}
        self.ends: dict[str, list[str]] = {}
        self.body: dict[str, str] = {}
        self.text: list[str] = []
        self.findings: list[str] = []
        self.tables: list[str] = []
        self.verdicts: list[str] = []  # the detail panel's route verdicts (ok, missing, ...)
        self._ends_for = ""  # the connection whose overlay (side marks, markers) is being read
        self._groups: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {k: v or "" for k, v in attrs}
        classes = found.get("class", "").split()
        if tag == "body":
            self.body = found
        elif tag == "g" and "edge" in classes and "data-id" in found:
            self.edges[found["data-id"]] = found
        if tag == "g":
            self._groups.append(found.get("data-for", self._ends_for))
            self._ends_for = self._groups[-1]
        elif tag == "circle" and "end" in classes and self._ends_for:
            self.ends.setdefault(self._ends_for, []).append(f"{found['data-side']}:{classes[-1]}")
        elif tag == "tr" and "data-id" in found:
            self.rows[found["data-id"]] = found
        elif tag == "li" and "finding" in classes:
            self.findings.append(found["data-kind"])
        elif tag == "table" and "data-table" in found:
            self.tables.append(found["data-table"])
        elif tag == "td" and classes and classes[0].startswith("verdict-"):
            self.verdicts.append(classes[0].removeprefix("verdict-"))

    def handle_endtag(self, tag: str) -> None:
        if tag == "g" and self._groups:
            self._groups.pop()
            self._ends_for = self._groups[-1] if self._groups else ""

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _dom(page: Path, fragment: str = "") -> _Dom:
    parsed = _Dom()
    parsed.feed(dump_dom(page, fragment))
    return parsed


def test_every_connection_its_state_and_its_findings_are_on_the_map(played: MapOfTheDemo) -> None:
    approved = played.created("1.")
    held_then_approved = played.created("2.")
    overlapping = played.created("3.")
    expired = played.created("5.")
    subnet_level = played.created("6.")
    reminded_then_rejected = played.created("7.")
    healthy, waiting = played.connections[-2:]
    expected = {
        approved: ("deleted", set()),
        held_then_approved: ("active", {"missing-route"}),  # its hub-side route was removed by hand
        overlapping: ("rejected", set()),
        expired: ("expired", set()),
        subnet_level: ("active", set()),  # routes to the tagged subnets only: what its rule wants
        reminded_then_rejected: ("rejected", set()),
        healthy: ("active", set()),
        waiting: ("held", set()),
    }

    dom = _dom(played.map_path)

    assert dom.body.get("data-ready") == "true", "the page's script did not run to its end"
    assert len(played.connections) == len(expected) == 8
    assert set(dom.edges) == set(expected) == set(dom.rows) == set(played.connections)
    for pcx, (state, findings) in expected.items():
        assert dom.edges[pcx]["data-state"] == state, pcx
        assert set(dom.edges[pcx]["data-findings"].split()) == findings, pcx
        assert dom.rows[pcx]["data-state"] == state, pcx  # the list the script built says the same
        assert set(dom.rows[pcx]["data-findings"].split()) == findings, pcx
    assert dom.edges[healthy]["data-health"] == "healthy"
    assert dom.edges[subnet_level]["data-health"] == "healthy"
    assert dom.edges[held_then_approved]["data-health"] == "drift"
    assert dom.edges[waiting]["data-health"] == "waiting"
    assert Counter(e["data-health"] for e in dom.edges.values()) == {"healthy": 2, "drift": 1, "waiting": 1, "ended": 4}
    # Each side of an active connection is marked: the removed route leaves the accepter incomplete.
    assert sorted(dom.ends[healthy]) == ["accepter:ok", "requester:ok"]
    assert sorted(dom.ends[subnet_level]) == ["accepter:ok", "requester:ok"]
    assert sorted(dom.ends[held_then_approved]) == ["accepter:bad", "requester:ok"]
    text = " ".join(dom.text)
    # the held request's time left before it expires: 7 days less the seconds since it was made; the
    # map is observed at whole seconds, so one written within the second of the request shows 7 d 0 h
    assert re.search(r"\b(6 d 23 h|7 d 0 h) left before it expires", text), text[-2000:]
    for name in ("shared-services", "analytics-b", "network-a", "OU platform", "OU workloads", "eu-west-1"):
        assert name in text, name


def test_the_detail_panel_shows_routes_on_both_sides_and_the_decision(played: MapOfTheDemo) -> None:
    drifting = played.created("2.")

    dom = _dom(played.map_path, f"show={drifting}")

    text = " ".join(dom.text)
    assert dom.findings == ["missing-route"]
    assert len(dom.tables) == 2  # one route table on each side
    assert "operator:alice@example.com" in text
    assert "policy demo-1" in text
    assert "comment: CHG-4711" in text  # the decision's reasons
    assert "missing" in text


def test_the_detail_panel_of_a_subnet_level_connection_names_its_rules_routing(played: MapOfTheDemo) -> None:
    subnet_level = played.created("6.")

    dom = _dom(played.map_path, f"show={subnet_level}")

    text = " ".join(dom.text)
    assert dom.findings == []
    assert "routing: rule 'payments-to-data-shared-subnets'" in text
    # Only the peers' tagged subnets are destinations, not their untagged ones.
    assert "10.2.1.0/24" in text
    assert "10.50.1.0/24" in text
    assert "10.2.2.0/24" not in text
    assert "10.50.2.0/24" not in text
    # payments routes data's two tagged subnets (one tagged later, routed by the sweep), the hub
    # routes payments' one: every route in place.
    assert "10.2.3.0/24" in text
    assert dom.verdicts == ["ok", "ok", "ok"]


def test_a_screenshot_of_the_map(played: MapOfTheDemo, tmp_path: Path) -> None:
    drifting = played.created("2.")

    png = screenshot(
        played.map_path, tmp_path / "peering-map.png", width=1920, height=1000, fragment=f"show={drifting}"
    )

    data = png.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    assert len(data) > 20_000  # a picture, not a blank page
    if os.environ.get("UPDATE_MAP_SCREENSHOT"):
        shutil.copyfile(png, README_PICTURE)
