"""A change of the approval policy parameter, told to people: who changed it, from which version
to which, and whether the new document validates.

Triggered by CloudTrail's record of ``PutParameter`` on the policy parameter (source ``aws.ssm``,
on the hub account's default bus, where the parameter lives). The record says who wrote and
which parameter version the write made; nothing else is taken from it. The documents are read
from SSM (that parameter version and the one before it) and validated by the engine's own
``parse_policy``. The notice goes through the outbox, keyed by the CloudTrail event id, so a
redelivered event notifies once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from peering.core.errors import PolicyError
from peering.core.models import Notice
from peering.core.policy_events import parse_put_parameter
from peering.core.text import escaped
from peering.lifecycle.engine import Engine
from peering.runtime.observability import MetricUnit, logger, metrics

#: ledger partition of the change notices (one marker per CloudTrail event id)
POLICY_CHANGE = "POLICY-CHANGE"


@dataclass(frozen=True)
class Edition:
    """One parameter version of the policy, as read from SSM and validated."""

    parameter_version: int
    policy_version: str | None  # None: the document does not validate
    problem: str | None = None
    rules: int = 0
    warnings: tuple[str, ...] = ()

    @classmethod
    def of(cls, parameter_version: int, text: str | None) -> Edition:
        from peering.core.policy import parse_policy  # noqa: PLC0415 - pydantic only on this path

        try:
            document = parse_policy(text)
        except PolicyError as exc:
            return cls(parameter_version, None, escaped(str(exc))[:1500])
        return cls(parameter_version, document.version, None, len(document.rules), tuple(document.warnings()))

    @property
    def label(self) -> str:
        return self.policy_version if self.policy_version is not None else "none (it does not validate)"


def _read(ssm: Any, name: str) -> tuple[int, str] | None:
    """(parameter version, value) of ``name`` (``/p`` or ``/p:7``); None: not (or no longer) kept."""
    try:
        found = ssm.get_parameter(Name=name)["Parameter"]
    except ClientError as exc:
        if exc.response["Error"]["Code"] in {"ParameterNotFound", "ParameterVersionNotFound"}:
            return None
        raise
    return int(found["Version"]), str(found["Value"])


def read_change(ssm: Any, parameter: str, reported: int | None) -> tuple[Edition | None, Edition | None]:
    """The edition the write made and the one before it, read from SSM (None: not readable).

    The record's version only says which edition to read; one the parameter never had (higher
    than its current version) is not trusted, the current one is read instead."""
    current = _read(ssm, parameter)
    if current is None:
        return None, None
    version = reported if reported is not None and 1 <= reported <= current[0] else current[0]
    new = current if version == current[0] else _read(ssm, f"{parameter}:{version}")
    old = _read(ssm, f"{parameter}:{version - 1}") if version > 1 else None
    return (
        Edition.of(new[0], new[1]) if new is not None else None,
        Edition.of(old[0], old[1]) if old is not None else None,
    )


def change_notice(
    parameter: str, changed_by: str | None, when: datetime, new: Edition | None, old: Edition | None
) -> Notice:
    valid = new is not None and new.policy_version is not None
    subject = "Peering Autopilot: approval policy changed" + ("" if valid else " (INVALID: holding every request)")
    who = changed_by or "unknown (the CloudTrail record names no principal)"
    lines = [
        f"The approval policy parameter {parameter} was written"
        + (f" (parameter version {new.parameter_version})." if new is not None else "."),
        f"Changed by: {who} (CloudTrail, {when.isoformat()})",
        f"Policy version: {old.label if old is not None else 'none (no earlier version is kept)'} -> "
        f"{new.label if new is not None else 'unknown'}",
        "",
    ]
    if new is None:
        lines.append("The parameter cannot be read now (deleted since?): every request is held until it is back.")
    elif new.policy_version is None:
        lines += [
            "The new document does NOT validate: every request is held, nothing is accepted, until a",
            "valid document is published (python -m runner policy check, then policy publish).",
            f"Problem: {new.problem}",
        ]
    else:
        lines.append(f"The new document is valid ({new.rules} rule(s)); the functions use it within a minute.")
        lines += [f"WARNING: {warning}" for warning in new.warnings]
    lines += ["", f"Compare the two: aws ssm get-parameter-history --name {parameter}"]
    return Notice(subject, "\n".join(lines))


def notify_policy_change(event: Any, engine: Engine) -> dict[str, Any]:
    """Tell people the policy parameter changed: once per CloudTrail record."""
    settings = engine.settings
    parsed = parse_put_parameter(event, settings.policy_parameter, engine.aws.own_account)
    detail = parsed.detail
    logger.append_keys(cloudtrail_event_id=detail.event_id)
    new, old = read_change(engine.aws.hub("ssm"), settings.policy_parameter, detail.reported_version)
    valid = new is not None and new.policy_version is not None
    notice = change_notice(settings.policy_parameter, detail.changed_by, parsed.time, new, old)
    queued = engine.ledger.notice_once(
        (POLICY_CHANGE, detail.event_id),
        notice,
        {
            "parameter": {"S": settings.policy_parameter},
            "parameterVersion": {"N": str(new.parameter_version if new else 0)},
            "changedBy": {"S": detail.changed_by or "unknown"},
            "valid": {"BOOL": valid},
        },
    )
    flushed = engine.outbox.flush(POLICY_CHANGE)
    if queued:
        metrics.add_metric(name="PolicyChanges", unit=MetricUnit.Count, value=1)
        if not valid:
            metrics.add_metric(name="PolicyInvalid", unit=MetricUnit.Count, value=1)
    log = logger.info if valid else logger.error
    log(
        "policy change " + ("notified" if queued else "already notified"),
        extra={
            "parameter_version": new.parameter_version if new else None,
            "policy_version": new.policy_version if new else None,
            "previous_policy_version": old.policy_version if old else None,
            "changed_by": detail.changed_by,
            "valid": valid,
        },
    )
    return {
        "policyChange": {
            "parameter": settings.policy_parameter,
            "parameterVersion": new.parameter_version if new else None,
            "version": new.policy_version if new else None,
            "previousVersion": old.policy_version if old else None,
            "valid": valid,
            "changedBy": detail.changed_by,
            "notified": queued,
            "notificationsSent": flushed.sent,
        }
    }
