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
ACCOUNT_ID = r"^\d{12}$"
REGION = r"^[a-z]{2}(-[a-z]+)+-\d$"


class CloudTrailDetail(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    event_source: Literal["ec2.amazonaws.com"] = Field(alias="eventSource")
    event_name: str = Field(alias="eventName")
    aws_region: str = Field(alias="awsRegion", pattern=REGION)
    event_id: str | None = Field(default=None, alias="eventID")
    recipient_account_id: str | None = Field(default=None, alias="recipientAccountId", pattern=ACCOUNT_ID)
    error_code: str | None = Field(default=None, alias="errorCode")
    error_message: str | None = Field(default=None, alias="errorMessage")
    request_parameters: dict[str, Any] | None = Field(default=None, alias="requestParameters")
    response_elements: dict[str, Any] | None = Field(default=None, alias="responseElements")


class CloudTrailApiCallEvent(EventBridgeModel):
    source: Literal["aws.ec2"]
    detail_type: Literal["AWS API Call via CloudTrail"] = Field(alias="detail-type")
    account: str = Field(pattern=ACCOUNT_ID)
    detail: CloudTrailDetail  # type: ignore[assignment]


class OperatorDetail(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    connection_id: str = Field(alias="connectionId", pattern=CONNECTION_ID)
    # Where the accepter side lives. Optional: the ledger remembers it for requests it has seen.
    account_id: str | None = Field(default=None, alias="accountId", pattern=ACCOUNT_ID)
    region: str | None = Field(default=None, pattern=REGION)
    requested_by: str = Field(default="unknown", alias="requestedBy", max_length=128)
    comment: str = Field(default="", max_length=1024)
    dry_run: bool | None = Field(default=None, alias="dryRun")  # None: the deployment's setting


class OperatorEvent(EventBridgeModel):
    source: Literal["peering-autopilot.operator"]
    detail_type: Literal["Approve Peering Request", "Reject Peering Request", "Converge Peering Connection"] = Field(
        alias="detail-type"
    )
    account: str = Field(pattern=ACCOUNT_ID)
    detail: OperatorDetail  # type: ignore[assignment]


@dataclass(frozen=True)
class ConnectionHint:
    """Where an event says a connection is. Verified against the EC2 API before any use."""

    connection_id: str
    accepter_account: str
    accepter_region: str
    requester_account: str
    requester_region: str
    event_name: str
    event_id: str | None


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
    for key in path:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data


def _valid(pattern: str, value: Any) -> bool:
    return isinstance(value, str) and re.fullmatch(pattern, value) is not None


def create_request_hint(event: CloudTrailApiCallEvent) -> ConnectionHint:
    """Where a CreateVpcPeeringConnection says the new connection and its accepter are.

    Every value is checked against its format: the hint decides where the engine looks, so a
    malformed id or Region must be refused, not passed on to an API call.
    """
    detail = event.detail
    connection = _dig(detail.response_elements, "vpcPeeringConnection")
    if not isinstance(connection, dict):
        raise InvalidEventError("responseElements.vpcPeeringConnection is missing")
    connection_id = connection.get("vpcPeeringConnectionId")
    if not _valid(CONNECTION_ID, connection_id):
        raise InvalidEventError(
            f"responseElements.vpcPeeringConnection.vpcPeeringConnectionId {connection_id!r} is not a connection id"
        )
    params = detail.request_parameters or {}
    requester_account = detail.recipient_account_id or event.account
    accepter_account = _dig(connection, "accepterVpcInfo", "ownerId") or params.get("peerOwnerId") or requester_account
    accepter_region = _dig(connection, "accepterVpcInfo", "region") or params.get("peerRegion") or detail.aws_region
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
    params = detail.request_parameters or {}
    # Some newer EC2 calls are logged with their request wrapped (e.g. ModifyVpcPeeringConnection-
    # OptionsRequest.VpcPeeringConnectionId); accept both spellings.
    wrapped = params.get(f"{detail.event_name}Request")
    connection_id = params.get("vpcPeeringConnectionId") or (
        wrapped.get("VpcPeeringConnectionId") if isinstance(wrapped, dict) else None
    )
    if not _valid(CONNECTION_ID, connection_id):
        raise InvalidEventError(f"requestParameters.vpcPeeringConnectionId {connection_id!r} is not a connection id")
    account = detail.recipient_account_id or event.account
    return ConnectionHint(
        connection_id=str(connection_id),
        accepter_account=account,
        accepter_region=detail.aws_region,
        requester_account=account,
        requester_region=detail.aws_region,
        event_name=detail.event_name,
        event_id=detail.event_id,
    )


@dataclass(frozen=True)
class VpcHint:
    vpc_id: str
    account: str
    region: str


def vpc_call_hint(event: CloudTrailApiCallEvent) -> VpcHint:
    """The VPC whose CIDR blocks changed (Associate/DisassociateVpcCidrBlock)."""
    detail = event.detail
    vpc_id = (detail.request_parameters or {}).get("vpcId") or (detail.response_elements or {}).get("vpcId")
    if not _valid(VPC_ID, vpc_id):
        raise InvalidEventError("the VPC id is missing from requestParameters and responseElements")
    return VpcHint(vpc_id=str(vpc_id), account=detail.recipient_account_id or event.account, region=detail.aws_region)


class SweepRequestDetail(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    account_id: str = Field(alias="accountId", pattern=ACCOUNT_ID)
    region: str = Field(pattern=REGION)
    requested_by: str = Field(default="unknown", alias="requestedBy", max_length=128)
    dry_run: bool | None = Field(default=None, alias="dryRun")


class SweepRequestEvent(EventBridgeModel):
    """Operator asks for one account+Region to be swept now (optionally as a dry run)."""

    source: Literal["peering-autopilot.operator"]
    detail_type: Literal["Sweep Peering Connections"] = Field(alias="detail-type")
    account: str = Field(pattern=ACCOUNT_ID)
    detail: SweepRequestDetail  # type: ignore[assignment]


class ScheduledEvent(EventBridgeModel):
    source: Literal["aws.events", "aws.scheduler"]
    detail_type: Literal["Scheduled Event"] = Field(alias="detail-type")


def parse_sweep_event(event: Any) -> SweepRequestEvent | ScheduledEvent:
    if isinstance(event, dict) and event.get("source") == OPERATOR_SOURCE:
        request: SweepRequestEvent = _parse(SweepRequestEvent, event)
        return request
    scheduled: ScheduledEvent = _parse(ScheduledEvent, event)
    return scheduled
