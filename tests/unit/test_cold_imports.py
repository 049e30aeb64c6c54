"""What a cold start imports: each handler, in a fresh interpreter, loads only what its path needs.

The X-Ray SDK only when tracing is on, PyYAML only for a YAML policy, pydantic only when a policy
is read (events are validated without it; the policy's models are imported by its first read),
and neither Powertools' parser nor its batch utility (the worker answers its batch with
peering.runtime.batch: Powertools' batch utility imports asyncio and every event data class).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import pytest

from peering.runtime.observability import LazyTracer
from tests.conftest import ROOT

#: what no handler imports before its first event
HEAVY = (
    "aws_xray_sdk",
    "yaml",
    "pydantic",
    "pydantic_core",
    "peering.core.policy",
    "asyncio",
    "aws_lambda_powertools.utilities.parser",
    "aws_lambda_powertools.utilities.batch",
    "aws_lambda_powertools.utilities.data_classes",
)
FUNCTIONS = sorted(p.name for p in (ROOT / "functions").iterdir() if (p / "app.py").is_file())

_PROBE = """
import json, sys
sys.path[:0] = [{task!r}, {layer!r}]
import app
heavy = {heavy!r}
print(json.dumps(sorted({{h for h in heavy for m in sys.modules if m == h or m.startswith(h + ".")}})))
"""


def _imported_by(function: str, **env: str) -> list[str]:
    code = _PROBE.format(task=str(ROOT / "functions" / function), layer=str(ROOT / "layers" / "peering"), heavy=HEAVY)
    done = subprocess.run(  # noqa: S603 - our own interpreter
        [sys.executable, "-c", code],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=True,
    )
    found: list[str] = json.loads(done.stdout.splitlines()[-1])
    return found


@pytest.mark.parametrize("function", FUNCTIONS)
def test_a_handler_imports_nothing_its_path_does_not_need(function: str) -> None:
    assert _imported_by(function, POWERTOOLS_TRACE_DISABLED="true") == []
    # Even with tracing on, the SDK waits for the first invocation.
    assert _imported_by(function, POWERTOOLS_TRACE_DISABLED="false") == []


def test_tracing_off_calls_the_handler_untouched(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    lazy = LazyTracer()
    seen: list[Any] = []
    handler = lazy.capture_lambda_handler(lambda event, context: seen.append(event) or "done")
    assert handler({"n": 1}, None) == "done"
    assert seen == [{"n": 1}]
    assert lazy._tracer is None


def test_tracing_on_wraps_the_handler_with_powertools_tracer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "false")
    lazy = LazyTracer()
    handler = lazy.capture_lambda_handler(lambda event, context: {"echo": event})
    assert handler({"n": 2}, None) == {"echo": {"n": 2}}
    from aws_lambda_powertools import Tracer  # noqa: PLC0415

    assert isinstance(lazy._tracer, Tracer)
