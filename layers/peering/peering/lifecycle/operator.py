"""Operator events: who may send them, and where the connection they name lives."""

from __future__ import annotations

from peering.core.errors import InvalidEventError, UnauthorizedOperatorError
from peering.core.event_fields import EventBridgeEvent
from peering.core.events import OperatorEvent
from peering.lifecycle.context import EngineContext
from peering.runtime.observability import logger


def ensure_put_by_hub(event: EventBridgeEvent, engine: EngineContext) -> None:
    """An operator event counts only if the hub account put it on the peering bus of this Region.

    EventBridge sets ``account`` to the sender's account and ``region`` to the Region of the bus
    it was put on, and the sender cannot choose either; the peering bus's policy narrows the
    senders to the operators. A direct ``lambda:InvokeFunction`` can write any envelope: what stops
    that is IAM (the function admits only its rules, and the hub's guardrail policy keeps
    identity grants from reaching around them; docs/deploy.md, "Trust boundary").
    """
    if event.account != engine.aws.own_account:
        raise UnauthorizedOperatorError(
            f"operator events are honoured only from the hub account, not from {event.account}"
        )
    if event.region != engine.aws.default_region:
        raise UnauthorizedOperatorError(
            f"operator events are honoured only from the peering bus in {engine.aws.default_region}, "
            f"not from {event.region!r}"
        )


def authorize_and_locate(request: OperatorEvent, engine: EngineContext) -> tuple[str, str]:
    """(account, Region) to act in, for an operator event put on the peering bus by the hub account."""
    ensure_put_by_hub(request, engine)
    detail = request.detail
    logger.append_keys(connection_id=detail.connection_id, requested_by=detail.requested_by)
    if detail.account_id and detail.region:
        return detail.account_id, detail.region
    location = engine.ledger.get_location(detail.connection_id)
    if location is None:
        raise InvalidEventError(
            f"{detail.connection_id} is not in the ledger: give accountId and region of the accepter side"
        )
    return location
