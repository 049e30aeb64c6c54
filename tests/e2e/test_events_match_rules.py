"""Events and rules agree: every sample in events/ meets exactly the rules it is meant for, and every
rule of template.yaml has a sample.

What a sample is meant for is declared by its file-name convention (events/README.md):
``<eventName>__<variant>.json`` for CloudTrail events, ``operator__<variant>.json`` for operator
events (then by their detail-type), ``scheduled__<variant>.json`` for the schedule. EXPECTED below
is that declaration, written independently of the template; the rules and the matching come from
the template and moto's EventBridge pattern implementation (runner.model), so a pattern changed in
the template, or a sample changed in events/, that breaks the agreement fails here.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from runner.cfn import Stack
from runner.model import RuleSpec, rules
from runner.routing import deliver, matching_rules

EVENTS = Path(__file__).resolve().parents[2] / "events"
SAMPLES = sorted(EVENTS.glob("*.json"))
HUB = "111111111111"  # the hub account of the samples (events/README.md)
HUB_REGION = "us-east-1"

_ACCEPT = {"AcceptFunctionCreateOnDefaultBus", "AcceptFunctionCreateOnPeeringBus"}
_ACTIVATION = {"ConfigureFunctionActivationOnDefaultBus", "ConfigureFunctionActivationOnPeeringBus"}
_END = {"CleanupFunctionEndOnDefaultBus", "CleanupFunctionEndOnPeeringBus"}
# Operator events are honoured on the peering bus only (its policy says who may put them).
_DECISION = {"OperatorFunctionDecisionOnPeeringBus"}
_CONVERGE = {"ConfigureFunctionConvergeOnPeeringBus"}
_SWEEP = {"SweepFunctionSweepOnPeeringBus"}
# A write to the policy parameter, recorded in the hub where it lives: its default bus only.
_POLICY_CHANGE = {"SweepFunctionPolicyChangedOnDefaultBus"}

#: kind of sample -> the rules (SAM's <Function><EventId> logical ids) it must meet, on either bus
EXPECTED: dict[str, set[str]] = {
    "CreateVpcPeeringConnection": _ACCEPT,
    "failed": set(),
    "AcceptVpcPeeringConnection": _ACTIVATION,
    "AssociateVpcCidrBlock": _ACTIVATION,
    "DisassociateVpcCidrBlock": _ACTIVATION,
    "RejectVpcPeeringConnection": _END,
    "DeleteVpcPeeringConnection": _END,
    "ModifyVpcPeeringConnectionOptions": _ACTIVATION,  # DNS options changed by hand: re-converged
    "PutParameter": _POLICY_CHANGE,
    "operator:Approve Peering Request": _DECISION,
    "operator:Reject Peering Request": _DECISION,
    "operator:Converge Peering Connection": _CONVERGE,
    "operator:Sweep Peering Connections": _SWEEP,
    "scheduled": {"SweepFunctionScheduled"},
}


def load(path: Path) -> dict[str, Any]:
    event: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return event


def kind_of(path: Path, event: dict[str, Any]) -> str:
    """The sample's kind from its file name, checked against its content."""
    prefix, sep, variant = path.stem.partition("__")
    assert sep, f"{path.name}: name it <eventName>__<variant>.json, operator__... or scheduled__..."
    assert variant, f"{path.name}: the variant after __ is missing"
    if prefix == "operator":
        assert event["source"] == "peering-autopilot.operator", path.name
        return f"operator:{event['detail-type']}"
    if prefix == "scheduled":
        assert event["source"] == "aws.events", path.name
        assert event["detail-type"] == "Scheduled Event", path.name
        return "scheduled"
    assert event["detail-type"] == "AWS API Call via CloudTrail", path.name
    assert event["detail"]["eventName"] == prefix, f"{path.name}: the name says {prefix}"
    if "errorCode" in event["detail"]:
        return "failed"  # a failed call changed nothing: no rule forwards or delivers it
    return prefix


@pytest.fixture(scope="module")
def hub() -> Stack:
    return Stack.load(account=HUB, region=HUB_REGION)


@pytest.fixture(scope="module")
def template_rules(hub: Stack) -> list[RuleSpec]:
    return rules(hub)


def test_there_are_samples() -> None:
    assert len(SAMPLES) >= 6


def test_the_declaration_names_only_rules_of_the_template(template_rules: list[RuleSpec]) -> None:
    declared = set().union(*EXPECTED.values())
    assert declared == {r.rule_id for r in template_rules}, "EXPECTED and template.yaml disagree on the rules"


@pytest.mark.parametrize("path", SAMPLES, ids=[p.name for p in SAMPLES])
def test_sample_meets_exactly_its_rules(path: Path, template_rules: list[RuleSpec]) -> None:
    event = load(path)
    kind = kind_of(path, event)
    assert kind in EXPECTED, f"{path.name}: no expectation declared for {kind!r}; add it to EXPECTED"
    matched = {r.rule_id for r in matching_rules(template_rules, event)}
    assert matched == EXPECTED[kind], f"{path.name} meets {sorted(matched)}, meant for {sorted(EXPECTED[kind])}"


def test_every_rule_has_a_sample(template_rules: list[RuleSpec]) -> None:
    covered = {r.rule_id for path in SAMPLES for r in matching_rules(template_rules, load(path))}
    missing = sorted(r.rule_id for r in template_rules if r.rule_id not in covered)
    assert not missing, f"rules without a sample in events/: {missing}"


CLOUDTRAIL = [p for p in SAMPLES if load(p).get("detail-type") == "AWS API Call via CloudTrail"]


@pytest.mark.parametrize("path", CLOUDTRAIL, ids=[p.name for p in CLOUDTRAIL])
def test_cloudtrail_sample_reaches_its_function(path: Path, hub: Stack, template_rules: list[RuleSpec]) -> None:
    """Where CloudTrail delivers it (member-template.yaml's forwarding included), a rule is waiting."""
    event = load(path)
    arrival = deliver(event, hub)
    expected = EXPECTED[kind_of(path, event)]
    if not expected:
        return
    on_the_hub = (event["account"], event["region"]) == (HUB, HUB_REGION)
    assert arrival.bus == ("default" if on_the_hub else "peering-autopilot"), arrival.how
    assert {r.rule_id for r in matching_rules(template_rules, event, arrival.bus)} & expected, arrival.how


OPERATOR = [p for p in SAMPLES if load(p).get("source") == "peering-autopilot.operator"]


@pytest.mark.parametrize("path", OPERATOR, ids=[p.name for p in OPERATOR])
def test_operator_sample_from_another_account_meets_no_rule(path: Path, template_rules: list[RuleSpec]) -> None:
    """The rules filter operator events on the envelope's account (EventBridge sets it to the sender)."""
    event = {**load(path), "account": "999999999999"}
    assert matching_rules(template_rules, event) == []


def test_a_schedule_delivers_only_its_own_events(template_rules: list[RuleSpec]) -> None:
    scheduled = [p for p in SAMPLES if p.name.startswith("scheduled__")]
    if not scheduled:
        pytest.skip("no scheduled sample yet")
    event = {**load(scheduled[0]), "resources": [f"arn:aws:events:{HUB_REGION}:{HUB}:rule/another-stack-Nightly-1A2B"]}
    assert matching_rules(template_rules, event) == []
