"""Every sample in events/ parses to the hint it stands for; malformed events are refused.

The samples are found with a glob, so a new file in events/ is checked as soon as it is added:
its envelope, its name (``<eventName>__<variant>.json``, ``operator__<variant>.json`` or
``scheduled__<variant>.json``), that it parses with peering.core.events (with the parser of the function
it is meant for), and that it is listed in events/README.md.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import botocore.session
import pytest

from emulation import cloudtrail
from peering.core.cloudtrail_events import (
    CLOUDTRAIL_DETAIL_TYPE,
    ConnectionHint,
    VpcHint,
    connection_call_hint,
    create_request_hint,
    parse_api_call,
    vpc_call_hint,
)
from peering.core.errors import InvalidEventError, SkippedEventError
from peering.core.events import (
    APPROVE_DETAIL_TYPE,
    CONVERGE_DETAIL_TYPE,
    DECISION_DETAIL_TYPES,
    MAX_CONTINUATIONS,
    OPERATOR_SOURCE,
    REGION,
    REJECT_DETAIL_TYPE,
    SCHEDULED_DETAIL_TYPE,
    SWEEP_DETAIL_TYPE,
    ScheduledEvent,
    SweepRequestEvent,
    continuation_of,
    continued_event,
    parse_operator_event,
    parse_sweep_event,
)
from peering.core.policy_events import PutParameterEvent, parse_put_parameter

EVENTS = Path(__file__).resolve().parents[2] / "events"
#: every sample event (events/manifest.json is an index of the samples, not an event)
SAMPLES = sorted(p for p in EVENTS.glob("*.json") if p.name != "manifest.json")
CREATE = frozenset({"CreateVpcPeeringConnection"})
CONNECTION_CALLS = frozenset({"AcceptVpcPeeringConnection", "RejectVpcPeeringConnection", "DeleteVpcPeeringConnection"})
CIDR_CALLS = frozenset({"AssociateVpcCidrBlock", "DisassociateVpcCidrBlock"})
CONVERGE = frozenset({CONVERGE_DETAIL_TYPE})
HUB, PLATFORM, SANDBOX = "111111111111", "222222222222", "333333333333"
EAST, WEST = "us-east-1", "eu-west-1"


def load(name: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS / name).read_text())
    return event


def sample_ids(paths: list[Path]) -> list[str]:
    return [p.name for p in paths]


def is_cloudtrail(event: dict[str, Any]) -> bool:
    return event.get("source") == "aws.ec2"


def is_policy_change(event: dict[str, Any]) -> bool:
    return event.get("source") == "aws.ssm"


def is_operator(event: dict[str, Any]) -> bool:
    return event.get("source") == OPERATOR_SOURCE


def is_scheduled(event: dict[str, Any]) -> bool:
    return event.get("source") in {"aws.events", "aws.scheduler"}


def test_there_are_samples() -> None:
    names = {p.name for p in SAMPLES}
    assert {
        "CreateVpcPeeringConnection__same-account.json",
        "CreateVpcPeeringConnection__cross-account.json",
        "CreateVpcPeeringConnection__inter-region.json",
        "CreateVpcPeeringConnection__failed.json",
        "AcceptVpcPeeringConnection__same-account.json",
        "AcceptVpcPeeringConnection__cross-account.json",
        "AcceptVpcPeeringConnection__inter-region.json",
        "AssociateVpcCidrBlock__ipv4.json",
        "DisassociateVpcCidrBlock__ipv4.json",
        "RejectVpcPeeringConnection__accepter-side.json",
        "DeleteVpcPeeringConnection__requester-side.json",
        "DeleteVpcPeeringConnection__accepter-side.json",
        "scheduled__sweep.json",
        "operator__approve.json",
        "operator__reject.json",
        "operator__converge.json",
        "operator__sweep-dry-run.json",
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
    known = is_cloudtrail(event) or is_policy_change(event) or is_operator(event) or is_scheduled(event)
    assert known, f"{path.name}: no parser known for source {event['source']!r}"


@pytest.mark.parametrize("path", SAMPLES, ids=sample_ids(SAMPLES))
def test_sample_name_matches_its_content(path: Path) -> None:
    event = json.loads(path.read_text())
    prefix, sep, variant = path.stem.partition("__")
    assert sep, f"{path.name}: name it <eventName>__<variant>.json, operator__<variant>.json or scheduled__..."
    assert variant, f"{path.name}: the variant after __ is missing"
    if is_cloudtrail(event) or is_policy_change(event):
        assert prefix == event["detail"]["eventName"]
    elif is_scheduled(event):
        assert prefix == "scheduled"
    else:
        assert prefix == "operator"


@pytest.mark.parametrize("path", SAMPLES, ids=sample_ids(SAMPLES))
def test_sample_is_listed_in_the_readme(path: Path) -> None:
    assert f"`{path.name}`" in (EVENTS / "README.md").read_text()


CLOUDTRAIL_SAMPLES = [p for p in SAMPLES if is_cloudtrail(json.loads(p.read_text()))]
OPERATOR_SAMPLES = [p for p in SAMPLES if is_operator(json.loads(p.read_text()))]
SCHEDULED_SAMPLES = [p for p in SAMPLES if is_scheduled(json.loads(p.read_text()))]


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
                places=((HUB, "us-east-1"),),
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
                places=((HUB, "us-east-1"),),
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
                places=((SANDBOX, "eu-west-1"),),
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
# Accept, Reject, Delete: the connection named in the request, where the call was made
# ---------------------------------------------------------------------------------------------

CONNECTION_CALL_SAMPLES = [p for p in CLOUDTRAIL_SAMPLES if load(p.name)["detail"]["eventName"] in CONNECTION_CALLS]


@pytest.mark.parametrize("path", CONNECTION_CALL_SAMPLES, ids=sample_ids(CONNECTION_CALL_SAMPLES))
def test_connection_call_sample_hint_matches_its_request(path: Path) -> None:
    """Generic: the hint is the connection of requestParameters, in the caller's account and Region."""
    event = json.loads(path.read_text())
    hint = connection_call_hint(parse_api_call(event, CONNECTION_CALLS))
    assert hint.connection_id == event["detail"]["requestParameters"]["vpcPeeringConnectionId"]
    assert (hint.accepter_account, hint.accepter_region) == (event["account"], event["region"])
    assert (hint.requester_account, hint.requester_region) == (event["account"], event["region"])
    assert hint.event_name == event["detail"]["eventName"]
    assert hint.event_id == event["detail"]["eventID"]


