"""Make moto behave the way the AWS documentation says, where Peering Autopilot depends on it.

moto 5.2 deviates from the EC2 API in ways the engine meets. Each deviation ("gap") is one
function here that patches moto in place, with the AWS documentation it reproduces, and is listed
in ``GAPS`` (name, documentation link, description, test that proves it). docs/moto-gaps.md
explains every gap in prose.

Usage::

    from emulation import moto_fidelity

    moto_fidelity.enable()              # idempotent, patches every gap, returns nothing
    with moto_fidelity.raw_moto():      # moto as released, e.g. to show a gap still exists
        ...
    with moto_fidelity.enabled(["describe_filters"]):   # a subset, restored afterwards
        ...
    moto_fidelity.disable()             # restore moto exactly

    # AWS states and the passing of time moto cannot reach (work with or without enable()):
    moto_fidelity.set_status("pcx-...", "provisioning")   # or expired, failed, rejected, deleted...
    moto_fidelity.age("pcx-...", hours=73)                # the request was made 73 h ago
    moto_fidelity.forget_connection("pcx-...")            # past its visibility window

The patches change moto's classes, not a mock: they apply to ``moto.mock_aws`` and to a moto
server running in this process (``moto.server.ThreadedMotoServer`` or a ``python -m`` wrapper that
calls ``enable()`` before it serves), whether enabled before or after the mock or server starts.

Gaps are installed in registry order; a gap that wraps a moto method wraps whatever an earlier gap
installed, so the order matters where two gaps touch the same method (per-account tags must be
seen by the tag filters, so ``peering_tags_per_account`` comes before ``describe_filters``;
``expiration_time`` records the creation before ``create_overlap_fails`` may fail the request).
To add a gap: write ``_install_<name>(patcher)`` decorated with ``@_gap(...)``, add a test pair in
tests/integration/test_moto_fidelity.py (raw moto still deviates / patched moto matches AWS) and a
section in docs/moto-gaps.md.
"""

from __future__ import annotations

import functools
import ipaddress
import math
import re
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from moto.core.responses import ActionResult
from moto.ec2.exceptions import EC2ClientError, InvalidVPCPeeringConnectionIdError, OperationNotPermitted
from moto.ec2.models import ec2_backends
from moto.ec2.models.route_tables import Route, RouteTable
from moto.ec2.models.vpc_peering_connections import VPCPeeringConnection, VPCPeeringConnectionBackend
from moto.ec2.responses.vpc_peering_connections import VPCPeeringConnections

__all__ = [
    "FAILED_MESSAGE",
    "GAPS",
    "MALFORMED_CODE",
    "NOT_FOUND_CODE",
    "REQUEST_LIFETIME",
    "STATUS_CODES",
    "ConnectionNotInMotoError",
    "Gap",
    "Patcher",
    "age",
    "default_message",
    "disable",
    "enable",
    "enabled",
    "enabled_gaps",
    "forget_connection",
    "gap",
    "raw_moto",
    "set_status",
]

DESCRIBE_DOC = "https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeVpcPeeringConnections.html"
FILTER_DOC = "https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_Filter.html"
FILTERING_GUIDE = "https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/Using_Filtering.html"
ERRORS_DOC = "https://docs.aws.amazon.com/AWSEC2/latest/APIReference/errors-overview.html"
VPC_INFO_DOC = "https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_VpcPeeringConnectionVpcInfo.html"
TAGS_DOC = "https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/Using_Tags.html"
LIFECYCLE_DOC = "https://docs.aws.amazon.com/vpc/latest/peering/vpc-peering-basics.html#vpc-peering-lifecycle"
CONNECTION_DOC = "https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_VpcPeeringConnection.html"
CREATE_DOC = "https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CreateVpcPeeringConnection.html"
ROUTE_DOC = "https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_Route.html"
ROUTE_OPTIONS_DOC = "https://docs.aws.amazon.com/vpc/latest/userguide/route-table-options.html"
MODIFY_DOC = "https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_ModifyVpcPeeringConnectionOptions.html"

#: the error code as the EC2 API reference (and botocore's waiter model) spells it: "ID", not "Id"
NOT_FOUND_CODE = "InvalidVpcPeeringConnectionID.NotFound"
MALFORMED_CODE = "InvalidVpcPeeringConnectionId.Malformed"
#: pcx- followed by 8 (older) or 17 lowercase hex digits
CONNECTION_ID = re.compile(r"^pcx-(?:[0-9a-f]{8}|[0-9a-f]{17})$")

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

