"""Benchmark: Cloud Custodian's peering checks beside the worker's dry run, on one moto server.

The same emulated account+Region (a fleet of active connections, some with routes missing on one
side or both, a few peered with another account) is read by:

- Cloud Custodian (c7n, from PyPI in its own virtualenv ``.venv-c7n``): a ``missing-route`` policy
  and a ``cross-account`` policy on ``aws.peering-connection``, as released, then once more with
  the one-character fix of its ``missing-route`` crash applied at start-up (labelled as such);
- the worker's dry run of that account+Region (``converge_target``), which reports the same drift
  as a plan without changing anything.

Calls are counted in each process by wrapping botocore's ``BaseClient._make_api_call`` (c7n: in a
``sitecustomize`` put on its path); findings are compared with the fleet's ground truth.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import textwrap
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3

import bench_common
from bench_common import HUB, REGION, ROOT
from emulation.server import MotoServer

C7N_VENV = ROOT / ".venv-c7n"
PEER_ACCOUNT = "222222222222"

#: Loaded by the c7n process: counts its AWS calls, optionally fixes missing-route, dumps at exit.
SITECUSTOMIZE = textwrap.dedent(
    """
    import atexit, json, os
    from collections import Counter
    import botocore.client

    _calls = Counter()
    _original = botocore.client.BaseClient._make_api_call

    def _counted(self, operation, params):
        _calls[self.meta.service_model.service_name + ":" + operation] += 1
        return _original(self, operation, params)

    botocore.client.BaseClient._make_api_call = _counted
    atexit.register(lambda: open(os.environ["BENCH_CALLS_FILE"], "w").write(json.dumps(_calls)))

    if os.environ.get("BENCH_FIX_MISSING_ROUTE") == "1":
        # c7n 0.9.53 reads r['k'] (a literal key) for r[k] in MissingRoute.process: same code,
        # that one subscript corrected.
        import inspect, textwrap as _tw
        from c7n.resources import vpc as _vpc
        _source = _tw.dedent(inspect.getsource(_vpc.MissingRoute.process)).replace("r['k']", "r[k]")
        _scope = dict(vars(_vpc))
        exec(_source, _scope)
        _vpc.MissingRoute.process = _scope["process"]
    """
)

POLICIES = textwrap.dedent(
    """
    policies:
      - name: peering-missing-route
        resource: aws.peering-connection
        filters: [missing-route]
      - name: peering-cross-account
        resource: aws.peering-connection
        filters: [{type: cross-account, whitelist: []}]
    """
)


@dataclass
class Fleet:
    """What the account+Region holds, and which findings a correct checker reports."""

    connections: list[str] = field(default_factory=list)
    missing_route: set[str] = field(default_factory=set)
    cross_account: set[str] = field(default_factory=set)


def _client(service: str, endpoint: str, account: str = HUB) -> Any:
    kwargs: dict[str, Any] = {"region_name": REGION, "endpoint_url": endpoint}
    if account != HUB:
        sts = boto3.client("sts", **kwargs)
        creds = sts.assume_role(RoleArn=f"arn:aws:iam::{account}:role/bench", RoleSessionName="bench")["Credentials"]
        kwargs |= {
            "aws_access_key_id": creds["AccessKeyId"],
            "aws_secret_access_key": creds["SecretAccessKey"],
            "aws_session_token": creds["SessionToken"],
        }
    return boto3.client(service, **kwargs)  # type: ignore[call-overload]


def seed(endpoint: str, count: int, *, drifted_every: int = 5, cross_every: int = 10) -> Fleet:
    """``count`` active same-account connections with routes both ways; every ``drifted_every``-th
    loses its routes on one side, every ``cross_every``-th is replaced by a cross-account peer."""
    ec2 = _client("ec2", endpoint)
    peer_ec2 = _client("ec2", endpoint, PEER_ACCOUNT)
    fleet = Fleet()
    for n in range(count):
        a = ec2.create_vpc(CidrBlock=f"10.{n // 100}.{(n % 100) * 2}.0/24")["Vpc"]
        cross = n % cross_every == cross_every - 1
        side_b = peer_ec2 if cross else ec2
        b = side_b.create_vpc(CidrBlock=f"10.{n // 100}.{(n % 100) * 2 + 1}.0/24")["Vpc"]
        pcx = ec2.create_vpc_peering_connection(
            VpcId=a["VpcId"], PeerVpcId=b["VpcId"], **({"PeerOwnerId": PEER_ACCOUNT} if cross else {})
        )["VpcPeeringConnection"]["VpcPeeringConnectionId"]
        side_b.accept_vpc_peering_connection(VpcPeeringConnectionId=pcx)
        fleet.connections.append(pcx)
        if cross:
            fleet.cross_account.add(pcx)
        drifted = n % drifted_every == drifted_every - 1
        for client, vpc, peer in ((ec2, a, b), (side_b, b, a)):
            if drifted and client is ec2:
                continue  # this account's side lost its route: both checkers should say so
            table = client.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [vpc["VpcId"]]}])
            client.create_route(
                RouteTableId=table["RouteTables"][0]["RouteTableId"],
                DestinationCidrBlock=peer["CidrBlock"],
                VpcPeeringConnectionId=pcx,
            )
        if drifted:
            fleet.missing_route.add(pcx)
    return fleet


@dataclass
class Run:
    tool: str
    seconds: float
    calls: Counter[str]
    findings: dict[str, set[str]]
    outcome: str


def run_custodian(endpoint: str, *, fixed: bool) -> Run:
    custodian = C7N_VENV / "bin" / "custodian"
    with tempfile.TemporaryDirectory(prefix="peering-c7n-") as scratch:
        work = Path(scratch)
        (work / "sitecustomize.py").write_text(SITECUSTOMIZE)
        (work / "policies.yml").write_text(POLICIES)
        env = {
            "PATH": os.environ.get("PATH", ""),
            "PYTHONPATH": str(work),
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",
            "AWS_DEFAULT_REGION": REGION,
            "BENCH_CALLS_FILE": str(work / "calls.json"),
            "BENCH_FIX_MISSING_ROUTE": "1" if fixed else "0",
        }
        started = time.perf_counter()
        done = subprocess.run(
            [
                str(custodian),
                "run",
                "--region",
                REGION,
                "--cache-period",
                "0",
                "-s",
                str(work / "out"),
                str(work / "policies.yml"),
            ],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        seconds = time.perf_counter() - started
        calls: Counter[str] = Counter(json.loads((work / "calls.json").read_text()))
        findings = {}
        for policy in ("peering-missing-route", "peering-cross-account"):
            resources = work / "out" / policy / "resources.json"
            if resources.exists():
                findings[policy] = {r["VpcPeeringConnectionId"] for r in json.loads(resources.read_text())}
        errors = [line for line in done.stderr.splitlines() if "Error" in line or "KeyError" in line]
        outcome = (
            "exit 0"
            if done.returncode == 0 and not errors
            else f"exit {done.returncode}: " + (errors[-1].strip() if errors else "no error line")
        )
    label = "Cloud Custodian 0.9.53" + (" (missing-route fixed at start-up)" if fixed else " as released")
    return Run(label, seconds, calls, findings, outcome)


def run_worker(endpoint: str) -> Run:
    """The worker's dry run of the same account+Region, in this process, against the same server."""
    import re  # noqa: PLC0415 - only this path needs it

    from peering.lifecycle.engine import Engine  # noqa: PLC0415
    from peering.runtime.config import Settings  # noqa: PLC0415
    from peering.sweep.messages import SweepTarget  # noqa: PLC0415
    from peering.sweep.target import converge_target  # noqa: PLC0415

    os.environ.update({"AWS_ENDPOINT_URL": endpoint, "DRY_RUN": "true"})
    try:
        bench_common.hub('{"schemaVersion": 1, "version": "bench", "rules": []}')
        engine = Engine(Settings.from_env())
        started = time.perf_counter()
        result = converge_target(engine, SweepTarget(HUB, REGION, "bench-c7n"))
        seconds = time.perf_counter() - started
    finally:
        for name in ("AWS_ENDPOINT_URL", "DRY_RUN"):
            os.environ.pop(name, None)
    calls: Counter[str] = Counter()
    for (_, _, operation), n in engine.aws.calls.items():
        calls[operation] += n
    # A connection is reported as missing a route when its plan creates or replaces one.
    drifted = {
        pcx for plan in result.plans for pcx in re.findall(r"(?:create|replace) route \S+ -> (pcx-[0-9a-f]+)", plan)
    }
    return Run("Peering Autopilot worker, dry run", seconds, calls, {"peering-missing-route": drifted}, "ok")


