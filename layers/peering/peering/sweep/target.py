"""The sweep of one account+Region (the worker's message): every connection there converged.

observe (one snapshot, a constant number of paginated describes: observe.observe_region) -> for
each connection, the lifecycle its status calls for, planned on the snapshot and applied by the
engine: a pending request decided again (request.py) or withdrawn when stale
(lifecycle/cleanup.py), an active one's local sides configured (configure.py), a dead one's
leftovers cleaned (lifecycle/cleanup.py); then blackhole routes the autopilot installed to
connections AWS no longer shows are removed. fan_out.py fans the targets out.

The active connections' changes are applied together once every connection is planned, so their
route records are batched across connections (25 to a write, as apply.py writes them).

A run watches the invocation's time (deadline.py): before each connection and each route it stops
once less than the safety margin is left, and ``converge_in_time`` hands the target back to the
queue; the next run reads a new snapshot and carries on where this one stopped.
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import Any

from peering.aws.apply import ActionResult, ConfigureApplier
from peering.aws.observe import RegionSnapshot, ScopeView, observe_region, paginate, read_peer_subnets, read_scope_view
from peering.core.cleanup_plan import CleanupOptions, is_stale_request, owned_deletions, plan_cleanup
from peering.core.deadline import Deadline
from peering.core.errors import NotReadyError, OutOfTimeError, SweepIncompleteError
from peering.core.models import Connection, ConnectionStatus, LedgerState
from peering.core.network import PEERING_TARGET, Subnet
from peering.core.reminders import due_reminder, is_held
from peering.core.routing import ConfigurePlan, RouteChange, RoutingOptions
from peering.core.scope import AdoptionPreview, Scope, ScopeRecord, first_run_notice
from peering.lifecycle.cleanup import labels_of
from peering.lifecycle.context import ConvergeResult
from peering.lifecycle.engine import Engine
from peering.runtime.observability import MetricUnit, logger, metrics
from peering.sweep.messages import SweepTarget, hand_back, requeue
from peering.sweep.readiness import converge_when_ready


@dataclass
class SweepResult:
    account: str
    region: str
    sweep_id: str
    dry_run: bool
    found: Counter[str] = field(default_factory=Counter)  # connections by status
    done: Counter[str] = field(default_factory=Counter)  # what was decided or changed, by kind
    plans: list[str] = field(default_factory=list)
    #: active connections not managed: unmanaged, adopted, hands-off (core/scope.py)
    out_of_scope: Counter[str] = field(default_factory=Counter)

    @property
    def drift(self) -> int:
        return sum(self.done.values())

    def as_dict(self) -> dict[str, Any]:
        return {
            "account": self.account,
            "region": self.region,
            "sweepId": self.sweep_id,
            "dryRun": self.dry_run,
            "found": dict(self.found),
            "done": dict(self.done),
            "drift": self.drift,
            "plans": self.plans,
            **({"scopes": dict(self.out_of_scope)} if self.out_of_scope else {}),
        }


def _count(result: SweepResult, converged: ConvergeResult, kind: str) -> None:
    changed = [a for a in converged.actions if a.status in ("done", "dry-run")]
    if changed:
        result.done[kind] += len(changed)
        result.plans.append(converged.plan)


@dataclass
class _Pass:
    """What one worker run knows while it walks the snapshot."""

    engine: Engine
    snapshot: RegionSnapshot
    result: SweepResult
    cleanup_options: CleanupOptions
    states: dict[str, LedgerState]
    now: datetime
    groups: list[dict[str, Any]] | None = None  # security groups, read once if a dead connection needs them
    policy_version: str = "none"
    #: subnets of peers in other accounts+Regions, by VPC id (destinations by subnet)
    peer_subnets: dict[str, tuple[Subnet, ...]] = field(default_factory=dict)
    #: peer VPCs (and connections) whose subnets or tags could not be read this run: retried
    unread_peers: set[str] = field(default_factory=set)
    #: the active connections' plans with changes, applied together once every connection is seen
    planned: list[ConfigurePlan] = field(default_factory=list)
    #: the SCOPE records of the active connections, and both VPCs of each (their tags: the scope)
    scopes: dict[str, ScopeRecord] = field(default_factory=dict)
    view: ScopeView = field(default_factory=lambda: ScopeView({}, {}))
    #: each active connection's scope and plan, for the first-run summary
    previews: list[AdoptionPreview] = field(default_factory=list)

    def routing(self, conn: Connection) -> RoutingOptions:
        """The connection's routing: its accepting rule's, else the document's."""
        return self.engine.routing_options(self.states.get(conn.connection_id))

    @property
    def dry(self) -> bool:
        return self.result.dry_run


