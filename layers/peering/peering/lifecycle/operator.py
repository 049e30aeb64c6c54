"""Operator events: who may send them, and where the connection they name lives."""

from __future__ import annotations

from peering.core.errors import InvalidEventError, UnauthorizedOperatorError
from peering.core.events import OperatorEvent
from peering.lifecycle.context import EngineContext
from peering.runtime.observability import logger


def ensure_hub_account(sender: str, engine: EngineContext) -> None:
    """EventBridge sets an event's ``account`` to the sender's account, so only the hub
    account's own principals (allowed to PutEvents there) can approve, reject, converge or sweep."""
    if sender != engine.aws.own_account:
        raise UnauthorizedOperatorError(f"operator events are honoured only from the hub account, not from {sender}")


def authorize_and_locate(request: OperatorEvent, engine: EngineContext) -> tuple[str, str]:
    """(account, Region) to act in, for an operator event sent from the hub account."""
    ensure_hub_account(request.account, engine)
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
