"""Benchmark: the peering map of a large organization, built, laid out, rendered and opened.

A synthetic organization (no AWS: the map's model, layout and page are pure): VPCs spread over
accounts x 2 Regions, connections between them in every state, a third of the active ones missing
a route or DNS on one side. Measured: the time to build the fragments and assemble them, to lay
out, to render the page; the page's size (target: under 2 MB at 200 VPCs / 500 connections); and,
when headless Chromium is installed, the time it takes to open the page and run its script (the
DOM dump) and to draw it (a screenshot), each against an empty page's time.

``at_scale`` (issue 23): the map function's run at 1,000 and 10,000 account+Regions. Each target's
fragment (an ordinary member: two VPCs, their connection, every fifth target also peered with
another account, a third drifting) is written to disk; a child process (so its peak memory is its
own) runs the map function's code on them, ``publish.read_fragments`` through a stand-in S3 client
whose GetObject sleeps the latency then reads the file, 32 at a time, then ``build_map`` (the
page's cap) and ``render``. Measured: the read, the build, the page, peak memory, and the page in
Chromium; printed beside the figures before this change (the whole page drawn, read one fragment
at a time, in the sweep function before it queued anything).
"""

from __future__ import annotations

import json
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

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


# --- the map function at organization scale (issue 23) -----------------------------------------

# Before this change (issue 23, point 1, on main 619c946): the sweep function parsed and rendered
# every fragment (the whole page), after reading them one GetObject at a time.
BEFORE = {
    1_000: {"build": "1.1 s", "page": "3.3 MB", "memory": "38 MiB", "read": "50-150 s"},
    10_000: {"build": "14.9 s", "page": "33 MB", "memory": "229 MiB", "read": "500-1,500 s"},
}
MAP_TIMEOUT_S, MAP_MEMORY_MB = 300, 1024  # template.yaml, MapFunction
FULL_VCPU_MB = 1769  # Lambda gives a function one vCPU at 1,769 MB, in proportion below it
LATENCIES_MS = (50, 150)  # per GetObject (README: the latency model of the organization-scale sweep)


def member_fragment(n: int, targets: int) -> dict[str, Any]:
    """Target n's fragment as its worker writes it: two VPCs and their connection (a third drift),
    and every fifth target also the requester of a connection to the next one's first VPC."""
    account, region = f"{100000000000 + n}", "us-east-1"
    mine = [f"vpc-{n:08x}{k}" for k in (0, 1)]
    cidr = {vpc: f"10.{n // 250 % 250}.{n % 250}.{k * 128}/25" for k, vpc in enumerate(mine)}
    conns = [
        Connection(
            f"pcx-{n:015x}00",
            ConnectionStatus.ACTIVE,
            "",
            Side(account, region, mine[0], (cidr[mine[0]],), (), True),
            Side(account, region, mine[1], (cidr[mine[1]],), (), n % 3 != 0),
        )
    ]
    if n % 5 == 0 and n + 1 < targets:
        peer = f"vpc-{n + 1:08x}0"
        conns.append(
            Connection(
                f"pcx-{n:015x}01",
                ConnectionStatus.ACTIVE,
                "",
                Side(account, region, mine[0], (cidr[mine[0]],), (), True),
                Side(
                    f"{100000000000 + n + 1}",
                    region,
                    peer,
                    (f"10.{(n + 1) // 250 % 250}.{(n + 1) % 250}.0/25",),
                    (),
                    True,
                ),
            )
        )
    networks = {}
    for vpc in mine:
        routes = tuple(
            Route(other.cidr_blocks[0], "vpc-peering-connection", c.connection_id)
            for c in conns
            for me, other in ((c.requester, c.accepter), (c.accepter, c.requester))
            if me.vpc_id == vpc and not (n % 3 == 0 and me is c.requester)
        )
        tables = (
            RouteTable(f"rtb-{vpc[4:]}a", vpc, True, (), (Route(cidr[vpc], "local", "local"), *routes)),
            RouteTable(f"rtb-{vpc[4:]}b", vpc, False, (), (Route(cidr[vpc], "local", "local"), *routes)),
        )
        networks[vpc] = SideNetwork(
            account, region, Vpc(account, region, vpc, (cidr[vpc],), (), {"Name": f"app-{vpc[-3:]}"}), tables
        )
    view = RegionView(account, region, tuple(conns), networks)
    info = [AccountInfo(account, f"workload-{n:05d}", "workloads")]
    return build_fragment(view, {}, RoutingOptions(routes_per_table=200), NOW, accounts=info).to_json()


class _Body:
    def __init__(self, data: bytes) -> None:
        self._data = data

    def read(self, amount: int | None = None) -> bytes:
        return self._data if amount is None else self._data[:amount]

    def close(self) -> None:
        pass


class _FolderS3:
    """GetObject on a folder of fragments, after ``latency`` seconds (calls in flight overlap)."""

    def __init__(self, folder: Path, latency: float) -> None:
        self.folder, self.latency, self.calls = folder, latency, 0
        self._lock = threading.Lock()

    def get_object(self, Bucket: str, Key: str) -> dict[str, Any]:  # noqa: N803 - boto3's names
        time.sleep(self.latency)
        with self._lock:
            self.calls += 1
        data = (self.folder / Key.replace("/", "_")).read_bytes()
        return {"ContentLength": len(data), "Body": _Body(data)}


