"""``python -m runner up``: a live local organization that any AWS client can drive (docs/try-it.md).

It starts the moto server (``emulation.server``, every fidelity patch, loopback only) and builds
the demo's organization in it: the hub (management account, where the stack runs) and two members,
network-a (platform OU) and analytics-b (workloads OU), the hub's resources from template.yaml
(``bootstrap``), the demo's approval policy, a CloudFormation stack whose outputs name them (as a
deployed stack's do), and an IAM user with long-lived keys in each account. Then, until Ctrl-C:

- every mutating EC2 call the server answers, from any client and in any account and Region,
  becomes the CloudTrail event AWS would deliver (caller's account and Region, ``errorCode`` for a
  failed call) and is routed through the member stack's forwarding rule and the hub's rules to the
  functions (``runner.world``: in-process, retried like Lambda's asynchronous invocations, then
  sent to the function's dead-letter queue);
- every event put on the hub's peering bus (``approve`` / ``reject``, or your own PutEvents)
  reaches the rules the same way (a rule of the emulator's EventBridge copies the bus to a queue
  that ``up`` reads);
- the schedule rules fire every ``--sweep-every`` seconds (default: the template's schedule);
- it prints one line per event, function, decision, action and notification (``runner.demo.timeline``)
  and, with ``--log``, writes them and the functions' logs to a file.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import boto3

from emulation.cloudtrail import event_time
from emulation.server import EmulationError, MotoServer
from peering.aws.clients import shared_session
from runner.bootstrap import bootstrap
from runner.cfn import Stack
from runner.demo import _isolated
from runner.demo.organization import _member_session, _organization, _policy
from runner.demo.stage import EXTERNAL_ID, HUB_REGION, OTHER_REGION, PLATFORM_ACCOUNT, WORKLOADS_ACCOUNT
from runner.demo.timeline import Timeline
from runner.world import SCHEDULE, ServedCallRecorder, World, mark_caller

__all__ = ["DEFAULT_PORT", "run_up", "schedule_seconds"]

DEFAULT_PORT = 8600
SANDBOX_USER = "sandbox-admin"
TAP_QUEUE = "runner-up-peering-bus-tap"
NOTIFICATIONS_QUEUE = "runner-up-notifications"
#: the outputs of template.yaml a script reads (what ``runner smoke --stack`` reads from a deployed stack)
OUTPUT_KEYS = (
    "HubAccountId",
    "PeeringEventBusName",
    "PeeringEventBusArn",
    "LedgerTableName",
    "NotificationTopicArn",
    "PolicyParameterName",
    "SweepQueueUrl",
    "AcceptDeadLetterQueueUrl",
    "OperatorDeadLetterQueueUrl",
    "ConfigureDeadLetterQueueUrl",
    "CleanupDeadLetterQueueUrl",
)
_RATE = re.compile(r"rate\((\d+) (minute|minutes|hour|hours|day|days)\)")
_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}


def schedule_seconds(expression: str) -> float | None:
    """rate(N unit) in seconds; None for a cron expression (give --sweep-every)."""
    found = _RATE.fullmatch(expression.strip())
    if found is None:
        return None
    return int(found.group(1)) * _UNIT_SECONDS[found.group(2).rstrip("s")]


@dataclass
class SandboxSetup:
    """What ``up`` built: the endpoint, the accounts and their keys, the hub stack and its outputs."""

    url: str
    hub: str
    accounts: dict[str, str]  # name -> id
    credentials: dict[str, dict[str, str]]  # id -> boto3 keyword arguments
    stack: Stack
    outputs: dict[str, str]
    regions: tuple[str, ...] = (HUB_REGION, OTHER_REGION)
    names: dict[str, str] = field(default_factory=dict)  # id -> name

    def state(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "region": HUB_REGION,
            "regions": list(self.regions),
            "hub": self.hub,
            "accounts": self.accounts,
            "credentials": self.credentials,
            "outputs": self.outputs,
            "stackName": self.stack.stack_name,
        }

    def profiles(self) -> str:
        """An AWS CLI config file: one profile per account, with its keys, Region and endpoint."""
        blocks = []
        for name, account in self.accounts.items():
            keys = self.credentials[account]
            blocks.append(
                f"[profile {name}]\n# account {account}\nregion = {HUB_REGION}\nendpoint_url = {self.url}\n"
                f"aws_access_key_id = {keys['aws_access_key_id']}\n"
                f"aws_secret_access_key = {keys['aws_secret_access_key']}\n"
            )
        return "# Written by python -m runner up: the local sandbox's accounts (keys valid while it runs).\n" + (
            "\n".join(blocks)
        )


def _sandbox_keys(session: Any) -> dict[str, str]:
    """Long-lived keys of an IAM user in the session's account (the emulator maps them to it)."""
    iam = session.client("iam")
    iam.create_user(UserName=SANDBOX_USER)
    key = iam.create_access_key(UserName=SANDBOX_USER)["AccessKey"]
    return {"aws_access_key_id": str(key["AccessKeyId"]), "aws_secret_access_key": str(key["SecretAccessKey"])}


