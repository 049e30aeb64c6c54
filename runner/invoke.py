"""Run a function's handler in-process, the way Lambda would run it, against the current AWS endpoint.

The handler is the deployed function's (its code folder + Handler), its environment is the
function's (``runner.model``: SAM's Globals merged with its own Variables, parameters at their
defaults unless overridden, Refs and GetAtts to the stack's resources resolved to the names
``bootstrap`` creates), plus what the Lambda runtime adds (AWS_REGION, AWS_LAMBDA_FUNCTION_NAME,
the log group of its LoggingConfig...). Calls go wherever the standard AWS environment points: real
credentials, or ``AWS_ENDPOINT_URL`` for an emulator.

Locally there is no X-Ray daemon, so POWERTOOLS_TRACE_DISABLED=true is added (override it with
``--env`` if you run one). Function logs and metrics (Powertools writes both to stdout in Lambda)
go to the ``output`` stream given, so that the handler's result stays alone on stdout.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import logging
import os
import sys
import time
import traceback
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from types import ModuleType
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:  # runner.model needs the SAM translator: the installed command line has none
    from runner.model import FunctionSpec

__all__ = [
    "Invocation",
    "LambdaContext",
    "captured_output",
    "function_environment",
    "invoke",
    "load_handler",
    "patched_environ",
    "runtime_environment",
    "succeeded",
]

#: local additions a developer may override with --env
LOCAL_DEFAULTS = {"POWERTOOLS_TRACE_DISABLED": "true"}


class LambdaContext:
    """The attributes of the Lambda context object (what Powertools and handlers read)."""

    def __init__(self, spec: FunctionSpec, *, account: str, region: str) -> None:
        self.function_name = spec.function_name
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:{region}:{account}:function:{spec.function_name}"
        self.memory_limit_in_mb = spec.memory
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = spec.log_group
        self.log_stream_name = f"{datetime.now(UTC):%Y/%m/%d}/[$LATEST]{uuid.uuid4().hex}"
        self.identity: Any = None
        self.client_context: Any = None
        self._deadline = time.monotonic() + spec.timeout

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def runtime_environment(spec: FunctionSpec, *, account: str, region: str) -> dict[str, str]:
    """What the Lambda runtime sets besides the template's variables (and local defaults)."""
    return {
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        "AWS_LAMBDA_FUNCTION_NAME": spec.function_name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory),
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_LOG_GROUP_NAME": spec.log_group,
        **LOCAL_DEFAULTS,
    }


def function_environment(
    spec: FunctionSpec, *, account: str, region: str, overrides: Mapping[str, str] | None = None
) -> dict[str, str]:
    return {**runtime_environment(spec, account=account, region=region), **spec.environment, **(overrides or {})}


@contextlib.contextmanager
def patched_environ(env: Mapping[str, str]) -> Iterator[None]:
    """os.environ with ``env`` added for the block, then exactly as before."""
    saved = dict(os.environ)
    os.environ.update(env)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


_modules: dict[str, ModuleType] = {}


def load_handler(spec: FunctionSpec) -> Callable[[Any, Any], Any]:
    """Import the function's handler module (once per process, like a warm container)."""
    path = spec.handler_file
    key = str(path)
    module = _modules.get(key)
    if module is None:
        if not path.is_file():
            raise FileNotFoundError(f"{spec.logical_id}: handler file {path} does not exist")
        name = f"runner_function_{spec.folder}"
        loader_spec = importlib.util.spec_from_file_location(name, path)
        if loader_spec is None or loader_spec.loader is None:
            raise ImportError(f"cannot load {path}")
        module = importlib.util.module_from_spec(loader_spec)
        sys.modules[name] = module
        loader_spec.loader.exec_module(module)
        _modules[key] = module
    handler = getattr(module, spec.handler_attribute)
    if not callable(handler):
        raise TypeError(f"{spec.handler} is not callable")
    return handler  # type: ignore[no-any-return]


@dataclass
class Invocation:
    function: str
    result: Any
    error: BaseException | None
    duration_ms: float
    output: str = ""  # logs and metrics the function printed (when captured)

    @property
    def ok(self) -> bool:
        return succeeded(self.result, self.error)

    def error_payload(self) -> dict[str, Any]:
        """The error as Lambda reports it (errorType, errorMessage, stackTrace)."""
        assert self.error is not None
        return {
            "errorType": type(self.error).__name__,
            "errorMessage": str(self.error),
            "stackTrace": traceback.format_exception(self.error),
        }


def succeeded(result: Any, error: BaseException | None) -> bool:
    """No exception, and the handler reports success: ok true, or an SQS batch with no failures."""
    if error is not None:
        return False
    if isinstance(result, dict):
        if "batchItemFailures" in result:
            return not result["batchItemFailures"]
        if "ok" in result:
            return result["ok"] is True
    return True


def _powertools_handlers() -> list[logging.StreamHandler[Any]]:
    found: list[logging.StreamHandler[Any]] = []
    for name in ("peering-autopilot", os.environ.get("POWERTOOLS_SERVICE_NAME", "")):
        for handler in logging.getLogger(name).handlers if name else []:
            if isinstance(handler, logging.StreamHandler) and handler not in found:
                found.append(handler)
    return found


@contextlib.contextmanager
def captured_output(output: IO[str]) -> Iterator[None]:
    """Powertools logs, EMF metrics (both printed to stdout in Lambda) and warnings go to ``output``."""
    handlers = _powertools_handlers()
    previous = [h.setStream(output) for h in handlers]
    try:
        with contextlib.redirect_stdout(output), contextlib.redirect_stderr(output):
            yield
    finally:
        for handler, stream in zip(handlers, previous, strict=True):
            if stream is not None:
                handler.setStream(stream)


def invoke(
    spec: FunctionSpec,
    event: Any,
    *,
    account: str,
    region: str,
    overrides: Mapping[str, str] | None = None,
    output: IO[str] | None = None,
) -> Invocation:
    """Run the handler once with its environment; exceptions are caught and reported, not raised."""
    env = function_environment(spec, account=account, region=region, overrides=overrides)
    buffer = io.StringIO()
    stream: IO[str] = output if output is not None else buffer
    started = time.monotonic()
    result: Any = None
    error: BaseException | None = None
    with patched_environ(env):
        try:
            handler = load_handler(spec)  # imported with the function's env, as Lambda's init phase
            with captured_output(stream):
                result = handler(event, LambdaContext(spec, account=account, region=region))
        except Exception as exc:  # the runtime reports it; so do we
            error = exc
    return Invocation(
        function=spec.logical_id,
        result=result,
        error=error,
        duration_ms=(time.monotonic() - started) * 1000,
        output=buffer.getvalue(),
    )
