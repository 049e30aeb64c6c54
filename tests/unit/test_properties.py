"""Properties of the planning core that must hold for every input, checked with hypothesis."""

from __future__ import annotations

import ipaddress
import random
from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from peering.core.checks import SafetyFindings, overlapping_blocks, run_safety_checks
from peering.core.models import AcceptObservation, LedgerState, RequesterIdentity, RequesterVpc, Vpc
from peering.core.plan import (
    AcceptConnection,
    CommitDecision,
    OperatorInstruction,
    Outcome,
    RecordDecision,
    RejectConnection,
    TagConnection,
    decide,
    plan_acceptance,
)
from peering.core.policy import PolicyDecision, PolicyDocument, Rule, Verdict, evaluate, parse_policy
from tests.unit import strategies as s

FAST = settings(max_examples=75, deadline=None)
STRENGTH = {Verdict.REJECT: 0, Verdict.HOLD: 1, Verdict.ACCEPT: 2}  # lower is stricter


def _with_rules(doc: PolicyDocument, rules: list[Rule]) -> PolicyDocument:
    return doc.model_copy(update={"rules": rules})


def _matching(doc: PolicyDocument, who: RequesterIdentity, target: Vpc, hub: str | None) -> list[Rule]:
    """Which rules match, asked one rule at a time (a single-rule policy names its rule iff it matches)."""
    return [r for r in doc.rules if evaluate(_with_rules(doc, [r]), who, target, hub).rule == r.name]


def _oracle_matches(rule: Rule, who: RequesterIdentity, target: Vpc, hub: str | None) -> bool:
    """An independent reading of docs/policy.md: AND across criteria, OR within a list."""
    req, acc = rule.requester, rule.accepter
    org = hub if req.organization == "self" else req.organization
    checks = [
        req.accounts is None or who.account in req.accounts,
        req.regions is None or who.region in req.regions,
        req.organization is None or (org is not None and who.org_id == org),
        req.organizational_units is None or any(ou in who.ou_path for ou in req.organizational_units),
        acc.accounts is None or target.account in acc.accounts,
        acc.vpc_ids is None or target.vpc_id in acc.vpc_ids,
        acc.vpc_tag is None
        or (acc.vpc_tag.key in target.tags and acc.vpc_tag.value in (None, target.tags[acc.vpc_tag.key])),
    ]
    return all(checks)


Request = tuple[PolicyDocument, RequesterIdentity, Vpc, str | None]
request = st.tuples(s.policies(), s.identities(), s.accepter_vpcs(), s.hub_org_ids)


# --- policy --------------------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)  # the oracle test: the one worth many examples
@given(request)
def test_evaluation_agrees_with_an_independent_reading_of_the_rules(args: Request) -> None:
    doc, who, target, hub = args
    matched = [r for r in doc.rules if _oracle_matches(r, who, target, hub)]
    got = evaluate(doc, who, target, hub)
    if not matched:
        assert (got.verdict, got.rule) == (Verdict.HOLD, None)
    else:
        strongest = min(STRENGTH[r.action] for r in matched)
        winner = next(r for r in matched if STRENGTH[r.action] == strongest)
        assert (got.verdict, got.rule) == (winner.action, winner.name)
    assert [r.name for r in _matching(doc, who, target, hub)] == [r.name for r in matched]


@FAST
@given(request)
def test_no_matching_rule_always_holds(args: Request) -> None:
    doc, who, target, hub = args
    unmatched = _with_rules(doc, [r for r in doc.rules if not _oracle_matches(r, who, target, hub)])
    got = evaluate(unmatched, who, target, hub)
    assert got.verdict is Verdict.HOLD
    assert got.rule is None
    assert got.reasons[0].endswith("held by default")


@FAST
@given(request)
def test_any_matching_reject_rule_rejects(args: Request) -> None:
    doc, who, target, hub = args
    got = evaluate(doc, who, target, hub)
    matched = _matching(doc, who, target, hub)
    if any(r.action is Verdict.REJECT for r in matched):
        assert got.verdict is Verdict.REJECT
    if got.verdict is Verdict.ACCEPT:
        assert matched
        assert all(r.action is Verdict.ACCEPT for r in matched)


