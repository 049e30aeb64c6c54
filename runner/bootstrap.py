"""Create the hub resources the functions need, read from template.yaml's own resource definitions.

Only what a function touches at run time is created: the DynamoDB ledger (key schema, billing,
time to live), the SNS topic, the SQS queues (attributes and redrive policy), the SSM policy
parameter (with the template's default value) and the event bus. Names are the stack's local
names (``runner.cfn.Stack.physical_name``), the same ``invoke`` resolves the Refs to. Existing
resources are left as they are (a policy already put in the parameter is not overwritten).

Not created locally: IAM roles, KMS key (the topic is created unencrypted), alarms, log groups,
dashboard, Lambda functions, rules (``route`` and ``demo`` evaluate the stack's rules, as the SAM
translator emits them, in-process: ``runner.model``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from runner.cfn import Stack

__all__ = ["CREATED_TYPES", "Resource", "bootstrap"]

CREATED_TYPES = (
    "AWS::SQS::Queue",
    "AWS::DynamoDB::Table",
    "AWS::SNS::Topic",
    "AWS::SSM::Parameter",
    "AWS::Events::EventBus",
)

# CloudFormation property -> SQS attribute (both spell most of them the same)
_QUEUE_ATTRIBUTES = (
    "DelaySeconds",
    "MaximumMessageSize",
    "MessageRetentionPeriod",
    "ReceiveMessageWaitTimeSeconds",
    "VisibilityTimeout",
    "SqsManagedSseEnabled",
    "FifoQueue",
    "ContentBasedDeduplication",
)


@dataclass(frozen=True)
class Resource:
    logical_id: str
    kind: str
    physical_id: str
    status: str  # created | exists | updated


def _attribute_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


class _Bootstrap:
    def __init__(self, stack: Stack, session: Any) -> None:
        self.stack = stack
        self.session = session
        self.done: list[Resource] = []

    def client(self, service: str) -> Any:
        return self.session.client(service, region_name=self.stack.region)

    def of_type(self, kind: str) -> list[tuple[str, dict[str, Any]]]:
        return [
            (logical_id, self.stack.resolve(body.get("Properties") or {}))
            for logical_id, body in self.stack.resources.items()
            if body.get("Type") == kind and self.stack.is_created(logical_id)
        ]

    def queues(self) -> None:
        sqs = self.client("sqs")
        redrives: list[tuple[str, str, Any]] = []
        for logical_id, props in self.of_type("AWS::SQS::Queue"):
            name = self.stack.physical_name(logical_id)
            attributes = {k: _attribute_text(props[k]) for k in _QUEUE_ATTRIBUTES if k in props}
            try:
                url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
                status = "exists"
            except ClientError as exc:
                if "NonExistentQueue" not in _code(exc):
                    raise
                url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
                status = "created"
            if "RedrivePolicy" in props:
                redrives.append((logical_id, url, props["RedrivePolicy"]))
            self.done.append(Resource(logical_id, "AWS::SQS::Queue", url, status))
        for _logical_id, url, redrive in redrives:  # dead-letter queues exist now
            sqs.set_queue_attributes(QueueUrl=url, Attributes={"RedrivePolicy": _attribute_text(redrive)})

    def tables(self) -> None:
        ddb = self.client("dynamodb")
        for logical_id, props in self.of_type("AWS::DynamoDB::Table"):
            name = self.stack.physical_name(logical_id)
            request: dict[str, Any] = {
                "TableName": name,
                "KeySchema": props["KeySchema"],
                "AttributeDefinitions": props["AttributeDefinitions"],
                "BillingMode": props.get("BillingMode", "PROVISIONED"),
            }
            for key in (
                "GlobalSecondaryIndexes",
                "LocalSecondaryIndexes",
                "ProvisionedThroughput",
                "StreamSpecification",
            ):
                if key in props:
                    request[key] = props[key]
            try:
                ddb.create_table(**request)
                ddb.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 60})
                status = "created"
            except ClientError as exc:
                if _code(exc) != "ResourceInUseException":
                    raise
                status = "exists"
            ttl = props.get("TimeToLiveSpecification")
            if status == "created" and ttl and ttl.get("Enabled"):
                ddb.update_time_to_live(
                    TableName=name, TimeToLiveSpecification={"AttributeName": ttl["AttributeName"], "Enabled": True}
                )
            self.done.append(Resource(logical_id, "AWS::DynamoDB::Table", name, status))

    def topics(self) -> None:
        sns = self.client("sns")
        for logical_id, props in self.of_type("AWS::SNS::Topic"):
            name = self.stack.physical_name(logical_id)
            arn = str(self.stack.ref(logical_id))
            try:
                sns.get_topic_attributes(TopicArn=arn)
                status = "exists"
            except ClientError as exc:
                if _code(exc) not in ("NotFound", "NotFoundException"):
                    raise
                attributes = {"DisplayName": str(props["DisplayName"])} if "DisplayName" in props else {}
                arn = sns.create_topic(Name=name, Attributes=attributes)["TopicArn"]
                status = "created"
            self.done.append(Resource(logical_id, "AWS::SNS::Topic", arn, status))

    def parameters(self) -> None:
        ssm = self.client("ssm")
        for logical_id, props in self.of_type("AWS::SSM::Parameter"):
            name = self.stack.physical_name(logical_id)
            try:
                ssm.get_parameter(Name=name)
                status = "exists"
            except ClientError as exc:
                if _code(exc) != "ParameterNotFound":
                    raise
                request = {"Name": name, "Value": str(props["Value"]), "Type": str(props.get("Type", "String"))}
                for key in ("Description", "Tier", "AllowedPattern", "DataType"):
                    if key in props:
                        request[key] = str(props[key])
                ssm.put_parameter(**request)
                status = "created"
            self.done.append(Resource(logical_id, "AWS::SSM::Parameter", name, status))

    def buses(self) -> None:
        events = self.client("events")
        for logical_id, _props in self.of_type("AWS::Events::EventBus"):
            name = self.stack.physical_name(logical_id)
            try:
                arn = events.describe_event_bus(Name=name)["Arn"]
                status = "exists"
            except ClientError as exc:
                if _code(exc) != "ResourceNotFoundException":
                    raise
                arn = events.create_event_bus(Name=name)["EventBusArn"]
                status = "created"
            self.done.append(Resource(logical_id, "AWS::Events::EventBus", arn, status))


def bootstrap(stack: Stack, session: Any) -> list[Resource]:
    """Create (or find) every hub resource of CREATED_TYPES in ``stack``'s account and Region."""
    work = _Bootstrap(stack, session)
    work.queues()
    work.tables()
    work.topics()
    work.parameters()
    work.buses()
    return work.done
