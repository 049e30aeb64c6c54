"""What the benchmarks share: an emulated hub and organization on moto (in-process), call counting.

Import it before any AWS client is made: it sets the environment so nothing can reach AWS.
Calls are counted by wrapping botocore's ``BaseClient._make_api_call``, so every client counts,
whoever made it (the engine's, the sweep's, the setup's: each benchmark resets the counter).
"""

from __future__ import annotations

import os
import sys
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "layers" / "peering"), str(ROOT)]
os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_DEFAULT_REGION": "us-east-1",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_NAMESPACE": "PeeringAutopilot",
        "POWERTOOLS_METRICS_DISABLED": "true",
        "POWERTOOLS_SERVICE_NAME": "bench",
        "POWERTOOLS_LOG_LEVEL": "ERROR",
        "LEDGER_TABLE": "bench-ledger",
        "POLICY_PARAMETER": "/bench/policy",
        "MEMBER_ROLE_NAME": "PeeringAutopilotMember",
        "MOTO_EC2_LOAD_DEFAULT_AMIS": "false",
    }
)
for _name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "MOTO_ACCOUNT_ID"):
    os.environ.pop(_name, None)

import boto3  # noqa: E402
import botocore.client  # noqa: E402

from peering.aws import clients as peering_aws  # noqa: E402
from peering.aws import org, policy_store  # noqa: E402

REGION = "us-east-1"
HUB = "123456789012"  # moto's default account
ACCEPT_ALL = (
    '{"schemaVersion": 1, "version": "bench", '
    '"rules": [{"name": "all", "action": "accept", "requester": {"anyone": true}}]}'
)

CALLS: Counter[str] = Counter()
_original_call = botocore.client.BaseClient._make_api_call


def _counted(self: Any, operation: str, params: Any) -> Any:
    CALLS[f"{self.meta.service_model.service_name}:{operation}"] += 1
    return _original_call(self, operation, params)


botocore.client.BaseClient._make_api_call = _counted  # type: ignore[method-assign]


@contextmanager
def counting() -> Iterator[Counter[str]]:
    """The calls made inside the block, by "service:Operation"."""
    CALLS.clear()
    seen: Counter[str] = Counter()
    try:
        yield seen
    finally:
        seen.update(CALLS)
        CALLS.clear()


def by_service(calls: Counter[str], service: str) -> int:
    return sum(n for op, n in calls.items() if op.startswith(f"{service}:"))


def hub(policy: str = ACCEPT_ALL) -> None:
    """The hub's ledger and policy parameter, and fresh caches (call inside ``mock_aws``)."""
    boto3.client("dynamodb", region_name=REGION).create_table(
        TableName="bench-ledger",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    boto3.client("ssm", region_name=REGION).put_parameter(Name="/bench/policy", Value=policy, Type="String")
    policy_store.reset()
    org.clear_cache()
    peering_aws.reset_shared_session()


def organization(members: int) -> list[str]:
    """An organization of the hub and ``members`` member accounts; returns the member ids."""
    orgs = boto3.client("organizations", region_name=REGION)
    orgs.create_organization(FeatureSet="ALL")
    accounts = []
    for n in range(members):
        status = orgs.create_account(AccountName=f"member-{n}", Email=f"member-{n}@example.com")
        accounts.append(status["CreateAccountStatus"]["AccountId"])
    return accounts


def client(service: str, account: str, region: str = REGION) -> Any:
    """A client acting in ``account`` (moto maps an assumed role's keys to its account)."""
    if account == HUB:
        return boto3.client(service, region_name=region)  # type: ignore[call-overload]
    creds = boto3.client("sts", region_name=region).assume_role(
        RoleArn=f"arn:aws:iam::{account}:role/PeeringAutopilotMember", RoleSessionName="bench-setup"
    )["Credentials"]
    return boto3.client(  # type: ignore[call-overload]
        service,
        region_name=region,
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
    )


def active_connection(ec2: Any, n: int, *, tables: int = 1, dns_hostnames: bool = True) -> tuple[str, str, str]:
    """Two fresh VPCs of one account peered and accepted (no routes yet): (connection, vpc a, vpc b)."""
    vpcs = []
    for side in (0, 1):
        index = 2 * n + side
        vpc = ec2.create_vpc(CidrBlock=f"10.{index // 250}.{index % 250}.0/24")["Vpc"]["VpcId"]
        if dns_hostnames:
            ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})
        for _ in range(tables - 1):
            ec2.create_route_table(VpcId=vpc)
        vpcs.append(vpc)
    pcx = ec2.create_vpc_peering_connection(VpcId=vpcs[0], PeerVpcId=vpcs[1])["VpcPeeringConnection"]
    ec2.accept_vpc_peering_connection(VpcPeeringConnectionId=pcx["VpcPeeringConnectionId"])
    mark_managed(pcx["VpcPeeringConnectionId"])
    return pcx["VpcPeeringConnectionId"], vpcs[0], vpcs[1]


def mark_managed(connection_id: str) -> None:
    """What configure records when a person's acceptance after deployment reaches it: the
    connection is the autopilot's to wire (core/scope.py). Without it the sweep would find it
    pre-existing and leave it alone, and the benchmark would measure nothing."""
    from peering.aws.clients import AwsClients  # noqa: PLC0415 - the engine's own ledger code
    from peering.aws.ledger import Ledger  # noqa: PLC0415
    from peering.runtime.config import Settings  # noqa: PLC0415

    Ledger(AwsClients(Settings.from_env()), os.environ["LEDGER_TABLE"]).record_managed(
        connection_id, "managed: accepted after deployment (benchmark)"
    )


def remove_peering_routes(ec2: Any) -> int:
    removed = 0
    for table in ec2.describe_route_tables()["RouteTables"]:
        for route in table["Routes"]:
            if route.get("VpcPeeringConnectionId"):
                ec2.delete_route(RouteTableId=table["RouteTableId"], DestinationCidrBlock=route["DestinationCidrBlock"])
                removed += 1
    return removed


def sqs_records(messages: list[dict[str, Any]], queue: str) -> list[dict[str, Any]]:
    """Received SQS messages as the event source mapping hands them to the worker."""
    return [
        {
            "messageId": m["MessageId"],
            "receiptHandle": m["ReceiptHandle"],
            "body": m["Body"],
            "attributes": {"ApproximateReceiveCount": "1"},
            "messageAttributes": {},
            "eventSource": "aws:sqs",
            "eventSourceARN": f"arn:aws:sqs:{REGION}:{HUB}:{queue}",
            "awsRegion": REGION,
        }
        for m in messages
    ]