@FAST
@given(request, st.data())
def test_adding_an_accept_rule_never_undoes_a_reject(args: Request, data: st.DataObject) -> None:
    doc, who, target, hub = args
    before = evaluate(doc, who, target, hub)
    extra = Rule.model_validate(data.draw(s.rule_dicts("extra-accept", st.just(Verdict.ACCEPT))))
    position = data.draw(st.integers(0, len(doc.rules)))
    after = evaluate(_with_rules(doc, [*doc.rules[:position], extra, *doc.rules[position:]]), who, target, hub)
    if before.verdict is Verdict.REJECT:
        assert (after.verdict, after.rule) == (Verdict.REJECT, before.rule)
    # More generally, an accept rule can only loosen a hold-by-default, never tighten anything.
    assert STRENGTH[after.verdict] >= STRENGTH[before.verdict]


@FAST
@given(request, st.data())
def test_adding_a_reject_rule_never_loosens_a_decision(args: Request, data: st.DataObject) -> None:
    doc, who, target, hub = args
    before = evaluate(doc, who, target, hub)
    extra = Rule.model_validate(data.draw(s.rule_dicts("extra-reject", st.just(Verdict.REJECT))))
    after = evaluate(_with_rules(doc, [*doc.rules, extra]), who, target, hub)
    assert STRENGTH[after.verdict] <= STRENGTH[before.verdict]
    if not _oracle_matches(extra, who, target, hub):
        assert after == before


@FAST
@given(request, st.randoms(use_true_random=False))
def test_rule_order_does_not_change_the_verdict(args: Request, rng: random.Random) -> None:
    doc, who, target, hub = args
    shuffled = list(doc.rules)
    rng.shuffle(shuffled)
    assert evaluate(_with_rules(doc, shuffled), who, target, hub).verdict is evaluate(doc, who, target, hub).verdict


@FAST
@given(s.policies())
def test_a_policy_survives_a_json_round_trip(doc: PolicyDocument) -> None:
    assert parse_policy(doc.model_dump_json(by_alias=True, exclude_none=True)) == doc


# --- checks --------------------------------------------------------------------------------------


def _oracle_overlap(a: str, b: str) -> bool:
    left, right = ipaddress.ip_network(a), ipaddress.ip_network(b)
    if left.version != right.version:
        return False
    return int(left.network_address) <= int(right.broadcast_address) and int(right.network_address) <= int(
        left.broadcast_address
    )


@FAST
@given(s.block_lists, s.block_lists)
def test_overlapping_blocks_is_symmetric(left: list[str], right: list[str]) -> None:
    forward = overlapping_blocks(left, right)
    backward = overlapping_blocks(right, left)
    assert sorted(forward) == sorted((b, a) for a, b in backward)


@FAST
@given(s.block_lists, s.block_lists)
def test_overlapping_blocks_agrees_with_address_ranges(left: list[str], right: list[str]) -> None:
    expected = [(a, b) for a in left for b in right if _oracle_overlap(a, b)]
    assert list(overlapping_blocks(left, right)) == expected
    for a, b in expected:  # for CIDR blocks, overlapping means one contains the other
        na, nb = ipaddress.ip_network(a), ipaddress.ip_network(b)
        assert na.subnet_of(nb) or nb.subnet_of(na)  # type: ignore[arg-type]


@FAST
@given(s.blocks)
def test_a_block_always_overlaps_itself_and_never_the_other_family(block: str) -> None:
    assert overlapping_blocks([block], [block]) == ((block, block),)
    other = "::/0" if ipaddress.ip_network(block).version == 4 else "0.0.0.0/0"
    assert overlapping_blocks([block], [other]) == ()


@FAST
@given(s.observations(), st.integers(1, 4))
def test_safety_findings_are_consistent_with_the_observation(obs: AcceptObservation, quota: int) -> None:
    got = run_safety_checks(obs, quota)
    conn = obs.connection
    assert conn.connection_id not in got.duplicates
    for dup in got.duplicates:
        other = next(n for n in obs.neighbours if n.connection_id == dup)
        assert other.status.is_live
        assert other.joins(conn.requester.vpc_id, conn.accepter.vpc_id)
    others = [n for n in obs.neighbours if n.connection_id != conn.connection_id]
    expected_duplicates = sorted(
        n.connection_id for n in others if n.status.is_live and n.joins(conn.requester.vpc_id, conn.accepter.vpc_id)
    )
    assert list(got.duplicates) == expected_duplicates
    for vpc_id in (conn.accepter.vpc_id, conn.requester.vpc_id):
        active = sum(
            1 for n in others if n.status.value == "active" and vpc_id in (n.requester.vpc_id, n.accepter.vpc_id)
        )
        assert (f"{vpc_id} ({active} active)" in got.quota_exhausted) == (active >= quota)
    assert got.must_reject == bool(got.overlaps or got.duplicates)


