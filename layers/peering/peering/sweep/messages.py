"""The sweep's messages: what the fan-out queues and the worker reads back.

A message names one target (an account+Region: ``SweepTarget``, also a continuation or an
operator's request) or every Region of one account (``AccountSweep``); ``parse_sweep_message``
reads either, refusing anything that is not one of ours. A target that ran out of time is queued
again as its next run (``hand_back``), a Region that failed is queued again alone (``requeue``).
The queue and the Regions come from the environment (``SweepSettings``). fan_out.py sends the
first messages, target.py and readiness.py read and send them again.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from peering.core.errors import ConfigurationError, InvalidEventError, NotASweepTargetError, SweepIncompleteError
from peering.core.events import ACCOUNT_ID, REGION
from peering.lifecycle.context import EngineContext

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


def is_active(account: Mapping[str, Any]) -> bool:
    return (account.get("State") or account.get("Status") or "ACTIVE") == "ACTIVE"


def sweeps_account(engine: EngineContext, settings: SweepSettings, account: str) -> bool:
    """Whether the fan-out queues ``account``: fan_out.list_accounts' three sources and is_active, asked
    about one account (one cached DescribeAccount, not a ListAccounts of the organization for
    every message the worker receives)."""
    if settings.accounts:
        return account in settings.accounts
    if engine.directory.hub_org_id() is None:
        return account == engine.aws.own_account
    state = engine.directory.member_state(account)
    return state is not None and is_active({"State": state})


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
