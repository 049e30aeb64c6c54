"""Benchmark: AWS API calls per operation, the main cost of the engine (moto, in-process).

For fleets of N active, converged same-account connections in one account+Region it prints:
- sweep (no drift): one worker run over the account+Region, from one snapshot;
- per-connection convergence (the peer in the same run): the configure path run for every
  connection, as a sweep that re-read each connection on its own would;
- sweep (drift): the same worker run when every route is missing;
and, for one request, the event path (accept, configure). Figures are counts, not seconds:
they do not depend on the machine. Run with `make bench`.
"""

from __future__ import annotations

import os
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "layers" / "peering"), str(ROOT)]
os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_DEFAULT_REGION": "us-east-1",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_NAMESPACE": "PeeringAutopilot",
        "POWERTOOLS_SERVICE_NAME": "bench",
        "POWERTOOLS_LOG_LEVEL": "ERROR",
        "LEDGER_TABLE": "bench-ledger",
        "POLICY_PARAMETER": "/bench/policy",
        "MOTO_EC2_LOAD_DEFAULT_AMIS": "false",
    }
)

import boto3  # noqa: E402
from moto import mock_aws  # noqa: E402

from emulation import fidelity  # noqa: E402
from peering import policy_store  # noqa: E402
from peering.config import Settings  # noqa: E402
from peering.engine import Engine  # noqa: E402
from peering.sweep import SweepTarget  # noqa: E402
from peering.sweep_region import converge_target  # noqa: E402

REGION = "us-east-1"
POLICY = "schemaVersion: 1\nversion: bench\nrules:\n  - {name: all, action: accept}\n"


def _hub() -> None:
    boto3.client("dynamodb", region_name=REGION).create_table(
        TableName="bench-ledger",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    boto3.client("ssm", region_name=REGION).put_parameter(Name="/bench/policy", Value=POLICY, Type="String")
    policy_store.reset()


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


def main() -> None:
    lines = [
        "| scenario | connections | EC2 calls | all AWS calls | EC2 floor |",
        "|---|---|---|---|---|",
    ]
    details: list[str] = []
    for count in (1, 10, 50):
        with mock_aws():
            fidelity.enable()
            _hub()
            ids = _pairs(count)
            account = _engine().aws.own_account

            engine = _engine()
            converge_target(engine, SweepTarget(account, REGION, "bench"))
            lines.append(_row("sweep, no drift", count, engine.aws.calls, 3))
            if count == 50:
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

    with mock_aws():
        fidelity.enable()
        _hub()
        ec2 = boto3.client("ec2", region_name=REGION)
        a = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
        b = ec2.create_vpc(CidrBlock="10.1.0.0/16")["Vpc"]["VpcId"]
        pcx = ec2.create_vpc_peering_connection(VpcId=a, PeerVpcId=b)["VpcPeeringConnection"]["VpcPeeringConnectionId"]
        accept = _engine()
        accept.converge_request(pcx, accept.aws.own_account, REGION)
        # floor: read the connection and the accepter VPC, accept it
        lines.append(_row("event: accept one request", 1, accept.aws.calls, 3))
        details.append(
            "accept, by operation: " + ", ".join(f"{op} {n}" for op, n in sorted(_ops(accept.aws.calls).items()))
        )
        configure = _engine()
        configure.converge_connection(pcx, configure.aws.own_account, REGION)
        # floor: read the connection, both VPCs' route tables, create two routes
        lines.append(_row("event: configure one connection", 1, configure.aws.calls, 5))
        details.append(
            "configure, by operation: " + ", ".join(f"{op} {n}" for op, n in sorted(_ops(configure.aws.calls).items()))
        )

    print("\n".join(lines))
    print()
    print("\n".join(details))


if __name__ == "__main__":
    main()