def _call_hint(connection_id: str, account: str, region: str, event_name: str, event_id: str) -> ConnectionHint:
    return ConnectionHint(connection_id, account, region, account, region, event_name, event_id, ((account, region),))


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (
            "AcceptVpcPeeringConnection__same-account.json",
            _call_hint(
                "pcx-0a11aa11aa11aa111",
                HUB,
                EAST,
                "AcceptVpcPeeringConnection",
                "a4e1c7b2-9d3f-4e5a-b6c7-d8e9f0a1b2c3",
            ),
        ),
        (
            "AcceptVpcPeeringConnection__cross-account.json",
            _call_hint(
                "pcx-0b22bb22bb22bb222",
                HUB,
                EAST,
                "AcceptVpcPeeringConnection",
                "c2d4e6f8-0a1b-4c3d-9e5f-7a8b9c0d1e2f",
            ),
        ),
        (
            "AcceptVpcPeeringConnection__inter-region.json",
            _call_hint(
                "pcx-0d44dd44dd44dd444",
                SANDBOX,
                WEST,
                "AcceptVpcPeeringConnection",
                "f1e2d3c4-b5a6-4978-8695-a4b3c2d1e0f9",
            ),
        ),
        (
            "RejectVpcPeeringConnection__accepter-side.json",
            _call_hint(
                "pcx-0c33cc33cc33cc333",
                SANDBOX,
                WEST,
                "RejectVpcPeeringConnection",
                "0f1e2d3c-4b5a-4697-8877-a6b5c4d3e2f1",
            ),
        ),
        (
            "DeleteVpcPeeringConnection__requester-side.json",
            _call_hint(
                "pcx-0b22bb22bb22bb222",
                PLATFORM,
                EAST,
                "DeleteVpcPeeringConnection",
                "5b6c7d8e-9f0a-4b1c-8d2e-3f4a5b6c7d8e",
            ),
        ),
        (
            "DeleteVpcPeeringConnection__accepter-side.json",
            _call_hint(
                "pcx-0d44dd44dd44dd444",
                SANDBOX,
                WEST,
                "DeleteVpcPeeringConnection",
                "9e8d7c6b-5a4f-4e3d-8c2b-1a0f9e8d7c6b",
            ),
        ),
    ],
)
def test_connection_call_samples_give_the_expected_hint(name: str, expected: ConnectionHint) -> None:
    event = load(name)
    assert connection_call_hint(parse_api_call(event, frozenset({event["detail"]["eventName"]}))) == expected


