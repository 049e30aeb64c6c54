"""The first-run report: every active connection the deployment sees, its scope, and what adoption
would change (``python -m runner adopt --dry-run``).

For each of the sweep's account+Regions (``fan_out.list_targets``) the connections are listed;
each active one is judged and planned by ``preview_scope`` (configure's ``plan_active``), with
the scope rule and the routing the sweep applies (core/scope.py, lifecycle/scope.py), so what the
report predicts for a connection is what the sweep does once the policy adopts it. Nothing is
written: a report, not a run.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from peering.aws.observe import is_reachable, list_connections, read_scope_view
from peering.core.models import Connection, ConnectionStatus
from peering.core.scope import AdoptionPreview, Scope, first_run_report
from peering.lifecycle.engine import Engine


@dataclass
class FirstRunReport:
    previews: list[AdoptionPreview] = field(default_factory=list)
    #: connections that are not active (pending, dead), by status: nothing to adopt there
    others: Counter[str] = field(default_factory=Counter)
    policy_version: str = "none"

    def render(self) -> str:
        lines = [f"first-run report under policy {self.policy_version}", first_run_report(self.previews)]
        if self.others:
            others = ", ".join(f"{n} {status}" for status, n in sorted(self.others.items()))
            lines.append(f"not active (nothing to adopt): {others}")
        return "\n".join(lines)

    def as_dict(self) -> dict[str, Any]:
        return {
            "policyVersion": self.policy_version,
            "connections": [
                {
                    "connectionId": p.connection_id,
                    "scope": p.decision.scope.value,
                    "reason": p.decision.reason,
                    "summary": p.summary(),
                    "routeChanges": list(p.route_changes),
                    "dnsChanges": list(p.dns_changes),
                }
                for p in self.previews
            ],
            "notActive": dict(self.others),
        }


def preview_scope(engine: Engine, conn: Connection, seen_from: tuple[str, str]) -> AdoptionPreview:
    """An active connection's scope and the plan its routing makes, both sides read by their
    owners (for an unmanaged one: what adoption would change). Changes nothing (also ``explain``)."""
    state = engine.ledger.get_state(conn.connection_id)
    record = engine.ledger.scope_record(conn.connection_id)
    view = read_scope_view(engine.aws, engine.directory, [conn], seen_from)
    decision = engine.scope_of(conn, view, state, record)
    if decision.scope is Scope.HANDS_OFF:
        return AdoptionPreview(conn.connection_id, decision, None)
    plan = engine.plan_active(conn, engine.scoped_routing(decision, state))
    return AdoptionPreview(conn.connection_id, decision, plan)


def first_run(engine: Engine, targets: list[tuple[str, str]]) -> FirstRunReport:
    """Every connection the targets show, once (a connection is seen from both of its sides)."""
    report = FirstRunReport(policy_version=engine.policy_version())
    seen: set[str] = set()
    for account, region in targets:
        if not is_reachable(engine.aws, engine.directory, account, region):
            continue
        for conn in list_connections(engine.aws, account, region):
            if conn.connection_id in seen:
                continue
            seen.add(conn.connection_id)
            if conn.status is ConnectionStatus.ACTIVE:
                report.previews.append(preview_scope(engine, conn, (account, region)))
            else:
                report.others[conn.status.value] += 1
    report.previews.sort(key=lambda p: (p.decision.scope.value, p.connection_id))
    return report
