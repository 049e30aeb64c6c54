"""The cleanup lifecycle: what a dead connection leaves behind, and requests nobody answered.

observe (death proved in EC2, then each side's routes to the connection and the rules that
reference the peer: observe.py) -> plan (pure, in core/cleanup_plan.py) -> apply (intent, delete routes,
revoke or report rules, close the record with its notice: apply.CleanupApplier, then the outbox).
The sweep also withdraws this side's stale requests here, intent first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from peering.aws.apply import ActionResult, CleanupApplier
from peering.aws.observe import is_reachable, observe_leftovers, read_scope_view
from peering.core.cleanup_plan import (
    WITHDRAWN,
    CleanupOptions,
    CleanupPlan,
    SideLeftovers,
    cleanup_key,
    plan_cleanup,
)
from peering.core.errors import PolicyError
from peering.core.models import Connection, ConnectionStatus, Intent, LedgerState, Notice
from peering.core.routing import RouteRecord
from peering.core.scope import hands_off_reason
from peering.lifecycle.context import ConvergeResult, EngineContext, NotInState, places_of
from peering.runtime.observability import MetricUnit, logger, metrics

NOT_DEAD = NotInState("not-dead", "connection is not dead: nothing to clean", "CleanupSkipped")


def labels_of(conn: Connection) -> tuple[str, str]:
    """The requester's and the accepter's "account/Region/VPC", as the ledger records them."""
    return (
        f"{conn.requester.account}/{conn.requester.region}/{conn.requester.vpc_id}",
        f"{conn.accepter.account}/{conn.accepter.region}/{conn.accepter.vpc_id}",
    )


class CleanupLifecycle(EngineContext):
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

    def withdrawn_after_hours(
        self, requester_account: str, requester_region: str, options: CleanupOptions | None = None
    ) -> int | None:
        """cleanup.pendingRequestMaxAgeHours when the requester is one of ours (this account or a
        member: its own sweep withdraws the request then), else None (only AWS's expiry ends it).
        With reminders.request_end, a held request's real end (the sweep's reminders, ``pending``)."""
        if not is_reachable(self.aws, self.directory, requester_account, requester_region):
            return None
        return (options or self.cleanup_options()).pending_request_max_age_hours

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
        recorded_places = places_of(recorded)
        conn, read = self.locate(connection_id, [*places, (account, region)], lambda: recorded_places)
        if conn is not None and not conn.status.is_dead:
            return conn  # a failed, stale or misplaced Delete/Reject: the connection lives on
        sides: Sequence[tuple[str, str, str, str]]
        labels: tuple[str | None, str | None]
        if conn is not None:
            sides = [
                (conn.requester.account, conn.requester.region, conn.requester.vpc_id, conn.accepter.vpc_id),
                (conn.accepter.account, conn.accepter.region, conn.accepter.vpc_id, conn.requester.vpc_id),
            ]
            status, message, labels = conn.status.value, conn.status_message, labels_of(conn)
        elif recorded is not None and any(place in read for place in recorded_places):
            # Gone from every recorded side we can read (AWS shows a dead connection for hours
            # to days; after that it is gone for good): what it left behind is ours to clean.
            req, acc = (label.split("/", 2) for label in recorded)
            sides = [(req[0], req[1], req[2], acc[2]), (acc[0], acc[1], acc[2], req[2])]
            status, message, labels = ConnectionStatus.DELETED.value, "", recorded
        else:
            return None
        by_place: dict[tuple[str, str], list[tuple[str, str]]] = {}
        for side_account, side_region, vpc_id, peer in sides:
            if is_reachable(self.aws, self.directory, side_account, side_region):
                by_place.setdefault((side_account, side_region), []).append((vpc_id, peer))
        # Both sides in one account+Region share its two reads.
        leftovers = [
            side
            for (side_account, side_region), local in by_place.items()
            for side in observe_leftovers(self.aws, connection_id, side_account, side_region, local)
        ]
        previous = self.ledger.get_state(connection_id)
        options = self.cleanup_options()
        if options.revoke_stale_security_group_rules and conn is not None and any(s.references for s in leftovers):
            options = self._revoke_unless_hands_off(conn, options)
        return plan_cleanup(
            connection_id,
            status,
            leftovers,
            options=options,
            previous=previous,
            status_message=message,
            labels=labels,
            records=self.records_left(connection_id, leftovers, previous),
        )

    def records_left(
        self, connection_id: str, leftovers: Sequence[SideLeftovers], previous: LedgerState | None
    ) -> tuple[RouteRecord, ...]:
        """The connection's route records (one query): read when routes to it are left, and once
        more by the cleanup that closes its record (records of routes already gone are forgotten)."""
        if not any(side.route_tables for side in leftovers) and previous is not None and previous.closed:
            return ()
        return self.ledger.route_records(connection_id)

    def _revoke_unless_hands_off(self, conn: Connection, options: CleanupOptions) -> CleanupOptions:
        """A hands-off connection's stale rules are reported, never revoked (core/scope.py). Its
        routes the autopilot installed are still removed: a tag must not leave its blackholes."""
        view = read_scope_view(self.aws, self.directory, [conn], ("", ""))  # every owner's view of its tags
        tags = {vpc_id: vpc.tags for vpc_id, vpc in view.vpcs.items()}
        reason = hands_off_reason(conn, tags, self.settings.tag_prefix, view.views(conn.connection_id))
        if reason is None:
            return options
        logger.info("hands-off: stale rules reported, not revoked", extra={"reason": reason})
        return replace(options, revoke_stale_security_group_rules=False)

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
        dry = self.is_dry_run(dry_run)
        planned = self.plan_cleanup(connection_id, account, region, places=places)
        return self.converge_planned(connection_id, dry, planned, NOT_DEAD, self.apply_cleanup)

    def apply_cleanup(self, plan: CleanupPlan, dry: bool) -> ConvergeResult:
        """Apply a cleanup plan (routes, revocations, ledger close, notification) and count it."""
        connection_id = plan.connection_id
        logger.info("cleanup plan", extra={"plan": plan.render().splitlines(), "dry_run": dry})
        results = CleanupApplier(self.aws, self.ledger, dry_run=dry, deadline=self.deadline).apply(plan)
        if not dry:
            self.outbox.flush(connection_id)
            self.report_findings(connection_id, plan.findings, "cleaning up after")
        if not plan.is_noop:
            self.ledger.record_configuration(connection_id, plan.render().splitlines(), dry_run=dry)
        removed = sum(
            1 for r in results if r.action.startswith("delete route") and r.status in ("done", "already-done")
        )
        for name, value in (
            ("RoutesRemoved", removed),
            ("ForeignRoutes", len(plan.findings)),
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
            reasons=tuple(f"stale: {r.describe()}" for r in plan.stale_references)
            + tuple(f"{f.kind}: {f.message}" for f in plan.findings),
            dry_run=dry,
            plan=plan.render(),
            actions=results,
        )

    def withdraw(self, conn: Connection, dry: bool) -> ConvergeResult:
        """Delete a request we sent that nobody answered: it holds one of 25 outstanding requests.

        The intent (with its notice) is recorded first: if the run stops after the delete, the
        connection is then "deleted" and the cleanup that finds it closes it as withdrawn, notice
        included.
        """
        description = f"withdraw {conn.connection_id} (pending since before {conn.expiration_time})"
        requester, accepter = labels_of(conn)
        if dry:
            self.ledger.record_configuration(conn.connection_id, [description], dry_run=True)
            return ConvergeResult(
                conn.connection_id, "withdrawn", (), dry, description, [ActionResult(description, "dry-run")]
            )
        notice = Notice(
            f"Peering request {conn.connection_id} withdrawn"[:100],
            f"The request {requester} -> {accepter} waited longer than the "
            "policy's pendingRequestMaxAgeHours without an answer and was withdrawn, so the quota of 25 "
            "outstanding requests does not fill. Send a new request when the accepter is ready.\n",
        )
        status = "already-done"
        if self.ledger.begin(conn.connection_id, Intent(cleanup_key(WITHDRAWN), notice)):
            self.aws.client("ec2", conn.requester.account, conn.requester.region).delete_vpc_peering_connection(
                VpcPeeringConnectionId=conn.connection_id
            )
            self.ledger.close(conn.connection_id, WITHDRAWN, requester, accepter, notice=notice)
            status = "done"
        self.outbox.flush(conn.connection_id)
        return ConvergeResult(
            conn.connection_id, "withdrawn", (), dry, description, [ActionResult(description, status)]
        )
