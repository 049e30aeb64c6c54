"""The scheduled sweep: the engine run over everything, one account+Region at a time.

The sweep function lists the targets (organization accounts x configured Regions, or a static
list) and enqueues one message per target; the worker converges one target per message. With
no drift, a target costs a constant number of paginated describe calls (connections, VPCs,
route tables, and subnets when the policy selects by subnet), however many connections exist.
"""

from __future__ import annotations

import json
import os
import re
import uuid
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from peering.apply import ConfigureApplier
from peering.cleanup import CleanupOptions, SideLeftovers, is_stale_request, plan_cleanup, references_to
from peering.cleanup_lifecycle import labels_of
from peering.context import ConvergeResult
from peering.engine import Engine
from peering.errors import ConfigurationError, InvalidEventError, SweepIncompleteError
from peering.events import ACCOUNT_ID, REGION, SweepRequestEvent, parse_sweep_event
from peering.models import Connection, ConnectionStatus, LedgerState, Vpc
from peering.network import RouteTable, SideNetwork, Subnet
from peering.observability import MetricUnit, logger, metrics
from peering.observe import paginate
from peering.operator import ensure_hub_account
from peering.routing import RouteChange, RoutingOptions, TableSelection

SQS_BATCH = 10


@dataclass(frozen=True)
class SweepSettings:
    queue_url: str | None
    regions: tuple[str, ...]
    accounts: tuple[str, ...]  # empty: the organization's active accounts (or just this one)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> SweepSettings:
        env = os.environ if env is None else env
        default_region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "us-east-1"
        regions = tuple(r.strip() for r in (env.get("SWEEP_REGIONS") or default_region).split(",") if r.strip())
        accounts = tuple(a.strip() for a in (env.get("SWEEP_ACCOUNTS") or "").split(",") if a.strip())
        for account in accounts:
            if not re.fullmatch(ACCOUNT_ID, account):
                raise ConfigurationError(f"SWEEP_ACCOUNTS has {account!r}, not a 12-digit account id")
        return cls(queue_url=env.get("SWEEP_QUEUE_URL") or None, regions=regions, accounts=accounts)


@dataclass(frozen=True)
class SweepTarget:
    account: str
    region: str
    sweep_id: str
    dry_run: bool | None = None

    def to_message(self) -> str:
        return json.dumps(
            {"account": self.account, "region": self.region, "sweepId": self.sweep_id, "dryRun": self.dry_run}
        )

    @classmethod
    def from_message(cls, body: str) -> SweepTarget:
        try:
            data = json.loads(body)
            account, region = str(data["account"]), str(data["region"])
        except (ValueError, KeyError, TypeError) as exc:
            raise InvalidEventError(f"not a sweep message: {body[:200]!r}") from exc
        if not re.fullmatch(ACCOUNT_ID, account) or not re.fullmatch(REGION, region):
            raise InvalidEventError(f"not a sweep target: {account!r} {region!r}")
        dry_run = data.get("dryRun")
        return cls(
            account, region, str(data.get("sweepId") or "manual"), dry_run if isinstance(dry_run, bool) else None
        )


@dataclass(frozen=True)
class SweepTrigger:
    sweep_id: str
    only: tuple[str, str] | None = None  # one (account, Region), from an operator event
    dry_run: bool | None = None
    requested_by: str = "schedule"


def parse_sweep_trigger(event: Any, engine: Engine) -> SweepTrigger:
    parsed = parse_sweep_event(event)
    sweep_id = f"sweep-{datetime.now(UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}"
    if isinstance(parsed, SweepRequestEvent):
        ensure_hub_account(parsed.account, engine)
        detail = parsed.detail
        return SweepTrigger(sweep_id, (detail.account_id, detail.region), detail.dry_run, detail.requested_by)
    return SweepTrigger(sweep_id)


def list_targets(engine: Engine, settings: SweepSettings) -> list[tuple[str, str]]:
    accounts = list(settings.accounts)
    if not accounts:
        if engine.directory.hub_org_id() is None:
            accounts = [engine.aws.own_account]
        else:
            paginator = engine.aws.hub("organizations").get_paginator("list_accounts")
            for page in paginator.paginate():
                accounts += [a["Id"] for a in page["Accounts"] if a.get("Status", "ACTIVE") == "ACTIVE"]
    return [(account, region) for account in accounts for region in settings.regions]


