"""What each hub function may do in IAM: the one place that maps functions to actions.

Read from the code (functions/<name>/app.py and the peering package it calls):

- accept, operator: Engine.converge_request (observe.py, apply.Applier, org.py, ledger.py, notify.py,
  policy_store.py);
- configure: Engine.converge_connection / converge_vpc (observe_connection_sides,
  apply.ConfigureApplier: route records in batches, DNS attributes after a refusal), and the
  operator converge (ledger location);
- cleanup: Engine.cleanup_connection (observe_leftovers, apply.CleanupApplier);
- configure and cleanup, out of time: their own next invocation (lifecycle.handler, aws.continuation);
- sweep: sweep.fan_out.parse_sweep_trigger + fan_out (Organizations accounts, SQS batch), and
  policy_change.notify_policy_change (the policy parameter's versions, a notice through the outbox);
- map (PublishMap=true): the sweep's targets (sweep.fan_out.list_targets), their fragments read
  and the page written (map.publish.publish_map);
- worker: sweep.target.converge_in_time, which runs every path above on a snapshot of one
  account+Region (converge_target), withdraws this account's stale requests, and queues a target it
  has no time left to finish again (sweep.messages.hand_back).

The member role (member-template.yaml) must allow, in each member account, exactly the EC2 actions
of the functions that assume it. ``test_template.py`` checks the hub template against this module,
``test_member_template.py`` the member template.
"""

from __future__ import annotations

# --- building blocks ---------------------------------------------------------------------------

READ_REQUEST = frozenset({"ec2:DescribeVpcPeeringConnections", "ec2:DescribeVpcs"})
DECIDE = frozenset({"ec2:AcceptVpcPeeringConnection", "ec2:RejectVpcPeeringConnection", "ec2:CreateTags"})
READ_NETWORK = READ_REQUEST | {"ec2:DescribeRouteTables", "ec2:DescribeSubnets", "ec2:DescribeVpcAttribute"}
CONFIGURE_NETWORK = frozenset(
    {"ec2:CreateRoute", "ec2:ReplaceRoute", "ec2:DeleteRoute", "ec2:ModifyVpcPeeringConnectionOptions"}
)
READ_LEFTOVERS = frozenset(
    {"ec2:DescribeVpcPeeringConnections", "ec2:DescribeRouteTables", "ec2:DescribeSecurityGroups"}
)
REVOKE = frozenset({"ec2:RevokeSecurityGroupIngress", "ec2:RevokeSecurityGroupEgress"})
WITHDRAW = frozenset({"ec2:DeleteVpcPeeringConnection"})

IDENTIFY = frozenset(
    {
        "sts:AssumeRole",  # the member role of another account
        "sts:GetCallerIdentity",
        "organizations:DescribeOrganization",
        "organizations:DescribeAccount",
        "organizations:ListParents",
    }
)
LEDGER_READ_WRITE = frozenset({"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query"})
LEDGER_UPDATE = frozenset({"dynamodb:UpdateItem", "dynamodb:DeleteItem"})
# Route records, 25 to a request (configure, cleanup, and the worker that runs both).
RECORD_ROUTES = frozenset({"dynamodb:BatchWriteItem"})
# Publishing to the topic, which is encrypted with the stack's key (data key for each message).
NOTIFY = frozenset({"sns:Publish", "kms:GenerateDataKey", "kms:Decrypt"})
READ_POLICY = frozenset({"ssm:GetParameter"})
# Intents and commits are conditional updates (TransactWriteItems is authorized per item as
# PutItem/UpdateItem), and a published notice is deleted from the outbox.
ENGINE = IDENTIFY | LEDGER_READ_WRITE | LEDGER_UPDATE | NOTIFY | READ_POLICY

# Configure and cleanup hand what they cannot finish in time to their own next invocation
# (lifecycle/handler.py, aws/continuation.py): each may invoke itself, and nothing else.
CONTINUE = frozenset({"lambda:InvokeFunction"})

