"""The convergence engine: observe -> plan -> apply, shared by every trigger."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from peering.apply import ActionResult, Applier, CleanupApplier, ConfigureApplier
from peering.aws import AwsClients
from peering.cleanup import CleanupOptions, CleanupPlan, plan_cleanup
from peering.config import Settings
from peering.errors import NotReadyError, OutsideOrganizationError, PolicyError, UnknownConnectionError
from peering.ledger import Ledger
from peering.models import Connection, ConnectionStatus, Notice
from peering.notify import Notifier
from peering.observability import MetricUnit, logger, metrics
from peering.observe import (
    connections_touching,
    find_connection,
    is_reachable,
    observe_connection_sides,
    observe_leftovers,
    observe_request,
    with_dns_attributes,
)
from peering.org import OrganizationDirectory
from peering.outbox import Outbox
from peering.plan import Decision, OperatorInstruction, Outcome, Plan, plan_acceptance
from peering.policy import PolicyDecision, PolicyDocument, evaluate, unavailable_policy_decision
from peering.policy_store import load_policy
from peering.routing import ConfigurePlan, Finding, RouteChange, RoutingOptions, TableSelection, plan_configuration

METRIC_BY_OUTCOME = {
    Outcome.ACCEPTED: "RequestsAccepted",
    Outcome.REJECTED: "RequestsRejected",
    Outcome.HELD: "RequestsHeld",
    Outcome.UNCHANGED: "RequestsUnchanged",
    Outcome.NOT_PENDING: "RequestsNotPending",
    Outcome.NOT_MANAGED: "RequestsNotManaged",
}


@dataclass(frozen=True)
class ConvergeResult:
    connection_id: str
    outcome: str
    reasons: tuple[str, ...]
    dry_run: bool
    plan: str
    actions: list[ActionResult] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "connectionId": self.connection_id,
            "outcome": self.outcome,
            "reasons": list(self.reasons),
            "dryRun": self.dry_run,
            "plan": self.plan,
            "actions": [{"action": a.action, "status": a.status} for a in self.actions],
        }


def _places_of(recorded: tuple[str, str] | None) -> list[tuple[str, str]]:
    """(account, Region) of each side the ledger recorded ("account/Region/VPC" labels)."""
    return [(label.split("/")[0], label.split("/")[1]) for label in recorded or ()]


class Engine:
    def __init__(self, settings: Settings, aws: AwsClients | None = None) -> None:
        self.settings = settings
        self.aws = aws or AwsClients(settings)
        self.ledger = Ledger(self.aws, settings.ledger_table)
        self.directory = OrganizationDirectory(self.aws)
        self.notifier = Notifier(self.aws, settings.topic_arn)
        self.outbox = Outbox(self.aws, self.ledger, self.notifier)
        self._loaded_policy: PolicyDocument | PolicyError | None = None

    def _policy(self) -> PolicyDocument | PolicyError:
        """The policy, read and validated once per engine (one invocation): a sweep asks often."""
        if self._loaded_policy is None:
            try:
                self._loaded_policy = load_policy(
                    self.aws, self.settings.policy_parameter, self.settings.policy_cache_seconds
                )
            except PolicyError as exc:
                logger.error("approval policy unavailable: holding everything", extra={"error": str(exc)})
                metrics.add_metric(name="PolicyInvalid", unit=MetricUnit.Count, value=1)
                self._loaded_policy = exc
        return self._loaded_policy

    def policy_version(self) -> str:
        """The version decisions are made under now ("none" while the policy is unavailable)."""
        policy = self._policy()
        return "none" if isinstance(policy, PolicyError) else policy.version

    def plan_request(
        self,
        connection_id: str,
        account: str,
        region: str,
        operator: OperatorInstruction | None = None,
        *,
        requester: tuple[str, str] | None = None,
    ) -> Plan:
        """Observe one request from the accepter side and plan the decision (changes nothing).

        ``requester`` (account, Region) is where the request was made: when the accepter does not
        know the connection, that side tells whether it already failed (nothing to decide) or is
        simply not visible there yet (retried).
        """
        outside = Decision(
            Outcome.NOT_MANAGED,
            (f"the accepter of {connection_id} is outside the organization: its owner decides",),
            None,
            None,
            "engine",
        )
        if not is_reachable(self.aws, self.directory, account, region):
            return Plan(connection_id, outside)
        try:
            return self._plan_request(connection_id, account, region, operator)
        except OutsideOrganizationError:
            return Plan(connection_id, outside)
        except UnknownConnectionError:
            dead = self._dead_on_requester_side(connection_id, requester, (account, region))
            if dead is None:
                raise
            reason = f"the connection is {dead.status.value} ({dead.status_message}): there is nothing to decide"
            return Plan(connection_id, Decision(Outcome.NOT_PENDING, (reason,), None, None, "engine"))

    def _dead_on_requester_side(
        self, connection_id: str, requester: tuple[str, str] | None, accepter: tuple[str, str]
    ) -> Connection | None:
        """A request AWS failed at creation (overlapping CIDRs) is visible to its requester only."""
        if requester is None or requester == accepter or not is_reachable(self.aws, self.directory, *requester):
            return None
        try:
            conn = find_connection(self.aws, connection_id, *requester)
        except UnknownConnectionError:
            return None
        return conn if conn.status.is_dead else None

    def _plan_request(
        self, connection_id: str, account: str, region: str, operator: OperatorInstruction | None
    ) -> Plan:
        observation = observe_request(
            self.aws,
            connection_id=connection_id,
            account=account,
            region=region,
            directory=self.directory,
            ledger=self.ledger,
        )
        if observation.connection.status is ConnectionStatus.INITIATING_REQUEST:
            raise NotReadyError(f"{connection_id} is still initiating-request; retry shortly")
        policy = self._policy()
        decision: PolicyDecision
        if isinstance(policy, PolicyError):
            decision = unavailable_policy_decision(policy)
        else:
            decision = evaluate(policy, observation.requester, observation.accepter_vpc, self.directory.hub_org_id())
        return plan_acceptance(
            observation,
            decision,
            quota=self.settings.active_peerings_quota,
            tag_prefix=self.settings.tag_prefix,
            operator=operator,
            bus_name=self.settings.bus_name,
        )

    def converge_request(
        self,
        connection_id: str,
        account: str,
        region: str,
        operator: OperatorInstruction | None = None,
        *,
        dry_run: bool | None = None,
        requester: tuple[str, str] | None = None,
    ) -> ConvergeResult:
        dry = self.settings.dry_run if dry_run is None else dry_run
        plan = self.plan_request(connection_id, account, region, operator, requester=requester)
        logger.info(
            "plan",
            extra={
                "connection_id": connection_id,
                "outcome": plan.decision.outcome.value,
                "plan": plan.render().splitlines(),
                "dry_run": dry,
            },
        )
        results = Applier(self.aws, self.ledger, dry_run=dry).apply(plan)
        if not dry:
            # The notice committed with the decision, or one an interrupted run left queued.
            self.outbox.flush(connection_id)
        metrics.add_metric(name=METRIC_BY_OUTCOME[plan.decision.outcome], unit=MetricUnit.Count, value=1)
        return ConvergeResult(
            connection_id=connection_id,
            outcome=plan.decision.outcome.value,
            reasons=plan.decision.reasons,
            dry_run=dry,
            plan=plan.render(),
            actions=results,
        )

    # --- configure: routes and DNS on an active connection -------------------------------------

    def routing_options(self) -> RoutingOptions:
        policy = self._policy()
        base = RoutingOptions(routes_per_table=self.settings.routes_per_table)
        if isinstance(policy, PolicyError):
            # Routes for an accepted connection are still wanted; only the defaults are used.
            return base
        return policy.routing.to_options(base)  # the policy's routing section over the deployment's defaults

    def locate(
        self,
        connection_id: str,
        places: Sequence[tuple[str, str]],
        recorded: Callable[[], Sequence[tuple[str, str]]] | None = None,
    ) -> tuple[Connection | None, list[tuple[str, str]]]:
        """The connection as the first place that shows it, and the places actually read.

        ``places`` (where the event says) are read first; ``recorded`` (the sides the ledger
        recorded) only when none of them shows it, so the usual event costs no ledger read.
        Places outside the organization are never read (no role to assume there). Raises
        OutsideOrganizationError when no place at all is reachable: nothing here is ours.
        """
        read: list[tuple[str, str]] = []
        for candidates in (places, recorded):
            for place in dict.fromkeys(candidates() if callable(candidates) else candidates or ()):
                if place in read or not is_reachable(self.aws, self.directory, *place):
                    continue
                read.append(place)
                try:
                    return find_connection(self.aws, connection_id, *place), read
                except UnknownConnectionError:
                    continue
        if not read:
            raise OutsideOrganizationError(f"{connection_id}: no place it could be is in the organization")
        return None, read

    def _wait_until_active(self, connection_id: str, places: Sequence[tuple[str, str]]) -> Connection | None:
        conn, _ = self.locate(connection_id, places, lambda: _places_of(self.ledger.sides(connection_id)))
        if conn is None:
            return None
        here = (conn.accepter.account, conn.accepter.region)
        if not is_reachable(self.aws, self.directory, *here):
            here = (conn.requester.account, conn.requester.region)
        deadline = time.monotonic() + self.settings.activation_wait_seconds
        while conn.status is ConnectionStatus.PROVISIONING and time.monotonic() < deadline:
            time.sleep(min(2.0, self.settings.activation_wait_seconds / 4))
            conn = find_connection(self.aws, connection_id, *here)
        if conn.status is ConnectionStatus.PROVISIONING:
            raise NotReadyError(f"{connection_id} is still provisioning; it will be retried")
        return conn

    def plan_configuration(
        self, connection_id: str, account: str, region: str, *, places: Sequence[tuple[str, str]] = ()
    ) -> ConfigurePlan | Connection | None:
        """The configure plan; the connection itself when it is not active (nothing to plan); None
        when no place the event or the ledger names shows it (nothing to look at: a forged or
        misplaced event, answered without a retry)."""
        conn = self._wait_until_active(connection_id, [*places, (account, region)])
        if conn is None or conn.status is not ConnectionStatus.ACTIVE:
            return conn
        options = self.routing_options()
        with_subnets = options.selection is TableSelection.SUBNETS
        requester, accepter = observe_connection_sides(self.aws, conn, self.directory, with_subnets=with_subnets)
        plan = plan_configuration(conn, requester, accepter, options)
        if plan.dns_changes and options.dns_resolution:
            # Only now pay for the DNS attribute reads: they decide whether enabling is possible.
            requester = with_dns_attributes(self.aws, requester) if requester else None
            accepter = with_dns_attributes(self.aws, accepter) if accepter else None
            plan = plan_configuration(conn, requester, accepter, options)
        return plan

    def converge_connection(
        self,
        connection_id: str,
        account: str,
        region: str,
        dry_run: bool | None = None,
        *,
        places: Sequence[tuple[str, str]] = (),
    ) -> ConvergeResult:
        dry = self.settings.dry_run if dry_run is None else dry_run
        planned = self.plan_configuration(connection_id, account, region, places=places)
        if planned is None:
            return self._not_found(connection_id, dry)
        if isinstance(planned, Connection):
            logger.info("not active: nothing to configure", extra={"status": planned.status.value})
            metrics.add_metric(name="ConnectionsNotActive", unit=MetricUnit.Count, value=1)
            return ConvergeResult(
                connection_id, "not-active", (f"the connection is {planned.status.value}",), dry, "", []
            )
        return self.apply_configuration(planned, dry)

    def apply_configuration(self, plan: ConfigurePlan, dry: bool, *, recheck: bool = True) -> ConvergeResult:
        """Apply a configure plan, record it, report new findings once, count what changed.

        ``recheck``: read the connection again after adding routes, to undo them if it died
        meanwhile. The sweep passes False: it is the backstop that removes such routes itself.
        """
        connection_id = plan.connection_id
        logger.info("configure plan", extra={"plan": plan.render().splitlines(), "dry_run": dry})
        applier = ConfigureApplier(self.aws, self.ledger, dry_run=dry)
        results = applier.apply(plan)
        if recheck and not dry:
            results += self._undo_if_died(plan, results, applier)
        findings = list(plan.findings) + applier.late_findings
        if not plan.is_noop or findings:  # nothing decided, nothing to record (e.g. our own call echoing back)
            self.ledger.record_configuration(connection_id, plan.render().splitlines(), dry_run=dry)
        if not dry:
            self.report_findings(connection_id, findings)
        self._count_configuration(results, findings)
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

    def _undo_if_died(
        self, plan: ConfigurePlan, results: list[ActionResult], applier: ConfigureApplier
    ) -> list[ActionResult]:
        """Routes just added to a connection that died meanwhile would stay as blackholes.

        The cleanup of a Delete that overtook this run saw none of them; so once routes were
        added, read the connection again and, if it is dead, remove what this run added.
        """
        added = [
            change
            for change, result in zip(plan.route_changes, results, strict=False)
            if change.kind in ("create", "replace") and result.status == "done"
        ]
        if not added:
            return []
        try:
            status = find_connection(self.aws, plan.connection_id, added[0].account, added[0].region).status
        except UnknownConnectionError:
            status = ConnectionStatus.DELETED
        if not status.is_dead:
            return []
        logger.warning("the connection died while configuring: removing the routes just added")
        metrics.add_metric(name="ConfigureOvertaken", unit=MetricUnit.Count, value=1)
        undo = [
            RouteChange("delete", c.account, c.region, c.route_table_id, c.destination, c.connection_id) for c in added
        ]
        return [ActionResult(c.describe(), applier.change_route(c)) for c in undo]

    def report_findings(self, connection_id: str, findings: list[Finding]) -> None:
        """Notify each finding once: recorded and queued in one conditional transaction."""
        if not findings:
            return
        seen = self.ledger.findings_seen(connection_id)
        new = list({f.key: f for f in findings if f.key not in seen}.values())
        if new:
            lines = "\n".join(f"- {f.kind}: {f.message}" for f in new)
            notice = Notice(
                f"Peering {connection_id}: {len(new)} item(s) need attention"[:100],
                f"While configuring routes and DNS for {connection_id}:\n{lines}\n\n"
                "Nothing was forced: fix the cause (or adjust the policy), then send a "
                "'Converge Peering Connection' operator event or wait for the sweep.\n",
            )
            if self.ledger.record_findings(connection_id, [(f.kind, f.key, f.message) for f in new], notice):
                for finding in new:
                    logger.warning("finding", extra={"kind": finding.kind, "detail": finding.message})
        self.outbox.flush(connection_id)

    @staticmethod
    def _count_configuration(results: list[ActionResult], findings: list[Finding]) -> None:
        counts = {
            "RoutesInstalled": sum(1 for r in results if r.action.startswith("create route") and r.status == "done"),
            "RoutesReplaced": sum(1 for r in results if r.action.startswith("replace") and r.status == "done"),
            "RoutesRemoved": sum(1 for r in results if r.action.startswith("delete route") and r.status == "done"),
            "DnsOptionsSet": sum(1 for r in results if r.action.startswith("set AllowDns") and r.status == "done"),
            "RouteConflicts": sum(1 for f in findings if f.kind == "route-conflict"),
            "RouteTablesFull": sum(1 for f in findings if f.kind == "route-quota-full"),
            "DnsPrerequisiteMissing": sum(1 for f in findings if f.kind == "dns-prerequisite"),
        }
        for name, value in counts.items():
            if value:
                metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)

    def converge_vpc(self, vpc_id: str, account: str, region: str, dry_run: bool | None = None) -> list[ConvergeResult]:
        """A VPC's CIDR blocks changed: re-converge every active connection it has."""
        if not is_reachable(self.aws, self.directory, account, region):
            raise OutsideOrganizationError(f"{vpc_id}'s account {account} is outside the organization")
        touching = connections_touching(self.aws, account, region, vpc_id)
        active = [c for c in touching if c.status is ConnectionStatus.ACTIVE]
        logger.info("re-converging the VPC's active connections", extra={"vpc_id": vpc_id, "count": len(active)})
        return [self.converge_connection(c.connection_id, account, region, dry_run) for c in active]

    # --- cleanup: what a dead connection leaves behind -----------------------------------------

    def cleanup_options(self) -> CleanupOptions:
        policy = self._policy()
        options = CleanupOptions() if isinstance(policy, PolicyError) else policy.cleanup.to_options()
        if options.revoke_stale_security_group_rules and not self.settings.allow_security_group_revocation:
            # Without the IAM grant the revoke would fail and retry forever: report instead.
            logger.warning(
                "the policy asks to revoke stale rules but the stack does not allow it (AllowSecurityGroupRevocation)"
            )
            return replace(options, revoke_stale_security_group_rules=False)
        return options

    def _not_found(self, connection_id: str, dry: bool) -> ConvergeResult:
        """Nothing shows the connection where the event and the ledger say: look, never write."""
        logger.warning("the connection is not visible where the event or the ledger says: nothing done")
        metrics.add_metric(name="UnknownConnections", unit=MetricUnit.Count, value=1)
        return ConvergeResult(
            connection_id, "not-found", ("no place named by the event or the ledger shows it",), dry, ""
        )

    def plan_cleanup(
        self, connection_id: str, account: str, region: str, *, places: Sequence[tuple[str, str]] = ()
    ) -> CleanupPlan | Connection | None:
        """The cleanup plan for a dead connection (changes nothing); the connection if it lives;
        None when its death cannot be proved.

        Death is proved by EC2 only: the connection shown dead anywhere it is looked for (the
        places the event names, then each side the ledger recorded, each in its owner's account
        and Region), or absent from every recorded side that can be read. Absence where an event
        says is never proof: an event naming the wrong account or Region must not tear down a
        live connection, and an id nobody knows gets no record.
        """
        recorded = self.ledger.sides(connection_id)
        recorded_places = _places_of(recorded)
        conn, read = self.locate(connection_id, [*places, (account, region)], lambda: recorded_places)
        if conn is not None and not conn.status.is_dead:
            return conn  # a failed, stale or misplaced Delete/Reject: the connection lives on
        sides: Sequence[tuple[str, str, str | None, str | None]]
        labels: tuple[str | None, str | None]
        if conn is not None:
            sides = [
                (conn.requester.account, conn.requester.region, conn.requester.vpc_id, conn.accepter.vpc_id),
                (conn.accepter.account, conn.accepter.region, conn.accepter.vpc_id, conn.requester.vpc_id),
            ]
            status, message = conn.status.value, conn.status_message
            labels = (
                f"{conn.requester.account}/{conn.requester.region}/{conn.requester.vpc_id}",
                f"{conn.accepter.account}/{conn.accepter.region}/{conn.accepter.vpc_id}",
            )
        elif recorded is not None and any(place in read for place in recorded_places):
            # Gone from every recorded side we can read (AWS shows a dead connection for hours
            # to days; after that it is gone for good): what it left behind is ours to clean.
            req, acc = (label.split("/", 2) for label in recorded)
            sides = [(req[0], req[1], req[2], acc[2]), (acc[0], acc[1], acc[2], req[2])]
            status, message, labels = ConnectionStatus.DELETED.value, "", recorded
        else:
            return None
        leftovers = [
            observe_leftovers(self.aws, connection_id, side_account, side_region, vpc_id=vpc_id, peer_vpc_id=peer)
            for side_account, side_region, vpc_id, peer in sides
            if is_reachable(self.aws, self.directory, side_account, side_region)
        ]
        return plan_cleanup(
            connection_id,
            status,
            leftovers,
            options=self.cleanup_options(),
            previous=self.ledger.get_state(connection_id),
            status_message=message,
            labels=labels,
        )

    def cleanup_connection(
        self,
        connection_id: str,
        account: str,
        region: str,
        dry_run: bool | None = None,
        *,
        places: Sequence[tuple[str, str]] = (),
    ) -> ConvergeResult:
        """A connection was rejected or deleted: clean both sides, each in its owner's account."""
        dry = self.settings.dry_run if dry_run is None else dry_run
        planned = self.plan_cleanup(connection_id, account, region, places=places)
        if planned is None:
            return self._not_found(connection_id, dry)
        if isinstance(planned, Connection):
            logger.info("connection is not dead: nothing to clean", extra={"status": planned.status.value})
            metrics.add_metric(name="CleanupSkipped", unit=MetricUnit.Count, value=1)
            return ConvergeResult(connection_id, "not-dead", (f"the connection is {planned.status.value}",), dry, "")
        return self.apply_cleanup(planned, dry)

    def apply_cleanup(self, plan: CleanupPlan, dry: bool) -> ConvergeResult:
        """Apply a cleanup plan (routes, revocations, ledger close, notification) and count it."""
        connection_id = plan.connection_id
        logger.info("cleanup plan", extra={"plan": plan.render().splitlines(), "dry_run": dry})
        results = CleanupApplier(self.aws, self.ledger, dry_run=dry).apply(plan)
        if not dry:
            self.outbox.flush(connection_id)
        if not plan.is_noop:
            self.ledger.record_configuration(connection_id, plan.render().splitlines(), dry_run=dry)
        removed = sum(
            1 for r in results if r.action.startswith("delete route") and r.status in ("done", "already-done")
        )
        for name, value in (
            ("RoutesRemoved", removed),
            ("StaleSecurityGroupRules", len(plan.stale_references)),
            (
                "SecurityGroupRulesRevoked",
                sum(1 for r in results if r.action.startswith("revoke") and r.status == "done"),
            ),
            ("ConnectionsClosed", 1 if plan.close_record and not dry else 0),
        ):
            if value:
                metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
        if plan.is_noop:
            metrics.add_metric(name="CleanupUnchanged", unit=MetricUnit.Count, value=1)
        elif dry:
            metrics.add_metric(name="DryRunPlans", unit=MetricUnit.Count, value=1)
        return ConvergeResult(
            connection_id=connection_id,
            outcome="cleaned" if not plan.is_noop else "unchanged",
            reasons=tuple(f"stale: {r.describe()}" for r in plan.stale_references),
            dry_run=dry,
            plan=plan.render(),
            actions=results,
        )
