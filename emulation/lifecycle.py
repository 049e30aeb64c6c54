"""The states and the passing of time of a VPC peering connection that moto cannot reach by itself.

AWS (https://docs.aws.amazon.com/vpc/latest/peering/vpc-peering-basics.html#vpc-peering-lifecycle):
initiating-request -> pending-acceptance (or failed: overlapping blocks) -> provisioning -> active;
a request may instead be rejected, deleted by its requester, or expired after 7 days; an
inter-Region deletion passes through deleting. Dead connections stay visible for a while, then the
API no longer shows them. None of this but the API calls themselves emits an event.

moto 5.2: Accept goes straight to active; there is no expiry, no failure after creation and no
visibility window. This is not a gap patch: tests (and the emulator's control requests, see
``emulation.server``) put a connection where AWS would with three helpers, which work with or
without any gap enabled::

    from emulation import lifecycle

    lifecycle.set_status("pcx-...", "provisioning")   # or expired, failed, rejected, deleted...
    lifecycle.age("pcx-...", hours=73)                # the request was made 73 h ago
    lifecycle.forget_connection("pcx-...")            # past its visibility window

This module also owns what the helpers and the gaps that need it (``expiration_time``,
``create_overlap_fails``) record on moto's connection object: when the request was made, whether
it was ever accepted, and AWS's status codes and messages. docs/moto-gaps.md, "Lifecycle states".
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from moto.ec2.models import ec2_backends

__all__ = [
    "FAILED_MESSAGE",
    "REQUEST_LIFETIME",
    "STATUS_CODES",
    "ConnectionNotInMotoError",
    "age",
    "created",
    "default_message",
    "expiration_of",
    "forget_connection",
    "holders",
    "mark_accepted",
    "now",
    "set_code",
    "set_created",
    "set_status",
]

#: VpcPeeringConnectionStateReason.Code, every value the EC2 API reference lists
STATUS_CODES = (
    "initiating-request",
    "pending-acceptance",
    "provisioning",
    "active",
    "deleting",
    "deleted",
    "rejected",
    "failed",
    "expired",
)
#: a request not accepted within 7 days expires (lifecycle; quota L-DC9F7029: expiry 168 h, fixed)
REQUEST_LIFETIME = timedelta(days=7)
#: the status message AWS gives a failed request, as AWS returns it to API clients (observed, see
#: docs/moto-gaps.md): it does not say which of the three causes applies
FAILED_MESSAGE = "Failed due to incorrect VPC-ID, Account ID, or overlapping CIDR range"
#: once a request is accepted it has no expiration time any more
_ACCEPTED_CODES = frozenset({"provisioning", "active", "deleting"})
_UNANSWERED_CODES = frozenset({"initiating-request", "pending-acceptance"})
# Our bookkeeping on moto's connection objects (instance attributes, ignored by moto's serializer).
_CREATED_AT = "_fidelity_created_at"
_ACCEPTED = "_fidelity_accepted"

_lock = threading.Lock()


class ConnectionNotInMotoError(LookupError):
    """A test helper was given a connection id that no moto EC2 backend holds."""

    def __init__(self, connection_id: str) -> None:
        super().__init__(
            f"no moto EC2 backend (any account, any Region) holds VPC peering connection {connection_id!r}: "
            "create it first (inside the running mock), or it was already forgotten"
        )
        self.connection_id = connection_id


# --------------------------------------------------------------------------------------------
# What is recorded on moto's connection object
# --------------------------------------------------------------------------------------------


def default_message(connection: Any, code: str) -> str:
    """The status message AWS shows with ``code`` (``connection`` is moto's connection object).

    Confirmed from AWS output: "Initiating Request to <accepter>", "Pending Acceptance by
    <accepter>", "Provisioning", "Active" (AWS CLI examples) and the failed message (as AWS returns
    it to Terraform users). The others follow moto ("Deleted by <account>", "Inactive" for rejected)
    or are plain ("Deleting", "Expired"): [U], see docs/moto-gaps.md.
    """
    accepter, requester = str(connection.peer_vpc.owner_id), str(connection.vpc.owner_id)
    messages = {
        "initiating-request": f"Initiating Request to {accepter}",
        "pending-acceptance": f"Pending Acceptance by {accepter}",
        "provisioning": "Provisioning",
        "active": "Active",
        "deleting": "Deleting",
        "deleted": f"Deleted by {requester}",
        "rejected": "Inactive",
        "failed": FAILED_MESSAGE,
        "expired": "Expired",
    }
    return messages[code]


def now() -> datetime:
    """The time now as EC2 shows it: UTC, whole seconds."""
    return datetime.now(UTC).replace(microsecond=0)


def set_code(connection: Any, code: str, message: str | None = None) -> None:
    """Set moto's status object as AWS would show it; remember whether it was ever accepted."""
    if code not in STATUS_CODES:
        raise ValueError(f"unknown VPC peering connection status {code!r}; AWS has: {', '.join(STATUS_CODES)}")
    connection._status.code = code
    connection._status.message = default_message(connection, code) if message is None else message
    if code in _ACCEPTED_CODES:
        mark_accepted(connection)
    elif code in _UNANSWERED_CODES:
        setattr(connection, _ACCEPTED, False)


