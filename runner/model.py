"""The functions, EventBridge rules and queue mappings a stack deploys, read from its CloudFormation.

A ``runner.cfn.Stack`` holds the SAM translator's output, so everything here is a resource that
``sam deploy`` creates, under the translator's logical id: ``AWS::Lambda::Function`` (code,
handler, timeout, memory, role, log group, environment with SAM's Globals merged in),
``AWS::Events::Rule`` (pattern or schedule, bus, state, targets with their retry policy and
dead-letter queue), ``AWS::Lambda::EventSourceMapping`` and ``AWS::Lambda::EventInvokeConfig``
(asynchronous invocation: retries and the on-failure destination). A rule's target and a mapping's
function and queue are found by the ARN or name they resolve to, not by naming conventions.
Patterns are matched with moto's implementation of EventBridge patterns
(``moto.events.models.EventPattern``), not by hand.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from moto.events.models import EventPattern

from runner import ROOT
from runner.cfn import Stack
from runner.template import TemplateError, local_code

__all__ = [
    "DEFAULT_BUS",
    "AsyncConfig",
    "FunctionSpec",
    "QueueMapping",
    "RuleSpec",
    "Target",
    "async_configs",
    "find_function",
    "functions",
    "queue_mappings",
    "rules",
]

DEFAULT_BUS = "default"


def _env_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    return str(value)


def _bus_name(name_or_arn: str) -> str:
    """An event bus by name or ARN -> its name."""
    return name_or_arn.partition(":event-bus/")[2] or name_or_arn


@dataclass(frozen=True)
class FunctionSpec:
    logical_id: str
    folder: str  # the code folder's name (functions/<folder>)
    code_dir: Path
    handler: str  # module.attribute, e.g. app.lambda_handler
    function_name: str  # the local physical name
    timeout: int
    memory: int
    environment: dict[str, str] = field(default_factory=dict)  # Globals + the function's own, resolved
    role: str = ""  # the execution role's ARN
    log_group: str = ""  # where Lambda sends its logs (LoggingConfig, else /aws/lambda/<name>)

    @property
    def handler_file(self) -> Path:
        module, _, _ = self.handler.rpartition(".")
        return self.code_dir / (module.replace(".", "/") + ".py")

    @property
    def handler_attribute(self) -> str:
        return self.handler.rpartition(".")[2]


@dataclass(frozen=True)
class Target:
    """One target of a rule: a function of the stack, an event bus, or something not emulated."""

    target_id: str
    arn: str
    function: str | None = None  # logical id of the stack's function it invokes
    bus: str | None = None  # name of the event bus it puts the event on
    retry_policy: dict[str, Any] = field(default_factory=dict)
    dead_letter_arn: str | None = None


@dataclass(frozen=True)
class RuleSpec:
    """One ``AWS::Events::Rule`` of the stack."""

    rule_id: str  # the rule's logical id (SAM's <FunctionLogicalId><EventId> for a function's event)
    bus: str  # event bus name ("default" for the account's default bus)
    pattern: dict[str, Any]  # for a schedule: the events it delivers itself (its ARN in resources)
    targets: tuple[Target, ...] = ()
    enabled: bool = True
    schedule: str | None = None  # rate(...)/cron(...) of a schedule

    @property
    def kind(self) -> str:
        return "schedule" if self.schedule else "pattern"

    @property
    def functions(self) -> tuple[str, ...]:
        """The stack's functions it invokes (SAM gives each of its rules one)."""
        return tuple(t.function for t in self.targets if t.function)

    @cached_property
    def _compiled(self) -> Any:
        return EventPattern.load(json.dumps(self.pattern))

    def matches(self, event: dict[str, Any]) -> bool:
        """True when EventBridge would deliver ``event`` (put on this rule's bus) to the targets."""
        return self.enabled and bool(self._compiled.matches_event(event))

    def describe(self) -> str:
        trigger = f"schedule {self.schedule}" if self.schedule else f"bus {self.bus}"
        return f"{self.rule_id} ({trigger}) -> {', '.join(self.functions) or '-'}"


@dataclass(frozen=True)
class QueueMapping:
    """An SQS event source mapping (``AWS::Lambda::EventSourceMapping`` on a queue)."""

    logical_id: str
    queue: str  # the queue's logical id
    function: str  # the function's logical id
    batch_size: int = 10
    report_batch_item_failures: bool = False
    enabled: bool = True


@dataclass(frozen=True)
class AsyncConfig:
    """How Lambda invokes a function asynchronously (EventBridge's targets): retries of a failed
    invocation, then the event to the on-failure destination. Without a config Lambda retries twice
    and drops the event."""

    max_retries: int = 2
    on_failure: str | None = None  # the destination's ARN (an SQS queue of the stack)


def _created(stack: Stack, kind: str) -> list[tuple[str, dict[str, Any]]]:
    """(logical id, unresolved properties) of the resources of ``kind`` the stack creates."""
    return [
        (logical_id, dict(body.get("Properties") or {}))
        for logical_id, body in stack.resources.items()
        if body.get("Type") == kind and stack.is_created(logical_id)
    ]


