"""A local hub: events routed through the template's rules to in-process functions, as AWS would.

``World`` is what EventBridge, CloudTrail and the Lambda service do around the functions:

- every mutating EC2 call made through a recorded boto3 session becomes the CloudTrail event AWS
  would deliver (``emulation.cloudtrail``), in the caller's account and Region;
- each event reaches the hub's bus the way member-template.yaml and template.yaml say
  (``runner.routing.deliver``), and every rule of the stack that matches it runs its target
  functions (``runner.invoke``), whose own API calls are recorded and delivered in turn;
- SQS event source mappings of the stack (the sweep queue -> worker) are polled like Lambda
  does: batches of BatchSize, partial batch failures left on the queue;
- an asynchronous Invoke of one of the stack's functions (configure or cleanup handing an event
  on to their next invocation when out of time) is answered 202 and run in turn
  (``World.run_hand_ons``);
- with ``invoke_asynchronously``, a rule's function runs as Lambda runs an asynchronous
  invocation (``runner.lambda_async``): queued, within its reserved concurrency, throttled events
  retried with backoff, failed ones retried, the rest sent to the on-failure destination, on a
  simulated clock. Without it each function runs once, as soon as its event arrives.

It talks to whatever endpoint boto3 is configured for; the demo points it at the moto server.
"""

from __future__ import annotations

import json
import re
import threading
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO, Any

from botocore.awsrequest import AWSResponse

from emulation.cloudtrail import api_call_event, is_read_only
from runner.cfn import Stack
from runner.invoke import Invocation, invoke
from runner.lambda_async import AsyncLambda, async_configs
from runner.model import FunctionSpec, QueueMapping, RuleSpec, functions, queue_mappings, rules
from runner.routing import deliver, matching_rules

__all__ = ["SCHEDULE", "ApiCall", "ApiRecorder", "Delivered", "World"]

_CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/")
#: the cause of a scheduled event
SCHEDULE = "the schedule"


@dataclass(frozen=True)
class ApiCall:
    operation: str
    account: str
    region: str
    params: dict[str, Any]
    response: dict[str, Any]
    model: Any
    error: tuple[str, str] | None = None

    def event(self) -> dict[str, Any]:
        return api_call_event(
            self.operation,
            self.params,
            None if self.error else self.response,
            account=self.account,
            region=self.region,
            operation_model=self.model,
            error=self.error,
        )


