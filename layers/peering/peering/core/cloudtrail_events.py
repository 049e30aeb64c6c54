"""The EC2 API calls CloudTrail delivers through EventBridge: their model, and where each says a
connection (or a VPC) is.

Event content is a *hint* about where to look (connection id, account, Region). Nothing in it is
used for a decision: the engine re-reads the connection from the EC2 API in the owner's account.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from peering.core.errors import InvalidEventError, SkippedEventError
from peering.core.event_fields import (
    ACCOUNT_ID,
    CONNECTION_ID,
    REGION,
    VPC_ID,
    EventBridgeEvent,
    _envelope,
    _Fields,
    _parse,
)

CLOUDTRAIL_DETAIL_TYPE = "AWS API Call via CloudTrail"


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


# An IAM or STS principal's ARN as CloudTrail names the caller (userIdentity.arn).
_PRINCIPAL_ARN = r"^arn:aws[a-z-]*:(iam|sts)::\d{12}:[\w+=,.@/-]{1,512}$"


def caller_principal(event: CloudTrailApiCallEvent) -> str:
    """Who made the call, for the record (userIdentity.arn when it is an ARN, else the account):
    never a decision, only what the ledger says about who accepted a connection."""
    arn = _dig(event.detail.user_identity, "arn")
    if _valid(_PRINCIPAL_ARN, arn):
        return str(arn)
    return f"a principal of account {_caller_account(event)}"


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