_TEST_MODULE = "tests/integration/test_moto_fidelity.py"


# --------------------------------------------------------------------------------------------
# Registry and patch bookkeeping
# --------------------------------------------------------------------------------------------


class Patcher:
    """Replaces attributes on moto's classes and remembers the originals so ``undo`` restores them."""

    def __init__(self) -> None:
        self._saved: list[tuple[type, str, bool, Any]] = []

    @staticmethod
    def current(owner: type, name: str) -> Any:
        """The attribute as installed now (function, property, ...), found along the MRO, unbound."""
        for klass in owner.__mro__:
            if name in vars(klass):
                return vars(klass)[name]
        raise AttributeError(f"{owner.__name__} has no attribute {name!r}: moto changed, revisit the patch")

    def replace(self, owner: type, name: str, value: Any) -> None:
        own = name in vars(owner)
        self._saved.append((owner, name, own, vars(owner).get(name)))
        setattr(owner, name, value)

    def wrap(self, owner: type, name: str, make: Callable[[Callable[..., Any]], Callable[..., Any]]) -> None:
        """Replace method ``name`` by ``make(previous)``, keeping its name (moto dispatches on it)."""
        previous = self.current(owner, name)
        if not callable(previous):
            raise TypeError(f"{owner.__name__}.{name} is not a method: moto changed, revisit the patch")
        self.replace(owner, name, functools.wraps(previous)(make(previous)))

    def undo(self) -> None:
        while self._saved:
            owner, name, own, value = self._saved.pop()
            if own:
                setattr(owner, name, value)
            else:
                delattr(owner, name)


@dataclass(frozen=True)
class Gap:
    """One way moto 5.2 deviates from AWS, and the patch that reproduces AWS's documented behaviour."""

    name: str
    doc: str  # the AWS documentation of the behaviour reproduced
    description: str  # what AWS does, what moto does
    install: Callable[[Patcher], None]
    tests: str  # where the pair of tests (raw moto deviates / patched moto matches AWS) lives
    #: False when the AWS behaviour is inferred rather than stated in the page (see docs/moto-gaps.md)
    documented: bool = True


_REGISTRY: list[Gap] = []


def _gap(
    name: str, doc: str, description: str, *, documented: bool = True
) -> Callable[[Callable[[Patcher], None]], Callable[[Patcher], None]]:
    def register(install: Callable[[Patcher], None]) -> Callable[[Patcher], None]:
        _REGISTRY.append(Gap(name, doc, description, install, f"{_TEST_MODULE}::*{name}*", documented))
        return install

    return register


# --------------------------------------------------------------------------------------------
# Helpers shared by the patches
# --------------------------------------------------------------------------------------------


class VpcPeeringConnectionNotFoundError(EC2ClientError):
    """``InvalidVpcPeeringConnectionID.NotFound``, spelled as the EC2 API spells it."""

    def __init__(self, connection_ids: Iterable[str]) -> None:
        super().__init__(NOT_FOUND_CODE, f"The vpcPeeringConnection ID '{', '.join(connection_ids)}' does not exist")


class VpcPeeringConnectionIdMalformedError(EC2ClientError):
    """``InvalidVpcPeeringConnectionId.Malformed``: the id is not of the form pcx-xxxxxxxx."""

    def __init__(self, connection_id: str) -> None:
        super().__init__(MALFORMED_CODE, f'Invalid id: "{connection_id}" (expecting "pcx-...")')


class InvalidFilterError(EC2ClientError):
    def __init__(self, name: str) -> None:
        super().__init__("InvalidParameterValue", f"The filter '{name}' is invalid")


def _associated_blocks(vpc: Any, *, ipv6: bool) -> list[str]:
    """The VPC's CIDR blocks in state ``associated`` (primary first), IPv4 or IPv6."""
    return [
        str(item["cidr_block"])
        for item in vpc.get_cidr_block_association_set(ipv6=ipv6)
        if (item.get("cidr_block_state") or {}).get("state") == "associated"
    ]


def _tags(connection: Any) -> list[dict[str, str]]:
    """Tags in moto's internal shape ({"key", "value"}); per account when that gap is enabled."""
    return list(connection.get_tags())


