"""Reading templates as data: resources by type, rules of a function, IAM statements."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

Resources = dict[str, dict[str, Any]]

NO_VALUE = {"Ref": "AWS::NoValue"}


def of_type(resources: Resources, kind: str) -> dict[str, dict[str, Any]]:
    return {name: body for name, body in resources.items() if body["Type"] == kind}


def functions(resources: Resources) -> dict[str, dict[str, Any]]:
    return of_type(resources, "AWS::Serverless::Function")


def events_of(function: dict[str, Any], *kinds: str) -> dict[str, dict[str, Any]]:
    events = function["Properties"].get("Events", {})
    return {name: ev["Properties"] for name, ev in events.items() if ev["Type"] in kinds}


def rule_events(function: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Events that become EventBridge rules (pattern rules and schedules)."""
    return events_of(function, "EventBridgeRule", "Schedule")


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def getatt(value: Any) -> tuple[str, str]:
    assert isinstance(value, dict), f"expected !GetAtt, got {value!r}"
    assert "Fn::GetAtt" in value, f"expected !GetAtt, got {value!r}"
    resource, attribute = value["Fn::GetAtt"]
    return resource, attribute


def dead_letter_queue(function: dict[str, Any]) -> str:
    """The queue the function's failed async invocations go to (its EventInvokeConfig)."""
    on_failure = function["Properties"]["EventInvokeConfig"]["DestinationConfig"]["OnFailure"]
    assert on_failure["Type"] == "SQS"
    queue, attribute = getatt(on_failure["Destination"])
    assert attribute == "Arn"
    return queue


@dataclass(frozen=True)
class Grant:
    """One Allow statement, with the template condition it is granted under (None: always)."""

    statement: dict[str, Any]
    condition: str | None

    @property
    def actions(self) -> set[str]:
        return set(as_list(self.statement["Action"]))

    @property
    def targets(self) -> list[Any]:
        return as_list(self.statement["Resource"])


def _grants(statements: list[Any]) -> list[Grant]:
    found: list[Grant] = []
    for item in statements:
        if isinstance(item, dict) and "Fn::If" in item:
            condition, granted, otherwise = item["Fn::If"]
            assert otherwise == NO_VALUE, f"only conditional grants are expected, got {item!r}"
            found.append(Grant(granted, condition))
        else:
            found.append(Grant(item, None))
    return [g for g in found if g.statement["Effect"] == "Allow"]


def policy_grants(policies: list[Any]) -> list[Grant]:
    """Allow statements of a list of inline policy documents (a SAM function's Policies)."""
    grants: list[Grant] = []
    for policy in policies:
        # Inline documents only: no managed policy names, no SAM policy templates.
        assert isinstance(policy, dict), f"not an inline policy: {policy!r}"
        assert "Statement" in policy, f"not an inline policy: {policy!r}"
        grants.extend(_grants(policy["Statement"]))
    return grants


def function_role(resources: Resources, name: str) -> dict[str, Any]:
    """The execution role a function runs under: its own, declared in the template."""
    assert getatt(resources[name]["Properties"]["Role"]) == (f"{name}Role", "Arn"), name
    role = resources[f"{name}Role"]
    assert role["Type"] == "AWS::IAM::Role"
    return role


def function_grants(resources: Resources, name: str) -> list[Grant]:
    """The role's inline policies and the policies attached to it as resources of their own (a
    grant on the function itself, which the role cannot name without a circular reference)."""
    attached = [
        body["Properties"]["PolicyDocument"]
        for body in of_type(resources, "AWS::IAM::RolePolicy").values()
        if body["Properties"]["RoleName"] == {"Ref": f"{name}Role"}
    ]
    return role_grants(function_role(resources, name)) + policy_grants(attached)


def role_grants(role: dict[str, Any]) -> list[Grant]:
    """Allow statements of an AWS::IAM::Role's inline policies."""
    assert "ManagedPolicyArns" not in role["Properties"], "inline policies only"
    return policy_grants([p["PolicyDocument"] for p in role["Properties"]["Policies"]])


def granted(grants: list[Grant], *, conditional: bool | None = None) -> set[str]:
    """Actions granted; conditional=True/False: only those under a condition / only unconditional."""
    return {
        action
        for g in grants
        if conditional is None or (g.condition is not None) == conditional
        for action in g.actions
    }


def sub_text(value: Any) -> str:
    assert isinstance(value, dict), f"expected !Sub, got {value!r}"
    assert "Fn::Sub" in value, f"expected !Sub, got {value!r}"
    text = value["Fn::Sub"]
    assert isinstance(text, str)
    return text


def ec2_arn(resource_type: str) -> str:
    """An EC2 ARN pattern of the stack's own account, any Region (as the templates write it)."""
    return f"arn:${{AWS::Partition}}:ec2:*:${{AWS::AccountId}}:{resource_type}/*"


_SUB_VARIABLE = re.compile(r"\$\{([A-Za-z0-9:]+)(?:\.([A-Za-z0-9.]+))?\}")


def parse_sub_json(value: Any) -> tuple[Any, set[tuple[str, str | None]]]:
    """A !Sub'ed JSON document, with each ${X} / ${X.Attr} replaced by "<X>" / "<X.Attr>"."""
    text = sub_text(value)
    references = {(m.group(1), m.group(2)) for m in _SUB_VARIABLE.finditer(text)}

    def placeholder(match: re.Match[str]) -> str:
        return f"<{match.group(1)}{'.' + match.group(2) if match.group(2) else ''}>"

    return json.loads(_SUB_VARIABLE.sub(placeholder, text)), references
