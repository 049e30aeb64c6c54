"""The scope rule (core/scope.py) and the policy's adopt: section (core/policy.py), purely; each
error of the section located by line and column as ``runner policy check`` prints it."""

from __future__ import annotations

import pytest

from peering.core.models import Connection, ConnectionStatus, LedgerState, Side
from peering.core.policy import PolicyDocument, parse_policy
from peering.core.routing import ConfigurePlan, RouteChange, RoutingOptions, SetDnsResolution
from peering.core.scope import (
    AdoptionCandidate,
    Scope,
    ScopeRecord,
    ScopeRecordKind,
    change_summary,
    decide_scope,
    unmanaged_finding,
)
from runner.policy_tool import DocumentError, check_policy

PREFIX = "peering-autopilot"


def conn(tags: dict[str, str] | None = None) -> Connection:
    return Connection(
        "pcx-1",
        ConnectionStatus.ACTIVE,
        "",
        Side("111111111111", "us-east-1", "vpc-a", ("10.0.0.0/16",)),
        Side("222222222222", "us-east-1", "vpc-b", ("10.1.0.0/16",)),
        tags=tags or {},
    )


def policy(adopt: str) -> PolicyDocument:
    return parse_policy(f"schemaVersion: 1\nversion: v1\nadopt:\n{adopt}")


def scope(
    candidate: AdoptionCandidate,
    *,
    state: LedgerState | None = None,
    record: ScopeRecord | None = None,
    document: PolicyDocument | None = None,
) -> Scope:
    adopts = document.adopts if document else None
    return decide_scope(candidate, state=state, record=record, adopts=adopts, tag_prefix=PREFIX).scope


def test_an_active_connection_with_no_record_is_unmanaged() -> None:
    assert scope(AdoptionCandidate(conn())) is Scope.UNMANAGED


@pytest.mark.parametrize("decision", ["accepted", "held", "rejected"])
def test_a_connection_seen_as_a_request_is_managed(decision: str) -> None:
    state = LedgerState("pcx-1", decision, "v1", "active", decided_by="policy")
    assert scope(AdoptionCandidate(conn()), state=state) is Scope.MANAGED


def test_a_recorded_acceptance_makes_it_managed_a_pre_existing_record_does_not() -> None:
    managed = ScopeRecord(ScopeRecordKind.MANAGED, "managed: accepted after deployment by arn:...")
    pre = ScopeRecord(ScopeRecordKind.PRE_EXISTING)
    assert scope(AdoptionCandidate(conn()), record=managed) is Scope.MANAGED
    assert scope(AdoptionCandidate(conn()), record=pre) is Scope.UNMANAGED
    # A closed record of a dead connection says nothing about acceptance.
    closed = LedgerState("pcx-1", "none", None, "deleted", closed=True)
    assert scope(AdoptionCandidate(conn()), state=closed) is Scope.UNMANAGED


@pytest.mark.parametrize(
    ("entry", "adopted"),
    [
        ('  connections:\n    - accounts: ["222222222222"]\n', True),  # either side's account
        ('  connections:\n    - accounts: ["999999999999"]\n', False),
        ("  connections:\n    - organizationalUnits: [ou-root-platform]\n", True),
        ("  connections:\n    - organizationalUnits: [ou-root-other]\n", False),
        ("  connections:\n    - vpcTag: {key: team, value: platform}\n", True),
        ("  connections:\n    - vpcTag: {key: team, value: data}\n", False),
        ("  connections:\n    - vpcTag: {key: team}\n", True),
        ("  connections:\n    - all: true\n", True),
        # The fields of one entry must all match; any entry adopts.
        ('  connections:\n    - {accounts: ["222222222222"], vpcTag: {key: team, value: data}}\n', False),
        ('  connections:\n    - accounts: ["999999999999"]\n    - vpcTag: {key: team}\n', True),
        ("  takeOverRoutes: true\n", False),
    ],
)
def test_adopt_entries_match_either_side(entry: str, adopted: bool) -> None:
    candidate = AdoptionCandidate(
        conn(), ou_paths={"222222222222": ("r-root", "ou-root-platform")}, vpc_tags={"vpc-a": {"team": "platform"}}
    )
    assert (scope(candidate, document=policy(entry)) is Scope.ADOPTED) is adopted


