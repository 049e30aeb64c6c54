"""Benchmark: configure and cleanup of a 1,000-route connection under EC2's throttle, within 120 s.

The scenario is the tests' own (tests/budget.py, asserted by tests/reliability/test_budget.py):
a VPC with 200 route tables peered with a VPC of 5 CIDR blocks (1,000 routes), EC2's mutating
bucket (50 tokens, 5 a second) in front of moto, 50 ms per EC2 call, on a simulated clock.

- before: the handler's work with no deadline (the engine before issue 23). Lambda kills the
  invocation at its timeout and retries it twice, one minute and then two minutes later
  (asynchronous invocation); the wall time counts those waits.
- after: each invocation stops starting work at its margin and invokes the function again with
  the event; the next one runs at once (Lambda's asynchronous queue), and carries on.

Run with `.venv/bin/python scripts/bench_budget.py` (``--smoke``: 50 tables in 30 s invocations).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "layers" / "peering"), str(ROOT)]
os.environ["POWERTOOLS_LOG_LEVEL"] = "ERROR"
os.environ["POWERTOOLS_METRICS_DISABLED"] = "true"

import pytest  # noqa: E402
from tests.budget import (  # noqa: E402  (tests.conftest sets a fake AWS environment first)
    LAMBDA_RETRIES,
    TABLES,
    TIMEOUT_SECONDS,
    Runs,
    large_connection,
    recorded_continuations,
    with_budget,
    without_budget,
)
from tests.conftest import (  # noqa: E402
    HUB_ACCOUNT,
    FakeContext,
    Organization,
    emulated_organization,
    load_function,
    set_hub_env,
)
from tests.reliability.conftest import ledger_summary, routes_to  # noqa: E402

from peering.aws.clients import reset_member_credentials  # noqa: E402

# Lambda's waits before its first and second retry of a failed asynchronous invocation.
RETRY_WAITS = (60.0, 120.0)


@dataclass(frozen=True)
class Figures:
    path: str
    engine: str
    routes: int
    runs: Runs
    done: int  # routes made (configure) or removed (cleanup) at the end
    notices: int
    timeout: float

    @property
    def wall_seconds(self) -> float:
        """First start to last end: the invocations, and Lambda's waits before each retry."""
        retries = len(self.runs.answers) - 1 if self.engine == "before" else 0
        return self.runs.total_seconds + sum(RETRY_WAITS[:retries])

    def row(self) -> str:
        bucket = self.runs.bucket
        call = "CreateRoute" if self.path == "configure" else "DeleteRoute"
        calls = f"{bucket.sent[call]} ({bucket.throttled[call]} throttled)" if bucket else "-"
        killed = self.runs.timed_out
        outcome = f"{self.done} of {self.routes}"
        return (
            f"| {self.path}, {self.engine} | {self.routes} | {len(self.runs.seconds)} | {killed} "
            f"| {max(self.runs.seconds):.1f} | {self.wall_seconds:.1f} | {calls} | {outcome} | {self.notices} |"
        )


def _measured(run: Callable[[Organization], Figures]) -> Figures:
    with pytest.MonkeyPatch.context() as monkeypatch:
        set_hub_env(monkeypatch)
        reset_member_credentials()
        with emulated_organization(monkeypatch) as organization:
            return run(organization)


def _configure(engine: str, tables: int, timeout: float) -> Callable[[Organization], Figures]:
    function = load_function("configure")

    def run(organization: Organization) -> Figures:
        connection = large_connection(tables)
        organization.notifications()
        with recorded_continuations() as continuations:
            if engine == "after":
                runs = with_budget(function, connection.accept_event, continuations, timeout)
            else:
                runs = without_budget(function.configure, connection.accept_event, timeout)
        made = len(routes_to(HUB_ACCOUNT, connection.pcx))
        assert len(ledger_summary(connection.pcx)["routes"]) == made
        return Figures("configure", engine, connection.routes, runs, made, len(organization.notifications()), timeout)

    return run


def _cleanup(engine: str, tables: int, timeout: float) -> Callable[[Organization], Figures]:
    function = load_function("cleanup")

    def run(organization: Organization) -> Figures:
        connection = large_connection(tables)
        configured = load_function("configure").lambda_handler(connection.accept_event, FakeContext())
        assert configured["outcome"] == "configured", configured
        event = connection.delete_event()
        organization.notifications()
        with recorded_continuations() as continuations:
            if engine == "after":
                runs = with_budget(function, event, continuations, timeout)
            else:
                runs = without_budget(function.clean_up, event, timeout)
        removed = connection.routes - len(routes_to(HUB_ACCOUNT, connection.pcx))
        return Figures("cleanup", engine, connection.routes, runs, removed, len(organization.notifications()), timeout)

    return run


def measure(tables: int = TABLES, timeout: float = TIMEOUT_SECONDS) -> list[Figures]:
    return [
        _measured(scenario(engine, tables, timeout))
        for scenario in (_configure, _cleanup)
        for engine in ("before", "after")
    ]


def table(figures: list[Figures]) -> str:
    timeout = figures[0].timeout
    lines = [
        f"Invocations of {timeout:.0f} s; before: Lambda kills one at {timeout:.0f} s and retries it "
        f"{LAMBDA_RETRIES} times (waiting {RETRY_WAITS[0]:.0f} s, then {RETRY_WAITS[1]:.0f} s).",
        "",
        "| path, engine | routes | invocations | timed out | longest invocation (s) | wall time to converge (s) "
        "| route calls sent | routes done at the end | notices |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    lines += [f.row() for f in figures]
    return "\n".join(lines)


def main(tables: int = TABLES, timeout: float = TIMEOUT_SECONDS) -> str:
    return table(measure(tables, timeout))


if __name__ == "__main__":
    smoke = "--smoke" in sys.argv
    print(main(50, 30.0) if smoke else main())
