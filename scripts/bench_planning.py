"""Benchmark: planning time for VPCs with many route tables, with each route table indexed once per
observation (core/network.py) against the scans it replaced.

Two cases, pure first (no AWS: what the worker does between reading a Region and calling EC2):

1. **One VPC with 200 route tables**, each holding its local route and a route to each of 19 peers
   (every route in place): its tables observed (``RouteTable.from_api``) and the plan of each of
   its connections, its own side (``plan_configuration``), as configure and the sweep plan it.
2. **A member with a full mesh** (issue 23): 20 VPCs of one account+Region, every pair peered (190
   connections, made and accepted by the member itself), 200 route tables each (80,000 routes): the
   worker's convergence of that target (every connection planned on both sides) and the map
   fragment it builds (``build_fragment``, which plans each side again and looks up each table);
   then the same member in moto, swept by the worker's handler with the map published (its CPU
   time less moto's answering: bench_orgscale's meter).

"Before" runs the same code with the scans restored as they were before the index (the previous
commit's ``RouteTable.route_for`` and ``count``, ``plan_side_routes`` parsing every route of every
table, every block parsed again with ``ipaddress.ip_network``), in the same process and run. When
the repository's history is at hand, the same cases also run on the engine as it was before the
index (``BEFORE``, checked out with ``git archive`` into a temporary directory, in a subprocess), to
show that the restored scans cost what that code cost.
Times are CPU time of this process (``time.process_time``): in Lambda, scale by the function's
memory (1,769 MB is one vCPU; see bench_orgscale).
"""

from __future__ import annotations

import contextlib
import io
import ipaddress
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import bench_common  # sets the environment (and the import path) before anything imports boto3
from peering.core import network, routing
from peering.core.models import Connection, ConnectionStatus, Side, Vpc
from peering.core.network import Route, RouteTable, SideNetwork
from peering.core.routing import BOTH_SIDES, RoutingOptions, plan_configuration
from peering.map.model import RegionView, build_fragment

ACCOUNT = "111111111111"
REGION = "us-east-1"
NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
TARGET_RATIO = 10.0  # issue 23: planning a 200-table VPC at least 10x faster
# Issue 23, measured on main (619c946) with the scans: the mesh member's worker time for its target
# and fragment, and the share of it in ipaddress.ip_network (a profile).
ISSUE_WORKER_SECONDS = 290
ISSUE_IP_NETWORK_SHARE = 0.75
#: main before the index (the engine whose lookups parsed every route again)
BEFORE = "6ebee2b2e1fd802a42813110ab8f63225507d239"


# --- the scans as they were -----------------------------------------------------------------------


def _parsed(cidr: str) -> network.Network:
    return ipaddress.ip_network(cidr, strict=False)


def _scan_route_for(self: RouteTable, destination: str) -> Route | None:
    wanted = _parsed(destination)
    for route in self.routes:
        if _parsed(route.destination) == wanted:
            return route
    return None


def _scan_count(self: RouteTable, version: int) -> int:
    return sum(1 for r in self.routes if r.version == version and r.target_kind != "local")


def _scan_routes_to(self: RouteTable, target_id: str) -> tuple[Route, ...]:
    # plan_side_routes parsed every route of every table before it looked at the route's target.
    return tuple(r for r in self.routes if _parsed(r.destination).version and r.target_id == target_id)


def _no_index(self: RouteTable) -> None:
    return None


@contextmanager
def scans() -> Iterator[None]:
    """The lookups as they were before the index: every route parsed again on every lookup."""
    patched: list[tuple[Any, str, Any]] = [
        (RouteTable, "__post_init__", _no_index),
        (RouteTable, "route_for", _scan_route_for),
        (RouteTable, "count", _scan_count),
        (RouteTable, "routes_to", _scan_routes_to),
        (network, "parse_cidr", _parsed),
        (routing, "parse_cidr", _parsed),
    ]
    saved = [(owner, name, getattr(owner, name)) for owner, name, _ in patched]
    try:
        for owner, name, value in patched:
            setattr(owner, name, value)
        yield
    finally:
        for owner, name, value in saved:
            setattr(owner, name, value)
        network.parse_cidr.cache_clear()


@contextmanager
def indexed() -> Iterator[None]:
    network.parse_cidr.cache_clear()  # a cold cache: a worker's first target
    yield


