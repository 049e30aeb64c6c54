"""CloudTrail's record of a write to the approval policy parameter (``PutParameter``, source
``aws.ssm``), parsed like every other event: who wrote and which parameter version the write made,
nothing else (the documents themselves are read from SSM by ``lifecycle/policy_change.py``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from peering.core.cloudtrail_events import CLOUDTRAIL_DETAIL_TYPE
from peering.core.errors import InvalidEventError, SkippedEventError
from peering.core.event_fields import EventBridgeEvent, _envelope, _Fields, _parse

SOURCE = "aws.ssm"
EVENT_NAME = "PutParameter"
EVENT_ID = r"^[0-9A-Za-z-]{1,64}$"  # CloudTrail event ids are UUIDs: safe in a ledger key
# An IAM or STS principal ARN as CloudTrail writes it (no spaces, no control characters).
PRINCIPAL_ARN = re.compile(r"arn:aws[a-z-]*:(?:iam|sts)::[0-9]{12}:[\w+=,.@/-]{1,512}", re.ASCII)


def _principal(identity: dict[str, Any]) -> str | None:
    """Who wrote, for the notice: the ARN CloudTrail recorded, or what it says instead, made safe
    to print (an unexpected value is shown cut short with its odd characters escaped)."""
    arn = identity.get("arn")
    if isinstance(arn, str) and PRINCIPAL_ARN.fullmatch(arn):
        return arn
    shown = arn if isinstance(arn, str) else identity.get("invokedBy") or identity.get("type")
    if not isinstance(shown, str):
        return None
    return "".join(c if c.isascii() and c.isprintable() else f"\\u{ord(c):04x}" for c in shown[:200])


@dataclass(frozen=True, kw_only=True)
class PutParameterDetail:
    event_id: str
    parameter: str
    changed_by: str | None
    reported_version: int | None  # responseElements.version: which version to read, nothing more
    error_code: str | None

    @classmethod
    def read(cls, fields: _Fields) -> PutParameterDetail:
        fields.text("eventSource", choices=frozenset({"ssm.amazonaws.com"}))
        fields.text("eventName", choices=frozenset({EVENT_NAME}))
        identity = fields.mapping("userIdentity") or {}
        response = fields.mapping("responseElements") or {}
        version = response.get("version")
        return cls(
            event_id=fields.text("eventID", pattern=EVENT_ID),
            parameter=fields.obj("requestParameters").text("name", max_length=2048),
            changed_by=_principal(identity),
            reported_version=version if isinstance(version, int) and not isinstance(version, bool) else None,
            error_code=fields.optional_text("errorCode"),
        )


@dataclass(frozen=True, kw_only=True)
class PutParameterEvent(EventBridgeEvent):
    detail: PutParameterDetail

    @classmethod
    def read(cls, fields: _Fields) -> PutParameterEvent:
        return cls(
            **_envelope(fields, frozenset({SOURCE}), frozenset({CLOUDTRAIL_DETAIL_TYPE})),
            detail=PutParameterDetail.read(fields.obj("detail")),
        )


def parse_put_parameter(event: Any, parameter: str, hub_account: str) -> PutParameterEvent:
    """The CloudTrail record of a successful PutParameter on the policy parameter, in the hub."""
    parsed = _parse(PutParameterEvent, event, PutParameterEvent.read)
    detail = parsed.detail
    if detail.parameter != parameter:
        raise InvalidEventError(f"PutParameter on {detail.parameter[:80]!r}, not on the policy parameter {parameter!r}")
    if parsed.account != hub_account:
        raise InvalidEventError(f"PutParameter in account {parsed.account}; the policy parameter is in {hub_account}")
    if detail.error_code:
        raise SkippedEventError(f"PutParameter failed in AWS ({detail.error_code[:80]!r}): the policy did not change")
    return parsed
