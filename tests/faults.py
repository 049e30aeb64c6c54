"""Faults injected on real calls to moto, through botocore's own event hooks (no mock of the engine).

- ``throttle`` / ``server_error``: the call gets AWS's error response on the wire (``before-send``),
  so botocore's adaptive retry sees it exactly as it would see AWS's: short bursts are absorbed,
  long ones raise. moto never executes a faulted call.
- ``deny``: the call raises AccessDenied (``before-call``); AWS does not retry it either.
- ``crash_before`` / ``crash_after``: the process dies just before the call, or just after it
  succeeded (the call took effect, its answer is lost): a Lambda killed by a timeout or an
  out-of-memory error. ``Crash`` is a BaseException, so no ``except Exception`` swallows it.

Hooks go on the functions' process-wide boto3 session, so they reach every client the engine makes
and none of the clients the tests use to set up or inspect AWS.
"""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError

from peering.aws.clients import shared_session

# Where a faulted request is sent instead: no moto backend answers it, so nothing is executed.
_NOWHERE = "https://faults.invalid/"


class Crash(BaseException):
    """The function's process died here."""


class _Raw:
    """The minimal raw HTTP body botocore reads from a response."""

    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._body


def _error_response(service: str, status: int, code: str, request: Any) -> AWSResponse:
    message = f"injected fault: {code}"
    if service == "ec2":
        body = (
            f"<Response><Errors><Error><Code>{code}</Code><Message>{message}</Message></Error></Errors>"
            f"<RequestID>{uuid.uuid4()}</RequestID></Response>"
        ).encode()
        headers = {"Content-Type": "text/xml"}
    elif service in JSON_PROTOCOL:
        body = f'{{"__type":"{JSON_PROTOCOL[service]}#{code}","message":"{message}"}}'.encode()
        headers = {"Content-Type": "application/x-amz-json-1.1"}
    else:  # the query protocol of SNS and STS
        body = (
            f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error>"
            f"<RequestId>{uuid.uuid4()}</RequestId></ErrorResponse>"
        ).encode()
        headers = {"Content-Type": "text/xml"}
    return AWSResponse(request.url, status, headers, _Raw(body))  # type: ignore[arg-type]


# Services answering in the JSON protocol, with the namespace of their error types.
JSON_PROTOCOL = {
    "dynamodb": "com.amazonaws.dynamodb.v20120810",
    "ssm": "com.amazonaws.ssm",
    "organizations": "com.amazonaws.organizations.v20161128",
}
THROTTLE = {
    "ec2": (503, "RequestLimitExceeded"),
    "dynamodb": (400, "ThrottlingException"),
    "ssm": (400, "ThrottlingException"),
    "organizations": (400, "TooManyRequestsException"),
    "sns": (400, "Throttling"),
    "sts": (400, "Throttling"),
}
SERVER_ERROR = {
    "ec2": (500, "InternalError"),
    "dynamodb": (500, "InternalServerError"),
    "ssm": (500, "InternalServerError"),
    "organizations": (500, "ServiceException"),
    "sns": (500, "InternalError"),
    "sts": (500, "InternalFailure"),
}


@dataclass
class Rule:
    service: str
    operation: str
    times: int | None  # how many matching calls to fault; None: every one
    skip: int = 0  # matching calls let through first
    when: Callable[[str], bool] | None = None  # on the request's text (body and URL)
    seen: int = 0
    injected: int = 0

    def fires(self, text: str) -> bool:
        if self.when is not None and not self.when(text):
            return False
        self.seen += 1
        if self.seen <= self.skip:
            return False
        if self.times is not None and self.injected >= self.times:
            return False
        self.injected += 1
        return True


def _text(params: Any) -> str:
    return repr(params)


