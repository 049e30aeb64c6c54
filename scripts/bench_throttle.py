"""Benchmark: route installs under EC2's mutating-call token bucket, on a simulated clock.

EC2 throttles each account+Region with token buckets: mutating actions share one of 50 tokens that
refills at 5 per second (AWS-FACTS.md, EC2 request throttling). A hook in front of moto enforces
such a bucket on every mutating EC2 call and answers ``RequestLimitExceeded`` (HTTP 503) when it is
empty, exactly what EC2 does. Time is simulated: each call takes LATENCY seconds, and botocore's
retry back-off and adaptive rate limiter wait on the same clock, so a run takes no real waiting.

The scenario is a sweep target missing many routes (one VPC with TABLES route tables peered to
PEERS VPCs): the worker installs them all. The figure is the install throughput against the
bucket's refill rate, after the initial burst (target >= 0.9), and whether any call failed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import botocore.endpoint
import botocore.retries.bucket
from botocore.awsrequest import AWSResponse
from moto import mock_aws

from bench_common import HUB, REGION, client, counting, hub, remove_peering_routes
from emulation import fidelity

CAPACITY = 50
REFILL_PER_SECOND = 5.0
LATENCY = 0.05  # seconds per call, on the simulated clock
MUTATING = (
    "CreateRoute",
    "ReplaceRoute",
    "DeleteRoute",
    "CreateTags",
    "AcceptVpcPeeringConnection",
    "ModifyVpcPeeringConnectionOptions",
)


class SimulatedClock:
    def __init__(self) -> None:
        self.now = 0.0

    def sleep(self, seconds: float) -> None:
        self.now += max(seconds, 0.0)

    def current_time(self) -> float:
        return self.now


class TokenBucket:
    """EC2's bucket for one account+Region, on the simulated clock."""

    def __init__(self, clock: SimulatedClock) -> None:
        self.clock = clock
        self.tokens = float(CAPACITY)
        self.updated = 0.0
        self.throttled = 0
        self.granted = 0

    def take(self) -> bool:
        now = self.clock.now
        self.tokens = min(CAPACITY, self.tokens + (now - self.updated) * REFILL_PER_SECOND)
        self.updated = now
        if self.tokens >= 1:
            self.tokens -= 1
            self.granted += 1
            return True
        self.throttled += 1
        return False


def _throttled_response(request: Any) -> AWSResponse:
    body = (
        b"<Response><Errors><Error><Code>RequestLimitExceeded</Code><Message>Request limit exceeded."
        b"</Message></Error></Errors><RequestID>bench</RequestID></Response>"
    )
    response = AWSResponse(request.url, 503, {"Content-Type": "text/xml"}, None)
    response._content = body
    return response


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


def measure(tables: int = 20, peers: int = 15) -> ThrottleFigures:
    from peering.lifecycle.engine import Engine  # noqa: PLC0415
    from peering.runtime.config import Settings  # noqa: PLC0415 - after bench_common set the environment
    from peering.sweep.messages import SweepTarget  # noqa: PLC0415
    from peering.sweep.target import converge_target  # noqa: PLC0415

    clock = SimulatedClock()
    bucket = TokenBucket(clock)
    originals = (botocore.endpoint.time.sleep, botocore.retries.bucket.Clock)

    class _Clock:
        def sleep(self, amount: float) -> None:
            clock.sleep(amount)

        def current_time(self) -> float:
            return clock.current_time()

    class _Waiting:
        """The adaptive limiter waits for tokens on a condition variable: let it wait on our clock."""

        def __enter__(self) -> None:
            return None

        def __exit__(self, *_: object) -> None:
            return None

        def wait(self, timeout: float | None = None) -> bool:
            # At least a microsecond, as a real clock would move: a wait shorter than the float
            # resolution of the clock would otherwise never end.
            clock.sleep(max(timeout or 0.0, 1e-6))
            return True

        def notify(self, n: int = 1) -> None:
            return None

        def notify_all(self) -> None:
            return None

    made_bucket = botocore.retries.bucket.TokenBucket.__init__

    def bucket_on_our_clock(self: Any, *args: Any, **kwargs: Any) -> None:
        made_bucket(self, *args, **kwargs)
        self._new_fill_rate_condition = _Waiting()

    def gate(request: Any, event_name: str, **_: Any) -> AWSResponse | None:
        clock.sleep(LATENCY)
        if event_name.rsplit(".", 1)[-1] in MUTATING and not bucket.take():
            return _throttled_response(request)
        return None

    with mock_aws():
        fidelity.enable()
        hub()
        _world(tables, peers)
        remove_peering_routes(client("ec2", HUB))
        # The clock first: each client's adaptive rate limiter takes its Clock when it is made.
        botocore.endpoint.time.sleep = clock.sleep  # type: ignore[assignment]
        botocore.retries.bucket.Clock = _Clock  # type: ignore[misc,assignment]
        botocore.retries.bucket.TokenBucket.__init__ = bucket_on_our_clock  # type: ignore[method-assign]
        failed = None
        try:
            engine = Engine(Settings.from_env())
            ec2 = engine.aws.client("ec2", engine.aws.own_account, REGION)
            ec2.meta.events.register("before-send.ec2", gate)
            with counting():
                converge_target(engine, SweepTarget(engine.aws.own_account, REGION, "bench-throttle"))
        except Exception as exc:
            failed = f"{type(exc).__name__}: {exc}"[:160]
        finally:
            botocore.endpoint.time.sleep, botocore.retries.bucket.Clock = originals  # type: ignore[misc]
            botocore.retries.bucket.TokenBucket.__init__ = made_bucket  # type: ignore[method-assign]
        installed = sum(
            1
            for table in client("ec2", HUB).describe_route_tables()["RouteTables"]
            for route in table["Routes"]
            if route.get("VpcPeeringConnectionId")
        )
    return ThrottleFigures(installed, clock.now, bucket.throttled, failed)


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