ACCEPT = READ_REQUEST | DECIDE | ENGINE
CONFIGURE = READ_NETWORK | CONFIGURE_NETWORK | RECORD_ROUTES | ENGINE | CONTINUE
CLEANUP = READ_LEFTOVERS | {"ec2:DeleteRoute"} | REVOKE | RECORD_ROUTES | ENGINE | CONTINUE
# The sweep publishes what the outbox still holds: query, claim, delete, record "notified".
FLUSH_OUTBOX = frozenset({"dynamodb:Query", "dynamodb:PutItem"}) | LEDGER_UPDATE | NOTIFY
SWEEP = (
    frozenset(
        {
            "sts:GetCallerIdentity",
            "organizations:DescribeOrganization",
            "organizations:ListAccounts",
            "sqs:SendMessage",  # SendMessageBatch to the sweep queue
        }
    )
    | FLUSH_OUTBOX
    | READ_POLICY  # the policy-change notice reads the version written and the one before it
)
# The event source mapping polls the sweep queue with the worker's role.
CONSUME_SWEEP_QUEUE = frozenset({"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"})
# A target the worker has no time left to finish is sent to the sweep queue again.
HAND_BACK = frozenset({"sqs:SendMessage"})
# PublishMap=true: each worker writes its target's map fragment (with its OU's name), the map
# function lists the sweep's targets as the sweep does and assembles their fragments into the
# page (peering.map.publish); the sweep never touches the bucket (issue 23).
WRITE_MAP_FRAGMENT = frozenset({"s3:PutObject", "organizations:DescribeOrganizationalUnit"})
ASSEMBLE_MAP = frozenset({"s3:GetObject", "s3:PutObject"})
MAP = (
    frozenset({"sts:GetCallerIdentity", "organizations:DescribeOrganization", "organizations:ListAccounts"})
    | ASSEMBLE_MAP
)
WORKER = (
    ACCEPT
    | (CONFIGURE - CONTINUE)  # the worker hands a target back to its queue instead
    | (CLEANUP - CONTINUE)
    | WITHDRAW
    | {"dynamodb:BatchGetItem"}
    | CONSUME_SWEEP_QUEUE
    | HAND_BACK
    | WRITE_MAP_FRAGMENT
)

FUNCTION_ACTIONS: dict[str, frozenset[str]] = {
    "AcceptFunction": ACCEPT,
    "OperatorFunction": ACCEPT,
    "ConfigureFunction": CONFIGURE,
    "CleanupFunction": CLEANUP,
    "SweepFunction": SWEEP,
    "WorkerFunction": WORKER,
    "MapFunction": MAP,
}

# Granted only under a template condition (Fn::If), never unconditionally.
ACTION_CONDITIONS = {action: "CanRevokeSecurityGroupRules" for action in REVOKE} | {
    action: "PublishesMap" for action in WRITE_MAP_FRAGMENT | ASSEMBLE_MAP
}

# Every function sends its failed async invocations to its dead-letter queue (EventInvokeConfig),
# writes to its own log group and sends X-Ray traces (Tracing: Active).
SUPPORT_ACTIONS = frozenset(
    {
        "sqs:SendMessage",
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
    }
)

# Where each action shows up in the package (boto3 snake_case, a paginator name, or the Powertools
# provider). None: needed by the infrastructure, not by a line of code (see the reason beside it).
CODE_EVIDENCE: dict[str, str | None] = {
    "ec2:DescribeVpcPeeringConnections": "describe_vpc_peering_connections",
    "ec2:DescribeVpcs": "describe_vpcs",
    "ec2:DescribeRouteTables": "describe_route_tables",
    "ec2:DescribeSubnets": "describe_subnets",
    "ec2:DescribeVpcAttribute": "describe_vpc_attribute(",
    "ec2:DescribeSecurityGroups": "describe_security_groups",
    "ec2:AcceptVpcPeeringConnection": "accept_vpc_peering_connection",
    "ec2:RejectVpcPeeringConnection": "reject_vpc_peering_connection",
    "ec2:CreateTags": "create_tags(",
    "ec2:CreateRoute": "create_route(",
    "ec2:ReplaceRoute": "replace_route(",
    "ec2:DeleteRoute": "delete_route(",
    "ec2:ModifyVpcPeeringConnectionOptions": "modify_vpc_peering_connection_options(",
    "ec2:DeleteVpcPeeringConnection": "delete_vpc_peering_connection(",
    "ec2:RevokeSecurityGroupIngress": "revoke_security_group_ingress",
    "ec2:RevokeSecurityGroupEgress": "revoke_security_group_egress",
    "sts:AssumeRole": "assume_role(",
    "sts:GetCallerIdentity": "get_caller_identity(",
    "organizations:DescribeOrganization": "describe_organization(",
    "organizations:DescribeAccount": "describe_account(",
    "organizations:ListParents": "list_parents(",
    "organizations:ListAccounts": '"list_accounts"',
    "organizations:DescribeOrganizationalUnit": "describe_organizational_unit(",
    "s3:GetObject": "get_object(",
    "s3:PutObject": "put_object(",
    "dynamodb:GetItem": "get_item(",
    "dynamodb:BatchGetItem": "batch_get_item(",
    "dynamodb:BatchWriteItem": "batch_write_item(",
    "dynamodb:PutItem": "put_item(",
    "dynamodb:Query": 'get_paginator("query")',
    "dynamodb:UpdateItem": "update_item(",
    "dynamodb:DeleteItem": "delete_item(",
    "sns:Publish": ".publish(",
    "ssm:GetParameter": "SSMProvider(",  # SSMProvider.get() calls GetParameter
    "lambda:InvokeFunction": ".invoke(",  # an event function's continuation (aws/continuation.py)
    "sqs:SendMessage": ".send_message",  # SendMessageBatch (the sweep), SendMessage (a worker's hand-back)
    "kms:GenerateDataKey": None,  # sns:Publish to the KMS-encrypted topic
    "kms:Decrypt": None,  # idem
    "sqs:ReceiveMessage": None,  # the worker's event source mapping polls with the worker's role
    "sqs:DeleteMessage": None,  # idem
    "sqs:GetQueueAttributes": None,  # idem
    "logs:CreateLogStream": None,  # the Lambda service writes the function's logs with its role
    "logs:PutLogEvents": None,  # idem
    "xray:PutTraceSegments": None,  # the Lambda service sends traces with the role (Tracing: Active)
    "xray:PutTelemetryRecords": None,  # idem
}