class _AccountView:
    """A connection as one account, in one Region, sees it: its own tags; everything else shared.

    moto keeps a single object for both sides of a cross-account or inter-Region connection and
    reads its tags from the requester's tag store; AWS keeps the tags of each side in that side's
    account (see ``_install_peering_tags_per_account``).
    """

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


def _unwrap(connection: Any) -> Any:
    return connection._connection if isinstance(connection, _AccountView) else connection


@functools.lru_cache(maxsize=512)
def _wildcard(value: str) -> re.Pattern[str]:
    r"""An EC2 filter value as a regex: ``*`` any run, ``?`` one character, ``\`` escapes them."""
    out: list[str] = []
    chars = iter(value)
    for char in chars:
        if char == "\\":
            out.append(re.escape(next(chars, "\\")))
        elif char == "*":
            out.append(".*")
        elif char == "?":
            out.append(".")
        else:
            out.append(re.escape(char))
    return re.compile("".join(out), re.DOTALL)


def _expiration(connection: Any) -> list[str]:
    # moto 5.2 has no expiration time; a later lifecycle patch may add ``expiration_time``.
    value = getattr(_unwrap(connection), "expiration_time", None)
    if not isinstance(value, datetime):
        return []
    value = value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    return [value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"]


#: the filters the DescribeVpcPeeringConnections reference lists, each to the values it matches
_FILTERS: dict[str, Callable[[Any], list[str]]] = {
    "accepter-vpc-info.cidr-block": lambda c: _associated_blocks(c.peer_vpc, ipv6=False),
    "accepter-vpc-info.owner-id": lambda c: [str(c.peer_vpc.owner_id)],
    "accepter-vpc-info.vpc-id": lambda c: [str(c.peer_vpc.id)],
    "expiration-time": _expiration,
    "requester-vpc-info.cidr-block": lambda c: _associated_blocks(c.vpc, ipv6=False),
    "requester-vpc-info.owner-id": lambda c: [str(c.vpc.owner_id)],
    "requester-vpc-info.vpc-id": lambda c: [str(c.vpc.id)],
    "status-code": lambda c: [str(c.status["Code"])],
    "status-message": lambda c: [str(c.status["Message"])],
    "tag-key": lambda c: [t["key"] for t in _tags(c)],
    "tag-value": lambda c: [t["value"] for t in _tags(c)],  # listed in earlier API versions
    "vpc-peering-connection-id": lambda c: [str(c.id)],
}


def _filter_values(connection: Any, name: str) -> list[str]:
    if name.startswith("tag:"):
        key = name[len("tag:") :]
        return [t["value"] for t in _tags(connection) if t["key"] == key]
    return _FILTERS[name](connection)


def _matches(connection: Any, filters: dict[str, list[str]]) -> bool:
    """AND across filters, OR across the values of one filter; values are case-sensitive."""
    for name, patterns in filters.items():
        values = _filter_values(connection, name)
        if not any(_wildcard(p).fullmatch(v) for p in patterns for v in values):
            return False
    return True


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


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)  # EC2 timestamps have whole seconds


def _set_code(connection: Any, code: str, message: str | None = None) -> None:
    """Set moto's status object as AWS would show it; remember whether it was ever accepted."""
    if code not in STATUS_CODES:
        raise ValueError(f"unknown VPC peering connection status {code!r}; AWS has: {', '.join(STATUS_CODES)}")
    connection._status.code = code
    connection._status.message = default_message(connection, code) if message is None else message
    if code in _ACCEPTED_CODES:
        setattr(connection, _ACCEPTED, True)
    elif code in _UNANSWERED_CODES:
        setattr(connection, _ACCEPTED, False)


def _expiration_of(connection: Any) -> datetime | None:
    """Creation + 7 days while the request is unanswered or expired; None once accepted (or unknown)."""
    created = vars(connection).get(_CREATED_AT)
    if not isinstance(created, datetime):
        return None
    if vars(connection).get(_ACCEPTED) or connection._status.code in _ACCEPTED_CODES:
        return None
    return created + REQUEST_LIFETIME


