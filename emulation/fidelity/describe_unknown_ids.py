"""Gap ``describe_unknown_ids``: DescribeVpcPeeringConnections refuses an id the caller does not know.

AWS: asking DescribeVpcPeeringConnections for an id the caller's account and Region does not know
fails with ``InvalidVpcPeeringConnectionID.NotFound``; a malformed id (not ``pcx-`` and 8 or 17 hex
digits) with ``InvalidVpcPeeringConnectionId.Malformed``. A connection is known only in the account
and Region of each of its two sides. botocore's VpcPeeringConnectionExists waiter retries on
exactly that NotFound code.
https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeVpcPeeringConnections.html
https://docs.aws.amazon.com/AWSEC2/latest/APIReference/errors-overview.html

moto 5.2: silently drops unknown ids: the answer is the known subset, or an empty list.

Patch: each id in ``VpcPeeringConnectionIds`` is checked against the calling account and Region's
connections before moto describes them: malformed -> Malformed, unknown -> NotFound (naming the
unknown ids).

Turn on: ``fidelity.enable()`` (every gap) or ``fidelity.enabled(["describe_unknown_ids"])`` for a
block, from ``emulation.fidelity``. docs/moto-gaps.md#describe_unknown_ids.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

from moto.ec2.exceptions import EC2ClientError
from moto.ec2.responses.vpc_peering_connections import VPCPeeringConnections

from emulation.fidelity.patching import NOT_FOUND_CODE, Gap, Patcher

DESCRIBE_DOC = "https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeVpcPeeringConnections.html"
MALFORMED_CODE = "InvalidVpcPeeringConnectionId.Malformed"
#: pcx- followed by 8 (older) or 17 lowercase hex digits
CONNECTION_ID = re.compile(r"^pcx-(?:[0-9a-f]{8}|[0-9a-f]{17})$")


class VpcPeeringConnectionNotFoundError(EC2ClientError):
    """``InvalidVpcPeeringConnectionID.NotFound``, spelled as the EC2 API spells it."""

    def __init__(self, connection_ids: Iterable[str]) -> None:
        super().__init__(NOT_FOUND_CODE, f"The vpcPeeringConnection ID '{', '.join(connection_ids)}' does not exist")


class VpcPeeringConnectionIdMalformedError(EC2ClientError):
    """``InvalidVpcPeeringConnectionId.Malformed``: the id is not of the form pcx-xxxxxxxx."""

    def __init__(self, connection_id: str) -> None:
        super().__init__(MALFORMED_CODE, f'Invalid id: "{connection_id}" (expecting "pcx-...")')


def install(patcher: Patcher) -> None:
    """Unknown ids in VpcPeeringConnectionIds raise NotFound; malformed ids raise Malformed."""

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


GAP = Gap("describe_unknown_ids", DESCRIBE_DOC, install, __doc__ or "")
