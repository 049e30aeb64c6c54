"""What every lifecycle shares during one invocation, and the result each one answers with.

``EngineContext`` holds the settings, the AWS clients, the ledger, the organization directory, the
outbox, the approval policy (read once per invocation), the deadline (the worker's time left;
none for event functions) and ``locate`` (where a connection is). The
lifecycles build on it: request.py, configure.py and lifecycle/cleanup.py; engine.py joins them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from peering.aws.apply import ActionResult
from peering.aws.clients import AwsClients
from peering.aws.ledger import Ledger
from peering.aws.notify import Notifier
from peering.aws.observe import find_connection, is_reachable
from peering.aws.org import OrganizationDirectory
from peering.aws.outbox import Outbox
from peering.aws.policy_store import load_policy
from peering.core.deadline import NEVER, Deadline
from peering.core.errors import OutsideOrganizationError, PolicyError, UnknownConnectionError
from peering.core.models import Connection, Notice
from peering.core.routing import Finding
from peering.runtime.config import Settings
from peering.runtime.observability import MetricUnit, logger, metrics

if TYPE_CHECKING:  # the policy's models (pydantic) load when a policy is read, not at import
    from peering.core.policy import PolicyDocument

Plan = TypeVar("Plan")


@dataclass(frozen=True)
class ConvergeResult:
    connection_id: str
    outcome: str
    reasons: tuple[str, ...]
    dry_run: bool
    plan: str
    actions: list[ActionResult] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "connectionId": self.connection_id,
            "outcome": self.outcome,
            "reasons": list(self.reasons),
            "dryRun": self.dry_run,
            "plan": self.plan,
            "actions": [{"action": a.action, "status": a.status} for a in self.actions],
        }


@dataclass(frozen=True)
class NotInState:
    """How a lifecycle answers for a connection that is not in the state it works on: nothing is
    done, the connection's status is logged with ``log``, counted as ``metric`` and answered as
    ``outcome`` (configure: "not-active"; cleanup: "not-dead")."""

    outcome: str
    log: str
    metric: str


def places_of(recorded: tuple[str, str] | None) -> list[tuple[str, str]]:
    """(account, Region) of each side the ledger recorded ("account/Region/VPC" labels)."""
    return [(label.split("/")[0], label.split("/")[1]) for label in recorded or ()]


class EngineContext:
    def __init__(self, settings: Settings, aws: AwsClients | None = None) -> None:
        self.settings = settings
        self.aws = aws or AwsClients(settings)
        self.ledger = Ledger(self.aws, settings.ledger_table)
        self.directory = OrganizationDirectory(self.aws)
        self.notifier = Notifier(self.aws, settings.topic_arn)
        self.outbox = Outbox(self.aws, self.ledger, self.notifier)
        #: when to stop starting work (the worker sets it from its Lambda context)
        self.deadline: Deadline = NEVER
        self._loaded_policy: PolicyDocument | PolicyError | None = None

    def _policy(self) -> PolicyDocument | PolicyError:
        """The policy, read and validated once per engine (one invocation): a sweep asks often."""
        if self._loaded_policy is None:
            try:
                self._loaded_policy = load_policy(
                    self.aws, self.settings.policy_parameter, self.settings.policy_cache_seconds
                )
            except PolicyError as exc:
                logger.error("approval policy unavailable: holding everything", extra={"error": str(exc)})
                metrics.add_metric(name="PolicyInvalid", unit=MetricUnit.Count, value=1)
                self._loaded_policy = exc
        return self._loaded_policy

    def policy_version(self) -> str:
        """The version decisions are made under now ("none" while the policy is unavailable)."""
        policy = self._policy()
        return "none" if isinstance(policy, PolicyError) else policy.version

    def is_dry_run(self, requested: bool | None) -> bool:
        """An explicit dry run (operator event, sweep message) over the deployment's default."""
        return self.settings.dry_run if requested is None else requested

    def locate(
        self,
        connection_id: str,
        places: Sequence[tuple[str, str]],
        recorded: Callable[[], Sequence[tuple[str, str]]] | None = None,
    ) -> tuple[Connection | None, list[tuple[str, str]]]:
        """The connection as the first place that shows it, and the places actually read.

        ``places`` (where the event says) are read first; ``recorded`` (the sides the ledger
        recorded) only when none of them shows it, so the usual event costs no ledger read.
        Places outside the organization are never read (no role to assume there). Raises
        OutsideOrganizationError when no place at all is reachable: nothing here is ours.
        """
        read: list[tuple[str, str]] = []
        for candidates in (places, recorded):
            for place in dict.fromkeys(candidates() if callable(candidates) else candidates or ()):
                if place in read or not is_reachable(self.aws, self.directory, *place):
                    continue
                read.append(place)
                try:
                    return find_connection(self.aws, connection_id, *place), read
                except UnknownConnectionError:
                    continue
        if not read:
            raise OutsideOrganizationError(f"{connection_id}: no place it could be is in the organization")
        return None, read

    def _not_found(self, connection_id: str, dry: bool) -> ConvergeResult:
        """Nothing shows the connection where the event and the ledger say: look, never write."""
        logger.warning("the connection is not visible where the event or the ledger says: nothing done")
        metrics.add_metric(name="UnknownConnections", unit=MetricUnit.Count, value=1)
        return ConvergeResult(
            connection_id, "not-found", ("no place named by the event or the ledger shows it",), dry, ""
        )

    def report_findings(
        self, connection_id: str, findings: Sequence[Finding], doing: str = "configuring routes and DNS for"
    ) -> None:
        """Notify each finding once: recorded and queued in one conditional transaction. Configure,
        cleanup and the sweep report through here (``doing`` says which, in the notice)."""
        if not findings:
            return
        seen = self.ledger.findings_seen(connection_id)
        new = list({f.key: f for f in findings if f.key not in seen}.values())
        if new:
            lines = "\n".join(f"- {f.kind}: {f.message}" for f in new)
            notice = Notice(
                f"Peering {connection_id}: {len(new)} item(s) need attention"[:100],
                f"While {doing} {connection_id}:\n{lines}\n\n"
                "Nothing was forced: fix the cause (or adjust the policy), then send a "
                "'Converge Peering Connection' operator event or wait for the sweep.\n",
            )
            if self.ledger.record_findings(connection_id, [(f.kind, f.key, f.message) for f in new], notice):
                for finding in new:
                    logger.warning("finding", extra={"kind": finding.kind, "detail": finding.message})
        self.outbox.flush(connection_id)

    def converge_planned(
        self,
        connection_id: str,
        dry: bool,
        planned: Plan | Connection | None,
        not_in_state: NotInState,
        apply: Callable[[Plan, bool], ConvergeResult],
    ) -> ConvergeResult:
        """The step configure and cleanup share once they planned: no connection where the event
        and the ledger say (not found), the connection itself when it is not in the state the
        lifecycle works on (``not_in_state``), else ``apply`` the plan."""
        if planned is None:
            return self._not_found(connection_id, dry)
        if isinstance(planned, Connection):
            logger.info(not_in_state.log, extra={"status": planned.status.value})
            metrics.add_metric(name=not_in_state.metric, unit=MetricUnit.Count, value=1)
            return ConvergeResult(
                connection_id, not_in_state.outcome, (f"the connection is {planned.status.value}",), dry, ""
            )
        return apply(planned, dry)
