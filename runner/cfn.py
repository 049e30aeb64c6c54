"""A template deployed locally: its parameters, conditions and intrinsic functions, resolved.

``Stack.load`` reads a template (``runner.template``: cfn-lint's decoder, then the SAM translator,
so the resources are those ``sam deploy`` creates) and resolves what the translator leaves to
CloudFormation: parameters (defaults, or overrides validated against AllowedValues/AllowedPattern/
MinValue/MaxValue), conditions, and ``Ref``/``Fn::GetAtt``/``Fn::Sub``/``Fn::Join``/``Fn::If``
(with ``Fn::Equals``/``Fn::Not``/``Fn::And``/``Fn::Or``/``Fn::Select``/``Fn::Split`` for
conditions). Resources get local names: a resource with an explicit name property keeps it; any
other gets ``<stack name>-<logical id>``, the name ``bootstrap`` creates it under.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runner import DEFAULT_STACK_NAME, HUB_TEMPLATE
from runner.template import TemplateError, load_template, translate

__all__ = ["DEFAULT_STACK_NAME", "NO_VALUE", "Stack"]


class _NoValue:
    def __repr__(self) -> str:
        return "AWS::NoValue"


#: what ``{"Ref": "AWS::NoValue"}`` resolves to; removed from lists and mappings
NO_VALUE: Any = _NoValue()

#: the property holding a resource's own name, per type (when set, it is the physical name)
NAME_PROPERTY = {
    "AWS::DynamoDB::Table": "TableName",
    "AWS::SNS::Topic": "TopicName",
    "AWS::SQS::Queue": "QueueName",
    "AWS::SSM::Parameter": "Name",
    "AWS::Events::EventBus": "Name",
    "AWS::Events::Rule": "Name",
    "AWS::Lambda::Function": "FunctionName",
    "AWS::Lambda::LayerVersion": "LayerName",
    "AWS::Logs::LogGroup": "LogGroupName",
    "AWS::IAM::Role": "RoleName",
    "AWS::CloudWatch::Alarm": "AlarmName",
    "AWS::KMS::Alias": "AliasName",
}


@dataclass
class Stack:
    """One template deployed (locally) as ``stack_name`` in ``account``/``region``.

    ``template`` is CloudFormation (a SAM template after ``runner.template.translate``).
    """

    template: dict[str, Any]
    account: str
    region: str
    parameters: dict[str, Any] = field(default_factory=dict)  # resolved: str, or list for CommaDelimitedList
    stack_name: str = DEFAULT_STACK_NAME
    partition: str = "aws"
    #: SQS queue name -> URL (the endpoint's answer); default: the AWS form of the URL
    queue_url: Callable[[str], str] | None = None
    _conditions: dict[str, bool] = field(default_factory=dict, repr=False)

    @classmethod
    def load(
        cls,
        path: Path = HUB_TEMPLATE,
        *,
        account: str,
        region: str,
        overrides: Mapping[str, str] | None = None,
        stack_name: str = DEFAULT_STACK_NAME,
        queue_url: Callable[[str], str] | None = None,
    ) -> Stack:
        return cls.from_template(
            load_template(path),
            account=account,
            region=region,
            overrides=overrides,
            stack_name=stack_name,
            queue_url=queue_url,
        )

    @classmethod
    def from_template(
        cls,
        template: dict[str, Any],
        *,
        account: str,
        region: str,
        overrides: Mapping[str, str] | None = None,
        stack_name: str = DEFAULT_STACK_NAME,
        queue_url: Callable[[str], str] | None = None,
    ) -> Stack:
        """The stack of a template as read (a SAM template is translated once its parameters are valid)."""
        declared: dict[str, Any] = template.get("Parameters") or {}
        overrides = dict(overrides or {})
        unknown = sorted(set(overrides) - set(declared))
        if unknown:
            raise TemplateError(
                f"unknown parameter(s) {', '.join(unknown)}; the template declares {', '.join(declared)}"
            )
        values: dict[str, Any] = {}
        for name, spec in declared.items():
            if name in overrides:
                raw = overrides[name]
            elif "Default" in spec:
                raw = spec["Default"]
            else:
                values[name] = None  # must be given before it is used
                continue
            values[name] = _parameter_value(name, spec, raw, explicit=name in overrides)
        return cls(
            template=translate(template, region=region, parameters=overrides),
            account=account,
            region=region,
            parameters=values,
            stack_name=stack_name,
            queue_url=queue_url,
        )

    # -- resources --------------------------------------------------------------------------

    @property
    def resources(self) -> dict[str, dict[str, Any]]:
        found: dict[str, dict[str, Any]] = self.template.get("Resources") or {}
        return found

    def resource(self, logical_id: str) -> dict[str, Any]:
        try:
            return self.resources[logical_id]
        except KeyError:
            raise TemplateError(f"no resource {logical_id!r} in the template") from None

    def is_created(self, logical_id: str) -> bool:
        """False when the resource's Condition is false (CloudFormation would not create it)."""
        condition = self.resource(logical_id).get("Condition")
        return condition is None or self.condition(str(condition))

    def given_name(self, logical_id: str) -> str | None:
        """The name the template gives the resource (its name property), if any."""
        body = self.resource(logical_id)
        prop = NAME_PROPERTY.get(str(body.get("Type")))
        value = (body.get("Properties") or {}).get(prop) if prop else None
        return None if value is None else str(self.resolve(value))

    def physical_name(self, logical_id: str) -> str:
        """The given name, else ``<stack>-<logical id>`` (CloudFormation adds a random suffix to it)."""
        return self.given_name(logical_id) or f"{self.stack_name}-{logical_id}"

    def arn(self, service: str, resource: str, *, region: bool = True, account: bool = True) -> str:
        where = f"{self.region if region else ''}:{self.account if account else ''}"
        return f"arn:{self.partition}:{service}:{where}:{resource}"

    def _pseudo(self, name: str) -> Any:
        return {
            "AWS::AccountId": self.account,
            "AWS::Region": self.region,
            "AWS::Partition": self.partition,
            "AWS::StackName": self.stack_name,
            "AWS::StackId": self.arn("cloudformation", f"stack/{self.stack_name}/local"),
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::NotificationARNs": [],
            "AWS::NoValue": NO_VALUE,
        }[name]

    def _queue_url(self, name: str) -> str:
        if self.queue_url is not None:
            return self.queue_url(name)
        return f"https://sqs.{self.region}.amazonaws.com/{self.account}/{name}"

    def ref(self, name: str) -> Any:
        """What Ref returns: a pseudo parameter, a parameter's value, or a resource's Ref value."""
        if name.startswith("AWS::"):
            return self._pseudo(name)
        if name in self.parameters:
            value = self.parameters[name]
            if value is None:
                raise TemplateError(f"parameter {name} has no default: give it with --param {name}=...")
            return value
        kind = str(self.resource(name).get("Type"))
        physical = self.physical_name(name)
        by_type: dict[str, Callable[[], Any]] = {
            "AWS::SNS::Topic": lambda: self.arn("sns", physical),
            "AWS::SQS::Queue": lambda: self._queue_url(physical),
            "AWS::Lambda::LayerVersion": lambda: self.arn("lambda", f"layer:{physical}:1"),
            "AWS::KMS::Key": lambda: f"local-{name}",
        }
        return by_type[kind]() if kind in by_type else physical

    def get_att(self, name: str, attribute: str) -> Any:
        kind = str(self.resource(name).get("Type"))
        physical = self.physical_name(name)
        if attribute == "Arn":
            by_type = {
                "AWS::DynamoDB::Table": lambda: self.arn("dynamodb", f"table/{physical}"),
                "AWS::SQS::Queue": lambda: self.arn("sqs", physical),
                "AWS::SNS::Topic": lambda: self.arn("sns", physical),
                "AWS::Events::EventBus": lambda: self.arn("events", f"event-bus/{physical}"),
                "AWS::Events::Rule": lambda: self.arn("events", f"rule/{physical}"),
                "AWS::Lambda::Function": lambda: self.arn("lambda", f"function:{physical}"),
                "AWS::KMS::Key": lambda: self.arn("kms", f"key/{self.ref(name)}"),
                "AWS::IAM::Role": lambda: self.arn("iam", f"role/{physical}", region=False),
                "AWS::SSM::Parameter": lambda: self.arn("ssm", f"parameter{physical}"),
                "AWS::Logs::LogGroup": lambda: self.arn("logs", f"log-group:{physical}"),
            }
            if kind in by_type:
                return by_type[kind]()
        if attribute == "QueueName" and kind == "AWS::SQS::Queue":
            return physical
        if attribute == "TopicArn" and kind == "AWS::SNS::Topic":
            return self.ref(name)
        if attribute in ("Name", "TopicName"):
            return physical
        raise TemplateError(f"cannot resolve Fn::GetAtt {name}.{attribute} ({kind}) locally")

    def output(self, name: str) -> Any:
        """The value of one of the template's Outputs."""
        outputs: dict[str, Any] = self.template.get("Outputs") or {}
        if name not in outputs:
            raise TemplateError(f"no output {name!r} in the template")
        return self.resolve(outputs[name]["Value"])

    # -- conditions -------------------------------------------------------------------------

    def condition(self, name: str) -> bool:
        if name not in self._conditions:
            conditions: dict[str, Any] = self.template.get("Conditions") or {}
            if name not in conditions:
                raise TemplateError(f"no condition {name!r} in the template")
            self._conditions[name] = bool(self.resolve(conditions[name]))
        return self._conditions[name]

    # -- intrinsic functions ----------------------------------------------------------------

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            items = [self.resolve(v) for v in value]
            return [v for v in items if v is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, arg),) = value.items()
            handler = self._functions().get(key)
            if handler is not None:
                return handler(arg)
            if key.startswith("Fn::"):
                raise TemplateError(f"{key} is not supported by the local resolver")
        out = {k: self.resolve(v) for k, v in value.items()}
        return {k: v for k, v in out.items() if v is not NO_VALUE}

    def _functions(self) -> dict[str, Callable[[Any], Any]]:
        return {
            "Ref": lambda arg: self.ref(str(arg)),
            "Fn::GetAtt": self._fn_get_att,
            "Fn::Sub": self._fn_sub,
            "Fn::Join": self._fn_join,
            "Fn::If": self._fn_if,
            "Fn::Equals": lambda arg: _scalar(self.resolve(arg[0])) == _scalar(self.resolve(arg[1])),
            "Fn::Not": lambda arg: not self.resolve(arg[0]),
            "Fn::And": lambda arg: all(self.resolve(a) for a in arg),
            "Fn::Or": lambda arg: any(self.resolve(a) for a in arg),
            "Condition": lambda arg: self.condition(str(arg)),
            "Fn::Select": lambda arg: self.resolve(arg[1])[int(self.resolve(arg[0]))],
            "Fn::Split": lambda arg: str(self.resolve(arg[1])).split(str(arg[0])),
        }

    def _fn_get_att(self, arg: Any) -> Any:
        name, attribute = arg.split(".", 1) if isinstance(arg, str) else [str(arg[0]), str(self.resolve(arg[1]))]
        return self.get_att(name, attribute)

    def _fn_join(self, arg: Any) -> str:
        separator, items = arg
        values = self.resolve(items)
        if not isinstance(values, list):
            raise TemplateError(f"Fn::Join needs a list, got {values!r}")
        return str(separator).join(str(_scalar(v)) for v in values)

    def _fn_if(self, arg: Any) -> Any:
        name, when_true, when_false = arg
        return self.resolve(when_true if self.condition(str(name)) else when_false)

    def _fn_sub(self, arg: Any) -> str:
        if isinstance(arg, list):
            text, variables = str(arg[0]), {k: self.resolve(v) for k, v in (arg[1] or {}).items()}
        else:
            text, variables = str(arg), {}

        def substitute(match: re.Match[str]) -> str:
            expression = match.group(1)
            if expression.startswith("!"):
                return "${" + expression[1:] + "}"
            if expression in variables:
                return str(_scalar(variables[expression]))
            if "." in expression:
                return str(self._fn_get_att(expression))
            return str(_scalar(self.ref(expression)))

        return re.sub(r"\$\{([^}]+)\}", substitute, text)


