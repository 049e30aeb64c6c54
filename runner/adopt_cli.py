"""``python -m runner adopt --dry-run``: the first-run report of an organization that already has
peerings: every active connection the deployment sees, whether the policy adopts it (and why, or
why not: managed already, unmanaged, hands-off), and what adoption would change on each.

Every sweep target (the SweepFunction's accounts and Regions) is read with the functions' settings
and planned by the code the sweep runs (peering.sweep.first_run). Against a deployed hub, the
ledger and the policy parameter are the stack's outputs (``--stack-name``); the accounts and
Regions are the template's parameters (``--param Regions=...``), as deployed. It changes nothing: adoption
itself is the policy's ``adopt:`` section, published like any policy change (docs/deploy.md).
"""

from __future__ import annotations

import sys
from typing import Any

from botocore.exceptions import ClientError

from runner.cfn import Stack
from runner.invoke import captured_output, function_environment, patched_environ
from runner.model import find_function

__all__ = ["adoption_report"]


def deployed_names(session: Any, stack_name: str) -> dict[str, str]:
    """The ledger and the policy parameter of a deployed hub stack (its outputs), or nothing when
    no such stack is deployed here (an emulator: the names the template gives them)."""
    try:
        stacks = session.client("cloudformation").describe_stacks(StackName=stack_name)["Stacks"]
    except ClientError:
        return {}
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])} if stacks else {}
    names = {"LEDGER_TABLE": outputs.get("LedgerTableName"), "POLICY_PARAMETER": outputs.get("PolicyParameterName")}
    return {key: value for key, value in names.items() if value}


def adoption_report(
    stack: Stack, *, account: str, region: str, env: dict[str, str] | None = None, session: Any = None
) -> Any:
    """The first-run report (peering.sweep.first_run.FirstRunReport) over every sweep target."""
    deployed = deployed_names(session, stack.stack_name) if session is not None else {}
    worker = function_environment(
        find_function(stack, "WorkerFunction"),
        account=account,
        region=region,
        overrides={"POWERTOOLS_LOG_LEVEL": "WARNING", "ACTIVATION_WAIT_SECONDS": "1", **deployed, **(env or {})},
    )
    sweep = find_function(stack, "SweepFunction").environment
    targets_env = {k: str(sweep[k]) for k in ("SWEEP_REGIONS", "SWEEP_ACCOUNTS") if sweep.get(k)}
    with patched_environ({**worker, **targets_env}), captured_output(sys.stderr):
        # The engine reads its Powertools settings when imported: import it in this environment.
        from peering.lifecycle.engine import Engine  # noqa: PLC0415
        from peering.runtime.config import Settings  # noqa: PLC0415
        from peering.sweep.fan_out import list_targets  # noqa: PLC0415
        from peering.sweep.first_run import first_run  # noqa: PLC0415
        from peering.sweep.messages import SweepSettings  # noqa: PLC0415

        engine = Engine(Settings.from_env())
        return first_run(engine, list_targets(engine, SweepSettings.from_env()))
