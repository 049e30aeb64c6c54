"""Benchmark: the peering map of a large organization, built, laid out, rendered and opened.

A synthetic organization (no AWS: the map's model, layout and page are pure): VPCs spread over
accounts x 2 Regions, connections between them in every state, a third of the active ones missing
a route or DNS on one side. Measured: the time to build the fragments and assemble them, to lay
out, to render the page; the page's size (target: under 2 MB at 200 VPCs / 500 connections); and,
when headless Chromium is installed, the time it takes to open the page and run its script (the
DOM dump) and to draw it (a screenshot), each against an empty page's time.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import bench_common  # noqa: F401 - sets the environment (and the import path)
from peering.core.models import Connection, ConnectionStatus, Side, Vpc
from peering.core.network import Route, RouteTable, SideNetwork
from peering.core.routing import RoutingOptions
from peering.map.layout import layout
from peering.map.model import AccountInfo, PeeringMap, RegionView, assemble, build_fragment
from peering.map.render import render

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
REGIONS = ("us-east-1", "eu-west-1")
STATUSES = ["active"] * 6 + ["pending-acceptance", "deleted", "expired", "failed"]


def organization(vpcs: int, connections: int, accounts: int) -> PeeringMap:
    nodes = [(f"{100000000000 + n % accounts}", REGIONS[n // accounts % 2], f"vpc-{n:08x}", n) for n in range(vpcs)]
    cidr = {vpc: f"10.{n // 250}.{n % 250}.0/24" for _, _, vpc, n in nodes}
    conns = []
    for n in range(connections):
        a, b = nodes[n % vpcs], nodes[(n * 7 + 1 + n // vpcs) % vpcs]
        conns.append(
            Connection(
                f"pcx-{n:017x}",
                ConnectionStatus(STATUSES[n % len(STATUSES)]),
                "",
                Side(a[0], a[1], a[2], (cidr[a[2]],), (), n % 9 != 0),
                Side(b[0], b[1], b[2], (cidr[b[2]],), (), True),
            )
        )
    fragments = []
    for account, region in sorted({(a, r) for a, r, _, _ in nodes}):
        here = [c for c in conns if (account, region) in {(s.account, s.region) for s in (c.requester, c.accepter)}]
        networks = {}
        for acc, reg, vpc, n in nodes:
            if (acc, reg) != (account, region):
                continue
            # Routes to every active peer, but a third of the requesters forgot theirs.
            routes = tuple(
                Route(peer.cidr_blocks[0], "vpc-peering-connection", c.connection_id)
                for c in here
                if c.status is ConnectionStatus.ACTIVE
                for me, peer in ((c.requester, c.accepter), (c.accepter, c.requester))
                if me.vpc_id == vpc and not (me is c.requester and int(c.connection_id[4:], 16) % 3 == 0)
            )
            table = RouteTable(f"rtb-{vpc[4:]}", vpc, True, (), (Route(cidr[vpc], "local", "local"), *routes))
            networks[vpc] = SideNetwork(
                acc, reg, Vpc(acc, reg, vpc, (cidr[vpc],), (), {"Name": f"app-{n:03d}"}), (table,)
            )
        view = RegionView(account, region, tuple(here), networks)
        info = [AccountInfo(account, f"workload-{account[-2:]}", "workloads")]
        fragments.append(build_fragment(view, {}, RoutingOptions(routes_per_table=200), NOW, accounts=info))
    return assemble(fragments, NOW)


def _browser() -> str | None:
    return next((found for name in ("chromium", "chromium-browser") if (found := shutil.which(name))), None)


def _open(browser: str, page: Path, *flags: str) -> float:
    """Seconds for headless Chromium to open ``page`` and do ``flags`` (best of three)."""
    best = float("inf")
    for _ in range(3):
        with tempfile.TemporaryDirectory() as profile:
            began = time.perf_counter()
            subprocess.run(
                [
                    browser,
                    "--headless",
                    "--no-sandbox",
                    "--disable-gpu",
                    f"--user-data-dir={profile}",
                    "--virtual-time-budget=5000",
                    *flags,
                    page.as_uri(),
                ],
                capture_output=True,
                check=True,
                timeout=120,
            )
            best = min(best, time.perf_counter() - began)
    return best


def measure(vpcs: int, connections: int, accounts: int) -> list[str]:
    began = time.perf_counter()
    peering_map = organization(vpcs, connections, accounts)
    built = time.perf_counter() - began
    began = time.perf_counter()
    placed = layout(peering_map.vpcs, peering_map.edges)
    laid_out = time.perf_counter() - began
    began = time.perf_counter()
    page = render(peering_map)
    rendered = time.perf_counter() - began
    size = len(page.encode())
    counts = peering_map.counts()
    browser = _browser()
    opened = drawn = "no chromium"
    if browser:
        with tempfile.TemporaryDirectory() as folder:
            path, blank = Path(folder) / "map.html", Path(folder) / "blank.html"
            path.write_text(page)
            blank.write_text("<!DOCTYPE html><title>blank</title>")
            base = _open(browser, blank, "--dump-dom")
            opened = f"{(_open(browser, path, '--dump-dom') - base) * 1000:.0f} ms"
            shot = Path(folder) / "map.png"
            base = _open(browser, blank, f"--screenshot={shot}", "--window-size=1920,1080")
            drawn = f"{(_open(browser, path, f'--screenshot={shot}', '--window-size=1920,1080') - base) * 1000:.0f} ms"
    return [
        f"| {vpcs} VPCs, {connections} connections, {accounts} accounts x {len(REGIONS)} Regions "
        f"| {counts['healthy']}/{counts['drift']}/{counts['waiting']}/{counts['failed']}/{counts['ended']} "
        f"| {placed.width:.0f} x {placed.height:.0f} px | {built * 1000:.0f} ms | {laid_out * 1000:.0f} ms "
        f"| {rendered * 1000:.0f} ms | {size / 1e6:.2f} MB {'(under 2 MB)' if size < 2e6 else '(OVER 2 MB)'} "
        f"| {opened} | {drawn} |"
    ]


def main(sizes: tuple[tuple[int, int, int], ...] = ((200, 500, 25),)) -> str:
    lines = [
        "| organization | healthy/drift/waiting/failed/ended | picture | build | layout | render | page "
        "| Chromium: open + script | Chromium: screenshot |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for size in sizes:
        lines += measure(*size)
    return "\n".join(lines)


if __name__ == "__main__":
    print(main(tuple(tuple(int(x) for x in arg.split(",")) for arg in sys.argv[1:]) or ((200, 500, 25),)))  # type: ignore[arg-type]
