"""Accept function: a peering request was created -> accept, reject or hold it per policy.

Triggered by CloudTrail's CreateVpcPeeringConnection (default bus and the hub bus). The event only
says where to look; the decision is made on what the EC2 API reports on the accepter side.
"""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from peering.core.cloudtrail_events import create_request_hint, parse_api_call
from peering.lifecycle.engine import Engine
from peering.lifecycle.handler import handle
from peering.runtime.observability import logger, metrics, tracer

HANDLED_CALLS = frozenset({"CreateVpcPeeringConnection"})


def accept_request(event: dict[str, Any], engine: Engine) -> dict[str, Any]:
    hint = create_request_hint(parse_api_call(event, HANDLED_CALLS))
    logger.append_keys(connection_id=hint.connection_id, event_id=hint.event_id)
    return engine.converge_request(
        hint.connection_id,
        hint.accepter_account,
        hint.accepter_region,
        requester=(hint.requester_account, hint.requester_region),
    ).as_dict()


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return handle(event, accept_request)