def converge_target(engine: Engine, target: SweepTarget) -> SweepResult:
    """Converge every connection visible in one account+Region, from one snapshot.

    One connection failing does not stop the others; the run then fails at the end, so the
    queue retries the target (convergence is idempotent, the converged ones cost nothing).
    """
    dry = engine.is_dry_run(target.dry_run)
    snapshot = observe_region(engine.aws, target.account, target.region, with_subnets=engine.routing_reads_subnets())
    # Active connections' records too: they say whether the autopilot manages them (core/scope.py).
    needs_record = [
        c.connection_id
        for c in snapshot.connections
        if c.status in (ConnectionStatus.PENDING_ACCEPTANCE, ConnectionStatus.ACTIVE) or c.status.is_dead
    ]
    active = [c for c in snapshot.connections if c.status is ConnectionStatus.ACTIVE]
    run = _Pass(
        engine=engine,
        snapshot=snapshot,
        result=SweepResult(target.account, target.region, target.sweep_id, dry),
        cleanup_options=engine.cleanup_options(),
        states=engine.ledger.states(needs_record) if needs_record else {},
        now=datetime.now(UTC),
    )
    run.policy_version = engine.policy_version()
    live = [c.connection_id for c in snapshot.connections if c.status in _SCOPED]
    run.scopes = engine.ledger.scope_records(live) if live else {}
    _read_vpcs(run, active)
    _read_peer_subnets(run)
    failed: list[str] = []
    for conn in snapshot.connections:
        engine.deadline.check(f"converging {conn.connection_id}")
        run.result.found[conn.status.value] += 1
        try:
            if conn.status is ConnectionStatus.PENDING_ACCEPTANCE:
                _pending(run, conn)
            elif conn.status is ConnectionStatus.ACTIVE:
                _active(run, conn)
            elif conn.status.is_dead:
                _dead(run, conn)
        except OutOfTimeError:
            raise
        except Exception:  # isolate one connection; the target is retried below
            logger.exception("could not converge a connection", extra={"connection_id": conn.connection_id})
            failed.append(conn.connection_id)
    failed += _configure_planned(run)
    _remove_orphan_blackholes(engine, snapshot, run.result, dry)
    _first_run_summary(run)
    _publish(run.result)
    if os.environ.get("MAP_BUCKET"):  # PublishMap=true: this account+Region's part of the peering map
        from peering.map.publish import publish_fragment_safely  # noqa: PLC0415 - only when publishing

        # What changed is read again: the map shows the state the sweep left, not the one it found.
        changed = run.result.drift and not dry
        publish_fragment_safely(engine, target.account, target.region, None if changed else snapshot)
    if failed:
        metrics.add_metric(name="SweepFailures", unit=MetricUnit.Count, value=len(failed))
        raise SweepIncompleteError(f"{len(failed)} connection(s) could not be converged: {', '.join(failed)}")
    return run.result


def _needs_decision(state: LedgerState | None, policy_version: str) -> bool:
    """Decide again: never decided, decided but not carried out, or decided under another policy."""
    if state is None or not state.applied:
        return True
    # An operator's decision stands; a policy's is revisited when the policy changes.
    return not state.decided_by.startswith("operator:") and (state.policy_version or "none") != policy_version


#: connections whose SCOPE record the sweep reads: a request seen pending is recorded managed
_SCOPED = (ConnectionStatus.PENDING_ACCEPTANCE, ConnectionStatus.ACTIVE)


def _pending(run: _Pass, conn: Connection) -> None:
    roles = run.snapshot.local_roles(conn)
    target = run.snapshot
    if "accepter" in roles and _needs_decision(run.states.get(conn.connection_id), run.policy_version):
        decided = run.engine.converge_request(conn.connection_id, target.account, target.region, dry_run=run.dry)
        _count(run.result, decided, f"request-{decided.outcome}")
    elif "accepter" in roles:
        _remind_before_expiry(run, conn)
    if "requester" in roles and is_stale_request(conn, target.account, run.now, run.cleanup_options):
        _count(run.result, run.engine.withdraw(conn, run.dry), "request-withdrawn")
    elif "accepter" not in roles and conn.connection_id not in run.scopes and conn.connection_id not in run.states:
        # Our request, decided elsewhere (an accepter outside the organization records nothing
        # here): seen pending after deployment, so once accepted it is managed, not pre-existing.
        run.engine.ledger.record_managed(conn.connection_id, "managed: seen as a pending request after deployment")


