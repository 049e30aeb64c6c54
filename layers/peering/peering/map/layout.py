"""The peering map's layout: VPCs boxed by account+Region, boxes packed in rows, edges as curves.

Pure. Legible at hundreds of VPCs because nothing is placed by force: each account+Region is a box
(an account's Regions side by side, accounts in order), its VPCs on a grid inside; a connection
inside a box bows out of it, one between boxes is a curve whose bend grows with its index so that
parallel connections between the same two boxes do not overlap.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from peering.map.model import EdgeView, VpcNode

NODE_W, NODE_H = 190, 54  # a VPC: name, id, blocks
GAP_X, GAP_Y = 30, 26  # between VPCs in a box
PAD, HEADER = 16, 40  # inside a box; its title
BOX_GAP = 60  # between boxes
MAX_WIDTH = 1500  # a row of boxes wraps beyond this (a screen beside the panel)
TITLE_CHAR = 7.5  # about the width of a character of a box's title


@dataclass(frozen=True)
class Box:
    account: str
    region: str
    x: float
    y: float
    width: float
    height: float


@dataclass(frozen=True)
class Point:
    x: float
    y: float


@dataclass(frozen=True)
class NodePlace:
    vpc_id: str
    x: float  # top left
    y: float

    @property
    def center(self) -> Point:
        return Point(self.x + NODE_W / 2, self.y + NODE_H / 2)


@dataclass(frozen=True)
class EdgePath:
    connection_id: str
    start: Point
    control: Point  # a quadratic Bézier's control point
    end: Point

    @property
    def middle(self) -> Point:
        """The curve's point at t = 0.5 (where its markers go)."""
        return Point(
            (self.start.x + 2 * self.control.x + self.end.x) / 4, (self.start.y + 2 * self.control.y + self.end.y) / 4
        )

    def at(self, t: float) -> Point:
        s, c, e = self.start, self.control, self.end
        return Point(
            (1 - t) ** 2 * s.x + 2 * (1 - t) * t * c.x + t**2 * e.x,
            (1 - t) ** 2 * s.y + 2 * (1 - t) * t * c.y + t**2 * e.y,
        )

    def leaving(self, *, at_end: bool) -> Point:
        """Where the curve leaves its VPC's box (start or end): where a side's mark goes."""
        centre = self.end if at_end else self.start
        for step in range(1, 50):
            t = step / 100
            point = self.at(1 - t if at_end else t)
            if abs(point.x - centre.x) > NODE_W / 2 or abs(point.y - centre.y) > NODE_H / 2:
                return point
        return self.at(0.5)

    def svg(self) -> str:
        s, c, e = self.start, self.control, self.end
        return f"M{s.x:.0f},{s.y:.0f} Q{c.x:.0f},{c.y:.0f} {e.x:.0f},{e.y:.0f}"


@dataclass(frozen=True)
class Layout:
    width: float
    height: float
    boxes: tuple[Box, ...]
    nodes: dict[str, NodePlace]
    edges: tuple[EdgePath, ...]


def _grid(count: int) -> tuple[int, int]:
    """Columns and rows of a box holding ``count`` VPCs: up to three in a row, then a square."""
    columns = count if count <= 3 else math.ceil(math.sqrt(count))
    columns = max(columns, 1)
    return columns, max(1, math.ceil(count / columns))


def layout(
    vpcs: Sequence[VpcNode], edges: Sequence[EdgeView], titles: Mapping[tuple[str, str], str] | None = None
) -> Layout:
    """Boxes for each account+Region (wide enough for their ``titles``), VPCs inside, edges between."""
    groups: dict[tuple[str, str], list[VpcNode]] = {}
    for vpc in vpcs:
        groups.setdefault((vpc.account, vpc.region), []).append(vpc)
    boxes: list[Box] = []
    nodes: dict[str, NodePlace] = {}
    x = y = float(BOX_GAP / 2)
    row_height = 0.0
    width = 0.0
    for (account, region), members in sorted(groups.items()):
        columns, rows = _grid(len(members))
        box_w = float(2 * PAD + columns * NODE_W + (columns - 1) * GAP_X)
        box_w = max(box_w, 2 * PAD + TITLE_CHAR * len((titles or {}).get((account, region), "")))
        box_h = HEADER + PAD + rows * NODE_H + (rows - 1) * GAP_Y
        if x > BOX_GAP and x + box_w > MAX_WIDTH:
            x, y = BOX_GAP / 2, y + row_height + BOX_GAP
            row_height = 0.0
        boxes.append(Box(account, region, x, y, box_w, box_h))
        for n, vpc in enumerate(members):
            column, row = n % columns, n // columns
            nodes[vpc.vpc_id] = NodePlace(
                vpc.vpc_id, x + PAD + column * (NODE_W + GAP_X), y + HEADER + row * (NODE_H + GAP_Y)
            )
        x += box_w + BOX_GAP
        width = max(width, x)
        row_height = max(row_height, box_h)
    width, height = width + BOX_GAP / 2, y + row_height + BOX_GAP
    paths = tuple(_inside(p, width, height) for p in _paths(nodes, edges))
    return Layout(width, height, tuple(boxes), nodes, paths)


def _inside(path: EdgePath, width: float, height: float) -> EdgePath:
    """A curve's bend kept on the page (a long one along the top row would leave it)."""
    margin = 8.0
    control = Point(min(max(path.control.x, margin), width - margin), min(max(path.control.y, margin), height - margin))
    return EdgePath(path.connection_id, path.start, control, path.end)


def _paths(nodes: dict[str, NodePlace], edges: Sequence[EdgeView]) -> tuple[EdgePath, ...]:
    seen: dict[frozenset[str], int] = {}
    out = []
    for edge in edges:
        a, b = nodes.get(edge.requester.vpc_id), nodes.get(edge.accepter.vpc_id)
        if a is None or b is None:
            continue
        pair = frozenset((a.vpc_id, b.vpc_id))
        nth = seen.get(pair, 0)
        seen[pair] = nth + 1
        # Bent the same way for the same rank, whichever VPC requested.
        out.append(_curve(edge.connection_id, a.center, b.center, nth, flip=a.vpc_id > b.vpc_id))
    return tuple(out)


def _curve(connection_id: str, start: Point, end: Point, nth: int, *, flip: bool = False) -> EdgePath:
    """A curve bent sideways by 18% of its length (at least 40, at most 260 px), alternating sides
    and bending further for each other connection between the same two VPCs (a dead one and its
    live successor)."""
    dx, dy = end.x - start.x, end.y - start.y
    length = math.hypot(dx, dy) or 1.0
    size = min(max(0.18 * length, 40.0), 260.0) + 50.0 * (nth // 2)
    bend = size * (1 if nth % 2 == 0 else -1) * (-1 if flip else 1)
    middle = Point((start.x + end.x) / 2, (start.y + end.y) / 2)
    control = Point(middle.x - dy / length * bend, middle.y + dx / length * bend)
    return EdgePath(connection_id, start, control, end)
