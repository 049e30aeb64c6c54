"""The worker's partial batch response: failed messages by id, a wholly failed batch raised."""

from __future__ import annotations

from typing import Any

import pytest

from peering.runtime.batch import BatchProcessingError, QueueMessage, process_partial_response
from tests.builders import sqs_event


def _fail_on(*bodies: str) -> tuple[list[str], Any]:
    handled: list[str] = []

    def handle(message: QueueMessage) -> None:
        handled.append(message.body)
        if message.body in bodies:
            raise RuntimeError(f"cannot converge {message.body}")

    return handled, handle


def test_the_failed_messages_are_reported_by_id_and_the_others_done(caplog: pytest.LogCaptureFixture) -> None:
    handled, handle = _fail_on("b")
    answer = process_partial_response(sqs_event("a", "b", "c"), handle)
    assert answer == {"batchItemFailures": [{"itemIdentifier": "m-1"}]}
    assert handled == ["a", "b", "c"]  # a failure does not stop the batch
    [failure] = [r for r in caplog.records if r.getMessage() == "message failed: the queue delivers it again"]
    assert failure.levelname == "ERROR"
    assert failure.message_id == "m-1"
    assert failure.exc_info is not None
    assert str(failure.exc_info[1]) == "cannot converge b"


def test_a_batch_without_failures_reports_none() -> None:
    handled, handle = _fail_on()
    assert process_partial_response(sqs_event("a", "b"), handle) == {"batchItemFailures": []}
    assert process_partial_response({"Records": []}, handle) == {"batchItemFailures": []}
    assert handled == ["a", "b"]


def test_a_batch_whose_every_message_failed_raises_so_lambda_retries_it() -> None:
    _, handle = _fail_on("a", "b")
    with pytest.raises(BatchProcessingError, match=r"All records failed processing \(2\)") as raised:
        process_partial_response(sqs_event("a", "b"), handle)
    assert [str(e) for e in raised.value.failures] == ["cannot converge a", "cannot converge b"]


@pytest.mark.parametrize(
    "event",
    [None, "Records", {}, {"Records": "m-0"}, {"Records": ["m-0"]}, {"Records": [{"messageId": "m-0"}]}],
    ids=repr,
)
def test_an_event_that_is_not_an_sqs_batch_is_a_deployment_mistake(event: Any) -> None:
    handled, handle = _fail_on()
    with pytest.raises(ValueError, match="not an SQS"):
        process_partial_response(event, handle)
    assert handled == []
