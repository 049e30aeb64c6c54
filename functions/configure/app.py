"""Configure function: a connection is (or may be) active -> routes on both sides, DNS options.

Triggered by AcceptVpcPeeringConnection, by Associate/DisassociateVpcCidrBlock (blocks added or
removed later are followed), and by the operator event "Converge Peering Connection". Within the
invocation's time: routes it cannot make in time are left to the function's next invocation (a
continuation of the same event), which sees the routes already made and adds the rest.
"""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from peering.core.cloudtrail_events import caller_principal, connection_call_hint, parse_api_call, vpc_call_hint
from peering.core.events import CONVERGE_DETAIL_TYPE, OPERATOR_SOURCE, parse_operator_event
from peering.lifecycle.engine import Engine
from peering.lifecycle.handler import handle
from peering.lifecycle.operator import authorize_and_locate
from peering.runtime.observability import logger, metrics, tracer

# A person changing the options by hand is drift: converge them back to the policy.
CONNECTION_CALLS = frozenset({"AcceptVpcPeeringConnection", "ModifyVpcPeeringConnectionOptions"})
CIDR_CALLS = frozenset({"AssociateVpcCidrBlock", "DisassociateVpcCidrBlock"})


def configure(event: dict[str, Any], engine: Engine) -> dict[str, Any]:
    if isinstance(event, dict) and event.get("source") == OPERATOR_SOURCE:
        return _operator_converge(event, engine)
    call = parse_api_call(event, CONNECTION_CALLS | CIDR_CALLS)
    if call.detail.event_name in CIDR_CALLS:
        vpc = vpc_call_hint(call)
        logger.append_keys(vpc_id=vpc.vpc_id)
        results = engine.converge_vpc(vpc.vpc_id, vpc.account, vpc.region)
        return {"vpcId": vpc.vpc_id, "connections": [r.as_dict() for r in results]}
    hint = connection_call_hint(call)
    logger.append_keys(connection_id=hint.connection_id, event_id=hint.event_id)
    # An acceptance seen after deployment: the connection is managed (core/scope.py), unless the
    # sweep saw it active first (pre-existing). Other calls never make a connection managed.
    accepted_by = caller_principal(call) if call.detail.event_name == "AcceptVpcPeeringConnection" else None
    return engine.converge_connection(
        hint.connection_id, hint.accepter_account, hint.accepter_region, places=hint.places, accepted_by=accepted_by
    ).as_dict()


def _operator_converge(event: dict[str, Any], engine: Engine) -> dict[str, Any]:
    request = parse_operator_event(event, frozenset({CONVERGE_DETAIL_TYPE}))
    account, region = authorize_and_locate(request, engine)
    return engine.converge_connection(request.detail.connection_id, account, region, request.detail.dry_run).as_dict()


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return handle(event, configure, context=context)