def _scalar(value: Any) -> Any:
    """Comma-delimited lists compare and join as their text, as CloudFormation does."""
    return ",".join(str(v) for v in value) if isinstance(value, list) else value


def _parameter_value(name: str, spec: Mapping[str, Any], raw: Any, *, explicit: bool) -> Any:
    text = str(raw)
    kind = str(spec.get("Type", "String"))
    if explicit:
        allowed = spec.get("AllowedValues")
        if allowed is not None and text not in {str(a) for a in allowed}:
            raise TemplateError(f"parameter {name}={text!r} is not one of {', '.join(str(a) for a in allowed)}")
        pattern = spec.get("AllowedPattern")
        if pattern is not None and kind == "String" and not re.fullmatch(str(pattern), text):
            raise TemplateError(f"parameter {name}={text!r} does not match {pattern}")
        if kind == "Number":
            try:
                number = float(text)
            except ValueError:
                raise TemplateError(f"parameter {name}={text!r} is not a number") from None
            if "MinValue" in spec and number < float(spec["MinValue"]):
                raise TemplateError(f"parameter {name}={text} is below {spec['MinValue']}")
            if "MaxValue" in spec and number > float(spec["MaxValue"]):
                raise TemplateError(f"parameter {name}={text} is above {spec['MaxValue']}")
    if kind == "CommaDelimitedList" or kind.startswith("List<"):
        return [part.strip() for part in text.split(",")]
    return text
