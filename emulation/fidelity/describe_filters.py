"""Gap ``describe_filters``: DescribeVpcPeeringConnections applies its ``Filters``.

AWS: DescribeVpcPeeringConnections documents the filters ``accepter-vpc-info.cidr-block``,
``accepter-vpc-info.owner-id``, ``accepter-vpc-info.vpc-id``, ``expiration-time``,
``requester-vpc-info.cidr-block``, ``requester-vpc-info.owner-id``, ``requester-vpc-info.vpc-id``,
``status-code``, ``status-message``, ``tag:<key>``, ``tag-key`` and ``vpc-peering-connection-id``.
Several filters are joined with AND, several values of one filter with OR, names and values are
case-sensitive, and values may use the wildcards ``*`` (any run) and ``?`` (one character), a
backslash escaping them. An unknown filter name is refused with ``InvalidParameterValue`` ("The
filter '...' is invalid"): observed EC2 behaviour, not stated on the pages.
https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeVpcPeeringConnections.html
https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_Filter.html (AND / OR, case-sensitive)
https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/Using_Filtering.html (wildcards)

moto 5.2: reads only ``VpcPeeringConnectionIds``; ``Filters`` are ignored and every connection the
account and Region knows is returned, so ``observe.connections_touching`` would see every
connection as touching every VPC.

Patch: the response method validates the filter names, then keeps the connections that match every
filter. The cidr-block filters match any associated IPv4 block of that side's VPC ([U]: the page
says "the IPv4 CIDR block"); ``tag-value`` (listed in earlier API versions) is accepted too;
``expiration-time`` matches the ``expiration_time`` of moto's connection where a patch gives it one
(gap ``expiration_time``), nothing otherwise; tag filters see the tags the connection shows the
caller (per account with gap ``peering_tags_per_account``, installed before this one).

Turn on: ``fidelity.enable()`` (every gap) or ``fidelity.enabled(["describe_filters"])`` for a
block, from ``emulation.fidelity``. docs/moto-gaps.md#describe_filters.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from moto.ec2.exceptions import EC2ClientError
from moto.ec2.responses.vpc_peering_connections import VPCPeeringConnections

from emulation.fidelity.patching import Gap, Patcher, associated_blocks, replace_result, result_items

DESCRIBE_DOC = "https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeVpcPeeringConnections.html"


class InvalidFilterError(EC2ClientError):
    def __init__(self, name: str) -> None:
        super().__init__("InvalidParameterValue", f"The filter '{name}' is invalid")


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


def _tags(connection: Any) -> list[dict[str, str]]:
    """Tags in moto's internal shape ({"key", "value"}), as the connection shows them to the caller."""
    return list(connection.get_tags())


def _expiration(connection: Any) -> list[str]:
    # moto 5.2 has no expiration time; gap ``expiration_time`` adds ``expiration_time``.
    value = getattr(connection, "expiration_time", None)
    if not isinstance(value, datetime):
        return []
    value = value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    return [value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"]


#: the filters the DescribeVpcPeeringConnections reference lists, each to the values it matches
_FILTERS: dict[str, Callable[[Any], list[str]]] = {
    "accepter-vpc-info.cidr-block": lambda c: associated_blocks(c.peer_vpc, ipv6=False),
    "accepter-vpc-info.owner-id": lambda c: [str(c.peer_vpc.owner_id)],
    "accepter-vpc-info.vpc-id": lambda c: [str(c.peer_vpc.id)],
    "expiration-time": _expiration,
    "requester-vpc-info.cidr-block": lambda c: associated_blocks(c.vpc, ipv6=False),
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


def install(patcher: Patcher) -> None:
    """Apply the documented filters to DescribeVpcPeeringConnections."""

    def make(previous: Callable[..., Any]) -> Callable[..., Any]:
        def describe_vpc_peering_connections(self: Any) -> Any:
            filters: dict[str, list[str]] = {
                str(name): [str(v) for v in values] for name, values in self._filters_from_querystring().items()
            }
            for name in filters:
                if name not in _FILTERS and not (name.startswith("tag:") and len(name) > len("tag:")):
                    raise InvalidFilterError(name)
            result = previous(self)
            items = result_items(result, "VpcPeeringConnections")
            if not filters or items is None:
                return result
            return replace_result(result, "VpcPeeringConnections", [i for i in items if _matches(i, filters)])

        return describe_vpc_peering_connections

    patcher.wrap(VPCPeeringConnections, "describe_vpc_peering_connections", make)


GAP = Gap("describe_filters", DESCRIBE_DOC, install, __doc__ or "")
