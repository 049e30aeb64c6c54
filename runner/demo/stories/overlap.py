"""Story 3: the requester VPC gains an overlapping block while pending: rejected and closed."""

from __future__ import annotations

from runner.demo.stage import Demo, Net


def _overlap(demo: Demo, nets: dict[str, Net]) -> str:
    batch, ingress = nets["batch"], nets["ingress"]
    demo.story("3. The requester VPC gains an overlapping block while pending: network-a platform-batch -> hub")
    pcx = demo.request(batch, ingress)
    demo.ec2(batch.account, batch.region).associate_vpc_cidr_block(VpcId=batch.vpc_id, CidrBlock="10.1.128.0/17")
    demo.said(
        f"{demo.label(batch.account)} in {batch.region}: AssociateVpcCidrBlock {batch.name} 10.1.128.0/17 "
        f"(overlaps {ingress.name} {ingress.cidr})"
    )
    demo.said("CloudTrail delivers both calls minutes later; the engine acts on what is true when it reads:")
    demo.act("network-a (a person)")
    reasons = demo.ledger_reasons(pcx)
    demo.check("rejected", demo.status(demo.hub, pcx) == "rejected")
    demo.check("because of the overlap", any("overlap" in r for r in reasons), "; ".join(reasons))
    demo.check("its record closed by the cleanup function", "closedAt" in demo.ledger(pcx))
    return pcx