def test_managed_stays_managed_whatever_adopt_says() -> None:
    state = LedgerState("pcx-1", "accepted", "v1", "active", decided_by="policy")
    assert scope(AdoptionCandidate(conn()), state=state, document=policy("  connections:\n    - all: true\n")) is (
        Scope.MANAGED
    )


@pytest.mark.parametrize(
    "where",
    ["connection", "requester VPC", "accepter VPC"],
)
def test_the_hands_off_tag_wins_over_managed_and_adopted(where: str) -> None:
    tag = {f"{PREFIX}:manage": "false"}
    candidate = AdoptionCandidate(
        conn(tag if where == "connection" else None),
        vpc_tags={"vpc-a": tag if where == "requester VPC" else {}, "vpc-b": tag if where == "accepter VPC" else {}},
    )
    state = LedgerState("pcx-1", "accepted", "v1", "active", decided_by="policy")
    assert scope(candidate, state=state, document=policy("  connections:\n    - all: true\n")) is Scope.HANDS_OFF


def test_only_false_is_hands_off() -> None:
    candidate = AdoptionCandidate(conn({f"{PREFIX}:manage": "true"}))
    assert scope(candidate, document=policy("  connections:\n    - all: true\n")) is Scope.ADOPTED


def test_adopted_routing_takes_over_foreign_routes_only_when_asked() -> None:
    assert policy("  takeOverRoutes: true\n").adopted_routing(RoutingOptions()).take_over_foreign_routes is True
    assert policy("  connections: []\n").adopted_routing(RoutingOptions()).take_over_foreign_routes is False


def test_the_unmanaged_finding_says_what_adoption_would_change_and_changes_with_it() -> None:
    create = RouteChange("create", "1", "r", "rtb-1", "10.1.0.0/16", "pcx-1")
    delete = RouteChange("delete", "1", "r", "rtb-1", "10.1.1.0/24", "pcx-1")
    dns = SetDnsResolution("pcx-1", "1", "r", True, None)
    plan = ConfigurePlan("pcx-1", (create, delete), (dns,))
    finding = unmanaged_finding(plan)
    assert finding is not None
    assert "unmanaged: would add 1 route(s), remove 1, set DNS" in finding.message
    assert change_summary(ConfigurePlan("pcx-1")) == "nothing to change"
    assert unmanaged_finding(ConfigurePlan("pcx-1")) is None
    other = unmanaged_finding(ConfigurePlan("pcx-1", (create,)))
    assert other is not None
    assert other.key != finding.key


# --- each field's errors, with line and column ------------------------------------------------


@pytest.mark.parametrize(
    ("adopt", "where", "message"),
    [
        ("  takeOverRoutes: yes please\n", "4:19: adopt.takeOverRoutes", "valid boolean"),
        ("  connections:\n    - accounts: [111111111111]\n", "5:17: adopt.connections.0.accounts", "quoted"),
        ('  connections:\n    - accounts: ["1234"]\n', "5:17: adopt.connections.0.accounts", "12-digit"),
        ("  connections:\n    - organizationalUnits: ou-1\n", "5:28: adopt.connections.0.organizationalUnits", ""),
        ("  connections:\n    - vpcTag: {value: x}\n", "5:15: adopt.connections.0.vpcTag.key", "required"),
        ("  connections:\n    - all: false\n", "5:12: adopt.connections.0.all", "means nothing"),
        ("  connections:\n    - {all: true, accounts: ['111111111111']}\n", "5:7: adopt.connections.0", "combined"),
        ("  connections:\n    - {}\n", "5:7: adopt.connections.0", "must name"),
        ("  connections:\n    - vpc: vpc-1\n", "5:7: adopt.connections.0.vpc", "Extra inputs"),
        ("  adoptAll: true\n", "4:3: adopt.adoptAll", "Extra inputs"),
    ],
)
def test_each_adopt_field_is_validated_with_line_and_column(adopt: str, where: str, message: str) -> None:
    text = f"schemaVersion: 1\nversion: v1\nadopt:\n{adopt}"
    with pytest.raises(DocumentError) as raised:
        check_policy("policy.yaml", text)
    rendered = str(raised.value)
    assert f"policy.yaml:{where}" in rendered, rendered
    assert message in rendered, rendered
