"""Lambda's asynchronous invocation of the stack's functions, on a simulated clock.

EventBridge invokes a Lambda target asynchronously: the event goes into a queue that Lambda keeps
for the function, and Lambda runs the function from it. What Lambda then does, per the Lambda
developer guide ("How Lambda handles errors and retries with asynchronous invocation",
https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-error-handling.html) and the
function's ``AWS::Lambda::EventInvokeConfig``:

- at most the function's reserved concurrency (``ReservedConcurrentExecutions``) runs at once; a
  function without one shares what the others leave of the Region's concurrency (1,000 by
  default). An event beyond that is *throttled*: returned to the queue and tried again after 1 s,
  then 2, 4, ... up to 5 minutes between tries, as long as the event is younger than its maximum
  age. A throttle is not a function error: it uses none of the retry attempts. AWS does not say
  how the tries of many throttled events are spread; here each wait is drawn between half and
  all of its step (a seeded generator: runs repeat). Without any spread, events throttled
  together would come back together, forever: a herd that runs only ``reserved`` per wave;
- a function error (the handler raised) is retried ``MaximumRetryAttempts`` times, 1 minute after
  the first failed attempt and 2 minutes after the second;
- an event that fails every attempt, or ages past ``MaximumEventAgeInSeconds``, goes to the
  on-failure destination (an SQS queue in this stack) as a destination record.

Nothing sleeps here. An invocation runs in this process when its turn comes on the simulated clock
and takes the simulated time ``duration`` gives it (a latency model); invocations whose intervals
overlap on that clock ran at once. The handlers run one after another, in the order of their start
times. What AWS also says and this leaves out: under a long queue Lambda reads it more slowly, may
deliver an event twice, and may drop events it cannot keep up with (the sweep is the backstop).
"""

from __future__ import annotations

import heapq
import itertools
import json
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from runner.cfn import Stack
from runner.invoke import Invocation

__all__ = [
    "DEFAULT_EVENT_AGE",
    "REGION_CONCURRENCY",
    "AsyncConfig",
    "AsyncLambda",
    "Dropped",
    "Run",
    "async_configs",
    "spread",
    "throttle_delay",
]

#: the Region's concurrency limit, Lambda's default quota
REGION_CONCURRENCY = 1_000
#: Lambda's defaults without an EventInvokeConfig: 2 retries, events kept 6 hours
DEFAULT_RETRIES = 2
DEFAULT_EVENT_AGE = 6 * 3600
#: after a function error: 1 minute before the first retry, 2 before the second
ERROR_DELAYS = (60.0, 120.0)
#: after a throttle: 1 s after the first, doubling, at most 5 minutes
THROTTLE_DELAY_CAP = 300.0


def throttle_delay(throttles: int) -> float:
    """The longest wait before the next try of an event throttled ``throttles`` times (1, 2, 4, ... 300 s)."""
    return min(THROTTLE_DELAY_CAP, 2.0 ** (throttles - 1))


def spread(seed: int = 23) -> Callable[[float], float]:
    """A wait drawn between half and all of ``step`` (seeded, so a run repeats)."""
    draw = random.Random(seed)  # noqa: S311 - a simulation, not a secret
    return lambda step: draw.uniform(step / 2, step)


@dataclass(frozen=True)
class AsyncConfig:
    """How Lambda invokes one function asynchronously, as the stack configures it."""

    function: str  # logical id
    reserved: int | None = None  # ReservedConcurrentExecutions; None: the unreserved pool
    maximum_retries: int = DEFAULT_RETRIES
    maximum_event_age: float = DEFAULT_EVENT_AGE
    on_failure: str | None = None  # the destination's ARN


def async_configs(stack: Stack) -> dict[str, AsyncConfig]:
    """Each function's reserved concurrency and EventInvokeConfig, resolved with the stack's parameters."""
    invoke_configs: dict[str, dict[str, Any]] = {}
    for logical_id, body in stack.resources.items():
        if body.get("Type") == "AWS::Lambda::EventInvokeConfig" and stack.is_created(logical_id):
            props = stack.resolve(body.get("Properties") or {})
            invoke_configs[str(props["FunctionName"])] = props
    found: dict[str, AsyncConfig] = {}
    for logical_id, body in stack.resources.items():
        if body.get("Type") != "AWS::Lambda::Function" or not stack.is_created(logical_id):
            continue
        reserved = stack.resolve(body.get("Properties") or {}).get("ReservedConcurrentExecutions")
        props = invoke_configs.get(stack.physical_name(logical_id), {})
        found[logical_id] = AsyncConfig(
            function=logical_id,
            reserved=None if reserved is None else int(reserved),
            maximum_retries=int(props.get("MaximumRetryAttempts", DEFAULT_RETRIES)),
            maximum_event_age=float(props.get("MaximumEventAgeInSeconds", DEFAULT_EVENT_AGE)),
            on_failure=((props.get("DestinationConfig") or {}).get("OnFailure") or {}).get("Destination"),
        )
    return found


@dataclass(frozen=True)
class Run:
    """One invocation on the simulated clock."""

    function: str
    event_id: str
    start: float
    end: float
    failed: bool  # the handler raised (a function error)


@dataclass(frozen=True)
class Dropped:
    """An event Lambda gave up on, sent to the on-failure destination."""

    function: str
    event: dict[str, Any]
    condition: str  # RetriesExhausted | EventAgeExceeded
    at: float
    attempts: int


