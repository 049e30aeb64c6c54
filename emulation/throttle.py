"""EC2's request throttling in front of moto, on a simulated clock (tests and benchmarks).

EC2 throttles each account+Region with token buckets; the mutating actions (CreateRoute,
DeleteRoute, ...) share one of 50 tokens that refills at 5 a second, and a call finding it empty
is answered ``RequestLimitExceeded`` (HTTP 503)
(https://docs.aws.amazon.com/ec2/latest/devguide/ec2-api-throttling.html). moto has no such
limit. ``ec2_throttled`` enforces the bucket with a botocore hook on a session's EC2 calls, and
moves a simulated clock instead of waiting: each call takes ``latency`` seconds, and botocore's
retry back-off and adaptive rate limiter wait on the same clock. So a repair of a thousand
routes takes its 200 simulated seconds in a few real ones, and a Lambda context can tell the
time left from the clock (``SimulatedContext`` in the tests).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import botocore.retries.bucket
from botocore.awsrequest import AWSResponse

# Where a throttled request is sent instead: no moto backend answers it (as in tests/faults.py).
NOWHERE = "https://throttled.invalid/"
CAPACITY = 50
REFILL_PER_SECOND = 5.0
MUTATING = frozenset(
    {
        "CreateRoute",
        "ReplaceRoute",
        "DeleteRoute",
        "CreateTags",
        "AcceptVpcPeeringConnection",
        "RejectVpcPeeringConnection",
        "DeleteVpcPeeringConnection",
        "ModifyVpcPeeringConnectionOptions",
        "RevokeSecurityGroupIngress",
        "RevokeSecurityGroupEgress",
    }
)


class SimulatedClock:
    """Seconds since the start; only sleeping (and the calls' latency) moves it."""

    def __init__(self) -> None:
        self.now = 0.0

    def sleep(self, seconds: float) -> None:
        self.now += max(seconds, 0.0)

    def current_time(self) -> float:
        return self.now


@dataclass
class TokenBucket:
    """EC2's mutating-call bucket for one account+Region, on the simulated clock."""

    clock: SimulatedClock
    capacity: float = CAPACITY
    refill_per_second: float = REFILL_PER_SECOND
    tokens: float = CAPACITY
    updated: float = 0.0
    #: calls sent and calls refused, by operation
    sent: Counter[str] = field(default_factory=Counter)
    throttled: Counter[str] = field(default_factory=Counter)

    def take(self, operation: str) -> bool:
        self.sent[operation] += 1
        now = self.clock.now
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.refill_per_second)
        self.updated = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        self.throttled[operation] += 1
        return False


class _Body:
    """The raw HTTP body botocore reads an error response from."""

    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._body


def _throttled(request: Any) -> AWSResponse:
    body = (
        b"<Response><Errors><Error><Code>RequestLimitExceeded</Code><Message>Request limit exceeded."
        b"</Message></Error></Errors><RequestID>simulated</RequestID></Response>"
    )
    return AWSResponse(request.url, 503, {"Content-Type": "text/xml"}, _Body(body))  # type: ignore[arg-type]


class _Waiting:
    """The adaptive rate limiter waits for tokens on a condition variable: it waits on the clock."""

    def __init__(self, clock: SimulatedClock) -> None:
        self._clock = clock

    def __enter__(self) -> None:
        return None

    def __exit__(self, *_: object) -> None:
        return None

    def wait(self, timeout: float | None = None) -> bool:
        # At least a microsecond, as a real clock would move: a wait shorter than the clock's float
        # resolution would otherwise never end.
        self._clock.sleep(max(timeout or 0.0, 1e-6))
        return True

    def notify(self, n: int = 1) -> None:
        return None

    def notify_all(self) -> None:
        return None


@contextmanager
def ec2_throttled(events: Any, clock: SimulatedClock, latency: float = 0.05) -> Iterator[TokenBucket]:
    """EC2 calls through ``events`` (a session's or a client's event system) throttled by one
    bucket, every call ``latency`` simulated seconds long; botocore waits on ``clock``.

    Clients made inside the block get the simulated clock for their adaptive rate limiter (each
    takes its clock when it is made): make the clients under test inside it.
    """
    bucket = TokenBucket(clock)

    class _Clock:
        def sleep(self, amount: float) -> None:
            clock.sleep(amount)

        def current_time(self) -> float:
            return clock.current_time()

    made_bucket = botocore.retries.bucket.TokenBucket.__init__

    def bucket_on_the_clock(self: Any, *args: Any, **kwargs: Any) -> None:
        made_bucket(self, *args, **kwargs)
        self._new_fill_rate_condition = _Waiting(clock)

    def gate(request: Any, event_name: str, **_: Any) -> AWSResponse | None:
        clock.sleep(latency)
        operation = event_name.rsplit(".", 1)[-1]
        if operation in MUTATING and not bucket.take(operation):
            # Every before-send handler runs, moto's too: sent nowhere, the call reaches no backend
            # (a throttled call changes nothing in AWS), and this answer is the one botocore reads.
            request.url = NOWHERE
            return _throttled(request)
        return None

    # botocore's retry back-off sleeps with time.sleep (botocore.endpoint): on the clock too.
    originals = (time.sleep, botocore.retries.bucket.Clock)
    time.sleep = clock.sleep  # type: ignore[assignment]
    botocore.retries.bucket.Clock = _Clock  # type: ignore[misc,assignment]
    botocore.retries.bucket.TokenBucket.__init__ = bucket_on_the_clock  # type: ignore[method-assign]
    events.register_first("before-send.ec2", gate)
    try:
        yield bucket
    finally:
        events.unregister("before-send.ec2", gate)
        time.sleep, botocore.retries.bucket.Clock = originals  # type: ignore[misc]
        botocore.retries.bucket.TokenBucket.__init__ = made_bucket  # type: ignore[method-assign]
