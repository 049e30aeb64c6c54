"""Where ``python -m runner smoke`` runs: a deployed stack (``DeployedTarget``) or the local sandbox
(``local_target``). Both give the smoke run (``runner.smoke``) the same three things: a session of
the sandbox account in its Region, a session that reads the hub's ledger, and the hub's names.

- Deployed: the standard AWS credentials (``--profile``, environment, SSO...) of the sandbox
  account; the hub's names from its stack's outputs (CloudFormation ``DescribeStacks``), read with
  ``--hub-profile`` when the hub is another account. ``settle`` does nothing: the deployed hub
  reacts to CloudTrail by itself.
- Local: a moto server with the emulation's fidelity patches (``emulation.server``), the hub's
  resources created from template.yaml (``runner.bootstrap``) in the hub account, a policy that
  holds the smoke test's rule (``smoke_rule``), and the demo's event routing (``runner.world``):
  the sandbox session's EC2 calls are recorded, and ``settle`` delivers their CloudTrail events
  through the template's rules to the functions. The smoke test runs in the hub account (a
  single-account deployment, which is how most users first try it).
"""

from __future__ import annotations

import contextlib
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.exceptions import ClientError

from runner.smoke import HubNames, smoke_rule

__all__ = ["DeployedTarget", "LocalTarget", "SandboxTarget", "StackNotFoundError", "WrongAccountError", "local_target"]

#: the stack outputs the smoke test reads (template.yaml's Outputs)
LEDGER_OUTPUT = "LedgerTableName"
POLICY_OUTPUT = "PolicyParameterName"
LOCAL_REGION = "us-east-1"


class StackNotFoundError(Exception):
    """The named stack does not exist in the hub account and Region (or lacks the hub's outputs)."""


class WrongAccountError(Exception):
    """The credentials belong to another account than the one the user named."""


def _session(profile: str | None, region: str | None) -> Any:
    session = boto3.session.Session(profile_name=profile, region_name=region)
    if session.region_name is None:
        session = boto3.session.Session(profile_name=profile, region_name="us-east-1")
    return session


def _account_of(session: Any) -> str:
    return str(session.client("sts").get_caller_identity()["Account"])


@dataclass
class DeployedTarget:
    account: str
    region: str
    names: HubNames
    _sandbox: Any
    _hub: Any

    @classmethod
    def connect(
        cls,
        *,
        stack: str,
        account: str | None,
        region: str | None,
        profile: str | None,
        hub_profile: str | None,
        hub_region: str | None,
    ) -> DeployedTarget:
        sandbox = _session(profile, region)
        actual = _account_of(sandbox)
        if account and actual != account:
            raise WrongAccountError(
                f"the credentials are of account {actual}, not {account}: the smoke test creates VPCs only in "
                "the account named (use --profile or other credentials of that account)"
            )
        hub = _session(hub_profile, hub_region or sandbox.region_name) if hub_profile or hub_region else sandbox
        names = hub_names(hub, stack)
        return cls(actual, str(sandbox.region_name), names, sandbox, hub)

    def sandbox_client(self, service: str) -> Any:
        return self._sandbox.client(service, region_name=self.region)

    def hub_client(self, service: str) -> Any:
        return self._hub.client(service)

    def settle(self) -> None:
        """The deployed hub reacts to CloudTrail events by itself."""


def hub_names(hub: Any, stack: str) -> HubNames:
    """The hub's names from its stack's outputs (DescribeStacks)."""
    try:
        stacks = hub.client("cloudformation").describe_stacks(StackName=stack)["Stacks"]
    except ClientError as exc:
        if "does not exist" in str(exc):
            raise StackNotFoundError(
                f"no stack {stack!r} in {hub.region_name}: give the hub's stack name and Region "
                "(--stack, --hub-region; --hub-profile when the hub is another account)"
            ) from exc
        raise
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}
    if LEDGER_OUTPUT not in outputs:
        raise StackNotFoundError(f"stack {stack!r} has no output {LEDGER_OUTPUT}: is it Peering Autopilot's hub stack?")
    return HubNames(
        source=f"outputs of stack {stack}",
        ledger_table=outputs[LEDGER_OUTPUT],
        policy_parameter=outputs.get(POLICY_OUTPUT),
    )


# ------------------------------------------------------------------------------------------------
# The local sandbox
# ------------------------------------------------------------------------------------------------