# --- the organization ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Mesh:
    """``vpcs`` VPCs of one account+Region, every pair peered, ``tables`` route tables each, every
    route in place; the route tables as DescribeRouteTables answers them."""

    vpcs: int
    tables: int

    def vpc_id(self, n: int) -> str:
        return f"vpc-{n:017x}"

    def block(self, n: int) -> str:
        return f"10.{n}.0.0/16"

    def connection_id(self, a: int, b: int) -> str:
        return f"pcx-{a * 1000 + b:017x}"

    def connections(self) -> tuple[Connection, ...]:
        def side(n: int) -> Side:
            return Side(ACCOUNT, REGION, self.vpc_id(n), (self.block(n),), (), True)

        return tuple(
            Connection(self.connection_id(a, b), ConnectionStatus.ACTIVE, "Active", side(a), side(b))
            for a in range(self.vpcs)
            for b in range(a + 1, self.vpcs)
        )

    def raw_tables(self, n: int) -> list[dict[str, Any]]:
        routes = [{"DestinationCidrBlock": self.block(n), "GatewayId": "local", "State": "active"}]
        for peer in range(self.vpcs):
            if peer != n:
                pcx = self.connection_id(min(n, peer), max(n, peer))
                routes.append(
                    {"DestinationCidrBlock": self.block(peer), "VpcPeeringConnectionId": pcx, "State": "active"}
                )
        return [
            {
                "RouteTableId": f"rtb-{n:04d}{t:013x}",
                "VpcId": self.vpc_id(n),
                "Associations": [{"Main": True}] if t == 0 else [],
                "Routes": routes,
            }
            for t in range(self.tables)
        ]

    def observe(self, n: int, raw: list[dict[str, Any]]) -> SideNetwork:
        vpc = Vpc(ACCOUNT, REGION, self.vpc_id(n), (self.block(n),))
        return SideNetwork(ACCOUNT, REGION, vpc, tuple(RouteTable.from_api(t) for t in raw))


def _cpu(run: Callable[[], Any]) -> tuple[float, Any]:
    began = time.process_time()
    result = run()
    return time.process_time() - began, result


@dataclass(frozen=True)
class Timing:
    observe: float
    plan: float
    fragment: float = 0.0
    changes: int = 0
    edges: int = 0

    @property
    def total(self) -> float:
        return self.observe + self.plan + self.fragment


def one_vpc(mesh: Mesh) -> Timing:
    """VPC 0 of the mesh: its tables observed, each of its connections planned on its side."""
    raw = mesh.raw_tables(0)
    observe_time, side = _cpu(lambda: mesh.observe(0, raw))
    mine = [c for c in mesh.connections() if c.requester.vpc_id == side.vpc.vpc_id]

    def plan() -> int:
        plans = [plan_configuration(c, side, None, RoutingOptions(), frozenset({"requester"})) for c in mine]
        return sum(len(p.route_changes) for p in plans)

    plan_time, changes = _cpu(plan)
    return Timing(observe_time, plan_time, changes=changes)


def member(mesh: Mesh) -> Timing:
    """The mesh member's target: every VPC observed, every connection converged (both sides live
    here), then its map fragment."""
    raw = {n: mesh.raw_tables(n) for n in range(mesh.vpcs)}
    connections = mesh.connections()
    observe_time, networks = _cpu(lambda: {mesh.vpc_id(n): mesh.observe(n, raw[n]) for n in range(mesh.vpcs)})

    def converge() -> int:
        changes = 0
        for c in connections:
            plan = plan_configuration(
                c, networks[c.requester.vpc_id], networks[c.accepter.vpc_id], RoutingOptions(), BOTH_SIDES
            )
            changes += len(plan.route_changes)
        return changes

    plan_time, changes = _cpu(converge)
    view = RegionView(ACCOUNT, REGION, connections, networks)
    fragment_time, fragment = _cpu(lambda: build_fragment(view, {}, RoutingOptions(), NOW))
    return Timing(observe_time, plan_time, fragment_time, changes, len(fragment.edges))


@dataclass(frozen=True)
class WorkerRun:
    """The mesh member's sweep through the worker's handler on moto, its map fragment written."""

    before: float  # the worker's CPU seconds with the scans (moto's answering excluded)
    after: float  # the same with the index
    fragment_bytes: int
    calls: int  # AWS calls of one run