def _outputs_stack(session: Any, stack: Stack) -> dict[str, str]:
    """The template's outputs, and a CloudFormation stack of that name that answers them (as deployed)."""
    outputs = {key: str(stack.output(key)) for key in OUTPUT_KEYS}
    body = {
        "Resources": {"Placeholder": {"Type": "AWS::CloudFormation::WaitConditionHandle"}},
        "Outputs": {key: {"Value": value} for key, value in outputs.items()},
    }
    session.client("cloudformation").create_stack(StackName=stack.stack_name, TemplateBody=json.dumps(body))
    return outputs


def _queue(sqs: Any, name: str) -> tuple[str, str]:
    url = str(sqs.create_queue(QueueName=name)["QueueUrl"])
    arn = str(sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"])
    return url, arn


def build(server: MotoServer, say: Callable[[str], None]) -> tuple[SandboxSetup, dict[str, str]]:
    """The organization, the hub and its stack, the keys; returns it and the hub's queues up reads."""
    hub_session = boto3.session.Session(region_name=HUB_REGION)
    hub = str(hub_session.client("sts").get_caller_identity()["Account"])
    names = {hub: "hub"}
    org = _organization(hub_session.client("organizations"), hub, names, say)
    sqs = hub_session.client("sqs")

    def queue_url(name: str) -> str:
        return str(sqs.get_queue_url(QueueName=name)["QueueUrl"])

    overrides = {"OrganizationId": org["org"], "ExternalId": EXTERNAL_ID, "Regions": f"{HUB_REGION},{OTHER_REGION}"}
    stack = Stack.load(account=hub, region=HUB_REGION, overrides=overrides, queue_url=queue_url)
    created = bootstrap(stack, hub_session)
    say(f"   hub resources from template.yaml: {', '.join(r.logical_id for r in created)}")
    hub_session.client("ssm").put_parameter(
        Name=stack.physical_name("PolicyParameter"),
        Value=_policy(org["platform"], org["sandbox"], hub),
        Type="String",
        Overwrite=True,
    )
    say("   policy demo-1: accept network-a (platform OU) into VPCs tagged peering-autopilot:accept=true,")
    say("   accept hub-internal requests, reject the sandbox OU, hold the rest for a person")
    outputs = _outputs_stack(hub_session, stack)
    # Members and the hub each get an IAM user whose keys the emulator maps to their account.
    credentials = {hub: _sandbox_keys(hub_session)}
    for account in (PLATFORM_ACCOUNT, WORKLOADS_ACCOUNT):
        credentials[account] = _sandbox_keys(_member_session(hub_session, account))
    # The emulator's EventBridge copies the peering bus to a queue up reads; SNS notifications to another.
    tap_url, tap_arn = _queue(sqs, TAP_QUEUE)
    events = hub_session.client("events")
    bus = str(stack.ref("PeeringEventBus"))
    events.put_rule(Name=TAP_QUEUE, EventBusName=bus, EventPattern=json.dumps({"version": ["0"]}))
    events.put_targets(Rule=TAP_QUEUE, EventBusName=bus, Targets=[{"Id": "up", "Arn": tap_arn}])
    notify_url, notify_arn = _queue(sqs, NOTIFICATIONS_QUEUE)
    hub_session.client("sns").subscribe(
        TopicArn=str(stack.ref("NotificationTopic")), Protocol="sqs", Endpoint=notify_arn
    )
    accounts = {names[a]: a for a in (hub, PLATFORM_ACCOUNT, WORKLOADS_ACCOUNT)}
    sandbox = SandboxSetup(server.url, hub, accounts, credentials, stack, outputs, names=names)
    return sandbox, {"tap": tap_url, "notifications": notify_url, "bus": bus}


class Loop:
    """Feeds the World until interrupted: served EC2 calls, the bus's events, the schedule."""

    def __init__(
        self, world: World, recorder: ServedCallRecorder, sqs: Any, queues: dict[str, str], sweep_every: float | None
    ) -> None:
        self.world = world
        self.recorder = recorder
        self.sqs = sqs
        self.queues = queues
        self.sweep_every = sweep_every
        self.next_sweep = None if sweep_every is None else time.monotonic() + sweep_every

    def notifications(self) -> list[str]:
        subjects: list[str] = []
        while True:
            batch = self.sqs.receive_message(QueueUrl=self.queues["notifications"], MaxNumberOfMessages=10)
            if not batch.get("Messages"):
                return subjects
            for message in batch["Messages"]:
                subjects.append(str(json.loads(message["Body"]).get("Subject", "")))
                self.sqs.delete_message(QueueUrl=self.queues["notifications"], ReceiptHandle=message["ReceiptHandle"])

    def step(self) -> None:
        calls = self.recorder.drain()
        if calls:
            self.world.emit_calls(calls, cause="a client of the endpoint")
        while True:
            batch = self.sqs.receive_message(QueueUrl=self.queues["tap"], MaxNumberOfMessages=10).get("Messages", [])
            if not batch:
                break
            for message in batch:
                event = json.loads(message["Body"])  # with its account (fidelity gap event_target_account)
                self.world.put(event, self.queues["bus"], cause="PutEvents on the peering bus")
                self.sqs.delete_message(QueueUrl=self.queues["tap"], ReceiptHandle=message["ReceiptHandle"])
        if self.next_sweep is not None and self.sweep_every is not None and time.monotonic() >= self.next_sweep:
            self.next_sweep = time.monotonic() + self.sweep_every
            self.fire_schedules()
        self.world.run()
        # Already printed: a sandbox that runs for days keeps no history of what it delivered.
        self.world.delivered.clear()
        self.world.invocations.clear()

    def fire_schedules(self) -> None:
        stack = self.world.stack
        for rule in self.world.rules:
            if rule.schedule is None:
                continue
            event = {
                "version": "0",
                "id": f"scheduled-{rule.rule_id}-{int(time.time())}",
                "detail-type": "Scheduled Event",
                "source": "aws.events",
                "account": stack.account,
                "time": event_time(),
                "region": stack.region,
                "resources": [stack.get_att(rule.rule_id, "Arn")],
                "detail": {},
            }
            self.world.put(event, rule.bus, cause=SCHEDULE)


def _dropped(say: Callable[[str], None], cause: str, calls: Counter[str]) -> None:
    listed = ", ".join(f"{name} x{n}" if n > 1 else name for name, n in calls.items())
    who = cause if " " in cause else f"a call by {cause}"
    say(f"[-] {listed}  <- {who}: no rule matches (EventBridge drops it)")


class _Out:
    """One line at a time to stdout and, with --log, to the log file."""

    def __init__(self, stream: IO[str], log: IO[str] | None) -> None:
        self.stream = stream
        self.log = log

    def __call__(self, text: str) -> None:
        print(text, file=self.stream, flush=True)
        if self.log is not None:
            self.log.write(text + "\n")
            self.log.flush()


def _banner(sandbox: SandboxSetup, say: Callable[[str], None], profiles: Path | None, sweep: str) -> None:
    say("")
    say(f"== Sandbox up at {sandbox.url} (every service; Regions {', '.join(sandbox.regions)})")
    for name, account in sandbox.accounts.items():
        keys = sandbox.credentials[account]
        say(f"   {name:12} {account}  AWS_ACCESS_KEY_ID={keys['aws_access_key_id']}")
        say(f"   {'':12} {'':12}  AWS_SECRET_ACCESS_KEY={keys['aws_secret_access_key']}")
    say(f"   hub stack {sandbox.stack.stack_name}: bus {sandbox.outputs['PeeringEventBusName']}, ledger")
    say(f"   {sandbox.outputs['LedgerTableName']}, policy {sandbox.outputs['PolicyParameterName']}; sweep {sweep}")
    if profiles is not None:
        say(f"   AWS CLI profiles ({', '.join(sandbox.accounts)}) written to {profiles}:")
        say(f"     export AWS_CONFIG_FILE={profiles}")
        say("     aws --profile network-a ec2 describe-vpcs")
    else:
        say(f"   try: AWS_ENDPOINT_URL={sandbox.url} AWS_ACCESS_KEY_ID=<key> AWS_SECRET_ACCESS_KEY=<secret> \\")
        say("          aws ec2 describe-vpcs")
        say("   (--write-profiles PATH writes them as AWS CLI profiles)")
    say("   Ctrl-C stops everything. Events and decisions follow as they happen.")
    say("")


def _stop_with(parent_pid: int) -> None:
    """SIGTERM ourselves (the clean path) when the process that started us is gone (runner.sandbox)."""

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(0.5)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="watch-parent", daemon=True).start()


