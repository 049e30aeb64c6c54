"""The scheduled sweep's fan-out: every account+Region to converge, queued.

The sweep function lists the targets (organization accounts x configured Regions, or a static
list, or the one an operator names) and enqueues one message per account naming its Regions
(``AccountSweep``; one per target when a single Region is swept), records the accounts that are
not ready (readiness.py), then publishes what the outbox still holds. The worker converges each
target of a message (target.py); a target it has no time left to finish is queued again
(``hand_back``), one that fails is queued again alone (``requeue``): the messages and their
settings are messages.py. With no drift, a target
costs a constant number of paginated describe calls (connections, VPCs, route tables, and
subnets when the policy selects by subnet), however many connections exist.

Nothing else stands before the targets are queued: the peering map is built by its own function
on its own schedule (map/publish.py), and a failure to publish the outbox after the fan-out is
left to the next sweep rather than raised (Lambda's retry would fan out again).
"""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from peering.core.errors import ConfigurationError
from peering.core.events import SweepRequestEvent, parse_sweep_event
from peering.lifecycle.context import EngineContext
from peering.lifecycle.operator import ensure_put_by_hub
from peering.runtime.observability import MetricUnit, logger, metrics
from peering.sweep import readiness
from peering.sweep.messages import AccountSweep, SweepSettings, SweepTarget, ensure_sweep_targets, is_active

SQS_BATCH = 10
# SendMessageBatch calls in flight at once: 10,000 targets are 1,000 calls, about 100 s one after
# the other at 100 ms each; 16 at a time, about 7 s (BENCHMARKS.md, "at organization scale").
QUEUE_THREADS = 16


@dataclass(frozen=True)
class SweepTrigger:
    sweep_id: str
    only: tuple[str, str] | None = None  # one (account, Region), from an operator event
    dry_run: bool | None = None
    requested_by: str = "schedule"


def parse_sweep_trigger(event: Any, engine: EngineContext) -> SweepTrigger:
    parsed = parse_sweep_event(event)
    sweep_id = f"sweep-{datetime.now(UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}"
    if isinstance(parsed, SweepRequestEvent):
        ensure_put_by_hub(parsed, engine)
        detail = parsed.detail
        return SweepTrigger(sweep_id, (detail.account_id, detail.region), detail.dry_run, detail.requested_by)
    return SweepTrigger(sweep_id)


def list_accounts(engine: EngineContext, settings: SweepSettings) -> list[dict[str, Any]]:
    """The accounts to sweep as ListAccounts describes them (Id, State/Status); a static list,
    or this account alone, counts as active."""
    if settings.accounts:
        return [{"Id": account} for account in settings.accounts]
    if engine.directory.hub_org_id() is None:
        return [{"Id": engine.aws.own_account}]
    accounts: list[dict[str, Any]] = []
    # AWS answers 20 accounts a page (moto: all in one): 1,000 accounts are 50 calls.
    for page in engine.aws.hub("organizations").get_paginator("list_accounts").paginate():
        accounts += page["Accounts"]
    return accounts


def active_targets(accounts: list[dict[str, Any]], settings: SweepSettings) -> list[tuple[str, str]]:
    """Every account+Region the sweep covers: the active accounts in each of the sweep's Regions."""
    return [(str(a["Id"]), region) for a in accounts if is_active(a) for region in settings.regions]


def list_targets(engine: EngineContext, settings: SweepSettings) -> list[tuple[str, str]]:
    """The sweep's account+Regions, as the fan-out computes them (the peering map reads the same)."""
    return active_targets(list_accounts(engine, settings), settings)


def _queue(engine: EngineContext, queue_url: str, messages: list[str]) -> int:
    """SendMessageBatch of 10, QUEUE_THREADS calls at a time; the number of messages refused."""
    sqs = engine.aws.hub("sqs")  # made once: boto3 clients are safe to share between threads

    def send(start: int) -> int:
        chunk = messages[start : start + SQS_BATCH]
        answer = sqs.send_message_batch(
            QueueUrl=queue_url, Entries=[{"Id": str(i), "MessageBody": body} for i, body in enumerate(chunk)]
        )
        return len(answer.get("Failed", []))

    with ThreadPoolExecutor(max_workers=QUEUE_THREADS) as pool:
        return sum(pool.map(send, range(0, len(messages), SQS_BATCH)))


def fan_out(engine: EngineContext, trigger: SweepTrigger, settings: SweepSettings | None = None) -> dict[str, Any]:
    settings = settings or SweepSettings.from_env()
    if settings.queue_url is None:
        raise ConfigurationError("SWEEP_QUEUE_URL is not set")
    ready: readiness.FanOutReadiness | None = None
    active: list[str] = []
    if trigger.only:
        account, region = trigger.only
        ensure_sweep_targets(engine, settings, account, [region])  # an operator's request, checked as the worker would
        targets = [trigger.only]
    else:
        accounts = list_accounts(engine, settings)
        ready = readiness.before_fan_out(engine, accounts)
        active = [str(a["Id"]) for a in accounts if is_active(a)]
        targets = active_targets(accounts, settings)
    recheck = ready.per_target if ready else frozenset()
    if trigger.only or len(settings.regions) == 1:
        messages = [
            SweepTarget(a, r, trigger.sweep_id, trigger.dry_run, recheck=(a, r) in recheck).to_message()
            for a, r in targets
        ]
    else:
        messages = [
            AccountSweep(
                account,
                settings.regions,
                trigger.sweep_id,
                trigger.dry_run,
                frozenset(r for r in settings.regions if (account, r) in recheck),
            ).to_message()
            for account in active
        ]
    failed = _queue(engine, settings.queue_url, messages)
    if failed:
        # Raising makes the whole fan-out retry; duplicates are harmless (convergence is idempotent).
        raise RuntimeError(f"{failed} sweep messages could not be queued")
    metrics.add_metric(name="SweepTargets", unit=MetricUnit.Count, value=len(targets))
    logger.info(
        "sweep fanned out",
        extra={"targets": len(targets), "messages": len(messages), "requested_by": trigger.requested_by},
    )
    if ready is not None:
        readiness.queue_daily_summary(engine, ready)
    return {
        "sweepId": trigger.sweep_id,
        "targets": len(targets),
        "messages": len(messages),
        "dryRun": trigger.dry_run,
        "notificationsSent": _flush_outbox(engine),
    }


def _flush_outbox(engine: EngineContext) -> int:
    """The backstop of the outbox: notices whose run died before publishing them (one Query when
    there are none). The targets are queued by now: a failure to publish (SNS down) is logged,
    counted and left to the next sweep, never raised, since Lambda's retry of this invocation
    would queue every target again. The outbox keeps each notice it could not publish."""
    try:
        return engine.outbox.flush().sent
    except Exception:  # any failure: the notices stay in the outbox, claims released
        logger.exception("the outbox could not be published: left to the next sweep")
        metrics.add_metric(name="OutboxFlushFailures", unit=MetricUnit.Count, value=1)
        return 0