def _overlaps(vpc: Any, peer_vpc: Any) -> list[str]:
    """Pairs of associated blocks (IPv4 with IPv4, IPv6 with IPv6) of two VPCs that overlap."""
    found: list[str] = []
    for ipv6 in (False, True):
        ours = [ipaddress.ip_network(b, strict=False) for b in _associated_blocks(vpc, ipv6=ipv6)]
        theirs = [ipaddress.ip_network(b, strict=False) for b in _associated_blocks(peer_vpc, ipv6=ipv6)]
        found += [f"{a} overlaps {b}" for a in ours for b in theirs if a.overlaps(b)]
    return found


def _ec2_backends() -> Iterator[Any]:
    """Every EC2 backend moto has created (every account and Region), without creating any."""
    for regions in list(dict.values(ec2_backends)):
        yield from list(dict.values(regions))


class ConnectionNotInMotoError(LookupError):
    """A test helper was given a connection id that no moto EC2 backend holds."""

    def __init__(self, connection_id: str) -> None:
        super().__init__(
            f"no moto EC2 backend (any account, any Region) holds VPC peering connection {connection_id!r}: "
            "create it first (inside the running mock), or it was already forgotten"
        )
        self.connection_id = connection_id


def _holders(connection_id: str) -> list[tuple[Any, Any]]:
    """(backend, connection) for every backend that holds the id; raises when none does."""
    found = [(b, b.vpc_pcxs[connection_id]) for b in _ec2_backends() if connection_id in b.vpc_pcxs]
    if not found:
        raise ConnectionNotInMotoError(connection_id)
    return found


def _connections(connection_id: str) -> list[Any]:
    """The distinct connection objects behind the id (moto shares one object between both sides)."""
    unique: dict[int, Any] = {}
    for _, connection in _holders(connection_id):
        unique.setdefault(id(connection), connection)
    return list(unique.values())


def _result_items(result: ActionResult, key: str) -> Any:
    body = result.result
    return body.get(key) if isinstance(body, dict) else None


def _replace_result(result: ActionResult, key: str, value: Any) -> ActionResult:
    body = result.result
    assert isinstance(body, dict)
    return ActionResult({**body, key: value})


# --------------------------------------------------------------------------------------------
# The gaps, in the order they are installed
# --------------------------------------------------------------------------------------------


@_gap(
    "vpc_info_cidr_sets",
    VPC_INFO_DOC,
    "AWS: VpcPeeringConnectionVpcInfo has CidrBlock (the primary IPv4 block), CidrBlockSet (every "
    "IPv4 block of the VPC) and Ipv6CidrBlockSet (its IPv6 blocks). moto: CidrBlock only, so a "
    "VPC's secondary and IPv6 blocks are invisible in the connection.",
)
def _install_vpc_info_cidr_sets(patcher: Patcher) -> None:
    """Add CidrBlockSet and Ipv6CidrBlockSet (associated blocks only) to both sides' VpcInfo.

    https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_VpcPeeringConnectionVpcInfo.html
    The blocks are read live from the VPC, so blocks associated or disassociated after the
    connection was created show up as they would in AWS.
    """
    for prop_name, side in (("requester_vpc_info", "vpc"), ("accepter_vpc_info", "peer_vpc")):
        previous = patcher.current(VPCPeeringConnection, prop_name)
        if not isinstance(previous, property) or previous.fget is None:
            raise TypeError(f"VPCPeeringConnection.{prop_name} is not a property: moto changed, revisit the patch")

        def vpc_info(self: Any, _previous: Callable[[Any], Any] = previous.fget, _side: str = side) -> dict[str, Any]:
            info = dict(_previous(self))
            vpc = getattr(self, _side)
            info["CidrBlockSet"] = [{"CidrBlock": block} for block in _associated_blocks(vpc, ipv6=False)]
            info["Ipv6CidrBlockSet"] = [{"Ipv6CidrBlock": block} for block in _associated_blocks(vpc, ipv6=True)]
            return info

        patcher.replace(VPCPeeringConnection, prop_name, property(vpc_info, doc=previous.__doc__))


