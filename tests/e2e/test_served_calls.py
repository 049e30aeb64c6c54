"""A call any client makes, as the moto server records it (``--record-calls``), back into boto3's
parameters and parsed response (emulation.ec2_wire, as botocore's own serializer and parser write
and read them), and into the CloudTrail event of its caller (runner.world.ServedCallRecorder)."""

from __future__ import annotations

import urllib.parse
from typing import Any

import pytest
from botocore import serialize

from emulation.ec2_wire import decode_call, operation_model
from emulation.server import MotoServer
from runner.world import ServedCallRecorder
from tests.e2e.conftest import client

CALLS: list[tuple[str, dict[str, Any]]] = [
    (
        "CreateVpcPeeringConnection",
        {
            "VpcId": "vpc-1",
            "PeerVpcId": "vpc-2",
            "PeerOwnerId": "222222222222",
            "PeerRegion": "eu-west-1",
            "TagSpecifications": [{"ResourceType": "vpc-peering-connection", "Tags": [{"Key": "a", "Value": "b"}]}],
        },
    ),
    (
        "ModifyVpcPeeringConnectionOptions",
        {
            "VpcPeeringConnectionId": "pcx-1",
            "AccepterPeeringConnectionOptions": {"AllowDnsResolutionFromRemoteVpc": True},
        },
    ),
    (
        "CreateRoute",
        {"RouteTableId": "rtb-1", "DestinationCidrBlock": "10.0.0.0/16", "VpcPeeringConnectionId": "pcx-1"},
    ),
    ("DeleteVpcPeeringConnection", {"VpcPeeringConnectionId": "pcx-1", "DryRun": False}),
    ("AssociateVpcCidrBlock", {"VpcId": "vpc-1", "CidrBlock": "10.1.0.0/16", "Ipv6CidrBlockNetworkBorderGroup": "x"}),
]
ERROR = (
    b'<?xml version="1.0" encoding="UTF-8"?><Response><Errors><Error><Code>InvalidVpcPeeringConnectionID.NotFound'
    b"</Code><Message>The pcx does not exist</Message></Error></Errors><RequestID>r-1</RequestID></Response>"
)


def wire_body(operation: str, params: dict[str, Any]) -> str:
    model = operation_model(operation)
    assert model is not None
    body = serialize.create_serializer("ec2").serialize_to_request(params, model)["body"]
    return urllib.parse.urlencode(body) if isinstance(body, dict) else str(body)


@pytest.mark.parametrize(("operation", "params"), CALLS, ids=[c[0] for c in CALLS])
def test_the_query_body_decodes_to_the_parameters_boto3_sent(operation: str, params: dict[str, Any]) -> None:
    decoded = decode_call(operation, wire_body(operation, params), 400, ERROR)
    assert decoded is not None
    assert decoded.params == params


def test_a_successful_answer_is_parsed_as_boto3_parses_it() -> None:
    answer = (
        b'<DeleteVpcPeeringConnectionResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">'
        b"<requestId>r-2</requestId><return>true</return></DeleteVpcPeeringConnectionResponse>"
    )
    decoded = decode_call(
        "DeleteVpcPeeringConnection", "Action=DeleteVpcPeeringConnection&VpcPeeringConnectionId=pcx-1", 200, answer
    )
    assert decoded is not None
    assert decoded.error is None
    assert decoded.response["Return"] is True
    assert decoded.response["ResponseMetadata"]["RequestId"] == "r-2"


def test_an_error_answer_gives_its_code_and_message_and_no_response() -> None:
    decoded = decode_call("DeleteVpcPeeringConnection", "VpcPeeringConnectionId=pcx-1", 400, ERROR)
    assert decoded is not None
    assert decoded.error == ("InvalidVpcPeeringConnectionID.NotFound", "The pcx does not exist")
    assert decoded.response == {}


def test_an_action_botocore_does_not_know_is_not_decoded() -> None:
    assert decode_call("MakeCoffee", "Action=MakeCoffee", 200, b"") is None


def test_a_served_call_becomes_the_cloudtrail_event_of_its_caller() -> None:
    body = wire_body("DeleteVpcPeeringConnection", {"VpcPeeringConnectionId": "pcx-0123456789abcdef0"})
    records: list[dict[str, Any]] = [
        {
            "seq": 1,
            "action": "DeleteVpcPeeringConnection",
            "accessKeyId": "AKIAEXAMPLE",
            "account": "222222222222",
            "region": "eu-west-1",
            "request": body,
            "status": 400,
            "response": ERROR.decode(),
            "userAgent": "aws-cli/1.46.3 Python/3.11.7",
            "caller": "",
        }
    ]
    recorder = ServedCallRecorder(lambda after: [r for r in records if r["seq"] > after])

    [call] = recorder.drain()
    event = call.event()

    assert (event["account"], event["region"]) == ("222222222222", "eu-west-1")
    detail = event["detail"]
    assert detail["eventName"] == "DeleteVpcPeeringConnection"
    assert detail["errorCode"] == "Client.InvalidVpcPeeringConnectionID.NotFound"
    assert detail["responseElements"] is None
    assert detail["requestParameters"] == {"vpcPeeringConnectionId": "pcx-0123456789abcdef0"}
    assert detail["userAgent"] == "aws-cli/1.46.3 Python/3.11.7"
    assert call.caller == "aws-cli/1.46.3"
    assert recorder.drain() == []  # each call once


def test_the_server_records_the_mutating_calls_it_answers_with_their_account_and_region() -> None:
    with MotoServer(record_calls=True) as server:
        member = client(server, "sts").assume_role(
            RoleArn="arn:aws:iam::222222222222:role/Anything", RoleSessionName="e2e"
        )["Credentials"]
        ec2 = client(
            server,
            "ec2",
            "eu-west-1",
            aws_access_key_id=member["AccessKeyId"],
            aws_secret_access_key=member["SecretAccessKey"],
            aws_session_token=member["SessionToken"],
        )
        vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
        ec2.describe_vpcs(VpcIds=[vpc])  # read-only: CloudTrail never delivers it

        calls = server.served_calls()

    assert [(c["action"], c["account"], c["region"], c["status"]) for c in calls] == [
        ("CreateVpc", "222222222222", "eu-west-1", 200)
    ]
    decoded = decode_call(calls[0]["action"], calls[0]["request"], calls[0]["status"], calls[0]["response"].encode())
    assert decoded is not None
    assert decoded.params == {"CidrBlock": "10.0.0.0/16"}
    assert decoded.response["Vpc"]["VpcId"] == vpc
