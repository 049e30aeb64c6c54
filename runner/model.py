"""What template.yaml declares about the functions: code, settings, EventBridge rules, queue mappings.

Everything here is read from the template (through ``runner.cfn.Stack``): the rules are the
functions' ``Events`` of type EventBridgeRule and Schedule, exactly as SAM turns them into
``AWS::Events::Rule`` resources named ``<FunctionLogicalId><EventId>``. Patterns are matched with
moto's implementation of EventBridge patterns (``moto.events.models.EventPattern``), not by hand.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from moto.events.models import EventPattern

from runner import ROOT
from runner.cfn import Stack, TemplateError

__all__ = [
    "DEFAULT_BUS",
    "FunctionSpec",
    "QueueMapping",
    "RuleSpec",
    "find_function",
    "functions",
    "queue_mappings",
    "rules",
]

DEFAULT_BUS = "default"
FUNCTION_TYPES = ("AWS::Serverless::Function",)
RULE_EVENT_TYPES = ("EventBridgeRule", "Schedule", "ScheduleV2")
#: what a schedule delivers to its target (EventBridge rule schedules / EventBridge Scheduler)
SCHEDULE_SOURCES = {"Schedule": "aws.events", "ScheduleV2": "aws.scheduler"}


def _env_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    return str(value)


@dataclass(frozen=True)
class FunctionSpec:
    logical_id: str
    folder: str  # the CodeUri folder name (functions/<folder>)
    code_dir: Path
    handler: str  # module.attribute, e.g. app.lambda_handler
    function_name: str  # the local physical name
    timeout: int
    memory: int
    environment: dict[str, str] = field(default_factory=dict)  # Globals + the function's own, resolved

    @property
    def handler_file(self) -> Path:
        module, _, _ = self.handler.rpartition(".")
        return self.code_dir / (module.replace(".", "/") + ".py")

    @property
    def handler_attribute(self) -> str:
        return self.handler.rpartition(".")[2]


@dataclass(frozen=True)
class RuleSpec:
    """One EventBridge rule SAM creates from a function's Events entry."""

    rule_id: str  # the rule's logical id, as SAM generates it: <FunctionLogicalId><EventId>
    function: str  # target function's logical id
    event_id: str
    kind: str  # EventBridgeRule | Schedule | ScheduleV2
    bus: str  # event bus name ("default" for the account's default bus)
    pattern: dict[str, Any]
    enabled: bool = True
    schedule: str | None = None  # rate(...)/cron(...) of a schedule

    @cached_property
    def _compiled(self) -> Any:
        return EventPattern.load(json.dumps(self.pattern))

    def matches(self, event: dict[str, Any]) -> bool:
        """True when EventBridge would deliver ``event`` (put on this rule's bus) to the target."""
        return self.enabled and bool(self._compiled.matches_event(event))

    def describe(self) -> str:
        trigger = f"schedule {self.schedule}" if self.schedule else f"bus {self.bus}"
        return f"{self.rule_id} ({trigger}) -> {self.function}"


@dataclass(frozen=True)
class QueueMapping:
    """An SQS event source mapping (``AWS::Lambda::EventSourceMapping`` on a queue)."""

    logical_id: str
    queue: str  # the queue's logical id
    function: str  # the function's logical id
    batch_size: int = 10
    report_batch_item_failures: bool = False
    enabled: bool = True


def _merged(stack: Stack, logical_id: str) -> dict[str, Any]:
    """The function's properties with SAM's Globals.Function applied (Environment merged)."""
    globals_ = dict(((stack.template.get("Globals") or {}).get("Function")) or {})
    own = dict(stack.resource(logical_id).get("Properties") or {})
    merged = {**globals_, **own}
    variables = dict(((globals_.get("Environment") or {}).get("Variables")) or {})
    variables.update(((own.get("Environment") or {}).get("Variables")) or {})
    merged["Environment"] = {"Variables": variables}
    return merged


