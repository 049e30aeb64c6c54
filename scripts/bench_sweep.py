"""Benchmark: the sweep's calls per account+Region against converging connection by connection.

For fleets of N active, converged same-account connections in one account+Region:
- sweep (no drift): one worker run over the account+Region, from one snapshot;
- per-connection convergence (the peer in the same run): the configure path run for every
  connection, as a sweep that re-read each connection on its own would;
- sweep (drift): the same worker run when every route is missing; its ledger writes beside the
  figures before issue 23, when each connection cost one BatchWriteItem of route records and one
  PutItem of history (now both are batched across the run's connections, 25 items a request).
Figures are counts, not seconds: they do not depend on the machine.
"""

from __future__ import annotations

from collections import Counter

import boto3
from moto import mock_aws

from bench_common import REGION, hub
from emulation import fidelity
from peering.lifecycle.engine import Engine
from peering.runtime.config import Settings
from peering.sweep.messages import SweepTarget
from peering.sweep.target import converge_target


def _engine() -> Engine:
    return Engine(Settings.from_env())


def _pairs(count: int) -> list[str]:
    """N accepted and configured connections between fresh VPC pairs."""
    ec2 = boto3.client("ec2", region_name=REGION)
    ids = []
    for n in range(count):
        a = ec2.create_vpc(CidrBlock=f"10.{(2 * n) % 250}.{(2 * n) // 250}.0/24")["Vpc"]["VpcId"]
        b = ec2.create_vpc(CidrBlock=f"10.{(2 * n + 1) % 250}.{(2 * n + 1) // 250}.0/24")["Vpc"]["VpcId"]
        for vpc in (a, b):
            ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})
        pcx = ec2.create_vpc_peering_connection(VpcId=a, PeerVpcId=b)["VpcPeeringConnection"]["VpcPeeringConnectionId"]
        engine = _engine()
        engine.converge_request(pcx, engine.aws.own_account, REGION)
        engine.converge_connection(pcx, engine.aws.own_account, REGION)
        ids.append(pcx)
    return ids


def _ops(calls: Counter[tuple[str, str, str]], service: str | None = None) -> Counter[str]:
    out: Counter[str] = Counter()
    for (_, _, op), n in calls.items():
        if service is None or op.startswith(service + ":"):
            out[op] += n
    return out


def _row(name: str, n: int, calls: Counter[tuple[str, str, str]], floor: int | str) -> str:
    ec2 = sum(_ops(calls, "ec2").values())
    total = sum(_ops(calls).values())
    return f"| {name} | {n} | {ec2} | {total} | {floor} |"


def main(sizes: tuple[int, ...] = (1, 10, 50)) -> str:
    lines = [
        "| scenario | connections | EC2 calls | all AWS calls | EC2 floor |",
        "|---|---|---|---|---|",
    ]
    details: list[str] = []
    writes = [
        "",
        "Ledger writes of the sweep when every route is missing (2 routes per connection):",
        "",
        "| connections | routes | BatchWriteItem | PutItem | before issue 23 (BatchWriteItem + PutItem) |",
        "|---|---|---|---|---|",
    ]
    for count in sizes:
        with mock_aws():
            fidelity.enable()
            hub()
            ids = _pairs(count)
            account = _engine().aws.own_account

            engine = _engine()
            converge_target(engine, SweepTarget(account, REGION, "bench"))
            lines.append(_row("sweep, no drift", count, engine.aws.calls, 3))
            if count == sizes[-1]:
                details.append(
                    "sweep, no drift, by operation: "
                    + ", ".join(f"{op} {n}" for op, n in sorted(_ops(engine.aws.calls).items()))
                )

            peer = _engine()
            for pcx in ids:
                peer.converge_connection(pcx, account, REGION)
            lines.append(_row("per-connection convergence, no drift", count, peer.aws.calls, "-"))

            ec2 = boto3.client("ec2", region_name=REGION)
            for table in ec2.describe_route_tables()["RouteTables"]:
                for route in table["Routes"]:
                    if route.get("VpcPeeringConnectionId"):
                        ec2.delete_route(
                            RouteTableId=table["RouteTableId"], DestinationCidrBlock=route["DestinationCidrBlock"]
                        )
            drift = _engine()
            converge_target(drift, SweepTarget(account, REGION, "bench"))
            lines.append(_row("sweep, every route missing", count, drift.aws.calls, 3 + 2 * count))
            ledger = _ops(drift.aws.calls, "dynamodb")
            writes.append(
                f"| {count} | {2 * count} | {ledger['dynamodb:BatchWriteItem']} | {ledger['dynamodb:PutItem']} "
                f"| {count} + {count} |"
            )

    return "\n".join(lines) + "\n\n" + "\n".join(details) + "\n" + "\n".join(writes)


if __name__ == "__main__":
    print(main())