ACCEPT_SAMPLES = [p for p in CONNECTION_CALL_SAMPLES if p.name.startswith("AcceptVpcPeeringConnection__")]


@pytest.mark.parametrize("path", ACCEPT_SAMPLES, ids=sample_ids(ACCEPT_SAMPLES))
def test_accept_sample_is_made_by_the_accepter_and_shows_provisioning(path: Path) -> None:
    event = json.loads(path.read_text())
    connection = event["detail"]["responseElements"]["vpcPeeringConnection"]
    assert connection["vpcPeeringConnectionId"] == event["detail"]["requestParameters"]["vpcPeeringConnectionId"]
    assert connection["status"] == {"code": "provisioning", "message": "Provisioning"}
    accepter = connection["accepterVpcInfo"]
    assert (accepter["ownerId"], accepter["region"]) == (event["account"], event["region"])
    assert "expirationTime" not in connection  # accepted: no expiry any more


def test_inter_region_accept_is_delivered_in_the_accepter_region() -> None:
    event = load("AcceptVpcPeeringConnection__inter-region.json")
    connection = event["detail"]["responseElements"]["vpcPeeringConnection"]
    assert connection["requesterVpcInfo"]["region"] == EAST
    assert (event["region"], event["detail"]["awsRegion"]) == (WEST, WEST)


@pytest.mark.parametrize(
    "name",
    ["RejectVpcPeeringConnection__accepter-side.json", *[p.name for p in CLOUDTRAIL_SAMPLES if "Delete" in p.name]],
)
def test_reject_and_delete_samples_return_true(name: str) -> None:
    response = load(name)["detail"]["responseElements"]
    assert response == {"requestId": load(name)["detail"]["requestID"], "_return": True}


@pytest.mark.parametrize("name", ["CreateVpcPeeringConnection", "AssociateVpcCidrBlock", "RunInstances"])
def test_connection_calls_refuse_other_event_names(name: str) -> None:
    event = _with(load("DeleteVpcPeeringConnection__requester-side.json"), name, "detail", "eventName")
    with pytest.raises(InvalidEventError, match="not handled here"):
        parse_api_call(event, CONNECTION_CALLS)


@pytest.mark.parametrize(
    "connection_id",
    [None, "", "pcx-", "pcx-0B22BB22BB22BB222", "vpc-02468ace13579bdf0", "pcx-../../x", ["pcx-0b22bb22bb22bb222"]],
    ids=repr,
)
def test_connection_call_with_a_malformed_connection_id_is_invalid(connection_id: Any) -> None:
    event = _with(
        load("RejectVpcPeeringConnection__accepter-side.json"),
        connection_id,
        "detail",
        "requestParameters",
        "vpcPeeringConnectionId",
    )
    with pytest.raises(InvalidEventError, match="connection id"):
        connection_call_hint(parse_api_call(event, CONNECTION_CALLS))


# ---------------------------------------------------------------------------------------------
# CIDR block associations: the VPC whose blocks changed
# ---------------------------------------------------------------------------------------------

CIDR_SAMPLES = [p for p in CLOUDTRAIL_SAMPLES if load(p.name)["detail"]["eventName"] in CIDR_CALLS]


@pytest.mark.parametrize("path", CIDR_SAMPLES, ids=sample_ids(CIDR_SAMPLES))
def test_cidr_sample_hint_is_the_vpc_of_the_response(path: Path) -> None:
    event = json.loads(path.read_text())
    hint = vpc_call_hint(parse_api_call(event, CIDR_CALLS))
    response = event["detail"]["responseElements"]
    assert hint == VpcHint(response["vpcId"], event["account"], event["region"])
    association = response["cidrBlockAssociation"]
    assert association["associationId"].startswith("vpc-cidr-assoc-")
    assert association["cidrBlockState"]["state"] in {"associating", "disassociating"}


