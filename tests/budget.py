"""A thousand routes under EC2's throttle: the scenario of configure's and cleanup's time budget.

A connection between a VPC with 200 route tables and a peer with 5 CIDR blocks needs about 1,000
routes: about 200 s at EC2's 5 mutating calls a second, more than the 120 s an event function has.
EC2's mutating-call bucket is enforced in front of moto on a simulated clock
(``emulation.throttle``), and the Lambda context tells the time left from that clock. An event is
run as Lambda runs it: ``with_budget``, each invocation of the handler queues its continuation
(an asynchronous Invoke, recorded on its way to moto's Lambda) and the next invocation runs it;
``without_budget`` is the engine before issue 23 (the handler's work with no deadline), killed
by Lambda's timeout and retried by Lambda's asynchronous retries. Used by
``tests/reliability/test_budget.py`` (which asserts on the outcome) and
``scripts/bench_budget.py`` (which prints the figures).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from moto.core.config import default_user_config

from emulation.throttle import SimulatedClock, TokenBucket, ec2_throttled
from peering.aws.clients import shared_session
from peering.core.events import MAX_CONTINUATIONS
from peering.lifecycle.handler import handle
from tests.builders import ACCEPT_TAG, cloudtrail_event, make_vpc, request_peering
from tests.conftest import HUB_ACCOUNT, REGION, FakeContext, ec2, load_function

TIMEOUT_SECONDS = 120  # the event functions' (cleanup's: Globals in template.yaml)
TABLES = 200
PEER_BLOCKS = ("10.1.0.0/16", "10.2.0.0/16", "10.3.0.0/16", "10.4.0.0/16", "10.5.0.0/16")
CONFLICT = "10.3.0.0/16"  # someone else's route in one of the tables: a finding, notified once
# Lambda retries a failed asynchronous invocation twice (EventInvokeConfig.MaximumRetryAttempts).
LAMBDA_RETRIES = 2


@dataclass
class SimulatedContext(FakeContext):
    """A Lambda context whose time left is read from the simulated clock."""

    clock: SimulatedClock = field(default_factory=SimulatedClock)
    started: float = 0.0
    timeout: float = TIMEOUT_SECONDS

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.started + self.timeout - self.clock.now) * 1000))


@dataclass
class Continuations:
    """What the functions queued for their next invocation (Invoke, asynchronous), in order."""

    payloads: list[dict[str, Any]] = field(default_factory=list)
    targets: list[str] = field(default_factory=list)

    def record(self, params: dict[str, Any], **_: Any) -> None:
        assert params["InvocationType"] == "Event"
        self.targets.append(params["FunctionName"])
        self.payloads.append(json.loads(params["Payload"]))


@contextmanager
def recorded_continuations() -> Iterator[Continuations]:
    """moto's Lambda without Docker accepts an asynchronous Invoke (202) and runs nothing: the
    payloads are recorded on their way, and the caller runs the invocations Lambda would."""
    lambda_config = default_user_config["lambda"]
    used_docker = lambda_config.get("use_docker", True)
    lambda_config["use_docker"] = False
    queued = Continuations()
    shared_session().events.register("provide-client-params.lambda.Invoke", queued.record)
    try:
        yield queued
    finally:
        shared_session().events.unregister("provide-client-params.lambda.Invoke", queued.record)
        lambda_config["use_docker"] = used_docker


@dataclass
class Runs:
    """The invocations of one event: each one's simulated seconds and answer (None: killed)."""

    seconds: list[float] = field(default_factory=list)
    answers: list[dict[str, Any] | None] = field(default_factory=list)
    bucket: TokenBucket | None = None

    @property
    def timed_out(self) -> int:
        return sum(1 for answer in self.answers if answer is None)

    @property
    def total_seconds(self) -> float:
        return sum(self.seconds)


def function_arn(function: ModuleType) -> str:
    return f"arn:aws:lambda:{REGION}:{HUB_ACCOUNT}:function:{function.__name__}"


