"""The demo's timeline: each event delivered, the rule and function it reached, its outcome and actions."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from typing import Any

from runner.invoke import Invocation
from runner.model import QueueMapping, RuleSpec
from runner.routing import describe_event
from runner.world import Delivered


def _head(result: dict[str, Any]) -> str:
    """The outcome with the plan's summary: "accepted (policy)", "configured (2 route changes, ...)"."""
    outcome = str(result.get("outcome", ""))
    plan = str(result.get("plan") or "").splitlines()
    summary = plan[0].split(": ", 1)[-1] if plan else ""
    for verb in ("configure ", "cleanup "):
        if summary.startswith(verb):
            summary = summary[len(verb) :]
    if not summary or summary.startswith(outcome):
        return summary or outcome
    return f"{outcome} {summary}" if summary.startswith("(") else f"{outcome}: {summary}"


def _result_lines(result: Any) -> list[str]:
    if not isinstance(result, dict):
        return [f"result: {result!r}"]
    if "batchItemFailures" in result:
        failures = result["batchItemFailures"]
        return [f"{len(failures)} record(s) failed, left on the queue" if failures else "every record converged"]
    if result.get("ok") is False:
        return [f"refused: {result.get('error')}: {result.get('message')}"]
    if "targets" in result:
        return [f"queued {result['targets']} sweep target(s) (accounts x Regions) on the sweep queue"]
    if "connections" in result:
        conns = result["connections"]
        lines = [f"VPC {result.get('vpcId')}: {len(conns)} active connection(s) to re-converge"]
        for conn in conns:
            lines += _result_lines(conn)
        return lines
    plan = str(result.get("plan") or "").splitlines()
    lines = [_head(result)]
    lines += [line.strip() for line in plan[1:] if line.strip().startswith(("because", "!", "routing: rule"))]
    lines += [f"{a['action']} [{a['status']}]" for a in result.get("actions", [])]
    if not plan:
        lines += [f"because {r}" for r in result.get("reasons", [])]
    return lines


def _sweep_summaries(output: str) -> list[str]:
    lines = []
    for raw in output.splitlines():
        if not raw.startswith("{") or '"sweep summary"' not in raw:
            continue
        record = json.loads(raw)
        found, done = record.get("found") or {}, record.get("done") or {}
        if found or done:
            counts = ", ".join(f"{n} {status}" for status, n in sorted(found.items()))
            changes = ", ".join(f"{kind} x{n}" for kind, n in sorted(done.items())) or "nothing to change"
            lines.append(f"{record.get('account')}/{record.get('region')}: {counts} -> {changes}")
    return lines


class Timeline:
    """Prints what the World does: events, rules, functions, decisions, actions, notifications."""

    def __init__(self, out: Callable[[str], None], notifications: Callable[[], list[str]]) -> None:
        self.out = out
        self.notifications = notifications

    def delivered(self, item: Delivered) -> None:
        cause = item.cause if " " in item.cause else f"a call by {item.cause}"
        self.out(f"[{item.number}] {describe_event(item.event)}  <- {cause}")
        self.out(f"      arrives: {item.how}")
        if not item.rules:
            self.out("      no rule matches: dropped")

    def ran(self, trigger: RuleSpec | QueueMapping, event: dict[str, Any], invocation: Invocation) -> None:
        if isinstance(trigger, RuleSpec):
            self.out(f"      rule {trigger.rule_id} -> {invocation.function}")
        else:
            records = len(event.get("Records", []))
            self.out(
                f"[queue] {trigger.queue}: {records} message(s) -> {trigger.function} "
                f"(event source mapping {trigger.logical_id}, batch size {trigger.batch_size})"
            )
        if invocation.error is not None:
            self.out(f"         FAILED: {type(invocation.error).__name__}: {invocation.error}")
        else:
            for line in _result_lines(invocation.result):
                self.out(f"         {line}")
            for line in _sweep_summaries(invocation.output):
                self.out(f"         {line}")
        for subject in self.notifications():
            self.out(f"         notified: {subject}")

    def dropped(self, cause: str, calls: Counter[str]) -> None:
        listed = ", ".join(f"{name} x{n}" if n > 1 else name for name, n in calls.items())
        self.out(f"      its other calls ({listed}) match no rule: EventBridge drops them")