def test_associate_sample() -> None:
    event = load("AssociateVpcCidrBlock__ipv4.json")
    assert vpc_call_hint(parse_api_call(event, CIDR_CALLS)) == VpcHint("vpc-02468ace13579bdf0", PLATFORM, EAST)
    assert event["detail"]["requestParameters"] == {"vpcId": "vpc-02468ace13579bdf0", "cidrBlock": "10.22.0.0/16"}
    association = event["detail"]["responseElements"]["cidrBlockAssociation"]
    assert (association["cidrBlock"], association["cidrBlockState"]) == ("10.22.0.0/16", {"state": "associating"})


def test_disassociate_sample_names_the_vpc_only_in_its_response() -> None:
    event = load("DisassociateVpcCidrBlock__ipv4.json")
    assert set(event["detail"]["requestParameters"]) == {"associationId"}
    assert vpc_call_hint(parse_api_call(event, CIDR_CALLS)) == VpcHint("vpc-02468ace13579bdf0", PLATFORM, EAST)
    association = event["detail"]["responseElements"]["cidrBlockAssociation"]
    assert association["associationId"] == event["detail"]["requestParameters"]["associationId"]
    assert association["cidrBlockState"] == {"state": "disassociating"}


@pytest.mark.parametrize("vpc_id", [None, "", "vpc-", "subnet-0123456789abcdef0", "vpc-XYZ"], ids=repr)
def test_cidr_call_without_a_vpc_id_is_invalid(vpc_id: Any) -> None:
    event = _with(load("DisassociateVpcCidrBlock__ipv4.json"), vpc_id, "detail", "responseElements", "vpcId")
    with pytest.raises(InvalidEventError, match="VPC id"):
        vpc_call_hint(parse_api_call(event, CIDR_CALLS))


# ---------------------------------------------------------------------------------------------
# Operator events
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", OPERATOR_SAMPLES, ids=sample_ids(OPERATOR_SAMPLES))
def test_operator_sample_parses(path: Path) -> None:
    """Each with the parser of the function its detail-type is routed to."""
    event = json.loads(path.read_text())
    assert event["account"] == HUB, "operator events are honoured only from the hub account"
    detail_type = event["detail-type"]
    if detail_type == SWEEP_DETAIL_TYPE:
        sweep = parse_sweep_event(event)
        assert isinstance(sweep, SweepRequestEvent)
        assert (sweep.detail.account_id, sweep.detail.region) == (
            event["detail"]["accountId"],
            event["detail"]["region"],
        )
        return
    allowed = DECISION_DETAIL_TYPES if detail_type in DECISION_DETAIL_TYPES else CONVERGE
    parsed = parse_operator_event(event, allowed)
    assert parsed.detail_type == detail_type in {APPROVE_DETAIL_TYPE, REJECT_DETAIL_TYPE, CONVERGE_DETAIL_TYPE}
    assert parsed.account == HUB
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


def test_operator_converge_sample() -> None:
    parsed = parse_operator_event(load("operator__converge.json"), CONVERGE)
    assert parsed.detail_type == CONVERGE_DETAIL_TYPE
    detail = parsed.detail
    assert (detail.connection_id, detail.account_id, detail.region) == ("pcx-0b22bb22bb22bb222", HUB, EAST)
    assert detail.requested_by == "bob@example.com"
    assert detail.dry_run is None  # the deployment's setting


def test_operator_converge_is_not_a_decision() -> None:
    """The operator function (approve/reject) must not take a converge request for a decision."""
    with pytest.raises(InvalidEventError, match="not handled here"):
        parse_operator_event(load("operator__converge.json"))


def test_operator_sweep_dry_run_sample() -> None:
    parsed = parse_sweep_event(load("operator__sweep-dry-run.json"))
    assert isinstance(parsed, SweepRequestEvent)
    assert parsed.detail_type == SWEEP_DETAIL_TYPE
    assert parsed.account == HUB
    detail = parsed.detail
    assert (detail.account_id, detail.region, detail.dry_run) == (PLATFORM, EAST, True)
    assert detail.requested_by == "alice@example.com"


def test_operator_sweep_is_neither_a_decision_nor_a_converge_request() -> None:
    event = load("operator__sweep-dry-run.json")
    for allowed in (DECISION_DETAIL_TYPES, CONVERGE):
        with pytest.raises(InvalidEventError):
            parse_operator_event(event, allowed)


