"""The acceptance plan: decide() and plan_acceptance(), pure and printable."""

from __future__ import annotations

import json
import re
from dataclasses import replace

import pytest

from peering.core.checks import SafetyFindings
from peering.core.models import ConnectionStatus, Intent, LedgerState, Notice
from peering.core.plan import (
    AcceptConnection,
    CommitDecision,
    Decision,
    OperatorInstruction,
    Outcome,
    Plan,
    RecordDecision,
    RejectConnection,
    TagConnection,
    decide,
    operator_hint,
    plan_acceptance,
)
from peering.core.policy import PolicyDecision, Verdict
from tests.unit.strategies import (
    EXPIRY,
    HUB_ACCOUNT,
    MEMBER_ACCOUNT,
    OTHER_REGION,
    REGION,
    clean_findings,
    connection,
    observation,
    policy_decision,
    side,
    vpc,
)

OVERLAP = SafetyFindings(overlaps=(("10.0.0.0/16", "10.0.0.0/24"),), duplicates=(), quota_exhausted=())
DUPLICATE = SafetyFindings(overlaps=(), duplicates=("pcx-22222222",), quota_exhausted=())
QUOTA = SafetyFindings(overlaps=(), duplicates=(), quota_exhausted=("vpc-accepter (50 active)",))
OVERLAP_REASON = "CIDR overlap between the VPCs: 10.0.0.0/16 overlaps 10.0.0.0/24"
DUPLICATE_REASON = "another live connection already joins these VPCs: pcx-22222222"
QUOTA_REASON = "no headroom under the active peerings quota (50 per VPC) for vpc-accepter (50 active)"
ALICE_APPROVES = OperatorInstruction(Verdict.ACCEPT, "alice", "CHG-1234")
BOB_REJECTS = OperatorInstruction(Verdict.REJECT, "bob")

ACCEPT = policy_decision(Verdict.ACCEPT, "accept-rule")
REJECT = policy_decision(Verdict.REJECT, "reject-rule")
HOLD = policy_decision(Verdict.HOLD, "hold-rule")
DEFAULT_HOLD = PolicyDecision(Verdict.HOLD, ("no rule of policy v1 matches: held by default",), None, "v1")
UNAVAILABLE = PolicyDecision(Verdict.HOLD, ("policy unavailable, holding: broken",), None, None)


# --- decide --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("policy", "outcome"), [(ACCEPT, Outcome.ACCEPTED), (REJECT, Outcome.REJECTED), (HOLD, Outcome.HELD)]
)
def test_decide_follows_the_policy_when_every_check_passes(policy: PolicyDecision, outcome: Outcome) -> None:
    got = decide(policy, clean_findings(), 50)
    assert got == Decision(outcome, policy.reasons, policy.rule, "v1", "policy")


@pytest.mark.parametrize("findings", [OVERLAP, DUPLICATE, QUOTA, SafetyFindings(OVERLAP.overlaps, ("pcx-2",), ("x",))])
def test_a_policy_reject_always_rejects(findings: SafetyFindings) -> None:
    got = decide(REJECT, findings, 50)
    assert got.outcome is Outcome.REJECTED
    assert got.reasons == REJECT.reasons
    assert got.rule == "reject-rule"


@pytest.mark.parametrize("policy", [ACCEPT, HOLD, DEFAULT_HOLD, UNAVAILABLE])
@pytest.mark.parametrize(("findings", "reason"), [(OVERLAP, OVERLAP_REASON), (DUPLICATE, DUPLICATE_REASON)])
def test_overlap_or_duplicate_force_a_reject(policy: PolicyDecision, findings: SafetyFindings, reason: str) -> None:
    got = decide(policy, findings, 50)
    assert got.outcome is Outcome.REJECTED
    assert got.reasons == (*policy.reasons, reason)
    assert got.decided_by == "policy"
    assert got.policy_version == policy.policy_version


def test_overlap_and_quota_together_reject_with_every_reason() -> None:
    findings = SafetyFindings(OVERLAP.overlaps, (), QUOTA.quota_exhausted)
    got = decide(ACCEPT, findings, 50)
    assert got.outcome is Outcome.REJECTED
    assert got.reasons == (*ACCEPT.reasons, OVERLAP_REASON, QUOTA_REASON)


def test_quota_turns_accept_into_hold() -> None:
    got = decide(ACCEPT, QUOTA, 50)
    assert got == Decision(Outcome.HELD, (*ACCEPT.reasons, QUOTA_REASON), "accept-rule", "v1", "policy")