def with_budget(
    function: ModuleType, event: dict[str, Any], continuations: Continuations, timeout: float = TIMEOUT_SECONDS
) -> Runs:
    """Invoke ``function`` with ``event``, then with each continuation it queues, as Lambda would."""
    clock = SimulatedClock()
    runs = Runs()
    payload: dict[str, Any] | None = event
    with ec2_throttled(shared_session().events, clock) as runs.bucket:
        while payload is not None:
            assert len(runs.seconds) <= MAX_CONTINUATIONS, "a continuation beyond the last one allowed"
            context = SimulatedContext(
                function_name=function.__name__,
                invoked_function_arn=function_arn(function),
                clock=clock,
                timeout=timeout,
            )
            context.started = clock.now
            before = len(continuations.payloads)
            runs.answers.append(function.lambda_handler(payload, context))
            runs.seconds.append(clock.now - context.started)
            queued = continuations.payloads[before:]
            assert len(queued) <= 1, "one continuation per invocation"
            payload = queued[0] if queued else None
    return runs


class TimedOut(BaseException):
    """Lambda ended the invocation at its timeout (no ``except Exception`` sees it)."""


def without_budget(
    work: Callable[[dict[str, Any], Any], dict[str, Any]], event: dict[str, Any], timeout: float = TIMEOUT_SECONDS
) -> Runs:
    """The handler's ``work`` as it ran before issue 23 (no deadline), killed at the timeout the
    way Lambda kills it, and retried as Lambda retries an asynchronous invocation that failed."""
    clock = SimulatedClock()
    runs = Runs()
    started = 0.0

    def killed_at_the_timeout(**_: Any) -> None:
        if clock.now - started > timeout:
            raise TimedOut(f"Task timed out after {timeout:.2f} seconds")

    with ec2_throttled(shared_session().events, clock) as runs.bucket:
        # At the start of an EC2 call, before the throttle counts it: a call never made is not counted.
        shared_session().events.register("before-call.ec2", killed_at_the_timeout)
        try:
            for _ in range(1 + LAMBDA_RETRIES):
                started = clock.now
                try:
                    answer: dict[str, Any] | None = handle(event, work)
                except TimedOut:
                    answer = None
                runs.answers.append(answer)
                runs.seconds.append(min(clock.now - started, timeout))
                if answer is not None:
                    break
        finally:
            shared_session().events.unregister("before-call.ec2", killed_at_the_timeout)
    return runs


@dataclass(frozen=True)
class LargeConnection:
    pcx: str
    accept_event: dict[str, Any]
    routes: int  # the routes configure makes

    def delete_event(self) -> dict[str, Any]:
        """The requester deletes the connection (and CloudTrail tells the cleanup function)."""
        ec2(HUB_ACCOUNT).delete_vpc_peering_connection(VpcPeeringConnectionId=self.pcx)
        return _call_event("DeleteVpcPeeringConnection", self.pcx, {"_return": True})


def _call_event(name: str, pcx: str, response: dict[str, Any]) -> dict[str, Any]:
    return cloudtrail_event(
        name,
        account=HUB_ACCOUNT,
        region=REGION,
        request_parameters={"vpcPeeringConnectionId": pcx},
        response_elements=response,
    )


def large_connection(tables: int = TABLES) -> LargeConnection:
    """An accepted connection (same account+Region, not configured yet) between a VPC with
    ``tables`` route tables and a peer with 5 blocks, one table holding someone else's route for
    one of them. Needs the emulated organization (tests.conftest) and its default policy."""
    requester_vpc = make_vpc(HUB_ACCOUNT, "10.20.0.0/16")
    accepter_vpc = make_vpc(HUB_ACCOUNT, PEER_BLOCKS[0], tags=ACCEPT_TAG, extra_cidrs=PEER_BLOCKS[1:])
    hub = ec2(HUB_ACCOUNT)
    for vpc in (requester_vpc, accepter_vpc):
        hub.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})
    added = [hub.create_route_table(VpcId=requester_vpc)["RouteTable"]["RouteTableId"] for _ in range(tables - 1)]
    gateway = hub.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    hub.attach_internet_gateway(InternetGatewayId=gateway, VpcId=requester_vpc)
    hub.create_route(RouteTableId=added[0], DestinationCidrBlock=CONFLICT, GatewayId=gateway)
    pcx, request_event = request_peering(HUB_ACCOUNT, requester_vpc, HUB_ACCOUNT, accepter_vpc)
    assert load_function("accept").lambda_handler(request_event, FakeContext())["outcome"] == "accepted"
    accept_event = _call_event(
        "AcceptVpcPeeringConnection",
        pcx,
        {"vpcPeeringConnection": {"vpcPeeringConnectionId": pcx, "status": {"code": "provisioning"}}},
    )
    # Every requester table gets the 5 blocks (but the conflict), the peer's one table the requester's.
    return LargeConnection(pcx, accept_event, tables * len(PEER_BLOCKS) - 1 + 1)
