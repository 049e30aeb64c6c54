"""Gap ``peering_tags_per_account``: each side of a connection sees only the tags its own account set.

AWS: EC2 tags belong to the account (and Region) that applies them
(https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/Using_Tags.html), so each side of a
cross-account or inter-Region connection has its own tags and does not see the other side's: tags
cannot carry approval across accounts (DESIGN.md, fact 3). [U]: no AWS page says it for peering
connections in so many words; Terraform's separate requester/accepter tag handling relies on it.

moto 5.2: one Python object serves both sides and its tags are read from the requester's tag store:
the accepter sees the requester's tags and never its own, although moto's DescribeTags is per
account. A test could then "prove" that a tag set by one account steers the other.

Patch: DescribeVpcPeeringConnections and AcceptVpcPeeringConnection answer with a per-caller view of
each connection whose tags (hence the tag filters of gap ``describe_filters``, installed after this
one) come from the calling account and Region's tag store: exactly what DescribeTags answers there.

Turn on: ``fidelity.enable()`` (every gap) or ``fidelity.enabled(["peering_tags_per_account"])`` for
a block, from ``emulation.fidelity``. docs/moto-gaps.md#peering_tags_per_account.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from moto.ec2.responses.vpc_peering_connections import VPCPeeringConnections

from emulation.fidelity.patching import Gap, Patcher, replace_result, result_items

TAGS_DOC = "https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/Using_Tags.html"


class _AccountView:
    """A connection as one account, in one Region, sees it: its own tags; everything else shared."""

    def __init__(self, connection: Any, backend: Any) -> None:
        self._connection = connection
        self._backend = backend

    def __getattr__(self, name: str) -> Any:
        return getattr(self._connection, name)

    def get_tags(self) -> list[dict[str, str]]:
        return list(self._backend.describe_tags(filters={"resource-id": [self._connection.id]}))

    # the serializer reads Tags through one of these names (shape name TagList, wire name tagSet)
    @property
    def tag_list(self) -> list[dict[str, str]]:
        return self.get_tags()

    @property
    def tag_set(self) -> list[dict[str, str]]:
        return self.get_tags()


def _view(connection: Any, backend: Any) -> _AccountView:
    shared = connection._connection if isinstance(connection, _AccountView) else connection
    return _AccountView(shared, backend)


def _as_seen_from(backend: Any, result: Any, key: str, *, many: bool) -> Any:
    """moto's response with the connection(s) under ``key`` as ``backend`` (account+Region) sees them."""
    found = result_items(result, key)
    if found is None:
        return result
    return replace_result(result, key, [_view(c, backend) for c in found] if many else _view(found, backend))


def install(patcher: Patcher) -> None:
    """Describe/Accept show the tags of the calling account and Region, as DescribeTags does."""

    def make_describe(previous: Callable[..., Any]) -> Callable[..., Any]:
        def describe_vpc_peering_connections(self: Any) -> Any:
            return _as_seen_from(self.ec2_backend, previous(self), "VpcPeeringConnections", many=True)

        return describe_vpc_peering_connections

    def make_accept(previous: Callable[..., Any]) -> Callable[..., Any]:
        def accept_vpc_peering_connection(self: Any) -> Any:
            return _as_seen_from(self.ec2_backend, previous(self), "VpcPeeringConnection", many=False)

        return accept_vpc_peering_connection

    patcher.wrap(VPCPeeringConnections, "describe_vpc_peering_connections", make_describe)
    patcher.wrap(VPCPeeringConnections, "accept_vpc_peering_connection", make_accept)


GAP = Gap("peering_tags_per_account", TAGS_DOC, install, __doc__ or "", documented=False)
