"""runner.lambda_async: Lambda's asynchronous invocation (queue, concurrency, retries, destinations)
on a simulated clock, and the settings it reads from the stack.

The figures are the Lambda developer guide's ("How Lambda handles errors and retries with
asynchronous invocation"): a throttled event is tried again after 1 s, doubling up to 5 minutes,
until its maximum age; a function error is retried twice, 1 and then 2 minutes later.
"""

from __future__ import annotations

from typing import Any

import pytest

from runner.cfn import Stack
from runner.invoke import Invocation
from runner.lambda_async import AsyncConfig, AsyncLambda, async_configs, spread, throttle_delay

HUB = "123456789012"


class Handler:
    """A fake handler: each event's outcome by its id ("fail" raises), and what it sent."""

    def __init__(self, failing: set[str] | None = None) -> None:
        self.failing = failing or set()
        self.sent: list[tuple[str, dict[str, Any]]] = []

    def run(self, function: str, event: dict[str, Any], context: Any) -> Invocation:
        error = RuntimeError("boom") if event["id"] in self.failing else None
        result = None if error else {"ok": event["id"] != "refused"}
        return Invocation(function, result, error, duration_ms=0)

    def send(self, arn: str, record: dict[str, Any]) -> None:
        self.sent.append((arn, record))


def service(handler: Handler, seconds: float = 10.0, **config: Any) -> AsyncLambda:
    configs = {"F": AsyncConfig("F", **config), "G": AsyncConfig("G")}
    return AsyncLambda(
        configs, handler.run, handler.send, duration=lambda _: seconds, region_concurrency=10, jitter=lambda step: step
    )


def starts(lambda_async: AsyncLambda, event_id: str) -> list[float]:
    return [r.start for r in lambda_async.runs if r.event_id == event_id]


def test_the_throttle_backoff_doubles_from_one_second_to_five_minutes() -> None:
    assert [throttle_delay(n) for n in range(1, 12)] == [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300]


def test_each_wait_is_spread_between_half_and_all_of_its_step() -> None:
    waits = [spread()(step) for step in (1.0, 300.0)]
    assert 0.5 <= waits[0] <= 1.0
    assert 150.0 <= waits[1] <= 300.0
    assert [spread(7)(8.0) for _ in range(2)] == [spread(7)(8.0)] * 2  # seeded: a run repeats


def test_an_event_beyond_the_reservation_waits_and_runs_without_using_a_retry() -> None:
    handler = Handler()
    lambda_async = service(handler, reserved=1)
    for event_id in ("a", "b"):
        lambda_async.submit("F", {"id": event_id})

    lambda_async.drain()

    assert starts(lambda_async, "a") == [0.0]
    # Throttled at 0, 1, 3 and 7 (the first run lasts until 10), run at 15 (1 + 2 + 4 + 8).
    assert starts(lambda_async, "b") == [15.0]
    assert lambda_async.throttles["F"] == 4
    assert not lambda_async.dropped
    assert not handler.sent


def test_a_function_error_is_retried_twice_then_sent_to_the_destination() -> None:
    handler = Handler(failing={"a"})
    lambda_async = service(handler, reserved=1, on_failure="arn:aws:sqs:us-east-1:123456789012:dlq")
    lambda_async.submit("F", {"id": "a"})

    lambda_async.drain()

    # Each attempt lasts 10 s; then 1 minute, then 2 minutes before the next.
    assert starts(lambda_async, "a") == [0.0, 70.0, 200.0]
    ((arn, record),) = handler.sent
    assert arn == "arn:aws:sqs:us-east-1:123456789012:dlq"
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 3
    assert record["requestPayload"] == {"id": "a"}
    assert record["responsePayload"]["errorType"] == "RuntimeError"


def test_an_event_older_than_its_maximum_age_is_dropped_to_the_destination() -> None:
    handler = Handler()
    lambda_async = service(handler, seconds=100.0, reserved=1, maximum_event_age=30, on_failure="dlq")
    for event_id in ("long", "late"):
        lambda_async.submit("F", {"id": event_id})

    lambda_async.drain()

    assert starts(lambda_async, "late") == []
    ((dropped),) = lambda_async.dropped
    assert (dropped.event["id"], dropped.condition, dropped.attempts) == ("late", "EventAgeExceeded", 0)
    assert handler.sent[0][1]["requestContext"]["condition"] == "EventAgeExceeded"


def test_a_typed_error_result_is_a_success_to_lambda() -> None:
    handler = Handler()
    lambda_async = service(handler, reserved=1)
    lambda_async.submit("F", {"id": "refused"})

    lambda_async.drain()

    assert len(lambda_async.runs) == 1
    assert not lambda_async.runs[0].failed


def test_functions_without_a_reservation_share_what_the_reservations_leave() -> None:
    handler = Handler()
    lambda_async = service(handler, reserved=4)  # F reserves 4 of the Region's 10; G shares 6
    for n in range(10):
        lambda_async.submit("G", {"id": f"g{n}"})
        lambda_async.submit("F", {"id": f"f{n}"})

    lambda_async.drain()

    at_zero = [r.function for r in lambda_async.runs if r.start == 0.0]
    assert (at_zero.count("F"), at_zero.count("G")) == (4, 6)


@pytest.mark.parametrize(("value", "expected"), [("5", 5), ("0", None)])
def test_the_stack_gives_each_function_its_reservation_and_invoke_config(value: str, expected: int | None) -> None:
    stack = Stack.load(account=HUB, region="us-east-1", overrides={"ConfigureFunctionConcurrency": value})

    configs = async_configs(stack)

    configure = configs["ConfigureFunction"]
    assert configure.reserved == expected  # 0: no reservation at all, not a reservation of 0
    assert (configure.maximum_retries, configure.maximum_event_age) == (2, 3600)
    assert configure.on_failure == stack.get_att("ConfigureDeadLetterQueue", "Arn")
    assert configs["AcceptFunction"].reserved == 5  # the other defaults stand
    assert configs["WorkerFunction"].reserved is None