def test_quota_leaves_a_hold_held_and_says_so() -> None:
    got = decide(HOLD, QUOTA, 50)
    assert got.outcome is Outcome.HELD
    assert got.reasons == (*HOLD.reasons, QUOTA_REASON)


def test_the_quota_in_the_reason_is_the_one_given() -> None:
    assert "(125 per VPC)" in decide(ACCEPT, QUOTA, 125).reasons[-1]


def test_an_operator_approval_accepts_when_every_check_passes() -> None:
    got = decide(HOLD, clean_findings(), 50, ALICE_APPROVES)
    assert got == Decision(
        Outcome.ACCEPTED,
        ("accept requested by operator alice", "comment: CHG-1234"),
        None,
        "v1",
        "operator:alice",
    )


def test_an_operator_approval_works_while_the_policy_is_unavailable() -> None:
    got = decide(UNAVAILABLE, clean_findings(), 50, ALICE_APPROVES)
    assert (got.outcome, got.policy_version) == (Outcome.ACCEPTED, None)


@pytest.mark.parametrize(
    ("findings", "outcome", "reason"),
    [
        (OVERLAP, Outcome.REJECTED, OVERLAP_REASON),
        (DUPLICATE, Outcome.REJECTED, DUPLICATE_REASON),
        (QUOTA, Outcome.HELD, QUOTA_REASON),
    ],
)
def test_an_operator_approval_is_still_subject_to_the_checks(
    findings: SafetyFindings, outcome: Outcome, reason: str
) -> None:
    got = decide(HOLD, findings, 50, ALICE_APPROVES)
    assert got.outcome is outcome
    assert got.reasons == ("accept requested by operator alice", "comment: CHG-1234", reason)
    assert got.decided_by == "operator:alice"


def test_an_operator_cannot_override_an_explicit_policy_reject() -> None:
    got = decide(REJECT, clean_findings(), 50, ALICE_APPROVES)
    assert got.outcome is Outcome.REJECTED
    assert got.decided_by == "policy"
    assert got.rule == "reject-rule"
    assert got.reasons == (
        "accept requested by operator alice",
        "comment: CHG-1234",
        "the policy rejects it and an operator cannot override a reject",
        *REJECT.reasons,
    )


@pytest.mark.parametrize("policy", [ACCEPT, HOLD, REJECT, UNAVAILABLE])
@pytest.mark.parametrize("findings", [clean_findings(), OVERLAP, QUOTA])
def test_an_operator_reject_always_rejects(policy: PolicyDecision, findings: SafetyFindings) -> None:
    got = decide(policy, findings, 50, BOB_REJECTS)
    assert got.outcome is Outcome.REJECTED
    assert got.decided_by == "operator:bob"
    assert got.rule is None
    assert got.reasons == ("reject requested by operator bob",)  # no comment line without a comment


# --- plan_acceptance: pending requests -----------------------------------------------------------


def _notice(plan: Plan) -> Notice | None:
    """The notice a plan owes: queued with the commit, after the decision was carried out."""
    commit = plan.actions[-1]
    assert isinstance(commit, CommitDecision)
    record = plan.actions[0]
    assert isinstance(record, RecordDecision)
    assert record.notice == commit.notice  # recorded with the intent, so a retry can finish it
    return commit.notice


def _tags(plan: Plan) -> dict[str, str]:
    tag = plan.actions[1]
    assert isinstance(tag, TagConnection)
    return dict(tag.tags)


def test_accept_plan_tags_then_accepts_then_records_and_does_not_notify() -> None:
    obs = observation()
    plan = plan_acceptance(obs, ACCEPT, quota=50)
    assert plan.connection_id == "pcx-11111111"
    assert plan.decision.outcome is Outcome.ACCEPTED
    assert [type(a) for a in plan.actions] == [RecordDecision, TagConnection, AcceptConnection, CommitDecision]
    record, tag, accept, commit = plan.actions
    assert commit == CommitDecision("pcx-11111111", "decision|accepted|v1|policy", None)
    assert tag == TagConnection(
        "pcx-11111111",
        HUB_ACCOUNT,
        REGION,
        (
            ("peering-autopilot:decision", "accepted"),
            ("peering-autopilot:decided-by", "policy"),
            ("peering-autopilot:policy-version", "v1"),
            ("peering-autopilot:rule", "accept-rule"),
        ),
    )
    assert accept == AcceptConnection("pcx-11111111", HUB_ACCOUNT, REGION)
    assert record == RecordDecision(
        connection_id="pcx-11111111",
        decision=plan.decision,
        status="pending-acceptance",
        requester=f"{MEMBER_ACCOUNT}/{REGION}/vpc-requester",
        accepter=f"{HUB_ACCOUNT}/{REGION}/vpc-accepter",
        expiration_time=EXPIRY,
    )