def run_up(args: argparse.Namespace) -> int:
    log = Path(args.log).open("a", encoding="utf-8") if args.log else None  # noqa: SIM115 - closed below
    say = _Out(sys.stdout, log)
    started = time.monotonic()

    def terminate(_signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, terminate)
    if args.parent_pid is not None:
        _stop_with(args.parent_pid)
    try:
        say("Peering Autopilot sandbox: the demo's organization on a local AWS emulation, live")
        server = MotoServer(account_ids=[PLATFORM_ACCOUNT, WORKLOADS_ACCOUNT], record_calls=True, port=args.port)
        with server, _isolated(server.url):
            say(f"moto server {server.url} (pid {server.pid}) up in {time.monotonic() - started:.1f} s")
            say("== Setting up the organization and the hub")
            sandbox, queues = build(server, say)
            return _serve(args, server, sandbox=sandbox, queues=queues, say=say, log=log, started=started)
    except KeyboardInterrupt:
        say("interrupted: the sandbox and its moto server are stopped")
        return 0
    except EmulationError as exc:
        if "Address already in use" in str(exc):
            say(f"error: port {args.port} is taken (another runner up?): --port 0 picks a free one")
        else:
            say(f"error: the moto server did not start: {exc}")
        return 2
    finally:
        if args.state_file:
            Path(args.state_file).unlink(missing_ok=True)
        if log is not None:
            log.close()