@dataclass(order=True)
class _Queued:
    due: float
    order: int
    function: str = field(compare=False)
    event: dict[str, Any] = field(compare=False)
    context: Any = field(compare=False)
    received: float = field(compare=False)
    attempts: int = field(default=0, compare=False)  # invocations so far (function errors)
    throttles: int = field(default=0, compare=False)


class AsyncLambda:
    """Lambda's event queue of each function, its concurrency and its retries, on a simulated clock.

    ``submit`` queues an event; ``step`` takes the next due event and runs, throttles or drops it;
    ``runs``, ``throttles`` and ``dropped`` say what happened. ``run(function, event, context)``
    runs the handler and returns its ``Invocation``; ``send(destination ARN, record)`` delivers a
    destination record.
    """

    def __init__(
        self,
        configs: dict[str, AsyncConfig],
        run: Callable[[str, dict[str, Any], Any], Invocation],
        send: Callable[[str, dict[str, Any]], None],
        *,
        duration: Callable[[Invocation], float] = lambda invocation: invocation.duration_ms / 1000,
        region_concurrency: int = REGION_CONCURRENCY,
        function_arn: Callable[[str], str] = str,
        jitter: Callable[[float], float] | None = None,
    ) -> None:
        self.configs = configs
        self._jitter = jitter or spread()
        self._function_arn = function_arn
        self.origin = datetime.now(UTC)  # the wall time the simulated clock's 0 stands for
        self._run = run
        self._send = send
        self._duration = duration
        reserved = sum(c.reserved or 0 for c in configs.values())
        self.unreserved = region_concurrency - reserved
        self.now = 0.0
        self.runs: list[Run] = []
        self.dropped: list[Dropped] = []
        self.throttles: Counter[str] = Counter()
        self._queue: list[_Queued] = []
        self._order = itertools.count()
        self._running: dict[str, list[float]] = {name: [] for name in configs}  # end times, a heap each

    def submit(self, function: str, event: dict[str, Any], context: Any = None) -> None:
        """An asynchronous invocation (EventBridge's): queued now, run when its turn comes."""
        self._push(_Queued(self.now, next(self._order), function, event, context, received=self.now))

    @property
    def waiting(self) -> int:
        return len(self._queue)

    def step(self) -> bool:
        """Handle the next due event; False when nothing is queued."""
        if not self._queue:
            return False
        item = heapq.heappop(self._queue)
        self.now = max(self.now, item.due)
        config = self.configs[item.function]
        self._release()
        if self._busy(config):
            self._throttled(item, config)
        else:
            self._invoke(item, config)
        return True

    def drain(self) -> None:
        while self.step():
            pass

    # -- concurrency --------------------------------------------------------------------------

    def _release(self) -> None:
        for ends in self._running.values():
            while ends and ends[0] <= self.now:
                heapq.heappop(ends)

    def _busy(self, config: AsyncConfig) -> bool:
        if config.reserved is not None:
            return len(self._running[config.function]) >= config.reserved
        shared = sum(len(ends) for name, ends in self._running.items() if self.configs[name].reserved is None)
        return shared >= self.unreserved

    # -- outcomes -----------------------------------------------------------------------------

    def _throttled(self, item: _Queued, config: AsyncConfig) -> None:
        self.throttles[item.function] += 1
        item.throttles += 1
        item.due = self.now + self._jitter(throttle_delay(item.throttles))
        self._retry_or_drop(item, config)

    def _invoke(self, item: _Queued, config: AsyncConfig) -> None:
        invocation = self._run(item.function, item.event, item.context)
        end = self.now + max(0.0, self._duration(invocation))
        heapq.heappush(self._running[item.function], end)
        failed = invocation.error is not None  # a result, even {"ok": false}, is a success to Lambda
        self.runs.append(Run(item.function, str(item.event.get("id", "")), self.now, end, failed))
        item.attempts += 1
        if not failed:
            return
        if item.attempts > config.maximum_retries:
            self._drop(item, config, "RetriesExhausted", invocation)
            return
        item.due = end + ERROR_DELAYS[min(item.attempts, len(ERROR_DELAYS)) - 1]
        self._retry_or_drop(item, config, invocation)

    def _retry_or_drop(self, item: _Queued, config: AsyncConfig, invocation: Invocation | None = None) -> None:
        if item.due - item.received > config.maximum_event_age:
            self._drop(item, config, "EventAgeExceeded", invocation)
        else:
            self._push(item)

    def _push(self, item: _Queued) -> None:
        heapq.heappush(self._queue, item)

    def _drop(self, item: _Queued, config: AsyncConfig, condition: str, invocation: Invocation | None) -> None:
        self.dropped.append(Dropped(item.function, item.event, condition, self.now, item.attempts))
        if config.on_failure is not None:
            self._send(config.on_failure, self._destination_record(item, condition, invocation))

    def _destination_record(self, item: _Queued, condition: str, invocation: Invocation | None) -> dict[str, Any]:
        """What Lambda writes to an on-failure destination (its request and response contexts)."""
        response: dict[str, Any] = {}
        if invocation is not None and invocation.error is not None:
            response = {**invocation.error_payload(), "stackTrace": []}
        return {
            "version": "1.0",
            "timestamp": (self.origin + timedelta(seconds=self.now)).isoformat(),
            "requestContext": {
                "functionArn": self._function_arn(item.function),
                "condition": condition,
                "approximateInvokeCount": item.attempts,
            },
            "requestPayload": json.loads(json.dumps(item.event, default=str)),
            "responseContext": {"functionError": "Unhandled"} if response else {},
            "responsePayload": response,
        }