@_gap(
    "not_found_error_code",
    ERRORS_DOC,
    "AWS: an unknown connection id is InvalidVpcPeeringConnectionID.NotFound (the spelling of the "
    "EC2 error-code list and botocore's VpcPeeringConnectionExists/Deleted waiters). moto: "
    "InvalidVpcPeeringConnectionId.NotFound (lowercase 'd') from Accept/Reject/Delete/Modify..., "
    "which code that matches AWS's exact string does not recognise.",
)
def _install_not_found_error_code(patcher: Patcher) -> None:
    """Give moto's not-found error for peering connections the code the EC2 API documents.

    https://docs.aws.amazon.com/AWSEC2/latest/APIReference/errors-overview.html
    (InvalidVpcPeeringConnectionID.NotFound; botocore data ec2/2016-11-15/waiters-2.json agrees)
    """

    def init(self: Any, vpc_peering_connection_id: str) -> None:
        EC2ClientError.__init__(
            self, NOT_FOUND_CODE, f"The vpcPeeringConnection ID '{vpc_peering_connection_id}' does not exist"
        )

    patcher.replace(InvalidVPCPeeringConnectionIdError, "__init__", init)


@_gap(
    "peering_tags_per_account",
    TAGS_DOC,
    "AWS: tags are kept by the account (and Region) that set them; each side of a cross-account "
    "or inter-Region connection sees only its own tags. moto: one shared object whose tags are "
    "read from the requester's store, so the accepter sees the requester's tags and not its own "
    "(DescribeTags is per account in moto; DescribeVpcPeeringConnections is not).",
    documented=False,
)
def _install_peering_tags_per_account(patcher: Patcher) -> None:
    """Describe/Accept show the tags of the calling account and Region, as DescribeTags does.

    Design fact 3 (DESIGN.md): tags on a connection exist only in the account that set them.
    EC2 tags are per-account resources: https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/Using_Tags.html
    [U] no AWS page states it for peering connections in so many words: see docs/moto-gaps.md.
    """

    def make_describe(previous: Callable[..., Any]) -> Callable[..., Any]:
        def describe_vpc_peering_connections(self: Any) -> Any:
            result = previous(self)
            items = _result_items(result, "VpcPeeringConnections")
            if items is None:
                return result
            views = [_AccountView(_unwrap(item), self.ec2_backend) for item in items]
            return _replace_result(result, "VpcPeeringConnections", views)

        return describe_vpc_peering_connections

    def make_accept(previous: Callable[..., Any]) -> Callable[..., Any]:
        def accept_vpc_peering_connection(self: Any) -> Any:
            result = previous(self)
            item = _result_items(result, "VpcPeeringConnection")
            if item is None:
                return result
            return _replace_result(result, "VpcPeeringConnection", _AccountView(_unwrap(item), self.ec2_backend))

        return accept_vpc_peering_connection

    patcher.wrap(VPCPeeringConnections, "describe_vpc_peering_connections", make_describe)
    patcher.wrap(VPCPeeringConnections, "accept_vpc_peering_connection", make_accept)


@_gap(
    "describe_unknown_ids",
    DESCRIBE_DOC,
    "AWS: DescribeVpcPeeringConnections with an id the caller's account and Region does not know "
    "fails with InvalidVpcPeeringConnectionID.NotFound (a malformed id with "
    "InvalidVpcPeeringConnectionId.Malformed). moto: returns the known ones and silently drops "
    "the rest (an empty list when none is known).",
)
def _install_describe_unknown_ids(patcher: Patcher) -> None:
    """Unknown ids in VpcPeeringConnectionIds raise NotFound; malformed ids raise Malformed.

    https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeVpcPeeringConnections.html
    https://docs.aws.amazon.com/AWSEC2/latest/APIReference/errors-overview.html
    """

    def make(previous: Callable[..., Any]) -> Callable[..., Any]:
        def describe_vpc_peering_connections(self: Any) -> Any:
            ids = [str(i) for i in (self._get_param("VpcPeeringConnectionIds") or [])]
            for connection_id in ids:
                if not CONNECTION_ID.match(connection_id):
                    raise VpcPeeringConnectionIdMalformedError(connection_id)
            known = self.ec2_backend.vpc_pcxs
            missing = [i for i in dict.fromkeys(ids) if i not in known]
            if missing:
                raise VpcPeeringConnectionNotFoundError(missing)
            return previous(self)

        return describe_vpc_peering_connections

    patcher.wrap(VPCPeeringConnections, "describe_vpc_peering_connections", make)