# ---------------------------------------------------------------------------------------------
# The schedule
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", SCHEDULED_SAMPLES, ids=sample_ids(SCHEDULED_SAMPLES))
def test_scheduled_sample_parses(path: Path) -> None:
    event = json.loads(path.read_text())
    parsed = parse_sweep_event(event)
    assert isinstance(parsed, ScheduledEvent)
    assert parsed.detail_type == SCHEDULED_DETAIL_TYPE
    assert event["detail"] == {}
    assert [arn.split(":rule/")[0] for arn in event["resources"]] == [
        f"arn:aws:events:{event['region']}:{event['account']}"
    ]


def test_scheduled_sweep_sample() -> None:
    parsed = parse_sweep_event(load("scheduled__sweep.json"))
    assert isinstance(parsed, ScheduledEvent)
    assert (parsed.source, parsed.account, parsed.region) == ("aws.events", HUB, EAST)
    assert parsed.resources[0].startswith("arn:aws:events:us-east-1:111111111111:rule/peering-autopilot-")


def test_a_scheduled_event_is_not_an_operator_or_cloudtrail_event() -> None:
    event = load("scheduled__sweep.json")
    with pytest.raises(InvalidEventError):
        parse_operator_event(event)
    with pytest.raises(InvalidEventError):
        parse_api_call(event, CREATE)


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
    with pytest.raises(InvalidEventError, match="vpcPeeringConnection"):
        create_request_hint(parse_api_call(event, CREATE))


def test_create_whose_connection_is_not_an_object_is_invalid() -> None:
    event = _with(CROSS, "oops", *CONNECTION_PATH)
    with pytest.raises(InvalidEventError):
        create_request_hint(parse_api_call(event, CREATE))


@pytest.mark.parametrize("region", ["eu-west-1.attacker.example", "Mars", ["eu-west-1"]], ids=repr)
def test_create_with_a_malformed_accepter_region_is_invalid(region: Any) -> None:
    inter = load("CreateVpcPeeringConnection__inter-region.json")
    event = _with(inter, region, *CONNECTION_PATH, "accepterVpcInfo", "region")
    with pytest.raises(InvalidEventError):
        create_request_hint(parse_api_call(event, CREATE))


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


# ---------------------------------------------------------------------------------------------
# Ids wherever CloudTrail puts them; the caller's place for the owner's copy; strict formats
# ---------------------------------------------------------------------------------------------

PCX_ID = "pcx-0b22bb22bb22bb222"


@pytest.mark.parametrize(
    "request_parameters",
    [
        {"vpcPeeringConnectionId": PCX_ID},  # flat, as real records of Accept and Delete
        {"VpcPeeringConnectionId": PCX_ID},  # another casing
        {"DeleteVpcPeeringConnectionRequest": {"VpcPeeringConnectionId": PCX_ID}},  # wrapped
        {"DelVpcPeerConnReq": {"vpcPeeringConnectionId": PCX_ID}},  # wrapped, abbreviated
        {"RejectVpcPeeringConnectionRequest": {"inner": [{"VPCPEERINGCONNECTIONID": PCX_ID}]}},  # deeper
    ],
    ids=["flat", "upper-camel", "wrapped", "abbreviated", "nested-list"],
)
def test_the_connection_id_is_found_in_any_wrapper_and_casing(request_parameters: dict[str, Any]) -> None:
    event = load("DeleteVpcPeeringConnection__requester-side.json")
    event["detail"]["requestParameters"] = request_parameters
    assert connection_call_hint(parse_api_call(event, CONNECTION_CALLS)).connection_id == PCX_ID


def test_the_connection_id_is_found_in_a_wrapped_response_when_the_request_lacks_it() -> None:
    event = load("DeleteVpcPeeringConnection__requester-side.json")
    event["detail"]["requestParameters"] = {"DelVpcPeerConnReq": {}}
    event["detail"]["responseElements"] = {"DeleteVpcPeeringConnectionResponse": {"vpcPeeringConnectionId": PCX_ID}}
    assert connection_call_hint(parse_api_call(event, CONNECTION_CALLS)).connection_id == PCX_ID


def test_a_wrapped_create_response_is_read() -> None:
    event = load("CreateVpcPeeringConnection__cross-account.json")
    connection = event["detail"]["responseElements"].pop("vpcPeeringConnection")
    event["detail"]["responseElements"]["CreateVpcPeeringConnectionResponse"] = {"VpcPeeringConnection": connection}
    hint = create_request_hint(parse_api_call(event, CREATE))
    assert (hint.connection_id, hint.accepter_account) == ("pcx-0b22bb22bb22bb222", HUB)


