"""Worker function: converge every connection of an account's Regions (one SQS message each:
an account with its Regions, or one account+Region).

The answer is a partial batch response (peering.runtime.batch), so only the failed messages are retried
(and, after the queue's redrive limit, kept in its dead-letter queue); a Region of an account's
message that fails is queued again alone. A message that is not a sweep target is answered (log
line, InvalidEvents metric) and not retried: no retry could make it one. A message naming an
account or a Region the stack's sweep does not cover (outside the organization, suspended, not in
SweepAccounts, a Region outside Regions) is refused the same way (SweepMessagesRefused), with
nothing read or written for it. A target the invocation has no time left to finish is handed back
to the queue. A target that is not ready (no member role yet, a Region not enabled) is recorded
and skipped, not retried (peering/sweep/readiness.py).
"""

from functools import partial
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from peering.core.deadline import NEVER, Deadline
from peering.core.errors import InvalidEventError, NotASweepTargetError
from peering.lifecycle.engine import Engine
from peering.runtime.batch import QueueMessage, process_partial_response
from peering.runtime.config import Settings
from peering.runtime.observability import MetricUnit, logger, metrics, tracer
from peering.sweep.messages import SweepSettings, ensure_sweep_targets, parse_sweep_message
from peering.sweep.readiness import converge_when_ready
from peering.sweep.target import converge_account, converge_in_time


def converge_record(record: QueueMessage, deadline: Deadline = NEVER) -> dict[str, Any]:
    try:
        targets = parse_sweep_message(record.body)
    except InvalidEventError as exc:
        logger.warning("sweep message refused", extra={"error": exc.kind, "reason": str(exc)})
        metrics.add_metric(name="InvalidEvents", unit=MetricUnit.Count, value=1)
        return {"ok": False, "error": exc.kind, "message": str(exc)}
    target = targets[0]
    logger.append_keys(account=target.account, region=target.region, sweep_id=target.sweep_id)
    engine = Engine(Settings.from_env())
    try:
        # Only what the fan-out queues: the stack's Regions, the accounts it sweeps (sweep.py).
        ensure_sweep_targets(engine, SweepSettings.from_env(), target.account, [t.region for t in targets])
    except NotASweepTargetError as exc:
        logger.warning("sweep message refused", extra={"error": exc.kind, "reason": str(exc)})
        metrics.add_metric(name="SweepMessagesRefused", unit=MetricUnit.Count, value=1)
        return {"ok": False, "error": exc.kind, "message": str(exc)}
    if len(targets) > 1:  # every Region of the account (sweep.AccountSweep)
        return converge_account(engine, targets, deadline)
    return converge_when_ready(engine, target, partial(converge_in_time, engine, target, deadline))


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    # One deadline for the whole batch, its margin taken from the invocation's full time.
    return process_partial_response(event, partial(converge_record, deadline=Deadline.of(context)))