def _remind_before_expiry(run: _Pass, conn: Connection) -> None:
    """A held request nearing its end: remind people once per configured point (reminders.py).
    The accepter's sweep does it, where the request is decided; a dry run only says so."""
    state = run.states.get(conn.connection_id)
    if not is_held(state):
        return  # the usual case: no look-up at all
    # A requester that is one of ours has its request withdrawn by its own sweep, before AWS expires it.
    reminder = due_reminder(
        conn,
        state,
        run.cleanup_options.remind_before_expiry_hours,
        run.now,
        withdrawn_after_hours=run.engine.withdrawn_after_hours(
            conn.requester.account, conn.requester.region, run.cleanup_options
        ),
        bus_name=run.engine.settings.bus_name,
    )
    if reminder is None:
        return
    run.result.plans.append(reminder.describe())
    if run.dry:
        run.result.done["reminder-due"] += 1
        return
    if run.engine.ledger.record_reminder(conn.connection_id, reminder.points, reminder.key, reminder.notice):
        logger.info("held request reminded", extra={"connection_id": conn.connection_id, "points": reminder.points})
        run.result.done["reminder-sent"] += 1
        run.engine.outbox.flush(conn.connection_id)


def _active(run: _Pass, conn: Connection) -> None:
    """Routes and DNS for the sides that live here, if the connection is in scope; the peer's own
    sweep does its side. An unmanaged one is planned as adoption would, reported once, not changed."""
    roles = run.snapshot.local_roles(conn)
    unread = {conn.requester.vpc_id, conn.accepter.vpc_id, conn.connection_id} & run.unread_peers
    if unread:
        # Planning without them would read "no subnet qualifies" or miss a hands-off tag: raise,
        # so the target is retried.
        raise NotReadyError(f"the subnets or tags of {', '.join(sorted(unread))} could not be read")
    engine = run.engine
    state, record = run.states.get(conn.connection_id), run.scopes.get(conn.connection_id)
    decision = engine.scope_of(conn, run.view, state, record)
    if decision.scope is not Scope.MANAGED:
        run.result.out_of_scope[decision.scope.value] += 1
    if decision.scope is Scope.HANDS_OFF:
        run.previews.append(AdoptionPreview(conn.connection_id, decision, None))
        return
    if decision.scope is Scope.UNMANAGED and record is None:
        # A fact, written in a dry run too: an acceptance event arriving later does not make it managed.
        engine.ledger.record_pre_existing(conn.connection_id, "first seen active by the sweep, with no record")
    requester = run.snapshot.side(conn.requester.vpc_id) if "requester" in roles else None
    accepter = run.snapshot.side(conn.accepter.vpc_id) if "accepter" in roles else None
    options = engine.scoped_routing(decision, state)
    plan = engine.plan_sides(conn, (requester, accepter), options, scope=roles, peer_subnets=run.peer_subnets)
    if plan.unread_route_records:
        # A route to it the routing does not want (or would take over): removed only if ours.
        owned = engine.ledger.owned_routes(conn.connection_id)
        plan = engine.plan_sides(
            conn, (requester, accepter), options, scope=roles, peer_subnets=run.peer_subnets, owned=owned
        )
    run.previews.append(AdoptionPreview(conn.connection_id, decision, plan))
    if decision.scope is Scope.UNMANAGED:
        if not run.dry:
            engine.report_unmanaged(conn, plan)
        return
    if not run.dry:
        engine.record_adoption_once(conn, decision, record)
    if not plan.is_noop:
        run.planned.append(plan)  # applied with the others' (_configure_planned)
    elif plan.findings and not run.dry:
        engine.report_findings(conn.connection_id, list(plan.findings))  # notifies new ones only


