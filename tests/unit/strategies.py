"""Builders and hypothesis strategies for the pure planning core (no AWS involved).

Builders make one readable object with sensible defaults; strategies draw from small pools of
accounts, Regions, OUs and VPCs so that generated rules and requests actually meet each other.
"""

from __future__ import annotations

import ipaddress
from datetime import UTC, datetime
from typing import Any

from hypothesis import strategies as st

from peering.core.checks import SafetyFindings
from peering.core.models import (
    AcceptObservation,
    Connection,
    ConnectionStatus,
    LedgerState,
    RequesterIdentity,
    Side,
    Vpc,
)
from peering.core.plan import OperatorInstruction
from peering.core.policy import PolicyDecision, PolicyDocument, Verdict

HUB_ACCOUNT = "111111111111"
MEMBER_ACCOUNT = "222222222222"
SANDBOX_ACCOUNT = "333333333333"
OUTSIDER_ACCOUNT = "444444444444"
ORG_ID = "o-abcdef1234"
OTHER_ORG_ID = "o-zzzzzz9999"
ROOT_ID = "r-ab12"
PLATFORM_OU = "ou-ab12-platform"
TEAM_OU = "ou-ab12-teamaaaa"  # a child of PLATFORM_OU
SANDBOX_OU = "ou-ab12-sandboxx"
REGION = "us-east-1"
OTHER_REGION = "eu-west-1"
EXPIRY = datetime(2030, 1, 8, 12, 0, tzinfo=UTC)


# --- builders -------------------------------------------------------------------------------------


def side(
    account: str = MEMBER_ACCOUNT,
    vpc_id: str = "vpc-requester",
    region: str = REGION,
    cidrs: tuple[str, ...] = ("10.1.0.0/16",),
    ipv6: tuple[str, ...] = (),
) -> Side:
    return Side(account=account, region=region, vpc_id=vpc_id, cidr_blocks=cidrs, ipv6_cidr_blocks=ipv6)


def connection(
    connection_id: str = "pcx-11111111",
    status: ConnectionStatus = ConnectionStatus.PENDING_ACCEPTANCE,
    requester: Side | None = None,
    accepter: Side | None = None,
    expiration_time: datetime | None = EXPIRY,
) -> Connection:
    return Connection(
        connection_id=connection_id,
        status=status,
        status_message="",
        requester=requester or side(),
        accepter=accepter or side(account=HUB_ACCOUNT, vpc_id="vpc-accepter", cidrs=("10.0.0.0/16",)),
        expiration_time=expiration_time,
    )


def vpc(
    vpc_id: str = "vpc-accepter",
    account: str = HUB_ACCOUNT,
    *,
    region: str = REGION,
    cidrs: tuple[str, ...] = ("10.0.0.0/16",),
    ipv6: tuple[str, ...] = (),
    tags: dict[str, str] | None = None,
) -> Vpc:
    return Vpc(account=account, region=region, vpc_id=vpc_id, cidr_blocks=cidrs, ipv6_cidr_blocks=ipv6, tags=tags or {})


def identity(
    account: str = MEMBER_ACCOUNT,
    region: str = REGION,
    org_id: str | None = ORG_ID,
    ou_path: tuple[str, ...] = (ROOT_ID, PLATFORM_OU),
) -> RequesterIdentity:
    return RequesterIdentity(account=account, region=region, org_id=org_id, ou_path=ou_path)


def observation(
    conn: Connection | None = None,
    *,
    accepter_vpc: Vpc | None = None,
    requester_vpc: Vpc | None = None,
    requester: RequesterIdentity | None = None,
    neighbours: tuple[Connection, ...] = (),
    previous: LedgerState | None = None,
) -> AcceptObservation:
    """A request from MEMBER_ACCOUNT's vpc-requester (10.1/16) to the hub's vpc-accepter (10.0/16)."""
    conn = conn or connection()
    if accepter_vpc is None:
        a = conn.accepter
        accepter_vpc = vpc(
            a.vpc_id, a.account, region=a.region, cidrs=a.cidr_blocks or ("10.0.0.0/16",), ipv6=a.ipv6_cidr_blocks
        )
    if requester_vpc is None:
        r = conn.requester
        requester_vpc = vpc(r.vpc_id, r.account, region=r.region, cidrs=r.cidr_blocks, ipv6=r.ipv6_cidr_blocks)
    return AcceptObservation(
        connection=conn,
        accepter_vpc=accepter_vpc,
        requester_vpc=requester_vpc,
        requester=requester or identity(account=conn.requester.account, region=conn.requester.region),
        neighbours=neighbours,
        previous=previous,
    )


