"""What every function does around its work: settings, engine, typed errors -> log + metric.

Bad input (invalid or skipped events, unauthorized operators, connections no place shows, accounts
outside the organization) is answered with a typed result and changes nothing: retrying it could
not help. Anything that may succeed later (AWS errors, a connection not yet ready) is raised, so
Lambda retries it and, when retries are exhausted, the event lands in the function's dead-letter
queue.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from peering.core.errors import (
    InvalidEventError,
    NotASweepTargetError,
    NotReadyError,
    OutsideOrganizationError,
    PeeringError,
    SkippedEventError,
    UnauthorizedOperatorError,
    UnknownConnectionError,
)
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


def handle(event: Any, work: Work, engine: Engine | None = None) -> dict[str, Any]:
    try:
        engine = engine or Engine(Settings.from_env())
        return {"ok": True, **work(event, engine)}
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