class _Hub:
    def __init__(self, s3: _FolderS3) -> None:
        self.s3 = s3

    def hub(self, service: str) -> _FolderS3:
        return self.s3


class _Engine:
    def __init__(self, s3: _FolderS3) -> None:
        self.aws = _Hub(s3)


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def build_in_child(folder: Path, targets: int, latency: float, page_path: Path) -> dict[str, Any]:
    """The map function's work on the fragments in ``folder`` (run in a process of its own)."""
    from peering.map import publish  # noqa: PLC0415 - the map function imports it when it runs

    baseline = _rss_mib()
    engine = _Engine(_FolderS3(folder, latency))
    began = time.perf_counter()
    read = publish.read_fragments(engine, "bench", [(f"{100000000000 + n}", "us-east-1") for n in range(targets)])  # type: ignore[arg-type]
    reading = time.perf_counter() - began
    began = time.perf_counter()
    peering_map = publish.build_map(read)
    page = render(peering_map).encode()
    building = time.perf_counter() - began
    page_path.write_bytes(page)
    return {
        "read_s": reading,
        "build_s": building,
        "page_bytes": len(page),
        "peak_mib": _rss_mib(),
        "baseline_mib": baseline,
        "fragments": len(read.found),
        "fragment_bytes": sum(s.size for s in read.found),
        "summarized": len(peering_map.summarized),
        "drawn_edges": len(peering_map.edges),
        "calls": engine.aws.s3.calls,
    }


def at_scale(sizes: tuple[int, ...] = (1_000, 10_000), latency_ms: int = 100, chromium: bool = True) -> str:
    lines = [
        f"Map function: Timeout {MAP_TIMEOUT_S} s, MemorySize {MAP_MEMORY_MB} MB (target: at most half of each). "
        f"GetObject at {latency_ms} ms measured, 32 in flight; at {LATENCIES_MS[0]}-{LATENCIES_MS[1]} ms the read "
        "scales with the latency. Before: issue 23's figures (the sweep function, the whole page, one GetObject "
        "at a time).",
        "",
        "| targets | fragments (JSON) | read (GetObject + parse) | build + render | page | drawn / summarized "
        "| peak memory (process) | "
        "Chromium: open + script | before: read / build / page / memory |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    browser = _browser() if chromium else None
    for targets in sizes:
        with tempfile.TemporaryDirectory(prefix="bench-map-") as scratch:
            folder = Path(scratch)
            for n in range(targets):
                key = f"fragments/{100000000000 + n}/us-east-1.json"
                (folder / key.replace("/", "_")).write_text(
                    json.dumps(member_fragment(n, targets), separators=(",", ":"))
                )
            page = folder / "map.html"
            child = subprocess.run(
                [sys.executable, __file__, "--build", str(folder), str(targets), str(latency_ms / 1000), str(page)],
                capture_output=True,
                text=True,
                check=True,
                timeout=1200,
            )
            got = json.loads(child.stdout.strip().splitlines()[-1])
            opened = "no chromium"
            if browser:
                blank = folder / "blank.html"
                blank.write_text("<!DOCTYPE html><title>blank</title>")
                base = _open(browser, blank, "--dump-dom")
                opened = f"{(_open(browser, page, '--dump-dom') - base):.1f} s"
            low, high = (targets / 32 * ms / 1000 for ms in LATENCIES_MS)
            before = BEFORE.get(targets, {})
            # The slowest case: the read as measured, stretched to the high latency, and the build
            # stretched to the function's share of a vCPU (here it had a whole core).
            slowdown = FULL_VCPU_MB / MAP_MEMORY_MB
            worst_total = got["read_s"] * LATENCIES_MS[1] / latency_ms + got["build_s"] * slowdown
            lines.append(
                f"| {targets:,} | {got['fragments']:,} ({got['fragment_bytes'] / 1e6:.1f} MB) "
                f"| {got['read_s']:.1f} s ({low:.0f}-{high:.0f} s at {LATENCIES_MS[0]}-{LATENCIES_MS[1]} ms) "
                f"| {got['build_s']:.1f} s (in all, at {LATENCIES_MS[1]} ms and the CPU of {MAP_MEMORY_MB} MB: "
                f"about {worst_total:.0f} s of {MAP_TIMEOUT_S}) "
                f"| {got['page_bytes'] / 1e6:.1f} MB | {got['drawn_edges']:,} connections drawn, "
                f"{got['summarized']:,} account+Regions summarized "
                f"| {got['peak_mib']:.0f} MiB of {MAP_MEMORY_MB} "
                f"({got['peak_mib'] - got['baseline_mib']:.0f} MiB over the "
                f"{got['baseline_mib']:.0f} MiB of the imports) | {opened} "
                f"| {before.get('read', '-')} / {before.get('build', '-')} / {before.get('page', '-')} / "
                f"{before.get('memory', '-')} |"
            )
    return "\n".join(lines)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--build"]:
        folder, targets, latency, page = sys.argv[2:6]
        print(json.dumps(build_in_child(Path(folder), int(targets), float(latency), Path(page))))
    elif sys.argv[1:2] == ["--scale"]:
        print(at_scale(tuple(int(x) for x in sys.argv[2:]) or (1_000, 10_000)))
    else:
        print(main(tuple(tuple(int(x) for x in arg.split(",")) for arg in sys.argv[1:]) or ((200, 500, 25),)))  # type: ignore[arg-type]
