"""Benchmark: EC2 calls per event path and case, next to the floor, on moto in-process.

The scenarios are the tests' own (tests/paths.py, pinned by tests/integration/test_call_counts.py):
each builds its state, runs the function's handler on its event, and counts the calls the function
makes through a botocore hook. Also: STS AssumeRole per member target over warm worker runs, and
DynamoDB writes of route records per route a sweep repairs. Counts, not seconds: they do not depend
on the machine. Run with `.venv/bin/python scripts/bench_paths.py`.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "layers" / "peering"), str(ROOT)]
os.environ["POWERTOOLS_LOG_LEVEL"] = "ERROR"

import pytest  # noqa: E402
from tests.conftest import Organization, emulated_organization, set_hub_env  # noqa: E402  (sets a fake AWS env)
from tests.paths import PATHS, service_calls, sweep_member_role_calls, sweep_route_record_writes  # noqa: E402

from peering.aws.clients import reset_member_credentials  # noqa: E402

T = TypeVar("T")


def measured(run: Callable[[Organization], T]) -> T:
    """``run`` on a fresh emulated organization, as a cold function process would see it."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        set_hub_env(monkeypatch)
        reset_member_credentials()
        with emulated_organization(monkeypatch) as organization:
            return run(organization)


def main() -> str:
    lines = ["| path | case | EC2 calls | floor | target | all AWS calls |", "|---|---|---|---|---|---|"]
    for path in PATHS:
        calls = measured(path.run)
        total = sum(calls.values())
        lines.append(
            f"| {path.name} | {path.case} | {service_calls(calls, 'ec2')} | {path.floor} | {path.target} | {total} |"
        )
    assumed, targets = measured(lambda organization: sweep_member_role_calls(organization, invocations=3))
    writes, routes = measured(lambda organization: sweep_route_record_writes(organization, routes=50))
    return "\n".join(
        [
            *lines,
            "",
            f"STS AssumeRole: {assumed} for {targets} member targets over 3 warm worker runs (floor: 1 per account).",
            f"DynamoDB writes of route records: {writes} for {routes} routes repaired by one sweep (floor: 1 per 25).",
        ]
    )


if __name__ == "__main__":
    print(main())
