"""Typed, immutable models of what the engine observes. Built from EC2 API responses only."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class ConnectionStatus(StrEnum):
    INITIATING_REQUEST = "initiating-request"
    PENDING_ACCEPTANCE = "pending-acceptance"
    PROVISIONING = "provisioning"
    ACTIVE = "active"
    REJECTED = "rejected"
    DELETING = "deleting"
    DELETED = "deleted"
    FAILED = "failed"
    EXPIRED = "expired"

    @property
    def is_dead(self) -> bool:
        return self in DEAD_STATUSES

    @property
    def is_live(self) -> bool:
        """Counts as "existing" between two VPCs (AWS allows only one such connection)."""
        return self in LIVE_STATUSES


DEAD_STATUSES = frozenset(
    {
        ConnectionStatus.REJECTED,
        ConnectionStatus.DELETING,
        ConnectionStatus.DELETED,
        ConnectionStatus.FAILED,
        ConnectionStatus.EXPIRED,
    }
)
LIVE_STATUSES = frozenset(
    {
        ConnectionStatus.INITIATING_REQUEST,
        ConnectionStatus.PENDING_ACCEPTANCE,
        ConnectionStatus.PROVISIONING,
        ConnectionStatus.ACTIVE,
    }
)


@dataclass(frozen=True)
class Side:
    """One end of a connection as the EC2 API describes it."""

    account: str
    region: str
    vpc_id: str
    cidr_blocks: tuple[str, ...] = ()
    ipv6_cidr_blocks: tuple[str, ...] = ()
    allow_dns_resolution_from_remote: bool = False

    @classmethod
    def from_api(cls, info: dict[str, Any], fallback_region: str) -> Side:
        cidrs = [item["CidrBlock"] for item in info.get("CidrBlockSet", []) if "CidrBlock" in item]
        if not cidrs and info.get("CidrBlock"):
            cidrs = [info["CidrBlock"]]
        ipv6 = [item["Ipv6CidrBlock"] for item in info.get("Ipv6CidrBlockSet", []) if "Ipv6CidrBlock" in item]
        options = info.get("PeeringOptions") or {}
        return cls(
            account=str(info["OwnerId"]),
            region=str(info.get("Region") or fallback_region),
            vpc_id=str(info["VpcId"]),
            cidr_blocks=tuple(dict.fromkeys(cidrs)),
            ipv6_cidr_blocks=tuple(dict.fromkeys(ipv6)),
            allow_dns_resolution_from_remote=bool(options.get("AllowDnsResolutionFromRemoteVpc", False)),
        )


@dataclass(frozen=True)
class Connection:
    connection_id: str
    status: ConnectionStatus
    status_message: str
    requester: Side
    accepter: Side
    expiration_time: datetime | None = None
    tags: dict[str, str] = field(default_factory=dict, hash=False, compare=False)

    @property
    def is_inter_region(self) -> bool:
        return self.requester.region != self.accepter.region

    @property
    def is_cross_account(self) -> bool:
        return self.requester.account != self.accepter.account

    def joins(self, vpc_a: str, vpc_b: str) -> bool:
        return {self.requester.vpc_id, self.accepter.vpc_id} == {vpc_a, vpc_b}

    def touches(self, vpc_id: str) -> bool:
        return vpc_id in (self.requester.vpc_id, self.accepter.vpc_id)

    @classmethod
    def from_api(cls, item: dict[str, Any], region: str) -> Connection:
        status = item.get("Status") or {}
        expiry = item.get("ExpirationTime")
        return cls(
            connection_id=str(item["VpcPeeringConnectionId"]),
            status=ConnectionStatus(status.get("Code", "pending-acceptance")),
            status_message=str(status.get("Message", "")),
            requester=Side.from_api(item["RequesterVpcInfo"], region),
            accepter=Side.from_api(item["AccepterVpcInfo"], region),
            expiration_time=expiry if isinstance(expiry, datetime) else None,
            tags={t["Key"]: t.get("Value", "") for t in item.get("Tags", [])},
        )


# A block still being associated will be in use in a moment: count it (overlap, routes).
_IN_USE = frozenset({"associated", "associating"})


@dataclass(frozen=True)
class Vpc:
    account: str
    region: str
    vpc_id: str
    cidr_blocks: tuple[str, ...]
    ipv6_cidr_blocks: tuple[str, ...] = ()
    tags: dict[str, str] = field(default_factory=dict, hash=False, compare=False)

    @classmethod
    def from_api(cls, item: dict[str, Any], account: str, region: str) -> Vpc:
        cidrs = [
            a["CidrBlock"]
            for a in item.get("CidrBlockAssociationSet", [])
            if (a.get("CidrBlockState") or {}).get("State", "associated") in _IN_USE
        ]
        if not cidrs and item.get("CidrBlock"):
            cidrs = [item["CidrBlock"]]
        ipv6 = [
            a["Ipv6CidrBlock"]
            for a in item.get("Ipv6CidrBlockAssociationSet", [])
            if (a.get("Ipv6CidrBlockState") or {}).get("State", "associated") in _IN_USE and a.get("Ipv6CidrBlock")
        ]
        return cls(
            account=str(item.get("OwnerId") or account),
            region=region,
            vpc_id=str(item["VpcId"]),
            cidr_blocks=tuple(dict.fromkeys(cidrs)),
            ipv6_cidr_blocks=tuple(dict.fromkeys(ipv6)),
            tags={t["Key"]: t.get("Value", "") for t in item.get("Tags", [])},
        )


@dataclass(frozen=True)
class RequesterIdentity:
    """Who asked, as Organizations knows them. ``org_id`` is None outside the organization."""

    account: str
    region: str
    org_id: str | None = None
    ou_path: tuple[str, ...] = ()  # root first, direct parent last

    @property
    def in_organization(self) -> bool:
        return self.org_id is not None


@dataclass(frozen=True)
class RequesterVpc:
    """The requester VPC as a rule may match it.

    Its blocks are every block EC2 reports for it (the connection's view, which AWS verifies, and
    the VPC itself when it was read). Its tags are known only when the VPC was read in the
    requester's own account (in the organization, or the hub's own): a requester outside the
    organization reports nothing we can check, so its tags are None and no tag rule matches it.
    """

    vpc_id: str
    cidr_blocks: tuple[str, ...] = ()
    ipv6_cidr_blocks: tuple[str, ...] = ()
    tags: Mapping[str, str] | None = field(default=None, hash=False, compare=False)


@dataclass(frozen=True)
class Notice:
    """A notification to people: sent through the ledger's outbox, never directly."""

    subject: str
    message: str