@dataclass
class Faults:
    """Faults on the engine's calls; every rule counts what it injected."""

    handlers: list[tuple[str, Callable[..., Any]]] = field(default_factory=list)
    injected: Counter[str] = field(default_factory=Counter)
    generation: int = 0

    def _register(self, event: str, handler: Callable[..., Any]) -> None:
        # Clients copy the session's hooks when they are made, and a cached client (Powertools'
        # SSM provider keeps one across invocations) outlives clear(): a cleared hook stays inert.
        generation = self.generation

        def guarded(**kwargs: Any) -> Any:
            return handler(**kwargs) if self.generation == generation else None

        shared_session().events.register_first(event, guarded)
        self.handlers.append((event, guarded))

    def clear(self) -> None:
        for event, handler in self.handlers:
            shared_session().events.unregister(event, handler)
        self.handlers.clear()
        self.generation += 1

    def _wire(self, kind: str, table: dict[str, tuple[int, str]], service: str, operation: str, rule: Rule) -> Rule:
        status, code = table[service]

        def respond(request: Any, **_: Any) -> AWSResponse | None:
            body = request.body.decode() if isinstance(request.body, bytes) else str(request.body or "")
            if not rule.fires(body + request.url):
                return None
            self.injected[f"{kind} {service}:{operation}"] += 1
            response = _error_response(service, status, code, request)
            request.url = _NOWHERE
            return response

        self._register(f"before-send.{service}.{operation}", respond)
        return rule

    def throttle(self, service: str, operation: str, times: int | None = 1, **kw: Any) -> Rule:
        return self._wire("throttle", THROTTLE, service, operation, Rule(service, operation, times, **kw))

    def server_error(self, service: str, operation: str, times: int | None = 1, **kw: Any) -> Rule:
        return self._wire("5xx", SERVER_ERROR, service, operation, Rule(service, operation, times, **kw))

    def answer(
        self, service: str, operation: str, code: str, status: int = 400, times: int | None = None, **kw: Any
    ) -> Rule:
        """The call gets the error ``code`` on the wire (e.g. EC2's AuthFailure in a Region the
        account has not enabled); ``when`` sees the request's URL, which names the Region."""
        return self._wire(code, {service: (status, code)}, service, operation, Rule(service, operation, times, **kw))

    def deny(self, service: str, operation: str, times: int | None = None, **kw: Any) -> Rule:
        rule = Rule(service, operation, times, **kw)
        code = "UnauthorizedOperation" if service == "ec2" else "AccessDenied"

        def refuse(params: Any, **_: Any) -> None:
            if rule.fires(_text(params)):
                self.injected[f"denied {service}:{operation}"] += 1
                raise ClientError({"Error": {"Code": code, "Message": "injected fault: access denied"}}, operation)

        self._register(f"before-call.{service}.{operation}", refuse)
        return rule

    def crash_before(self, service: str, operation: str, times: int | None = 1, **kw: Any) -> Rule:
        rule = Rule(service, operation, times, **kw)

        def die(params: Any, **_: Any) -> None:
            if rule.fires(_text(params)):
                self.injected[f"crash before {service}:{operation}"] += 1
                raise Crash(f"killed before {service}:{operation}")

        self._register(f"before-call.{service}.{operation}", die)
        return rule

    def crash_after(self, service: str, operation: str, times: int | None = 1, **kw: Any) -> Rule:
        """The call succeeded in AWS, then the process died before it saw the answer."""
        rule = Rule(service, operation, times, **kw)

        def die(http_response: Any, **_: Any) -> None:
            if http_response.status_code < 300 and rule.fires(""):
                self.injected[f"crash after {service}:{operation}"] += 1
                raise Crash(f"killed after {service}:{operation}")

        self._register(f"after-call.{service}.{operation}", die)
        return rule

    def crash_after_mutation(self, n: int) -> list[str]:
        """Die right after the n-th (1-based) successful call that changes something, any service.

        Returns the list the hook fills with every mutation seen, so a fault-free run tells how
        many there are (n = 0 crashes nowhere).
        """
        seen: list[str] = []

        def die(model: Any, http_response: Any, **_: Any) -> None:
            if http_response.status_code >= 300 or model.name.startswith(READ_ONLY):
                return
            seen.append(f"{model.service_model.service_id.hyphenize()}:{model.name}")
            if len(seen) == n:
                self.injected[f"crash after {seen[-1]}"] += 1
                raise Crash(f"killed after mutation {n}: {seen[-1]}")

        self._register("after-call", die)
        return seen

    def rendezvous(self, service: str, operation: str, barrier: threading.Barrier, *, after: bool = False) -> None:
        """Hold each caller at this call (or, ``after``, once it answered) until all parties arrive:
        runs that read the same state before either of them writes."""

        def wait(**_: Any) -> None:
            barrier.wait(timeout=30)

        self._register(f"{'after' if after else 'before'}-call.{service}.{operation}", wait)

    def hold(
        self,
        service: str,
        operation: str,
        until: threading.Event,
        when: Callable[[dict[str, Any]], bool] | None = None,
    ) -> None:
        """Hang each call (whose request dict, with its ``url_path``, matches ``when``) until
        ``until`` is set: a call that never answers, as a Lambda sees one until its timeout. The
        test sets it before it ends."""

        def wait(params: dict[str, Any], **_: Any) -> None:
            if when is None or when(params):
                self.injected[f"hang {service}:{operation}"] += 1
                until.wait(timeout=60)

        self._register(f"before-call.{service}.{operation}", wait)

    def before(self, service: str, operation: str, meddle: Callable[[], None], times: int = 1) -> None:
        """Run ``meddle`` (another actor's change) just before the engine's call, ``times`` times."""
        left = [times]

        def run(**_: Any) -> None:
            if left[0] > 0:
                left[0] -= 1
                meddle()

        self._register(f"before-call.{service}.{operation}", run)


# Calls that change nothing (a crash after one is the same as a crash before the next change).
READ_ONLY = ("Describe", "Get", "List", "Query", "BatchGet", "Scan", "AssumeRole")


@contextmanager
def faults() -> Iterator[Faults]:
    injected = Faults()
    try:
        yield injected
    finally:
        injected.clear()


class VirtualClock:
    """botocore's adaptive rate limiter's clock, without waiting: every reading is 10 s later, so
    the limiter always finds its token bucket refilled (it still counts, and retries the same)."""

    def __init__(self) -> None:
        self._now = 1_000_000.0

    def sleep(self, amount: float) -> None:
        self._now += amount

    def current_time(self) -> float:
        self._now += 10.0
        return self._now
