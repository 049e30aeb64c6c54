"""The EventBridge event an EC2 API call produces through CloudTrail ("AWS API Call via CloudTrail").

AWS delivers every mutating EC2 API call recorded by a trail to the default event bus of the
caller's account and Region, wrapped in an EventBridge envelope (``source`` ``aws.ec2``,
``detail-type`` ``AWS API Call via CloudTrail``, empty ``resources``) around the CloudTrail record
in ``detail``. Read-only calls (Describe*, Get*, List*) are never delivered.
https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-service-event.html

CloudTrail writes EC2 shapes with their wire names: lower camel case (``vpcPeeringConnectionId``),
the query/XML ``locationName`` where the service model has one (``tagSet``, ``cidrBlockSet``), lists
as ``{"items": [...]}`` and empty lists as ``{}``, timestamps as epoch milliseconds, a boolean
``Return`` member as ``_return``, and error codes of failed calls prefixed with ``Client.`` (see
events/README.md). Response names follow botocore's EC2 model when it is given; request parameter
names are the lower-camel parameter names ([U]: CloudTrail is irregular for a few list parameters,
e.g. ``tagSpecificationSet``; nothing in Peering Autopilot reads those).

Usage::

    from emulation.cloudtrail import api_call_event, cloudtrail_event

    event = cloudtrail_event("DeleteVpcPeeringConnection", account="222222222222", region="eu-west-1",
                             request_parameters={"vpcPeeringConnectionId": "pcx-0123456789abcdef0"},
                             response_elements={"_return": True})
    # or, from a boto3 call (its parameters and parsed response, with the operation model):
    event = api_call_event("CreateVpcPeeringConnection", params, response, account=..., region=...,
                           operation_model=client.meta.service_model.operation_model("CreateVpcPeeringConnection"))
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

__all__ = [
    "CLOUDTRAIL_DETAIL_TYPE",
    "EC2_EVENT_SOURCE",
    "api_call_event",
    "cloudtrail_event",
    "event_time",
    "is_read_only",
    "owner_copy",
    "request_shape",
    "response_shape",
]

CLOUDTRAIL_DETAIL_TYPE = "AWS API Call via CloudTrail"
EC2_EVENT_SOURCE = "ec2.amazonaws.com"
_READ_ONLY_PREFIXES = ("Describe", "Get", "List")


def event_time(when: datetime | None = None) -> str:
    """An event time as EventBridge and CloudTrail write it (UTC, seconds, ``Z``)."""
    moment = (when or datetime.now(UTC)).astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def is_read_only(operation_name: str) -> bool:
    """Describe/Get/List calls: recorded by CloudTrail but never delivered to EventBridge."""
    return operation_name.startswith(_READ_ONLY_PREFIXES)


def _lower_first(key: str) -> str:
    return key[:1].lower() + key[1:]


def _epoch_millis(value: datetime) -> int:
    moment = value if value.tzinfo else value.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def _items(values: list[Any]) -> dict[str, Any]:
    return {"items": values} if values else {}


def request_shape(value: Any) -> Any:
    """boto3 request parameters as CloudTrail writes them (lower camel case, lists in ``items``)."""
    if isinstance(value, Mapping):
        return {_lower_first(str(k)): request_shape(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return _items([request_shape(v) for v in value])
    if isinstance(value, datetime):
        return _epoch_millis(value)
    return value


def _member_name(key: str, member: Any) -> str:
    """The wire name of a response member (its locationName), ``Return`` written as ``_return``."""
    serialization = getattr(member, "serialization", None) or {}
    name = str(serialization.get("name") or _lower_first(key))
    return "_return" if name == "return" else name


def response_shape(value: Any, shape: Any = None) -> Any:
    """A parsed boto3 response as CloudTrail writes it, using the botocore shape's wire names."""
    kind = getattr(shape, "type_name", None)
    if isinstance(value, Mapping):
        members = getattr(shape, "members", {}) if kind == "structure" else {}
        out: dict[str, Any] = {}
        for key, item in value.items():
            member = members.get(key)
            out[_member_name(str(key), member)] = response_shape(item, member)
        return out
    if isinstance(value, list | tuple):
        element = getattr(shape, "member", None) if kind == "list" else None
        return _items([response_shape(v, element) for v in value])
    if isinstance(value, datetime):
        return _epoch_millis(value)
    return value