def test_reject_plan_tags_then_rejects_records_and_notifies() -> None:
    plan = plan_acceptance(observation(), REJECT, quota=50)
    assert plan.decision.outcome is Outcome.REJECTED
    assert [type(a) for a in plan.actions] == [RecordDecision, TagConnection, RejectConnection, CommitDecision]
    assert plan.actions[2] == RejectConnection("pcx-11111111", HUB_ACCOUNT, REGION)
    assert _tags(plan)["peering-autopilot:decision"] == "rejected"
    note = _notice(plan)
    assert isinstance(note, Notice)
    assert note.subject == "Peering request pcx-11111111 was rejected"
    assert note.message == (
        "Peering request pcx-11111111 was rejected.\n"
        f"Request: {MEMBER_ACCOUNT}/{REGION}/vpc-requester -> {HUB_ACCOUNT}/{REGION}/vpc-accepter\n"
        "Because:\n"
        "- rule 'reject-rule' says reject\n"
        "\n"
        "Nothing was accepted. Fix the cause and ask the requester to send a new request.\n"
    )


def test_hold_plan_tags_records_and_tells_the_operator_what_to_do_before_expiry() -> None:
    plan = plan_acceptance(observation(), HOLD, quota=50, bus_name="my-bus")
    assert plan.decision.outcome is Outcome.HELD
    assert [type(a) for a in plan.actions] == [RecordDecision, TagConnection, CommitDecision]
    assert not any(isinstance(a, AcceptConnection | RejectConnection) for a in plan.actions)
    assert _tags(plan)["peering-autopilot:decision"] == "held"
    note = _notice(plan)
    assert isinstance(note, Notice)
    assert note.subject == "Peering request pcx-11111111 is held for a decision"
    assert "- rule 'hold-rule' says hold\n" in note.message
    assert f"before it expires ({EXPIRY.isoformat()})" in note.message
    assert "send an operator event" in note.message
    assert operator_hint("pcx-11111111", "my-bus") in note.message
    assert '"EventBusName":"my-bus"' in note.message


def test_hold_without_a_known_expiry_says_seven_days() -> None:
    plan = plan_acceptance(observation(connection(expiration_time=None)), HOLD, quota=50)
    note = _notice(plan)
    assert isinstance(note, Notice)
    assert "before it expires (7 days after the request)" in note.message
    record = plan.actions[0]
    assert isinstance(record, RecordDecision)
    assert record.expiration_time is None


def test_a_quota_hold_notifies_with_the_quota_reason() -> None:
    full = tuple(
        connection(
            connection_id=f"pcx-f{i:07x}",
            status=ConnectionStatus.ACTIVE,
            requester=side(vpc_id="vpc-accepter"),
            accepter=side(vpc_id=f"vpc-peer{i}"),
        )
        for i in range(2)
    )
    plan = plan_acceptance(observation(neighbours=full), ACCEPT, quota=2)
    assert plan.decision.outcome is Outcome.HELD
    note = _notice(plan)
    assert isinstance(note, Notice)
    assert "no headroom under the active peerings quota (2 per VPC) for vpc-accepter (2 active)" in note.message


def test_an_overlap_rejects_the_plan_even_when_the_policy_accepts() -> None:
    obs = observation(accepter_vpc=vpc(cidrs=("10.1.0.0/20",)))  # the requester has 10.1.0.0/16
    plan = plan_acceptance(obs, ACCEPT, quota=50)
    assert plan.decision.outcome is Outcome.REJECTED
    assert isinstance(plan.actions[2], RejectConnection)
    assert plan.decision.reasons[-1] == "CIDR overlap between the VPCs: 10.1.0.0/20 overlaps 10.1.0.0/16"


