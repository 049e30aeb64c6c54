"""Cleanup function: a connection was rejected or deleted -> remove what it left behind.

Triggered by RejectVpcPeeringConnection and DeleteVpcPeeringConnection on either side. Both
sides are cleaned, each in its owner's account and Region; the ledger record is closed. Within
the invocation's time: what is left is handed to the function's next invocation (a continuation
of the same event), and the record is closed, with its notice, by the run that finishes.
"""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from peering.core.cloudtrail_events import connection_call_hint, parse_api_call
from peering.lifecycle.engine import Engine
from peering.lifecycle.handler import handle
from peering.runtime.observability import logger, metrics, tracer

HANDLED_CALLS = frozenset({"RejectVpcPeeringConnection", "DeleteVpcPeeringConnection"})


def clean_up(event: dict[str, Any], engine: Engine) -> dict[str, Any]:
    hint = connection_call_hint(parse_api_call(event, HANDLED_CALLS))
    logger.append_keys(connection_id=hint.connection_id, event_id=hint.event_id)
    return engine.cleanup_connection(
        hint.connection_id, hint.accepter_account, hint.accepter_region, places=hint.places
    ).as_dict()


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return handle(event, clean_up, context=context)