@_gap(
    "describe_filters",
    DESCRIBE_DOC,
    "AWS: DescribeVpcPeeringConnections applies Filters (requester-/accepter-vpc-info.cidr-block, "
    ".owner-id, .vpc-id, expiration-time, status-code, status-message, tag:<key>, tag-key, "
    "vpc-peering-connection-id): AND across filters, OR across values, * and ? wildcards; an "
    "unknown filter name is InvalidParameterValue. moto: ignores Filters and returns everything.",
)
def _install_describe_filters(patcher: Patcher) -> None:
    """Apply the documented filters to DescribeVpcPeeringConnections.

    https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeVpcPeeringConnections.html
    https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_Filter.html (AND / OR, case-sensitive)
    https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/Using_Filtering.html (wildcards)
    """

    def make(previous: Callable[..., Any]) -> Callable[..., Any]:
        def describe_vpc_peering_connections(self: Any) -> Any:
            filters: dict[str, list[str]] = {
                str(name): [str(v) for v in values] for name, values in self._filters_from_querystring().items()
            }
            for name in filters:
                if name not in _FILTERS and not (name.startswith("tag:") and len(name) > len("tag:")):
                    raise InvalidFilterError(name)
            result = previous(self)
            items = _result_items(result, "VpcPeeringConnections")
            if not filters or items is None:
                return result
            return _replace_result(result, "VpcPeeringConnections", [i for i in items if _matches(i, filters)])

        return describe_vpc_peering_connections

    patcher.wrap(VPCPeeringConnections, "describe_vpc_peering_connections", make)


@_gap(
    "expiration_time",
    CONNECTION_DOC,
    "AWS: a request that has not been accepted shows ExpirationTime (created + 7 days) in Create and "
    "Describe responses, and the expiration-time filter matches it; an accepted connection shows "
    "none. moto: never sets ExpirationTime.",
)
def _install_expiration_time(patcher: Patcher) -> None:
    """Record each connection's creation; render ExpirationTime = creation + 7 days until accepted.

    https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_VpcPeeringConnection.html ("the time
    that an unaccepted VPC peering connection will expire");
    https://docs.aws.amazon.com/vpc/latest/peering/vpc-peering-basics.html#vpc-peering-lifecycle
    (a pending-acceptance request expires after 7 days). ``expiration_time`` is a property of moto's
    connection (timezone-aware, whole seconds); assigning it moves the creation time. ``age()``
    moves the creation time into the past whether or not this gap is enabled.
    """

    def make_create(previous: Callable[..., Any]) -> Callable[..., Any]:
        def create_vpc_peering_connection(self: Any, *args: Any, **kwargs: Any) -> Any:
            connection = previous(self, *args, **kwargs)
            vars(connection).setdefault(_CREATED_AT, _now())
            return connection

        return create_vpc_peering_connection

    def make_accept(previous: Callable[..., Any]) -> Callable[..., Any]:
        def accept_vpc_peering_connection(self: Any, *args: Any, **kwargs: Any) -> Any:
            connection = previous(self, *args, **kwargs)
            setattr(connection, _ACCEPTED, True)
            return connection

        return accept_vpc_peering_connection

    def get_expiration(self: Any) -> datetime | None:
        return _expiration_of(self)

    def set_expiration(self: Any, value: datetime) -> None:
        if not isinstance(value, datetime) or value.tzinfo is None:
            raise TypeError("expiration_time must be a timezone-aware datetime")
        setattr(self, _CREATED_AT, value.astimezone(UTC) - REQUEST_LIFETIME)

    patcher.wrap(VPCPeeringConnectionBackend, "create_vpc_peering_connection", make_create)
    patcher.wrap(VPCPeeringConnectionBackend, "accept_vpc_peering_connection", make_accept)
    patcher.replace(
        VPCPeeringConnection,
        "expiration_time",
        property(get_expiration, set_expiration, doc="ExpirationTime as AWS shows it (None once accepted)"),
    )


