"""The hub guardrail (guardrails-template.yaml): a service control policy that keeps every principal
of the hub account but the deployers, the stack's functions and the operators from approving a
request, or changing what the autopilot does, around the peering bus's policy.

The policy is read as CloudFormation would create it (``runner.cfn.Stack`` resolves its
parameters and intrinsic functions). Action names are checked against two sources: botocore's
service models (the API operations) and cfn-lint's copy of the IAM Service Authorization Reference
(the IAM actions, and the resource types each one is authorized on). The actions the deploy guide
names in "Trust boundary: the hub account" are exactly the actions the policy denies, and each is
denied on the hub stack's own resources, named as CloudFormation names them from template.yaml.
"""

from __future__ import annotations

import json
import re
from fnmatch import fnmatchcase
from functools import cache
from importlib.resources import files
from typing import Any

import botocore.session
import pytest

from runner.cfn import Stack
from runner.template import load_template, translate
from tests.template.cfn_yaml import HUB_TEMPLATE, ROOT, load_cfn_yaml
from tests.template.helpers import as_list, getatt, of_type

GUARDRAILS_TEMPLATE = ROOT / "guardrails-template.yaml"
RENDERED_POLICY = ROOT / "policy" / "guardrails" / "hub-guardrail-scp.json"
DEPLOY_GUIDE = ROOT / "docs" / "deploy.md"
SECTION = "## Trust boundary: the hub account"

HUB = "123456789012"
MEMBER = "210987654321"
REGION = "eu-west-1"
STACK = "peering-autopilot"
SUFFIX = "1A2B3C4D5E6F"  # what CloudFormation appends to a name it generates
SCP_MAX_CHARACTERS = 5120  # AWS Organizations quota for a service control policy

DEPLOYERS = [f"arn:aws:iam::{HUB}:role/peering-autopilot-deployer", f"arn:aws:iam::{HUB}:role/cfn-execution"]
OPERATORS = [f"arn:aws:iam::{HUB}:role/NetworkOperators"]
PUBLISHERS = [f"arn:aws:iam::{HUB}:role/NetworkPolicy"]
ADMIN = f"arn:aws:iam::{HUB}:role/Admin"  # an administrator of the hub account, nothing more
FUNCTION_ROLE_PATTERN = f"arn:aws:iam::*:role/{STACK}-*FunctionRole-*"

#: API operations authorized as an IAM action of another name (botocore name -> IAM name)
IAM_ACTION_OF_OPERATION = {
    "lambda:Invoke": "lambda:InvokeFunction",
    "lambda:InvokeWithResponseStream": "lambda:InvokeFunction",
}
#: IAM actions that are no API operation: a permission checked for something else
IAM_ONLY_ACTIONS = {
    "lambda:InvokeFunctionUrl",  # calling a function URL (HTTPS, not the Lambda API)
    "iam:PassRole",  # giving a role to a service (CreateFunction, UpdateFunctionConfiguration...)
    "dynamodb:PartiQLInsert",  # ExecuteStatement, BatchExecuteStatement, ExecuteTransaction
    "dynamodb:PartiQLUpdate",
    "dynamodb:PartiQLDelete",
}


def guardrail_stack(**overrides: str) -> Stack:
    parameters = {
        "HubAccountId": HUB,
        "DeployerPrincipalArns": ",".join(DEPLOYERS),
        "OperatorPrincipalArns": ",".join(OPERATORS),
        "PolicyPublisherArns": ",".join(PUBLISHERS),
        **overrides,
    }
    return Stack.from_template(
        load_template(GUARDRAILS_TEMPLATE), account="999999999999", region="us-east-1", overrides=parameters
    )


#: the parameters policy/guardrails/hub-guardrail-scp.json is rendered with: placeholders to replace
PLACEHOLDERS = {
    "HubAccountId": "000000000000",
    "DeployerPrincipalArns": "arn:aws:iam::HUB_ACCOUNT_ID:role/DEPLOYER_ROLE",
    "OperatorPrincipalArns": "arn:aws:iam::HUB_ACCOUNT_ID:role/OPERATOR_ROLE",
    "PolicyPublisherArns": "arn:aws:iam::HUB_ACCOUNT_ID:role/POLICY_PUBLISHER_ROLE",
}


