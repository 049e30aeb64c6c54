"""What every function does around its work: settings, engine, typed errors -> log + metric.

Bad input (invalid or skipped events, unauthorized operators, connections no place shows, accounts
outside the organization) is answered with a typed result and changes nothing: retrying it could
not help. Anything that may succeed later (AWS errors, a connection not yet ready) is raised, so
Lambda retries it and, when retries are exhausted, the event lands in the function's dead-letter
queue.

Given its Lambda context (configure, cleanup), a handler also works within the invocation's time:
once less than the margin is left (``core/deadline.py``) the engine stops between two steps that
leave the ledger and EC2 in agreement, and the rest is handed to the function's next invocation
(``aws/continuation.py``), which observes what this one did and carries on from there.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from peering.aws.continuation import invoke_later
from peering.core.deadline import Deadline
from peering.core.errors import (
    InvalidEventError,
    NotASweepTargetError,
    NotReadyError,
    OutOfTimeError,
    OutsideOrganizationError,
    PeeringError,
    SkippedEventError,
    UnauthorizedOperatorError,
    UnknownConnectionError,
)
from peering.core.events import MAX_CONTINUATIONS, continuation_of, continued_event
from peering.lifecycle.engine import Engine
from peering.runtime.config import Settings
from peering.runtime.observability import MetricUnit, logger, metrics

# What the event itself makes impossible: a retry could never help. A connection no place shows
# is one of them: CloudTrail delivers a call after it succeeded, so its connection is visible to
# the caller; one that is not is forged, misplaced or long gone (the sweep is the backstop).
_ANSWERED = (
    InvalidEventError,
    SkippedEventError,
    UnauthorizedOperatorError,
    OutsideOrganizationError,
    UnknownConnectionError,
)
_RETRIED = (NotReadyError,)

METRIC_BY_KIND = {
    InvalidEventError.kind: "InvalidEvents",
    NotASweepTargetError.kind: "SweepMessagesRefused",
    SkippedEventError.kind: "SkippedEvents",
    UnauthorizedOperatorError.kind: "UnauthorizedOperatorEvents",
    OutsideOrganizationError.kind: "OutsideOrganizationEvents",
    UnknownConnectionError.kind: "UnknownConnections",
    NotReadyError.kind: "ConnectionsNotReady",
}

Work = Callable[[dict[str, Any], Engine], dict[str, Any]]


def handle(event: Any, work: Work, engine: Engine | None = None, *, context: Any = None) -> dict[str, Any]:
    """``work`` on the event; with the Lambda ``context``, within its time, handing on the rest."""
    try:
        engine = engine or Engine(Settings.from_env())
        if context is None:
            return {"ok": True, **work(event, engine)}
        original, run = continuation_of(event)
        engine.deadline = Deadline.of(context)
        try:
            return {"ok": True, **work(original, engine)}
        except OutOfTimeError as exc:
            return {"ok": True, **_hand_on(engine, context, original, run, exc)}
    except _ANSWERED as exc:
        if isinstance(exc, SkippedEventError):
            logger.info("event skipped", extra={"reason": str(exc)})
        else:
            logger.warning("event refused", extra={"error": exc.kind, "reason": str(exc)})
        metrics.add_metric(name=METRIC_BY_KIND[exc.kind], unit=MetricUnit.Count, value=1)
        return {"ok": False, "error": exc.kind, "message": str(exc)}
    except _RETRIED as exc:
        logger.warning("will be retried", extra={"error": exc.kind, "reason": str(exc)})
        metrics.add_metric(name=METRIC_BY_KIND[exc.kind], unit=MetricUnit.Count, value=1)
        raise
    except PeeringError as exc:
        logger.error("failed", extra={"error": exc.kind, "reason": str(exc)})
        metrics.add_metric(name="Errors", unit=MetricUnit.Count, value=1)
        raise
    except Exception:
        # AWS errors (throttling, a state that changed under us...): counted, then retried.
        logger.exception("failed; will be retried")
        metrics.add_metric(name="Errors", unit=MetricUnit.Count, value=1)
        raise


def _hand_on(engine: Engine, context: Any, event: dict[str, Any], run: int, reason: OutOfTimeError) -> dict[str, Any]:
    """Invoke this function again with the original event: the next run observes what this one
    did (routes made are there, a cleanup's intent is recorded) and carries on from there. An
    event still unfinished after MAX_CONTINUATIONS runs fails instead (retries, then the DLQ)."""
    if run >= MAX_CONTINUATIONS:
        raise OutOfTimeError(f"still unfinished after {run} continuations: {reason}") from reason
    invoke_later(engine.aws, context.invoked_function_arn, continued_event(event, run + 1))
    logger.warning("out of time: the rest is handed to the next invocation", extra={"reason": str(reason)})
    metrics.add_metric(name="HandedOn", unit=MetricUnit.Count, value=1)
    return {"handedOn": True, "continuation": run + 1, "reason": str(reason)}
