"""Pre-accept safety checks. Pure functions over what was observed from the EC2 API."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass

from peering.core.models import AcceptObservation, ConnectionStatus


@dataclass(frozen=True)
class SafetyFindings:
    overlaps: tuple[tuple[str, str], ...]  # (accepter block, requester block)
    duplicates: tuple[str, ...]  # other live connections between the same two VPCs
    quota_exhausted: tuple[str, ...]  # VPCs with no active-peering headroom

    @property
    def must_reject(self) -> bool:
        return bool(self.overlaps or self.duplicates)

    def reasons(self, quota: int) -> tuple[str, ...]:
        out: list[str] = []
        if self.overlaps:
            pairs = ", ".join(f"{a} overlaps {b}" for a, b in self.overlaps)
            out.append(f"CIDR overlap between the VPCs: {pairs}")
        if self.duplicates:
            out.append(f"another live connection already joins these VPCs: {', '.join(self.duplicates)}")
        if self.quota_exhausted:
            out.append(
                f"no headroom under the active peerings quota ({quota} per VPC) for {', '.join(self.quota_exhausted)}"
            )
        return tuple(out)


def overlapping_blocks(left: Iterable[str], right: Iterable[str]) -> tuple[tuple[str, str], ...]:
    """Every (left, right) pair of blocks of the same IP version that overlap."""
    right_nets = [ipaddress.ip_network(block, strict=False) for block in right]
    found: list[tuple[str, str]] = []
    for block in left:
        net = ipaddress.ip_network(block, strict=False)
        for other in right_nets:
            if net.version == other.version and net.overlaps(other):  # type: ignore[arg-type]
                found.append((str(net), str(other)))
    return tuple(found)


def run_safety_checks(observation: AcceptObservation, active_peerings_quota: int) -> SafetyFindings:
    conn = observation.connection
    accepter_blocks = observation.accepter_vpc.cidr_blocks + observation.accepter_vpc.ipv6_cidr_blocks
    requester_blocks = observation.requester_cidr_blocks + observation.requester_ipv6_cidr_blocks
    others = [n for n in observation.neighbours if n.connection_id != conn.connection_id]
    duplicates = tuple(
        sorted(
            n.connection_id for n in others if n.joins(conn.requester.vpc_id, conn.accepter.vpc_id) and n.status.is_live
        )
    )
    exhausted: list[str] = []
    for vpc_id in (conn.accepter.vpc_id, conn.requester.vpc_id):
        active = sum(1 for n in others if n.touches(vpc_id) and n.status is ConnectionStatus.ACTIVE)
        if active >= active_peerings_quota:
            exhausted.append(f"{vpc_id} ({active} active)")
    return SafetyFindings(
        overlaps=overlapping_blocks(accepter_blocks, requester_blocks),
        duplicates=duplicates,
        quota_exhausted=tuple(exhausted),
    )