@_gap(
    "create_overlap_fails",
    CREATE_DOC,
    "AWS: a request between VPCs whose IPv4 (or IPv6) blocks overlap, any associated block counting, "
    "goes to status failed; it cannot be accepted, rejected or deleted and only the requester sees "
    "it. moto: creates it pending-acceptance like any other.",
)
def _install_create_overlap_fails(patcher: Patcher) -> None:
    """Fail a request whose VPCs' associated blocks overlap when it is created.

    https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CreateVpcPeeringConnection.html ("If
    you create a VPC peering connection request between VPCs with overlapping CIDR blocks, the VPC
    peering connection has a status of failed");
    https://docs.aws.amazon.com/vpc/latest/peering/vpc-peering-basics.html (IPv4 and IPv6; any of
    several blocks; "the failed VPC peering connection remains visible to the requester for 2 hours").
    Only the blocks associated at creation count: AWS does not re-check blocks associated later.
    The Create response keeps showing initiating-request (the request fails after it is made).
    """

    def make(previous: Callable[..., Any]) -> Callable[..., Any]:
        def create_vpc_peering_connection(self: Any, *args: Any, **kwargs: Any) -> Any:
            connection = previous(self, *args, **kwargs)
            if _overlaps(connection.vpc, connection.peer_vpc):
                _set_code(connection, "failed")
                for backend in _ec2_backends():  # visible to the requester only
                    if backend is not self and backend.vpc_pcxs.get(connection.id) is connection:
                        del backend.vpc_pcxs[connection.id]
            return connection

        return create_vpc_peering_connection

    patcher.wrap(VPCPeeringConnectionBackend, "create_vpc_peering_connection", make)


@_gap(
    "blackhole_routes",
    ROUTE_DOC,
    "AWS: a route whose target is not available has State blackhole; for a peering connection that "
    "is any status but active (pending, provisioning, rejected, deleted, expired, failed) or one the "
    "API no longer shows at all; DescribeRouteTables filters on route.state. moto: every route is "
    "active and route.state is not a known filter.",
)
def _install_blackhole_routes(patcher: Patcher) -> None:
    """Routes to a connection that is not active (or is gone) render State blackhole.

    https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_Route.html ("The blackhole state
    indicates that the route's target isn't available"); https://docs.aws.amazon.com/vpc/latest/userguide/route-table-options.html
    Also adds the documented ``route.state`` filter of DescribeRouteTables (moto raises
    FilterNotImplementedError for it).
    """
    previous = patcher.current(Route, "state")
    if not isinstance(previous, property) or previous.fget is None:
        raise TypeError("Route.state is not a property: moto changed, revisit the patch")

    def state(self: Any, _previous: Callable[[Any], str] = previous.fget) -> str:
        connection = self.vpc_pcx
        if connection is not None:
            shown = self.route_table.ec2_backend.vpc_pcxs.get(connection.id)
            if shown is not connection or connection._status.code != "active":
                return "blackhole"
        return _previous(self)

    def make_filter(previous_filter: Callable[..., Any]) -> Callable[..., Any]:
        def get_filter_value(self: Any, filter_name: str, method_name: str | None = None) -> Any:
            if filter_name == "route.state":
                return [route.state for route in self._routes.values()]
            return previous_filter(self, filter_name, method_name)

        return get_filter_value

    patcher.replace(Route, "state", property(state, doc=previous.__doc__))
    patcher.wrap(RouteTable, "get_filter_value", make_filter)


@_gap(
    "modify_options_checks",
    MODIFY_DOC,
    "AWS: ModifyVpcPeeringConnectionOptions works only on an active connection and each owner sets "
    "only its own side, in its own Region (same account and Region: both sides in one call); "
    "otherwise OperationNotPermitted. moto: any caller that sees the connection may set either side "
    "in any state.",
)
def _install_modify_options_checks(patcher: Patcher) -> None:
    """Refuse option changes on inactive connections and on the other owner's side or Region.

    https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_ModifyVpcPeeringConnectionOptions.html
    (each account owner modifies its own side; inter-Region: requester options in the requester
    Region, accepter options in the accepter Region); https://docs.aws.amazon.com/vpc/latest/peering/modify-peering-connections.html
    (active connections only). The codes and messages are those AWS returns (observed, quoted in
    docs/moto-gaps.md): OperationNotPermitted for all three.
    """

    def make(previous: Callable[..., Any]) -> Callable[..., Any]:
        def modify_vpc_peering_connection_options(
            self: Any, vpc_pcx_id: str, accepter_options: Any = None, requester_options: Any = None
        ) -> Any:
            connection = self.get_vpc_peering_connection(vpc_pcx_id)  # NotFound where it is not visible
            if connection._status.code != "active":
                raise OperationNotPermitted(
                    f"Peering {vpc_pcx_id} is not active. Peering options can be added only to active peerings."
                )
            for side, options, vpc in (
                ("requester", requester_options, connection.vpc),
                ("accepter", accepter_options, connection.peer_vpc),
            ):
                if not options:
                    continue
                if str(self.account_id) != str(vpc.owner_id):
                    raise OperationNotPermitted(
                        f"User {self.account_id} does not have permission to modify the {side} side peering options"
                    )
                if self.region_name != vpc.region:
                    label = side.capitalize()
                    raise OperationNotPermitted(
                        f"{label}'s VPC Peering connection options cannot be modified for a different region"
                    )
            return previous(self, vpc_pcx_id, accepter_options, requester_options)

        return modify_vpc_peering_connection_options

    patcher.wrap(VPCPeeringConnectionBackend, "modify_vpc_peering_connection_options", make)