def rendered_policy() -> str:
    """The policy for teams that manage SCPs outside CloudFormation, as the template makes it."""
    return json.dumps(policy_of(guardrail_stack(**PLACEHOLDERS)), indent=2) + "\n"


def policy_of(stack: Stack) -> dict[str, Any]:
    content: dict[str, Any] = stack.resolve(stack.resource("HubGuardrail")["Properties"]["Content"])
    return content


@pytest.fixture(scope="module")
def policy() -> dict[str, Any]:
    return policy_of(guardrail_stack())


def statements(policy: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["Sid"]: s for s in policy["Statement"]}


def denied_actions(policy: dict[str, Any]) -> set[str]:
    return {action for s in policy["Statement"] for action in as_list(s["Action"])}


# ---------------------------------------------------------------- where the names come from


@cache
def iam_reference() -> dict[str, Any]:
    """IAM actions per service prefix, with the resource types each is authorized on (cfn-lint's data)."""
    text = files("cfnlint.data.AdditionalSpecs").joinpath("Policies.json").read_text()
    reference: dict[str, Any] = json.loads(text)
    return reference


def iam_actions(prefix: str) -> dict[str, list[str]]:
    """IAM action (lower case) -> resource types it is authorized on ([]: only "*")."""
    actions = iam_reference()[prefix]["Actions"]
    return {name: list(spec.get("Resources", [])) for name, spec in actions.items()}


@cache
def api_actions(prefix: str) -> set[str]:
    """The IAM names of a service's API operations, from botocore's service model."""
    model = botocore.session.get_session().get_service_model(prefix)
    names = {f"{prefix}:{operation}" for operation in model.operation_names}
    return {IAM_ACTION_OF_OPERATION.get(name, name) for name in names}


def named_in_the_guide() -> set[str]:
    """The actions in the tables of the deploy guide's trust boundary section."""
    text = DEPLOY_GUIDE.read_text()
    assert SECTION in text, f"docs/deploy.md has no section {SECTION!r}"
    section = text.split(SECTION, 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("|")]
    return {match for row in rows for match in re.findall(r"`([a-z0-9-]+:[A-Za-z0-9]+)`", row)}


# ---------------------------------------------------------------- the hub stack's resources


@pytest.fixture(scope="module")
def hub() -> Stack:
    return Stack.load(HUB_TEMPLATE, account=HUB, region=REGION)


def generated(hub: Stack, logical_id: str, limit: int = 64) -> str:
    """The name CloudFormation gives a resource without one: <stack>-<logical id>-<suffix>, cut to fit."""
    given = hub.given_name(logical_id)
    if given is not None:
        return given
    return f"{STACK}-{logical_id}"[: limit - len(SUFFIX) - 1] + f"-{SUFFIX}"


def stack_arns(hub: Stack) -> dict[str, list[str]]:
    """ARNs of the hub stack's resources, by the IAM resource type an action is authorized on."""
    resources = hub.resources
    bus = hub.given_name("PeeringEventBus")
    assert bus == "peering-autopilot"
    rules = []
    for logical_id, rule in of_type(resources, "AWS::Events::Rule").items():
        name = generated(hub, logical_id)
        path = f"rule/{bus}/{name}" if rule["Properties"].get("EventBusName") else f"rule/{name}"
        rules.append(f"arn:aws:events:{REGION}:{HUB}:{path}")
    functions = of_type(resources, "AWS::Lambda::Function")
    return {
        "function": [f"arn:aws:lambda:{REGION}:{HUB}:function:{generated(hub, f)}" for f in functions],
        "rule-on-custom-event-bus": [r for r in rules if f"rule/{bus}/" in r],
        "rule-on-default-event-bus": [r for r in rules if f"rule/{bus}/" not in r],
        "event-bus": [f"arn:aws:events:{REGION}:{HUB}:event-bus/{bus}"],
        "table": [f"arn:aws:dynamodb:{REGION}:{HUB}:table/{generated(hub, 'LedgerTable', 255)}"],
        "queue": [f"arn:aws:sqs:{REGION}:{HUB}:{generated(hub, 'SweepQueue', 80)}"],
        "parameter": [f"arn:aws:ssm:{REGION}:{HUB}:parameter{hub.given_name('PolicyParameter')}"],
        "role": [f"arn:aws:iam::{HUB}:role/{generated(hub, f'{f}Role')}" for f in functions]
        + [f"arn:aws:iam::{MEMBER}:role/{hub.parameters['MemberRoleName']}"],
        "stack": [f"arn:aws:cloudformation:{REGION}:{HUB}:stack/{STACK}/8e2b3c60-0000-11ef-8d1a-0a1b2c3d4e5f"],
    }