@dataclass
class LocalTarget:
    account: str
    region: str
    names: HubNames
    sandbox_session: Any  # recorded: its EC2 calls become events
    hub_session: Any
    world: Any  # runner.world.World
    url: str

    def sandbox_client(self, service: str) -> Any:
        return self.sandbox_session.client(service, region_name=self.region, endpoint_url=self.url)

    def hub_client(self, service: str) -> Any:
        return self.hub_session.client(service, endpoint_url=self.url)

    def use_policy(self, document: str) -> None:
        """Publish another approval policy, in force for the next request (no cache to wait for)."""
        assert self.names.policy_parameter
        self.hub_client("ssm").put_parameter(
            Name=self.names.policy_parameter, Value=document, Type="String", Overwrite=True
        )
        store = sys.modules.get("peering.aws.policy_store")  # imported by the first function that ran
        if store is not None:
            store.reset()

    def settle(self) -> None:
        """CloudTrail and EventBridge: the calls made so far become events, routed to the functions."""
        self.world.emit_calls(self.world.recorder.drain(), cause="the smoke test")
        self.world.run()


@contextlib.contextmanager
def local_target(*, region: str = LOCAL_REGION, policy: str | None = None) -> Iterator[LocalTarget]:
    """The emulated hub, bootstrapped, with ``policy`` (default: only the smoke test's rule)."""
    # Imported here: `smoke --stack` needs neither moto's server nor the in-process functions.
    from emulation.server import MotoServer  # noqa: PLC0415
    from peering.aws.clients import shared_session  # noqa: PLC0415
    from runner.bootstrap import bootstrap  # noqa: PLC0415
    from runner.cfn import Stack  # noqa: PLC0415
    from runner.demo import _isolated  # noqa: PLC0415
    from runner.world import ApiRecorder, World  # noqa: PLC0415

    log = tempfile.TemporaryFile(mode="w+", prefix="peering-autopilot-smoke-", suffix=".log")  # noqa: SIM115
    with log, MotoServer() as server, _isolated(server.url):
        hub = boto3.session.Session(region_name=region)
        account = _account_of(hub)
        sqs = hub.client("sqs")
        stack = Stack.load(
            account=account, region=region, queue_url=lambda name: str(sqs.get_queue_url(QueueName=name)["QueueUrl"])
        )
        bootstrap(stack, hub)
        document = policy if policy is not None else _policy_with_smoke_rule(account, region)
        hub.client("ssm").put_parameter(
            Name=stack.physical_name("PolicyParameter"), Value=document, Type="String", Overwrite=True
        )
        recorder = ApiRecorder(server.account_of)
        sandbox = boto3.session.Session(region_name=region)
        for session in (shared_session(), sandbox):  # the functions' calls, and the smoke test's
            recorder.attach(session)
        world = World(stack, recorder, sqs=sqs, log=log)
        names = HubNames(
            source=f"the local sandbox {server.url}",
            ledger_table=str(stack.ref("LedgerTable")),
            policy_parameter=stack.physical_name("PolicyParameter"),
        )
        yield LocalTarget(account, region, names, sandbox, hub, world, server.url)


@dataclass
class SandboxTarget:
    """The sandbox of ``runner up`` (``runner.sandbox.Sandbox``): its endpoint, an account's keys, and
    the names its outputs give, as a deployed stack's would. ``up`` delivers the events itself."""

    account: str
    region: str
    names: HubNames
    sandbox: Any  # runner.sandbox.Sandbox

    @classmethod
    def of(cls, sandbox: Any, *, account: str | None = None, region: str | None = None) -> SandboxTarget:
        outputs = sandbox.outputs
        names = HubNames(
            source=f"the sandbox {sandbox.url}",
            ledger_table=outputs.get(LEDGER_OUTPUT),
            policy_parameter=outputs.get(POLICY_OUTPUT),
        )
        return cls(sandbox.account_id(account or sandbox.hub), region or sandbox.region, names, sandbox)

    def sandbox_client(self, service: str) -> Any:
        return self.sandbox.client(service, self.account, self.region)

    def hub_client(self, service: str) -> Any:
        return self.sandbox.client(service, self.sandbox.hub, self.sandbox.region)

    def settle(self) -> None:
        """``runner up`` turns the calls into events and runs the functions by itself."""


def _policy_with_smoke_rule(account: str, region: str) -> str:
    return f'schemaVersion: 1\nversion: "smoke-local-1"\nrules:\n{smoke_rule(account, region)}'
