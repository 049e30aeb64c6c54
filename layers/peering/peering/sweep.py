"""The scheduled sweep's fan-out: every account+Region to converge, queued.

The sweep function lists the targets (organization accounts x configured Regions, or a static
list, or the one an operator names) and enqueues one message per account naming its Regions
(``AccountSweep``; one per target when a single Region is swept), records the accounts that are
not ready (readiness.py), then publishes what the outbox still holds. The worker converges each
target of a message (sweep_region.py); a target it has no time left to finish is queued again
(``hand_back``), one that fails is queued again alone (``requeue``). With no drift, a target
costs a constant number of paginated describe calls (connections, VPCs, route tables, and
subnets when the policy selects by subnet), however many connections exist.
"""

from __future__ import annotations

import json
import os
import re
import uuid
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from peering import readiness
from peering.context import EngineContext
from peering.errors import ConfigurationError, InvalidEventError, NotASweepTargetError, SweepIncompleteError
from peering.events import ACCOUNT_ID, REGION, SweepRequestEvent, parse_sweep_event
from peering.observability import MetricUnit, logger, metrics
from peering.operator import ensure_put_by_hub

SQS_BATCH = 10
# SendMessageBatch calls in flight at once: 10,000 targets are 1,000 calls, about 100 s one after
# the other at 100 ms each; 16 at a time, about 7 s (BENCHMARKS.md, "at organization scale").
QUEUE_THREADS = 16
# A target that ran out of time continues in a new message, at most this many times in a row.
MAX_CONTINUATIONS = 20
# EC2's mutating bucket (50 tokens, 5 a second) is full again after 10 s.
CONTINUATION_DELAY_SECONDS = 10
# More than AWS has Regions: a message naming more is not one of ours.
MAX_REGIONS_PER_MESSAGE = 64


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
    continuation: int = 0  # how many runs before this one ran out of time on this target
    recheck: bool = False  # recorded not ready (readiness.py): a run that succeeds clears the record

    def to_message(self) -> str:
        body: dict[str, Any] = {
            "account": self.account,
            "region": self.region,
            "sweepId": self.sweep_id,
            "dryRun": self.dry_run,
        }
        if self.continuation:
            body["continuation"] = self.continuation
        if self.recheck:
            body["recheck"] = True
        return json.dumps(body)

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
        continuation = data.get("continuation", 0)
        if type(continuation) is not int or not 0 <= continuation <= MAX_CONTINUATIONS:
            raise InvalidEventError(f"not a continuation count: {continuation!r}")
        return cls(
            account,
            region,
            str(data.get("sweepId") or "manual"),
            dry_run if isinstance(dry_run, bool) else None,
            continuation,
            data.get("recheck") is True,
        )

    def next_run(self) -> SweepTarget:
        return replace(self, continuation=self.continuation + 1)


@dataclass(frozen=True)
class AccountSweep:
    """One message for every Region of one account: one AssumeRole and one membership check
    serve them all, whichever worker receives it (a standard queue keeps no order, so targets
    queued one per message would spread an account over every worker, each assuming its role)."""

    account: str
    regions: tuple[str, ...]
    sweep_id: str
    dry_run: bool | None = None
    recheck: frozenset[str] = frozenset()  # the Regions recorded not ready

    def to_message(self) -> str:
        body: dict[str, Any] = {
            "account": self.account,
            "regions": list(self.regions),
            "sweepId": self.sweep_id,
            "dryRun": self.dry_run,
        }
        if self.recheck:
            body["recheck"] = sorted(self.recheck)
        return json.dumps(body)

    def targets(self) -> list[SweepTarget]:
        return [
            SweepTarget(self.account, r, self.sweep_id, self.dry_run, recheck=r in self.recheck) for r in self.regions
        ]


def parse_sweep_message(body: str) -> list[SweepTarget]:
    """The targets of a sweep message: one (a target, a continuation, an operator's request), or
    every Region of an account (``AccountSweep``)."""
    try:
        data = json.loads(body)
    except ValueError:
        data = None
    if not isinstance(data, dict) or "regions" not in data:
        return [SweepTarget.from_message(body)]
    account, regions, recheck = str(data.get("account")), data["regions"], data.get("recheck", [])
    if (
        not re.fullmatch(ACCOUNT_ID, account)
        or not isinstance(regions, list)
        or not 0 < len(regions) <= MAX_REGIONS_PER_MESSAGE
        or len(set(map(str, regions))) != len(regions)
        or not all(isinstance(r, str) and re.fullmatch(REGION, r) for r in regions)
        or not isinstance(recheck, list)
        or not set(map(str, recheck)) <= set(regions)
    ):
        raise InvalidEventError(f"not an account's sweep message: {body[:200]!r}")
    dry_run = data.get("dryRun")
    sweep = AccountSweep(
        account,
        tuple(regions),
        str(data.get("sweepId") or "manual"),
        dry_run if isinstance(dry_run, bool) else None,
        frozenset(recheck),
    )
    return sweep.targets()


