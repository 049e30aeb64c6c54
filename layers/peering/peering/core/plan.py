"""The plan: a pure, typed, printable list of actions derived from observation + policy.

Nothing here talks to AWS. ``apply`` executes a plan; a dry run prints it instead. The lifecycle
that observes a request and applies its plan is request.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from peering.core.checks import SafetyFindings, run_safety_checks
from peering.core.decision import PolicyDecision, Verdict
from peering.core.models import AcceptObservation, Connection, ConnectionStatus, LedgerState, Notice


class Outcome(StrEnum):
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    HELD = "held"
    UNCHANGED = "unchanged"  # the same decision was already recorded and carried out
    NOT_PENDING = "not-pending"  # nothing to decide: the connection is past acceptance
    NOT_MANAGED = "not-managed"  # the accepter is outside the organization: its owner decides


VERDICT_OUTCOME = {Verdict.ACCEPT: Outcome.ACCEPTED, Verdict.REJECT: Outcome.REJECTED, Verdict.HOLD: Outcome.HELD}


@dataclass(frozen=True)
class OperatorInstruction:
    """An operator's approve/reject of a held request (already authenticated by the handler)."""

    verdict: Verdict  # ACCEPT or REJECT
    requested_by: str
    comment: str = ""


@dataclass(frozen=True)
class Decision:
    outcome: Outcome
    reasons: tuple[str, ...]
    rule: str | None
    policy_version: str | None
    decided_by: str  # "policy" or "operator:<name>"


@dataclass(frozen=True)
class AcceptConnection:
    connection_id: str
    account: str
    region: str

    def describe(self) -> str:
        return f"accept {self.connection_id} in {self.account}/{self.region}"


@dataclass(frozen=True)
class RejectConnection:
    connection_id: str
    account: str
    region: str

    def describe(self) -> str:
        return f"reject {self.connection_id} in {self.account}/{self.region}"


@dataclass(frozen=True)
class TagConnection:
    connection_id: str
    account: str
    region: str
    tags: tuple[tuple[str, str], ...]

    def describe(self) -> str:
        pairs = ", ".join(f"{k}={v}" for k, v in self.tags)
        return f"tag {self.connection_id} in {self.account}/{self.region}: {pairs}"


def decision_key(outcome: str, policy_version: str | None, decided_by: str) -> str:
    """Names one decision: the same key twice is the same decision (a redelivery, a race)."""
    return f"decision|{outcome}|{policy_version or 'none'}|{decided_by}"


@dataclass(frozen=True)
class RecordDecision:
    """The intent: the decision and the notice it owes, written before anything is changed."""

    connection_id: str
    decision: Decision
    status: str
    requester: str  # account/region/vpc
    accepter: str
    expiration_time: datetime | None
    notice: Notice | None = None

    @property
    def key(self) -> str:
        return decision_key(self.decision.outcome.value, self.decision.policy_version, self.decision.decided_by)

    def describe(self) -> str:
        return f"record {self.decision.outcome.value} for {self.connection_id} in the ledger"


@dataclass(frozen=True)
class CommitDecision:
    """The decision was carried out: mark it applied and queue its notice (one transaction)."""

    connection_id: str
    key: str
    notice: Notice | None = None
    status: str | None = None  # the connection's status when it is already known

    def describe(self) -> str:
        note = f" and notify: {self.notice.subject}" if self.notice else ""
        return f"mark the decision carried out{note}"


Action = AcceptConnection | RejectConnection | TagConnection | RecordDecision | CommitDecision


@dataclass(frozen=True)
class Plan:
    connection_id: str
    decision: Decision
    actions: tuple[Action, ...] = field(default_factory=tuple)

    def render(self) -> str:
        """One line per action with the decision's reasons: what a person reads in a dry run."""
        head = f"{self.connection_id}: {self.decision.outcome.value} ({self.decision.decided_by})"
        lines = [head] + [f"  because {reason}" for reason in self.decision.reasons]
        lines += [f"  - {action.describe()}" for action in self.actions] or ["  - (no action)"]
        return "\n".join(lines)