def mark_accepted(connection: Any) -> None:
    """Record that the request was accepted (it keeps no expiration time, whatever follows)."""
    setattr(connection, _ACCEPTED, True)


def created(connection: Any) -> datetime | None:
    """When the request was made, as recorded on moto's object (None: never recorded)."""
    value = vars(connection).get(_CREATED_AT)
    return value if isinstance(value, datetime) else None


def set_created(connection: Any, when: datetime) -> None:
    setattr(connection, _CREATED_AT, when)


def expiration_of(connection: Any) -> datetime | None:
    """Creation + 7 days while the request is unanswered or expired; None once accepted (or unknown)."""
    made = created(connection)
    if made is None:
        return None
    if vars(connection).get(_ACCEPTED) or connection._status.code in _ACCEPTED_CODES:
        return None
    return made + REQUEST_LIFETIME


# --------------------------------------------------------------------------------------------
# Where moto holds a connection
# --------------------------------------------------------------------------------------------


def _ec2_backends() -> Iterator[Any]:
    """Every EC2 backend moto has created (every account and Region), without creating any."""
    for regions in list(dict.values(ec2_backends)):
        yield from list(dict.values(regions))


def holders(connection_id: str) -> list[tuple[Any, Any]]:
    """(backend, connection) for every backend that holds the id; raises when none does."""
    found = [(b, b.vpc_pcxs[connection_id]) for b in _ec2_backends() if connection_id in b.vpc_pcxs]
    if not found:
        raise ConnectionNotInMotoError(connection_id)
    return found


def _connections(connection_id: str) -> list[Any]:
    """The distinct connection objects behind the id (moto shares one object between both sides)."""
    unique: dict[int, Any] = {}
    for _, connection in holders(connection_id):
        unique.setdefault(id(connection), connection)
    return list(unique.values())


# --------------------------------------------------------------------------------------------
# The helpers
# --------------------------------------------------------------------------------------------


def set_status(connection_id: str, code: str, message: str | None = None) -> None:
    """Put a connection in status ``code`` as AWS would show it, in every backend that holds it.

    ``code`` is one of STATUS_CODES (VpcPeeringConnectionStateReason); ``message`` defaults to
    AWS's message for that code (``default_message``): "Provisioning", "Active", "Expired",
    "Failed due to incorrect VPC-ID, Account ID, or overlapping CIDR range", "Inactive"
    (rejected), "Deleted by <requester account>", "Pending Acceptance by <accepter account>"...
    The lifecycle (https://docs.aws.amazon.com/vpc/latest/peering/vpc-peering-basics.html#vpc-peering-lifecycle):

    - initiating-request -> pending-acceptance or failed (overlapping blocks);
    - pending-acceptance -> provisioning (accepted) -> active; or rejected, expired (7 days),
      deleted (the requester withdrew it);
    - active -> deleting (inter-Region) -> deleted.

    Only the status changes: which accounts still see the connection is the test's choice
    (``forget_connection`` once a visibility window has passed). Routes to the connection become
    blackholes unless the status is active (gap ``blackhole_routes``); ExpirationTime disappears
    from provisioning on (gap ``expiration_time``). Raises ConnectionNotInMotoError for an id no
    backend holds and ValueError for a code AWS does not have.
    """
    if code not in STATUS_CODES:
        raise ValueError(f"unknown VPC peering connection status {code!r}; AWS has: {', '.join(STATUS_CODES)}")
    with _lock:
        for connection in _connections(connection_id):
            set_code(connection, code, message)


def age(connection_id: str, hours: float) -> None:
    """Move the connection's creation (hence its ExpirationTime) ``hours`` into the past.

    A request still unanswered (initiating-request or pending-acceptance) whose 7 days are then
    over becomes ``expired`` ("Expired"), as AWS expires it
    (https://docs.aws.amazon.com/vpc/latest/peering/vpc-peering-basics.html#vpc-peering-lifecycle).
    A connection created while gap ``expiration_time`` was not enabled has no recorded creation:
    it is taken as created now. Raises ConnectionNotInMotoError for an unknown id and ValueError
    for a negative or non-finite ``hours``.
    """
    if not isinstance(hours, int | float) or not math.isfinite(hours) or hours < 0:
        raise ValueError(f"hours must be a finite number >= 0, got {hours!r}")
    with _lock:
        moment = now()
        for connection in _connections(connection_id):
            made = (created(connection) or moment) - timedelta(hours=hours)
            set_created(connection, made)
            if connection._status.code in _UNANSWERED_CODES and moment >= made + REQUEST_LIFETIME:
                set_code(connection, "expired")


def forget_connection(connection_id: str) -> None:
    """Remove the connection from every backend, as AWS does once its visibility window has passed.

    Windows (lifecycle page): failed 2 h (requester); expired 2 days (both); rejected 2 days for the
    requester, 2 h for the accepter (same account 2 h); deleted 2 h for the side that deleted it,
    2 days for the other (same account 2 h). Describe then answers NotFound (gap
    ``describe_unknown_ids``) or omits it; routes that target it stay, and with gap
    ``blackhole_routes`` they are blackholes. To forget it on one side only, pop it from that
    backend's ``vpc_pcxs``. Raises ConnectionNotInMotoError for an id no backend holds.
    """
    with _lock:
        for backend, _ in holders(connection_id):
            del backend.vpc_pcxs[connection_id]