def requeue(engine: EngineContext, target: SweepTarget) -> None:
    """Send one Region of an account's message that failed back alone: the queue retries it (and
    in the end keeps it in the dead-letter queue) without retrying the account's other Regions."""
    queue_url = SweepSettings.from_env().queue_url
    if queue_url is None:
        raise ConfigurationError("SWEEP_QUEUE_URL is not set: a failed target cannot be queued again")
    engine.aws.hub("sqs").send_message(
        QueueUrl=queue_url, MessageBody=target.to_message(), DelaySeconds=CONTINUATION_DELAY_SECONDS
    )


def hand_back(engine: EngineContext, target: SweepTarget) -> SweepTarget:
    """Queue the rest of a target that ran out of time, for another invocation.

    A new message rather than a failed batch item: the queue would redeliver a failed one only
    after its visibility timeout (an hour, six times the worker's), and each redelivery counts
    towards maxReceiveCount, so a long repair making steady progress would end in the dead-letter
    queue as if it had failed. The message is delayed long enough for EC2's mutating-call bucket
    to refill. Every step is idempotent, so a duplicate (this message and a redelivery of the
    original after a crash) only converges twice. A target still unfinished after
    MAX_CONTINUATIONS runs is failed instead: the queue retries it and, in the end, keeps it.
    """
    if target.continuation >= MAX_CONTINUATIONS:
        raise SweepIncompleteError(
            f"{target.account}/{target.region} is still unfinished after {target.continuation} continuations"
        )
    queue_url = SweepSettings.from_env().queue_url
    if queue_url is None:
        raise ConfigurationError("SWEEP_QUEUE_URL is not set: a target out of time cannot be handed back")
    following = target.next_run()
    engine.aws.hub("sqs").send_message(
        QueueUrl=queue_url, MessageBody=following.to_message(), DelaySeconds=CONTINUATION_DELAY_SECONDS
    )
    return following


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


def _is_active(account: Mapping[str, Any]) -> bool:
    return (account.get("State") or account.get("Status") or "ACTIVE") == "ACTIVE"


def active_targets(accounts: list[dict[str, Any]], settings: SweepSettings) -> list[tuple[str, str]]:
    """Every account+Region the sweep covers: the active accounts in each of the sweep's Regions."""
    return [(str(a["Id"]), region) for a in accounts if _is_active(a) for region in settings.regions]


def list_targets(engine: EngineContext, settings: SweepSettings) -> list[tuple[str, str]]:
    """The sweep's account+Regions, as the fan-out computes them (the peering map reads the same)."""
    return active_targets(list_accounts(engine, settings), settings)


def sweeps_account(engine: EngineContext, settings: SweepSettings, account: str) -> bool:
    """Whether the fan-out queues ``account``: list_accounts' three sources and _is_active, asked
    about one account (one cached DescribeAccount, not a ListAccounts of the organization for
    every message the worker receives)."""
    if settings.accounts:
        return account in settings.accounts
    if engine.directory.hub_org_id() is None:
        return account == engine.aws.own_account
    state = engine.directory.member_state(account)
    return state is not None and _is_active({"State": state})


def ensure_sweep_targets(engine: EngineContext, settings: SweepSettings, account: str, regions: Sequence[str]) -> None:
    """Refuse an account+Regions the sweep does not cover (NotASweepTargetError): a message naming
    them is forged or stale, and nothing (not even a not-ready record) is written for it."""
    outside = [r for r in regions if r not in settings.regions]
    if outside:
        raise NotASweepTargetError(
            f"Region(s) {', '.join(outside)} not swept by this stack (its Regions: {', '.join(settings.regions)})"
        )
    if not sweeps_account(engine, settings, account):
        raise NotASweepTargetError(f"account {account} is not an active account this stack sweeps")


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
        active = [str(a["Id"]) for a in accounts if _is_active(a)]
        targets = active_targets(accounts, settings)
    if trigger.only is None and os.environ.get("MAP_BUCKET"):
        # PublishMap=true: the page from the fragments the previous sweep's workers wrote.
        from peering.map_publish import publish_map_safely  # noqa: PLC0415 - only when publishing

        publish_map_safely(engine, targets)
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
    # The backstop of the outbox: notices whose run died before publishing them (one Query when
    # there are none). A failure to publish raises, so the sweep itself is retried.
    flushed = engine.outbox.flush()
    return {
        "sweepId": trigger.sweep_id,
        "targets": len(targets),
        "messages": len(messages),
        "dryRun": trigger.dry_run,
        "notificationsSent": flushed.sent,
    }