# Read-only actions with no resource-level permissions (or no resource at all): "*" is allowed.
# Every other action must name its resources.
STAR_RESOURCE_ALLOWED = frozenset(
    {
        "ec2:DescribeVpcPeeringConnections",
        "ec2:DescribeVpcs",
        "ec2:DescribeRouteTables",
        "ec2:DescribeSubnets",
        "ec2:DescribeSecurityGroups",
        "sts:GetCallerIdentity",
        "organizations:DescribeOrganization",
        "organizations:DescribeAccount",
        "organizations:ListParents",
        "organizations:ListAccounts",
        "organizations:DescribeOrganizationalUnit",
    }
)

# Write actions whose service offers no resource-level permissions: "*" is their only valid
# Resource. The template names the reason beside the statement. Nothing else writes on "*".
STAR_RESOURCE_WRITES = frozenset({"xray:PutTraceSegments", "xray:PutTelemetryRecords"})

# The EC2 resource type each mutating EC2 action may be granted on (in the stack's own account).
EC2_RESOURCE_TYPES: dict[str, frozenset[str]] = {
    "ec2:AcceptVpcPeeringConnection": frozenset({"vpc-peering-connection", "vpc"}),
    "ec2:RejectVpcPeeringConnection": frozenset({"vpc-peering-connection"}),
    "ec2:CreateTags": frozenset({"vpc-peering-connection"}),
    "ec2:ModifyVpcPeeringConnectionOptions": frozenset({"vpc-peering-connection"}),
    "ec2:DeleteVpcPeeringConnection": frozenset({"vpc-peering-connection"}),
    "ec2:CreateRoute": frozenset({"route-table"}),
    "ec2:ReplaceRoute": frozenset({"route-table"}),
    "ec2:DeleteRoute": frozenset({"route-table"}),
    "ec2:RevokeSecurityGroupIngress": frozenset({"security-group"}),
    "ec2:RevokeSecurityGroupEgress": frozenset({"security-group"}),
    "ec2:DescribeVpcAttribute": frozenset({"vpc"}),
}

# The engine's tags on connections: peering-autopilot:decision, :decided-by, :policy-version, :rule.
# ForAllValues alone holds for a request without tag keys: the Null guard requires some.
TAG_KEYS_CONDITION = {
    "ForAllValues:StringLike": {"aws:TagKeys": ["peering-autopilot:*"]},
    "Null": {"aws:TagKeys": "false"},
}


def assumes_member_role(function: str) -> bool:
    return "sts:AssumeRole" in FUNCTION_ACTIONS[function]


def member_role_actions() -> frozenset[str]:
    """What the member role must allow: the EC2 actions of the functions that assume it."""
    return frozenset(
        action
        for name, actions in FUNCTION_ACTIONS.items()
        if assumes_member_role(name)
        for action in actions
        if action.startswith("ec2:")
    )