def fan_out(engine: Engine, trigger: SweepTrigger, settings: SweepSettings | None = None) -> dict[str, Any]:
    settings = settings or SweepSettings.from_env()
    if settings.queue_url is None:
        raise ConfigurationError("SWEEP_QUEUE_URL is not set")
    targets = [trigger.only] if trigger.only else list_targets(engine, settings)
    messages = [SweepTarget(a, r, trigger.sweep_id, trigger.dry_run).to_message() for a, r in targets]
    sqs = engine.aws.hub("sqs")
    failed = 0
    for start in range(0, len(messages), SQS_BATCH):
        chunk = messages[start : start + SQS_BATCH]
        answer = sqs.send_message_batch(
            QueueUrl=settings.queue_url,
            Entries=[{"Id": str(i), "MessageBody": body} for i, body in enumerate(chunk)],
        )
        failed += len(answer.get("Failed", []))
    if failed:
        # Raising makes the whole fan-out retry; duplicates are harmless (convergence is idempotent).
        raise RuntimeError(f"{failed} sweep messages could not be queued")
    metrics.add_metric(name="SweepTargets", unit=MetricUnit.Count, value=len(messages))
    logger.info("sweep fanned out", extra={"targets": len(messages), "requested_by": trigger.requested_by})
    # The backstop of the outbox: notices whose run died before publishing them (one Query when
    # there are none). A failure to publish raises, so the sweep itself is retried.
    flushed = engine.outbox.flush()
    return {
        "sweepId": trigger.sweep_id,
        "targets": len(messages),
        "dryRun": trigger.dry_run,
        "notificationsSent": flushed.sent,
    }


# --- the worker: one account+Region ---------------------------------------------------------


@dataclass(frozen=True)
class RegionSnapshot:
    """Everything in one account+Region that the sweep needs, read with paginated describes."""

    account: str
    region: str
    connections: tuple[Connection, ...]
    vpcs: dict[str, Vpc]
    route_tables: tuple[RouteTable, ...]
    subnets: tuple[Subnet, ...] = ()

    def side(self, vpc_id: str) -> SideNetwork | None:
        vpc = self.vpcs.get(vpc_id)
        if vpc is None:
            return None
        return SideNetwork(
            account=self.account,
            region=self.region,
            vpc=vpc,
            route_tables=tuple(t for t in self.route_tables if t.vpc_id == vpc_id),
            subnets=tuple(s for s in self.subnets if s.vpc_id == vpc_id),
        )

    def local_roles(self, conn: Connection) -> frozenset[str]:
        roles = set()
        if (conn.requester.account, conn.requester.region) == (self.account, self.region):
            roles.add("requester")
        if (conn.accepter.account, conn.accepter.region) == (self.account, self.region):
            roles.add("accepter")
        return frozenset(roles)


def observe_region(engine: Engine, account: str, region: str, *, with_subnets: bool) -> RegionSnapshot:
    aws = engine.aws
    connections = [
        Connection.from_api(c, region)
        for c in paginate(aws, account, region, "describe_vpc_peering_connections", "VpcPeeringConnections")
    ]
    vpcs = [Vpc.from_api(v, account, region) for v in paginate(aws, account, region, "describe_vpcs", "Vpcs")]
    tables = [RouteTable.from_api(t) for t in paginate(aws, account, region, "describe_route_tables", "RouteTables")]
    subnets = (
        [Subnet.from_api(s) for s in paginate(aws, account, region, "describe_subnets", "Subnets")]
        if with_subnets
        else []
    )
    return RegionSnapshot(
        account=account,
        region=region,
        connections=tuple(connections),
        vpcs={v.vpc_id: v for v in vpcs},
        route_tables=tuple(tables),
        subnets=tuple(subnets),
    )


@dataclass
class SweepResult:
    account: str
    region: str
    sweep_id: str
    dry_run: bool
    found: Counter[str] = field(default_factory=Counter)  # connections by status
    done: Counter[str] = field(default_factory=Counter)  # what was decided or changed, by kind
    plans: list[str] = field(default_factory=list)

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
    options: RoutingOptions
    cleanup_options: CleanupOptions
    states: dict[str, LedgerState]
    now: datetime
    groups: list[dict[str, Any]] | None = None  # security groups, read once if a dead connection needs them
    policy_version: str = "none"

    @property
    def dry(self) -> bool:
        return self.result.dry_run


