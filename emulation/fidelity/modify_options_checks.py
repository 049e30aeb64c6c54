"""Gap ``modify_options_checks``: only an active connection's options change, each side by its owner.

AWS: ModifyVpcPeeringConnectionOptions: for VPCs in different accounts "each AWS account owner must
initiate a separate request to modify the peering connection options"; for an inter-Region
connection the requester options are modified in the requester VPC's Region and the accepter
options in the accepter VPC's Region; the connection must be active (DNS guide). Same account and
Region: both sides in one request. The answers, all ``OperationNotPermitted``, are quoted from AWS
responses reported by Terraform and CDK users (docs/moto-gaps.md): "Peering pcx-... is not active.
Peering options can be added only to active peerings."; "User <account> does not have permission
to modify the accepter side peering options" (or requester); [U] "Accepter's VPC Peering connection
options cannot be modified for a different region" (or Requester's).
https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_ModifyVpcPeeringConnectionOptions.html
https://docs.aws.amazon.com/vpc/latest/peering/modify-peering-connections.html#vpc-peering-dns

moto 5.2: any account and Region that sees the connection may set either side, in any status, so
``apply._dns`` could split or merge its calls wrongly and no test would notice.

Patch: moto's backend method is wrapped: an unknown id still answers NotFound; then the status must
be active; then each side given must belong to the calling account (checked first) and Region,
the requester side before the accepter side.

Turn on: ``fidelity.enable()`` (every gap) or ``fidelity.enabled(["modify_options_checks"])`` for a
block, from ``emulation.fidelity``. docs/moto-gaps.md#modify_options_checks.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from moto.ec2.exceptions import OperationNotPermitted
from moto.ec2.models.vpc_peering_connections import VPCPeeringConnectionBackend

from emulation.fidelity.patching import Gap, Patcher

MODIFY_DOC = "https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_ModifyVpcPeeringConnectionOptions.html"


def install(patcher: Patcher) -> None:
    """Refuse option changes on inactive connections and on the other owner's side or Region."""

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


GAP = Gap("modify_options_checks", MODIFY_DOC, install, __doc__ or "")