@dataclass(frozen=True)
class Intent:
    """What a run set out to do, written to the ledger before its first mutation.

    ``key`` names the work (``decision|held|v3|policy``, ``cleanup|deleted``); a retry or the sweep
    that finds an intent with the same key finishes it, notice included, instead of losing it.
    """

    key: str
    notice: Notice | None = None


@dataclass(frozen=True)
class LedgerState:
    """The last decision recorded for a connection (None when never seen)."""

    connection_id: str
    decision: str
    policy_version: str | None
    status: str
    closed: bool = False  # the connection is dead and its leftovers were cleaned up
    decided_by: str = ""
    #: False while a decision is recorded but not yet carried out (tag, accept/reject, notice)
    applied: bool = True
    intent: Intent | None = None  # work begun and not yet committed
    rule: str | None = None  # the policy rule named by the decision (its routing wires an accepted connection)
    reasons: tuple[str, ...] = ()  # why it was decided so
    #: hours-before-expiry points at which a held request was already reminded (reminders.py)
    reminders_sent: frozenset[int] = frozenset()

    @property
    def accepting_rule(self) -> str | None:
        """The rule whose routing applies: only a policy rule that accepted the connection (an
        operator's approval, or a connection this system did not accept, uses the document's)."""
        if self.decision == "accepted" and self.decided_by == "policy":
            return self.rule
        return None


@dataclass(frozen=True)
class AcceptObservation:
    """Everything the acceptance plan needs, read from AWS in the owners' accounts and Regions."""

    connection: Connection
    accepter_vpc: Vpc
    requester_vpc: Vpc | None  # None when the requester account cannot be read (outside the org)
    requester: RequesterIdentity
    #: other connections touching either VPC (both directions, all live states)
    neighbours: tuple[Connection, ...] = ()
    previous: LedgerState | None = None

    @property
    def requester_cidr_blocks(self) -> tuple[str, ...]:
        if self.requester_vpc is not None:
            return self.requester_vpc.cidr_blocks
        return self.connection.requester.cidr_blocks

    @property
    def requester_ipv6_cidr_blocks(self) -> tuple[str, ...]:
        if self.requester_vpc is not None:
            return self.requester_vpc.ipv6_cidr_blocks
        return self.connection.requester.ipv6_cidr_blocks

    @property
    def requester_match(self) -> RequesterVpc:
        """The requester VPC as the policy's rules see it: all its blocks, its tags when trusted."""
        side, read = self.connection.requester, self.requester_vpc
        v4 = (*side.cidr_blocks, *(read.cidr_blocks if read else ()))
        v6 = (*side.ipv6_cidr_blocks, *(read.ipv6_cidr_blocks if read else ()))
        return RequesterVpc(
            side.vpc_id,
            tuple(dict.fromkeys(v4)),
            tuple(dict.fromkeys(v6)),
            dict(read.tags) if read is not None else None,
        )