def functions(stack: Stack) -> dict[str, FunctionSpec]:
    found: dict[str, FunctionSpec] = {}
    for logical_id, props in _created(stack, "AWS::Lambda::Function"):
        path = local_code(props.get("Code"))
        if path is None:
            raise TemplateError(f"{logical_id}: its code is not a folder of this checkout")
        code_dir = (ROOT / path).resolve()
        name = stack.physical_name(logical_id)
        variables = stack.resolve(((props.get("Environment") or {}).get("Variables")) or {})
        log_group = (props.get("LoggingConfig") or {}).get("LogGroup")
        found[logical_id] = FunctionSpec(
            logical_id=logical_id,
            folder=code_dir.name,
            code_dir=code_dir,
            handler=str(stack.resolve(props.get("Handler", "app.lambda_handler"))),
            function_name=name,
            timeout=int(stack.resolve(props.get("Timeout", 3))),
            memory=int(stack.resolve(props.get("MemorySize", 128))),
            environment={str(k): _env_text(v) for k, v in variables.items()},
            role=str(stack.resolve(props.get("Role", ""))),
            log_group=str(stack.resolve(log_group)) if log_group is not None else f"/aws/lambda/{name}",
        )
    return found


def find_function(stack: Stack, name: str) -> FunctionSpec:
    """A function by logical id (AcceptFunction) or by its code folder (accept), case-insensitive."""
    every = functions(stack)
    wanted = name.strip().lower()
    for spec in every.values():
        if wanted in (spec.logical_id.lower(), spec.folder.lower()):
            return spec
    choices = ", ".join(f"{s.logical_id} ({s.folder})" for s in every.values())
    raise TemplateError(f"no function {name!r} in the template; choose one of {choices}")


def _function_arns(stack: Stack) -> dict[str, str]:
    """ARN and name of every function the stack creates -> its logical id."""
    found: dict[str, str] = {}
    for logical_id, _props in _created(stack, "AWS::Lambda::Function"):
        found[str(stack.get_att(logical_id, "Arn"))] = logical_id
        found[stack.physical_name(logical_id)] = logical_id
    return found


def _target(stack: Stack, raw: dict[str, Any], function_arns: dict[str, str]) -> Target:
    arn = str(stack.resolve(raw["Arn"]))
    dead_letter = (raw.get("DeadLetterConfig") or {}).get("Arn")
    return Target(
        target_id=str(stack.resolve(raw.get("Id", ""))),
        arn=arn,
        function=function_arns.get(arn),
        bus=_bus_name(arn) if ":event-bus/" in arn else None,
        retry_policy=dict(stack.resolve(raw.get("RetryPolicy") or {})),
        dead_letter_arn=None if dead_letter is None else str(stack.resolve(dead_letter)),
    )


def _schedule_pattern(stack: Stack, logical_id: str) -> dict[str, Any]:
    """What a schedule rule delivers: Scheduled Events naming the rule's ARN in their resources.

    A rule without a Name gets ``<stack>-<logical id>-<random suffix>`` from CloudFormation.
    """
    name = stack.given_name(logical_id) or f"{stack.physical_name(logical_id)}*"
    return {
        "source": ["aws.events"],
        "detail-type": ["Scheduled Event"],
        "resources": [{"wildcard": f"arn:*:events:*:*:rule/{name}"}],
    }


def rules(stack: Stack) -> list[RuleSpec]:
    function_arns = _function_arns(stack)
    found: list[RuleSpec] = []
    for logical_id, props in _created(stack, "AWS::Events::Rule"):
        schedule = props.get("ScheduleExpression")
        found.append(
            RuleSpec(
                rule_id=logical_id,
                bus=_bus_name(str(stack.resolve(props.get("EventBusName", DEFAULT_BUS)))),
                pattern=(
                    stack.resolve(props["EventPattern"]) if schedule is None else _schedule_pattern(stack, logical_id)
                ),
                targets=tuple(_target(stack, t, function_arns) for t in props.get("Targets") or []),
                enabled=str(stack.resolve(props.get("State", "ENABLED"))).upper() == "ENABLED",
                schedule=None if schedule is None else str(stack.resolve(schedule)),
            )
        )
    return found


def queue_mappings(stack: Stack) -> list[QueueMapping]:
    queues = {str(stack.get_att(q, "Arn")): q for q, _props in _created(stack, "AWS::SQS::Queue")}
    function_arns = _function_arns(stack)
    found: list[QueueMapping] = []
    for logical_id, props in _created(stack, "AWS::Lambda::EventSourceMapping"):
        queue = queues.get(str(stack.resolve(props.get("EventSourceArn", ""))))
        function = function_arns.get(str(stack.resolve(props.get("FunctionName", ""))))
        if queue is None or function is None:
            continue  # only this stack's queues and functions are emulated
        found.append(
            QueueMapping(
                logical_id=logical_id,
                queue=queue,
                function=function,
                batch_size=int(stack.resolve(props.get("BatchSize", 10))),
                report_batch_item_failures="ReportBatchItemFailures"
                in stack.resolve(props.get("FunctionResponseTypes") or []),
                enabled=stack.resolve(props.get("Enabled", True)) not in (False, "false"),
            )
        )
    return found


def async_configs(stack: Stack) -> dict[str, AsyncConfig]:
    """Each function's ``AWS::Lambda::EventInvokeConfig`` (SAM's EventInvokeConfig), by logical id."""
    function_arns = _function_arns(stack)
    found: dict[str, AsyncConfig] = {}
    for _logical_id, props in _created(stack, "AWS::Lambda::EventInvokeConfig"):
        resolved = stack.resolve(props)
        function = function_arns.get(str(resolved.get("FunctionName", "")))
        if function is None:
            continue
        destination = ((resolved.get("DestinationConfig") or {}).get("OnFailure") or {}).get("Destination")
        found[function] = AsyncConfig(
            max_retries=int(resolved.get("MaximumRetryAttempts", 2)),
            on_failure=None if destination is None else str(destination),
        )
    return found