def test_actions_run_in_the_accepter_account_and_region() -> None:
    conn = connection(
        requester=side(account=MEMBER_ACCOUNT, region=REGION),
        accepter=side(account="999999999999", vpc_id="vpc-far", region=OTHER_REGION, cidrs=("10.5.0.0/16",)),
    )
    for policy, kind in ((ACCEPT, AcceptConnection), (REJECT, RejectConnection)):
        plan = plan_acceptance(observation(conn), policy, quota=50)
        tag, act = plan.actions[1], plan.actions[2]
        assert isinstance(tag, TagConnection)
        assert isinstance(act, kind)
        assert (tag.account, tag.region) == ("999999999999", OTHER_REGION)
        assert (act.account, act.region) == ("999999999999", OTHER_REGION)


def test_tags_without_a_rule_or_a_policy_version() -> None:
    tags = _tags(plan_acceptance(observation(), UNAVAILABLE, quota=50))
    assert tags == {
        "peering-autopilot:decision": "held",
        "peering-autopilot:decided-by": "policy",
        "peering-autopilot:policy-version": "none",
    }


def test_tags_use_the_prefix_and_name_the_operator() -> None:
    plan = plan_acceptance(observation(), HOLD, quota=50, tag_prefix="acme", operator=ALICE_APPROVES)
    assert _tags(plan) == {
        "acme:decision": "accepted",
        "acme:decided-by": "operator:alice",
        "acme:policy-version": "v1",
    }


def test_tag_values_are_cut_at_the_ec2_limit_of_256_characters() -> None:
    long_name = "r" * 300
    plan = plan_acceptance(
        observation(),
        policy_decision(Verdict.ACCEPT, long_name),
        quota=50,
        operator=OperatorInstruction(Verdict.ACCEPT, "x" * 300),
    )
    tags = _tags(plan)
    assert len(tags["peering-autopilot:decided-by"]) == 256
    plan = plan_acceptance(observation(), policy_decision(Verdict.ACCEPT, long_name), quota=50)
    assert _tags(plan)["peering-autopilot:rule"] == "r" * 256


def test_notification_subjects_fit_the_sns_limit() -> None:
    conn = connection(connection_id="pcx-" + "a" * 90)
    for policy in (HOLD, REJECT):
        note = _notice(plan_acceptance(observation(conn), policy, quota=50))
        assert isinstance(note, Notice)
        assert len(note.subject) <= 100
        assert conn.connection_id in note.message


def test_every_reason_is_in_the_notification() -> None:
    obs = observation(accepter_vpc=vpc(cidrs=("10.1.0.0/16",)))
    plan = plan_acceptance(obs, HOLD, quota=50)
    note = _notice(plan)
    assert isinstance(note, Notice)
    for reason in plan.decision.reasons:
        assert f"- {reason}\n" in note.message


# --- plan_acceptance: not pending ----------------------------------------------------------------


@pytest.mark.parametrize("status", [s for s in ConnectionStatus if s is not ConnectionStatus.PENDING_ACCEPTANCE])
@pytest.mark.parametrize("operator", [None, ALICE_APPROVES, BOB_REJECTS])
def test_a_connection_past_acceptance_gets_no_action(
    status: ConnectionStatus, operator: OperatorInstruction | None
) -> None:
    plan = plan_acceptance(observation(connection(status=status)), ACCEPT, quota=50, operator=operator)
    assert plan.actions == ()
    assert plan.decision == Decision(
        Outcome.NOT_PENDING,
        (f"the connection is {status.value}: there is nothing to accept or reject",),
        None,
        "v1",
        "engine",
    )


@pytest.mark.parametrize(
    ("recorded", "status"),
    [
        ("accepted", ConnectionStatus.PROVISIONING),
        ("accepted", ConnectionStatus.ACTIVE),
        ("rejected", ConnectionStatus.REJECTED),
    ],
)
def test_a_decision_carried_out_by_an_interrupted_run_is_finished(recorded: str, status: ConnectionStatus) -> None:
    notice = Notice("s", "m") if recorded == "rejected" else None
    key = f"decision|{recorded}|v1|policy"
    previous = LedgerState(
        "pcx-11111111",
        recorded,
        "v1",
        "pending-acceptance",
        decided_by="policy",
        applied=False,
        intent=Intent(key, notice),
    )

    plan = plan_acceptance(observation(connection(status=status), previous=previous), ACCEPT, quota=50)

    assert plan.decision.outcome.value == recorded
    assert "interrupted run" in plan.decision.reasons[0]
    assert plan.actions == (CommitDecision("pcx-11111111", key, notice, status.value),)


