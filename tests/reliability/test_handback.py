"""A sweep that cannot finish in one invocation hands the rest back and the next run finishes it.

The worker's time is a virtual clock: the Lambda context answers from it, and every route EC2
creates moves it on, as EC2's mutating-call bucket (50 tokens, 5 a second) would for a target
missing hundreds of routes. Once less than the margin is left, the run stops between two routes,
with the ledger's route records equal to EC2's routes, and queues a continuation; the run of that
message completes the repair.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest

from peering.aws.clients import shared_session
from peering.core import deadline
from peering.runtime.batch import BatchProcessingError
from peering.sweep import messages
from peering.sweep.messages import MAX_CONTINUATIONS, SweepTarget
from tests.builders import sqs_event
from tests.conftest import HUB_ACCOUNT, REGION, FakeContext, Organization, emitted_metrics, load_function
from tests.paths import accepted
from tests.reliability.conftest import ledger_summary, routes_to

worker = load_function("worker")

TIMEOUT_SECONDS = 600  # the worker's, in template.yaml


@dataclass
class Clock:
    """Seconds left in the current invocation."""

    left: float = TIMEOUT_SECONDS
    spent: dict[str, float] = field(default_factory=dict)  # seconds each call of an operation costs

    def charge(self, model: Any, **_: Any) -> None:
        self.left -= self.spent.get(model.name, 0.0)


@dataclass
class RunningOut(FakeContext):
    clock: Clock = field(default_factory=Clock)

    def get_remaining_time_in_millis(self) -> int:
        return int(self.clock.left * 1000)


@pytest.fixture
def clock(organization: Organization) -> Iterator[Clock]:
    running = Clock()
    shared_session().events.register("after-call.ec2", running.charge)
    yield running
    shared_session().events.unregister("after-call.ec2", running.charge)


@pytest.fixture
def queue_url(organization: Organization, monkeypatch: pytest.MonkeyPatch) -> str:
    url: str = boto3.client("sqs", region_name=REGION).create_queue(QueueName="sweep")["QueueUrl"]
    monkeypatch.setenv("SWEEP_QUEUE_URL", url)
    monkeypatch.setattr(messages, "CONTINUATION_DELAY_SECONDS", 0)  # moto keeps a delayed message hidden
    return url


def queued(url: str) -> list[dict[str, Any]]:
    """The messages waiting in the sweep queue (drained; their delay ignored)."""
    sqs = boto3.client("sqs", region_name=REGION)
    bodies = []
    while batch := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        for message in batch:
            bodies.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return bodies


def invocation(clock: Clock, *targets: SweepTarget | dict[str, Any]) -> dict[str, Any]:
    """One worker invocation with its full time, on the given targets (or queued bodies)."""
    clock.left = TIMEOUT_SECONDS
    bodies = [t.to_message() if isinstance(t, SweepTarget) else json.dumps(t) for t in targets]
    result: dict[str, Any] = worker.lambda_handler(sqs_event(*bodies), RunningOut(clock=clock))
    return result


def test_a_repair_longer_than_an_invocation_is_finished_by_the_next(
    organization: Organization, clock: Clock, queue_url: str, capsys: Any
) -> None:
    # 80 routes missing, each taking 10 s: a route is started while 60 s (the margin of a 600 s
    # invocation) are left, so 55 are made.
    made = accepted(organization, "same account+Region", tables=40)
    clock.spent["CreateRoute"] = 10.0
    capsys.readouterr()

    first = invocation(clock, SweepTarget(HUB_ACCOUNT, REGION, "s1"))

    assert first == {"batchItemFailures": []}  # handed back, not failed: no redelivery, no DLQ
    done = routes_to(HUB_ACCOUNT, made.pcx)
    assert len(done) == 55
    assert clock.left == 50  # stopped inside the invocation, with time to spare for the handback
    assert len(ledger_summary(made.pcx)["routes"]) == len(done)  # no record claims a route not made
    assert emitted_metrics(capsys.readouterr().out).get("SweepHandedBack") == 1
    (continuation,) = queued(queue_url)
    assert continuation == {
        "account": HUB_ACCOUNT,
        "region": REGION,
        "sweepId": "s1",
        "dryRun": None,
        "continuation": 1,
    }

    second = invocation(clock, continuation)

    assert second == {"batchItemFailures": []}
    assert len(routes_to(HUB_ACCOUNT, made.pcx)) == 80
    assert len(ledger_summary(made.pcx)["routes"]) == 80
    assert queued(queue_url) == []  # finished: nothing handed back


def test_targets_not_started_are_handed_back_untouched(
    organization: Organization, clock: Clock, queue_url: str
) -> None:
    made = accepted(organization, "same account+Region", tables=3)
    member = organization.platform_account
    clock.spent["ModifyVpcPeeringConnectionOptions"] = 560.0  # the first target's last step eats the time

    answer = invocation(clock, SweepTarget(HUB_ACCOUNT, REGION, "s1"), SweepTarget(member, REGION, "s1"))

    assert answer == {"batchItemFailures": []}
    assert len(routes_to(HUB_ACCOUNT, made.pcx)) == 6  # the first target was finished
    assert [(m["account"], m["continuation"]) for m in queued(queue_url)] == [(member, 1)]


def test_connections_not_started_are_left_for_the_continuation(
    organization: Organization, clock: Clock, queue_url: str
) -> None:
    first = accepted(organization, "same account+Region")
    second = accepted(organization, "cross-account")  # the hub is its accepter: its route is the hub's
    # The sweep makes every connection's routes in one sequence (their records batched), the first
    # connection's two, then the second's one: after two routes less than the margin is left.
    clock.spent["CreateRoute"] = 280.0

    invocation(clock, SweepTarget(HUB_ACCOUNT, REGION, "s1"))

    configured = [pcx for pcx in (first.pcx, second.pcx) if routes_to(HUB_ACCOUNT, pcx)]
    assert len(configured) == 1  # the snapshot's order decides which; the other was not started
    for made in (first, second):  # no record claims a route not made
        recorded = [r for r in ledger_summary(made.pcx)["routes"] if r[0] == HUB_ACCOUNT]
        assert len(recorded) == len(routes_to(HUB_ACCOUNT, made.pcx))
    (continuation,) = queued(queue_url)
    clock.spent.clear()

    invocation(clock, continuation)

    assert routes_to(HUB_ACCOUNT, first.pcx)
    assert routes_to(HUB_ACCOUNT, second.pcx)


def test_a_target_that_never_finishes_fails_in_the_end(
    organization: Organization, clock: Clock, queue_url: str
) -> None:
    accepted(organization, "same account+Region", tables=10)
    clock.spent["CreateRoute"] = 300.0  # two routes per invocation
    stuck = SweepTarget(HUB_ACCOUNT, REGION, "s1", continuation=MAX_CONTINUATIONS)

    with pytest.raises(BatchProcessingError, match="All records failed"):
        # Failed: the queue redelivers it and, after maxReceiveCount, keeps it in its dead-letter queue.
        invocation(clock, stuck)

    assert queued(queue_url) == []


def test_the_margin_is_a_minute_or_a_tenth_of_a_short_invocation() -> None:
    assert deadline.Deadline.of(RunningOut(clock=Clock(left=600))).margin_seconds == 60
    assert deadline.Deadline.of(RunningOut(clock=Clock(left=30))).margin_seconds == 3
    assert not deadline.NEVER.expired()


def test_a_worker_without_its_queue_fails_the_target_it_cannot_finish(
    organization: Organization, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    accepted(organization, "same account+Region", tables=10)
    monkeypatch.delenv("SWEEP_QUEUE_URL", raising=False)
    clock.spent["CreateRoute"] = 300.0

    with pytest.raises(BatchProcessingError, match="All records failed"):
        invocation(clock, SweepTarget(HUB_ACCOUNT, REGION, "s1"))  # redelivered by the queue instead
