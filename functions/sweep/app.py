"""Sweep function: fan the scheduled convergence out, one queue message per account+Region.

Triggered by the schedule (every target) and by the operator event "Sweep Peering Connections"
(one account+Region, optionally as a dry run). The worker function does the converging.

It also tells people when the approval policy parameter changes (CloudTrail's PutParameter on it,
on the hub's default bus): the sweep already reads the hub and publishes the outbox, so the
notice needs no function of its own (peering/lifecycle/policy_change.py).
"""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from peering.core.policy_events import SOURCE as POLICY_CHANGE_SOURCE
from peering.lifecycle.engine import Engine
from peering.lifecycle.handler import handle
from peering.lifecycle.policy_change import notify_policy_change
from peering.runtime.observability import logger, metrics, tracer
from peering.sweep.fan_out import fan_out, parse_sweep_trigger


def sweep(event: dict[str, Any], engine: Engine) -> dict[str, Any]:
    trigger = parse_sweep_trigger(event, engine)
    logger.append_keys(sweep_id=trigger.sweep_id)
    return fan_out(engine, trigger)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if isinstance(event, dict) and event.get("source") == POLICY_CHANGE_SOURCE:
        return handle(event, notify_policy_change)
    return handle(event, sweep)
