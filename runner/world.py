"""A local hub: events routed through the template's rules to in-process functions, as AWS would.

``World`` is what EventBridge, CloudTrail and the Lambda service do around the functions:

- every mutating EC2 call made through a recorded boto3 session becomes the CloudTrail event AWS
  would deliver (``emulation.cloudtrail``), in the caller's account and Region;
- each event reaches the hub's bus the way member-template.yaml and template.yaml say
  (``runner.routing.deliver``), and every rule of the stack that matches it runs its target
  functions (``runner.invoke``), whose own API calls are recorded and delivered in turn;
- a rule's function runs as Lambda runs an asynchronous invocation: a run that raises is retried
  (the function's EventInvokeConfig MaximumRetryAttempts, at once rather than after Lambda's
  minute or two), then the event goes to its on-failure destination (the function's dead-letter
  queue) in Lambda's destination record;
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
The calls it turns into events come from a recorder: ``ApiRecorder`` (the boto3 sessions it is
attached to: the demo's) or ``ServedCallRecorder`` (every call the moto server answered, from any
client: ``runner up``).
"""

from __future__ import annotations

import json
import re
import threading
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import IO, Any, Protocol

from botocore.awsrequest import AWSResponse

from emulation.cloudtrail import api_call_event, is_read_only
from emulation.ec2_wire import decode_call
from emulation.server import CALLER_HEADER
from runner.cfn import Stack
from runner.invoke import Invocation, invoke
from runner.lambda_async import AsyncLambda
from runner.lambda_async import async_configs as reservation_configs
from runner.model import (
    AsyncConfig,
    FunctionSpec,
    QueueMapping,
    RuleSpec,
    async_configs,
    functions,
    queue_mappings,
    rules,
)
from runner.routing import deliver, matching_rules

