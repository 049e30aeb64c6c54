"""Gap ``vpc_info_cidr_sets``: each side's VpcInfo lists every CIDR block of its VPC.

AWS: VpcPeeringConnectionVpcInfo has ``CidrBlock`` (the primary IPv4 block), ``CidrBlockSet`` (the
IPv4 blocks of the VPC) and ``Ipv6CidrBlockSet`` (its IPv6 blocks), besides ``OwnerId``,
``PeeringOptions``, ``Region`` and ``VpcId``.
https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_VpcPeeringConnectionVpcInfo.html

moto 5.2: ``CidrBlock`` only. A VPC's secondary and IPv6 blocks are invisible in the connection, so
routes for them would never be planned.

Patch: the ``requester_vpc_info`` / ``accepter_vpc_info`` properties of moto's connection answer
moto's dict plus ``CidrBlockSet`` and ``Ipv6CidrBlockSet``, built from the VPC's blocks in state
``associated`` and read live (blocks associated or removed after the connection was made show up,
as in AWS), in Describe, Create and Accept responses.

Turn on: ``fidelity.enable()`` (every gap) or ``fidelity.enabled(["vpc_info_cidr_sets"])`` for a
block, from ``emulation.fidelity``. docs/moto-gaps.md#vpc_info_cidr_sets.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from moto.ec2.models.vpc_peering_connections import VPCPeeringConnection

from emulation.fidelity.patching import Gap, Patcher, associated_blocks

VPC_INFO_DOC = "https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_VpcPeeringConnectionVpcInfo.html"


def install(patcher: Patcher) -> None:
    """Add CidrBlockSet and Ipv6CidrBlockSet (associated blocks only) to both sides' VpcInfo."""
    for prop_name, side in (("requester_vpc_info", "vpc"), ("accepter_vpc_info", "peer_vpc")):
        previous = patcher.current(VPCPeeringConnection, prop_name)
        if not isinstance(previous, property) or previous.fget is None:
            raise TypeError(f"VPCPeeringConnection.{prop_name} is not a property: moto changed, revisit the patch")

        def vpc_info(self: Any, _previous: Callable[[Any], Any] = previous.fget, _side: str = side) -> dict[str, Any]:
            info = dict(_previous(self))
            vpc = getattr(self, _side)
            info["CidrBlockSet"] = [{"CidrBlock": block} for block in associated_blocks(vpc, ipv6=False)]
            info["Ipv6CidrBlockSet"] = [{"Ipv6CidrBlock": block} for block in associated_blocks(vpc, ipv6=True)]
            return info

        patcher.replace(VPCPeeringConnection, prop_name, property(vpc_info, doc=previous.__doc__))


GAP = Gap("vpc_info_cidr_sets", VPC_INFO_DOC, install, __doc__ or "")
