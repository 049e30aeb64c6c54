"""Apply a plan: execute each action idempotently ("already done" is success) and report."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from botocore.exceptions import ClientError

from peering.aws.clients import AwsClients
from peering.aws.ledger import Ledger
from peering.aws.ledger.decisions import DecisionRecords
from peering.aws.ledger.routes import ROUTES_PER_WRITE, RouteKey, RouteRecords
from peering.aws.observe import dns_attributes, find_connection
from peering.core.cleanup_plan import CleanupPlan, GroupReference
from peering.core.deadline import NEVER, Deadline
from peering.core.errors import UnknownConnectionError
from peering.core.models import ConnectionStatus
from peering.core.network import RouteTable
from peering.core.plan import (
    AcceptConnection,
    Action,
    CommitDecision,
    Plan,
    RecordDecision,
    RejectConnection,
    TagConnection,
)
from peering.core.routing import ConfigurePlan, Finding, RouteChange, SetDnsResolution, dns_prerequisite_finding
from peering.runtime.observability import logger

# Accepting an already accepted request (a redelivered event, two runs at once) fails with this.
_STATE_CONFLICT = {"InvalidStateTransition", "OperationNotPermitted"}


@dataclass(frozen=True)
class ActionResult:
    action: str
    status: str  # done | already-done | dry-run


class Applier:
    """Executes an acceptance plan: intent, tag, accept/reject, commit (notice queued with it)."""

    def __init__(self, aws: AwsClients, ledger: DecisionRecords, *, dry_run: bool) -> None:
        self._aws = aws
        self._ledger = ledger
        self._dry_run = dry_run

    def apply(self, plan: Plan) -> list[ActionResult]:
        results: list[ActionResult] = []
        settled = False  # another run recorded and carried out this very decision
        for action in plan.actions:
            if settled:
                status = "already-done"
            elif self._dry_run and not isinstance(action, RecordDecision):
                status = "dry-run"
            elif isinstance(action, RecordDecision):
                recorded = self._ledger.record_decision(action, dry_run=self._dry_run)
                settled = not recorded
                status = "dry-run" if self._dry_run else ("done" if recorded else "already-done")
            else:
                status = self._execute(action)
            logger.info("applied", extra={"action": action.describe(), "status": status})
            results.append(ActionResult(action.describe(), status))
        return results

    def _execute(self, action: Action) -> str:
        if isinstance(action, AcceptConnection):
            return self._transition(action, "accept", {ConnectionStatus.PROVISIONING, ConnectionStatus.ACTIVE})
        if isinstance(action, RejectConnection):
            return self._transition(action, "reject", {ConnectionStatus.REJECTED})
        if isinstance(action, TagConnection):
            ec2 = self._aws.client("ec2", action.account, action.region)
            ec2.create_tags(Resources=[action.connection_id], Tags=[{"Key": k, "Value": v} for k, v in action.tags])
            return "done"
        if isinstance(action, CommitDecision):
            committed = self._ledger.commit_decision(action.connection_id, action.key, action.status, action.notice)
            return "done" if committed else "already-done"
        raise TypeError(f"unknown action {action!r}")  # pragma: no cover - exhaustive above

    def _transition(
        self, action: AcceptConnection | RejectConnection, verb: str, done_states: set[ConnectionStatus]
    ) -> str:
        ec2 = self._aws.client("ec2", action.account, action.region)
        call = ec2.accept_vpc_peering_connection if verb == "accept" else ec2.reject_vpc_peering_connection
        try:
            call(VpcPeeringConnectionId=action.connection_id)
            return "done"
        except ClientError as exc:
            if exc.response["Error"]["Code"] not in _STATE_CONFLICT:
                raise
            current = find_connection(self._aws, action.connection_id, action.account, action.region)
            if current.status in done_states:
                return "already-done"
            raise


# --- configure: routes and DNS ---------------------------------------------------------------------

_ROUTE_GONE = {"InvalidRoute.NotFound"}
_MADE = ("done", "already-done")


def _route_key(change: RouteChange) -> RouteKey:
    return (change.connection_id, change.account, change.region, change.route_table_id, change.destination)


def _destination_param(destination: str) -> dict[str, str]:
    key = "DestinationIpv6CidrBlock" if ":" in destination else "DestinationCidrBlock"
    return {key: destination}


class ConfigureApplier:
    """Executes a ConfigurePlan. Races (two runs at once) end in the same state: both succeed."""

    def __init__(self, aws: AwsClients, ledger: RouteRecords, *, dry_run: bool, deadline: Deadline = NEVER) -> None:
        self._aws = aws
        self._ledger = ledger
        self._dry_run = dry_run
        self._deadline = deadline
        #: findings discovered while applying (a table filled up or a route appeared meanwhile), by connection
        self.late_findings: dict[str, list[Finding]] = {}
        #: the connection's status as an options change after the routes showed it (None: not seen)
        self.status_after_routes: ConnectionStatus | None = None
        #: routes this applier created or replaced (kept when it stops part-way, out of time)
        self.added: list[RouteChange] = []
        #: the error that stopped a connection's changes (``apply_all``: the others carry on)
        self.failures: dict[str, Exception] = {}

    def apply(self, plan: ConfigurePlan) -> list[ActionResult]:
        statuses = self.change_routes(plan.route_changes)
        results = [ActionResult(c.describe(), status) for c, status in zip(plan.route_changes, statuses, strict=True)]
        return self._set_dns(plan, results)

    def apply_all(self, plans: Sequence[ConfigurePlan]) -> dict[str, list[ActionResult] | Exception]:
        """Several connections' plans at once (a sweep's): their route changes in one sequence, so
        the route records are batched across the connections (ROUTES_PER_WRITE a write, each batch
        before its routes), then each plan's DNS options. A connection whose change fails gets
        its error back, and its later changes are not made; the others carry on."""
        statuses = iter(self.change_routes([c for plan in plans for c in plan.route_changes], isolate=True))
        outcomes: dict[str, list[ActionResult] | Exception] = {}
        for plan in plans:
            results = [ActionResult(c.describe(), next(statuses)) for c in plan.route_changes]
            try:
                if plan.connection_id in self.failures:
                    raise self.failures[plan.connection_id]
                outcomes[plan.connection_id] = self._set_dns(plan, results)
            except Exception as exc:  # isolate one connection: the sweep retries its target
                outcomes[plan.connection_id] = exc
        return outcomes

    def _set_dns(self, plan: ConfigurePlan, results: list[ActionResult]) -> list[ActionResult]:
        for dns in plan.dns_changes:
            status = "dry-run" if self._dry_run else self._dns(dns)
            results.append(ActionResult(dns.describe(), status))
        for result in results:
            logger.info("applied", extra={"action": result.action, "status": result.status})
        return results

    def change_routes(self, changes: Sequence[RouteChange], *, isolate: bool = False) -> list[str]:
        """Change routes, ROUTES_PER_WRITE at a time: a batch's records of routes to make (or take
        over) are written first (the intent), the records of routes removed are forgotten after.

        A record for a route that a crash kept from being created is completed by the retry; the
        records of routes not made (a conflict, a full table, an error, no time left) are
        withdrawn. A route is forgotten only once it is gone, so a crash never turns one of ours
        into a route without a record (which would then be left alone as someone else's).
        ``isolate``: an error stops only its connection's changes (``failures``), not the others'.
        """
        if self._dry_run:
            return ["dry-run"] * len(changes)
        statuses: list[str] = []
        for start in range(0, len(changes), ROUTES_PER_WRITE):
            statuses += self._change_batch(changes[start : start + ROUTES_PER_WRITE], isolate)
        return statuses

    def _change_batch(self, batch: Sequence[RouteChange], isolate: bool = False) -> list[str]:
        self._deadline.check("recording routes")
        self._ledger.write_routes(record=[_route_key(c) for c in batch if c.kind != "delete"])
        statuses: list[str] = []
        try:
            for change in batch:
                self._deadline.check(f"starting {change.describe()}")
                statuses.append(self._change_isolated(change) if isolate else self._change(change))
                if change.kind != "delete" and statuses[-1] == "done":
                    self.added.append(change)
        except Exception:
            # The change that failed and those never started: a route not made loses its record, a
            # route not removed keeps it (it is still ours: the retry removes it).
            self._settle(batch[: len(statuses)], statuses, unfinished=batch[len(statuses) :])
            raise
        self._settle(batch, statuses)
        return statuses

    def _settle(
        self, changes: Sequence[RouteChange], statuses: Sequence[str], unfinished: Sequence[RouteChange] = ()
    ) -> None:
        """Forget the records of the routes removed and of the routes not made: one write."""
        done = list(zip(changes, statuses, strict=True))
        removed = [_route_key(c) for c, status in done if c.kind == "delete" and status in _MADE]
        unmade = [_route_key(c) for c, status in done if c.kind != "delete" and status not in _MADE]
        unmade += [_route_key(c) for c in unfinished if c.kind != "delete"]
        if removed or unmade:
            self._ledger.write_routes(forget=removed + unmade)

    def _change_isolated(self, change: RouteChange) -> str:
        """A change of one of several connections: an error stops that connection's changes only."""
        if change.connection_id in self.failures:
            return "not-started"
        try:
            return self._change(change)
        except Exception as exc:  # an AWS error: its record is withdrawn, its connection reported
            self.failures[change.connection_id] = exc
            return "failed"

    def _change(self, change: RouteChange) -> str:
        if change.kind == "take-over":
            return "done"  # someone else's route, recorded as ours: nothing to change in EC2
        ec2 = self._aws.client("ec2", change.account, change.region)
        target = {"RouteTableId": change.route_table_id, **_destination_param(change.destination)}
        try:
            if change.kind == "create":
                ec2.create_route(**target, VpcPeeringConnectionId=change.connection_id)
            elif change.kind == "replace":
                ec2.replace_route(**target, VpcPeeringConnectionId=change.connection_id)
            else:
                ec2.delete_route(**target)
        except ClientError as exc:
            return self._route_error(change, exc)
        return "done"

    def _route_error(self, change: RouteChange, exc: ClientError) -> str:
        code = exc.response["Error"]["Code"]
        if change.kind == "delete" and code in _ROUTE_GONE:
            return "already-done"
        if change.kind == "create" and code == "RouteAlreadyExists":
            current = self._current_target(change)
            if current == change.connection_id:
                return "already-done"
            self._late(
                change.connection_id,
                Finding(
                    "route-conflict",
                    f"conflict:{change.route_table_id}:{change.destination}:{current}",
                    f"{change.route_table_id} gained a route {change.destination} -> {current} meanwhile: left alone",
                ),
            )
            return "conflict"
        if code == "RouteLimitExceeded":
            self._late(
                change.connection_id,
                Finding(
                    "route-quota-full",
                    f"quota:{change.route_table_id}:{change.destination}",
                    f"{change.route_table_id} is full (RouteLimitExceeded): {change.destination} not added",
                ),
            )
            return "quota-full"
        raise exc  # an AWS error: its record is withdrawn, the retry records it again

    def _late(self, connection_id: str, finding: Finding) -> None:
        self.late_findings.setdefault(connection_id, []).append(finding)

    def _current_target(self, change: RouteChange) -> str | None:
        ec2 = self._aws.client("ec2", change.account, change.region)
        table = ec2.describe_route_tables(RouteTableIds=[change.route_table_id])["RouteTables"][0]
        route = RouteTable.from_api(table).route_for(change.destination)
        return route.target_id if route else None

    def _dns(self, change: SetDnsResolution) -> str:
        ec2 = self._aws.client("ec2", change.account, change.region)
        params: dict[str, object] = {"VpcPeeringConnectionId": change.connection_id}
        if change.requester is not None:
            params["RequesterPeeringConnectionOptions"] = {"AllowDnsResolutionFromRemoteVpc": change.requester}
        if change.accepter is not None:
            params["AccepterPeeringConnectionOptions"] = {"AllowDnsResolutionFromRemoteVpc": change.accepter}
        try:
            ec2.modify_vpc_peering_connection_options(**params)
        except ClientError as exc:
            return self._dns_refused(change, exc)
        # Accepted after the routes were made: the connection was active then (no re-read needed).
        self.status_after_routes = ConnectionStatus.ACTIVE
        return "done"

    def _dns_refused(self, change: SetDnsResolution, exc: ClientError) -> str:
        """Why was the options change refused? The connection died meanwhile (nothing to set,
        cleanup follows), or a VPC lacks its DNS attributes (a finding, not a failure); anything
        else is an error and raises.

        The attributes are read only here: they change the plan only when AWS refuses the change.
        """
        try:
            status = find_connection(self._aws, change.connection_id, change.account, change.region).status
        except UnknownConnectionError:
            status = ConnectionStatus.DELETED
        self.status_after_routes = status
        if status is not ConnectionStatus.ACTIVE:
            return f"skipped: {status.value}"
        if not change.enables:
            raise exc
        lacking = [
            vpc_id
            for account, region, vpc_id in change.prerequisites
            if not dns_attributes(self._aws, account, region, vpc_id).ready
        ]
        if not lacking:
            raise exc
        for role in change.roles:
            self._late(change.connection_id, dns_prerequisite_finding(change.connection_id, role, lacking))
        return "not-ready"


class CleanupApplier:
    """Executes a CleanupPlan: intent, routes, revocations, then the close with its notice."""

    def __init__(self, aws: AwsClients, ledger: Ledger, *, dry_run: bool, deadline: Deadline = NEVER) -> None:
        self._aws = aws
        self._ledger = ledger
        self._dry_run = dry_run
        self._routes = ConfigureApplier(aws, ledger, dry_run=dry_run, deadline=deadline)

    def apply(self, plan: CleanupPlan) -> list[ActionResult]:
        open_record = plan.close_record
        if open_record and not self._dry_run:
            # Before any change: an interrupted cleanup is finished by the retry, notice included.
            open_record = self._ledger.begin(plan.connection_id, plan.intent)
        statuses = self._routes.change_routes(plan.route_deletions)
        if plan.stale_records and not self._dry_run:
            self._ledger.write_routes(forget=[(plan.connection_id, *record) for record in plan.stale_records])
        results = [ActionResult(c.describe(), status) for c, status in zip(plan.route_deletions, statuses, strict=True)]
        results += [ActionResult(f"revoke {r.describe()}", self._revoke(r)) for r in plan.revocations]
        if plan.close_record:
            results.append(ActionResult(f"close ledger record as {plan.status}", self._close(plan, open_record)))
        return results

    def _revoke(self, ref: GroupReference) -> str:
        if self._dry_run:
            return "dry-run"
        ec2 = self._aws.client("ec2", ref.account, ref.region)
        call = ec2.revoke_security_group_ingress if ref.direction == "ingress" else ec2.revoke_security_group_egress
        try:
            call(GroupId=ref.group_id, IpPermissions=[ref.ip_permission()])
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "InvalidPermission.NotFound":
                return "already-done"
            raise
        return "done"

    def _close(self, plan: CleanupPlan, open_record: bool) -> str:
        if self._dry_run:
            return "dry-run"
        if not open_record:
            return "already-done"
        closed = self._ledger.close(plan.connection_id, plan.status, *plan.labels, notice=plan.notify)
        return "done" if closed else "already-done"
