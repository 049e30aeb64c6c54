"""Typed models of the events the functions accept, and their parsing into engine inputs: here the
operator's events (approve, reject, converge, sweep) and the schedule's; the EC2 API calls CloudTrail
delivers are in ``peering.core.cloudtrail_events``, what every model shares (formats, strict field
reading, the EventBridge envelope) in ``peering.core.event_fields``.

Event content is a *hint* about where to look (connection id, account, Region). Nothing in it is
used for a decision: the engine re-reads the connection from the EC2 API in the owner's account.

The models are frozen dataclasses, validated field by field here rather than by pydantic: every
function parses its event on every invocation, and pydantic (with Powertools' parser models)
was the largest import of a cold start after boto3. Validation is strict: each field has one
JSON type (no coercion of "true" or 1 to a boolean, of a number to a timestamp), ids, accounts
and Regions match their formats, the project's own operator events may carry no unknown field,
and every problem is reported with where it is.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from peering.core.errors import InvalidEventError
from peering.core.event_fields import (
    ACCOUNT_ID,
    CONNECTION_ID,
    FREE_TEXT,
    MAX_COMMENT,
    PRINCIPAL_NAME,
    REGION,
    EventBridgeEvent,
    _envelope,
    _Fields,
    _parse,
)

# The account and Region formats are re-exported: the sweep's fan-out imports them from here.
__all__ = [
    "ACCOUNT_ID",
    "APPROVE_DETAIL_TYPE",
    "CONVERGE_DETAIL_TYPE",
    "DECISION_DETAIL_TYPES",
    "MAX_CONTINUATIONS",
    "OPERATOR_DETAIL_TYPES",
    "OPERATOR_SOURCE",
    "REGION",
    "REJECT_DETAIL_TYPE",
    "SCHEDULED_DETAIL_TYPE",
    "SWEEP_DETAIL_TYPE",
    "OperatorDetail",
    "OperatorEvent",
    "ScheduledEvent",
    "SweepRequestDetail",
    "SweepRequestEvent",
    "continuation_of",
    "continued_event",
    "parse_operator_event",
    "parse_scheduled_event",
    "parse_sweep_event",
]

OPERATOR_SOURCE = "peering-autopilot.operator"
APPROVE_DETAIL_TYPE = "Approve Peering Request"
REJECT_DETAIL_TYPE = "Reject Peering Request"
CONVERGE_DETAIL_TYPE = "Converge Peering Connection"
SWEEP_DETAIL_TYPE = "Sweep Peering Connections"
SCHEDULED_DETAIL_TYPE = "Scheduled Event"
DECISION_DETAIL_TYPES = frozenset({APPROVE_DETAIL_TYPE, REJECT_DETAIL_TYPE})

_OPERATOR_FIELDS = frozenset({"connectionId", "accountId", "region", "requestedBy", "comment", "dryRun"})
_SWEEP_FIELDS = frozenset({"accountId", "region", "requestedBy", "dryRun"})


@dataclass(frozen=True, kw_only=True)
class OperatorDetail:
    connection_id: str
    # Where the accepter side lives. Optional: the ledger remembers it for requests it has seen.
    account_id: str | None = None
    region: str | None = None
    requested_by: str = "unknown"
    comment: str = ""
    dry_run: bool | None = None  # None: the deployment's setting

    @classmethod
    def read(cls, fields: _Fields) -> OperatorDetail:
        fields.no_other_fields(_OPERATOR_FIELDS)
        return cls(
            connection_id=fields.text("connectionId", pattern=CONNECTION_ID),
            account_id=fields.optional_text("accountId", pattern=ACCOUNT_ID),
            region=fields.optional_text("region", pattern=REGION),
            requested_by=fields.text("requestedBy", default="unknown", pattern=PRINCIPAL_NAME),
            comment=fields.text("comment", default="", max_length=MAX_COMMENT, pattern=FREE_TEXT),
            dry_run=fields.flag("dryRun"),
        )


OPERATOR_DETAIL_TYPES = frozenset({APPROVE_DETAIL_TYPE, REJECT_DETAIL_TYPE, CONVERGE_DETAIL_TYPE})


@dataclass(frozen=True, kw_only=True)
class OperatorEvent(EventBridgeEvent):
    detail: OperatorDetail

    @classmethod
    def read(cls, fields: _Fields) -> OperatorEvent:
        return cls(
            **_envelope(fields, frozenset({OPERATOR_SOURCE}), OPERATOR_DETAIL_TYPES),
            detail=OperatorDetail.read(fields.obj("detail")),
        )


def parse_operator_event(event: Any, allowed: frozenset[str] = DECISION_DETAIL_TYPES) -> OperatorEvent:
    parsed = _parse(OperatorEvent, event, OperatorEvent.read)
    if parsed.detail_type not in allowed:
        raise InvalidEventError(f"detail-type {parsed.detail_type!r} is not handled here")
    return parsed


@dataclass(frozen=True, kw_only=True)
class SweepRequestDetail:
    account_id: str
    region: str
    requested_by: str = "unknown"
    dry_run: bool | None = None

    @classmethod
    def read(cls, fields: _Fields) -> SweepRequestDetail:
        fields.no_other_fields(_SWEEP_FIELDS)
        return cls(
            account_id=fields.text("accountId", pattern=ACCOUNT_ID),
            region=fields.text("region", pattern=REGION),
            requested_by=fields.text("requestedBy", default="unknown", pattern=PRINCIPAL_NAME),
            dry_run=fields.flag("dryRun"),
        )


@dataclass(frozen=True, kw_only=True)
class SweepRequestEvent(EventBridgeEvent):
    """Operator asks for one account+Region to be swept now (optionally as a dry run)."""

    detail: SweepRequestDetail

    @classmethod
    def read(cls, fields: _Fields) -> SweepRequestEvent:
        return cls(
            **_envelope(fields, frozenset({OPERATOR_SOURCE}), frozenset({SWEEP_DETAIL_TYPE})),
            detail=SweepRequestDetail.read(fields.obj("detail")),
        )


@dataclass(frozen=True, kw_only=True)
class ScheduledEvent(EventBridgeEvent):
    detail: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def read(cls, fields: _Fields) -> ScheduledEvent:
        envelope = _envelope(fields, frozenset({"aws.events", "aws.scheduler"}), frozenset({SCHEDULED_DETAIL_TYPE}))
        if envelope["source"] == "aws.scheduler" and fields.data.get("detail") == "{}":
            return cls(**envelope)  # EventBridge Scheduler sends "{}" (a string) when there is no payload
        return cls(**envelope, detail=fields.obj("detail").data)


def parse_scheduled_event(event: Any) -> ScheduledEvent:
    """The schedule's event, and nothing else (the map function's only trigger)."""
    return _parse(ScheduledEvent, event, ScheduledEvent.read)


def parse_sweep_event(event: Any) -> SweepRequestEvent | ScheduledEvent:
    if isinstance(event, dict) and event.get("source") == OPERATOR_SOURCE:
        return _parse(SweepRequestEvent, event, SweepRequestEvent.read)
    return _parse(ScheduledEvent, event, ScheduledEvent.read)


# --- continuations: an event function's own re-invocation -------------------------------------------

# An event handled across invocations (configure, cleanup: lifecycle/handler.py) continues at most
# this many times in a row; then it fails, and Lambda's retries and dead-letter queue take over.
MAX_CONTINUATIONS = 20
_CONTINUATION_FIELDS = frozenset({"continuation", "event"})


def continued_event(event: dict[str, Any], run: int) -> dict[str, Any]:
    """The payload that hands ``event`` on to run number ``run`` (1 for the first continuation)."""
    return {"continuation": run, "event": event}


def continuation_of(event: Any) -> tuple[Any, int]:
    """The event to handle and how many runs came before this one (0: not a continuation).

    A continuation is a hint like any event: it only names the original event again, which is
    parsed and checked as if delivered anew, and the engine re-reads EC2 before it acts. Anything
    that claims to be one but is not exactly ``{"continuation": 1..20, "event": {...}}`` (an
    original event, never itself a continuation) is refused.
    """
    if not isinstance(event, dict) or "continuation" not in event:
        return event, 0
    run, original = event.get("continuation"), event.get("event")
    if (
        set(event) != _CONTINUATION_FIELDS
        or type(run) is not int
        or not 0 < run <= MAX_CONTINUATIONS
        or not isinstance(original, dict)
        or "continuation" in original
    ):
        raise InvalidEventError(
            f"not a continuation: expected {{continuation: 1..{MAX_CONTINUATIONS}, event: {{...}}}}, "
            f"got fields {sorted(map(str, event))[:5]}"
        )
    return original, run