def cloudtrail_event(
    event_name: str,
    *,
    account: str,
    region: str,
    request_parameters: dict[str, Any] | None = None,
    response_elements: dict[str, Any] | None = None,
    error_code: str | None = None,
    error_message: str | None = None,
    time: str | None = None,
    user_identity: dict[str, Any] | None = None,
    event_source: str = EC2_EVENT_SOURCE,
    source: str = "aws.ec2",
    source_ip_address: str = "198.51.100.10",
    user_agent: str = "aws-cli/2",
    request_id: str | None = None,
) -> dict[str, Any]:
    """The EventBridge envelope of one CloudTrail record of an API call made in account/region.

    A failed call carries ``errorCode``/``errorMessage`` (give the code as CloudTrail writes it, e.g.
    ``Client.InvalidVpcID.NotFound``); its ``responseElements`` should then be None.
    """
    when = time or event_time()
    detail: dict[str, Any] = {
        "eventVersion": "1.09",
        "userIdentity": user_identity or {"type": "AssumedRole", "accountId": account},
        "eventTime": when,
        "eventSource": event_source,
        "eventName": event_name,
        "awsRegion": region,
        "sourceIPAddress": source_ip_address,
        "userAgent": user_agent,
        "requestParameters": request_parameters,
        "responseElements": response_elements,
        "requestID": request_id or str(uuid.uuid4()),
        "eventID": str(uuid.uuid4()),
        "readOnly": is_read_only(event_name),
        "eventType": "AwsApiCall",
        "managementEvent": True,
        "recipientAccountId": account,
        "eventCategory": "Management",
    }
    if error_code:
        detail["errorCode"] = error_code
        detail["errorMessage"] = error_message or "The request failed."
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": CLOUDTRAIL_DETAIL_TYPE,
        "source": source,
        "account": account,
        "time": when,
        "region": region,
        "resources": [],
        "detail": detail,
    }


def api_call_event(
    operation_name: str,
    params: Mapping[str, Any] | None,
    response: Mapping[str, Any] | None,
    *,
    account: str,
    region: str,
    operation_model: Any = None,
    error: tuple[str, str] | None = None,
    principal: str | None = None,
    time: str | None = None,
    user_agent: str | None = None,
) -> dict[str, Any]:
    """The event a boto3 EC2 call (its parameters and parsed response) produces through CloudTrail.

    ``error`` is (code, message) of a failed call as botocore reports it; CloudTrail prefixes client
    errors with ``Client.``. ``principal`` is an ARN for ``userIdentity`` (an assumed role);
    ``user_agent`` the caller's, when known.
    """
    body = dict(response or {})
    metadata = body.pop("ResponseMetadata", None) or {}
    request_id = str(metadata.get("RequestId") or uuid.uuid4())
    output_shape = getattr(operation_model, "output_shape", None)
    elements: dict[str, Any] | None = None
    if error is None:
        elements = {"requestId": request_id, **response_shape(body, output_shape)}
    identity: dict[str, Any] = {"type": "AssumedRole", "accountId": account}
    if principal:
        identity["arn"] = principal
    code = None
    if error is not None:
        code = error[0] if error[0].startswith(("Client.", "Server.")) else f"Client.{error[0]}"
    return cloudtrail_event(
        operation_name,
        account=account,
        region=region,
        request_parameters=request_shape(dict(params or {})) or None,
        response_elements=elements,
        error_code=code,
        error_message=error[1] if error else None,
        time=time,
        user_identity=identity,
        request_id=request_id,
        **({"user_agent": user_agent} if user_agent else {}),
    )


def owner_copy(event: Mapping[str, Any], owner_account: str) -> dict[str, Any]:
    """The copy of a cross-account call that CloudTrail delivers to the resource owner's account.

    CloudTrail records a call that acts on another account's resource in both accounts: the
    owner's copy has ``recipientAccountId`` = the owner (and arrives on the owner's default bus),
    keeps the caller in ``userIdentity.accountId``, and both copies share a ``sharedEventID``
    (EventBridge user guide, "AWS service events"; CloudTrail user guide, "sharedEventID").
    Returns the owner's copy; the caller's own event is left as it is.
    """
    detail = dict(event["detail"])
    shared = str(detail.get("sharedEventID") or uuid.uuid4())
    detail.update(recipientAccountId=owner_account, eventID=str(uuid.uuid4()), sharedEventID=shared)
    return {**event, "id": str(uuid.uuid4()), "account": owner_account, "detail": detail}
