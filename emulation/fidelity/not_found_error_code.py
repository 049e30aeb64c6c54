"""Gap ``not_found_error_code``: an unknown connection id is ``InvalidVpcPeeringConnectionID.NotFound``.

AWS: the code is spelled with a capital ``ID``
(https://docs.aws.amazon.com/AWSEC2/latest/APIReference/errors-overview.html; botocore's
``data/ec2/2016-11-15/waiters-2.json``, the VpcPeeringConnectionExists/Deleted waiters, uses the
same string). Callers such as ``peering.aws.observe`` compare codes as exact strings.

moto 5.2: Accept, Reject, Delete and ModifyVpcPeeringConnectionOptions on an unknown id raise
``InvalidVpcPeeringConnectionId.NotFound`` (lowercase ``d``), which code written for AWS does not
recognise.

Patch: moto's ``InvalidVPCPeeringConnectionIdError`` is given the documented code, so everything
that raises it (route operations too) answers as AWS does.

Turn on: ``fidelity.enable()`` (every gap) or ``fidelity.enabled(["not_found_error_code"])`` for a
block, from ``emulation.fidelity``. docs/moto-gaps.md#not_found_error_code.
"""

from __future__ import annotations

from typing import Any

from moto.ec2.exceptions import EC2ClientError, InvalidVPCPeeringConnectionIdError

from emulation.fidelity.patching import NOT_FOUND_CODE, Gap, Patcher

ERRORS_DOC = "https://docs.aws.amazon.com/AWSEC2/latest/APIReference/errors-overview.html"


def install(patcher: Patcher) -> None:
    """Give moto's not-found error for peering connections the code the EC2 API documents."""

    def init(self: Any, vpc_peering_connection_id: str) -> None:
        EC2ClientError.__init__(
            self, NOT_FOUND_CODE, f"The vpcPeeringConnection ID '{vpc_peering_connection_id}' does not exist"
        )

    patcher.replace(InvalidVPCPeeringConnectionIdError, "__init__", init)


GAP = Gap("not_found_error_code", ERRORS_DOC, install, __doc__ or "")
