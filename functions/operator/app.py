"""Operator function: a person approves or rejects a held peering request by connection id.

Operator events are the project's own (source ``peering-autopilot.operator``) and are honoured
only as the hub account's peering bus delivers them (sent by the hub account, in this Region).
An approval re-runs every safety check before anything is accepted.
"""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from peering.core.decision import Verdict
from peering.core.events import APPROVE_DETAIL_TYPE, parse_operator_event
from peering.core.plan import OperatorInstruction
from peering.lifecycle.engine import Engine
from peering.lifecycle.handler import handle
from peering.lifecycle.operator import authorize_and_locate
from peering.runtime.observability import logger, metrics, tracer


def decide_request(event: dict[str, Any], engine: Engine) -> dict[str, Any]:
    request = parse_operator_event(event)
    account, region = authorize_and_locate(request, engine)
    detail = request.detail
    verdict = Verdict.ACCEPT if request.detail_type == APPROVE_DETAIL_TYPE else Verdict.REJECT
    instruction = OperatorInstruction(verdict, detail.requested_by, detail.comment)
    return engine.converge_request(
        detail.connection_id, account, region, operator=instruction, dry_run=detail.dry_run
    ).as_dict()


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return handle(event, decide_request)