def worker_on_moto(mesh: Mesh) -> WorkerRun:
    """The mesh built in moto's EC2 backend (80,000 routes through the API would take minutes), the
    sweep function run, then its message through the worker with MAP_BUCKET set, as the deployed
    worker does with PublishMap=true; twice, with the scans and with the index, caches reset."""
    import boto3  # noqa: PLC0415 - this case alone needs AWS
    from moto import mock_aws  # noqa: PLC0415
    from moto.ec2.models import ec2_backends  # noqa: PLC0415

    from bench_orgscale import SCHEDULED, _CpuMeter, _drain  # noqa: PLC0415
    from bench_scale import _Context, _function  # noqa: PLC0415
    from emulation import fidelity  # noqa: PLC0415

    bucket, saved = "bench-map", dict(os.environ)
    try:
        with mock_aws(), contextlib.redirect_stdout(io.StringIO()):
            fidelity.enable()
            bench_common.hub()
            bench_common.organization(0)
            boto3.client("s3", region_name=REGION).create_bucket(Bucket=bucket)
            url = boto3.client("sqs", region_name=REGION).create_queue(
                QueueName="bench-planning", Attributes={"VisibilityTimeout": "3600"}
            )["QueueUrl"]
            os.environ.update({"SWEEP_QUEUE_URL": url, "SWEEP_REGIONS": REGION, "SWEEP_ACCOUNTS": bench_common.HUB})
            os.environ.pop("MAP_BUCKET", None)
            _build_mesh(mesh, boto3.client("ec2", region_name=REGION), ec2_backends[bench_common.HUB][REGION])
            sweep, worker = _function("sweep"), _function("worker")
            spent: dict[str, float] = {}
            # A first run warms the process (imports, clients), as a worker environment's earlier
            # targets would; each measured run starts with the caches of credentials and accounts empty.
            for label, mode in (("warm-up", indexed), ("before", scans), ("after", indexed)):
                bench_common.peering_aws.reset_member_credentials()
                bench_common.org.clear_cache()
                os.environ.pop("MAP_BUCKET", None)  # the sweep function's own map step is not measured
                sweep.lambda_handler(json.loads(SCHEDULED.read_text()), _Context())
                os.environ["MAP_BUCKET"] = bucket
                with bench_common.counting() as calls, mode(), _CpuMeter(worker).installed() as meter:
                    failures, _ = _drain(url, meter)
                if failures:
                    raise RuntimeError(f"the mesh member's sweep failed {failures} target(s)")
                spent[label] = meter.worker
            objects = boto3.client("s3", region_name=REGION).list_objects_v2(Bucket=bucket).get("Contents", [])
            fragment = max((o["Size"] for o in objects if "fragments/" in o["Key"]), default=0)
    finally:
        os.environ.clear()
        os.environ.update(saved)
    if not fragment:
        raise RuntimeError("the worker wrote no map fragment")
    return WorkerRun(spent["before"], spent["after"], fragment, sum(calls.values()))


def _build_mesh(mesh: Mesh, ec2: Any, backend: Any) -> None:
    """VPCs and connections through the API; route tables and routes straight into moto's backend."""
    vpcs = [ec2.create_vpc(CidrBlock=mesh.block(n))["Vpc"]["VpcId"] for n in range(mesh.vpcs)]
    for vpc in vpcs:  # DNS resolution across the connections can be on: nothing left to converge
        ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})
    tables: dict[int, list[str]] = {}
    for n, vpc in enumerate(vpcs):
        main = [t.id for t in backend.route_tables.values() if t.vpc_id == vpc]
        tables[n] = main + [backend.create_route_table(vpc).id for _ in range(mesh.tables - 1)]
    for a in range(mesh.vpcs):
        for b in range(a + 1, mesh.vpcs):
            pcx = ec2.create_vpc_peering_connection(VpcId=vpcs[a], PeerVpcId=vpcs[b])["VpcPeeringConnection"]
            pcx_id = pcx["VpcPeeringConnectionId"]
            ec2.accept_vpc_peering_connection(VpcPeeringConnectionId=pcx_id)
            bench_common.mark_managed(pcx_id)
            for here, there in ((a, b), (b, a)):
                for table in tables[here]:
                    backend.create_route(table, mesh.block(there), vpc_peering_connection_id=pcx_id)