# --- decide and plan -----------------------------------------------------------------------------


@FAST
@given(s.policy_decisions(st.sampled_from((Verdict.HOLD, Verdict.REJECT))), s.findings(), st.integers(1, 125))
def test_decide_never_accepts_what_the_policy_does_not_accept(
    policy: PolicyDecision, findings: SafetyFindings, quota: int
) -> None:
    assert decide(policy, findings, quota).outcome is not Outcome.ACCEPTED


@FAST
@given(s.policy_decisions(), s.findings(), st.integers(1, 125), s.operators)
def test_decide_is_never_looser_than_its_inputs(
    policy: PolicyDecision, findings: SafetyFindings, quota: int, operator: OperatorInstruction | None
) -> None:
    got = decide(policy, findings, quota, operator)
    if findings.must_reject or policy.verdict is Verdict.REJECT:
        assert got.outcome is Outcome.REJECTED
    if got.outcome is Outcome.ACCEPTED:
        assert not findings.overlaps
        assert not findings.duplicates
        assert not findings.quota_exhausted
        assert (operator.verdict if operator else policy.verdict) is Verdict.ACCEPT
    assert got.policy_version == policy.policy_version
    if operator is None or (policy.verdict is Verdict.REJECT and operator.verdict is Verdict.ACCEPT):
        assert got.decided_by == "policy"
    else:
        assert got.decided_by == f"operator:{operator.requested_by}"


@FAST
@given(s.observations(), s.policy_decisions(), st.integers(1, 4), s.operators)
def test_plan_acceptance_is_deterministic_and_accepts_only_when_accepted(
    obs: AcceptObservation, policy: PolicyDecision, quota: int, operator: OperatorInstruction | None
) -> None:
    plan = plan_acceptance(obs, policy, quota=quota, operator=operator)
    assert plan == plan_acceptance(obs, policy, quota=quota, operator=operator)
    assert plan.render() == plan_acceptance(obs, policy, quota=quota, operator=operator).render()
    kinds = [type(a) for a in plan.actions]
    outcome = plan.decision.outcome
    assert (AcceptConnection in kinds) == (outcome is Outcome.ACCEPTED)
    assert (RejectConnection in kinds) == (outcome is Outcome.REJECTED)
    notices = [a.notice for a in plan.actions if isinstance(a, CommitDecision) and a.notice is not None]
    assert bool(notices) == (outcome in (Outcome.HELD, Outcome.REJECTED))
    if outcome in (Outcome.UNCHANGED, Outcome.NOT_PENDING):
        assert plan.actions == ()
    else:
        # The intent before any change, the tag before the transition, the commit last.
        assert kinds[0] is RecordDecision
        assert kinds[1] is TagConnection
        assert kinds[-1] is CommitDecision
        assert kinds.count(RecordDecision) == kinds.count(CommitDecision) == 1
    if obs.connection.status.value != "pending-acceptance":
        assert outcome is Outcome.NOT_PENDING
    if outcome is Outcome.UNCHANGED:
        assert operator is None
    for action in plan.actions:
        if isinstance(action, AcceptConnection | RejectConnection | TagConnection):
            assert (action.account, action.region) == (obs.connection.accepter.account, obs.connection.accepter.region)
    assert len(plan.render().splitlines()) == 1 + len(plan.decision.reasons) + max(1, len(plan.actions))


@FAST
@given(s.observations(), s.policy_decisions(st.just(Verdict.HOLD)), st.integers(1, 4))
def test_replaying_a_hold_with_its_own_record_notifies_nobody(
    obs: AcceptObservation, policy: PolicyDecision, quota: int
) -> None:
    first = plan_acceptance(obs, policy, quota=quota)
    records = [a for a in first.actions if isinstance(a, RecordDecision)]
    if first.decision.outcome is not Outcome.HELD:
        return
    (record,) = records
    # What the ledger stores and reads back: the outcome and the version ("none" when there is none).
    stored = LedgerState(
        record.connection_id, record.decision.outcome.value, record.decision.policy_version or "none", record.status
    )
    again = plan_acceptance(replace(obs, previous=stored), policy, quota=quota)
    assert again.decision.outcome is Outcome.UNCHANGED
    assert again.actions == ()