def test_a_decision_overtaken_by_someone_else_is_committed_without_its_notice() -> None:
    key = "decision|rejected|v1|policy"
    previous = LedgerState(
        "pcx-11111111", "rejected", "v1", "pending-acceptance", applied=False, intent=Intent(key, Notice("s", "m"))
    )

    plan = plan_acceptance(observation(connection(status=ConnectionStatus.ACTIVE), previous=previous), ACCEPT, quota=50)

    assert plan.decision.outcome is Outcome.NOT_PENDING
    assert "overtaken" in plan.decision.reasons[0]
    assert plan.actions == (CommitDecision("pcx-11111111", key, None, "active"),)


def test_a_hold_recorded_but_not_carried_out_is_carried_out_again() -> None:
    previous = LedgerState("pcx-11111111", "held", "v1", "pending-acceptance", applied=False)
    plan = plan_acceptance(observation(previous=previous), HOLD, quota=50)
    assert plan.decision.outcome is Outcome.HELD
    assert [type(a) for a in plan.actions] == [RecordDecision, TagConnection, CommitDecision]


def test_an_initiating_request_is_not_decided_yet() -> None:
    # The engine retries it (NotReadyError) before planning; the plan itself never acts on it.
    plan = plan_acceptance(observation(connection(status=ConnectionStatus.INITIATING_REQUEST)), ACCEPT, quota=50)
    assert plan.decision.outcome is Outcome.NOT_PENDING
    assert plan.actions == ()


# --- plan_acceptance: redelivery and the unchanged shortcut --------------------------------------


def _previous(decision: str = "held", version: str | None = "v1") -> LedgerState:
    return LedgerState("pcx-11111111", decision, version, "pending-acceptance")


def test_a_redelivered_hold_under_the_same_version_is_unchanged_and_not_notified_again() -> None:
    plan = plan_acceptance(observation(previous=_previous()), HOLD, quota=50)
    assert plan.actions == ()
    assert plan.decision == Decision(
        Outcome.UNCHANGED,
        ("already held under this policy version; the operator was notified", *HOLD.reasons),
        "hold-rule",
        "v1",
        "policy",
    )


def test_a_quota_hold_that_was_already_held_is_unchanged() -> None:
    full = tuple(
        connection(
            connection_id=f"pcx-f{i:07x}",
            status=ConnectionStatus.ACTIVE,
            requester=side(vpc_id="vpc-accepter"),
            accepter=side(vpc_id="vpc-other"),
        )
        for i in range(1)
    )
    plan = plan_acceptance(observation(neighbours=full, previous=_previous()), ACCEPT, quota=1)
    assert plan.decision.outcome is Outcome.UNCHANGED


def test_a_hold_under_a_new_policy_version_is_a_new_decision() -> None:
    plan = plan_acceptance(observation(previous=_previous(version="v0")), HOLD, quota=50)
    assert plan.decision.outcome is Outcome.HELD
    assert [type(a) for a in plan.actions] == [RecordDecision, TagConnection, CommitDecision]


@pytest.mark.parametrize("recorded", [None, "none"])
def test_a_hold_while_the_policy_stays_unavailable_is_unchanged(recorded: str | None) -> None:
    # The ledger and the tag write a missing version as "none": a sweep must not notify every time.
    plan = plan_acceptance(observation(previous=_previous(version=recorded)), UNAVAILABLE, quota=50)
    assert plan.decision.outcome is Outcome.UNCHANGED
    assert plan.actions == ()


def test_a_hold_after_the_policy_became_unavailable_is_a_new_decision() -> None:
    plan = plan_acceptance(observation(previous=_previous(version="v1")), UNAVAILABLE, quota=50)
    assert plan.decision.outcome is Outcome.HELD
    assert _notice(plan) is not None


@pytest.mark.parametrize("earlier", ["accepted", "rejected", "", "unchanged"])
def test_a_hold_after_another_recorded_decision_is_a_new_decision(earlier: str) -> None:
    plan = plan_acceptance(observation(previous=_previous(earlier)), HOLD, quota=50)
    assert plan.decision.outcome is Outcome.HELD
    assert _notice(plan) is not None


@pytest.mark.parametrize(("policy", "kind"), [(ACCEPT, AcceptConnection), (REJECT, RejectConnection)])
def test_a_held_request_is_decided_when_the_policy_now_decides(policy: PolicyDecision, kind: type) -> None:
    plan = plan_acceptance(observation(previous=_previous()), policy, quota=50)
    assert isinstance(plan.actions[2], kind)