def _side_label(conn: Connection, requester: bool) -> str:
    side = conn.requester if requester else conn.accepter
    return f"{side.account}/{side.region}/{side.vpc_id}"


def decide(
    policy: PolicyDecision,
    findings: SafetyFindings,
    quota: int,
    operator: OperatorInstruction | None = None,
) -> Decision:
    """Combine the policy (or an operator) with the safety checks. Checks can only make it stricter."""
    if operator is not None:
        base, reasons, rule, decided_by = (
            operator.verdict,
            [f"{operator.verdict.value} requested by operator {operator.requested_by}"]
            + ([f"comment: {operator.comment}"] if operator.comment else []),
            None,
            f"operator:{operator.requested_by}",
        )
        if policy.verdict is Verdict.REJECT and operator.verdict is not Verdict.REJECT:
            # An explicit deny wins over an approval, as it wins over every accept rule.
            base, rule, decided_by = Verdict.REJECT, policy.rule, "policy"
            reasons = [*reasons, "the policy rejects it and an operator cannot override a reject", *policy.reasons]
    else:
        base, reasons, rule, decided_by = policy.verdict, list(policy.reasons), policy.rule, "policy"
    check_reasons = list(findings.reasons(quota))
    if base is Verdict.REJECT:
        verdict = Verdict.REJECT
    elif findings.must_reject:
        # A request that overlaps or duplicates can never work: reject rather than hold for a week.
        verdict = Verdict.REJECT
        reasons += check_reasons
    elif base is Verdict.ACCEPT and findings.quota_exhausted:
        verdict = Verdict.HOLD
        reasons += check_reasons
    else:
        verdict = base
        reasons += check_reasons
    return Decision(VERDICT_OUTCOME[verdict], tuple(reasons), rule, policy.policy_version, decided_by)


def _notification(conn: Connection, decision: Decision, operator_hint: str) -> Notice:
    who = f"{_side_label(conn, True)} -> {_side_label(conn, False)}"
    expiry = conn.expiration_time.isoformat() if conn.expiration_time else "7 days after the request"
    because = "\n".join(f"- {r}" for r in decision.reasons)
    if decision.outcome is Outcome.HELD:
        subject = f"Peering request {conn.connection_id} is held for a decision"
        todo = f"To accept or reject it before it expires ({expiry}), send an operator event:\n{operator_hint}"
    else:
        subject = f"Peering request {conn.connection_id} was rejected"
        todo = "Nothing was accepted. Fix the cause and ask the requester to send a new request."
    message = f"{subject}.\nRequest: {who}\nBecause:\n{because}\n\n{todo}\n"
    return Notice(subject=subject[:100], message=message)


def operator_hint(connection_id: str, bus_name: str = "peering-autopilot") -> str:
    detail = '{\\"connectionId\\":\\"' + connection_id + '\\"}'
    return (
        '  aws events put-events --entries \'[{"Source":"peering-autopilot.operator",'
        '"DetailType":"Approve Peering Request","Detail":"' + detail + '",'
        f'"EventBusName":"{bus_name}"}}]\'\n'
        '  (DetailType "Reject Peering Request" to reject it)'
    )