def converge_target(engine: Engine, target: SweepTarget) -> SweepResult:
    """Converge every connection visible in one account+Region, from one snapshot.

    One connection failing does not stop the others; the run then fails at the end, so the
    queue retries the target (convergence is idempotent, the converged ones cost nothing).
    """
    dry = engine.is_dry_run(target.dry_run)
    options = engine.routing_options()
    snapshot = observe_region(
        engine, target.account, target.region, with_subnets=options.selection is TableSelection.SUBNETS
    )
    needs_record = [
        c.connection_id
        for c in snapshot.connections
        if c.status is ConnectionStatus.PENDING_ACCEPTANCE or c.status.is_dead
    ]
    run = _Pass(
        engine=engine,
        snapshot=snapshot,
        result=SweepResult(target.account, target.region, target.sweep_id, dry),
        options=options,
        cleanup_options=engine.cleanup_options(),
        states=engine.ledger.states(needs_record) if needs_record else {},
        now=datetime.now(UTC),
    )
    run.policy_version = engine.policy_version()
    failed: list[str] = []
    for conn in snapshot.connections:
        run.result.found[conn.status.value] += 1
        try:
            if conn.status is ConnectionStatus.PENDING_ACCEPTANCE:
                _pending(run, conn)
            elif conn.status is ConnectionStatus.ACTIVE:
                _active(run, conn)
            elif conn.status.is_dead:
                _dead(run, conn)
        except Exception:  # isolate one connection; the target is retried below
            logger.exception("could not converge a connection", extra={"connection_id": conn.connection_id})
            failed.append(conn.connection_id)
    _remove_orphan_blackholes(engine, snapshot, run.result, dry)
    _publish(run.result)
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


def _pending(run: _Pass, conn: Connection) -> None:
    roles = run.snapshot.local_roles(conn)
    target = run.snapshot
    if "accepter" in roles and _needs_decision(run.states.get(conn.connection_id), run.policy_version):
        decided = run.engine.converge_request(conn.connection_id, target.account, target.region, dry_run=run.dry)
        _count(run.result, decided, f"request-{decided.outcome}")
    if "requester" in roles and is_stale_request(conn, target.account, run.now, run.cleanup_options):
        _count(run.result, run.engine.withdraw(conn, run.dry), "request-withdrawn")


def _active(run: _Pass, conn: Connection) -> None:
    """Routes and DNS for the sides that live here; the peer's own sweep does its side."""
    roles = run.snapshot.local_roles(conn)
    requester = run.snapshot.side(conn.requester.vpc_id) if "requester" in roles else None
    accepter = run.snapshot.side(conn.accepter.vpc_id) if "accepter" in roles else None
    plan = run.engine.plan_sides(conn, requester, accepter, run.options, scope=roles)
    if not plan.is_noop:
        _count(run.result, run.engine.apply_configuration(plan, run.dry, recheck=False), "configured")
    elif plan.findings and not run.dry:
        run.engine.report_findings(conn.connection_id, list(plan.findings))  # notifies new ones only


def _dead(run: _Pass, conn: Connection) -> None:
    if run.groups is None:
        target = run.snapshot
        run.groups = paginate(
            run.engine.aws, target.account, target.region, "describe_security_groups", "SecurityGroups"
        )
    cleanup = plan_cleanup(
        conn.connection_id,
        conn.status.value,
        _leftovers(run.snapshot, conn, run.snapshot.local_roles(conn), run.groups),
        options=run.cleanup_options,
        previous=run.states.get(conn.connection_id),
        status_message=conn.status_message,
        labels=labels_of(conn),
    )
    if not cleanup.is_noop:
        _count(run.result, run.engine.apply_cleanup(cleanup, run.dry), "cleaned")


def _leftovers(
    snapshot: RegionSnapshot, conn: Connection, roles: frozenset[str], groups: list[dict[str, Any]]
) -> list[SideLeftovers]:
    out = []
    for role in sorted(roles):
        side = conn.requester if role == "requester" else conn.accepter
        peer = conn.accepter if role == "requester" else conn.requester
        tables = tuple(
            t
            for t in snapshot.route_tables
            if t.vpc_id == side.vpc_id and any(r.target_id == conn.connection_id for r in t.routes)
        )
        own_groups = [g for g in groups if g.get("VpcId") == side.vpc_id]
        references = references_to(own_groups, side.account, side.region, conn.connection_id, peer.vpc_id)
        out.append(SideLeftovers(side.account, side.region, side.vpc_id, tables, references))
    return out


def _remove_orphan_blackholes(engine: Engine, snapshot: RegionSnapshot, result: SweepResult, dry: bool) -> None:
    """Blackhole routes to connections AWS no longer shows at all (gone after 2 h / 2 days)."""
    visible = {c.connection_id for c in snapshot.connections}
    applier = ConfigureApplier(engine.aws, engine.ledger, dry_run=dry)
    for table in snapshot.route_tables:
        for route in table.routes:
            if route.target_kind == "vpc-peering-connection" and route.is_blackhole and route.target_id not in visible:
                change = RouteChange(
                    "delete",
                    snapshot.account,
                    snapshot.region,
                    table.route_table_id,
                    route.destination,
                    route.target_id,
                )
                status = applier.change_route(change)
                logger.info("orphan blackhole route", extra={"action": change.describe(), "status": status})
                if dry:
                    # A dry run puts every change it would make in the ledger, to be reviewed.
                    engine.ledger.record_configuration(route.target_id, [change.describe()], dry_run=True)
                result.done["blackhole-removed"] += 1
                result.plans.append(change.describe())


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