@pytest.mark.parametrize(
    ("operator", "outcome", "kind"),
    [(ALICE_APPROVES, Outcome.ACCEPTED, AcceptConnection), (BOB_REJECTS, Outcome.REJECTED, RejectConnection)],
)
def test_operator_instructions_bypass_the_unchanged_shortcut(
    operator: OperatorInstruction, outcome: Outcome, kind: type
) -> None:
    plan = plan_acceptance(observation(previous=_previous()), HOLD, quota=50, operator=operator)
    assert plan.decision.outcome is outcome
    assert isinstance(plan.actions[2], kind)


def test_an_operator_approval_that_is_held_by_the_quota_is_notified_again() -> None:
    full = (
        connection(
            connection_id="pcx-ffffffff",
            status=ConnectionStatus.ACTIVE,
            requester=side(vpc_id="vpc-requester"),
            accepter=side(vpc_id="vpc-other"),
        ),
    )
    plan = plan_acceptance(observation(neighbours=full, previous=_previous()), HOLD, quota=1, operator=ALICE_APPROVES)
    assert plan.decision.outcome is Outcome.HELD
    assert plan.decision.decided_by == "operator:alice"
    assert [type(a) for a in plan.actions] == [RecordDecision, TagConnection, CommitDecision]


# --- render and the operator hint ----------------------------------------------------------------


def test_render_prints_the_decision_the_reasons_and_one_line_per_action() -> None:
    plan = plan_acceptance(observation(), REJECT, quota=50)
    assert plan.render() == "\n".join(
        [
            "pcx-11111111: rejected (policy)",
            "  because rule 'reject-rule' says reject",
            "  - record rejected for pcx-11111111 in the ledger",
            f"  - tag pcx-11111111 in {HUB_ACCOUNT}/{REGION}: peering-autopilot:decision=rejected, "
            "peering-autopilot:decided-by=policy, peering-autopilot:policy-version=v1, "
            "peering-autopilot:rule=reject-rule",
            f"  - reject pcx-11111111 in {HUB_ACCOUNT}/{REGION}",
            "  - mark the decision carried out and notify: Peering request pcx-11111111 was rejected",
        ]
    )


def test_render_of_an_accept_plan() -> None:
    lines = plan_acceptance(observation(), ACCEPT, quota=50).render().splitlines()
    assert lines[0] == "pcx-11111111: accepted (policy)"
    assert lines[1] == "  because rule 'accept-rule' says accept"
    assert lines[4] == f"  - accept pcx-11111111 in {HUB_ACCOUNT}/{REGION}"
    assert lines[5] == "  - mark the decision carried out"
    assert len(lines) == 2 + 4


def test_render_of_a_plan_without_actions() -> None:
    plan = plan_acceptance(observation(connection(status=ConnectionStatus.ACTIVE)), ACCEPT, quota=50)
    assert plan.render() == (
        "pcx-11111111: not-pending (engine)\n"
        "  because the connection is active: there is nothing to accept or reject\n"
        "  - (no action)"
    )


def test_render_lists_every_reason() -> None:
    obs = observation(accepter_vpc=vpc(cidrs=("10.1.0.0/16",)))
    plan = plan_acceptance(obs, ACCEPT, quota=50, operator=ALICE_APPROVES)
    because = [line for line in plan.render().splitlines() if line.startswith("  because ")]
    assert because == [f"  because {r}" for r in plan.decision.reasons]
    assert len(because) == 3


def test_operator_hint_is_a_runnable_put_events_command() -> None:
    hint = operator_hint("pcx-0123456789abcdef0", "my-bus")
    match = re.search(r"--entries '(.*?)'\n", hint)
    assert match is not None
    entries = json.loads(match.group(1))
    assert entries == [
        {
            "Source": "peering-autopilot.operator",
            "DetailType": "Approve Peering Request",
            "Detail": '{"connectionId":"pcx-0123456789abcdef0"}',
            "EventBusName": "my-bus",
        }
    ]
    assert json.loads(entries[0]["Detail"]) == {"connectionId": "pcx-0123456789abcdef0"}
    assert 'DetailType "Reject Peering Request"' in hint


def test_plans_are_values() -> None:
    first = plan_acceptance(observation(), HOLD, quota=50)
    again = plan_acceptance(observation(), HOLD, quota=50)
    assert first == again
    assert replace(first, actions=()) != first
