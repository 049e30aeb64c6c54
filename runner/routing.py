"""Which rules of the template an event meets, and on which bus it reaches the hub.

Two sources of truth, both templates:

- template.yaml: the functions' rules (``runner.model.rules``), on the hub's default bus and on the
  peering bus;
- member-template.yaml: where an EC2 API call made in another account or Region ends up. CloudTrail
  delivers it to the default bus of the caller's account and Region; there the member stack's
  ``ForwardingRule`` (created when its ``ShouldForward`` condition holds: not the hub account in
  the hub Region) forwards matching events to the hub's peering bus. Calls made by the hub account
  in the hub Region land directly on the hub's default bus.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from runner import MEMBER_TEMPLATE
from runner.cfn import Stack, load_template
from runner.model import DEFAULT_BUS, RuleSpec

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


_member_template_cache: dict[str, dict[str, Any]] = {}


def _member_template() -> dict[str, Any]:
    if "t" not in _member_template_cache:
        _member_template_cache["t"] = load_template(MEMBER_TEMPLATE)
    return _member_template_cache["t"]


def _forwarding(hub: Stack, account: str, region: str) -> tuple[bool, RuleSpec | None]:
    """(does the member stack in account/region forward, its forwarding rule as a RuleSpec)."""
    template = _member_template()
    bus_name = str(hub.ref(_peering_bus_logical_id(hub)))
    bus_arn = f"arn:{hub.partition}:events:{hub.region}:{hub.account}:event-bus/{bus_name}"
    member = Stack.from_template(
        template,
        account=account,
        region=region,
        overrides={"HubAccountId": hub.account, "HubEventBusArn": bus_arn},
        stack_name="peering-autopilot-member",
    )
    for logical_id, body in member.resources.items():
        if body.get("Type") != "AWS::Events::Rule":
            continue
        if not member.is_created(logical_id):
            return False, None
        props = body.get("Properties") or {}
        targets = [str(member.resolve(t.get("Arn"))) for t in props.get("Targets") or []]
        target_bus = next((t.split("event-bus/", 1)[1] for t in targets if "event-bus/" in t), None)
        rule = RuleSpec(
            rule_id=logical_id,
            function="",
            event_id=logical_id,
            kind="EventBridgeRule",
            bus=target_bus or "",
            pattern=member.resolve(props["EventPattern"]),
            enabled=str(props.get("State", "ENABLED")).upper() == "ENABLED",
        )
        return True, rule
    return False, None


def _peering_bus_logical_id(hub: Stack) -> str:
    for logical_id, body in hub.resources.items():
        if body.get("Type") == "AWS::Events::EventBus":
            return logical_id
    raise LookupError("the hub template declares no event bus")


def deliver(event: dict[str, Any], hub: Stack) -> Delivery:
    """The hub bus a CloudTrail event reaches (directly, or forwarded by the member stack)."""
    account, region = str(event.get("account", "")), str(event.get("region", ""))
    if (account, region) == (hub.account, hub.region):
        return Delivery(DEFAULT_BUS, f"CloudTrail -> default bus of the hub ({account}/{region})")
    forwards, rule = _forwarding(hub, account, region)
    if forwards and rule is not None:
        if rule.matches(event):
            return Delivery(
                rule.bus, f"CloudTrail -> default bus of {account}/{region} -> member {rule.rule_id} -> bus {rule.bus}"
            )
        return Delivery(
            None, f"CloudTrail -> default bus of {account}/{region}; the member {rule.rule_id} does not forward it"
        )
    return Delivery(None, f"CloudTrail -> default bus of {account}/{region}; no member stack forwards from there")


def describe_event(event: dict[str, Any]) -> str:
    """One line: what the event is and where it comes from."""
    raw = event.get("detail")
    detail: dict[str, Any] = raw if isinstance(raw, dict) else {}
    origin = f"{event.get('account', '?')}/{event.get('region', '?')}"
    if event.get("detail-type") == CLOUDTRAIL_DETAIL_TYPE:
        error = f" (failed: {detail.get('errorCode')})" if detail.get("errorCode") else ""
        return f"{detail.get('eventName', '?')}{error} [CloudTrail, {event.get('source')}] in {origin}"
    return f"{event.get('detail-type', '?')} [{event.get('source', '?')}] from {origin}"