def functions(stack: Stack) -> dict[str, FunctionSpec]:
    found: dict[str, FunctionSpec] = {}
    for logical_id, body in stack.resources.items():
        if body.get("Type") not in FUNCTION_TYPES or not stack.is_created(logical_id):
            continue
        props = _merged(stack, logical_id)
        code_uri = str(stack.resolve(props.get("CodeUri", "")))
        code_dir = (ROOT / code_uri).resolve()
        variables = stack.resolve(props["Environment"]["Variables"])
        found[logical_id] = FunctionSpec(
            logical_id=logical_id,
            folder=code_dir.name,
            code_dir=code_dir,
            handler=str(stack.resolve(props.get("Handler", "app.lambda_handler"))),
            function_name=stack.physical_name(logical_id),
            timeout=int(stack.resolve(props.get("Timeout", 3))),
            memory=int(stack.resolve(props.get("MemorySize", 128))),
            environment={str(k): _env_text(v) for k, v in variables.items()},
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


def rules(stack: Stack) -> list[RuleSpec]:
    found: list[RuleSpec] = []
    for logical_id, body in stack.resources.items():
        if body.get("Type") not in FUNCTION_TYPES or not stack.is_created(logical_id):
            continue
        events = (body.get("Properties") or {}).get("Events") or {}
        for event_id, event in events.items():
            kind = str(event.get("Type"))
            if kind not in RULE_EVENT_TYPES:
                continue
            props = dict(event.get("Properties") or {})
            state = str(stack.resolve(props.get("State", "ENABLED"))).upper()
            enabled = state == "ENABLED" and stack.resolve(props.get("Enabled", True)) not in (False, "false")
            if kind == "EventBridgeRule":
                bus = str(stack.resolve(props["EventBusName"])) if "EventBusName" in props else DEFAULT_BUS
                pattern = stack.resolve(props["Pattern"])
                schedule = None
            else:
                # A schedule has no pattern: it delivers its own events, whose resources name the rule
                # (SAM names it <stack>-<Function><EventId>-<suffix> unless the event sets Name).
                bus = DEFAULT_BUS
                name = str(stack.resolve(props["Name"])) if "Name" in props else f"*{logical_id}{event_id}*"
                pattern = {
                    "source": [SCHEDULE_SOURCES[kind]],
                    "detail-type": ["Scheduled Event"],
                    "resources": [{"wildcard": f"arn:*:*:*:*:*{'rule' if kind == 'Schedule' else 'schedule'}/{name}"}],
                }
                schedule = str(stack.resolve(props.get("Schedule", props.get("ScheduleExpression", ""))))
            found.append(
                RuleSpec(
                    rule_id=f"{logical_id}{event_id}",
                    function=logical_id,
                    event_id=str(event_id),
                    kind=kind,
                    bus=bus,
                    pattern=pattern,
                    enabled=enabled,
                    schedule=schedule,
                )
            )
    return found


def queue_mappings(stack: Stack) -> list[QueueMapping]:
    found: list[QueueMapping] = []
    for logical_id, body in stack.resources.items():
        if body.get("Type") != "AWS::Lambda::EventSourceMapping" or not stack.is_created(logical_id):
            continue
        props = body.get("Properties") or {}
        source = props.get("EventSourceArn")
        target = props.get("FunctionName")
        if not (isinstance(source, dict) and "Fn::GetAtt" in source and isinstance(target, dict) and "Ref" in target):
            continue  # only queues and functions of this template are emulated
        queue = (
            source["Fn::GetAtt"][0] if isinstance(source["Fn::GetAtt"], list) else source["Fn::GetAtt"].split(".")[0]
        )
        if stack.resource(queue).get("Type") != "AWS::SQS::Queue":
            continue
        found.append(
            QueueMapping(
                logical_id=logical_id,
                queue=str(queue),
                function=str(target["Ref"]),
                batch_size=int(stack.resolve(props.get("BatchSize", 10))),
                report_batch_item_failures="ReportBatchItemFailures" in (props.get("FunctionResponseTypes") or []),
                enabled=stack.resolve(props.get("Enabled", True)) not in (False, "false"),
            )
        )
    return found