def previous_commit(mesh: tuple[int, int], vpc_tables: int, vpc_peers: int) -> tuple[Timing, Timing] | None:
    """Both cases on the engine of ``BEFORE`` (no scans patched in: its own code), or None when the
    history or git is not at hand (a copy of the tree without its .git)."""
    root = bench_common.ROOT
    if shutil.which("git") is None:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        archive = subprocess.run(
            ["git", "-C", str(root), "archive", BEFORE, "layers/peering", "scripts/bench_common.py"],
            capture_output=True,
            check=False,
        )
        if archive.returncode != 0:
            return None
        subprocess.run(["tar", "-x", "-C", tmp], input=archive.stdout, check=True)
        shutil.copy(Path(__file__), Path(tmp) / "scripts" / "bench_planning.py")
        driver = (
            "import json, bench_planning as b\n"
            "from dataclasses import asdict\n"
            f"v = b.one_vpc(b.Mesh({vpc_peers + 1}, {vpc_tables}))\n"
            f"m = b.member(b.Mesh{mesh!r})\n"
            "print(json.dumps([asdict(v), asdict(m)]))\n"
        )
        run = subprocess.run(
            [sys.executable, "-c", driver], cwd=Path(tmp) / "scripts", capture_output=True, text=True, check=False
        )
        if run.returncode != 0:
            raise RuntimeError(f"the previous commit's planning did not run: {run.stderr[-2000:]}")
    vpc, member_timing = json.loads(run.stdout.strip().splitlines()[-1])
    return Timing(**vpc), Timing(**member_timing)


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:,.0f} ms" if seconds < 10 else f"{seconds:,.1f} s"


def _ratio(before: float, after: float) -> str:
    if after <= 0:
        return "-"
    ratio = before / after
    return f"{ratio:,.0f}x" if ratio >= 10 else f"{ratio:.1f}x"


