"""Sweep targets that are not ready: detected, recorded, counted, summarized once a day, skipped.

In a large organization some account+Regions can never be swept for a while, and retrying them
only buries real failures in the dead-letter queue (48 times a day per target). Each cause is
recognized precisely from what AWS answers:

- ``member-role-missing``: AssumeRole into the member role is refused (AccessDenied): the member
  stack has not reached the account yet.
- ``region-not-enabled``: EC2 refuses the member's credentials in that Region (AuthFailure,
  OptInRequired): an opt-in Region the account has not enabled.
- ``account-suspended`` / ``account-closing``: Organizations lists the account as SUSPENDED, or as
  PENDING_CLOSURE / CLOSED (``State``, or the older ``Status``): the fan-out does not queue it.

An account that is no longer in the organization is not a cause: the fan-out no longer lists it,
and the worker refuses a message that names it (sweep.messages.ensure_sweep_targets) without recording
anything, so a forged message cannot write to the ledger.

Each is one item under ``pk = "NOTREADY"`` (``sk = "<account>#<Region>"``, Region ``*`` for a
cause of the whole account) with the cause and since when, refreshed by every sweep that sees it
(and expiring two days after the last one, so targets that disappear are forgotten). Throttling,
5xx and any other error are not causes: they still raise, and the queue retries them.

A not-ready target is still queued by every sweep (the run is the probe: one AssumeRole, or one
describe, before it fails), so it recovers with nobody doing anything; its message carries
``recheck`` and the run that succeeds deletes the record. The fan-out queues once a day (a
conditional write keyed by the date) one notification listing every target not ready.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from peering.aws.ledger import now_text
from peering.core.models import Notice
from peering.lifecycle.context import EngineContext
from peering.runtime.observability import MetricUnit, logger, metrics
from peering.sweep.messages import SweepTarget

NOT_READY = "NOTREADY"
SUMMARY = "NOTREADY-SUMMARY"
ANY_REGION = "*"
# A record not refreshed by a sweep for this long is for a target that no longer exists.
KEEP_DAYS = 2
# The daily notification lists this many targets, then counts the rest (SNS takes 256 KB).
LISTED_IN_SUMMARY = 200

MEMBER_ROLE_MISSING = "member-role-missing"
REGION_NOT_ENABLED = "region-not-enabled"
ACCOUNT_SUSPENDED = "account-suspended"
ACCOUNT_CLOSING = "account-closing"
CAUSES = (MEMBER_ROLE_MISSING, REGION_NOT_ENABLED, ACCOUNT_SUSPENDED, ACCOUNT_CLOSING)

# EC2's answers when the credentials are not valid in a Region the account has not enabled
# (EC2 API reference, "Error codes": AuthFailure, OptInRequired). UnauthorizedOperation is not
# one: it means the member role lacks a permission, a real fault that must stay visible.
_REGION_REFUSED = frozenset({"AuthFailure", "OptInRequired"})
_ACCOUNT_STATES = {"SUSPENDED": ACCOUNT_SUSPENDED, "PENDING_CLOSURE": ACCOUNT_CLOSING, "CLOSED": ACCOUNT_CLOSING}


def metric_name(cause: str) -> str:
    """``NotReadyMemberRoleMissing`` for ``member-role-missing``: one metric per cause."""
    return "NotReady" + "".join(part.capitalize() for part in cause.split("-"))


def cause_of(error: BaseException) -> str | None:
    """The not-ready cause an AWS error shows, or None when it is a real failure (retry it)."""
    if not isinstance(error, ClientError):
        return None
    code = error.response.get("Error", {}).get("Code", "")
    if error.operation_name == "AssumeRole" and code == "AccessDenied":
        return MEMBER_ROLE_MISSING
    if code in _REGION_REFUSED:
        return REGION_NOT_ENABLED
    return None


def account_cause(account: Mapping[str, Any]) -> str | None:
    """The cause an Organizations ListAccounts entry shows, or None for an active account.

    ``State`` (ACTIVE, SUSPENDED, PENDING_CLOSURE, CLOSED, PENDING_ACTIVATION) replaces ``Status``;
    either is read. An account still being created (PENDING_ACTIVATION) is simply not swept yet."""
    state = str(account.get("State") or account.get("Status") or "ACTIVE")
    return _ACCOUNT_STATES.get(state)


@dataclass(frozen=True)
class NotReadyTarget:
    account: str
    region: str  # ANY_REGION: every Region of the account
    cause: str
    since: str
    last_seen: str
    detail: str = ""

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> NotReadyTarget:
        return cls(
            account=item["account"]["S"],
            region=item["region"]["S"],
            cause=item["cause"]["S"],
            since=item["since"]["S"],
            last_seen=item["lastSeen"]["S"],
            detail=item.get("detail", {}).get("S", ""),
        )


class NotReadyRegister:
    """The not-ready records in the ledger table."""

    def __init__(self, engine: EngineContext) -> None:
        self._engine = engine
        self._table = engine.ledger.table_name

    def _ddb(self) -> Any:
        return self._engine.aws.hub("dynamodb")

    @staticmethod
    def _key(account: str, region: str) -> dict[str, Any]:
        return {"pk": {"S": NOT_READY}, "sk": {"S": f"{account}#{region}"}}

    def record(self, account: str, region: str, cause: str, detail: str = "") -> None:
        """Note the target not ready; ``since`` stays when the cause is the same, else restarts.

        Safe to repeat and to race: one conditional update, and on a change of cause one put
        (the last writer's cause wins, which is the newest observation)."""
        now = now_text()
        expires = {"N": str(int((datetime.now(UTC) + timedelta(days=KEEP_DAYS)).timestamp()))}
        values = {
            ":cause": {"S": cause},
            ":now": {"S": now},
            ":account": {"S": account},
            ":region": {"S": region},
            ":detail": {"S": detail[:500]},
            ":expires": expires,
        }
        try:
            self._ddb().update_item(
                TableName=self._table,
                Key=self._key(account, region),
                UpdateExpression=(
                    "SET cause = :cause, lastSeen = :now, since = if_not_exists(since, :now), "
                    "account = :account, #region = :region, detail = :detail, expiresAt = :expires"
                ),
                ConditionExpression="attribute_not_exists(pk) OR cause = :cause",
                ExpressionAttributeNames={"#region": "region"},
                ExpressionAttributeValues=values,
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            item = {**self._key(account, region), "cause": values[":cause"], "since": values[":now"]}
            item.update(lastSeen=values[":now"], account=values[":account"], region=values[":region"])
            item.update(detail=values[":detail"], expiresAt=expires)
            self._ddb().put_item(TableName=self._table, Item=item)
        metrics.add_metric(name=metric_name(cause), unit=MetricUnit.Count, value=1)
        logger.warning(
            "sweep target not ready: skipped",
            extra={"account": account, "region": region, "cause": cause, "detail": detail[:500]},
        )

    def forget(self, account: str, region: str) -> None:
        """The target is ready again (deleting a record that is gone already is harmless)."""
        self._ddb().delete_item(TableName=self._table, Key=self._key(account, region))
        metrics.add_metric(name="NotReadyRecovered", unit=MetricUnit.Count, value=1)
        logger.info("sweep target ready again", extra={"account": account, "region": region})

    def all(self) -> list[NotReadyTarget]:
        """Every record (one paginated Query of one partition)."""
        found: list[NotReadyTarget] = []
        paginator = self._ddb().get_paginator("query")
        for page in paginator.paginate(
            TableName=self._table,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": NOT_READY}},
        ):
            found += [NotReadyTarget.from_item(item) for item in page["Items"]]
        return found


def converge_when_ready(
    engine: EngineContext, target: SweepTarget, converge: Callable[[], dict[str, Any]]
) -> dict[str, Any]:
    """Run ``converge`` for a sweep target; a not-ready target is recorded and skipped (the
    message is consumed, not retried into the dead-letter queue). A target with a record
    (``target.recheck``) that converges is ready again: its record goes."""
    register = NotReadyRegister(engine)
    try:
        result = converge()
    except ClientError as exc:
        cause = cause_of(exc)
        if cause is None:
            raise
        register.record(target.account, target.region, cause, str(exc))
        return {"account": target.account, "region": target.region, "sweepId": target.sweep_id, "notReady": cause}
    if target.recheck:
        register.forget(target.account, target.region)
    return result


@dataclass(frozen=True)
class FanOutReadiness:
    """Every record the fan-out read (after its own writes)."""

    records: tuple[NotReadyTarget, ...]

    @property
    def per_target(self) -> frozenset[tuple[str, str]]:
        """Targets whose message asks the worker to clear the record when the run succeeds."""
        return frozenset((r.account, r.region) for r in self.records if r.region != ANY_REGION)


def before_fan_out(engine: EngineContext, listed: Iterable[Mapping[str, Any]]) -> FanOutReadiness:
    """Record the accounts Organizations lists as suspended or closing (they are not queued),
    forget those active again, and read every record (for ``recheck`` and the summary)."""
    register = NotReadyRegister(engine)
    records = {(r.account, r.region): r for r in register.all()}
    changed = False
    for account in listed:
        cause = account_cause(account)
        key = (str(account["Id"]), ANY_REGION)
        if cause is not None:
            state = account.get("State") or account.get("Status")
            register.record(key[0], ANY_REGION, cause, f"Organizations lists the account {state}")
            changed = True
        elif key in records and records[key].cause in (ACCOUNT_SUSPENDED, ACCOUNT_CLOSING):
            register.forget(*key)
            changed = True
    return FanOutReadiness(tuple(register.all() if changed else records.values()))


def summary_notice(records: Iterable[NotReadyTarget], day: str) -> Notice:
    listed = sorted(records, key=lambda r: (r.cause, r.account, r.region))
    by_cause = Counter(r.cause for r in listed)
    lines = [
        f"{len(listed)} sweep target(s) were not ready on {day} and were skipped (not retried).",
        "By cause: " + ", ".join(f"{cause} {count}" for cause, count in sorted(by_cause.items())) + ".",
        "Each is swept again by every sweep and leaves this list by itself once it is ready.",
        "",
    ]
    lines += [f"- {r.account} {r.region}: {r.cause} since {r.since}" for r in listed[:LISTED_IN_SUMMARY]]
    if len(listed) > LISTED_IN_SUMMARY:
        lines.append(f"... and {len(listed) - LISTED_IN_SUMMARY} more (ledger items pk={NOT_READY}).")
    return Notice(f"Peering Autopilot: {len(listed)} sweep targets not ready", "\n".join(lines))


def queue_daily_summary(engine: EngineContext, readiness: FanOutReadiness, now: datetime | None = None) -> bool:
    """Queue one notification a day (the first sweep of the day that finds records) listing the
    targets seen not ready in the last day. True when this run queued it."""
    now = now or datetime.now(UTC)
    recent = (now - timedelta(days=1)).isoformat(timespec="milliseconds")
    current = [r for r in readiness.records if r.last_seen >= recent]
    for cause, count in Counter(r.cause for r in current).items():
        metrics.add_metric(name=f"{metric_name(cause)}Targets", unit=MetricUnit.Count, value=count)
    if not current:
        return False
    day = f"{now:%Y-%m-%d}"
    queued = engine.ledger.notice_once((SUMMARY, day), summary_notice(current, day))
    if queued:
        logger.info("not-ready summary queued", extra={"day": day, "targets": len(current)})
    return queued
