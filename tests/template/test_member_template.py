"""Checks on member-template.yaml (the StackSet deployed to member accounts) and its fit with the hub.

The member role must trust exactly the hub functions' roles (external id + organization) and allow
exactly the EC2 actions those functions perform through it; the forwarding rule must deliver every
event a hub rule listens for.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from tests.template.cfn_yaml import ROOT
from tests.template.expectations import (
    ACTION_CONDITIONS,
    EC2_RESOURCE_TYPES,
    STAR_RESOURCE_ALLOWED,
    TAG_KEYS_CONDITION,
    member_role_actions,
)
from tests.template.helpers import (
    Resources,
    ec2_arn,
    events_of,
    functions,
    getatt,
    granted,
    of_type,
    role_grants,
    sub_text,
)

pytestmark = pytest.mark.template

FORWARDED = {
    "CreateVpcPeeringConnection",
    "AcceptVpcPeeringConnection",
    "RejectVpcPeeringConnection",
    "DeleteVpcPeeringConnection",
    "ModifyVpcPeeringConnectionOptions",
    "AssociateVpcCidrBlock",
    "DisassociateVpcCidrBlock",
}


def trust_statement(member_resources: Resources) -> dict[str, Any]:
    statements = member_resources["MemberRole"]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert len(statements) == 1, "one way in: the hub functions"
    statement: dict[str, Any] = statements[0]
    return statement


# ---------------------------------------------------------------- parameters and conditions


def test_parameters(member_template: dict[str, Any]) -> None:
    params = member_template["Parameters"]
    assert set(params) == {
        "HubAccountId",
        "HubEventBusArn",
        "HubFunctionRoleArns",
        "OrganizationId",
        "ExternalId",
        "MemberRoleName",
        "AllowSecurityGroupRevocation",
        "AlarmTopicArn",
        "CreateMemberRole",
    }
    assert params["HubFunctionRoleArns"]["Type"] == "CommaDelimitedList"
    assert params["ExternalId"]["NoEcho"] is True
    assert params["ExternalId"]["MinLength"] >= 2  # STS refuses shorter external ids
    assert "Default" not in params["ExternalId"]
    assert "Default" not in params["OrganizationId"]
    assert params["MemberRoleName"]["Default"] == "PeeringAutopilotMember"
    assert params["AllowSecurityGroupRevocation"]["Default"] == "false"
    assert params["CreateMemberRole"]["AllowedValues"] == ["true", "false"]
    assert re.fullmatch(
        params["HubEventBusArn"]["AllowedPattern"], "arn:aws:events:us-east-1:111111111111:event-bus/peering-autopilot"
    )
    assert re.fullmatch(params["HubAccountId"]["AllowedPattern"], "111111111111")
    assert re.fullmatch(params["OrganizationId"]["AllowedPattern"], "o-abc123defg")
    assert not re.fullmatch(params["OrganizationId"]["AllowedPattern"], "")


def test_parameters_match_the_hub(hub_template: dict[str, Any], member_template: dict[str, Any]) -> None:
    hub, member = hub_template["Parameters"], member_template["Parameters"]
    # Values the operator copies from the hub's parameters must have the same shape and default.
    assert member["MemberRoleName"]["Default"] == hub["MemberRoleName"]["Default"]
    assert member["MemberRoleName"]["AllowedPattern"] == hub["MemberRoleName"]["AllowedPattern"]
    assert member["OrganizationId"]["AllowedPattern"] == hub["OrganizationId"]["AllowedPattern"].replace(
        "^(o-[a-z0-9]{10,32})?$", "^o-[a-z0-9]{10,32}$"
    )
    # ...and from its outputs.
    outputs = hub_template["Outputs"]
    assert {"HubAccountId", "PeeringEventBusArn", "MemberTrustedRoleArns"} <= set(outputs)


def test_role_only_once_per_account(member_template: dict[str, Any]) -> None:
    conditions = member_template["Conditions"]
    assert conditions["IsHubAccount"] == {"Fn::Equals": [{"Ref": "AWS::AccountId"}, {"Ref": "HubAccountId"}]}
    # IAM is global: a named role from a second Region's stack would collide.
    assert conditions["ShouldCreateMemberRole"] == {
        "Fn::And": [
            {"Fn::Equals": [{"Ref": "CreateMemberRole"}, "true"]},
            {"Fn::Not": [{"Condition": "IsHubAccount"}]},
        ]
    }


def test_no_double_forwarding_in_the_hubs_own_region(member_template: dict[str, Any]) -> None:
    conditions = member_template["Conditions"]
    assert conditions["IsHubRegion"] == {
        "Fn::Equals": [{"Ref": "AWS::Region"}, {"Fn::Select": [3, {"Fn::Split": [":", {"Ref": "HubEventBusArn"}]}]}]
    }
    assert conditions["ShouldForward"] == {
        "Fn::Not": [{"Fn::And": [{"Condition": "IsHubAccount"}, {"Condition": "IsHubRegion"}]}]
    }
    # The Region really is field 3 of an event bus ARN.
    arn = "arn:aws:events:eu-west-1:111111111111:event-bus/x"
    assert arn.split(":")[3] == "eu-west-1"


def test_every_resource_is_conditional(member_resources: Resources) -> None:
    expected = {
        "MemberRole": "ShouldCreateMemberRole",
        "ForwardingRule": "ShouldForward",
        "ForwardingRole": "ShouldForward",
        "ForwardingDeadLetterQueue": "ShouldForward",
        "ForwardingDeadLetterQueuePolicy": "ShouldForward",
        "ForwardingDeadLetterAlarm": "ShouldForward",
    }
    assert {name: body.get("Condition") for name, body in member_resources.items()} == expected


# ---------------------------------------------------------------- the member role


def test_member_role_trusts_only_the_hub_functions(member_resources: Resources) -> None:
    role = member_resources["MemberRole"]["Properties"]
    assert role["RoleName"] == {"Ref": "MemberRoleName"}
    statement = trust_statement(member_resources)
    assert statement["Effect"] == "Allow"
    assert statement["Action"] == "sts:AssumeRole"
    assert statement["Principal"] == {"AWS": {"Ref": "HubFunctionRoleArns"}}
    assert statement["Condition"] == {
        "StringEquals": {
            "sts:ExternalId": {"Ref": "ExternalId"},
            "aws:PrincipalOrgID": {"Ref": "OrganizationId"},
        }
    }


def test_member_role_allows_exactly_what_the_hub_does_through_it(member_resources: Resources) -> None:
    grants = role_grants(member_resources["MemberRole"])
    expected = member_role_actions()
    assert granted(grants) == expected
    conditional = {a for a in expected if a in ACTION_CONDITIONS}
    assert conditional, "revocation is mapped"
    assert granted(grants, conditional=True) == conditional
    for grant in grants:
        if grant.condition is not None:
            assert {ACTION_CONDITIONS[a] for a in grant.actions} == {grant.condition}


def test_member_revocation_is_opt_in(member_template: dict[str, Any]) -> None:
    assert member_template["Conditions"]["CanRevokeSecurityGroupRules"] == {
        "Fn::Equals": [{"Ref": "AllowSecurityGroupRevocation"}, "true"]
    }


def test_member_role_resources_are_this_accounts(member_resources: Resources) -> None:
    for grant in role_grants(member_resources["MemberRole"]):
        if grant.targets == ["*"]:
            assert grant.actions <= STAR_RESOURCE_ALLOWED, sorted(grant.actions - STAR_RESOURCE_ALLOWED)
            continue
        arns = {sub_text(t) for t in grant.targets}
        allowed = {ec2_arn(kind) for action in grant.actions for kind in EC2_RESOURCE_TYPES[action]}
        assert arns <= allowed, sorted(arns - allowed)


def test_member_role_uses_the_peering_condition_keys(member_resources: Resources) -> None:
    grants = role_grants(member_resources["MemberRole"])

    def conditions_for(action: str, resource_type: str) -> list[Any]:
        return [
            g.statement.get("Condition")
            for g in grants
            if action in g.actions and {"Fn::Sub": ec2_arn(resource_type)} in g.targets
        ]

    own_vpcs = {"Fn::Sub": ec2_arn("vpc")}
    # Withdrawing: only requests this account sent.
    assert conditions_for("ec2:DeleteVpcPeeringConnection", "vpc-peering-connection") == [
        {"ArnLike": {"ec2:RequesterVpc": own_vpcs}}
    ]
    # Answering: only requests to this account's VPCs.
    for action in ("ec2:AcceptVpcPeeringConnection", "ec2:RejectVpcPeeringConnection"):
        assert conditions_for(action, "vpc-peering-connection") == [{"ArnLike": {"ec2:AccepterVpc": own_vpcs}}]
    # Tagging: only the engine's tags, and some tag must be given.
    tag_conditions = conditions_for("ec2:CreateTags", "vpc-peering-connection")
    assert len(tag_conditions) == 1
    assert tag_conditions[0] == {**TAG_KEYS_CONDITION, "Null": {"aws:TagKeys": "false"}}


def test_member_peering_keys_name_only_connections(member_resources: Resources) -> None:
    """ec2:AccepterVpc / ec2:RequesterVpc exist only on the connection resource: with a VPC
    resource in the same statement, Accept (which authorizes on both) would always be denied."""
    for grant in role_grants(member_resources["MemberRole"]):
        keys = json.dumps(grant.statement.get("Condition", {}))
        if "ec2:AccepterVpc" in keys or "ec2:RequesterVpc" in keys:
            assert {sub_text(t) for t in grant.targets} == {ec2_arn("vpc-peering-connection")}


def test_accept_is_also_granted_on_the_accepter_vpc(member_resources: Resources) -> None:
    grants = role_grants(member_resources["MemberRole"])
    on_vpcs = [
        g for g in grants if "ec2:AcceptVpcPeeringConnection" in g.actions and {"Fn::Sub": ec2_arn("vpc")} in g.targets
    ]
    assert len(on_vpcs) == 1
    assert "Condition" not in on_vpcs[0].statement


# ---------------------------------------------------------------- forwarding to the hub


def test_forwarding_rule(member_resources: Resources) -> None:
    rule = member_resources["ForwardingRule"]["Properties"]
    assert rule["EventBusName"] == "default"
    assert rule["State"] == "ENABLED"
    pattern = rule["EventPattern"]
    assert pattern["source"] == ["aws.ec2"]
    assert pattern["detail-type"] == ["AWS API Call via CloudTrail"]
    assert pattern["detail"]["eventSource"] == ["ec2.amazonaws.com"]
    assert pattern["detail"]["errorCode"] == [{"exists": False}]  # failed calls are not forwarded
    assert set(pattern["detail"]["eventName"]) == FORWARDED
    assert len(pattern["detail"]["eventName"]) == len(FORWARDED)
    (target,) = rule["Targets"]
    assert target["Arn"] == {"Ref": "HubEventBusArn"}
    assert getatt(target["RoleArn"]) == ("ForwardingRole", "Arn")
    assert target["RetryPolicy"]["MaximumRetryAttempts"] > 0
    assert target["RetryPolicy"]["MaximumEventAgeInSeconds"] > 0
    assert getatt(target["DeadLetterConfig"]["Arn"]) == ("ForwardingDeadLetterQueue", "Arn")


def test_everything_the_hub_listens_for_is_forwarded(resources: Resources) -> None:
    # EC2 calls happen in every member; the policy parameter's PutParameter only in the hub.
    hub_names = {
        name
        for function in functions(resources).values()
        for props in events_of(function, "EventBridgeRule").values()
        if props["Pattern"]["source"] == ["aws.ec2"]
        for name in props["Pattern"].get("detail", {}).get("eventName", [])
    }
    assert hub_names
    assert hub_names <= FORWARDED, sorted(hub_names - FORWARDED)


def test_every_sample_cloudtrail_event_is_forwarded(member_resources: Resources) -> None:
    samples = [json.loads(p.read_text()) for p in sorted((ROOT / "events").glob("*.json"))]
    names = {s["detail"]["eventName"] for s in samples if s["source"] == "aws.ec2"}
    assert names, "no CloudTrail samples in events/"
    forwarded = set(member_resources["ForwardingRule"]["Properties"]["EventPattern"]["detail"]["eventName"])
    assert names <= forwarded, sorted(names - forwarded)


def test_forwarding_role_may_only_put_on_the_hub_bus(member_resources: Resources) -> None:
    role = member_resources["ForwardingRole"]["Properties"]
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "events.amazonaws.com"}
    assert trust["Action"] == "sts:AssumeRole"
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}
    assert "RoleName" not in role, "one per Region: CloudFormation names it"
    grants = role_grants(member_resources["ForwardingRole"])
    assert len(grants) == 1
    assert grants[0].actions == {"events:PutEvents"}
    assert grants[0].targets == [{"Ref": "HubEventBusArn"}]


def test_forwarding_dead_letter_queue(member_resources: Resources) -> None:
    queue = member_resources["ForwardingDeadLetterQueue"]["Properties"]
    assert queue["SqsManagedSseEnabled"] is True
    assert queue["MessageRetentionPeriod"] == 1209600
    (policy,) = of_type(member_resources, "AWS::SQS::QueuePolicy").values()
    assert policy["Properties"]["Queues"] == [{"Ref": "ForwardingDeadLetterQueue"}]
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    (allow,) = [s for s in statements if s["Effect"] == "Allow"]
    assert allow["Principal"] == {"Service": "events.amazonaws.com"}
    assert allow["Action"] == "sqs:SendMessage"
    assert allow["Condition"] == {"ArnEquals": {"aws:SourceArn": {"Fn::GetAtt": ["ForwardingRule", "Arn"]}}}
    assert any(
        s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} for s in statements
    )


def test_plain_cloudformation_validated_by_make(member_template: dict[str, Any]) -> None:
    # StackSets deploy plain CloudFormation: no SAM transform, no Globals.
    assert "Transform" not in member_template
    assert "Globals" not in member_template
    makefile = (ROOT / "Makefile").read_text()
    (line,) = re.findall(r"^TEMPLATES :=(.*)$", makefile, re.MULTILINE)
    assert set(line.split()) == {"template.yaml", "member-template.yaml", "guardrails-template.yaml"}


def test_undeliverable_forwarded_events_raise_an_alarm(member_resources: Resources) -> None:
    alarm = member_resources["ForwardingDeadLetterAlarm"]
    assert alarm["Condition"] == "ShouldForward"
    props = alarm["Properties"]
    assert (props["Namespace"], props["MetricName"]) == ("AWS/SQS", "ApproximateNumberOfMessagesVisible")
    assert props["Dimensions"] == [
        {"Name": "QueueName", "Value": {"Fn::GetAtt": ["ForwardingDeadLetterQueue", "QueueName"]}}
    ]
    assert (props["Threshold"], props["ComparisonOperator"]) == (0, "GreaterThanThreshold")
    assert props["AlarmActions"] == {"Fn::If": ["HasAlarmTopic", [{"Ref": "AlarmTopicArn"}], {"Ref": "AWS::NoValue"}]}