def main(vpc_tables: int = 200, vpc_peers: int = 19, mesh: tuple[int, int] = (20, 200)) -> str:
    """``vpc_tables``/``vpc_peers``: the one-VPC case; ``mesh``: (VPCs, route tables each) of the member."""
    single, member_mesh = Mesh(vpc_peers + 1, vpc_tables), Mesh(*mesh)
    with scans():
        vpc_before, member_before = one_vpc(single), member(member_mesh)
    with indexed():
        vpc_after, member_after = one_vpc(single), member(member_mesh)
    previous = previous_commit(mesh, vpc_tables, vpc_peers)
    on_moto = worker_on_moto(member_mesh)
    import bench_orgscale  # noqa: PLC0415 - moto's world, imported when needed

    vcpu, memory = bench_orgscale.VCPU_MEMORY, bench_orgscale.WORKER_MEMORY
    scale = max(1.0, vcpu / memory)
    if any(t.changes for t in (vpc_before, member_before, vpc_after, member_after)):
        raise RuntimeError("the mesh is converged: no plan may change a route")
    planning_before, planning_after = vpc_before.plan, vpc_after.observe + vpc_after.plan
    ratio = planning_before / planning_after
    verdict = "meets" if ratio >= TARGET_RATIO else "**misses**"
    connections = len(member_mesh.connections())
    routes = member_mesh.vpcs * member_mesh.tables * member_mesh.vpcs
    vpc_label = f"one VPC, {vpc_tables} route tables, {vpc_peers} peers"
    member_label = f"member: {member_mesh.vpcs} VPCs fully meshed x {member_mesh.tables} tables"
    old_vpc, old_member = previous if previous else (None, None)
    # (case, step, before: scans restored, before: the previous commit, after)
    steps: list[tuple[str, str, float | None, float | None, float]] = [
        (vpc_label, "index its tables (at observation)", None, None, vpc_after.observe),
        (
            vpc_label,
            f"plan its {vpc_peers} connections",
            vpc_before.plan,
            old_vpc and old_vpc.plan,
            vpc_after.plan,
        ),
        (vpc_label, "plan, index included", planning_before, old_vpc and old_vpc.plan, planning_after),
        (
            member_label,
            "observe its tables (from_api; after: and index them)",
            member_before.observe,
            old_member and old_member.observe,
            member_after.observe,
        ),
        (
            member_label,
            f"converge: plan {connections} connections, both sides",
            member_before.plan,
            old_member and old_member.plan,
            member_after.plan,
        ),
        (
            member_label,
            f"its map fragment ({member_after.edges} edges)",
            member_before.fragment,
            old_member and old_member.fragment,
            member_after.fragment,
        ),
        (
            member_label,
            "the target's planning CPU, in all",
            member_before.total,
            old_member and old_member.total,
            member_after.total,
        ),
    ]
    rows = [
        "| case | step | before: scans restored | before: the previous commit's code | after: indexed | faster |",
        "|---|---|---|---|---|---|",
    ]
    for case, step, before, before_code, after in steps:
        faster = _ratio(before, after) if before is not None else "-"
        if step == "plan, index included":
            faster = f"**{faster}**"
        rows.append(
            f"| {case} | {step} | {_ms(before) if before is not None else '-'} "
            f"| {_ms(before_code) if before_code is not None else '-'} | {_ms(after)} | {faster} |"
        )
    rows.append(
        f"| {member_label} | the worker on moto: its target swept and its map fragment written "
        f"({on_moto.fragment_bytes / 1e6:.1f} MB, {on_moto.calls} AWS calls), moto's answering excluded "
        f"| {_ms(on_moto.before)} | - | {_ms(on_moto.after)} | {_ratio(on_moto.before, on_moto.after)} |"
    )
    if previous is None:
        checked = "The previous commit's code could not be run here (no git history): its column is empty."
    else:
        checked = (
            f"The previous commit's code ({BEFORE[:7]}, run in a subprocess) costs "
            f"{_ms(previous[0].plan)} for the VPC and {_ms(previous[1].total)} for the member, as the restored "
            f"scans do ({_ms(planning_before)}, {_ms(member_before.total)}): against it, "
            f"{previous[0].plan / planning_after:,.0f}x and {previous[1].total / member_after.total:,.0f}x."
        )
    return "\n".join(
        [
            *rows,
            "",
            f"Result: planning a VPC of {vpc_tables} route tables ({vpc_peers} connections, each planned on its "
            f"side) takes {_ms(planning_after)} of CPU with its tables indexed, index built included, against "
            f"{_ms(planning_before)} with the scans: {ratio:,.0f}x, which {verdict} the target (at least "
            f"{TARGET_RATIO:.0f}x). The member of issue 23 ({member_mesh.vpcs} VPCs, {connections} connections, "
            f"{member_mesh.tables} route tables each: {routes:,} routes) costs {_ms(member_after.total)} of "
            f"planning CPU for its target and fragment, against {_ms(member_before.total)} with the scans on "
            f"this machine; issue 23 measured {ISSUE_WORKER_SECONDS} s of worker time for it on main, "
            f"{ISSUE_IP_NETWORK_SHARE:.0%} of it in `ipaddress.ip_network` (the worker's reads and moto "
            f"included there; the pure planning alone here). Through the worker's handler on moto, the same "
            f"member costs the worker {_ms(on_moto.after)} of CPU, {_ms(on_moto.before)} with the scans (its "
            "reads parsed by botocore, the ledger, the fragment serialized; moto's own time left out, as AWS's "
            f"servers would answer it): at the worker's {memory} MB, about {_ms(on_moto.after * scale)} against "
            f"{_ms(on_moto.before * scale)} (x {scale:.2f}: one vCPU at {vcpu:,} MB). {checked}",
            "",
            "Each route table is indexed once, when it is observed: its routes by destination network "
            "(10.0.0.1/16 and 10.0.0.0/16, 2600:1f18:0000::/56 and 2600:1f18::/56 are one), by target, and "
            "counted per IP version; each spelling of a block is parsed once per environment "
            "(`network.parse_cidr`, a bounded cache). Planning a connection costs a constant-time look-up "
            "per table and destination, and its stale routes are found by target, not by parsing every "
            "route of every table; what remains of the member's time is mostly its map fragment, which "
            "draws every one of its routes.",
        ]
    )


if __name__ == "__main__":
    smoke = "--smoke" in sys.argv
    print(main(mesh=(5, 50)) if smoke else main())
