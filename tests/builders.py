"""Builders for AWS state and CloudTrail-via-EventBridge events used by the integration tests."""

from __future__ import annotations

import uuid
from typing import Any

import boto3

from emulation import cloudtrail as emulation_cloudtrail
from tests.conftest import HUB_ACCOUNT, LEDGER_TABLE, REGION, ec2

ACCEPT_TAG = {"peering-autopilot:accept": "true"}


def make_vpc(
    account: str,
    cidr: str,
    *,
    region: str = REGION,
    tags: dict[str, str] | None = None,
    extra_cidrs: tuple[str, ...] = (),
    ipv6: bool = False,
) -> str:
    client = ec2(account, region)
    vpc_id: str = client.create_vpc(CidrBlock=cidr, AmazonProvidedIpv6CidrBlock=ipv6)["Vpc"]["VpcId"]
    for block in extra_cidrs:
        client.associate_vpc_cidr_block(VpcId=vpc_id, CidrBlock=block)
    if tags:
        client.create_tags(Resources=[vpc_id], Tags=[{"Key": k, "Value": v} for k, v in tags.items()])
    return vpc_id


def cloudtrail_event(
    event_name: str,
    *,
    account: str,
    region: str,
    request_parameters: dict[str, Any] | None = None,
    response_elements: dict[str, Any] | None = None,
    error_code: str | None = None,
) -> dict[str, Any]:
    """The CloudTrail-via-EventBridge envelope of an EC2 call (emulation.cloudtrail builds it)."""
    return emulation_cloudtrail.cloudtrail_event(
        event_name,
        account=account,
        region=region,
        request_parameters=request_parameters,
        response_elements=response_elements,
        error_code=error_code,
        error_message="The request failed." if error_code else None,
        time="2026-11-26T10:00:00Z",
    )


def request_peering(
    requester_account: str,
    requester_vpc: str,
    accepter_account: str,
    accepter_vpc: str,
    *,
    region: str = REGION,
    peer_region: str | None = None,
) -> tuple[str, dict[str, Any]]:
    """Create a peering request as the requester would, and the CloudTrail event it produces."""
    params: dict[str, Any] = {"VpcId": requester_vpc, "PeerVpcId": accepter_vpc}
    if accepter_account != requester_account:
        params["PeerOwnerId"] = accepter_account
    if peer_region and peer_region != region:
        params["PeerRegion"] = peer_region
    created = ec2(requester_account, region).create_vpc_peering_connection(**params)["VpcPeeringConnection"]
    event = cloudtrail_event(
        "CreateVpcPeeringConnection",
        account=requester_account,
        region=region,
        request_parameters=emulation_cloudtrail.request_shape(params),
        response_elements={
            "requestId": str(uuid.uuid4()),
            "vpcPeeringConnection": emulation_cloudtrail.response_shape(created),
        },
    )
    return created["VpcPeeringConnectionId"], event


def operator_event(
    detail_type: str, connection_id: str, *, account: str = HUB_ACCOUNT, **detail: str
) -> dict[str, Any]:
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": detail_type,
        "source": "peering-autopilot.operator",
        "account": account,
        "time": "2026-11-26T10:00:00Z",
        "region": REGION,
        "resources": [],
        "detail": {"connectionId": connection_id, "requestedBy": "alice", **detail},
    }


def connection(account: str, connection_id: str, region: str = REGION) -> dict[str, Any]:
    found = ec2(account, region).describe_vpc_peering_connections(VpcPeeringConnectionIds=[connection_id])
    item: dict[str, Any] = found["VpcPeeringConnections"][0]
    return item


def status(account: str, connection_id: str, region: str = REGION) -> str:
    return str(connection(account, connection_id, region)["Status"]["Code"])


def tags(account: str, connection_id: str, region: str = REGION) -> dict[str, str]:
    """Tags as ``account`` sees them (DescribeTags: moto keeps tags per account, as AWS does)."""
    found = ec2(account, region).describe_tags(Filters=[{"Name": "resource-id", "Values": [connection_id]}])
    return {t["Key"]: t["Value"] for t in found["Tags"]}


def ledger_state(connection_id: str) -> dict[str, Any]:
    """The ledger's STATE item of a connection ({} when it has none)."""
    item: dict[str, Any] = (
        boto3.client("dynamodb", region_name=REGION)
        .get_item(TableName=LEDGER_TABLE, Key={"pk": {"S": connection_id}, "sk": {"S": "STATE"}})
        .get("Item", {})
    )
    return item


def ledger_items(connection_id: str) -> list[dict[str, Any]]:
    """Every ledger item of a connection (STATE, history, routes, findings)."""
    items: list[dict[str, Any]] = boto3.client("dynamodb", region_name=REGION).query(
        TableName=LEDGER_TABLE,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": connection_id}},
    )["Items"]
    return items


def sqs_event(*bodies: str) -> dict[str, Any]:
    """The SQS batch the worker receives, one record per body (message ids m-0, m-1, ...)."""
    return {
        "Records": [
            {
                "messageId": f"m-{n}",
                "receiptHandle": f"r-{n}",
                "body": body,
                "attributes": {"ApproximateReceiveCount": "1"},
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": f"arn:aws:sqs:{REGION}:{HUB_ACCOUNT}:sweep",
                "awsRegion": REGION,
            }
            for n, body in enumerate(bodies)
        ]
    }


def scheduled_event() -> dict[str, Any]:
    """The schedule rule's event, as EventBridge delivers it to the sweep function."""
    return {
        "version": "0",
        "id": "5c1f7f2e-1111-2222-3333-444455556666",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": HUB_ACCOUNT,
        "time": "2026-11-26T10:00:00Z",
        "region": REGION,
        "resources": [f"arn:aws:events:{REGION}:{HUB_ACCOUNT}:rule/peering-autopilot-sweep"],
        "detail": {},
    }


def accepted_by_hand(account: str, connection_id: str, region: str = REGION) -> None:
    """A person accepts the connection after deployment and the Accept event reaches configure,
    which records the connection as managed (aws/ledger/scope.py) before its own work is lost."""
    from peering.aws.clients import AwsClients  # noqa: PLC0415 - the engine's own ledger code
    from peering.aws.ledger import Ledger  # noqa: PLC0415
    from peering.runtime.config import Settings  # noqa: PLC0415

    ec2(account, region).accept_vpc_peering_connection(VpcPeeringConnectionId=connection_id)
    ledger = Ledger(AwsClients(Settings.from_env()), LEDGER_TABLE)
    ledger.record_managed(connection_id, "managed: accepted after deployment by a person (test)")