def _read_vpcs(run: _Pass, active: list[Connection]) -> None:
    """What the scope of the active connections is decided on: the local VPCs from the snapshot,
    the peers' VPCs and the other owners' tags on the connections read by those owners, all at
    once; a place that fails to answer fails only the connections that need it."""
    engine, here = run.engine, (run.snapshot.account, run.snapshot.region)
    try:
        run.view = read_scope_view(engine.aws, engine.directory, active, here, run.snapshot.vpcs)
        return
    except Exception:  # read each connection alone: the ones that fail are retried with the target
        logger.exception("could not read the peers' VPCs at once: reading them one by one")
    run.view = ScopeView(dict(run.snapshot.vpcs), {})
    for conn in active:
        try:
            one = read_scope_view(engine.aws, engine.directory, [conn], here, run.view.vpcs)
        except Exception:
            logger.exception("could not read a peer's VPC", extra={"connection_id": conn.connection_id})
            run.unread_peers |= {conn.requester.vpc_id, conn.accepter.vpc_id} - set(run.view.vpcs)
            run.unread_peers.add(conn.connection_id)
            continue
        run.view.vpcs.update(one.vpcs)
        run.view.connection_tags.update(one.connection_tags)


def _first_run_summary(run: _Pass) -> None:
    """The first sweep of an account+Region that finds connections the autopilot does not manage
    (after deployment into an organization with peerings: its first sweep) tells once what it
    found: each active connection's scope and what adoption would change (``runner adopt``'s
    report); a marker item and the notice are one transaction."""
    if not any(p.decision.scope is not Scope.MANAGED for p in run.previews):
        return  # nothing existed before the autopilot here: nothing to tell
    target = run.snapshot
    marker = ("FIRSTRUN", f"{target.account}#{target.region}")
    notice = first_run_notice(target.account, target.region, run.previews, run.policy_version)
    if run.engine.ledger.notice_once(marker, notice):
        logger.info("first-run summary queued", extra={"connections": len(run.previews)})
        run.engine.outbox.flush("FIRSTRUN")


def _configure_planned(run: _Pass) -> list[str]:
    """Every active connection's changes in one pass (ConfigureApplier.apply_all), so that their route
    records are written 25 to a request whichever connection each belongs to, and so is their
    configure history; then each one's findings and counts. No re-read after the routes: the sweep
    is the backstop (configure's ``recheck``). Returns the connections that failed."""
    if not run.planned:
        return []
    engine, dry = run.engine, run.dry
    for plan in run.planned:
        logger.info("configure plan", extra={"plan": plan.render().splitlines(), "dry_run": dry})
    applier = ConfigureApplier(engine.aws, engine.ledger, dry_run=dry, deadline=engine.deadline)
    applied: list[tuple[ConfigurePlan, list[ActionResult]]] = []
    failed: list[str] = []
    outcomes = applier.apply_all(run.planned)
    for plan in run.planned:
        outcome = outcomes[plan.connection_id]
        if isinstance(outcome, Exception):
            extra = {"connection_id": plan.connection_id}
            logger.error("could not converge a connection", extra=extra, exc_info=outcome)
            failed.append(plan.connection_id)
        else:
            applied.append((plan, outcome))
    engine.ledger.record_configurations([(p.connection_id, p.render().splitlines()) for p, _ in applied], dry_run=dry)
    for plan, results in applied:
        findings = list(plan.findings) + applier.late_findings.get(plan.connection_id, [])
        _count(run.result, engine.conclude_configuration(plan, results, findings, dry), "configured")
    return failed


def _read_peer_subnets(run: _Pass) -> None:
    engine = run.engine
    run.peer_subnets, run.unread_peers = read_peer_subnets(engine.aws, engine.directory, run.snapshot, run.routing)


def _dead(run: _Pass, conn: Connection) -> None:
    if run.groups is None:
        target = run.snapshot
        run.groups = paginate(
            run.engine.aws, target.account, target.region, "describe_security_groups", "SecurityGroups"
        )
    leftovers = run.snapshot.leftovers(conn, run.groups)
    cleanup = plan_cleanup(
        conn.connection_id,
        conn.status.value,
        leftovers,
        options=run.cleanup_options,
        previous=run.states.get(conn.connection_id),
        status_message=conn.status_message,
        labels=labels_of(conn),
        records=run.engine.records_left(conn.connection_id, leftovers, run.states.get(conn.connection_id)),
    )
    if not cleanup.is_noop:
        _count(run.result, run.engine.apply_cleanup(cleanup, run.dry), "cleaned")
    elif cleanup.findings and not run.dry:
        run.engine.report_findings(conn.connection_id, list(cleanup.findings), "cleaning up after")


