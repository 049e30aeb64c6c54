"""Typed models of the events the functions accept, and their parsing into engine inputs.

Event content is a *hint* about where to look (connection id, account, Region). Nothing in it is
used for a decision: the engine re-reads the connection from the EC2 API in the owner's account.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from pydantic import BaseModel, ConfigDict, Field, ValidationError

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
# A Region name as AWS forms them (geography, optional partition qualifier, direction, number);
# a made-up name never reaches an API call (it would fail as a connection error, and be retried).
REGION = (
    r"^(?:us|eu|ap|sa|ca|me|af|il|mx|cn)(?:-gov|-iso|-isob|-isoe|-isof)?"
    r"-(?:north|south|east|west|central|northeast|northwest|southeast|southwest)-[1-9]$"
)
# What a person may write as "requested by" (it becomes an EC2 tag value): letters, digits,
# spaces and the few punctuation marks EC2 tags allow; never control characters.
PRINCIPAL_NAME = r"^[\w .:/=+@-]{1,128}$"
FREE_TEXT = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"  # no control characters but newline and tab


class CloudTrailDetail(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="ignore", defer_build=True)

    event_source: Literal["ec2.amazonaws.com"] = Field(alias="eventSource")
    event_name: str = Field(alias="eventName")
    aws_region: str = Field(alias="awsRegion", pattern=REGION)
    event_id: str | None = Field(default=None, alias="eventID")
    recipient_account_id: str | None = Field(default=None, alias="recipientAccountId", pattern=ACCOUNT_ID)
    # Who called: for a cross-account call CloudTrail also delivers a copy to the resource owner,
    # whose recipientAccountId is the owner, not the caller (the copy has a sharedEventID).
    user_identity: dict[str, Any] | None = Field(default=None, alias="userIdentity")
    shared_event_id: str | None = Field(default=None, alias="sharedEventID")
    error_code: str | None = Field(default=None, alias="errorCode")
    error_message: str | None = Field(default=None, alias="errorMessage")
    request_parameters: dict[str, Any] | None = Field(default=None, alias="requestParameters")
    response_elements: dict[str, Any] | None = Field(default=None, alias="responseElements")


class CloudTrailApiCallEvent(EventBridgeModel):
    model_config = ConfigDict(defer_build=True)
    source: Literal["aws.ec2"]
    detail_type: Literal["AWS API Call via CloudTrail"] = Field(alias="detail-type")
    account: str = Field(pattern=ACCOUNT_ID)
    detail: CloudTrailDetail  # type: ignore[assignment]


class OperatorDetail(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="forbid", defer_build=True)

    connection_id: str = Field(alias="connectionId", pattern=CONNECTION_ID)
    # Where the accepter side lives. Optional: the ledger remembers it for requests it has seen.
    account_id: str | None = Field(default=None, alias="accountId", pattern=ACCOUNT_ID)
    region: str | None = Field(default=None, pattern=REGION)
    requested_by: str = Field(default="unknown", alias="requestedBy", pattern=PRINCIPAL_NAME)
    comment: str = Field(default="", max_length=1024, pattern=FREE_TEXT)
    dry_run: bool | None = Field(default=None, alias="dryRun")  # None: the deployment's setting


class OperatorEvent(EventBridgeModel):
    model_config = ConfigDict(defer_build=True)
    source: Literal["peering-autopilot.operator"]
    detail_type: Literal["Approve Peering Request", "Reject Peering Request", "Converge Peering Connection"] = Field(
        alias="detail-type"
    )
    account: str = Field(pattern=ACCOUNT_ID)
    detail: OperatorDetail  # type: ignore[assignment]


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


def _describe(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())


def _parse(model: type[EventBridgeModel], event: Any) -> Any:
    if not isinstance(event, dict):
        raise InvalidEventError(f"the event must be a JSON object, got {type(event).__name__}")
    try:
        return parse(event=event, model=model)
    except Exception as exc:  # powertools wraps pydantic errors in its own type
        cause = exc.__cause__ if isinstance(exc.__cause__, ValidationError) else exc
        detail = _describe(cause) if isinstance(cause, ValidationError) else str(exc)
        raise InvalidEventError(f"not a valid {model.__name__}: {detail}") from exc


def parse_api_call(event: Any, expected: frozenset[str]) -> CloudTrailApiCallEvent:
    """Validate a CloudTrail-via-EventBridge event for one of the ``expected`` EC2 API calls."""
    parsed: CloudTrailApiCallEvent = _parse(CloudTrailApiCallEvent, event)
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
    parsed: OperatorEvent = _parse(OperatorEvent, event)
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


class SweepRequestDetail(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="forbid", defer_build=True)

    account_id: str = Field(alias="accountId", pattern=ACCOUNT_ID)
    region: str = Field(pattern=REGION)
    requested_by: str = Field(default="unknown", alias="requestedBy", pattern=PRINCIPAL_NAME)
    dry_run: bool | None = Field(default=None, alias="dryRun")


class SweepRequestEvent(EventBridgeModel):
    model_config = ConfigDict(defer_build=True)
    """Operator asks for one account+Region to be swept now (optionally as a dry run)."""

    source: Literal["peering-autopilot.operator"]
    detail_type: Literal["Sweep Peering Connections"] = Field(alias="detail-type")
    account: str = Field(pattern=ACCOUNT_ID)
    detail: SweepRequestDetail  # type: ignore[assignment]


class ScheduledEvent(EventBridgeModel):
    model_config = ConfigDict(defer_build=True)
    source: Literal["aws.events", "aws.scheduler"]
    detail_type: Literal["Scheduled Event"] = Field(alias="detail-type")


def parse_sweep_event(event: Any) -> SweepRequestEvent | ScheduledEvent:
    if isinstance(event, dict) and event.get("source") == OPERATOR_SOURCE:
        request: SweepRequestEvent = _parse(SweepRequestEvent, event)
        return request
    scheduled: ScheduledEvent = _parse(ScheduledEvent, event)
    return scheduled
