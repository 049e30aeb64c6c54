"""``make demo``: the whole peering lifecycle on a local AWS emulation, through the template's rules.

A moto server (``emulation.server``, with every emulation.fidelity patch) plays AWS. The hub's resources
are created from template.yaml (``bootstrap``), an organization of three accounts is built (the hub,
network-a in the platform OU, analytics-b in the workloads OU) with VPCs in two Regions and an
approval policy, and then six stories are played. Every API call a person or a function makes
becomes the CloudTrail event AWS would deliver; every event is routed through the template's own
rules (and the member stack's forwarding rule) to the functions they target, which run in-process
with the template's environment (``runner.world``). The timeline shows each event, the rule, the
function, its decision and its actions; each expected outcome is checked against the emulated AWS
state, and the exit status is non-zero when any check fails. The server is always stopped.

The stage (accounts, VPCs, checks, ``Demo``) is ``runner.demo.stage``, the timeline ``runner.demo.timeline``,
the organization and policy ``runner.demo.organization``; each story is a module of ``runner.demo.stories``.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from typing import IO, Any

import boto3

from emulation.server import MotoServer
from peering.aws.clients import reset_shared_session, shared_session
from runner.bootstrap import bootstrap
from runner.cfn import Stack
from runner.demo.organization import _member_session, _organization, _policy
from runner.demo.stage import EXTERNAL_ID, HUB_REGION, OTHER_REGION, PLATFORM_ACCOUNT, WORKLOADS_ACCOUNT, Check, Demo
from runner.demo.stories.approved import _approved
from runner.demo.stories.deleted import _deleted
from runner.demo.stories.expired import _expired
from runner.demo.stories.final_state import _final_state
from runner.demo.stories.held import _held_then_approved
from runner.demo.stories.mapped import _mapped
from runner.demo.stories.overlap import _overlap
from runner.demo.stories.reminded import _reminded
from runner.demo.stories.scene import _vpcs
from runner.demo.stories.subnets import _subnet_level
from runner.demo.timeline import Timeline
from runner.world import ApiRecorder, World

__all__ = ["run_demo"]


def _stories(demo: Demo) -> None:
    nets = _vpcs(demo)
    first = _approved(demo, nets)
    second = _held_then_approved(demo, nets)
    third = _overlap(demo, nets)
    _deleted(demo, nets, first)
    fifth = _expired(demo, nets)
    _subnet_level(demo)
    _reminded(demo, nets)
    _final_state(
        demo,
        [
            (first, nets["app"], nets["shared"]),
            (second, nets["analytics"], nets["shared"]),
            (third, nets["batch"], nets["ingress"]),
            (fifth, nets["lab"], nets["ingress"]),
        ],
    )
    _mapped(demo, nets, second)
    demo.check("every function invocation succeeded", all(i.ok for i in demo.world.invocations))


# ------------------------------------------------------------------------------------------------
# Entry point
# ------------------------------------------------------------------------------------------------


@contextlib.contextmanager
def _isolated(url: str) -> Iterator[None]:
    """Everything boto3 does in the block goes to the emulator, never to an AWS account.

    Afterwards the environment and the engine's process-wide state (boto3 session, policy and
    organization caches) are as before, so that the demo can run inside another process (tests).
    """
    saved = dict(os.environ)
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_DEFAULT_PROFILE"):
        os.environ.pop(name, None)
    os.environ.update(
        {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": HUB_REGION,
            "AWS_REGION": HUB_REGION,
            "AWS_ENDPOINT_URL": url,
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "AWS_EC2_METADATA_DISABLED": "true",
        }
    )
    _forget_engine_state()
    try:
        yield
    finally:
        _forget_engine_state()  # the session carries the demo's recording hooks
        os.environ.clear()
        os.environ.update(saved)


def _forget_engine_state() -> None:
    """Drop the engine's process-wide caches, without importing what was never imported.

    (Importing peering.aws.org or peering.aws.policy_store here would create Powertools' Logger and Metrics
    before a function's environment is set: they must first be imported by a function, with it.)
    """
    reset_shared_session()
    for module, reset in (("peering.aws.policy_store", "reset"), ("peering.aws.org", "clear_cache")):
        loaded = sys.modules.get(module)
        if loaded is not None:
            getattr(loaded, reset)()


def run_demo(*, verbose: bool = False, out: IO[str] | None = None) -> int:
    """Play the stories; 0 when every check passed. The moto server is always stopped."""
    stream = out or sys.stdout

    def say(text: str) -> None:
        print(text, file=stream, flush=True)

    started = time.monotonic()
    log = tempfile.NamedTemporaryFile(  # noqa: SIM115 - kept for the person reading the demo
        mode="w", prefix="peering-autopilot-demo-", suffix=".log", delete=False
    )
    say("Peering Autopilot demo: the lifecycle on a local AWS emulation, through template.yaml's own rules")
    try:
        with MotoServer(account_ids=[PLATFORM_ACCOUNT, WORKLOADS_ACCOUNT]) as server, _isolated(server.url):
            gaps = ", ".join(server.health().get("gaps", []))
            say(f"moto server {server.url} (pid {server.pid}) up in {time.monotonic() - started:.1f} s")
            say(f"fidelity patches in the server: {gaps}")
            checks = _play(server, say, log if not verbose else _Tee(log, sys.stderr))
    except KeyboardInterrupt:
        say("interrupted; the moto server was stopped")
        return 130
    finally:
        log.close()
    failed = [c for c in checks if not c.ok]
    say("")
    say(f"{len(checks) - len(failed)} of {len(checks)} checks passed; function logs: {log.name}")
    for check in failed:
        say(f"FAILED: {check.name} {check.detail}".rstrip())
    say(f"demo took {time.monotonic() - started:.1f} s; moto server stopped")
    return 1 if failed else 0


class _Tee:
    def __init__(self, *streams: IO[str]) -> None:
        self._streams = streams

    def write(self, text: str) -> int:
        for s in self._streams:
            s.write(text)
        return len(text)

    def flush(self) -> None:
        for s in self._streams:
            s.flush()


def _play(server: MotoServer, say: Callable[[str], None], log: Any) -> list[Check]:
    hub_session = boto3.session.Session(region_name=HUB_REGION)
    hub = str(hub_session.client("sts").get_caller_identity()["Account"])
    recorder = ApiRecorder(server.account_of)
    for session in (shared_session(), hub_session):  # the functions' calls, and the hub person's
        recorder.attach(session)
    names = {hub: "hub"}

    say("")
    say("== Setting up the organization and the hub")
    org = _organization(hub_session.client("organizations"), hub, names, say)
    sqs = hub_session.client("sqs")

    def queue_url(name: str) -> str:
        return str(sqs.get_queue_url(QueueName=name)["QueueUrl"])

    overrides = {"OrganizationId": org["org"], "ExternalId": EXTERNAL_ID, "Regions": f"{HUB_REGION},{OTHER_REGION}"}
    stack = Stack.load(account=hub, region=HUB_REGION, overrides=overrides, queue_url=queue_url)
    say(f"   template parameters: {', '.join(f'{k}={v}' for k, v in overrides.items())}; the others at their defaults")
    for resource in bootstrap(stack, hub_session):
        say(f"   bootstrap: {resource.logical_id:28} {resource.physical_id} ({resource.status})")
    topic = str(stack.ref("NotificationTopic"))
    notify_url = str(sqs.create_queue(QueueName="demo-notifications")["QueueUrl"])
    notify_arn = sqs.get_queue_attributes(QueueUrl=notify_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    hub_session.client("sns").subscribe(TopicArn=topic, Protocol="sqs", Endpoint=notify_arn)
    hub_session.client("ssm").put_parameter(
        Name=stack.physical_name("PolicyParameter"),
        Value=_policy(org["platform"], org["sandbox"], hub),
        Type="String",
        Overwrite=True,
    )
    say("   policy demo-1 in the policy parameter: accept the platform OU into VPCs tagged")
    say("   peering-autopilot:accept=true; accept hub-internal requests; reject the sandbox OU; hold the rest")
    sessions = {hub: hub_session}
    for account in (PLATFORM_ACCOUNT, WORKLOADS_ACCOUNT):
        sessions[account] = _member_session(hub_session, account)
        recorder.attach(sessions[account])
    world = World(stack, recorder, sqs=sqs, log=log)
    world.run_hand_ons(shared_session())  # configure and cleanup handing an event on, out of time
    demo = Demo(
        out=say,
        stack=stack,
        world=world,
        server=server,
        hub=hub,
        sessions=sessions,
        recorder=recorder,
        notifications_url=notify_url,
        names=names,
    )
    timeline = Timeline(say, demo.notifications)
    world.listeners.append(timeline.delivered)
    world.after_invocation.append(timeline.ran)
    world.dropped_hooks.append(timeline.dropped)
    recorder.drain()  # setting the scene is not part of the story
    _stories(demo)
    return demo.checks
