"""Benchmark: route installs under EC2's mutating-call token bucket, on a simulated clock.

EC2 throttles each account+Region with token buckets: mutating actions share one of 50 tokens that
refills at 5 per second (AWS-FACTS.md, EC2 request throttling). ``emulation.throttle`` enforces
such a bucket in front of moto on every mutating EC2 call and answers ``RequestLimitExceeded``
(HTTP 503) when it is empty, exactly what EC2 does (the throttled call changes nothing). Time is
simulated: each call takes LATENCY seconds, and botocore's retry back-off and adaptive rate
limiter wait on the same clock, so a run takes no real waiting.

The scenario is a sweep target missing many routes (one VPC with TABLES route tables peered to
PEERS VPCs): the worker installs them all. The figure is the install throughput against the
bucket's refill rate, after the initial burst (target >= 0.9), and whether any call failed.
"""

from __future__ import annotations

from dataclasses import dataclass

from moto import mock_aws

from bench_common import HUB, REGION, client, counting, hub, mark_managed, remove_peering_routes
from emulation import fidelity
from emulation.throttle import CAPACITY, REFILL_PER_SECOND, SimulatedClock, ec2_throttled

LATENCY = 0.05  # seconds per call, on the simulated clock


@dataclass(frozen=True)
class ThrottleFigures:
    routes: int
    seconds: float
    throttled: int
    failed: str | None

    @property
    def sustained_ratio(self) -> float:
        """Routes per second beyond the initial burst, against the refill rate."""
        beyond_burst = max(self.routes - CAPACITY, 0)
        return beyond_burst / self.seconds / REFILL_PER_SECOND if self.seconds else 0.0


def _world(tables: int, peers: int) -> None:
    ec2 = client("ec2", HUB)
    hub_vpc = ec2.create_vpc(CidrBlock="10.200.0.0/16")["Vpc"]["VpcId"]
    for _ in range(tables - 1):
        ec2.create_route_table(VpcId=hub_vpc)
    for n in range(peers):
        peer = ec2.create_vpc(CidrBlock=f"10.{n}.0.0/24")["Vpc"]["VpcId"]
        pcx = ec2.create_vpc_peering_connection(VpcId=peer, PeerVpcId=hub_vpc)["VpcPeeringConnection"]
        ec2.accept_vpc_peering_connection(VpcPeeringConnectionId=pcx["VpcPeeringConnectionId"])
        mark_managed(pcx["VpcPeeringConnectionId"])


def measure(tables: int = 20, peers: int = 15) -> ThrottleFigures:
    from peering.aws.clients import shared_session  # noqa: PLC0415
    from peering.lifecycle.engine import Engine  # noqa: PLC0415
    from peering.runtime.config import Settings  # noqa: PLC0415 - after bench_common set the environment
    from peering.sweep.messages import SweepTarget  # noqa: PLC0415
    from peering.sweep.target import converge_target  # noqa: PLC0415

    clock = SimulatedClock()
    with mock_aws():
        fidelity.enable()
        hub()
        _world(tables, peers)
        remove_peering_routes(client("ec2", HUB))
        failed = None
        # The engine's clients are made inside: each takes the simulated clock when it is made.
        with ec2_throttled(shared_session().events, clock, LATENCY) as bucket:
            try:
                engine = Engine(Settings.from_env())
                with counting():
                    converge_target(engine, SweepTarget(engine.aws.own_account, REGION, "bench-throttle"))
            except Exception as exc:
                failed = f"{type(exc).__name__}: {exc}"[:160]
        installed = sum(
            1
            for table in client("ec2", HUB).describe_route_tables()["RouteTables"]
            for route in table["Routes"]
            if route.get("VpcPeeringConnectionId")
        )
    return ThrottleFigures(installed, clock.now, sum(bucket.throttled.values()), failed)


def table(figures: ThrottleFigures, tables: int, peers: int) -> str:
    return "\n".join(
        [
            "| routes to install | simulated time (s) | throttled calls | sustained rate / refill rate | failure |",
            "|---|---|---|---|---|",
            f"| {figures.routes} ({tables} tables x {peers} peers, and their side) | {figures.seconds:.1f} "
            f"| {figures.throttled} | {figures.sustained_ratio:.2f} | {figures.failed or 'none'} |",
        ]
    )


def main(tables: int = 20, peers: int = 15) -> str:
    return table(measure(tables, peers), tables, peers)


if __name__ == "__main__":
    print(main())
