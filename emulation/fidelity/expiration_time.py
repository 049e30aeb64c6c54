"""Gap ``expiration_time``: an unaccepted request shows ``ExpirationTime``, 7 days after it was made.

AWS: VpcPeeringConnection has ``ExpirationTime``, "the time that an unaccepted VPC peering connection
will expire"; a request expires 7 days after it is made (lifecycle; quota L-DC9F7029: 168 h, fixed).
The AWS CLI example of describe-vpc-peering-connections shows it on the pending-acceptance
connection and not on the active one; the ``expiration-time`` filter matches it. [U]: that it is
also shown on failed, rejected, expired and never-accepted deleted connections, and hidden from
provisioning on (a PowerShell example of AcceptVpcPeeringConnection shows it empty).
https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_VpcPeeringConnection.html
https://docs.aws.amazon.com/vpc/latest/peering/vpc-peering-basics.html#vpc-peering-lifecycle

moto 5.2: never sets it, so ``cleanup.is_stale_request`` (withdraw our own old requests) can never
fire, and the ``expiration-time`` filter matches nothing.

Patch: Create records the time the request was made on moto's connection (UTC, whole seconds;
``emulation.lifecycle`` keeps that record) and Accept records that it was accepted; a property
``expiration_time`` of moto's connection (timezone-aware: creation + 7 days, None once accepted)
is rendered by moto's serializer as ``ExpirationTime`` in Create, Describe and Accept responses.
Assigning the property moves the creation time; ``lifecycle.age()`` moves it into the past.

Turn on: ``fidelity.enable()`` (every gap) or ``fidelity.enabled(["expiration_time"])`` for a
block, from ``emulation.fidelity``. docs/moto-gaps.md#expiration_time.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from moto.ec2.models.vpc_peering_connections import VPCPeeringConnection, VPCPeeringConnectionBackend

from emulation import lifecycle
from emulation.fidelity.patching import Gap, Patcher

CONNECTION_DOC = "https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_VpcPeeringConnection.html"


def install(patcher: Patcher) -> None:
    """Record each connection's creation; render ExpirationTime = creation + 7 days until accepted."""

    def make_create(previous: Callable[..., Any]) -> Callable[..., Any]:
        def create_vpc_peering_connection(self: Any, *args: Any, **kwargs: Any) -> Any:
            connection = previous(self, *args, **kwargs)
            if lifecycle.created(connection) is None:
                lifecycle.set_created(connection, lifecycle.now())
            return connection

        return create_vpc_peering_connection

    def make_accept(previous: Callable[..., Any]) -> Callable[..., Any]:
        def accept_vpc_peering_connection(self: Any, *args: Any, **kwargs: Any) -> Any:
            connection = previous(self, *args, **kwargs)
            lifecycle.mark_accepted(connection)
            return connection

        return accept_vpc_peering_connection

    def get_expiration(self: Any) -> datetime | None:
        return lifecycle.expiration_of(self)

    def set_expiration(self: Any, value: datetime) -> None:
        if not isinstance(value, datetime) or value.tzinfo is None:
            raise TypeError("expiration_time must be a timezone-aware datetime")
        lifecycle.set_created(self, value.astimezone(UTC) - lifecycle.REQUEST_LIFETIME)

    patcher.wrap(VPCPeeringConnectionBackend, "create_vpc_peering_connection", make_create)
    patcher.wrap(VPCPeeringConnectionBackend, "accept_vpc_peering_connection", make_accept)
    patcher.replace(
        VPCPeeringConnection,
        "expiration_time",
        property(get_expiration, set_expiration, doc="ExpirationTime as AWS shows it (None once accepted)"),
    )


GAP = Gap("expiration_time", CONNECTION_DOC, install, __doc__ or "")