def plan_acceptance(
    observation: AcceptObservation,
    policy: PolicyDecision,
    *,
    quota: int,
    tag_prefix: str = "peering-autopilot",
    operator: OperatorInstruction | None = None,
    bus_name: str = "peering-autopilot",
) -> Plan:
    """Pure: what to do with a peering request, given what was observed and the policy verdict."""
    conn = observation.connection
    previous = observation.previous
    if conn.status is not ConnectionStatus.PENDING_ACCEPTANCE:
        begun = previous.intent if previous is not None and not previous.applied else None
        if previous is not None and begun is not None and begun.key.startswith("decision|"):
            return _finish_decision(conn, previous, policy.policy_version)
        decision = Decision(
            Outcome.NOT_PENDING,
            (f"the connection is {conn.status.value}: there is nothing to accept or reject",),
            None,
            policy.policy_version,
            "engine",
        )
        return Plan(conn.connection_id, decision)

    findings = run_safety_checks(observation, quota)
    decision = decide(policy, findings, quota, operator)
    if (
        operator is None
        and decision.outcome is Outcome.HELD
        and previous is not None
        and previous.applied
        and previous.decision == Outcome.HELD.value
        # The ledger stores a missing version (policy unavailable) as "none", like the tag does.
        and (previous.policy_version or "none") == (decision.policy_version or "none")
    ):
        # A redelivered event, or a sweep, must not notify a person twice for the same hold.
        unchanged = Decision(
            Outcome.UNCHANGED,
            ("already held under this policy version; the operator was notified", *decision.reasons),
            decision.rule,
            decision.policy_version,
            decision.decided_by,
        )
        return Plan(conn.connection_id, unchanged)

    accepter = conn.accepter
    notice = None
    if decision.outcome in (Outcome.HELD, Outcome.REJECTED):
        notice = _notification(conn, decision, operator_hint(conn.connection_id, bus_name))
    record = RecordDecision(
        connection_id=conn.connection_id,
        decision=decision,
        status=conn.status.value,
        requester=_side_label(conn, True),
        accepter=_side_label(conn, False),
        expiration_time=conn.expiration_time,
        notice=notice,
    )
    tags = [
        (f"{tag_prefix}:decision", decision.outcome.value),
        (f"{tag_prefix}:decided-by", decision.decided_by[:256]),
        (f"{tag_prefix}:policy-version", decision.policy_version or "none"),
    ]
    if decision.rule:
        tags.append((f"{tag_prefix}:rule", decision.rule[:256]))
    # The intent first (a crash after any later step is finished by the retry or the sweep), then
    # the tag while the connection is still pending (a rejected one cannot be changed after).
    actions: list[Action] = [record, TagConnection(conn.connection_id, accepter.account, accepter.region, tuple(tags))]
    if decision.outcome is Outcome.ACCEPTED:
        actions.append(AcceptConnection(conn.connection_id, accepter.account, accepter.region))
    elif decision.outcome is Outcome.REJECTED:
        actions.append(RejectConnection(conn.connection_id, accepter.account, accepter.region))
    actions.append(CommitDecision(conn.connection_id, record.key, notice))
    return Plan(conn.connection_id, decision, tuple(actions))


# What the connection shows once each outcome was carried out.
_CARRIED_OUT = {
    Outcome.ACCEPTED.value: frozenset({ConnectionStatus.PROVISIONING, ConnectionStatus.ACTIVE}),
    Outcome.REJECTED.value: frozenset({ConnectionStatus.REJECTED}),
}


def _finish_decision(conn: Connection, previous: LedgerState, policy_version: str | None) -> Plan:
    """A run recorded a decision, then stopped (crash, timeout) before recording it carried out.

    The connection has moved on since: if it shows the recorded outcome, the decision was carried
    out and only its record and notice are missing; otherwise something else decided it, and the
    notice (which would say otherwise) is dropped.
    """
    assert previous.intent is not None
    status = conn.status.value
    if conn.status in _CARRIED_OUT.get(previous.decision, frozenset()):
        decision = Decision(
            Outcome(previous.decision),
            (f"finishing the {previous.decision} decision recorded by an interrupted run: the connection is {status}",),
            None,
            previous.policy_version,
            previous.decided_by or "engine",
        )
        commit = CommitDecision(conn.connection_id, previous.intent.key, previous.intent.notice, status)
    else:
        decision = Decision(
            Outcome.NOT_PENDING,
            (f"the recorded {previous.decision} decision was overtaken: the connection is {status}",),
            None,
            policy_version,
            "engine",
        )
        commit = CommitDecision(conn.connection_id, previous.intent.key, None, status)
    return Plan(conn.connection_id, decision, (commit,))
