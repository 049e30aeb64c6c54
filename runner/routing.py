"""Which rules of the stack an event meets, and on which bus it reaches the hub.

Two sources of truth, both templates:

- template.yaml: the hub's rules (``runner.model.rules``: the translator's ``AWS::Events::Rule``
  resources), on the hub's default bus and on the peering bus;
- member-template.yaml: where an EC2 API call made in another account or Region ends up. CloudTrail
  delivers it to the default bus of the caller's account and Region; there the member stack (its
  parameters the hub's outputs, as its template says) forwards what its rules match to the rules'
  bus targets: the hub's peering bus. Its ``ForwardingRule`` exists when its ``ShouldForward``
  condition holds: not the hub account in the hub Region, whose calls land directly on the hub's
  default bus.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from runner import MEMBER_TEMPLATE
from runner.cfn import Stack
from runner.model import DEFAULT_BUS, RuleSpec, rules
from runner.template import load_template

__all__ = ["Delivery", "deliver", "describe_event", "matching_rules"]

CLOUDTRAIL_DETAIL_TYPE = "AWS API Call via CloudTrail"


def matching_rules(rules: Iterable[RuleSpec], event: dict[str, Any], bus: str | None = None) -> list[RuleSpec]:
    """The rules EventBridge would run for ``event`` (put on ``bus``; any bus when None)."""
    return [r for r in rules if (bus is None or r.bus == bus) and r.matches(event)]


@dataclass(frozen=True)
class Delivery:
    """Where an event reaches the hub: a bus name, or None when nothing brings it there."""

    bus: str | None
    how: str


@functools.cache
def _member_template() -> dict[str, Any]:
    """member-template.yaml as read (once; it is not changed by anyone)."""
    return load_template(MEMBER_TEMPLATE)


def _forwarding(hub: Stack, account: str, region: str) -> list[RuleSpec]:
    """The rules of the member stack in account/region that put events of its default bus on a bus."""
    member = Stack.from_template(
        _member_template(),
        account=account,
        region=region,
        overrides={"HubAccountId": hub.output("HubAccountId"), "HubEventBusArn": hub.output("PeeringEventBusArn")},
        stack_name="peering-autopilot-member",
    )
    return [r for r in rules(member) if r.bus == DEFAULT_BUS and any(t.bus for t in r.targets)]


def deliver(event: dict[str, Any], hub: Stack) -> Delivery:
    """The hub bus a CloudTrail event reaches (directly, or forwarded by the member stack)."""
    account, region = str(event.get("account", "")), str(event.get("region", ""))
    if (account, region) == (hub.account, hub.region):
        return Delivery(DEFAULT_BUS, f"CloudTrail -> default bus of the hub ({account}/{region})")
    forwarding = _forwarding(hub, account, region)
    if not forwarding:
        return Delivery(None, f"CloudTrail -> default bus of {account}/{region}; no member stack forwards from there")
    for rule in forwarding:
        bus = next(t.bus for t in rule.targets if t.bus)
        if rule.matches(event):
            return Delivery(
                bus, f"CloudTrail -> default bus of {account}/{region} -> member {rule.rule_id} -> bus {bus}"
            )
    names = ", ".join(r.rule_id for r in forwarding)
    return Delivery(None, f"CloudTrail -> default bus of {account}/{region}; the member {names} does not forward it")


def describe_event(event: dict[str, Any]) -> str:
    """One line: what the event is and where it comes from."""
    raw = event.get("detail")
    detail: dict[str, Any] = raw if isinstance(raw, dict) else {}
    origin = f"{event.get('account', '?')}/{event.get('region', '?')}"
    if event.get("detail-type") == CLOUDTRAIL_DETAIL_TYPE:
        error = f" (failed: {detail.get('errorCode')})" if detail.get("errorCode") else ""
        return f"{detail.get('eventName', '?')}{error} [CloudTrail, {event.get('source')}] in {origin}"
    return f"{event.get('detail-type', '?')} [{event.get('source', '?')}] from {origin}"
