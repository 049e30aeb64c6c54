"""Gap ``subnet_ipv6_state``: a subnet's IPv6 association reports its state as ``{"State": ...}``.

AWS: DescribeSubnets returns, for each entry of a subnet's ``Ipv6CidrBlockAssociationSet``, an
``Ipv6CidrBlockState`` whose ``State`` is one of associating | associated | disassociating |
disassociated | failing | failed.
https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_SubnetCidrBlockState.html

moto 5.2: the state it keeps (a dict ``{"State": "associated"}``) is nested once more before it is
serialized, so ``State`` reads as the text ``"{'State': 'associated'}"``: a reader that checks the
state (destinations by subnet route only blocks in use) would never see a subnet's IPv6 block.

Patch: moto's ``Subnet.ipv6_cidr_block_association_set`` answers the state's own text; which
associations are listed (the associated ones) is unchanged.

Turn on: ``fidelity.enable()`` (every gap) or ``fidelity.enabled(["subnet_ipv6_state"])`` for a
block, from ``emulation.fidelity``. docs/moto-gaps.md#subnet_ipv6_state.
"""

from __future__ import annotations

from typing import Any

from moto.ec2.models.subnets import Subnet

from emulation.fidelity.patching import Gap, Patcher

STATE_DOC = "https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_SubnetCidrBlockState.html"


def _association_set(self: Any) -> list[dict[str, Any]]:
    return [
        {
            "ipv6CidrBlock": association["ipv6CidrBlock"],
            "associationId": association["associationId"],
            "ipv6CidrBlockState": {"state": association["ipv6CidrBlockState"]["State"]},
        }
        for association in self.ipv6_cidr_block_associations.values()
        if association["ipv6CidrBlockState"]["State"] == "associated"
    ]


def install(patcher: Patcher) -> None:
    """Serialize a subnet's IPv6 association state as its text, as AWS does."""
    patcher.replace(Subnet, "ipv6_cidr_block_association_set", property(_association_set))


GAP = Gap("subnet_ipv6_state", STATE_DOC, install, __doc__ or "")
