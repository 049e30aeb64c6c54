"""The runner's resolver (runner.cfn.Stack): what the SAM translator leaves to CloudFormation.

Parameters (defaults, validated overrides), conditions, and the intrinsic functions the runner's
templates use, on a small CloudFormation template written here.
"""

from __future__ import annotations

from typing import Any

import pytest

from runner.cfn import Stack
from runner.template import TemplateError

ACCOUNT = "123456789012"
REGION = "eu-west-1"

TEMPLATE: dict[str, Any] = {
    "Parameters": {
        "Env": {"Type": "String", "Default": "dev", "AllowedValues": ["dev", "prod"]},
        "Prefix": {"Type": "String", "Default": "/app", "AllowedPattern": "^/[a-z]+$"},
        "Size": {"Type": "Number", "Default": 5, "MinValue": 1, "MaxValue": 10},
        "Regions": {"Type": "CommaDelimitedList", "Default": ""},
        "Owner": {"Type": "String"},
    },
    "Conditions": {
        "IsProd": {"Fn::Equals": [{"Ref": "Env"}, "prod"]},
        "HasRegions": {"Fn::Not": [{"Fn::Equals": [{"Fn::Join": ["", {"Ref": "Regions"}]}, ""]}]},
        "ProdWithRegions": {"Fn::And": [{"Condition": "IsProd"}, {"Condition": "HasRegions"}]},
        "ProdOrRegions": {"Fn::Or": [{"Condition": "IsProd"}, {"Condition": "HasRegions"}]},
        "InIreland": {
            "Fn::Equals": [{"Fn::Select": [3, {"Fn::Split": [":", {"Fn::GetAtt": ["Queue", "Arn"]}]}]}, REGION]
        },
    },
    "Resources": {
        "Queue": {"Type": "AWS::SQS::Queue"},
        "Named": {"Type": "AWS::SSM::Parameter", "Properties": {"Name": {"Fn::Sub": "${Prefix}/policy"}}},
        "Table": {"Type": "AWS::DynamoDB::Table"},
        "Topic": {"Type": "AWS::SNS::Topic"},
        "Bus": {"Type": "AWS::Events::EventBus", "Properties": {"Name": "bus"}},
        "Role": {"Type": "AWS::IAM::Role"},
        "ProdOnly": {"Type": "AWS::SNS::Topic", "Condition": "IsProd"},
    },
    "Outputs": {"BusArn": {"Value": {"Fn::GetAtt": ["Bus", "Arn"]}}},
}


def stack(**overrides: str) -> Stack:
    return Stack.from_template(TEMPLATE, account=ACCOUNT, region=REGION, overrides=overrides, stack_name="st")


# -- parameters -------------------------------------------------------------------------------------


def test_parameters_take_their_defaults_or_the_values_given() -> None:
    assert stack().parameters == {"Env": "dev", "Prefix": "/app", "Size": "5", "Regions": [""], "Owner": None}
    given = stack(Env="prod", Regions="us-east-1, eu-west-1", Owner="me").parameters
    assert (given["Env"], given["Regions"], given["Owner"]) == ("prod", ["us-east-1", "eu-west-1"], "me")


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"Nope": "x"}, "unknown parameter"),
        ({"Env": "test"}, "not one of dev, prod"),
        ({"Prefix": "app"}, "does not match"),
        ({"Size": "many"}, "not a number"),
        ({"Size": "0"}, "below 1"),
        ({"Size": "11"}, "above 10"),
    ],
)
def test_a_value_cloudformation_would_refuse_is_refused(overrides: dict[str, str], message: str) -> None:
    with pytest.raises(TemplateError, match=message):
        stack(**overrides)


def test_a_parameter_without_default_is_needed_only_when_used() -> None:
    with pytest.raises(TemplateError, match="Owner has no default"):
        stack().resolve({"Ref": "Owner"})
    assert stack(Owner="me").resolve({"Fn::Sub": "${Owner}@${AWS::Region}"}) == f"me@{REGION}"


# -- Ref, GetAtt, Sub, Join, Select/Split -----------------------------------------------------------


def test_ref_gives_pseudo_parameters_and_what_each_resource_type_returns() -> None:
    local = stack()
    assert local.resolve([{"Ref": "AWS::AccountId"}, {"Ref": "AWS::Region"}, {"Ref": "AWS::StackName"}]) == [
        ACCOUNT,
        REGION,
        "st",
    ]
    assert local.ref("Queue") == f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/st-Queue"
    assert local.ref("Topic") == f"arn:aws:sns:{REGION}:{ACCOUNT}:st-Topic"
    assert local.ref("Table") == "st-Table"
    assert local.ref("Named") == "/app/policy"  # the name the template gives it


