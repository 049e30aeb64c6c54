"""One Logger and Metrics for every function, and a Tracer that costs nothing when tracing is off.

Service name and namespace come from the environment. The X-Ray SDK is the largest import of a
handler (more than boto3 on a cold start), and the Lambda service already records each
invocation's segment by itself (Tracing: Active); the SDK only adds a subsegment per AWS call.
So it is imported on the first invocation that traces, and never when POWERTOOLS_TRACE_DISABLED
is true (the stack's TraceAwsCalls parameter sets it).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from typing import Any, TypeVar

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

NAMESPACE = "PeeringAutopilot"

Handler = TypeVar("Handler", bound=Callable[..., Any])


def tracing_enabled() -> bool:
    return os.environ.get("POWERTOOLS_TRACE_DISABLED", "false").strip().lower() not in ("true", "1")


class LazyTracer:
    """``capture_lambda_handler`` as Powertools' Tracer offers it, the Tracer made on first use."""

    def __init__(self) -> None:
        self._tracer: Any = None

    def capture_lambda_handler(self, handler: Handler) -> Handler:
        chosen: list[Callable[..., Any]] = []

        @functools.wraps(handler)
        def run(event: Any, context: Any) -> Any:
            if not chosen:
                chosen.append(self._real().capture_lambda_handler(handler) if tracing_enabled() else handler)
            return chosen[0](event, context)

        return run  # type: ignore[return-value]

    def _real(self) -> Any:
        if self._tracer is None:
            from aws_lambda_powertools import Tracer  # noqa: PLC0415 - the X-Ray SDK, only when tracing

            self._tracer = Tracer()
        return self._tracer


logger = Logger()
tracer = LazyTracer()
metrics = Metrics(namespace=NAMESPACE)

__all__ = ["NAMESPACE", "LazyTracer", "MetricUnit", "logger", "metrics", "tracer", "tracing_enabled"]
