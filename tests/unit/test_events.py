"""Every sample in events/ parses to the hint it stands for; malformed events are refused.

The samples are found with a glob, so a new file in events/ is checked as soon as it is added:
its envelope, its name (``<eventName>__<variant>.json`` or ``operator__<variant>.json``), that it
parses with peering.events, and that it is listed in events/README.md.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from peering.errors import InvalidEventError, SkippedEventError
from peering.events import (
    APPROVE_DETAIL_TYPE,
    CLOUDTRAIL_DETAIL_TYPE,
    OPERATOR_SOURCE,
    REJECT_DETAIL_TYPE,
    ConnectionHint,
    create_request_hint,
    parse_api_call,
    parse_operator_event,
)

EVENTS = Path(__file__).resolve().parents[2] / "events"
SAMPLES = sorted(EVENTS.glob("*.json"))
CREATE = frozenset({"CreateVpcPeeringConnection"})
HUB, PLATFORM, SANDBOX = "111111111111", "222222222222", "333333333333"


def load(name: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS / name).read_text())
    return event


def sample_ids(paths: list[Path]) -> list[str]:
    return [p.name for p in paths]


def is_cloudtrail(event: dict[str, Any]) -> bool:
    return event.get("source") == "aws.ec2"


def is_operator(event: dict[str, Any]) -> bool:
    return event.get("source") == OPERATOR_SOURCE


def test_there_are_samples() -> None:
    names = {p.name for p in SAMPLES}
    assert {
        "CreateVpcPeeringConnection__same-account.json",
        "CreateVpcPeeringConnection__cross-account.json",
        "CreateVpcPeeringConnection__inter-region.json",
        "CreateVpcPeeringConnection__failed.json",
        "operator__approve.json",
        "operator__reject.json",
    } <= names


# ---------------------------------------------------------------------------------------------
# Every sample, whatever it is
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", SAMPLES, ids=sample_ids(SAMPLES))
def test_sample_is_an_eventbridge_envelope(path: Path) -> None:
    event = json.loads(path.read_text())
    assert set(event) >= {"version", "id", "detail-type", "source", "account", "time", "region", "resources", "detail"}
    assert event["version"] == "0"
    assert len(event["account"]) == 12
    assert event["account"].isdigit()
    assert event["region"] in {"us-east-1", "eu-west-1"}
    assert isinstance(event["resources"], list)
    assert is_cloudtrail(event) or is_operator(event), f"{path.name}: no parser known for source {event['source']!r}"


@pytest.mark.parametrize("path", SAMPLES, ids=sample_ids(SAMPLES))
def test_sample_name_matches_its_content(path: Path) -> None:
    event = json.loads(path.read_text())
    prefix, sep, variant = path.stem.partition("__")
    assert sep, f"{path.name}: name it <eventName>__<variant>.json or operator__<variant>.json"
    assert variant, f"{path.name}: the variant after __ is missing"
    if is_cloudtrail(event):
        assert prefix == event["detail"]["eventName"]
    else:
        assert prefix == "operator"


@pytest.mark.parametrize("path", SAMPLES, ids=sample_ids(SAMPLES))
def test_sample_is_listed_in_the_readme(path: Path) -> None:
    assert f"`{path.name}`" in (EVENTS / "README.md").read_text()


CLOUDTRAIL_SAMPLES = [p for p in SAMPLES if is_cloudtrail(json.loads(p.read_text()))]
OPERATOR_SAMPLES = [p for p in SAMPLES if is_operator(json.loads(p.read_text()))]


@pytest.mark.parametrize("path", CLOUDTRAIL_SAMPLES, ids=sample_ids(CLOUDTRAIL_SAMPLES))
def test_cloudtrail_sample_is_a_consistent_cloudtrail_record(path: Path) -> None:
    event = json.loads(path.read_text())
    detail = event["detail"]
    assert event["detail-type"] == CLOUDTRAIL_DETAIL_TYPE
    assert detail["eventSource"] == "ec2.amazonaws.com"
    assert detail["eventType"] == "AwsApiCall"
    assert detail["eventCategory"] == "Management"
    assert detail["managementEvent"] is True
    assert detail["readOnly"] is False
    # delivered in the caller's account and Region
    assert detail["recipientAccountId"] == event["account"] == detail["userIdentity"]["accountId"]
    assert detail["awsRegion"] == event["region"]
    assert detail["eventTime"] == event["time"]
    if "errorCode" in detail:
        assert detail["errorMessage"]
        assert detail.get("responseElements") is None
    else:
        assert detail["responseElements"]["requestId"] == detail["requestID"]


@pytest.mark.parametrize("path", CLOUDTRAIL_SAMPLES, ids=sample_ids(CLOUDTRAIL_SAMPLES))
def test_cloudtrail_sample_parses(path: Path) -> None:
    event = json.loads(path.read_text())
    name = event["detail"]["eventName"]
    if "errorCode" in event["detail"]:
        with pytest.raises(SkippedEventError, match=event["detail"]["errorCode"]):
            parse_api_call(event, frozenset({name}))
        return
    parsed = parse_api_call(event, frozenset({name}))
    assert parsed.detail.event_name == name
    assert parsed.detail.event_id == event["detail"]["eventID"]
    assert parsed.account == event["account"]


CREATE_SAMPLES = [
    p
    for p in CLOUDTRAIL_SAMPLES
    if p.name.startswith("CreateVpcPeeringConnection__") and "errorCode" not in load(p.name)["detail"]
]


@pytest.mark.parametrize("path", CREATE_SAMPLES, ids=sample_ids(CREATE_SAMPLES))
def test_create_sample_hint_matches_its_response(path: Path) -> None:
    """Generic: whatever the variant, the hint is what the response says about the new connection."""
    event = json.loads(path.read_text())
    connection = event["detail"]["responseElements"]["vpcPeeringConnection"]
    hint = create_request_hint(parse_api_call(event, CREATE))
    assert hint.connection_id == connection["vpcPeeringConnectionId"]
    assert hint.accepter_account == connection["accepterVpcInfo"]["ownerId"]
    assert hint.accepter_region == connection["accepterVpcInfo"]["region"]
    assert hint.requester_account == connection["requesterVpcInfo"]["ownerId"] == event["account"]
    assert hint.requester_region == connection["requesterVpcInfo"]["region"] == event["region"]
    assert hint.event_id == event["detail"]["eventID"]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (
            "CreateVpcPeeringConnection__same-account.json",
            ConnectionHint(
                connection_id="pcx-0a11aa11aa11aa111",
                accepter_account=HUB,
                accepter_region="us-east-1",
                requester_account=HUB,
                requester_region="us-east-1",
                event_name="CreateVpcPeeringConnection",
                event_id="bb16187c-2d63-49a8-9658-eb8df2a9978b",
            ),
        ),
        (
            "CreateVpcPeeringConnection__cross-account.json",
            ConnectionHint(
                connection_id="pcx-0b22bb22bb22bb222",
                accepter_account=HUB,
                accepter_region="us-east-1",
                requester_account=PLATFORM,
                requester_region="us-east-1",
                event_name="CreateVpcPeeringConnection",
                event_id="6be3ac56-d379-429e-94c5-f8f1b0aa2d1a",
            ),
        ),
        (
            "CreateVpcPeeringConnection__inter-region.json",
            ConnectionHint(
                connection_id="pcx-0c33cc33cc33cc333",
                accepter_account=SANDBOX,
                accepter_region="eu-west-1",
                requester_account=HUB,
                requester_region="us-east-1",
                event_name="CreateVpcPeeringConnection",
                event_id="18784e90-e8f5-461c-a16d-2b7409165710",
            ),
        ),
    ],
)
def test_create_samples_give_the_expected_hint(name: str, expected: ConnectionHint) -> None:
    assert create_request_hint(parse_api_call(load(name), CREATE)) == expected


def test_failed_create_is_skipped() -> None:
    with pytest.raises(SkippedEventError, match=r"Client\.InvalidVpcID\.NotFound"):
        parse_api_call(load("CreateVpcPeeringConnection__failed.json"), CREATE)


def test_hint_falls_back_to_request_parameters_when_the_response_lacks_the_accepter() -> None:
    event = load("CreateVpcPeeringConnection__inter-region.json")
    event = _without(event, *CONNECTION_PATH, "accepterVpcInfo")
    hint = create_request_hint(parse_api_call(event, CREATE))
    assert (hint.accepter_account, hint.accepter_region) == (SANDBOX, "eu-west-1")


def test_same_account_hint_without_peer_parameters_stays_in_the_callers_account_and_region() -> None:
    event = load("CreateVpcPeeringConnection__same-account.json")
    del event["detail"]["responseElements"]["vpcPeeringConnection"]["accepterVpcInfo"]
    hint = create_request_hint(parse_api_call(event, CREATE))
    assert (hint.accepter_account, hint.accepter_region) == (HUB, "us-east-1")


# ---------------------------------------------------------------------------------------------
# Operator events
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", OPERATOR_SAMPLES, ids=sample_ids(OPERATOR_SAMPLES))
def test_operator_sample_parses(path: Path) -> None:
    event = json.loads(path.read_text())
    parsed = parse_operator_event(event)
    assert parsed.detail_type in {APPROVE_DETAIL_TYPE, REJECT_DETAIL_TYPE}
    assert parsed.account == HUB, "operator events are honoured only from the hub account"
    assert parsed.detail.connection_id == event["detail"]["connectionId"]


def test_operator_approve_sample() -> None:
    parsed = parse_operator_event(load("operator__approve.json"))
    assert parsed.detail_type == APPROVE_DETAIL_TYPE
    detail = parsed.detail
    assert (detail.connection_id, detail.account_id, detail.region) == ("pcx-0b22bb22bb22bb222", HUB, "us-east-1")
    assert detail.requested_by == "alice@example.com"
    assert detail.comment.startswith("CHG-4711")


def test_operator_reject_sample_leaves_the_location_to_the_ledger() -> None:
    parsed = parse_operator_event(load("operator__reject.json"))
    assert parsed.detail_type == REJECT_DETAIL_TYPE
    detail = parsed.detail
    assert (detail.connection_id, detail.account_id, detail.region) == ("pcx-0c33cc33cc33cc333", None, None)
    assert detail.requested_by == "bob@example.com"


# ---------------------------------------------------------------------------------------------
# Refused events
# ---------------------------------------------------------------------------------------------


def _without(event: dict[str, Any], *path: str) -> dict[str, Any]:
    event = copy.deepcopy(event)
    target = event
    for key in path[:-1]:
        target = target[key]
    del target[path[-1]]
    return event


def _with(event: dict[str, Any], value: Any, *path: str) -> dict[str, Any]:
    event = copy.deepcopy(event)
    target = event
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return event


CROSS = load("CreateVpcPeeringConnection__cross-account.json")
CONNECTION_PATH = ("detail", "responseElements", "vpcPeeringConnection")
CONNECTION_ID_PATH = (*CONNECTION_PATH, "vpcPeeringConnectionId")
APPROVE = load("operator__approve.json")


@pytest.mark.parametrize("event", [None, "CreateVpcPeeringConnection", 42, [CROSS], b"{}"], ids=type)
def test_non_object_events_are_invalid(event: Any) -> None:
    with pytest.raises(InvalidEventError, match="JSON object"):
        parse_api_call(event, CREATE)
    with pytest.raises(InvalidEventError, match="JSON object"):
        parse_operator_event(event)


@pytest.mark.parametrize(
    "event",
    [
        pytest.param(_without(CROSS, "detail"), id="missing detail"),
        pytest.param(_with(CROSS, None, "detail"), id="null detail"),
        pytest.param(_with(CROSS, "aws.s3", "source"), id="wrong source"),
        pytest.param(_with(CROSS, OPERATOR_SOURCE, "source"), id="operator source"),
        pytest.param(_with(CROSS, "EC2 Instance State-change Notification", "detail-type"), id="wrong detail-type"),
        pytest.param(_with(CROSS, "AWS Console Sign In via CloudTrail", "detail-type"), id="console detail-type"),
        pytest.param(_with(CROSS, "s3.amazonaws.com", "detail", "eventSource"), id="wrong eventSource"),
        pytest.param(_without(CROSS, "detail", "eventSource"), id="missing eventSource"),
        pytest.param(_without(CROSS, "detail", "eventName"), id="missing eventName"),
        pytest.param(_with(CROSS, "Mars", "detail", "awsRegion"), id="bad awsRegion"),
        pytest.param(_with(CROSS, "2222", "account"), id="bad account"),
        pytest.param(_with(CROSS, "2222", "detail", "recipientAccountId"), id="bad recipientAccountId"),
        pytest.param(_without(CROSS, "id"), id="missing envelope id"),
        pytest.param(_with(CROSS, "yesterday", "time"), id="bad time"),
    ],
)
def test_malformed_cloudtrail_events_are_invalid(event: dict[str, Any]) -> None:
    with pytest.raises(InvalidEventError):
        parse_api_call(event, CREATE)


@pytest.mark.parametrize("name", ["AcceptVpcPeeringConnection", "DeleteVpcPeeringConnection", "RunInstances", ""])
def test_unexpected_event_name_is_invalid(name: str) -> None:
    with pytest.raises(InvalidEventError, match="not handled here"):
        parse_api_call(_with(CROSS, name, "detail", "eventName"), CREATE)


@pytest.mark.parametrize(
    "event",
    [
        pytest.param(_without(CROSS, *CONNECTION_ID_PATH), id="no id"),
        pytest.param(_with(CROSS, None, *CONNECTION_ID_PATH), id="null id"),
        pytest.param(_with(CROSS, "vpc-0e1f2a3b4c5d6e7f8", *CONNECTION_ID_PATH), id="not a pcx"),
        pytest.param(_without(CROSS, *CONNECTION_PATH), id="no connection"),
        pytest.param(_with(CROSS, None, "detail", "responseElements"), id="null responseElements"),
    ],
)
def test_create_without_a_connection_id_is_invalid(event: dict[str, Any]) -> None:
    with pytest.raises(InvalidEventError, match="vpcPeeringConnectionId"):
        create_request_hint(parse_api_call(event, CREATE))


# Known defects of peering/events.py (reported to the lead). strict: when fixed, these XPASS and
# fail, as a reminder to drop the marker.
_EVENTS_BUG = "peering.events.create_request_hint does not validate this yet (reported)"


@pytest.mark.xfail(raises=AttributeError, strict=True, reason=_EVENTS_BUG)
def test_create_whose_connection_is_not_an_object_is_invalid() -> None:
    event = _with(CROSS, "oops", *CONNECTION_PATH)
    with pytest.raises(InvalidEventError):
        create_request_hint(parse_api_call(event, CREATE))


@pytest.mark.xfail(strict=True, reason=_EVENTS_BUG)
@pytest.mark.parametrize("region", ["eu-west-1.attacker.example", "Mars", ["eu-west-1"]], ids=repr)
def test_create_with_a_malformed_accepter_region_is_invalid(region: Any) -> None:
    inter = load("CreateVpcPeeringConnection__inter-region.json")
    event = _with(inter, region, *CONNECTION_PATH, "accepterVpcInfo", "region")
    with pytest.raises(InvalidEventError):
        create_request_hint(parse_api_call(event, CREATE))


@pytest.mark.xfail(strict=True, reason=_EVENTS_BUG)
@pytest.mark.parametrize("connection_id", ["pcx-", "pcx-../../x", "pcx-0B22BB22BB22BB222"])
def test_create_with_a_malformed_connection_id_is_invalid(connection_id: str) -> None:
    event = _with(CROSS, connection_id, *CONNECTION_ID_PATH)
    with pytest.raises(InvalidEventError):
        create_request_hint(parse_api_call(event, CREATE))


@pytest.mark.parametrize("owner", ["1111", "not-an-account", "1111111111111"])
def test_create_with_a_malformed_accepter_account_is_invalid(owner: str) -> None:
    event = _with(CROSS, owner, *CONNECTION_PATH, "accepterVpcInfo", "ownerId")
    with pytest.raises(InvalidEventError, match="12-digit"):
        create_request_hint(parse_api_call(event, CREATE))


@pytest.mark.parametrize(
    "event",
    [
        pytest.param(_without(APPROVE, "detail"), id="missing detail"),
        pytest.param(_with(APPROVE, "aws.ec2", "source"), id="wrong source"),
        pytest.param(_with(APPROVE, "Delete Peering Connection", "detail-type"), id="wrong detail-type"),
        pytest.param(_with(APPROVE, CLOUDTRAIL_DETAIL_TYPE, "detail-type"), id="cloudtrail detail-type"),
        pytest.param(_without(APPROVE, "detail", "connectionId"), id="missing connectionId"),
        pytest.param(_with(APPROVE, "pcx-XYZ", "detail", "connectionId"), id="uppercase connectionId"),
        pytest.param(_with(APPROVE, "pcx-123", "detail", "connectionId"), id="short connectionId"),
        pytest.param(_with(APPROVE, "vpc-0b22bb22bb22bb222", "detail", "connectionId"), id="vpc id as connectionId"),
        pytest.param(_with(APPROVE, " pcx-0b22bb22bb22bb222", "detail", "connectionId"), id="padded connectionId"),
        pytest.param(_with(APPROVE, "11111111111", "detail", "accountId"), id="11-digit accountId"),
        pytest.param(_with(APPROVE, "arn:aws:iam::111111111111:root", "detail", "accountId"), id="arn as accountId"),
        pytest.param(_with(APPROVE, "US-EAST-1", "detail", "region"), id="bad region"),
        pytest.param(_with(APPROVE, "x" * 129, "detail", "requestedBy"), id="long requestedBy"),
        pytest.param(_with(APPROVE, "x" * 1025, "detail", "comment"), id="long comment"),
        pytest.param(_with(APPROVE, "1111", "account"), id="bad envelope account"),
        pytest.param(_with(APPROVE, True, "detail", "force"), id="extra field"),
        pytest.param(_with(APPROVE, "accept", "detail", "verdict"), id="extra verdict field"),
    ],
)
def test_malformed_operator_events_are_invalid(event: dict[str, Any]) -> None:
    with pytest.raises(InvalidEventError):
        parse_operator_event(event)


def test_a_cloudtrail_event_is_not_an_operator_event() -> None:
    with pytest.raises(InvalidEventError):
        parse_operator_event(CROSS)


def test_an_operator_event_is_not_a_cloudtrail_event() -> None:
    with pytest.raises(InvalidEventError):
        parse_api_call(APPROVE, CREATE)