def policy_decision(
    verdict: Verdict = Verdict.ACCEPT, rule: str | None = "a-rule", version: str | None = "v1"
) -> PolicyDecision:
    return PolicyDecision(verdict, (f"rule {rule!r} says {verdict.value}",), rule, version)


def clean_findings() -> SafetyFindings:
    return SafetyFindings(overlaps=(), duplicates=(), quota_exhausted=())


def policy(*rules: dict[str, Any], version: str = "v1") -> PolicyDocument:
    return PolicyDocument.model_validate({"schemaVersion": 1, "version": version, "rules": list(rules)})


def rule(
    name: str, action: str, requester: dict[str, Any] | None = None, accepter: dict[str, Any] | None = None
) -> dict[str, Any]:
    out: dict[str, Any] = {"name": name, "action": action}
    if requester is not None:
        out["requester"] = requester
    if accepter is not None:
        out["accepter"] = accepter
    return out


# --- strategies -----------------------------------------------------------------------------------

ACCOUNTS = (HUB_ACCOUNT, MEMBER_ACCOUNT, SANDBOX_ACCOUNT, OUTSIDER_ACCOUNT)
REGIONS = (REGION, OTHER_REGION, "ap-southeast-2")
OUS = (ROOT_ID, PLATFORM_OU, TEAM_OU, SANDBOX_OU)
VPC_IDS = ("vpc-accepter", "vpc-requester", "vpc-0a", "vpc-0b")
TAG_KEYS = ("peering-autopilot:accept", "env")
TAG_VALUES = ("true", "false", "prod", "")

accounts = st.sampled_from(ACCOUNTS)
regions = st.sampled_from(REGIONS)
verdicts = st.sampled_from(list(Verdict))
statuses = st.sampled_from(list(ConnectionStatus))
mostly_pending = st.just(ConnectionStatus.PENDING_ACCEPTANCE) | statuses


@st.composite
def identities(draw: st.DrawFn) -> RequesterIdentity:
    org_id = draw(st.sampled_from((ORG_ID, ORG_ID, OTHER_ORG_ID, None)))
    path: tuple[str, ...] = ()
    if org_id is not None:
        path = draw(
            st.sampled_from(
                ((ROOT_ID,), (ROOT_ID, PLATFORM_OU), (ROOT_ID, PLATFORM_OU, TEAM_OU), (ROOT_ID, SANDBOX_OU))
            )
        )
    return RequesterIdentity(account=draw(accounts), region=draw(regions), org_id=org_id, ou_path=path)


tag_dicts = st.dictionaries(st.sampled_from(TAG_KEYS), st.sampled_from(TAG_VALUES), max_size=2)


@st.composite
def accepter_vpcs(draw: st.DrawFn) -> Vpc:
    return vpc(
        vpc_id=draw(st.sampled_from(VPC_IDS)), account=draw(accounts), region=draw(regions), tags=draw(tag_dicts)
    )


def _optional_list(values: tuple[str, ...]) -> st.SearchStrategy[list[str]]:
    return st.lists(st.sampled_from(values), min_size=1, max_size=3, unique=True)


requester_criteria = st.fixed_dictionaries(
    {},
    optional={
        "accounts": _optional_list(ACCOUNTS),
        "organizationalUnits": _optional_list(OUS),
        "regions": _optional_list(REGIONS),
        "organization": st.sampled_from(("self", ORG_ID, OTHER_ORG_ID)),
    },
)
tag_matches = st.fixed_dictionaries({"key": st.sampled_from(TAG_KEYS)}, optional={"value": st.sampled_from(TAG_VALUES)})
accepter_criteria = st.fixed_dictionaries(
    {},
    optional={"accounts": _optional_list(ACCOUNTS), "vpcIds": _optional_list(VPC_IDS), "vpcTag": tag_matches},
)


@st.composite
def rule_dicts(draw: st.DrawFn, name: str, action: st.SearchStrategy[Verdict] = verdicts) -> dict[str, Any]:
    # Rules without criteria on a side are common so that several rules often match one request.
    requester = draw(st.just({}) | requester_criteria)
    accepter = draw(st.just({}) | accepter_criteria)
    verdict = draw(action)
    if verdict is Verdict.ACCEPT and not {"accounts", "organizationalUnits", "organization"} & set(requester):
        requester = {**requester, "anyone": True}  # an accept rule names who may ask; "anyone" says so
    return rule(name, verdict.value, requester, accepter)