#: every known gap, in installation order
GAPS: tuple[Gap, ...] = tuple(_REGISTRY)

# --------------------------------------------------------------------------------------------
# Public switch
# --------------------------------------------------------------------------------------------

_lock = threading.RLock()
_patcher: Patcher | None = None
_enabled: tuple[str, ...] = ()


def gap(name: str) -> Gap:
    for item in GAPS:
        if item.name == name:
            return item
    raise KeyError(f"unknown moto gap {name!r}; known: {', '.join(g.name for g in GAPS)}")


def _select(names: Iterable[str] | None) -> set[str]:
    if names is None:
        return {g.name for g in GAPS}
    wanted = {names} if isinstance(names, str) else set(names)
    for name in wanted:
        gap(name)  # raises on an unknown name
    return wanted


def _install(names: set[str]) -> None:
    global _patcher, _enabled
    patcher = Patcher()
    installed: list[str] = []
    try:
        for item in GAPS:
            if item.name in names:
                item.install(patcher)
                installed.append(item.name)
    except Exception:
        patcher.undo()
        raise
    _patcher, _enabled = patcher, tuple(installed)


def disable() -> None:
    """Restore moto as released (idempotent)."""
    global _patcher, _enabled
    with _lock:
        if _patcher is not None:
            _patcher.undo()
        _patcher, _enabled = None, ()


def enable(names: Iterable[str] | None = None) -> None:
    """Patch moto for every gap (or the ``names`` given, added to those already enabled). Idempotent."""
    wanted = _select(names)
    with _lock:
        if wanted <= set(_enabled):
            return
        union = wanted | set(_enabled)
        disable()
        _install(union)


def enabled_gaps() -> tuple[str, ...]:
    """The names of the gaps patched now, in installation order."""
    return _enabled


def _restore(names: tuple[str, ...]) -> None:
    with _lock:
        disable()
        if names:
            _install(set(names))


@contextmanager
def enabled(names: Iterable[str] | None = None) -> Iterator[None]:
    """Patch moto (every gap, or ``names``) for the block, then restore the previous state."""
    with _lock:
        before = _enabled
        disable()
        _install(_select(names))
    try:
        yield
    finally:
        _restore(before)


@contextmanager
def raw_moto() -> Iterator[None]:
    """moto exactly as released for the block (e.g. to show a gap still exists), then restore."""
    with _lock:
        before = _enabled
        disable()
    try:
        yield
    finally:
        _restore(before)


# --------------------------------------------------------------------------------------------
# Lifecycle helpers: states and the passing of time that moto cannot reach by itself
# --------------------------------------------------------------------------------------------
#
# https://docs.aws.amazon.com/vpc/latest/peering/vpc-peering-basics.html#vpc-peering-lifecycle
# AWS goes initiating-request -> pending-acceptance -> provisioning -> active (moto's Accept goes
# straight to active), a request expires after 7 days, a request between overlapping VPCs fails,
# and a dead connection disappears from the API after its visibility window. None of this emits an
# API call, so a test sets it with these helpers. They work with or without enable().


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
            _set_code(connection, code, message)


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
        now = _now()
        for connection in _connections(connection_id):
            created = vars(connection).get(_CREATED_AT)
            created = created if isinstance(created, datetime) else now
            setattr(connection, _CREATED_AT, created - timedelta(hours=hours))
            if (
                connection._status.code in _UNANSWERED_CODES
                and now >= created - timedelta(hours=hours) + REQUEST_LIFETIME
            ):
                _set_code(connection, "expired")


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
        for backend, _ in _holders(connection_id):
            del backend.vpc_pcxs[connection_id]
