"""The scope of an active connection in a lifecycle: managed, adopted, unmanaged or hands-off.

The rule is core/scope.py's (pure); this module gathers what it needs (the ledger's STATE and
SCOPE records, the VPCs' tags, the accounts' OUs, the policy's ``adopt:`` section), gives each
scope its routing (a managed connection its accepting rule's, an adopted one the document's with
``adopt.takeOverRoutes``), records an adoption once with its notice, and reports once what an
unmanaged connection would be changed by adoption. Configure (configure.py), the sweep
(sweep/target.py) and the first-run report (``python -m runner adopt --dry-run``) use it alike.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from peering.aws.observe import ScopeView
from peering.core.errors import PolicyError
from peering.core.models import Connection, LedgerState, Notice
from peering.core.routing import ConfigurePlan, RouteManagement, RoutingOptions
from peering.core.scope import (
    AdoptionCandidate,
    Scope,
    ScopeDecision,
    ScopeRecord,
    ScopeRecordKind,
    change_summary,
    decide_scope,
    unmanaged_finding,
)
from peering.lifecycle.context import EngineContext
from peering.runtime.observability import MetricUnit, logger, metrics


class ScopeLifecycle(EngineContext):
    def routing_options(self, decided: LedgerState | None = None) -> RoutingOptions:
        """The routing of a connection whose recorded decision is ``decided``: the accepting rule's
        own routing over the document's, else the document's, over the deployment's defaults."""
        policy = self._policy()
        base = RoutingOptions(routes_per_table=self.settings.routes_per_table)
        if isinstance(policy, PolicyError):
            # Whose routing applies is unknown: the defaults could widen a rule's narrower routes.
            # Nothing changes until the policy is fixed (its error is logged and counted).
            return replace(
                base,
                routes=RouteManagement.NONE,
                dns_resolution=None,
                source="none: the policy is unavailable, routes and DNS are left as they are",
            )
        return policy.routing_options(decided.accepting_rule if decided else None, base)

    def routing_depends_on_rule(self) -> bool:
        """Some rule has its own routing: a connection's recorded decision must then be read."""
        policy = self._policy()
        return not isinstance(policy, PolicyError) and policy.has_rule_routing

    def routing_reads_subnets(self) -> bool:
        """Some routing of the policy (the document's or a rule's) needs the VPCs' subnets."""
        policy = self._policy()
        return not isinstance(policy, PolicyError) and policy.reads_subnets

    def _adopts(self) -> Callable[[AdoptionCandidate], str | None] | None:
        policy = self._policy()
        return None if isinstance(policy, PolicyError) else policy.adopts

    def adoption_candidate(self, conn: Connection, view: ScopeView) -> AdoptionCandidate:
        """The connection with its VPCs' tags, the other owner's tags on it and, for accounts in
        the organization, their OUs."""
        policy = self._policy()
        ou_paths = {}
        if not isinstance(policy, PolicyError) and policy.adopt.names_units:  # Organizations only when asked
            for side in (conn.requester, conn.accepter):
                ou_paths[side.account] = self.directory.identify(side.account, side.region).ou_path
        vpcs = view.vpcs
        tags = {vpc_id: vpcs[vpc_id].tags for vpc_id in (conn.requester.vpc_id, conn.accepter.vpc_id) if vpc_id in vpcs}
        return AdoptionCandidate(conn, ou_paths, tags, view.views(conn.connection_id))

    def scope_of(
        self,
        conn: Connection,
        view: ScopeView,
        state: LedgerState | None,
        record: ScopeRecord | None,
    ) -> ScopeDecision:
        candidate = self.adoption_candidate(conn, view)
        return decide_scope(
            candidate, state=state, record=record, adopts=self._adopts(), tag_prefix=self.settings.tag_prefix
        )

    def scoped_routing(self, decision: ScopeDecision, state: LedgerState | None) -> RoutingOptions:
        """The routing the connection is planned with: a managed one's as before, an adopted or an
        unmanaged one's (what adoption would do) the document's with ``adopt.takeOverRoutes``."""
        if decision.scope is Scope.MANAGED:
            return self.routing_options(state)
        policy = self._policy()
        base = RoutingOptions(routes_per_table=self.settings.routes_per_table)
        if isinstance(policy, PolicyError):
            return replace(base, routes=RouteManagement.NONE, dns_resolution=None, source="none: policy unavailable")
        return policy.adopted_routing(base)

    def record_adoption_once(self, conn: Connection, decision: ScopeDecision, record: ScopeRecord | None) -> None:
        """A policy version adopted the connection: recorded and notified once."""
        if decision.scope is not Scope.ADOPTED or (record is not None and record.kind is ScopeRecordKind.ADOPTED):
            return
        version = self.policy_version()
        notice = Notice(
            f"Peering {conn.connection_id} adopted by policy {version}"[:100],
            f"{conn.connection_id} ({conn.requester.account}/{conn.requester.region}/{conn.requester.vpc_id} -> "
            f"{conn.accepter.account}/{conn.accepter.region}/{conn.accepter.vpc_id}) existed before the autopilot "
            f"and is now managed by it: {decision.reason}.\n"
            "From now on its routes and DNS options follow the policy's routing.\n",
        )
        if self.ledger.record_adoption(conn.connection_id, decision.reason, version, notice):
            logger.info("connection adopted", extra={"connection_id": conn.connection_id, "reason": decision.reason})
            metrics.add_metric(name="ConnectionsAdopted", unit=MetricUnit.Count, value=1)
            self.outbox.flush(conn.connection_id)

    def report_unmanaged(self, conn: Connection, plan: ConfigurePlan) -> None:
        """Report once what adopting the connection would change (nothing is changed)."""
        finding = unmanaged_finding(plan)
        logger.info(
            "unmanaged connection left alone",
            extra={"connection_id": conn.connection_id, "would": change_summary(plan)},
        )
        metrics.add_metric(name="ConnectionsUnmanaged", unit=MetricUnit.Count, value=1)
        if finding is not None:
            self.report_findings(conn.connection_id, [finding])
