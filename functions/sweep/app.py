"""Sweep function: fan the scheduled convergence out, one queue message per account+Region.

Triggered by the schedule (every target) and by the operator event "Sweep Peering Connections"
(one account+Region, optionally as a dry run). The worker function does the converging.
"""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from peering.lifecycle.engine import Engine
from peering.lifecycle.handler import handle
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
    return handle(event, sweep)