def test_the_queue_url_comes_from_the_endpoint_when_it_is_known() -> None:
    local = Stack.from_template(TEMPLATE, account=ACCOUNT, region=REGION, queue_url=lambda name: f"http://local/{name}")
    assert local.resolve({"Ref": "Queue"}) == "http://local/peering-autopilot-Queue"


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ({"Fn::GetAtt": ["Queue", "Arn"]}, f"arn:aws:sqs:{REGION}:{ACCOUNT}:st-Queue"),
        ({"Fn::GetAtt": "Table.Arn"}, f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/st-Table"),
        ({"Fn::GetAtt": ["Role", "Arn"]}, f"arn:aws:iam::{ACCOUNT}:role/st-Role"),
        ({"Fn::GetAtt": ["Named", "Arn"]}, f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/app/policy"),
        ({"Fn::GetAtt": ["Queue", "QueueName"]}, "st-Queue"),
        ({"Fn::GetAtt": ["Bus", "Name"]}, "bus"),
        ({"Fn::Sub": "${Bus.Arn}/x"}, f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/bus/x"),
        ({"Fn::Sub": "arn:${AWS::Partition}:${!Literal}:${Env}"}, "arn:aws:${Literal}:dev"),
        ({"Fn::Sub": ["${A}-${Size}", {"A": {"Ref": "Env"}}]}, "dev-5"),
        ({"Fn::Join": ["+", ["a", {"Ref": "Env"}, {"Ref": "AWS::NoValue"}]]}, "a+dev"),
        ({"Fn::Select": [1, {"Fn::Split": [",", "a,b,c"]}]}, "b"),
    ],
)
def test_intrinsic_functions(expression: dict[str, Any], expected: Any) -> None:
    assert stack().resolve(expression) == expected


def test_a_comma_delimited_list_is_a_list_and_its_text_where_a_string_is_wanted() -> None:
    local = stack(Regions="us-east-1,eu-west-1")
    assert local.resolve({"Ref": "Regions"}) == ["us-east-1", "eu-west-1"]
    assert local.resolve({"Fn::Sub": "${Regions}"}) == "us-east-1,eu-west-1"
    assert local.resolve({"Fn::Join": [";", {"Ref": "Regions"}]}) == "us-east-1;eu-west-1"


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ({"Fn::GetAtt": ["Queue", "Nothing"]}, "cannot resolve Fn::GetAtt Queue.Nothing"),
        ({"Ref": "Missing"}, "no resource 'Missing'"),
        ({"Fn::FindInMap": ["M", "k", "v"]}, "Fn::FindInMap is not supported"),
        ({"Fn::If": ["NoSuchCondition", 1, 2]}, "no condition 'NoSuchCondition'"),
        ({"Fn::Join": [",", "text"]}, "Fn::Join needs a list"),
    ],
)
def test_what_cannot_be_resolved_locally_is_a_template_error(expression: dict[str, Any], message: str) -> None:
    with pytest.raises(TemplateError, match=message):
        stack().resolve(expression)


def test_outputs_resolve_like_the_rest() -> None:
    assert stack().output("BusArn") == f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/bus"
    with pytest.raises(TemplateError, match="no output"):
        stack().output("Nope")


# -- conditions and AWS::NoValue --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({}, {"IsProd": False, "HasRegions": False, "ProdWithRegions": False, "ProdOrRegions": False}),
        ({"Env": "prod"}, {"IsProd": True, "HasRegions": False, "ProdWithRegions": False, "ProdOrRegions": True}),
        (
            {"Env": "prod", "Regions": "us-east-1"},
            {"IsProd": True, "HasRegions": True, "ProdWithRegions": True, "ProdOrRegions": True},
        ),
    ],
)
def test_conditions(overrides: dict[str, str], expected: dict[str, bool]) -> None:
    local = stack(**overrides)
    assert {name: local.condition(name) for name in expected} == expected
    assert local.condition("InIreland")
    assert local.is_created("ProdOnly") is expected["IsProd"]
    assert local.is_created("Queue")


def test_if_picks_a_branch_and_no_value_leaves_lists_and_mappings() -> None:
    value = {
        "Fn::If": ["IsProd", "prod-only", {"Ref": "AWS::NoValue"}],
    }
    assert stack().resolve({"kept": 1, "dropped": value}) == {"kept": 1}
    assert stack().resolve(["a", value]) == ["a"]
    assert stack(Env="prod").resolve({"kept": 1, "dropped": value}) == {"kept": 1, "dropped": "prod-only"}