def _ec2_calls(run: Run) -> int:
    return sum(n for op, n in run.calls.items() if op.startswith("ec2:"))


def report(fleet: Fleet, runs: list[Run]) -> str:
    truth = {"peering-missing-route": fleet.missing_route, "peering-cross-account": fleet.cross_account}
    lines = [
        f"Fleet: {len(fleet.connections)} active connections in one account+Region, "
        f"{len(fleet.missing_route)} missing their route on this account's side, "
        f"{len(fleet.cross_account)} peered with another account.",
        "",
        "| tool | outcome | wall time (s) | AWS calls | EC2 calls | missing routes found (of "
        f"{len(fleet.missing_route)}) | cross-account found (of {len(fleet.cross_account)}) |",
        "|---|---|---|---|---|---|---|",
    ]
    for run in runs:
        cells = []
        for policy in ("peering-missing-route", "peering-cross-account"):
            if policy not in run.findings:
                cells.append("no result" if run.tool.startswith("Cloud") else "not a check it makes")
                continue
            found = run.findings[policy]
            right, wrong = len(found & truth[policy]), len(found - truth[policy])
            cells.append(f"{right}" + (f" (+{wrong} wrongly)" if wrong else ""))
        lines.append(
            f"| {run.tool} | {run.outcome} | {run.seconds:.2f} | {sum(run.calls.values())} | {_ec2_calls(run)} "
            f"| {cells[0]} | {cells[1]} |"
        )
    return "\n".join(lines)


def side_by_side(count: int = 50) -> str:
    """Seed a fleet on a fresh moto server, run every tool, return the report (markdown)."""
    if not (C7N_VENV / "bin" / "custodian").exists():
        return f"Cloud Custodian is not installed ({C7N_VENV}): run `make bench`, which creates it."
    with MotoServer() as server:
        fleet = seed(server.url, count)
        runs = [
            run_custodian(server.url, fixed=False),
            run_custodian(server.url, fixed=True),
            run_worker(server.url),
        ]
    return report(fleet, runs)


if __name__ == "__main__":
    print(side_by_side())