def function_roles(hub: Stack) -> list[str]:
    return [
        f"arn:aws:iam::{HUB}:role/{generated(hub, f'{f}Role')}" for f in of_type(hub.resources, "AWS::Lambda::Function")
    ]


def targets_of(action: str, hub: Stack) -> list[str]:
    """The stack's resources an action acts on ("*" for an action without resource-level permissions)."""
    prefix, name = action.split(":")
    kinds = iam_actions(prefix)[name.lower()]
    if not kinds:
        return ["*"]
    arns = stack_arns(hub)
    found = [arn for kind in kinds for arn in arns.get(kind, [])]
    assert found, f"{action} acts on {kinds}: none of them is a resource of the hub stack"
    return found


# ---------------------------------------------------------------- a Deny statement's reach


def _like(pattern: str, value: str) -> bool:
    """IAM's wildcards (* and ?) in ARNs and action names; action names compare without case."""
    return fnmatchcase(value, pattern)


def denies(statement: dict[str, Any], action: str, resource: str, principal: str, source: str = "") -> bool:
    """Whether this Deny statement applies to a request (its conditions read from the request)."""
    assert statement["Effect"] == "Deny"
    assert set(statement) <= {"Sid", "Effect", "Action", "Resource", "Condition"}, "no NotAction, NotResource"
    if not any(_like(p.lower(), action.lower()) for p in as_list(statement["Action"])):
        return False
    if not any(_like(p, resource) for p in as_list(statement["Resource"])):
        return False
    context = {"aws:PrincipalArn": principal, "events:source": source}
    for operator, keys in statement.get("Condition", {}).items():
        for key, values in keys.items():
            value = context[key]
            if operator == "ArnNotLike" and any(_like(p, value) for p in as_list(values)):
                return False
            if operator == "StringEquals" and value not in as_list(values):
                return False
            assert operator in {"ArnNotLike", "StringEquals"}, operator
    return True


def denied(policy: dict[str, Any], action: str, resource: str, principal: str, source: str = "") -> bool:
    return any(denies(s, action, resource, principal, source) for s in policy["Statement"])


# ---------------------------------------------------------------- the policy


def test_the_template_creates_one_scp_attached_to_the_hub_account() -> None:
    stack = guardrail_stack()
    [body] = stack.resources.values()
    properties = stack.resolve(body["Properties"])
    assert (body["Type"], properties["Type"]) == ("AWS::Organizations::Policy", "SERVICE_CONTROL_POLICY")
    assert properties["TargetIds"] == [HUB]
    assert policy_of(stack)["Version"] == "2012-10-17"
    assert {s["Effect"] for s in policy_of(stack)["Statement"]} == {"Deny"}, "an SCP here only takes away"


def test_the_policy_fits_an_scp_with_room_for_many_principals() -> None:
    many = {
        "DeployerPrincipalArns": ",".join(f"arn:aws:iam::{HUB}:role/platform/peering-deployer-{i}" for i in range(3)),
        "OperatorPrincipalArns": ",".join(f"arn:aws:iam::{HUB}:role/network/peering-operator-{i}" for i in range(5)),
        "PolicyPublisherArns": ",".join(f"arn:aws:iam::{HUB}:role/network/peering-policy-{i}" for i in range(3)),
    }
    compact = json.dumps(policy_of(guardrail_stack(**many)), separators=(",", ":"))
    assert len(compact) < SCP_MAX_CHARACTERS, len(compact)


def test_every_action_is_an_iam_action_of_its_service(policy: dict[str, Any]) -> None:
    for action in denied_actions(policy):
        prefix, name = action.split(":")
        assert "*" not in action, f"{action}: wildcards would hide a typo; name each action"
        assert name.lower() in iam_actions(prefix), f"{action} is not an IAM action"
        assert action in api_actions(prefix) or action in IAM_ONLY_ACTIONS, (
            f"{action} is no API operation of botocore's {prefix} model, and not a known IAM-only action"
        )