def _remove_orphan_blackholes(engine: Engine, snapshot: RegionSnapshot, result: SweepResult, dry: bool) -> None:
    """Blackhole routes to connections AWS no longer shows at all (gone after 2 h / 2 days): those
    the autopilot installed (one query of route records per such connection) are removed, the
    others reported once as foreign routes and left alone."""
    visible = {c.connection_id for c in snapshot.connections}
    by_connection: dict[str, list[RouteChange]] = {}
    for table in snapshot.route_tables:
        for route in table.routes:
            if route.target_kind == PEERING_TARGET and route.is_blackhole and route.target_id not in visible:
                by_connection.setdefault(route.target_id, []).append(
                    RouteChange(
                        "delete",
                        snapshot.account,
                        snapshot.region,
                        table.route_table_id,
                        route.destination,
                        route.target_id,
                    )
                )
    changes: list[RouteChange] = []
    for connection_id, candidates in by_connection.items():
        mine, foreign = owned_deletions(tuple(candidates), engine.ledger.owned_routes(connection_id))
        changes += mine
        if foreign and not dry:
            engine.report_findings(connection_id, list(foreign), "sweeping the routes left to")
    if not changes:
        return
    applier = ConfigureApplier(engine.aws, engine.ledger, dry_run=dry, deadline=engine.deadline)
    for change, status in zip(changes, applier.change_routes(changes), strict=True):
        logger.info("orphan blackhole route", extra={"action": change.describe(), "status": status})
        if dry:
            # A dry run puts every change it would make in the ledger, to be reviewed.
            engine.ledger.record_configuration(change.connection_id, [change.describe()], dry_run=True)
        result.done["blackhole-removed"] += 1
        result.plans.append(change.describe())


def converge_in_time(engine: Engine, target: SweepTarget, deadline: Deadline) -> dict[str, Any]:
    """Converge one target within ``deadline``; what is left when time runs short is handed back
    (a new queue message), so a repair longer than one invocation finishes in the next."""
    engine.deadline = deadline
    try:
        deadline.check(f"sweeping {target.account}/{target.region}")
        return converge_target(engine, target).as_dict()
    except OutOfTimeError as exc:
        following = hand_back(engine, target)
        logger.warning("out of time: the rest of the target is handed back", extra={"reason": str(exc)})
        metrics.add_metric(name="SweepHandedBack", unit=MetricUnit.Count, value=1)
        return {
            "account": target.account,
            "region": target.region,
            "sweepId": target.sweep_id,
            "handedBack": True,
            "continuation": following.continuation,
            "reason": str(exc),
        }


def converge_account(engine: Engine, targets: list[SweepTarget], deadline: Deadline) -> dict[str, Any]:
    """Every Region of one account's message, one after the other, with one engine (one AssumeRole).

    A Region not ready is recorded and skipped (readiness.py), one out of time is handed back
    (``converge_in_time``: so are the Regions after it), and one that fails is queued again alone
    (``requeue``), so the queue retries only it and the account's other Regions count as done.
    """
    results: list[dict[str, Any]] = []
    for target in targets:
        logger.append_keys(region=target.region)
        try:
            results.append(converge_when_ready(engine, target, partial(converge_in_time, engine, target, deadline)))
        except Exception as exc:  # isolate one Region; the queue retries it alone
            logger.exception("sweep target failed: queued again alone", extra={"region": target.region})
            metrics.add_metric(name="SweepTargetsRequeued", unit=MetricUnit.Count, value=1)
            requeue(engine, target)
            results.append({"account": target.account, "region": target.region, "requeued": True, "error": str(exc)})
    return {"account": targets[0].account, "regions": results}


def _publish(result: SweepResult) -> None:
    metrics.add_metric(name="SweepConnections", unit=MetricUnit.Count, value=sum(result.found.values()))
    metrics.add_metric(name="SweepDrift", unit=MetricUnit.Count, value=result.drift)
    for kind, count in result.done.items():
        metric = "Sweep" + "".join(part.capitalize() for part in kind.split("-"))
        metrics.add_metric(name=metric, unit=MetricUnit.Count, value=count)
    logger.info(
        "sweep summary",
        extra={
            "account": result.account,
            "region": result.region,
            "found": dict(result.found),
            "done": dict(result.done),
            "drift": result.drift,
            "dry_run": result.dry_run,
        },
    )