class ApiRecorder:
    """Records the mutating EC2 calls made through the boto3 sessions it is attached to.

    The calling account is the one the endpoint maps the request's access key to
    (``account_of``: for the moto server, ``MotoServer.account_of``).
    """

    def __init__(self, account_of: Callable[[str], str]) -> None:
        self._account_of = account_of
        self._accounts: dict[str, str] = {}
        self._local = threading.local()
        self._lock = threading.Lock()
        self.calls: list[ApiCall] = []

    def attach(self, session: Any) -> None:
        events = session.events
        events.register("before-parameter-build.ec2", self._params)
        events.register("before-send.ec2", self._sent)
        events.register("after-call.ec2", self._done)

    def detach(self, session: Any) -> None:
        events = session.events
        events.unregister("before-parameter-build.ec2", self._params)
        events.unregister("before-send.ec2", self._sent)
        events.unregister("after-call.ec2", self._done)

    def _params(self, params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context["emulation.params"] = dict(params)

    def _sent(self, request: Any, **_: Any) -> None:
        header = request.headers.get("Authorization", b"")
        text = header.decode() if isinstance(header, bytes) else str(header)
        found = _CREDENTIAL.search(text)
        self._local.access_key = found.group(1) if found else ""

    def _account(self, access_key: str) -> str:
        if access_key not in self._accounts:
            self._accounts[access_key] = self._account_of(access_key)
        return self._accounts[access_key]

    def _done(self, http_response: Any, parsed: dict[str, Any], model: Any, context: dict[str, Any], **_: Any) -> None:
        if is_read_only(model.name):
            return
        error = None
        if http_response.status_code >= 300:
            details = parsed.get("Error", {})
            error = (str(details.get("Code", "Error")), str(details.get("Message", "")))
        call = ApiCall(
            operation=model.name,
            account=self._account(getattr(self._local, "access_key", "")),
            region=str(context.get("client_region")),
            params=dict(context.get("emulation.params") or {}),
            response=dict(parsed),
            model=model,
            error=error,
        )
        with self._lock:
            self.calls.append(call)

    def drain(self) -> list[ApiCall]:
        with self._lock:
            calls, self.calls = self.calls, []
        return calls


@dataclass
class Delivered:
    """One event delivered to the hub and what ran because of it."""

    number: int
    event: dict[str, Any]
    cause: str
    bus: str | None
    how: str
    rules: list[RuleSpec]
    invocations: list[tuple[RuleSpec, Invocation]] = field(default_factory=list)


def _call_label(event: dict[str, Any]) -> str:
    detail = event.get("detail") or {}
    return str(detail.get("eventName") or event.get("detail-type"))


class World:
    """Routes events through the stack's rules to its functions, in-process, until nothing is left."""

    def __init__(
        self,
        stack: Stack,
        recorder: ApiRecorder,
        *,
        sqs: Any,
        log: IO[str] | None = None,
        overrides: dict[str, str] | None = None,
        max_deliveries: int = 200,
    ) -> None:
        self.stack = stack
        self.recorder = recorder
        self.sqs = sqs
        self.log = log
        self.overrides = overrides or {}
        self.rules = rules(stack)
        self.functions: dict[str, FunctionSpec] = functions(stack)
        self.mappings: list[QueueMapping] = [m for m in queue_mappings(stack) if m.enabled]
        self.pending: deque[tuple[dict[str, Any], str | None, str]] = deque()
        #: asynchronous invocations the functions made of the stack's functions, not run yet
        self.handed_on: deque[tuple[FunctionSpec, Any]] = deque()
        self.delivered: list[Delivered] = []
        self.invocations: list[Invocation] = []
        self.max_deliveries = max_deliveries
        #: called with each delivered event (before its functions run)
        self.listeners: list[Callable[[Delivered], None]] = []
        #: called after each function run: (rule or queue mapping, event, invocation)
        self.after_invocation: list[Callable[[RuleSpec | QueueMapping, dict[str, Any], Invocation], None]] = []
        #: called with (cause, {eventName: count}) for events no rule matches
        self.dropped_hooks: list[Callable[[str, Counter[str]], None]] = []
        #: Lambda's asynchronous invocation, once ``invoke_asynchronously`` turned it on
        self.lambda_async: AsyncLambda | None = None

    def invoke_asynchronously(self, duration: Callable[[Invocation], float] | None = None) -> AsyncLambda:
        """From now on, rules invoke their functions as Lambda's asynchronous invocation does, within
        each function's reserved concurrency, on a simulated clock (``duration``: the simulated
        seconds an invocation takes; its real time by default)."""
        self.lambda_async = AsyncLambda(
            async_configs(self.stack),
            self._run_queued,
            self._send_to_destination,
            duration=duration or (lambda invocation: invocation.duration_ms / 1000),
            function_arn=lambda function: str(self.stack.get_att(function, "Arn")),
        )
        return self.lambda_async

    # -- putting events ---------------------------------------------------------------------

    def emit_calls(self, calls: list[ApiCall], cause: str) -> None:
        """CloudTrail: every recorded call becomes an event in the caller's account and Region.

        Events that no rule will ever match (routing depends on the event alone) are dropped here,
        as EventBridge drops them, and reported to ``dropped_hooks`` with their cause.
        """
        dropped: Counter[str] = Counter()
        for call in calls:
            event = call.event()
            arrival = deliver(event, self.stack)
            if arrival.bus is None or not matching_rules(self.rules, event, arrival.bus):
                dropped[_call_label(event)] += 1
                continue
            self.pending.append((event, None, cause))
        if dropped:
            for hook in self.dropped_hooks:
                hook(cause, dropped)

    def put(self, event: dict[str, Any], bus: str, cause: str) -> None:
        """PutEvents on a hub bus (operator events), or a schedule firing (cause SCHEDULE)."""
        self.pending.append((event, bus, cause))

    def run_hand_ons(self, session: Any) -> None:
        """Lambda's part when a function invokes one of the stack's functions asynchronously through
        ``session`` (configure and cleanup handing their event on): answered 202, run by ``run``."""
        session.events.register("before-parameter-build.lambda.Invoke", self._invoke_params)
        session.events.register("before-call.lambda.Invoke", self._hand_on)

    def _invoke_params(self, params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context["runner.invoke"] = dict(params)

    def _hand_on(self, context: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]] | None:
        params = context.get("runner.invoke") or {}
        name = str(params.get("FunctionName", "")).split(":")
        named = name[6] if len(name) >= 7 else name[0]  # an ARN or a bare name
        spec = next((f for f in self.functions.values() if f.function_name == named), None)
        if spec is None or params.get("InvocationType") != "Event":
            return None  # not the stack's asynchronous invocation: the endpoint answers it
        self.handed_on.append((spec, json.loads(params.get("Payload") or b"{}")))
        return AWSResponse("", 202, {}, None), {"StatusCode": 202}  # type: ignore[arg-type]

    # -- running ----------------------------------------------------------------------------

    def run(self) -> None:
        """Deliver everything pending (and everything it causes, handed-on invocations too), then
        poll the queue mappings."""
        while True:
            while self.pending or self.handed_on:
                if not self.pending:  # a hand-on: at most 20 per event (core.events.MAX_CONTINUATIONS)
                    spec, payload = self.handed_on.popleft()
                    self._invoke(spec, payload)
                    self.emit_calls(self.recorder.drain(), cause=spec.logical_id)
                    continue
                if len(self.delivered) >= self.max_deliveries:
                    raise RuntimeError(f"more than {self.max_deliveries} deliveries: an event loop?")
                event, bus, cause = self.pending.popleft()
                self._deliver(event, bus, cause)
            if self.lambda_async is not None and self.lambda_async.step():
                continue  # one queued invocation at a time: what it causes is delivered first
            if not self._poll_queues():
                break

    def _deliver(self, event: dict[str, Any], bus: str | None, cause: str) -> None:
        if bus is None:
            arrival = deliver(event, self.stack)
            bus, how = arrival.bus, arrival.how
        else:
            how = f"PutEvents on bus {bus}" if cause != SCHEDULE else f"the schedule fires (bus {bus})"
        matched = matching_rules(self.rules, event, bus) if bus else []
        item = Delivered(len(self.delivered) + 1, event, cause, bus, how, matched)
        self.delivered.append(item)
        for listener in self.listeners:
            listener(item)
        for rule in matched:
            for function in rule.functions:
                if self.lambda_async is not None:
                    self.lambda_async.submit(function, event, (item, rule))
                    continue
                invocation = self._invoke(self.functions[function], event)
                item.invocations.append((rule, invocation))
                for hook in self.after_invocation:
                    hook(rule, event, invocation)
                self.emit_calls(self.recorder.drain(), cause=function)

    def _run_queued(self, function: str, event: dict[str, Any], context: Any) -> Invocation:
        """One asynchronous invocation whose turn came (``lambda_async``), with what it causes."""
        item, rule = context
        invocation = self._invoke(self.functions[function], event)
        item.invocations.append((rule, invocation))
        for hook in self.after_invocation:
            hook(rule, event, invocation)
        self.emit_calls(self.recorder.drain(), cause=function)
        return invocation

    def _send_to_destination(self, arn: str, record: dict[str, Any]) -> None:
        """An on-failure destination: the stack's SQS queue of that ARN."""
        url = self.sqs.get_queue_url(QueueName=arn.rsplit(":", 1)[-1])["QueueUrl"]
        self.sqs.send_message(QueueUrl=url, MessageBody=json.dumps(record, default=str))

    def _invoke(self, spec: FunctionSpec, event: dict[str, Any]) -> Invocation:
        invocation = invoke(spec, event, account=self.stack.account, region=self.stack.region, overrides=self.overrides)
        self.invocations.append(invocation)
        if self.log is not None:
            self.log.write(f"--- {spec.logical_id} {json.dumps(event, default=str)[:300]}\n{invocation.output}")
            if invocation.error is not None:
                self.log.write("".join(invocation.error_payload()["stackTrace"]))
            self.log.flush()
        return invocation

    def _poll_queues(self) -> bool:
        """One round of every SQS event source mapping; True when a function ran."""
        ran = False
        for mapping in self.mappings:
            url = str(self.stack.ref(mapping.queue))
            arn = str(self.stack.get_att(mapping.queue, "Arn"))
            while True:
                messages = self.sqs.receive_message(
                    QueueUrl=url,
                    MaxNumberOfMessages=min(10, mapping.batch_size),
                    AttributeNames=["All"],
                    MessageAttributeNames=["All"],
                ).get("Messages", [])
                if not messages:
                    break
                ran = True
                event = {"Records": [_sqs_record(m, arn, self.stack.region) for m in messages]}
                spec = self.functions[mapping.function]
                invocation = self._invoke(spec, event)
                for hook in self.after_invocation:
                    hook(mapping, event, invocation)
                failed = set()
                if (
                    invocation.error is None
                    and mapping.report_batch_item_failures
                    and isinstance(invocation.result, dict)
                ):
                    failed = {f["itemIdentifier"] for f in invocation.result.get("batchItemFailures", [])}
                elif invocation.error is not None:
                    failed = {m["MessageId"] for m in messages}
                for message in messages:
                    if message["MessageId"] not in failed:
                        self.sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
                self.emit_calls(self.recorder.drain(), cause=spec.logical_id)
                if failed:
                    break  # left for the visibility timeout (and the redrive policy), as Lambda does
        return ran


def _sqs_record(message: dict[str, Any], queue_arn: str, region: str) -> dict[str, Any]:
    """A record of the SQS event Lambda's event source mapping delivers."""
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": message.get("Attributes", {}),
        "messageAttributes": message.get("MessageAttributes", {}),
        "md5OfBody": message.get("MD5OfBody", ""),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }
