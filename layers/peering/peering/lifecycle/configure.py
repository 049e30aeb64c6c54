"""The configure lifecycle: routes and DNS options on both sides of an active connection.

observe (both sides, each by its owner: observe.py) -> plan (which tables, which routes, DNS:
routing.py) -> apply (a route record before each route, then the route; DNS options:
apply.ConfigureApplier). Also: a VPC whose CIDR blocks changed re-converges its connections, a
connection that died while routes were being added gets them removed, and findings (conflicts,
full tables, DNS prerequisites) are notified once.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence

from peering.aws.apply import ActionResult, ConfigureApplier
from peering.aws.clients import AwsClients
from peering.aws.observe import (
    connections_touching,
    find_connection,
    is_reachable,
    observe_connection_sides,
    read_scope_view,
    with_peering_statuses,
)
from peering.core.errors import (
    NotReadyError,
    OutOfTimeError,
    OutsideOrganizationError,
    UnknownConnectionError,
)
from peering.core.models import Connection, ConnectionStatus
from peering.core.network import SideNetwork, Subnet
from peering.core.routing import (
    BOTH_SIDES,
    ConfigurePlan,
    Finding,
    OwnedRoutes,
    RouteChange,
    RoutingOptions,
    plan_configuration,
)
from peering.core.scope import ScopeDecision, managed_reason
from peering.lifecycle.context import ConvergeResult, NotInState, places_of
from peering.lifecycle.scope import ScopeLifecycle
from peering.runtime.observability import MetricUnit, logger, metrics

NOT_ACTIVE = NotInState("not-active", "not active: nothing to configure", "ConnectionsNotActive")


class ConfigureLifecycle(ScopeLifecycle):
    def _wait_until_active(
        self, connection_id: str, places: Sequence[tuple[str, str]]
    ) -> tuple[Connection | None, tuple[str, str]]:
        """The connection once it is past provisioning, and the place whose view it is."""
        conn, read = self.locate(connection_id, places, lambda: places_of(self.ledger.sides(connection_id)))
        seen = read[-1]  # locate reads at least one place, or raises
        if conn is None:
            return None, seen
        here = (conn.accepter.account, conn.accepter.region)
        if not is_reachable(self.aws, self.directory, *here):
            here = (conn.requester.account, conn.requester.region)
        deadline = time.monotonic() + self.settings.activation_wait_seconds
        while conn.status is ConnectionStatus.PROVISIONING and time.monotonic() < deadline:
            time.sleep(min(2.0, self.settings.activation_wait_seconds / 4))
            conn, seen = find_connection(self.aws, connection_id, *here), here
        if conn.status is ConnectionStatus.PROVISIONING:
            raise NotReadyError(f"{connection_id} is still provisioning; it will be retried")
        return conn, seen

    def plan_configuration(
        self,
        connection_id: str,
        account: str,
        region: str,
        *,
        places: Sequence[tuple[str, str]] = (),
        accepted_by: str | None = None,
        dry: bool = False,
    ) -> ConfigurePlan | ScopeDecision | Connection | None:
        """The configure plan; the connection's scope when it is out of scope (unmanaged or
        hands-off: nothing planned); the connection itself when it is not active (nothing to
        plan); None when no place the event or the ledger names shows it (nothing to look at: a
        forged or misplaced event, answered without a retry). ``accepted_by``: the principal an
        AcceptVpcPeeringConnection event names (its acceptance seen after deployment)."""
        conn, seen = self._wait_until_active(connection_id, [*places, (account, region)])
        if conn is None or conn.status is not ConnectionStatus.ACTIVE:
            return conn
        return self._plan_in_scope(conn, seen, accepted_by=accepted_by, dry=dry)

    def _plan_in_scope(
        self,
        conn: Connection,
        seen_from: tuple[str, str],
        *,
        with_vpcs: bool = False,
        accepted_by: str | None = None,
        dry: bool = False,
    ) -> ConfigurePlan | ScopeDecision:
        """Plan an active connection the autopilot may change (read in ``seen_from``); its scope
        when it may not."""
        state = self.ledger.get_state(conn.connection_id)
        record = self.ledger.scope_record(conn.connection_id)
        if accepted_by is not None and record is None and managed_reason(state, None) is None:
            # Recorded before anything changes; a connection the sweep saw first stays pre-existing.
            reason = f"managed: accepted after deployment by {accepted_by}"
            self.ledger.record_managed(conn.connection_id, reason)
            record = self.ledger.scope_record(conn.connection_id)
        view = read_scope_view(self.aws, self.directory, [conn], seen_from)
        decision = self.scope_of(conn, view, state, record)
        if not decision.may_change:
            return decision
        if not dry:
            self.record_adoption_once(conn, decision, record)
        return self.plan_active(conn, self.scoped_routing(decision, state), with_vpcs=with_vpcs)

    def plan_active(self, conn: Connection, options: RoutingOptions, *, with_vpcs: bool = False) -> ConfigurePlan:
        sides = observe_connection_sides(
            self.aws, conn, self.directory, with_subnets=options.reads_subnets, with_vpcs=with_vpcs
        )
        plan = self.plan_sides(conn, sides, options)
        if plan.unread_peerings or plan.unread_route_records:
            # Blackhole routes to other connections stand where routes are planned: whether they
            # may be replaced depends on those connections' status; routes to this one that the
            # routing does not want (or would take over) may be removed only if ours: both read
            # only now, when they matter.
            if plan.unread_peerings:
                sides = with_peering_statuses(self.aws, sides, plan.unread_peerings)
            owned = self.ledger.owned_routes(conn.connection_id) if plan.unread_route_records else None
            plan = self.plan_sides(conn, sides, options, owned=owned)
        return plan

    def plan_sides(
        self,
        conn: Connection,
        sides: tuple[SideNetwork | None, SideNetwork | None],
        options: RoutingOptions,
        scope: frozenset[str] = BOTH_SIDES,
        *,
        peer_subnets: Mapping[str, tuple[Subnet, ...]] | None = None,
        owned: OwnedRoutes | None = None,
    ) -> ConfigurePlan:
        """Plan on the (requester, accepter) sides observed. The VPCs' DNS attributes are not read
        here: they matter only if AWS refuses to enable resolution (apply.ConfigureApplier).
        ``owned``: the connection's route records, when read (routing.plan_configuration)."""
        requester, accepter = sides
        return plan_configuration(conn, requester, accepter, options, scope, peer_subnets=peer_subnets, owned=owned)

    def converge_connection(
        self,
        connection_id: str,
        account: str,
        region: str,
        dry_run: bool | None = None,
        *,
        places: Sequence[tuple[str, str]] = (),
        accepted_by: str | None = None,
    ) -> ConvergeResult:
        dry = self.is_dry_run(dry_run)
        planned = self.plan_configuration(
            connection_id, account, region, places=places, accepted_by=accepted_by, dry=dry
        )
        if isinstance(planned, ScopeDecision):
            return out_of_scope(connection_id, planned, dry)
        return self.converge_planned(connection_id, dry, planned, NOT_ACTIVE, self.apply_configuration)

    def converge_vpc(self, vpc_id: str, account: str, region: str, dry_run: bool | None = None) -> list[ConvergeResult]:
        """A VPC's CIDR blocks changed: re-converge every active connection it has.

        The connections come from the one listing; the VPCs are read as well, since a block just
        associated may still be associating, and the connections do not show it yet.
        """
        if not is_reachable(self.aws, self.directory, account, region):
            raise OutsideOrganizationError(f"{vpc_id}'s account {account} is outside the organization")
        touching = connections_touching(self.aws, account, region, vpc_id)
        active = [c for c in touching if c.status is ConnectionStatus.ACTIVE]
        logger.info("re-converging the VPC's active connections", extra={"vpc_id": vpc_id, "count": len(active)})
        dry = self.is_dry_run(dry_run)
        results = []
        for conn in active:
            # Out of time: the next invocation lists them again; those done are then unchanged.
            self.deadline.check(f"configuring {conn.connection_id}")
            planned = self._plan_in_scope(conn, (account, region), with_vpcs=True, dry=dry)
            if isinstance(planned, ScopeDecision):
                results.append(out_of_scope(conn.connection_id, planned, dry))
            else:
                results.append(self.apply_configuration(planned, dry))
        return results

    def apply_configuration(self, plan: ConfigurePlan, dry: bool, *, recheck: bool = True) -> ConvergeResult:
        """Apply a configure plan, record it, report new findings once, count what changed.

        ``recheck``: read the connection again after adding routes, to undo them if it died
        meanwhile. The sweep passes False: it is the backstop that removes such routes itself.
        """
        connection_id = plan.connection_id
        logger.info("configure plan", extra={"plan": plan.render().splitlines(), "dry_run": dry})
        applier = ConfigureApplier(self.aws, self.ledger, dry_run=dry, deadline=self.deadline)
        try:
            results = applier.apply(plan)
        except OutOfTimeError:
            # Stopped part-way (the rest is handed on): the routes added so far are checked too.
            if recheck and not dry:
                _undo_if_died(self.aws, plan, applier)
            raise
        if recheck and not dry:
            results += _undo_if_died(self.aws, plan, applier)
        findings = list(plan.findings) + applier.late_findings.get(connection_id, [])
        if not plan.is_noop or findings:  # nothing decided, nothing to record (e.g. our own call echoing back)
            self.ledger.record_configuration(connection_id, plan.render().splitlines(), dry_run=dry)
        return self.conclude_configuration(plan, results, findings, dry)

    def conclude_configuration(
        self, plan: ConfigurePlan, results: list[ActionResult], findings: list[Finding], dry: bool
    ) -> ConvergeResult:
        """What follows applying a plan: its findings notified once, metrics counted, the result."""
        connection_id = plan.connection_id
        if not dry:
            self.report_findings(connection_id, findings)
        _count_configuration(results, findings)
        outcome = "configured" if not plan.is_noop else "unchanged"
        metrics.add_metric(
            name="ConnectionsConfigured" if not plan.is_noop else "ConnectionsUnchanged", unit=MetricUnit.Count, value=1
        )
        return ConvergeResult(
            connection_id=connection_id,
            outcome=outcome,
            reasons=tuple(f"{f.kind}: {f.message}" for f in findings),
            dry_run=dry,
            plan=plan.render(),
            actions=results,
        )


