"""Lambda's partial batch response for the worker's SQS messages (ReportBatchItemFailures).

What the worker used of Powertools' batch utility, without importing it: that package imports
asyncio and every event data class, about 40 ms of the worker's cold start (more than the whole
engine). The contract is Lambda's: the answer lists the ids of the messages that failed, which
the queue delivers again (after maxReceiveCount, to the dead-letter queue); when every message
of the batch failed, the invocation raises instead, and the whole batch is retried.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from peering.runtime.observability import logger

BatchResponse = dict[str, list[dict[str, str]]]


@dataclass(frozen=True)
class QueueMessage:
    """One SQS record of a batch: what the worker reads of it."""

    message_id: str
    body: str

    @classmethod
    def of(cls, record: Any) -> QueueMessage:
        if not isinstance(record, dict):
            raise ValueError(f"not an SQS record: {type(record).__name__}")
        message_id, body = record.get("messageId"), record.get("body")
        if not isinstance(message_id, str) or not isinstance(body, str):
            raise ValueError("not an SQS record: Lambda delivers each with a messageId and a body")
        return cls(message_id, body)


class BatchProcessingError(Exception):
    """Every message of the batch failed: raised so that Lambda retries the whole batch."""

    def __init__(self, failures: Sequence[Exception]) -> None:
        self.failures = tuple(failures)
        reasons = "; ".join(f"{type(e).__name__}: {e}" for e in self.failures[:5])
        super().__init__(f"All records failed processing ({len(self.failures)}): {reasons}")


def process_partial_response(event: Any, handle_message: Callable[[QueueMessage], Any]) -> BatchResponse:
    """``handle_message`` for each message; the ids of those that raised, for the queue to redeliver.

    An event that is not an SQS batch raises ValueError: only the queue's event source mapping
    invokes the worker, so it is a deployment mistake, not a message to skip.
    """
    records = event.get("Records") if isinstance(event, dict) else None
    if not isinstance(records, list):
        raise ValueError("not an SQS event: it has no Records list")
    messages = [QueueMessage.of(record) for record in records]
    failed: list[QueueMessage] = []
    errors: list[Exception] = []
    for message in messages:
        try:
            handle_message(message)
        except Exception as exc:  # a failed message is redelivered; the others are done
            logger.exception("message failed: the queue delivers it again", extra={"message_id": message.message_id})
            failed.append(message)
            errors.append(exc)
    if messages and len(failed) == len(messages):
        raise BatchProcessingError(errors)
    return {"batchItemFailures": [{"itemIdentifier": message.message_id} for message in failed]}
