"""Gap ``create_overlap_fails``: a request between VPCs whose blocks overlap fails when it is made.

AWS: "If you create a VPC peering connection request between VPCs with overlapping CIDR blocks, the
VPC peering connection has a status of failed" (CreateVpcPeeringConnection). The peering guide
adds that matching or overlapping IPv6 blocks are refused too, that with several IPv4 blocks any
overlap is enough, and that a failed request cannot be accepted, rejected or deleted and "remains
visible to the requester for 2 hours". The status message, "Failed due to incorrect VPC-ID,
Account ID, or overlapping CIDR range", is observed (quoted from AWS answers in Terraform users'
reports), not on an AWS page. [U]: that the accepter never sees a failed request.
https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CreateVpcPeeringConnection.html
https://docs.aws.amazon.com/vpc/latest/peering/vpc-peering-basics.html

moto 5.2: creates it pending-acceptance like any other request: a test could accept it and route
over overlapping blocks.

Patch: moto's create is wrapped: if any associated IPv4 block of one VPC overlaps one of the other's
(or an IPv6 block an IPv6 block), the connection is failed, with that message, and removed from the
accepter's backend (cross-account or inter-Region), which then answers NotFound. Only the blocks
associated at creation count: AWS does not re-check blocks associated later. The Create response
still shows initiating-request (the request fails after it is made); Accept and Reject of a failed
connection answer InvalidStateTransition, as moto already checks for pending-acceptance.

Turn on: ``fidelity.enable()`` (every gap) or ``fidelity.enabled(["create_overlap_fails"])`` for a
block, from ``emulation.fidelity``. docs/moto-gaps.md#create_overlap_fails.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from typing import Any

from moto.ec2.models.vpc_peering_connections import VPCPeeringConnectionBackend

from emulation import lifecycle
from emulation.fidelity.patching import Gap, Patcher, associated_blocks

CREATE_DOC = "https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CreateVpcPeeringConnection.html"


def _overlaps(vpc: Any, peer_vpc: Any) -> list[str]:
    """Pairs of associated blocks (IPv4 with IPv4, IPv6 with IPv6) of two VPCs that overlap."""
    found: list[str] = []
    for ipv6 in (False, True):
        ours = [ipaddress.ip_network(b, strict=False) for b in associated_blocks(vpc, ipv6=ipv6)]
        theirs = [ipaddress.ip_network(b, strict=False) for b in associated_blocks(peer_vpc, ipv6=ipv6)]
        found += [f"{a} overlaps {b}" for a in ours for b in theirs if a.overlaps(b)]
    return found


def install(patcher: Patcher) -> None:
    """Fail a request whose VPCs' associated blocks overlap when it is created."""

    def make(previous: Callable[..., Any]) -> Callable[..., Any]:
        def create_vpc_peering_connection(self: Any, *args: Any, **kwargs: Any) -> Any:
            connection = previous(self, *args, **kwargs)
            if _overlaps(connection.vpc, connection.peer_vpc):
                lifecycle.set_code(connection, "failed")
                for backend, held in lifecycle.holders(connection.id):  # visible to the requester only
                    if backend is not self and held is connection:
                        del backend.vpc_pcxs[connection.id]
            return connection

        return create_vpc_peering_connection

    patcher.wrap(VPCPeeringConnectionBackend, "create_vpc_peering_connection", make)


GAP = Gap("create_overlap_fails", CREATE_DOC, install, __doc__ or "")