def test_a_wrapped_vpc_id_is_read() -> None:
    event = load("AssociateVpcCidrBlock__ipv4.json")
    vpc_id = event["detail"]["requestParameters"].pop("vpcId")
    event["detail"]["requestParameters"]["AssociateVpcCidrBlockRequest"] = {"VpcId": vpc_id}
    event["detail"]["responseElements"] = {"AssociateVpcCidrBlockResponse": {"requestId": "r"}}
    assert vpc_call_hint(parse_api_call(event, frozenset({"AssociateVpcCidrBlock"}))).vpc_id == vpc_id


def test_the_owners_copy_of_a_cross_account_call_points_at_the_caller() -> None:
    """The owner's copy names the owner as recipient; the call was made, and is visible, at the caller."""
    caller = load("AcceptVpcPeeringConnection__inter-region.json")
    owner = "999999999999"
    copy = cloudtrail.owner_copy(caller, owner)
    assert copy["detail"]["recipientAccountId"] == owner
    assert copy["detail"]["sharedEventID"]

    original = connection_call_hint(parse_api_call(caller, CONNECTION_CALLS))
    copied = connection_call_hint(parse_api_call(copy, CONNECTION_CALLS))

    assert copied.places[0] == original.places[0]  # the same place first: one decision, no retry storm
    assert copied.places[1] == (owner, caller["detail"]["awsRegion"])  # then the owner's own account


FULLWIDTH_DIGITS = "".join(chr(0xFF10 + int(d)) for d in "123456789012")
ARABIC_INDIC_DIGITS = "".join(chr(0x0660 + int(d)) for d in "123456789012")


@pytest.mark.parametrize("account", [FULLWIDTH_DIGITS, ARABIC_INDIC_DIGITS, "12345678901", "1234567890123"])
def test_account_ids_are_twelve_ascii_digits(account: str) -> None:
    event = load("AcceptVpcPeeringConnection__same-account.json")
    event["account"] = account
    with pytest.raises(InvalidEventError):
        parse_api_call(event, CONNECTION_CALLS)


@pytest.mark.parametrize(
    "region", ["xx-nowhere-1", "us-east-0", "US-EAST-1", "moon-base-1", "us-middle-1", "us-gov-upward-1"]
)
def test_made_up_regions_are_refused(region: str) -> None:
    event = load("AcceptVpcPeeringConnection__same-account.json")
    event["detail"]["awsRegion"] = region
    with pytest.raises(InvalidEventError):
        parse_api_call(event, CONNECTION_CALLS)


@pytest.mark.parametrize("region", ["us-east-1", "eu-central-2", "ap-southeast-5", "us-gov-west-1", "il-central-1"])
def test_real_regions_are_accepted(region: str) -> None:
    event = load("AcceptVpcPeeringConnection__same-account.json")
    event["detail"]["awsRegion"] = region
    assert parse_api_call(event, CONNECTION_CALLS).detail.aws_region == region


@pytest.mark.parametrize("requested_by", ["alice\x00", "bob\nsmith", "\x1b[31mred", "", "x" * 129, "a;b"])
def test_requested_by_must_be_a_plain_name(requested_by: str) -> None:
    event = {
        "version": "0",
        "id": "1",
        "detail-type": "Approve Peering Request",
        "source": "peering-autopilot.operator",
        "account": HUB,
        "time": "2026-11-26T10:00:00Z",
        "region": "us-east-1",
        "resources": [],
        "detail": {"connectionId": PCX_ID, "requestedBy": requested_by},
    }
    with pytest.raises(InvalidEventError):
        parse_operator_event(event)


# ---------------------------------------------------------------------------------------------
# Strict types: nothing is coerced, and a refusal says what and where
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "event",
    [
        pytest.param(_with(APPROVE, 1, "detail", "dryRun"), id="dryRun 1"),
        pytest.param(_with(APPROVE, "true", "detail", "dryRun"), id="dryRun 'true'"),
        pytest.param(_with(APPROVE, 1764496800, "time"), id="time as a number"),
        pytest.param(_with(APPROVE, "1764496800", "time"), id="time as digits"),
        pytest.param(_with(APPROVE, None, "detail", "requestedBy"), id="requestedBy null"),
        pytest.param(_with(APPROVE, ["pcx-0b22bb22bb22bb222"], "detail", "connectionId"), id="connectionId list"),
    ],
)
def test_operator_values_are_never_coerced(event: dict[str, Any]) -> None:
    with pytest.raises(InvalidEventError):
        parse_operator_event(event)