# --- the requester VPC's tags and either VPC's ranges (within) -----------------------------------

ranges = st.lists(s.blocks, min_size=1, max_size=3, unique=True).map(
    lambda found: [str(ipaddress.ip_network(b)) for b in found]
)


def _split(found: list[str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    v4 = tuple(b for b in found if ipaddress.ip_network(b).version == 4)
    return v4, tuple(b for b in found if b not in v4)


def _inside(block: str, within: list[str]) -> bool:
    net = ipaddress.ip_network(block)
    return any(net.version == r.version and net.subnet_of(r) for r in map(ipaddress.ip_network, within))  # type: ignore[arg-type]


@settings(max_examples=300, deadline=None)
@given(ranges, s.block_lists, st.booleans())
def test_within_never_matches_a_vpc_with_any_block_outside_the_ranges(
    within: list[str], found: list[str], on_requester: bool
) -> None:
    v4, v6 = _split(found)
    who = s.identity()
    side = "requester" if on_requester else "accepter"
    requester = {"accounts": [who.account], **({"within": within} if on_requester else {})}
    accepter = {} if on_requester else {"within": within}
    doc = s.policy(s.rule("in-range", "accept", requester, accepter))
    facts = (
        RequesterVpc("vpc-requester", v4, v6, {}) if on_requester else RequesterVpc("vpc-requester", ("10.9.0.0/16",))
    )
    target = s.vpc(cidrs=("10.8.0.0/16",)) if on_requester else s.vpc(cidrs=v4, ipv6=v6)

    got = evaluate(doc, who, target, s.ORG_ID, facts)

    every_block_inside = bool(found) and all(_inside(b, within) for b in found)
    assert (got.verdict is Verdict.ACCEPT) is every_block_inside, (side, within, found)
    if any(not _inside(b, within) for b in found):
        assert got.verdict is Verdict.HOLD


@FAST
@given(st.lists(s.tag_matches, min_size=1, max_size=3), st.none() | s.tag_dicts)
def test_requester_tags_match_only_when_known_and_every_tag_is_there(
    wanted: list[dict[str, str]], tags: dict[str, str] | None
) -> None:
    who = s.identity()
    doc = s.policy(s.rule("tagged", "reject", {"vpcTags": wanted}))

    got = evaluate(doc, who, s.vpc(), s.ORG_ID, RequesterVpc("vpc-requester", ("10.1.0.0/16",), (), tags))

    carried = tags is not None and all(
        w["key"] in tags and w.get("value", tags[w["key"]]) == tags[w["key"]] for w in wanted
    )
    assert (got.verdict is Verdict.REJECT) is carried
    if tags is None:
        assert got.rule is None  # unknown tags (outside the organization) never match a tag rule


@FAST
@given(request, st.data())
def test_tags_and_ranges_only_ever_narrow_a_rule(args: Request, data: st.DataObject) -> None:
    """A rule that does not match without the new criteria does not match with them (and a rule
    with them matches only when the same rule without them does)."""
    doc, who, target, hub = args
    wanted = data.draw(st.lists(s.tag_matches, min_size=1, max_size=2))
    wide = st.just(["10.0.0.0/8", "2600:1f18::/32"])  # holds every block drawn: narrowed rules often match
    requester_ranges, accepter_ranges = data.draw(wide | ranges), data.draw(wide | ranges)
    facts = RequesterVpc("vpc-requester", *_split(data.draw(s.block_lists)), data.draw(st.none() | s.tag_dicts))
    for plain in doc.rules:
        requester = {**plain.requester.model_dump(by_alias=True, exclude_none=True), "within": requester_ranges}
        if not plain.requester.anyone:
            requester["vpcTags"] = wanted
        accepter = {**plain.accepter.model_dump(by_alias=True, exclude_none=True), "within": accepter_ranges}
        narrowed = Rule.model_validate(
            {"name": plain.name, "action": plain.action, "requester": requester, "accepter": accepter}
        )
        if evaluate(_with_rules(doc, [narrowed]), who, target, hub, facts).rule == plain.name:
            assert evaluate(_with_rules(doc, [plain]), who, target, hub, facts).rule == plain.name
