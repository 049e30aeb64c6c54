"""Benchmark: a flood of member events against an event function's reserved concurrency.

Lambda's asynchronous invocation as ``runner.lambda_async`` emulates it (reserved concurrency,
throttled events tried again after 1 s, doubling up to 5 minutes, spread between half and all of
each step; events older than the maximum age sent to the dead-letter queue), on a simulated clock:
N events arrive at once, each invocation takes 2 s (a configure of a converged connection, about
ten AWS calls). The maximum event age is the stack's (EventInvokeConfig, one hour).
``tests/e2e/test_flood.py`` runs the same with the real handlers on moto, 1,000 events.
"""

from __future__ import annotations

import bench_common  # noqa: F401 - sets the environment before anything imports boto3
from runner.invoke import Invocation
from runner.lambda_async import AsyncConfig, AsyncLambda

INVOCATION_SECONDS = 2.0
MAXIMUM_EVENT_AGE = 3600


def flood(events: int, reserved: int) -> AsyncLambda:
    config = AsyncConfig("ConfigureFunction", reserved=reserved, maximum_event_age=MAXIMUM_EVENT_AGE, on_failure="dlq")
    lambda_async = AsyncLambda(
        {config.function: config},
        lambda function, event, context: Invocation(function, {"ok": True}, None, 0.0),
        lambda arn, record: None,
        duration=lambda _: INVOCATION_SECONDS,
    )
    for n in range(events):
        lambda_async.submit(config.function, {"id": str(n)})
    lambda_async.drain()
    return lambda_async


def main(sizes: tuple[int, ...] = (1_000, 4_000, 8_000, 16_000), reservations: tuple[int, ...] = (5, 10)) -> str:
    lines = [
        "| reservation | events at once | last one done | throttles | dead-lettered | most at once |",
        "|---|---|---|---|---|---|",
    ]
    for reserved in reservations:
        for events in sizes:
            result = flood(events, reserved)
            ends = sorted([(r.start, 1) for r in result.runs] + [(r.end, -1) for r in result.runs])
            running = peak = 0
            for _, change in ends:
                running += change
                peak = max(peak, running)
            lines.append(
                f"| {reserved} | {events:,} | {result.now / 60:.1f} min | {sum(result.throttles.values()):,} "
                f"| {len(result.dropped):,} | {peak} |"
            )
    return "\n".join(lines) + (
        "\n\nBefore issue 23 no event function had a reservation: a flood ran as many at once as the Region's "
        "unreserved concurrency allowed (1,000 by default, shared with every other function of the account)."
    )


if __name__ == "__main__":
    print(main())