def test_a_scheduled_event_names_a_real_account() -> None:
    with pytest.raises(InvalidEventError, match="account"):
        parse_sweep_event(_with(load("scheduled__sweep.json"), "not-an-account", "account"))


def test_a_refusal_names_every_problem_and_where_it_is() -> None:
    event = _with(_with(APPROVE, "pcx-XYZ", "detail", "connectionId"), True, "detail", "force")
    event = _without(event, "time")
    with pytest.raises(InvalidEventError) as refused:
        parse_operator_event(event)
    message = str(refused.value)
    assert message.startswith("not a valid OperatorEvent: ")
    assert "time: required" in message
    assert "detail.connectionId: must be a connection id" in message
    assert "detail.'force': is not a field of this event" in message


def test_a_refusal_of_a_huge_event_stays_short() -> None:
    event = copy.deepcopy(APPROVE)
    event["detail"].update({f"field{n}": "x" * 10_000 for n in range(1000)})
    with pytest.raises(InvalidEventError, match="and 990 more") as refused:
        parse_operator_event(event)
    assert len(str(refused.value)) < 2000


def test_the_scheduler_empty_detail_string_is_an_empty_detail() -> None:
    event = _with(_with(load("scheduled__sweep.json"), "aws.scheduler", "source"), "{}", "detail")
    parsed = parse_sweep_event(event)
    assert isinstance(parsed, ScheduledEvent)
    assert parsed.detail == {}


# ---------------------------------------------------------------------------------------------
# A write to the approval policy parameter (the sweep function notifies it)
# ---------------------------------------------------------------------------------------------

POLICY_PARAMETER = "/peering-autopilot/policy"
POLICY_SAMPLES = [p for p in SAMPLES if is_policy_change(json.loads(p.read_text()))]


@pytest.mark.parametrize("path", POLICY_SAMPLES, ids=sample_ids(POLICY_SAMPLES))
def test_policy_change_sample_parses(path: Path) -> None:
    event = json.loads(path.read_text())
    parsed = parse_put_parameter(event, POLICY_PARAMETER, HUB)
    assert isinstance(parsed, PutParameterEvent)
    assert parsed.detail.event_id == event["detail"]["eventID"]
    assert parsed.detail.changed_by == "arn:aws:sts::111111111111:assumed-role/NetworkAdmin/alice"
    assert parsed.detail.reported_version == 2
    assert event["detail"]["recipientAccountId"] == event["account"] == HUB


def _policy_write(**detail: Any) -> dict[str, Any]:
    event = load("PutParameter__policy.json")
    event["detail"].update(detail)
    return event