def out_of_scope(connection_id: str, decision: ScopeDecision, dry: bool) -> ConvergeResult:
    """An active connection the autopilot may not change (unmanaged, hands-off): nothing done."""
    logger.info("out of scope: nothing changed", extra={"scope": decision.scope.value, "reason": decision.reason})
    metrics.add_metric(name="ConnectionsOutOfScope", unit=MetricUnit.Count, value=1)
    return ConvergeResult(connection_id, decision.scope.value, (decision.reason,), dry, "")


def _count_configuration(results: list[ActionResult], findings: list[Finding]) -> None:
    counts = {
        "RoutesInstalled": sum(1 for r in results if r.action.startswith("create route") and r.status == "done"),
        "RoutesReplaced": sum(1 for r in results if r.action.startswith("replace") and r.status == "done"),
        "RoutesRemoved": sum(1 for r in results if r.action.startswith("delete route") and r.status == "done"),
        "RoutesTakenOver": sum(1 for r in results if r.action.startswith("take over route") and r.status == "done"),
        "DnsOptionsSet": sum(1 for r in results if r.action.startswith("set AllowDns") and r.status == "done"),
        "RouteConflicts": sum(1 for f in findings if f.kind == "route-conflict"),
        "RouteTablesFull": sum(1 for f in findings if f.kind == "route-quota-full"),
        "ForeignRoutes": sum(1 for f in findings if f.kind == "foreign-route"),
        "DnsPrerequisiteMissing": sum(1 for f in findings if f.kind == "dns-prerequisite"),
    }
    for name, value in counts.items():
        if value:
            metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)


def _undo_if_died(aws: AwsClients, plan: ConfigurePlan, applier: ConfigureApplier) -> list[ActionResult]:
    """Routes just added to a connection that died meanwhile would stay as blackholes.

    The cleanup of a Delete that overtook this run saw none of them; so once routes were
    added, the connection must be seen alive afterwards: an options change made after the
    routes shows it, otherwise it is read again. If it is dead, remove what this run added
    (within the invocation's time: what is left then, the sweep removes as a dead connection's).
    """
    added = list(applier.added)
    if not added:
        return []
    status = applier.status_after_routes
    if status is None:
        try:
            status = find_connection(aws, plan.connection_id, added[0].account, added[0].region).status
        except UnknownConnectionError:
            status = ConnectionStatus.DELETED
    if not status.is_dead:
        return []
    logger.warning("the connection died while configuring: removing the routes just added")
    metrics.add_metric(name="ConfigureOvertaken", unit=MetricUnit.Count, value=1)
    undo = [RouteChange("delete", c.account, c.region, c.route_table_id, c.destination, c.connection_id) for c in added]
    return [ActionResult(c.describe(), done) for c, done in zip(undo, applier.change_routes(undo), strict=True)]
