"""What the engine would do for one connection now, and why, changing nothing.

Observes the connection in the given account and Region (as the functions would), then:

- pending (a request): the policy decision with its reasons and the acceptance plan
  (``Engine.plan_request``: observe + policy + safety checks, no apply);
- active or provisioning: the decision recorded in the ledger and the configure plan
  (``Engine.plan_configuration``);
- dead (rejected, deleted, expired, failed): the recorded decision and the cleanup plan
  (``Engine.plan_cleanup``; the engine's dry run would still write the plan to the ledger).

Only Describe/Get/Query calls are made.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from peering.aws.observe import find_connection
from peering.core.cleanup_plan import CleanupPlan
from peering.core.errors import NotReadyError, PeeringError, UnknownConnectionError
from peering.core.models import Connection, ConnectionStatus
from peering.core.routing import ConfigurePlan
from peering.core.scope import ScopeDecision
from peering.lifecycle.engine import Engine
from peering.runtime.config import Settings
from peering.sweep.first_run import preview_scope

__all__ = ["Explanation", "explain"]


@dataclass
class Explanation:
    connection_id: str
    status: str
    sides: str = ""
    decision: str = ""  # outcome (decided by)
    reasons: list[str] = field(default_factory=list)
    recorded: str = ""  # what the ledger holds
    plan_kind: str = ""  # acceptance | configure | cleanup | none
    plan: str = ""
    notes: list[str] = field(default_factory=list)

    def render(self) -> str:
        lines = [f"connection {self.connection_id}: {self.status}"]
        if self.sides:
            lines.append(f"  {self.sides}")
        if self.recorded:
            lines.append(f"ledger: {self.recorded}")
        if self.decision:
            lines.append(f"decision now: {self.decision}")
            lines += [f"  because {reason}" for reason in self.reasons]
        elif self.reasons:
            lines += [f"  because {reason}" for reason in self.reasons]
        if self.plan:
            lines.append(f"{self.plan_kind} plan (nothing applied):")
            lines += [f"  {line}" for line in self.plan.splitlines()]
        lines += [f"note: {note}" for note in self.notes]
        return "\n".join(lines)

    def as_dict(self) -> dict[str, Any]:
        return {
            "connectionId": self.connection_id,
            "status": self.status,
            "sides": self.sides,
            "decision": self.decision,
            "reasons": self.reasons,
            "recorded": self.recorded,
            "planKind": self.plan_kind,
            "plan": self.plan,
            "notes": self.notes,
        }


def _recorded(engine: Engine, connection_id: str) -> tuple[str, list[str]]:
    """The ledger's STATE item as one line, and its recorded reasons."""
    items = engine.ledger.history(connection_id)
    state = next((i for i in items if i["sk"]["S"] == "STATE"), None)
    if state is None:
        return "no decision recorded", []

    def text(key: str) -> str:
        return str(state.get(key, {}).get("S", ""))

    line = f"{text('decision') or 'none'} by {text('decidedBy') or '?'}"
    if text("rule"):
        line += f" (rule {text('rule')})"
    line += f", policy version {text('policyVersion') or '?'}, status {text('status') or '?'}"
    if "closedAt" in state:
        line += f", closed {text('closedAt')}"
    reasons = [str(r.get("S", "")) for r in state.get("reasons", {}).get("L", [])]
    return line, reasons


def _sides(conn: Connection) -> str:
    req, acc = conn.requester, conn.accepter
    return (
        f"requester {req.account}/{req.region}/{req.vpc_id} {list(req.cidr_blocks)} -> "
        f"accepter {acc.account}/{acc.region}/{acc.vpc_id} {list(acc.cidr_blocks)}"
    )


def explain(connection_id: str, *, account: str, region: str, env: Mapping[str, str]) -> Explanation:
    """Observe and plan one connection with the settings ``env`` (the functions' environment)."""
    settings = Settings.from_env({**env, "ACTIVATION_WAIT_SECONDS": "1"})  # explaining never waits
    engine = Engine(settings)
    try:
        conn = find_connection(engine.aws, connection_id, account, region)
    except UnknownConnectionError as exc:
        recorded, reasons = _recorded(engine, connection_id)
        out = Explanation(connection_id, "unknown", recorded=recorded, reasons=reasons)
        out.notes.append(f"{exc}; check the account and Region (the accepter side sees a request)")
        return out
    out = Explanation(connection_id, conn.status.value, sides=_sides(conn))
    out.recorded, recorded_reasons = _recorded(engine, connection_id)
    status = conn.status
    try:
        if status in (ConnectionStatus.PENDING_ACCEPTANCE, ConnectionStatus.INITIATING_REQUEST):
            plan = engine.plan_request(connection_id, account, region)
            out.decision = f"{plan.decision.outcome.value} ({plan.decision.decided_by})"
            if plan.decision.rule:
                out.decision += f", rule {plan.decision.rule}"
            out.decision += f", policy version {plan.decision.policy_version or 'none (policy unavailable)'}"
            out.reasons = list(plan.decision.reasons)
            out.plan_kind, out.plan = "acceptance", plan.render()
        elif status in (ConnectionStatus.ACTIVE, ConnectionStatus.PROVISIONING):
            out.reasons = recorded_reasons
            planned = engine.plan_configuration(connection_id, account, region)
            if isinstance(planned, ConfigurePlan):
                out.plan_kind, out.plan = "configure", planned.render()
            elif isinstance(planned, ScopeDecision):
                out.notes.append(f"{planned.reason}: nothing is changed")
                preview = preview_scope(engine, conn, (account, region))
                if preview.plan is not None:
                    out.plan_kind, out.plan = "adoption (if adopted)", preview.plan.render()
            elif planned is not None:
                out.notes.append(f"the connection is {planned.status.value}: nothing to configure")
        else:
            out.reasons = recorded_reasons
            cleanup = engine.plan_cleanup(connection_id, account, region)
            if isinstance(cleanup, CleanupPlan):
                out.plan_kind, out.plan = "cleanup", cleanup.render()
    except NotReadyError as exc:
        out.notes.append(f"{exc} (the functions would retry)")
    except PeeringError as exc:
        out.notes.append(f"{exc.kind}: {exc}")
    return out