@pytest.mark.parametrize(
    ("event", "parameter", "error", "message"),
    [
        (_policy_write(requestParameters={"name": "/team/other"}), POLICY_PARAMETER, InvalidEventError, "not on"),
        (_policy_write(errorCode="AccessDenied", errorMessage="no"), POLICY_PARAMETER, SkippedEventError, "failed"),
        ({**load("PutParameter__policy.json"), "account": PLATFORM}, POLICY_PARAMETER, InvalidEventError, "account"),
        (_policy_write(eventID="../../etc"), POLICY_PARAMETER, InvalidEventError, "detail.eventID"),
        (_policy_write(eventName="DeleteParameter"), POLICY_PARAMETER, InvalidEventError, "detail.eventName"),
        (_policy_write(eventSource="ec2.amazonaws.com"), POLICY_PARAMETER, InvalidEventError, "eventSource"),
        ({**load("PutParameter__policy.json"), "source": "aws.ec2"}, POLICY_PARAMETER, InvalidEventError, "source"),
        (_policy_write(requestParameters=None), POLICY_PARAMETER, InvalidEventError, "requestParameters"),
        (load("PutParameter__policy.json"), "/other/policy", InvalidEventError, "not on the policy parameter"),
    ],
)
def test_a_policy_write_event_that_is_not_one_is_refused(
    event: dict[str, Any], parameter: str, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        parse_put_parameter(event, parameter, HUB)


def test_an_odd_writer_is_shown_escaped_never_as_is() -> None:
    event = _policy_write(userIdentity={"type": "AssumedRole", "arn": "arn:aws:sts::111111111111:x\n$ curl evil"})
    shown = parse_put_parameter(event, POLICY_PARAMETER, HUB).detail.changed_by
    assert shown == "arn:aws:sts::111111111111:x\\u000a$ curl evil"
    service = _policy_write(userIdentity={"type": "AWSService", "invokedBy": "cloudformation.amazonaws.com"})
    assert parse_put_parameter(service, POLICY_PARAMETER, HUB).detail.changed_by == "cloudformation.amazonaws.com"


# Region names: every partition's, and nothing else
# ---------------------------------------------------------------------------------------------


def botocore_regions() -> list[str]:
    """Every Region of every partition botocore knows (its endpoints.json), e.g. aws-iso-f, aws-eusc."""
    data = botocore.session.get_session().get_data("endpoints")
    return sorted(region for partition in data["partitions"] for region in partition["regions"])


REAL_REGIONS = [
    # aws
    "us-east-1", "us-west-2", "eu-central-2", "ap-southeast-7", "sa-east-1", "ca-west-1", "me-central-1",
    "af-south-1", "il-central-1", "mx-central-1",
    # aws-cn, aws-us-gov, aws-iso, aws-iso-b, aws-iso-e, aws-iso-f, European Sovereign Cloud
    "cn-north-1", "cn-northwest-1", "us-gov-west-1", "us-gov-east-1", "us-iso-east-1", "us-isob-east-1",
    "eu-isoe-west-1", "us-isof-south-1", "eusc-de-east-1",
]  # fmt: skip


@pytest.mark.parametrize("region", sorted({*REAL_REGIONS, *botocore_regions()}))
def test_every_partitions_region_is_a_region(region: str) -> None:
    assert re.fullmatch(REGION, region)


@pytest.mark.parametrize(
    "junk",
    ["", "../", "../../etc", "US-EAST-1", "us-east-1\n", "us-east", "us_east_1", "us-east-1a", "us-east-123",
     "u-east-1", "us-east-" + "1" * 3, "us-" + "a" * 58 + "-1", "a" * 64, "us-east-" + chr(0x0661)],
    ids=repr,
)  # fmt: skip
def test_junk_is_not_a_region(junk: str) -> None:
    assert re.fullmatch(REGION, junk) is None


@pytest.mark.parametrize(
    "region", ["us-gov-west-1", "cn-north-1", "eusc-de-east-1", "us-isof-south-1", "nz-central-1", "in-south-1"]
)  # the last two: geographies AWS may open next
def test_a_record_from_another_partition_or_a_new_geography_parses(region: str) -> None:
    event = load("CreateVpcPeeringConnection__same-account.json")
    event["region"] = event["detail"]["awsRegion"] = region

    parsed = parse_api_call(event, CREATE)

    assert parsed.detail.aws_region == region


# --- continuations -----------------------------------------------------------------------------------


def test_an_event_that_is_not_a_continuation_is_handled_as_it_is() -> None:
    event = load("AcceptVpcPeeringConnection__same-account.json")

    assert continuation_of(event) == (event, 0)
    assert continuation_of("not even an object") == ("not even an object", 0)


def test_a_continuation_gives_back_its_event_and_how_many_runs_came_before() -> None:
    event = load("AcceptVpcPeeringConnection__same-account.json")

    assert continuation_of(continued_event(event, 1)) == (event, 1)
    assert continuation_of(continued_event(event, MAX_CONTINUATIONS)) == (event, MAX_CONTINUATIONS)


@pytest.mark.parametrize(
    "payload",
    [
        {"continuation": 0, "event": {}},
        {"continuation": MAX_CONTINUATIONS + 1, "event": {}},
        {"continuation": True, "event": {}},  # a bool is an int to Python, not a count
        {"continuation": 1.0, "event": {}},
        {"continuation": 1},
        {"continuation": 1, "event": "{}"},
        {"continuation": 1, "event": {"continuation": 1, "event": {}}},  # never nested
        {"continuation": 1, "event": {}, "account": "123456789012"},
    ],
)
def test_anything_else_claiming_to_be_a_continuation_is_refused(payload: dict[str, Any]) -> None:
    with pytest.raises(InvalidEventError, match="not a continuation"):
        continuation_of(payload)
