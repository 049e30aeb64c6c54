"""The request lifecycle: a pending peering request accepted, rejected or held.

observe (the connection from the accepter side, both VPCs, their neighbours: observe.py) -> plan
(the policy's verdict and the safety checks: policy.py, checks.py, plan.py) -> apply (intent,
tag, accept or reject, commit with its notice: apply.Applier, then the outbox). An operator's
instruction (approve or reject a held request) takes the same path with every check run again.
"""

from __future__ import annotations

from peering.aws.apply import Applier
from peering.aws.observe import find_connection, is_reachable, observe_request
from peering.core.decision import PolicyDecision, Verdict, unavailable_policy_decision
from peering.core.errors import NotReadyError, OutsideOrganizationError, PolicyError, UnknownConnectionError
from peering.core.models import AcceptObservation, Connection, ConnectionStatus
from peering.core.plan import Decision, OperatorInstruction, Outcome, Plan, plan_acceptance
from peering.core.scope import hands_off_reason
from peering.lifecycle.context import ConvergeResult, EngineContext
from peering.runtime.observability import MetricUnit, logger, metrics

METRIC_BY_OUTCOME = {
    Outcome.ACCEPTED: "RequestsAccepted",
    Outcome.REJECTED: "RequestsRejected",
    Outcome.HELD: "RequestsHeld",
    Outcome.UNCHANGED: "RequestsUnchanged",
    Outcome.NOT_PENDING: "RequestsNotPending",
    Outcome.NOT_MANAGED: "RequestsNotManaged",
}


def _hands_off(observation: AcceptObservation, tag_prefix: str) -> str | None:
    """The hands-off tag on the connection (as the accepter sees it) or either VPC (read in the
    organization only: a VPC outside it cannot be read, so its owner cannot opt it out)."""
    vpcs = [observation.accepter_vpc, observation.requester_vpc]
    tags = {vpc.vpc_id: vpc.tags for vpc in vpcs if vpc is not None}
    return hands_off_reason(observation.connection, tags, tag_prefix)


class RequestLifecycle(EngineContext):
    def plan_request(
        self,
        connection_id: str,
        account: str,
        region: str,
        operator: OperatorInstruction | None = None,
        *,
        requester: tuple[str, str] | None = None,
    ) -> Plan:
        """Observe one request from the accepter side and plan the decision (changes nothing).

        ``requester`` (account, Region) is where the request was made: when the accepter does not
        know the connection, that side tells whether it already failed (nothing to decide) or is
        simply not visible there yet (retried).
        """
        outside = Decision(
            Outcome.NOT_MANAGED,
            (f"the accepter of {connection_id} is outside the organization: its owner decides",),
            None,
            None,
            "engine",
        )
        if not is_reachable(self.aws, self.directory, account, region):
            return Plan(connection_id, outside)
        try:
            return self._plan_request(connection_id, account, region, operator)
        except OutsideOrganizationError:
            return Plan(connection_id, outside)
        except UnknownConnectionError:
            dead = self._dead_on_requester_side(connection_id, requester, (account, region))
            if dead is None:
                raise
            reason = f"the connection is {dead.status.value} ({dead.status_message}): there is nothing to decide"
            return Plan(connection_id, Decision(Outcome.NOT_PENDING, (reason,), None, None, "engine"))

    def _record_request_seen(self, connection_id: str, requester: tuple[str, str]) -> None:
        """A request no decision is recorded for (its accepter is outside the organization, or it
        is hands-off), seen pending by our requester's side after deployment: once its accepter
        accepts it, it is managed, not pre-existing (core/scope.py). Read, never taken from the event."""
        if not is_reachable(self.aws, self.directory, *requester):
            return
        try:
            conn = find_connection(self.aws, connection_id, *requester)
        except UnknownConnectionError:
            return
        if conn.status in (ConnectionStatus.INITIATING_REQUEST, ConnectionStatus.PENDING_ACCEPTANCE):
            self.ledger.record_managed(connection_id, f"managed: requested after deployment by {requester[0]}")

    def _dead_on_requester_side(
        self, connection_id: str, requester: tuple[str, str] | None, accepter: tuple[str, str]
    ) -> Connection | None:
        """A request AWS failed at creation (overlapping CIDRs) is visible to its requester only."""
        if requester is None or requester == accepter or not is_reachable(self.aws, self.directory, *requester):
            return None
        try:
            conn = find_connection(self.aws, connection_id, *requester)
        except UnknownConnectionError:
            return None
        return conn if conn.status.is_dead else None

    def _plan_request(
        self, connection_id: str, account: str, region: str, operator: OperatorInstruction | None
    ) -> Plan:
        observation = observe_request(
            self.aws,
            connection_id=connection_id,
            account=account,
            region=region,
            directory=self.directory,
            ledger=self.ledger,
        )
        if observation.connection.status is ConnectionStatus.INITIATING_REQUEST:
            raise NotReadyError(f"{connection_id} is still initiating-request; retry shortly")
        policy = self._policy()
        decision: PolicyDecision
        if isinstance(policy, PolicyError):
            decision = unavailable_policy_decision(policy)
        else:
            # Imported here: the policy's models (pydantic) are loaded once a policy was parsed.
            from peering.core.policy import evaluate  # noqa: PLC0415

            decision = evaluate(
                policy,
                observation.requester,
                observation.accepter_vpc,
                self.directory.hub_org_id(),
                observation.requester_match,
            )
        hands_off = _hands_off(observation, self.settings.tag_prefix)
        if hands_off is not None and decision.verdict is not Verdict.REJECT:
            # Out of scope: neither accepted nor held (a person decides in the console). A reject
            # still stands: a tag a requester controls must not let it slip past a deny.
            reason = f"{hands_off}: the autopilot leaves this request to people"
            out_of_scope = Decision(Outcome.NOT_MANAGED, (reason,), None, decision.policy_version, "engine")
            return Plan(connection_id, out_of_scope)
        return plan_acceptance(
            observation,
            decision,
            quota=self.settings.active_peerings_quota,
            tag_prefix=self.settings.tag_prefix,
            operator=operator,
            bus_name=self.settings.bus_name,
        )

    def converge_request(
        self,
        connection_id: str,
        account: str,
        region: str,
        operator: OperatorInstruction | None = None,
        *,
        dry_run: bool | None = None,
        requester: tuple[str, str] | None = None,
    ) -> ConvergeResult:
        dry = self.is_dry_run(dry_run)
        plan = self.plan_request(connection_id, account, region, operator, requester=requester)
        logger.info(
            "plan",
            extra={
                "connection_id": connection_id,
                "outcome": plan.decision.outcome.value,
                "plan": plan.render().splitlines(),
                "dry_run": dry,
            },
        )
        results = Applier(self.aws, self.ledger, dry_run=dry).apply(plan)
        if plan.decision.outcome is Outcome.NOT_MANAGED and requester is not None:
            self._record_request_seen(connection_id, requester)
        if not dry:
            # The notice committed with the decision, or one an interrupted run left queued.
            self.outbox.flush(connection_id)
        metrics.add_metric(name=METRIC_BY_OUTCOME[plan.decision.outcome], unit=MetricUnit.Count, value=1)
        return ConvergeResult(
            connection_id=connection_id,
            outcome=plan.decision.outcome.value,
            reasons=plan.decision.reasons,
            dry_run=dry,
            plan=plan.render(),
            actions=results,
        )
