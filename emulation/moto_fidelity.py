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

The patches change moto's classes, not a mock: they apply to ``moto.mock_aws`` and to a moto
server running in this process (``moto.server.ThreadedMotoServer`` or a ``python -m`` wrapper that
calls ``enable()`` before it serves), whether enabled before or after the mock or server starts.

Gaps are installed in registry order; a gap that wraps a moto method wraps whatever an earlier gap
installed, so the order matters where two gaps touch the same method (per-account tags must be
seen by the tag filters, so ``peering_tags_per_account`` comes before ``describe_filters``).
To add a gap: write ``_install_<name>(patcher)`` decorated with ``@_gap(...)``, add a test pair in
tests/integration/test_moto_fidelity.py (raw moto still deviates / patched moto matches AWS) and a
section in docs/moto-gaps.md.
"""

from __future__ import annotations

import functools
import re
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from moto.core.responses import ActionResult
from moto.ec2.exceptions import EC2ClientError, InvalidVPCPeeringConnectionIdError
from moto.ec2.models.vpc_peering_connections import VPCPeeringConnection
from moto.ec2.responses.vpc_peering_connections import VPCPeeringConnections

__all__ = [
    "GAPS",
    "MALFORMED_CODE",
    "NOT_FOUND_CODE",
    "Gap",
    "Patcher",
    "disable",
    "enable",
    "enabled",
    "enabled_gaps",
    "gap",
    "raw_moto",
]

DESCRIBE_DOC = "https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeVpcPeeringConnections.html"
FILTER_DOC = "https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_Filter.html"
FILTERING_GUIDE = "https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/Using_Filtering.html"
ERRORS_DOC = "https://docs.aws.amazon.com/AWSEC2/latest/APIReference/errors-overview.html"
VPC_INFO_DOC = "https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_VpcPeeringConnectionVpcInfo.html"
TAGS_DOC = "https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/Using_Tags.html"

#: the error code as the EC2 API reference (and botocore's waiter model) spells it: "ID", not "Id"
NOT_FOUND_CODE = "InvalidVpcPeeringConnectionID.NotFound"
MALFORMED_CODE = "InvalidVpcPeeringConnectionId.Malformed"
#: pcx- followed by 8 (older) or 17 lowercase hex digits
CONNECTION_ID = re.compile(r"^pcx-(?:[0-9a-f]{8}|[0-9a-f]{17})$")

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
