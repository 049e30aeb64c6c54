"""emulation.cloudtrail: the envelope an EC2 call produces is what the functions parse."""

from __future__ import annotations

import json
from typing import Any

from emulation.cloudtrail import api_call_event, cloudtrail_event, request_shape
from emulation.server import MotoServer
from peering.core.cloudtrail_events import connection_call_hint, create_request_hint, parse_api_call
from tests.builders import cloudtrail_event as builders_cloudtrail_event
from tests.e2e.conftest import ROOT, client

CREATE = frozenset({"CreateVpcPeeringConnection"})


def created_between_accounts(server: MotoServer) -> tuple[Any, dict[str, Any], dict[str, Any]]:
    hub = client(server, "ec2")
    creds = client(server, "sts").assume_role(
        RoleArn="arn:aws:iam::222222222222:role/OrganizationAccountAccessRole", RoleSessionName="e2e-test"
    )["Credentials"]
    member = client(
        server,
        "ec2",
        "eu-west-1",
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
    )
    accepter = hub.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    requester = member.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
    member.create_tags(Resources=[requester], Tags=[{"Key": "Name", "Value": "app"}])
    params: dict[str, Any] = {
        "VpcId": requester,
        "PeerVpcId": accepter,
        "PeerOwnerId": "123456789012",
        "PeerRegion": "us-east-1",
    }
    response = member.create_vpc_peering_connection(
        **params,
        TagSpecifications=[
            {"ResourceType": "vpc-peering-connection", "Tags": [{"Key": "Name", "Value": "app-to-hub"}]}
        ],
    )
    return member, params, response


def test_create_event_has_cloudtrail_wire_names_and_parses_to_the_accepter(server: MotoServer) -> None:
    member, params, response = created_between_accounts(server)
    model = member.meta.service_model.operation_model("CreateVpcPeeringConnection")

    event = api_call_event(
        "CreateVpcPeeringConnection",
        params,
        response,
        account="222222222222",
        region="eu-west-1",
        operation_model=model,
    )

    connection = event["detail"]["responseElements"]["vpcPeeringConnection"]
    assert event["source"] == "aws.ec2"
    assert event["detail-type"] == "AWS API Call via CloudTrail"
    assert event["account"] == event["detail"]["recipientAccountId"] == "222222222222"
    assert event["detail"]["requestParameters"] == {
        "vpcId": params["VpcId"],
        "peerVpcId": params["PeerVpcId"],
        "peerOwnerId": "123456789012",
        "peerRegion": "us-east-1",
    }
    assert connection["requesterVpcInfo"]["cidrBlockSet"] == {"items": [{"cidrBlock": "10.20.0.0/16"}]}
    assert connection["requesterVpcInfo"]["ipv6CidrBlockSet"] == {}  # empty lists are written {}
    assert isinstance(connection["expirationTime"], int)  # epoch milliseconds
    assert connection["tagSet"] == {"items": [{"key": "Name", "value": "app-to-hub"}]}  # Tags' wire name
    assert event["detail"]["responseElements"]["requestId"]
    json.dumps(event)  # plain JSON, as EventBridge delivers it
    hint = create_request_hint(parse_api_call(event, CREATE))
    assert hint.connection_id == response["VpcPeeringConnection"]["VpcPeeringConnectionId"]
    assert (hint.accepter_account, hint.accepter_region) == ("123456789012", "us-east-1")
    assert (hint.requester_account, hint.requester_region) == ("222222222222", "eu-west-1")


def test_boolean_return_is_written_underscore_return(server: MotoServer) -> None:
    member, _, response = created_between_accounts(server)
    pcx = response["VpcPeeringConnection"]["VpcPeeringConnectionId"]
    answer = member.delete_vpc_peering_connection(VpcPeeringConnectionId=pcx)
    model = member.meta.service_model.operation_model("DeleteVpcPeeringConnection")

    event = api_call_event(
        "DeleteVpcPeeringConnection",
        {"VpcPeeringConnectionId": pcx},
        answer,
        account="222222222222",
        region="eu-west-1",
        operation_model=model,
    )

    assert event["detail"]["responseElements"]["_return"] is True
    hint = connection_call_hint(parse_api_call(event, frozenset({"DeleteVpcPeeringConnection"})))
    assert hint.connection_id == pcx


def test_a_failed_call_has_an_error_code_and_no_response() -> None:
    event = api_call_event(
        "CreateVpcPeeringConnection",
        {"VpcId": "vpc-0deadbeef0deadbee", "PeerVpcId": "vpc-0e1f2a3b4c5d6e7f8"},
        None,
        account="222222222222",
        region="us-east-1",
        error=("InvalidVpcID.NotFound", "The vpc ID 'vpc-0deadbeef0deadbee' does not exist"),
    )

    assert event["detail"]["errorCode"] == "Client.InvalidVpcID.NotFound"
    assert event["detail"]["responseElements"] is None


def test_it_has_the_shape_of_the_samples() -> None:
    sample = json.loads((ROOT / "events" / "CreateVpcPeeringConnection__same-account.json").read_text())
    built = cloudtrail_event("CreateVpcPeeringConnection", account="111111111111", region="us-east-1")

    assert set(built) == set(sample)
    assert set(built["detail"]) <= set(sample["detail"])


def test_the_test_builders_delegate_to_it() -> None:
    built = builders_cloudtrail_event("RejectVpcPeeringConnection", account="111111111111", region="us-east-1")
    assert built["time"] == built["detail"]["eventTime"] == "2026-11-26T10:00:00Z"
    assert set(built) == set(cloudtrail_event("X", account="111111111111", region="us-east-1"))


def test_request_parameters_are_lower_camel_case_with_items() -> None:
    assert request_shape({"Resources": ["pcx-1"], "Tags": [{"Key": "k", "Value": "v"}]}) == {
        "resources": {"items": ["pcx-1"]},
        "tags": {"items": [{"key": "k", "value": "v"}]},
    }
