"""emulation.ec2_wire: a call as the server saw it (EC2 query protocol) back into boto3's parameters
and parsed response, as botocore's own serializer and parser write and read them."""

from __future__ import annotations

import urllib.parse
from typing import Any

import pytest
from botocore import serialize

from emulation.ec2_wire import decode_call, operation_model

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
