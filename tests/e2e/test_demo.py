"""Smoke test of ``make demo``: ``python -m runner demo`` plays the lifecycle, checks it, exits 0.

The demo is played once per session (the ``played_demo`` fixture, shared with the map's browser
test); the console entry itself is checked in test_commands.py.
"""

from __future__ import annotations

import io
import os
import re
from pathlib import Path

import pytest

from runner import demo
from tests.e2e.conftest import PlayedDemo


@pytest.mark.slow
def test_the_demo_plays_every_story_through_the_templates_rules(played_demo: PlayedDemo) -> None:
    out = played_demo.output
    assert played_demo.returncode == 0, out[-4000:] + played_demo.errors[-4000:]
    assert played_demo.seconds < 120, f"the demo took {played_demo.seconds:.0f} s"
    passed = re.search(r"(\d+) of (\d+) checks passed", out)
    assert passed, out[-2000:]
    assert passed.group(1) == passed.group(2)
    assert int(passed.group(2)) >= 15
    for line in (
        "rule AcceptFunctionCreateOnPeeringBus -> AcceptFunction",
        "rule ConfigureFunctionActivationOnDefaultBus -> ConfigureFunction",
        "rule OperatorFunctionDecisionOnPeeringBus -> OperatorFunction",
        "rule ConfigureFunctionActivationOnPeeringBus -> ConfigureFunction",
        "rule CleanupFunctionEndOnDefaultBus -> CleanupFunction",
        "rule CleanupFunctionEndOnPeeringBus -> CleanupFunction",
        "rule SweepFunctionScheduled -> SweepFunction",
        "[queue] SweepQueue",
        "member ForwardingRule -> bus peering-autopilot",
        "held (policy)",
        "accepted (operator:alice@example.com)",
        "CIDR overlap between the VPCs",
        "expired: cleaned up",
        "routing: rule 'payments-to-data-shared-subnets'",
        "-> reminder-sent x1",
        "notified: Reminder: peering request",
        "moto server stopped",
    ):
        assert line in out, f"missing {line!r}"
    assert "FAILED" not in out
    pid = re.search(r"\(pid (\d+)\)", out)
    assert pid
    with pytest.raises(ProcessLookupError):
        os.kill(int(pid.group(1)), 0)  # the server is gone


def test_a_failed_check_fails_the_demo_and_the_server_still_stops(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(demo, "_stories", lambda played: played.check("a check that fails", False, "on purpose"))
    environment = dict(os.environ)
    out = io.StringIO()

    assert demo.run_demo(out=out) == 1

    text = out.getvalue()
    assert "0 of 1 checks passed" in text
    assert "FAILED: a check that fails on purpose" in text
    pid = re.search(r"\(pid (\d+)\)", text)
    assert pid
    with pytest.raises(ProcessLookupError):
        os.kill(int(pid.group(1)), 0)
    assert dict(os.environ) == environment  # nothing of the demo's environment is left behind
    _remove_log(text)


def _remove_log(output: str) -> None:
    """The demo keeps its functions' log for the person who ran it; a test does not need it."""
    found = re.search(r"function logs: (\S+)", output)
    if found:
        Path(found.group(1)).unlink(missing_ok=True)