@st.composite
def policies(draw: st.DrawFn, max_rules: int = 5) -> PolicyDocument:
    count = draw(st.integers(min_value=0, max_value=max_rules))
    rules = [draw(rule_dicts(f"rule-{i}")) for i in range(count)]
    return policy(*rules, version=draw(st.sampled_from(("v1", "v2", "2024-06-01"))))


hub_org_ids = st.sampled_from((ORG_ID, OTHER_ORG_ID, None))


@st.composite
def ipv4_blocks(draw: st.DrawFn, min_prefix: int = 8, spread: int = 3) -> str:
    """Blocks in a small corner of 10/8 so that overlaps (and nesting) are frequent."""
    address = (10 << 24) | (draw(st.integers(0, spread)) << 16) | (draw(st.integers(0, 3)) << 8)
    prefix = draw(st.integers(min_value=min_prefix, max_value=28))
    return str(ipaddress.IPv4Network((address, prefix), strict=False))


@st.composite
def ipv6_blocks(draw: st.DrawFn) -> str:
    base = int(ipaddress.IPv6Address("2600:1f18::"))
    address = base | (draw(st.integers(0, 3)) << 88) | (draw(st.integers(0, 3)) << 72)
    prefix = draw(st.integers(min_value=32, max_value=64))
    return str(ipaddress.IPv6Network((address, prefix), strict=False))


blocks = ipv4_blocks() | ipv6_blocks()
block_lists = st.lists(blocks, max_size=4, unique=True)


@st.composite
def findings(draw: st.DrawFn) -> SafetyFindings:
    overlaps = draw(st.lists(st.tuples(ipv4_blocks(), ipv4_blocks()), max_size=2))
    duplicates = draw(st.lists(st.sampled_from(("pcx-aaaaaaaa", "pcx-bbbbbbbb")), max_size=2, unique=True))
    exhausted = draw(st.lists(st.sampled_from(("vpc-a (50 active)", "vpc-b (50 active)")), max_size=2, unique=True))
    return SafetyFindings(tuple(overlaps), tuple(duplicates), tuple(exhausted))


@st.composite
def policy_decisions(draw: st.DrawFn, verdict: st.SearchStrategy[Verdict] = verdicts) -> PolicyDecision:
    chosen = draw(verdict)
    version = draw(st.sampled_from(("v1", "v2", None)))
    if version is None:
        return PolicyDecision(Verdict.HOLD, ("policy unavailable, holding: broken",), None, None)
    rule_name = draw(st.none() | st.sampled_from(("r1", "r2")))
    if rule_name is None:
        return PolicyDecision(Verdict.HOLD, ("no rule matches: held by default",), None, version)
    return PolicyDecision(chosen, (f"rule {rule_name!r} says {chosen.value}",), rule_name, version)


operators = st.none() | st.builds(
    OperatorInstruction,
    verdict=st.sampled_from((Verdict.ACCEPT, Verdict.REJECT)),
    requested_by=st.sampled_from(("alice", "bob")),
    comment=st.sampled_from(("", "change 42")),
)


@st.composite
def observations(draw: st.DrawFn) -> AcceptObservation:
    """A request between two VPCs with random blocks, neighbours, status and ledger history."""
    vpc_blocks = st.lists(ipv4_blocks(min_prefix=16, spread=15), min_size=1, max_size=2, unique=True)
    req_blocks, acc_blocks = draw(vpc_blocks), draw(vpc_blocks)
    req = side(account=draw(accounts), vpc_id="vpc-requester", region=draw(regions), cidrs=tuple(req_blocks))
    acc = side(account=draw(accounts), vpc_id="vpc-accepter", region=draw(regions), cidrs=tuple(acc_blocks))
    conn = connection(
        status=draw(mostly_pending), requester=req, accepter=acc, expiration_time=draw(st.sampled_from((EXPIRY, None)))
    )
    neighbours = []
    for i in range(draw(st.integers(0, 4))):
        other = draw(st.sampled_from(("vpc-requester", "vpc-accepter", "vpc-0a", "vpc-0b", "vpc-0c")))
        mine = draw(st.sampled_from(("vpc-requester", "vpc-accepter")))
        neighbours.append(
            connection(
                connection_id=f"pcx-{i:08x}",
                status=draw(statuses),
                requester=side(vpc_id=mine),
                accepter=side(vpc_id=other),
            )
        )
    previous = None
    if draw(st.booleans()):
        previous = LedgerState(
            connection_id=conn.connection_id,
            decision=draw(st.sampled_from(("held", "accepted", "rejected"))),
            policy_version=draw(st.sampled_from(("v1", "v2", "none", None))),
            status="pending-acceptance",
        )
    return observation(conn, neighbours=tuple(neighbours), previous=previous, requester=draw(identities()))