def _serve(
    args: argparse.Namespace,
    server: MotoServer,
    *,
    sandbox: SandboxSetup,
    queues: dict[str, str],
    say: Callable[[str], None],
    log: IO[str] | None,
    started: float,
) -> int:
    hub_session = boto3.session.Session(region_name=HUB_REGION)
    sqs = hub_session.client("sqs")
    recorder = ServedCallRecorder(server.served_calls)
    recorder.skip()  # setting the scene is not part of the story
    world = World(sandbox.stack, recorder, sqs=sqs, log=log)
    world.max_deliveries = 500
    mark_caller(shared_session(), lambda: world.running)  # the functions' calls name the function
    schedule = next((r.schedule for r in world.rules if r.schedule), None)
    sweep_every = args.sweep_every if args.sweep_every is not None else schedule_seconds(schedule or "")
    loop = Loop(world, recorder, sqs, queues, sweep_every)
    timeline = Timeline(say, loop.notifications)
    world.listeners.append(timeline.delivered)
    world.after_invocation.append(timeline.ran)
    world.dropped_hooks.append(lambda cause, calls: _dropped(say, cause, calls))
    world.dead_letter_hooks.append(
        lambda function, _event, queue: say(
            f"      {function}: retries exhausted; the event went to {queue or 'nowhere (no on-failure destination)'}"
        )
    )
    profiles = Path(args.write_profiles).resolve() if args.write_profiles else None
    if profiles is not None:
        profiles.write_text(sandbox.profiles(), encoding="utf-8")
    given = "--sweep-every" if args.sweep_every is not None else f"the template's {schedule}"
    sweep = f"every {sweep_every:g} s ({given})" if sweep_every else f"never ({schedule}: give --sweep-every)"
    _banner(sandbox, say, profiles, sweep)
    if args.state_file:
        state = {**sandbox.state(), "pid": server.pid, "log": args.log, "sweepEverySeconds": sweep_every}
        partial = Path(args.state_file).with_suffix(".partial")
        partial.write_text(json.dumps(state, indent=2), encoding="utf-8")
        partial.replace(args.state_file)  # appears whole: a reader never sees half of it
    say(f"ready in {time.monotonic() - started:.1f} s")
    while True:
        try:
            loop.step()
        except KeyboardInterrupt:
            raise
        except Exception as exc:  # one bad event or call must not stop the sandbox
            say(f"   error while delivering: {type(exc).__name__}: {exc}")
        if not server.running:
            say("the moto server stopped: exiting")
            return 1
        time.sleep(0.2)
