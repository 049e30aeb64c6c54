"""Typed models of the events the functions accept, and their parsing into engine inputs.

Event content is a *hint* about where to look (connection id, account, Region). Nothing in it is
used for a decision: the engine re-reads the connection from the EC2 API in the owner's account.

The models are frozen dataclasses, validated field by field here rather than by pydantic: every
function parses its event on every invocation, and pydantic (with Powertools' parser models)
was the largest import of a cold start after boto3. Validation is strict: each field has one
JSON type (no coercion of "true" or 1 to a boolean, of a number to a timestamp), ids, accounts
and Regions match their formats, the project's own operator events may carry no unknown field,
and every problem is reported with where it is.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from peering.errors import InvalidEventError, SkippedEventError

CLOUDTRAIL_DETAIL_TYPE = "AWS API Call via CloudTrail"
OPERATOR_SOURCE = "peering-autopilot.operator"
APPROVE_DETAIL_TYPE = "Approve Peering Request"
REJECT_DETAIL_TYPE = "Reject Peering Request"
CONVERGE_DETAIL_TYPE = "Converge Peering Connection"
SWEEP_DETAIL_TYPE = "Sweep Peering Connections"
SCHEDULED_DETAIL_TYPE = "Scheduled Event"
DECISION_DETAIL_TYPES = frozenset({APPROVE_DETAIL_TYPE, REJECT_DETAIL_TYPE})

CONNECTION_ID = r"^pcx-(?:[0-9a-f]{8}|[0-9a-f]{17})$"  # AWS ids have 8 or 17 hex digits
VPC_ID = r"^vpc-(?:[0-9a-f]{8}|[0-9a-f]{17})$"
ACCOUNT_ID = r"^[0-9]{12}$"  # ASCII digits only (\d would take any Unicode digit)
# A Region name as every AWS partition forms them: a geography of 2 to 4 letters (us, cn, eusc),
# an optional qualifier (gov, iso, isob, isoe, isof, de), a compass direction and a number from 1:
# us-east-1, cn-north-1, us-gov-west-1, us-isob-east-1, eu-isoe-west-1, eusc-de-east-1 (every
# Region of botocore's endpoints.json is checked in tests/unit/test_events.py). A new geography or
# partition fits without a change here; a made-up name (a path, upper case, a long string, a
# direction no Region has) never reaches an API call.
REGION = (
    r"^[a-z]{2,4}(?:-[a-z]{2,4})?"
    r"-(?:north|south|east|west|central|northeast|northwest|southeast|southwest)-[1-9][0-9]?$"
)
# What a person may write as "requested by" (it becomes an EC2 tag value): letters, digits,
# spaces and the few punctuation marks EC2 tags allow; never control characters.
PRINCIPAL_NAME = r"^[\w .:/=+@-]{1,128}$"
FREE_TEXT = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"  # no control characters but newline and tab
MAX_COMMENT = 1024

#: what a value that does not match its pattern should have been, for the error message
_FORMAT_NAMES = {
    CONNECTION_ID: "a connection id (pcx- and 8 or 17 lowercase hex digits)",
    ACCOUNT_ID: "a 12-digit account id",
    REGION: "a Region name",
    PRINCIPAL_NAME: "a name of 1 to 128 letters, digits, spaces and . : / = + @ -",
    FREE_TEXT: "text without control characters",
}
_MISSING: Any = object()
Parsed = TypeVar("Parsed", bound="EventBridgeEvent")


def _shown(value: Any) -> str:
    """A value for an error message: its type and, cut short, its repr (hostile values can be huge)."""
    text = repr(value)
    return f"{type(value).__name__} {text[:40]}{'...' if len(text) > 40 else ''}"


class _Fields:
    """Reads the fields of one JSON object, noting every problem with where it is (``detail.region``).

    A field read with a problem gives a placeholder; the caller builds its model only when the
    whole event had none (``_parse``).
    """

    def __init__(self, data: dict[str, Any], where: str, problems: list[str]) -> None:
        self.data = data
        self.where = where
        self.problems = problems

    def _problem(self, key: str, message: str) -> None:
        self.problems.append(f"{self.where}{key}: {message}")

    def _get(self, key: str, default: Any) -> Any:
        value = self.data.get(key, _MISSING)
        if value is _MISSING and default is _MISSING:
            self._problem(key, "required")
        return value

    def text(
        self,
        key: str,
        *,
        default: str = _MISSING,
        pattern: str | None = None,
        choices: frozenset[str] | None = None,
        max_length: int | None = None,
    ) -> str:
        """A string: required, or ``default`` when absent (never null)."""
        value = self._get(key, default)
        if value is _MISSING:
            return default if isinstance(default, str) else ""
        return self._checked(key, value, pattern, choices, max_length) or ""

    def optional_text(self, key: str, *, pattern: str | None = None) -> str | None:
        """A string, or null or absent."""
        value = self.data.get(key)
        return None if value is None else self._checked(key, value, pattern, None, None)

    def _checked(
        self, key: str, value: Any, pattern: str | None, choices: frozenset[str] | None, max_length: int | None
    ) -> str | None:
        if not isinstance(value, str):
            self._problem(key, f"must be a string, not {_shown(value)}")
        elif choices is not None and value not in choices:
            self._problem(key, f"must be {' or '.join(repr(c) for c in sorted(choices))}, not {_shown(value)}")
        elif max_length is not None and len(value) > max_length:
            self._problem(key, f"must be at most {max_length} characters, not {len(value)}")
        elif pattern is not None and re.fullmatch(pattern, value) is None:
            self._problem(key, f"must be {_FORMAT_NAMES.get(pattern, pattern)}, not {_shown(value)}")
        else:
            return value
        return None

    def flag(self, key: str) -> bool | None:
        """true, false, or null/absent (the deployment's setting); never "true" or 1."""
        value = self.data.get(key)
        if value is None or isinstance(value, bool):
            return value
        self._problem(key, f"must be true, false or null, not {_shown(value)}")
        return None

    def mapping(self, key: str) -> dict[str, Any] | None:
        """An object, null or absent."""
        value = self.data.get(key)
        if value is None or _is_object(value):
            return value
        self._problem(key, f"must be an object or null, not {_shown(value)}")
        return None

    def obj(self, key: str) -> _Fields:
        """A required nested object, read in turn (an empty one stands in when it is wrong)."""
        value = self._get(key, _MISSING)
        if value is not _MISSING and not _is_object(value):
            self._problem(key, f"must be an object, not {_shown(value)}")
        return _Fields(value if _is_object(value) else {}, f"{self.where}{key}.", self.problems)

    def texts(self, key: str) -> tuple[str, ...]:
        """A required list of strings."""
        value = self._get(key, _MISSING)
        if value is _MISSING:
            return ()
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            self._problem(key, f"must be a list of strings, not {_shown(value)}")
            return ()
        return tuple(value)

    def timestamp(self, key: str) -> datetime:
        """A required ISO 8601 date and time ("2026-11-30T10:00:00Z")."""
        value = self._get(key, _MISSING)
        if value is _MISSING:
            return datetime.min
        try:
            if not isinstance(value, str):
                raise TypeError
            return datetime.fromisoformat(value)
        except (TypeError, ValueError):
            self._problem(key, f"must be an ISO 8601 date and time, not {_shown(value)}")
            return datetime.min

    def no_other_fields(self, known: frozenset[str]) -> None:
        """The project's own events: a field it does not know is a mistake (or a probe), never ignored."""
        for key in self.data:
            if key not in known:
                self._problem(repr(key)[:40], "is not a field of this event")


def _is_object(value: Any) -> bool:
    return isinstance(value, dict) and all(isinstance(key, str) for key in value)


_OPERATOR_FIELDS = frozenset({"connectionId", "accountId", "region", "requestedBy", "comment", "dryRun"})
_SWEEP_FIELDS = frozenset({"accountId", "region", "requestedBy", "dryRun"})
_MAX_PROBLEMS = 10  # an event with a thousand unknown fields needs no thousand-part message


@dataclass(frozen=True, kw_only=True)
class EventBridgeEvent:
    """The envelope EventBridge puts around every event (what Powertools' EventBridgeModel checked)."""

    version: str
    id: str
    source: str
    account: str
    time: datetime
    region: str
    resources: tuple[str, ...]
    detail_type: str
    replay_name: str | None = None


def _envelope(fields: _Fields, sources: frozenset[str], detail_types: frozenset[str]) -> dict[str, Any]:
    return {
        "version": fields.text("version"),
        "id": fields.text("id"),
        "source": fields.text("source", choices=sources),
        "account": fields.text("account", pattern=ACCOUNT_ID),
        "time": fields.timestamp("time"),
        "region": fields.text("region"),
        "resources": fields.texts("resources"),
        "detail_type": fields.text("detail-type", choices=detail_types),
        "replay_name": fields.optional_text("replay-name"),
    }


def _parse(model: type[EventBridgeEvent], event: Any, read: Callable[[_Fields], Parsed]) -> Parsed:
    """``read`` the event's fields into ``model``; InvalidEventError naming every problem found."""
    if not isinstance(event, dict):
        raise InvalidEventError(f"the event must be a JSON object, got {type(event).__name__}")
    problems: list[str] = []
    parsed = read(_Fields(event, "", problems))
    if problems:
        more = len(problems) - _MAX_PROBLEMS
        listed = "; ".join(problems[:_MAX_PROBLEMS]) + (f"; and {more} more" if more > 0 else "")
        raise InvalidEventError(f"not a valid {model.__name__}: {listed}")
    return parsed


@dataclass(frozen=True, kw_only=True)
class CloudTrailDetail:
    event_source: str
    event_name: str
    aws_region: str
    event_id: str | None = None
    recipient_account_id: str | None = None
    # Who called: for a cross-account call CloudTrail also delivers a copy to the resource owner,
    # whose recipientAccountId is the owner, not the caller (the copy has a sharedEventID).
    user_identity: dict[str, Any] | None = None
    shared_event_id: str | None = None
    error_code: str | None = None
    error_message: str | None = None
    request_parameters: dict[str, Any] | None = None
    response_elements: dict[str, Any] | None = None

    @classmethod
    def read(cls, fields: _Fields) -> CloudTrailDetail:
        # A CloudTrail record has many more fields: they are not read, so they are not checked.
        return cls(
            event_source=fields.text("eventSource", choices=frozenset({"ec2.amazonaws.com"})),
            event_name=fields.text("eventName"),
            aws_region=fields.text("awsRegion", pattern=REGION),
            event_id=fields.optional_text("eventID"),
            recipient_account_id=fields.optional_text("recipientAccountId", pattern=ACCOUNT_ID),
            user_identity=fields.mapping("userIdentity"),
            shared_event_id=fields.optional_text("sharedEventID"),
            error_code=fields.optional_text("errorCode"),
            error_message=fields.optional_text("errorMessage"),
            request_parameters=fields.mapping("requestParameters"),
            response_elements=fields.mapping("responseElements"),
        )


@dataclass(frozen=True, kw_only=True)
class CloudTrailApiCallEvent(EventBridgeEvent):
    detail: CloudTrailDetail

    @classmethod
    def read(cls, fields: _Fields) -> CloudTrailApiCallEvent:
        return cls(
            **_envelope(fields, frozenset({"aws.ec2"}), frozenset({CLOUDTRAIL_DETAIL_TYPE})),
            detail=CloudTrailDetail.read(fields.obj("detail")),
        )


@dataclass(frozen=True, kw_only=True)
class OperatorDetail:
    connection_id: str
    # Where the accepter side lives. Optional: the ledger remembers it for requests it has seen.
    account_id: str | None = None
    region: str | None = None
    requested_by: str = "unknown"
    comment: str = ""
    dry_run: bool | None = None  # None: the deployment's setting

    @classmethod
    def read(cls, fields: _Fields) -> OperatorDetail:
        fields.no_other_fields(_OPERATOR_FIELDS)
        return cls(
            connection_id=fields.text("connectionId", pattern=CONNECTION_ID),
            account_id=fields.optional_text("accountId", pattern=ACCOUNT_ID),
            region=fields.optional_text("region", pattern=REGION),
            requested_by=fields.text("requestedBy", default="unknown", pattern=PRINCIPAL_NAME),
            comment=fields.text("comment", default="", max_length=MAX_COMMENT, pattern=FREE_TEXT),
            dry_run=fields.flag("dryRun"),
        )


OPERATOR_DETAIL_TYPES = frozenset({APPROVE_DETAIL_TYPE, REJECT_DETAIL_TYPE, CONVERGE_DETAIL_TYPE})


@dataclass(frozen=True, kw_only=True)
class OperatorEvent(EventBridgeEvent):
    detail: OperatorDetail

    @classmethod
    def read(cls, fields: _Fields) -> OperatorEvent:
        return cls(
            **_envelope(fields, frozenset({OPERATOR_SOURCE}), OPERATOR_DETAIL_TYPES),
            detail=OperatorDetail.read(fields.obj("detail")),
        )


@dataclass(frozen=True)
class ConnectionHint:
    """Where an event says a connection is. Verified against the EC2 API before any use.

    ``places`` are the (account, Region) pairs to look in, in order: where the call was made (its
    caller sees the connection), then the account the record was delivered to, if another.
    """

    connection_id: str
    accepter_account: str
    accepter_region: str
    requester_account: str
    requester_region: str
    event_name: str
    event_id: str | None
    places: tuple[tuple[str, str], ...] = ()


def parse_api_call(event: Any, expected: frozenset[str]) -> CloudTrailApiCallEvent:
    """Validate a CloudTrail-via-EventBridge event for one of the ``expected`` EC2 API calls."""
    parsed = _parse(CloudTrailApiCallEvent, event, CloudTrailApiCallEvent.read)
    detail = parsed.detail
    if detail.event_name not in expected:
        raise InvalidEventError(
            f"eventName {detail.event_name!r} is not handled here (expected {', '.join(sorted(expected))})"
        )
    if detail.error_code:
        raise SkippedEventError(
            f"{detail.event_name} failed in AWS ({detail.error_code}: {detail.error_message or ''}); "
            "nothing changed, nothing to do"
        )
    return parsed


def _dig(data: Any, *path: str) -> Any:
    """``data[path[0]][path[1]]...``, keys compared without case, or None."""
    for key in path:
        if not isinstance(data, dict):
            return None
        data = next((v for k, v in data.items() if isinstance(k, str) and k.lower() == key.lower()), None)
    return data


def _find(data: Any, key: str, *, depth: int = 6) -> Any:
    """The first value under ``key`` (any case) anywhere in nested objects and lists.

    CloudTrail logs some EC2 calls flat (``requestParameters.vpcPeeringConnectionId``) and newer
    ones wrapped under internal, sometimes abbreviated names (``DelTGwVpcAttachReq``,
    ``...Response``): the id is found wherever it is, in whatever case.
    """
    if depth < 0:
        return None
    if isinstance(data, dict):
        direct = _dig(data, key)
        if direct is not None:
            return direct
        children: Any = data.values()
    elif isinstance(data, list):
        children = data
    else:
        return None
    for child in children:
        found = _find(child, key, depth=depth - 1)
        if found is not None:
            return found
    return None


def _caller_account(event: CloudTrailApiCallEvent) -> str:
    """The account that made the call: it, in ``awsRegion``, sees the connection.

    A copy delivered to the resource owner names the owner as recipient; ``userIdentity``
    still names the caller. Calls by an AWS service carry no account: the recipient is it.
    """
    detail = event.detail
    caller = _dig(detail.user_identity, "accountId")
    if _valid(ACCOUNT_ID, caller):
        return str(caller)
    return detail.recipient_account_id or event.account


def _places(event: CloudTrailApiCallEvent) -> tuple[tuple[str, str], ...]:
    detail = event.detail
    caller = _caller_account(event)
    recipient = detail.recipient_account_id or event.account
    places = [(caller, detail.aws_region)]
    if recipient != caller:
        places.append((recipient, detail.aws_region))
    return tuple(places)


def _valid(pattern: str, value: Any) -> bool:
    return isinstance(value, str) and re.fullmatch(pattern, value) is not None


def create_request_hint(event: CloudTrailApiCallEvent) -> ConnectionHint:
    """Where a CreateVpcPeeringConnection says the new connection and its accepter are.

    Every value is checked against its format: the hint decides where the engine looks, so a
    malformed id or Region must be refused, not passed on to an API call.
    """
    detail = event.detail
    connection = _find(detail.response_elements, "vpcPeeringConnection")
    if not isinstance(connection, dict):
        raise InvalidEventError("responseElements.vpcPeeringConnection is missing")
    connection_id = _dig(connection, "vpcPeeringConnectionId")
    if not _valid(CONNECTION_ID, connection_id):
        raise InvalidEventError(
            f"responseElements.vpcPeeringConnection.vpcPeeringConnectionId {connection_id!r} is not a connection id"
        )
    params = detail.request_parameters or {}
    requester_account = _caller_account(event)  # who created the request
    accepter_account = (
        _dig(connection, "accepterVpcInfo", "ownerId") or _find(params, "peerOwnerId") or requester_account
    )
    accepter_region = _dig(connection, "accepterVpcInfo", "region") or _find(params, "peerRegion") or detail.aws_region
    if not _valid(ACCOUNT_ID, accepter_account):
        raise InvalidEventError(f"accepter account {accepter_account!r} is not a 12-digit account id")
    if not _valid(REGION, accepter_region):
        raise InvalidEventError(f"accepter Region {accepter_region!r} is not a Region name")
    return ConnectionHint(
        connection_id=str(connection_id),
        accepter_account=str(accepter_account),
        accepter_region=str(accepter_region),
        requester_account=requester_account,
        requester_region=detail.aws_region,
        event_name=detail.event_name,
        event_id=detail.event_id,
        places=((str(accepter_account), str(accepter_region)),),
    )


def parse_operator_event(event: Any, allowed: frozenset[str] = DECISION_DETAIL_TYPES) -> OperatorEvent:
    parsed = _parse(OperatorEvent, event, OperatorEvent.read)
    if parsed.detail_type not in allowed:
        raise InvalidEventError(f"detail-type {parsed.detail_type!r} is not handled here")
    return parsed


def connection_call_hint(event: CloudTrailApiCallEvent) -> ConnectionHint:
    """Where an Accept/Reject/Delete/Modify...Options call says its connection is.

    The call was made in the caller's account and Region, which sees the connection: that is
    where the engine looks first (it then reads each side in its owner's account).
    """
    detail = event.detail
    connection_id = _find(detail.request_parameters, "vpcPeeringConnectionId") or _find(
        detail.response_elements, "vpcPeeringConnectionId"
    )
    if not _valid(CONNECTION_ID, connection_id):
        raise InvalidEventError(f"the connection id {connection_id!r} in the event is not a connection id")
    places = _places(event)
    account, region = places[0]
    return ConnectionHint(
        connection_id=str(connection_id),
        accepter_account=account,
        accepter_region=region,
        requester_account=account,
        requester_region=region,
        event_name=detail.event_name,
        event_id=detail.event_id,
        places=places,
    )


@dataclass(frozen=True)
class VpcHint:
    vpc_id: str
    account: str
    region: str


def vpc_call_hint(event: CloudTrailApiCallEvent) -> VpcHint:
    """The VPC whose CIDR blocks changed (Associate/DisassociateVpcCidrBlock)."""
    detail = event.detail
    vpc_id = _find(detail.request_parameters, "vpcId") or _find(detail.response_elements, "vpcId")
    if not _valid(VPC_ID, vpc_id):
        raise InvalidEventError("the VPC id is missing from requestParameters and responseElements")
    # Only the VPC's owner can associate blocks with it: the caller's account is the owner's.
    return VpcHint(vpc_id=str(vpc_id), account=_caller_account(event), region=detail.aws_region)


@dataclass(frozen=True, kw_only=True)
class SweepRequestDetail:
    account_id: str
    region: str
    requested_by: str = "unknown"
    dry_run: bool | None = None

    @classmethod
    def read(cls, fields: _Fields) -> SweepRequestDetail:
        fields.no_other_fields(_SWEEP_FIELDS)
        return cls(
            account_id=fields.text("accountId", pattern=ACCOUNT_ID),
            region=fields.text("region", pattern=REGION),
            requested_by=fields.text("requestedBy", default="unknown", pattern=PRINCIPAL_NAME),
            dry_run=fields.flag("dryRun"),
        )


@dataclass(frozen=True, kw_only=True)
class SweepRequestEvent(EventBridgeEvent):
    """Operator asks for one account+Region to be swept now (optionally as a dry run)."""

    detail: SweepRequestDetail

    @classmethod
    def read(cls, fields: _Fields) -> SweepRequestEvent:
        return cls(
            **_envelope(fields, frozenset({OPERATOR_SOURCE}), frozenset({SWEEP_DETAIL_TYPE})),
            detail=SweepRequestDetail.read(fields.obj("detail")),
        )


@dataclass(frozen=True, kw_only=True)
class ScheduledEvent(EventBridgeEvent):
    detail: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def read(cls, fields: _Fields) -> ScheduledEvent:
        envelope = _envelope(fields, frozenset({"aws.events", "aws.scheduler"}), frozenset({SCHEDULED_DETAIL_TYPE}))
        if envelope["source"] == "aws.scheduler" and fields.data.get("detail") == "{}":
            return cls(**envelope)  # EventBridge Scheduler sends "{}" (a string) when there is no payload
        return cls(**envelope, detail=fields.obj("detail").data)


def parse_sweep_event(event: Any) -> SweepRequestEvent | ScheduledEvent:
    if isinstance(event, dict) and event.get("source") == OPERATOR_SOURCE:
        return _parse(SweepRequestEvent, event, SweepRequestEvent.read)
    return _parse(ScheduledEvent, event, ScheduledEvent.read)