def test_the_iam_only_actions_are_no_api_operations_and_invoke_is_invokefunction() -> None:
    # The exceptions above are needed: operation names equal IAM action names everywhere else.
    for action in IAM_ONLY_ACTIONS:
        assert action not in {f"{action.split(':')[0]}:{op}" for op in api_actions(action.split(":")[0])}
    for operation, action in IAM_ACTION_OF_OPERATION.items():
        prefix, name = operation.split(":")
        assert name in botocore.session.get_session().get_service_model(prefix).operation_names
        assert action.split(":")[1].lower() in iam_actions(prefix)
    assert "ExecuteStatement" in botocore.session.get_session().get_service_model("dynamodb").operation_names


def test_the_guide_names_exactly_the_denied_actions(policy: dict[str, Any]) -> None:
    named = named_in_the_guide()
    assert named - denied_actions(policy) == set(), "named in docs/deploy.md, not denied by the guardrail"
    assert denied_actions(policy) - named == set(), "denied by the guardrail, not named in docs/deploy.md"


@pytest.mark.parametrize("action", sorted(named_in_the_guide()))
def test_each_named_action_is_denied_on_the_stacks_resources_to_an_administrator(
    policy: dict[str, Any], hub: Stack, action: str
) -> None:
    for resource in targets_of(action, hub):
        assert denied(policy, action, resource, ADMIN, source="peering-autopilot.operator"), (action, resource)


@pytest.mark.parametrize("action", sorted(named_in_the_guide()))
def test_the_deployers_are_never_denied(policy: dict[str, Any], hub: Stack, action: str) -> None:
    for resource in targets_of(action, hub):
        for deployer in DEPLOYERS:
            assert not denied(policy, action, resource, deployer, source="peering-autopilot.operator")


def test_operators_may_take_the_approval_path_and_nothing_more(policy: dict[str, Any], hub: Stack) -> None:
    approval_path = {"lambda:InvokeFunction", "lambda:InvokeAsync", "lambda:InvokeFunctionUrl", "sqs:SendMessage"}
    for action in named_in_the_guide():
        for resource in targets_of(action, hub):
            for operator in OPERATORS:
                refused = denied(policy, action, resource, operator, source="peering-autopilot.operator")
                assert refused == (action not in approval_path | {"events:PutEvents"}), (action, resource)


def test_only_publishers_and_deployers_may_change_the_approval_policy(policy: dict[str, Any], hub: Stack) -> None:
    [parameter] = stack_arns(hub)["parameter"]
    for action in ("ssm:PutParameter", "ssm:DeleteParameter", "ssm:DeleteParameters"):
        assert not denied(policy, action, parameter, PUBLISHERS[0])
        assert denied(policy, action, parameter, OPERATORS[0])
        assert denied(policy, action, parameter, ADMIN)
    other = f"arn:aws:ssm:{REGION}:{HUB}:parameter/team/other"
    assert not denied(policy, "ssm:PutParameter", other, ADMIN), "other parameters are not the guardrail's business"


def test_the_functions_keep_what_they_do(policy: dict[str, Any], hub: Stack) -> None:
    arns = stack_arns(hub)
    member_role = f"arn:aws:iam::{MEMBER}:role/{hub.parameters['MemberRoleName']}"
    assert len(function_roles(hub)) == 7  # with the map function's (PublishMap=true)
    assert all(_like(FUNCTION_ROLE_PATTERN, role) for role in function_roles(hub))
    for role in function_roles(hub):
        assert not denied(policy, "sts:AssumeRole", member_role, role)
        assert not denied(policy, "dynamodb:UpdateItem", arns["table"][0], role)
        assert not denied(policy, "sqs:SendMessage", arns["queue"][0], role)
    assert not _like(FUNCTION_ROLE_PATTERN, member_role)
    assert not _like(FUNCTION_ROLE_PATTERN, ADMIN)


