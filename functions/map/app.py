"""Map function (PublishMap=true): the peering map's page, from the fragments the workers wrote.

Triggered by its own schedule (the sweep's), so nothing it does can delay or stop the sweep: the
sweep function queues its targets without reading a fragment. It lists the sweep's targets as the
sweep does, reads their fragments concurrently until its deadline, summarizes what the page's cap
leaves out and writes the page (peering/map/publish.py); a page ready too late is not written.
"""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from peering.core.deadline import Deadline
from peering.core.events import parse_scheduled_event
from peering.lifecycle.engine import Engine
from peering.lifecycle.handler import handle
from peering.runtime.observability import logger, metrics, tracer
from peering.sweep.fan_out import list_targets
from peering.sweep.messages import SweepSettings


def draw_map(deadline: Deadline) -> Any:
    def work(event: dict[str, Any], engine: Engine) -> dict[str, Any]:
        parse_scheduled_event(event)  # only the schedule starts it
        from peering.map.publish import publish_map  # noqa: PLC0415 - the map's modules, only here

        return publish_map(engine, list_targets(engine, SweepSettings.from_env()), deadline)

    return work


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return handle(event, draw_map(Deadline.of(context)))