__all__ = [
    "SCHEDULE",
    "ApiCall",
    "ApiRecorder",
    "CallSource",
    "Delivered",
    "ServedCallRecorder",
    "World",
    "mark_caller",
]

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
    caller: str | None = None  # who made it, when the recorder knows (else the cause given to emit_calls)
    user_agent: str | None = None  # the client's User-Agent, when the recorder saw it

    def event(self) -> dict[str, Any]:
        return api_call_event(
            self.operation,
            self.params,
            None if self.error else self.response,
            account=self.account,
            region=self.region,
            operation_model=self.model,
            error=self.error,
            user_agent=self.user_agent,
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


class CallSource(Protocol):
    """Where the World gets the API calls made since it last asked."""

    def drain(self) -> list[ApiCall]: ...


class ServedCallRecorder:
    """The mutating EC2 calls a moto server started with ``record_calls`` answered, from any client.

    ``served_calls(after)`` is ``MotoServer.served_calls``; each record is decoded back into boto3's
    parameters and parsed response (``emulation.ec2_wire``); actions botocore does not know are
    skipped (CloudTrail's record of them would not be read by any rule of ours either).
    """

    def __init__(self, served_calls: Callable[[int], list[dict[str, Any]]]) -> None:
        self._served_calls = served_calls
        self._seen = 0
        self._lock = threading.Lock()

    def skip(self) -> None:
        """Forget every call served so far (setting the scene is not part of the story)."""
        self.drain()

    def drain(self) -> list[ApiCall]:
        with self._lock:
            records = self._served_calls(self._seen)
            if records:
                self._seen = max(int(r["seq"]) for r in records)
        calls: list[ApiCall] = []
        for record in records:
            decoded = decode_call(
                str(record["action"]), str(record["request"]), int(record["status"]), str(record["response"]).encode()
            )
            if decoded is None:
                continue
            calls.append(
                ApiCall(
                    operation=decoded.operation,
                    account=str(record["account"]),
                    region=str(record["region"]),
                    params=decoded.params,
                    response=decoded.response,
                    model=decoded.model,
                    error=decoded.error,
                    caller=str(record.get("caller") or "") or _client_name(str(record.get("userAgent") or "")),
                    user_agent=str(record.get("userAgent") or "") or None,
                )
            )
        return calls


def _client_name(user_agent: str) -> str | None:
    """The client in a user agent: "aws-cli/1.36.0 Python/3.11 ..." -> "aws-cli/1.36.0"."""
    first = user_agent.split(" ", 1)[0]
    return first or None


def mark_caller(session: Any, caller: Callable[[], str | None]) -> None:
    """Every request of the boto3 session names ``caller()`` in the emulator's caller header, so that
    ``ServedCallRecorder`` tells the functions' calls from those of other clients made meanwhile."""

    def add_header(request: Any, **_: Any) -> None:
        name = caller()
        if name:
            request.headers[CALLER_HEADER] = name

    session.events.register("before-send", add_header)


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
    failed = f" (failed: {detail['errorCode']})" if detail.get("errorCode") else ""
    return f"{detail.get('eventName') or event.get('detail-type')}{failed}"


class World:
    """Routes events through the stack's rules to its functions, in-process, until nothing is left."""

    def __init__(
        self,
        stack: Stack,
        recorder: CallSource,
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
        self.async_configs: dict[str, AsyncConfig] = async_configs(stack)
        #: the function running now (its logical id), for ``mark_caller``
        self.running: str | None = None
        self.pending: deque[tuple[dict[str, Any], str | None, str]] = deque()
        #: asynchronous invocations the functions made of the stack's functions, not run yet
        self.handed_on: deque[tuple[FunctionSpec, Any]] = deque()
        self.delivered: list[Delivered] = []  # the history (a long-running caller may clear it)
        self.deliveries = 0  # every event delivered so far: the number of the next one, minus one
        self.invocations: list[Invocation] = []
        self.max_deliveries = max_deliveries
        #: called with each delivered event (before its functions run)
        self.listeners: list[Callable[[Delivered], None]] = []
        #: called after each function run: (rule or queue mapping, event, invocation)
        self.after_invocation: list[Callable[[RuleSpec | QueueMapping, dict[str, Any], Invocation], None]] = []
        #: called with (cause, {eventName: count}) for events no rule matches
        self.dropped_hooks: list[Callable[[str, Counter[str]], None]] = []
        #: called with (function, event, destination ARN or None) when an event's retries are exhausted
        self.dead_letter_hooks: list[Callable[[str, dict[str, Any], str | None], None]] = []
        #: Lambda's asynchronous invocation, once ``invoke_asynchronously`` turned it on
        self.lambda_async: AsyncLambda | None = None

    def invoke_asynchronously(self, duration: Callable[[Invocation], float] | None = None) -> AsyncLambda:
        """From now on, rules invoke their functions as Lambda's asynchronous invocation does, within
        each function's reserved concurrency, on a simulated clock (``duration``: the simulated
        seconds an invocation takes; its real time by default)."""
        self.lambda_async = AsyncLambda(
            reservation_configs(self.stack),
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
        dropped: dict[str, Counter[str]] = {}
        for call in calls:
            event = call.event()
            arrival = deliver(event, self.stack)
            if arrival.bus is None or not matching_rules(self.rules, event, arrival.bus):
                dropped.setdefault(call.caller or cause, Counter())[_call_label(event)] += 1
                continue
            self.pending.append((event, None, call.caller or cause))
        for by, names in dropped.items():
            for hook in self.dropped_hooks:
                hook(by, names)

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
        started = self.deliveries
        while True:
            while self.pending or self.handed_on:
                if not self.pending:  # a hand-on: at most 20 per event (core.events.MAX_CONTINUATIONS)
                    spec, payload = self.handed_on.popleft()
                    self._invoke(spec, payload)
                    self.emit_calls(self.recorder.drain(), cause=spec.logical_id)
                    continue
                if self.deliveries - started >= self.max_deliveries:
                    raise RuntimeError(f"more than {self.max_deliveries} deliveries in one run: an event loop?")
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
        self.deliveries += 1
        item = Delivered(self.deliveries, event, cause, bus, how, matched)
        self.delivered.append(item)
        for listener in self.listeners:
            listener(item)
        for rule in matched:
            for function in rule.functions:
                if self.lambda_async is not None:
                    self.lambda_async.submit(function, event, (item, rule))
                    continue
                self._invoke_async(rule, item, function, event)

    def _invoke_async(self, rule: RuleSpec, item: Delivered, function: str, event: dict[str, Any]) -> None:
        """Lambda's asynchronous invocation: a run that raised is retried, then dead-lettered."""
        config = self.async_configs.get(function, AsyncConfig())
        attempts = config.max_retries + 1
        for _ in range(attempts):
            invocation = self._invoke(self.functions[function], event)
            item.invocations.append((rule, invocation))
            for hook in self.after_invocation:
                hook(rule, event, invocation)
            self.emit_calls(self.recorder.drain(), cause=function)
            if invocation.error is None:
                return
        self._dead_letter(function, event, invocation, config, attempts)

    def _dead_letter(
        self, function: str, event: dict[str, Any], invocation: Invocation, config: AsyncConfig, attempts: int
    ) -> None:
        """The on-failure destination's record (Lambda developer guide, "asynchronous invocation")."""
        spec = self.functions[function]
        if config.on_failure is not None and ":sqs:" in config.on_failure:
            record = {
                "version": "1.0",
                "timestamp": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                "requestContext": {
                    "requestId": str(event.get("id", "")),
                    "functionArn": f"{self.stack.get_att(function, 'Arn')}:$LATEST",
                    "condition": "RetriesExhausted",
                    "approximateInvokeCount": attempts,
                },
                "requestPayload": event,
                "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
                "responsePayload": invocation.error_payload(),
            }
            queue = config.on_failure.rsplit(":", 1)[-1]
            url = self.sqs.get_queue_url(QueueName=queue)["QueueUrl"]
            self.sqs.send_message(QueueUrl=url, MessageBody=json.dumps(record, default=str))
        for hook in self.dead_letter_hooks:
            hook(spec.logical_id, event, config.on_failure)

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
        self.running = spec.logical_id
        try:
            invocation = invoke(
                spec, event, account=self.stack.account, region=self.stack.region, overrides=self.overrides
            )
        finally:
            self.running = None
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