def test_operator_events_are_denied_only_to_non_operators(policy: dict[str, Any], hub: Stack) -> None:
    [bus] = stack_arns(hub)["event-bus"]
    assert denied(policy, "events:PutEvents", bus, ADMIN, source="peering-autopilot.operator")
    assert not denied(policy, "events:PutEvents", bus, OPERATORS[0], source="peering-autopilot.operator")
    # The member stacks forward CloudTrail events; other sources match no operator rule.
    assert not denied(policy, "events:PutEvents", bus, ADMIN, source="aws.ec2")


def test_the_exceptions_are_the_deployers_functions_operators_and_publishers(policy: dict[str, Any]) -> None:
    stack_only = [*DEPLOYERS, FUNCTION_ROLE_PATTERN]
    expected = {
        "OnlyOperatorsInvokeOrQueue": [*stack_only, *OPERATORS],
        "OnlyOperatorsPutOperatorEvents": [*stack_only, *OPERATORS],
        "OnlyPublishersChangeThePolicy": [*DEPLOYERS, *PUBLISHERS],
        "OnlyTheStackChangesBusPolicies": stack_only,
        "OnlyTheStackChangesItself": stack_only,
    }
    exceptions = {sid: s["Condition"]["ArnNotLike"]["aws:PrincipalArn"] for sid, s in statements(policy).items()}
    assert exceptions == expected


def test_without_operators_or_publishers_only_the_stack_is_excepted() -> None:
    policy = policy_of(guardrail_stack(OperatorPrincipalArns="", PolicyPublisherArns=""))
    for statement in policy["Statement"]:
        excepted = statement["Condition"]["ArnNotLike"]["aws:PrincipalArn"]
        assert "" not in excepted
        assert set(excepted) <= {*DEPLOYERS, FUNCTION_ROLE_PATTERN}


# ---------------------------------------------------------------- the decisive protection


def test_the_functions_admit_only_their_own_rules() -> None:
    """A function's resource policy admits EventBridge for its own rules only (SAM's permissions):
    ``lambda:InvokeFunction`` from outside the hub account needs lambda:AddPermission (denied);
    inside it, an identity grant is enough, which the guardrail denies."""
    translated = translate(load_cfn_yaml(HUB_TEMPLATE), region=REGION, parameters={})["Resources"]
    rule_targets = {
        rule: {getatt(target["Arn"])[0] for target in body["Properties"]["Targets"]}
        for rule, body in of_type(translated, "AWS::Events::Rule").items()
    }
    permissions = of_type(translated, "AWS::Lambda::Permission")
    assert permissions
    for name, body in permissions.items():
        properties = body["Properties"]
        rule, attribute = getatt(properties["SourceArn"])
        assert (properties["Action"], properties["Principal"], attribute) == (
            "lambda:InvokeFunction",
            "events.amazonaws.com",
            "Arn",
        ), name
        assert set(properties) == {"Action", "FunctionName", "Principal", "SourceArn"}, name
        assert properties["FunctionName"]["Ref"] in rule_targets[rule], name
    operator_rules = {rule for rule, targets in rule_targets.items() if "OperatorFunction" in targets}
    assert operator_rules == {"OperatorFunctionDecisionOnPeeringBus"}
    assert not of_type(translated, "AWS::Lambda::Url"), "no function URL: InvokeFunctionUrl has nothing to call"


def test_plain_cloudformation_validated_by_make() -> None:
    # Deployed with `aws cloudformation deploy`: no SAM transform, and no YAML aliases (W1101).
    template = load_cfn_yaml(GUARDRAILS_TEMPLATE)
    assert "Transform" not in template
    assert not re.search(r"(^|\s)[&*][A-Za-z]", GUARDRAILS_TEMPLATE.read_text())
    (line,) = re.findall(r"^TEMPLATES :=(.*)$", (ROOT / "Makefile").read_text(), re.MULTILINE)
    assert "guardrails-template.yaml" in line.split()


def test_the_rendered_policy_is_the_templates() -> None:
    # Regenerate with: .venv/bin/python -m tests.template.test_guardrails
    assert RENDERED_POLICY.read_text() == rendered_policy()


if __name__ == "__main__":
    RENDERED_POLICY.parent.mkdir(parents=True, exist_ok=True)
    RENDERED_POLICY.write_text(rendered_policy())
