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
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import boto3

from emulation.cloudtrail import event_time
from emulation.server import EmulationError, MotoServer
from peering.aws.clients import reset_shared_session, shared_session
from runner.bootstrap import bootstrap
from runner.cfn import Stack
from runner.invoke import Invocation
from runner.map_cli import write_map_file
from runner.model import QueueMapping, RuleSpec
from runner.routing import describe_event
from runner.world import SCHEDULE, ApiRecorder, Delivered, World

__all__ = ["run_demo"]

PLATFORM_ACCOUNT = "222222222222"
WORKLOADS_ACCOUNT = "333333333333"
HUB_REGION = "us-east-1"
OTHER_REGION = "eu-west-1"
EXTERNAL_ID = "peering-autopilot-demo"
ACCEPT_TAG = {"peering-autopilot:accept": "true"}
ADMIN_ROLE = "OrganizationAccountAccessRole"


@dataclass
class Check:
    name: str
    ok: bool
    detail: str = ""


@dataclass
class Demo:
    out: Callable[[str], None]
    stack: Stack
    world: World
    server: MotoServer
    hub: str
    sessions: dict[str, Any]
    recorder: ApiRecorder
    notifications_url: str
    checks: list[Check] = field(default_factory=list)
    names: dict[str, str] = field(default_factory=dict)  # ids -> readable names
    map_path: Path = field(default_factory=lambda: _new_file("-map.html"))

    # -- AWS access as each account ---------------------------------------------------------

    def ec2(self, account: str, region: str = HUB_REGION) -> Any:
        return self.sessions[account].client("ec2", region_name=region)

    def hub_client(self, service: str) -> Any:
        return self.sessions[self.hub].client(service, region_name=HUB_REGION)

    # -- output -----------------------------------------------------------------------------

    def story(self, title: str) -> None:
        self.out("")
        self.out(f"== {title}")

    def said(self, text: str) -> None:
        self.out(f"   {text}")

    def label(self, value: str) -> str:
        return f"{value} ({self.names[value]})" if value in self.names else value

    def check(self, name: str, ok: bool, detail: str = "") -> bool:
        self.checks.append(Check(name, ok, detail))
        self.out(f"   check: {name}: {'ok' if ok else 'FAILED'}{'' if ok or not detail else f' ({detail})'}")
        return ok

    def notifications(self) -> list[str]:
        sqs = self.hub_client("sqs")
        subjects: list[str] = []
        while True:
            batch = sqs.receive_message(QueueUrl=self.notifications_url, MaxNumberOfMessages=10).get("Messages", [])
            if not batch:
                return subjects
            for message in batch:
                subjects.append(str(json.loads(message["Body"]).get("Subject", "")))
                sqs.delete_message(QueueUrl=self.notifications_url, ReceiptHandle=message["ReceiptHandle"])

    # -- acting as a person -----------------------------------------------------------------

    def act(self, cause: str) -> None:
        """Deliver the events of the calls just made by a person, and everything they cause."""
        self.world.emit_calls(self.recorder.drain(), cause=cause)
        self.world.run()

    def operator(self, detail_type: str, detail: dict[str, Any]) -> None:
        event = {
            "version": "0",
            "id": f"operator-{len(self.world.delivered)}",
            "detail-type": detail_type,
            "source": "peering-autopilot.operator",
            "account": self.hub,  # EventBridge sets it to the caller's account
            "time": event_time(),
            "region": HUB_REGION,
            "resources": [],
            "detail": detail,
        }
        self.world.put(event, str(self.stack.ref("PeeringEventBus")), cause="an operator (PutEvents)")
        self.world.run()

    def schedule(self) -> None:
        """Every schedule rule of the stack fires once (each delivers its own event to its targets)."""
        for rule in self.world.rules:
            if rule.schedule is None:
                continue
            event = {
                "version": "0",
                "id": f"scheduled-{rule.rule_id}",
                "detail-type": "Scheduled Event",
                "source": "aws.events",
                "account": self.hub,
                "time": event_time(),
                "region": HUB_REGION,
                "resources": [self.stack.get_att(rule.rule_id, "Arn")],
                "detail": {},
            }
            self.world.put(event, rule.bus, cause=SCHEDULE)
        self.world.run()

    # -- reading state ----------------------------------------------------------------------

    def connection(self, account: str, pcx: str, region: str = HUB_REGION) -> dict[str, Any]:
        found = self.ec2(account, region).describe_vpc_peering_connections(VpcPeeringConnectionIds=[pcx])
        item: dict[str, Any] = found["VpcPeeringConnections"][0]
        return item

    def status(self, account: str, pcx: str, region: str = HUB_REGION) -> str:
        return str(self.connection(account, pcx, region)["Status"]["Code"])

    def routes_to(self, account: str, vpc_id: str, pcx: str, region: str = HUB_REGION) -> list[str]:
        tables = self.ec2(account, region).describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])
        return sorted(
            str(r.get("DestinationCidrBlock") or r.get("DestinationIpv6CidrBlock"))
            for t in tables["RouteTables"]
            for r in t["Routes"]
            if r.get("VpcPeeringConnectionId") == pcx
        )

    def dns(self, account: str, pcx: str, region: str, side: str) -> bool:
        info = self.connection(account, pcx, region)[f"{side}VpcInfo"]
        return bool((info.get("PeeringOptions") or {}).get("AllowDnsResolutionFromRemoteVpc"))

    def ledger(self, pcx: str) -> dict[str, str]:
        item = (
            self.hub_client("dynamodb")
            .get_item(TableName=self.stack.physical_name("LedgerTable"), Key={"pk": {"S": pcx}, "sk": {"S": "STATE"}})
            .get("Item", {})
        )
        return {k: str(v.get("S", v.get("N", ""))) for k, v in item.items()}

    def ledger_reasons(self, pcx: str) -> list[str]:
        item = (
            self.hub_client("dynamodb")
            .get_item(TableName=self.stack.physical_name("LedgerTable"), Key={"pk": {"S": pcx}, "sk": {"S": "STATE"}})
            .get("Item", {})
        )
        return [str(r.get("S", "")) for r in item.get("reasons", {}).get("L", [])]

    def make_vpc(self, name: str, account: str, cidr: str, region: str, *, opt_in: bool = False) -> Net:
        """A VPC with DNS hostnames enabled (DNS options need them), tagged to opt in when asked."""
        client = self.ec2(account, region)
        vpc_id = str(client.create_vpc(CidrBlock=cidr)["Vpc"]["VpcId"])
        client.modify_vpc_attribute(VpcId=vpc_id, EnableDnsHostnames={"Value": True})
        tags = {"Name": name, **(ACCEPT_TAG if opt_in else {})}
        client.create_tags(Resources=[vpc_id], Tags=[{"Key": k, "Value": v} for k, v in tags.items()])
        self.names[vpc_id] = name
        net = Net(name, account, region, vpc_id, cidr)
        self.said(f"{self.label(account)} {region} {vpc_id} {name} {cidr}{' (opted in)' if opt_in else ''}")
        return net

    def request(self, requester: Net, accepter: Net) -> str:
        """The requester's owner asks to peer with the accepter (CreateVpcPeeringConnection)."""
        params: dict[str, Any] = {"VpcId": requester.vpc_id, "PeerVpcId": accepter.vpc_id}
        if accepter.account != requester.account:
            params["PeerOwnerId"] = accepter.account
        if accepter.region != requester.region:
            params["PeerRegion"] = accepter.region
        ec2 = self.ec2(requester.account, requester.region)
        pcx = str(ec2.create_vpc_peering_connection(**params)["VpcPeeringConnection"]["VpcPeeringConnectionId"])
        self.said(
            f"{self.label(requester.account)} in {requester.region}: CreateVpcPeeringConnection "
            f"{requester.name} -> {self.label(accepter.account)}/{accepter.region} {accepter.name} = {pcx}"
        )
        return pcx

    def routes(self, net: Net, pcx: str) -> list[str]:
        return self.routes_to(net.account, net.vpc_id, pcx, net.region)


def _new_file(suffix: str) -> Path:
    """A file of this run beside its log (the peering map of the final state)."""
    handle, name = tempfile.mkstemp(prefix="peering-autopilot-demo-", suffix=suffix)
    os.close(handle)
    return Path(name)


@dataclass(frozen=True)
class Net:
    """A VPC of the demo: its name, owner, Region, id and primary block."""

    name: str
    account: str
    region: str
    vpc_id: str
    cidr: str


# ------------------------------------------------------------------------------------------------
# Timeline
# ------------------------------------------------------------------------------------------------


def _head(result: dict[str, Any]) -> str:
    """The outcome with the plan's summary: "accepted (policy)", "configured (2 route changes, ...)"."""
    outcome = str(result.get("outcome", ""))
    plan = str(result.get("plan") or "").splitlines()
    summary = plan[0].split(": ", 1)[-1] if plan else ""
    for verb in ("configure ", "cleanup "):
        if summary.startswith(verb):
            summary = summary[len(verb) :]
    if not summary or summary.startswith(outcome):
        return summary or outcome
    return f"{outcome} {summary}" if summary.startswith("(") else f"{outcome}: {summary}"


def _result_lines(result: Any) -> list[str]:
    if not isinstance(result, dict):
        return [f"result: {result!r}"]
    if "batchItemFailures" in result:
        failures = result["batchItemFailures"]
        return [f"{len(failures)} record(s) failed, left on the queue" if failures else "every record converged"]
    if result.get("ok") is False:
        return [f"refused: {result.get('error')}: {result.get('message')}"]
    if "targets" in result:
        return [f"queued {result['targets']} sweep target(s) (accounts x Regions) on the sweep queue"]
    if "connections" in result:
        conns = result["connections"]
        lines = [f"VPC {result.get('vpcId')}: {len(conns)} active connection(s) to re-converge"]
        for conn in conns:
            lines += _result_lines(conn)
        return lines
    plan = str(result.get("plan") or "").splitlines()
    lines = [_head(result)]
    lines += [line.strip() for line in plan[1:] if line.strip().startswith(("because", "!", "routing: rule"))]
    lines += [f"{a['action']} [{a['status']}]" for a in result.get("actions", [])]
    if not plan:
        lines += [f"because {r}" for r in result.get("reasons", [])]
    return lines


def _sweep_summaries(output: str) -> list[str]:
    lines = []
    for raw in output.splitlines():
        if not raw.startswith("{") or '"sweep summary"' not in raw:
            continue
        record = json.loads(raw)
        found, done = record.get("found") or {}, record.get("done") or {}
        if found or done:
            counts = ", ".join(f"{n} {status}" for status, n in sorted(found.items()))
            changes = ", ".join(f"{kind} x{n}" for kind, n in sorted(done.items())) or "nothing to change"
            lines.append(f"{record.get('account')}/{record.get('region')}: {counts} -> {changes}")
    return lines


class Timeline:
    """Prints what the World does: events, rules, functions, decisions, actions, notifications."""

    def __init__(self, out: Callable[[str], None], notifications: Callable[[], list[str]]) -> None:
        self.out = out
        self.notifications = notifications

    def delivered(self, item: Delivered) -> None:
        cause = item.cause if " " in item.cause else f"a call by {item.cause}"
        self.out(f"[{item.number}] {describe_event(item.event)}  <- {cause}")
        self.out(f"      arrives: {item.how}")
        if not item.rules:
            self.out("      no rule matches: dropped")

    def ran(self, trigger: RuleSpec | QueueMapping, event: dict[str, Any], invocation: Invocation) -> None:
        if isinstance(trigger, RuleSpec):
            self.out(f"      rule {trigger.rule_id} -> {invocation.function}")
        else:
            records = len(event.get("Records", []))
            self.out(
                f"[queue] {trigger.queue}: {records} message(s) -> {trigger.function} "
                f"(event source mapping {trigger.logical_id}, batch size {trigger.batch_size})"
            )
        if invocation.error is not None:
            self.out(f"         FAILED: {type(invocation.error).__name__}: {invocation.error}")
        else:
            for line in _result_lines(invocation.result):
                self.out(f"         {line}")
            for line in _sweep_summaries(invocation.output):
                self.out(f"         {line}")
        for subject in self.notifications():
            self.out(f"         notified: {subject}")

    def dropped(self, cause: str, calls: Counter[str]) -> None:
        listed = ", ".join(f"{name} x{n}" if n > 1 else name for name, n in calls.items())
        self.out(f"      its other calls ({listed}) match no rule: EventBridge drops them")


# ------------------------------------------------------------------------------------------------
# The stories
# ------------------------------------------------------------------------------------------------


def _policy(platform_ou: str, sandbox_ou: str, hub: str) -> str:
    return f"""schemaVersion: 1
version: demo-1
rules:
  - name: platform-into-opted-in-vpcs
    action: accept
    requester:
      organization: self
      organizationalUnits: [{platform_ou}]
    accepter:
      vpcTag: {{key: "peering-autopilot:accept", value: "true"}}
  - name: hub-internal
    action: accept
    requester:
      accounts: ["{hub}"]
    accepter:
      accounts: ["{hub}"]
  - name: no-sandbox
    action: reject
    requester:
      organizationalUnits: [{sandbox_ou}]
"""


def _organization(orgs: Any, hub: str, names: dict[str, str], say: Callable[[str], None]) -> dict[str, str]:
    """The hub creates an organization with three OUs and two member accounts."""
    org_id = str(orgs.create_organization(FeatureSet="ALL")["Organization"]["Id"])
    root = str(orgs.list_roots()["Roots"][0]["Id"])
    ous = {
        name: str(orgs.create_organizational_unit(ParentId=root, Name=name)["OrganizationalUnit"]["Id"])
        for name in ("platform", "workloads", "sandbox")
    }
    members = (("network-a", "platform", PLATFORM_ACCOUNT), ("analytics-b", "workloads", WORKLOADS_ACCOUNT))
    for name, ou, expected in members:
        status = orgs.create_account(AccountName=name, Email=f"{name}@example.com")["CreateAccountStatus"]
        account = str(status["AccountId"])
        if account != expected:
            raise EmulationError(f"the emulator gave account {account} to {name}, expected {expected}")
        orgs.move_account(AccountId=account, SourceParentId=root, DestinationParentId=ous[ou])
        names[account] = name
    say(f"   organization {org_id}, root {root}")
    say(f"   {hub} hub (management account, where the stack runs)")
    say(f"   {PLATFORM_ACCOUNT} network-a   in OU platform  {ous['platform']}")
    say(f"   {WORKLOADS_ACCOUNT} analytics-b in OU workloads {ous['workloads']}")
    say(f"   (OU sandbox {ous['sandbox']} is empty)")
    return {"org": org_id, **ous}


def _member_session(hub_session: Any, account: str) -> Any:
    creds = hub_session.client("sts", region_name=HUB_REGION).assume_role(
        RoleArn=f"arn:aws:iam::{account}:role/{ADMIN_ROLE}", RoleSessionName="demo-person"
    )["Credentials"]
    return boto3.session.Session(
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
        region_name=HUB_REGION,
    )


def _vpcs(demo: Demo) -> dict[str, Net]:
    demo.story("VPCs (DNS hostnames enabled everywhere; the hub opts two VPCs in with peering-autopilot:accept=true)")
    nets = {
        "shared": demo.make_vpc("shared-services", demo.hub, "10.0.0.0/16", HUB_REGION, opt_in=True),
        "ingress": demo.make_vpc("ingress", demo.hub, "10.1.0.0/16", HUB_REGION, opt_in=True),
        "app": demo.make_vpc("platform-app", PLATFORM_ACCOUNT, "10.20.0.0/16", OTHER_REGION),
        "batch": demo.make_vpc("platform-batch", PLATFORM_ACCOUNT, "10.40.0.0/16", HUB_REGION),
        "analytics": demo.make_vpc("analytics", WORKLOADS_ACCOUNT, "10.30.0.0/16", HUB_REGION),
        "lab": demo.make_vpc("analytics-lab", WORKLOADS_ACCOUNT, "10.31.0.0/16", HUB_REGION),
    }
    demo.recorder.drain()  # setting the scene: no peering events
    return nets


def _dns_both_sides(demo: Demo, pcx: str, requester: Net, accepter: Net) -> bool:
    """Each side's option, read by its owner in its Region."""
    return demo.dns(requester.account, pcx, requester.region, "Requester") and demo.dns(
        accepter.account, pcx, accepter.region, "Accepter"
    )


def _approved(demo: Demo, nets: dict[str, Net]) -> str:
    app, shared = nets["app"], nets["shared"]
    demo.story("1. Approved cross-account, inter-Region request: network-a (platform OU, eu-west-1) -> hub")
    pcx = demo.request(app, shared)
    demo.act("network-a (a person)")
    rule = demo.ledger(pcx).get("rule")
    demo.check("accepted by policy rule platform-into-opted-in-vpcs", rule == "platform-into-opted-in-vpcs", str(rule))
    demo.check("connection active", demo.status(demo.hub, pcx) == "active")
    demo.check("routes both sides", demo.routes(app, pcx) == [shared.cidr] and demo.routes(shared, pcx) == [app.cidr])
    demo.check("DNS resolution on, each side set by its owner in its Region", _dns_both_sides(demo, pcx, app, shared))
    return pcx


def _held_then_approved(demo: Demo, nets: dict[str, Net]) -> str:
    analytics, shared = nets["analytics"], nets["shared"]
    demo.story("2. Unknown requester held, then approved by an operator: analytics-b (workloads OU) -> hub")
    pcx = demo.request(analytics, shared)
    demo.act("analytics-b (a person)")
    demo.check("held: no rule matches, and nothing unknown is accepted", demo.ledger(pcx).get("decision") == "held")
    demo.check("still pending acceptance", demo.status(demo.hub, pcx) == "pending-acceptance")
    demo.said("an operator approves it (the ledger knows where it lives):")
    approval = {"connectionId": pcx, "requestedBy": "alice@example.com", "comment": "CHG-4711"}
    demo.operator("Approve Peering Request", approval)
    demo.check("accepted by the operator", demo.ledger(pcx).get("decidedBy") == "operator:alice@example.com")
    demo.check("connection active", demo.status(demo.hub, pcx) == "active")
    both = demo.routes(analytics, pcx) == [shared.cidr] and demo.routes(shared, pcx) == [analytics.cidr]
    demo.check("routes both sides", both)
    demo.check("DNS resolution on both sides", _dns_both_sides(demo, pcx, analytics, shared))
    return pcx


def _overlap(demo: Demo, nets: dict[str, Net]) -> str:
    batch, ingress = nets["batch"], nets["ingress"]
    demo.story("3. The requester VPC gains an overlapping block while pending: network-a platform-batch -> hub")
    pcx = demo.request(batch, ingress)
    demo.ec2(batch.account, batch.region).associate_vpc_cidr_block(VpcId=batch.vpc_id, CidrBlock="10.1.128.0/17")
    demo.said(
        f"{demo.label(batch.account)} in {batch.region}: AssociateVpcCidrBlock {batch.name} 10.1.128.0/17 "
        f"(overlaps {ingress.name} {ingress.cidr})"
    )
    demo.said("CloudTrail delivers both calls minutes later; the engine acts on what is true when it reads:")
    demo.act("network-a (a person)")
    reasons = demo.ledger_reasons(pcx)
    demo.check("rejected", demo.status(demo.hub, pcx) == "rejected")
    demo.check("because of the overlap", any("overlap" in r for r in reasons), "; ".join(reasons))
    demo.check("its record closed by the cleanup function", "closedAt" in demo.ledger(pcx))
    return pcx


def _deleted(demo: Demo, nets: dict[str, Net], pcx: str) -> None:
    app, shared = nets["app"], nets["shared"]
    demo.story("4. Deletion: network-a deletes the connection of story 1 (in eu-west-1)")
    demo.ec2(app.account, app.region).delete_vpc_peering_connection(VpcPeeringConnectionId=pcx)
    demo.said(f"{demo.label(app.account)} in {app.region}: DeleteVpcPeeringConnection {pcx}")
    demo.act("network-a (a person)")
    demo.check("routes removed on both sides", demo.routes(app, pcx) == [] == demo.routes(shared, pcx))
    state = demo.ledger(pcx)
    demo.check("record closed as deleted", state.get("status") == "deleted" and "closedAt" in state)


def _expired(demo: Demo, nets: dict[str, Net]) -> str:
    lab, ingress = nets["lab"], nets["ingress"]
    demo.story("5. An expired request closed by the sweep: analytics-b analytics-lab -> hub, never answered")
    pcx = demo.request(lab, ingress)
    demo.act("analytics-b (a person)")
    demo.check("held", demo.ledger(pcx).get("decision") == "held")
    demo.said(f"7 days pass without an answer: AWS expires {pcx}, and no event says so")
    demo.server.age(pcx, hours=7 * 24 + 1)  # emulation.lifecycle.age, inside the emulator
    demo.check("expired in EC2", demo.status(demo.hub, pcx) == "expired")
    demo.said("the schedule rule fires:")
    demo.schedule()
    state = demo.ledger(pcx)
    demo.check("record closed as expired by the worker", state.get("status") == "expired" and "closedAt" in state)
    return pcx


SHARE_TAG = {"peering-autopilot:share": "true"}


def _subnet_level(demo: Demo) -> str:
    """A rule of its own routes a connection to the peer's tagged subnets only, and the sweep
    follows a subnet tagged later. Self-contained: its VPCs, subnets and policy version."""
    demo.story("6. Subnet-level routing: network-a payments (eu-west-1) -> hub data, tagged subnets only")
    data = demo.make_vpc("data", demo.hub, "10.2.0.0/16", HUB_REGION)
    payments = demo.make_vpc("payments", PLATFORM_ACCOUNT, "10.50.0.0/16", OTHER_REGION)

    def subnet(net: Net, cidr: str, shared: bool) -> str:
        tags = [{"ResourceType": "subnet", "Tags": [{"Key": k, "Value": v} for k, v in SHARE_TAG.items()]}]
        client = demo.ec2(net.account, net.region)
        created = client.create_subnet(VpcId=net.vpc_id, CidrBlock=cidr, TagSpecifications=tags if shared else [])
        demo.said(f"{net.name}: subnet {cidr}{' tagged peering-autopilot:share=true' if shared else ''}")
        return str(created["Subnet"]["SubnetId"])

    subnet(data, "10.2.1.0/24", shared=True)
    subnet(data, "10.2.2.0/24", shared=False)
    later = subnet(data, "10.2.3.0/24", shared=False)
    subnet(payments, "10.50.1.0/24", shared=True)
    subnet(payments, "10.50.2.0/24", shared=False)
    rule = {
        "name": "payments-to-data-shared-subnets",
        "action": "accept",
        "requester": {"accounts": [PLATFORM_ACCOUNT]},
        "accepter": {"vpcIds": [data.vpc_id]},
        "routing": {"destinations": "subnets", "destinationTag": {"key": "peering-autopilot:share", "value": "true"}},
    }
    version = _publish_rule(demo, rule)
    demo.said(f"policy {version} adds rule {rule['name']} with its own routing: destinations subnets")
    demo.recorder.drain()  # setting the scene: no peering events
    pcx = demo.request(payments, data)
    demo.act("network-a (a person)")
    demo.check("accepted by the rule with subnet routing", demo.ledger(pcx).get("rule") == rule["name"])
    routes = (demo.routes(payments, pcx), demo.routes(data, pcx))
    demo.check("each side routes the peer's tagged subnets only", routes == (["10.2.1.0/24"], ["10.50.1.0/24"]))
    demo.ec2(data.account, data.region).create_tags(
        Resources=[later], Tags=[{"Key": k, "Value": v} for k, v in SHARE_TAG.items()]
    )
    demo.said("the hub tags data's subnet 10.2.3.0/24 peering-autopilot:share=true (no event); the schedule fires:")
    demo.recorder.drain()
    demo.schedule()
    demo.check("the sweep routes the newly tagged subnet", demo.routes(payments, pcx) == ["10.2.1.0/24", "10.2.3.0/24"])
    return pcx


def _publish_rule(demo: Demo, rule: dict[str, Any]) -> str:
    """The policy in the parameter, with ``rule`` added and a new version (published as JSON)."""
    import yaml  # noqa: PLC0415 - the runner's own dependency, only for this story

    ssm = demo.hub_client("ssm")
    name = demo.stack.physical_name("PolicyParameter")
    document = yaml.safe_load(ssm.get_parameter(Name=name)["Parameter"]["Value"])
    document["rules"] = [*(document.get("rules") or []), rule]
    document["version"] = f"{document['version']}+subnets"
    ssm.put_parameter(Name=name, Value=json.dumps(document), Type="String", Overwrite=True)
    loaded = sys.modules.get("peering.aws.policy_store")
    if loaded is not None:
        loaded.reset()  # in AWS the functions' cache expires within POLICY_CACHE_SECONDS
    return str(document["version"])


def _reminded(demo: Demo, nets: dict[str, Net]) -> str:
    """A held request is reminded once before its end (policy cleanup.remindBeforeExpiryHours,
    default 24 h), then decided by the command the reminder names."""
    lab, shared = nets["lab"], nets["shared"]
    demo.story("7. A held request reminded a day before its end: analytics-b analytics-lab -> shared-services")
    pcx = demo.request(lab, shared)
    demo.act("analytics-b (a person)")
    demo.check("held", demo.ledger(pcx).get("decision") == "held")
    demo.said("52 h pass without an answer; its requester's sweep withdraws requests unanswered after 72 h")
    demo.server.age(pcx, hours=52)  # emulation.lifecycle.age, inside the emulator
    demo.said("the schedule rule fires:")
    demo.schedule()
    reminded = demo.ledger(pcx).get("remindedAt", "")
    demo.check("reminded once, 24 h before its end (recorded with its notice)", bool(reminded))
    demo.said("the schedule rule fires again:")
    demo.schedule()
    demo.check("not reminded twice", demo.ledger(pcx).get("remindedAt") == reminded)
    demo.said(f"an operator runs the command the reminder names: python -m runner reject {pcx} --comment CHG-4720")
    demo.operator("Reject Peering Request", {"connectionId": pcx, "requestedBy": "bob", "comment": "CHG-4720"})
    demo.check("rejected by the operator", demo.status(demo.hub, pcx) == "rejected")
    return pcx


def _final_state(demo: Demo, connections: list[tuple[str, Net, Net]]) -> None:
    demo.story("Final state")
    for pcx, requester, accepter in connections:
        ledger = demo.ledger(pcx)
        closed = ", closed" if "closedAt" in ledger else ""
        demo.said(
            f"{pcx}: {demo.status(accepter.account, pcx, accepter.region)}; ledger {ledger.get('decision')} "
            f"by {ledger.get('decidedBy')}{closed}"
        )
        for role, net in (("requester", requester), ("accepter", accepter)):
            dns = "on" if demo.dns(net.account, pcx, net.region, role.capitalize()) else "off"
            routes = demo.routes(net, pcx)
            demo.said(
                f"  {role:9} {demo.label(net.account)}/{net.region} {net.name}: "
                f"routes to it {', '.join(routes) or 'none'}; DNS resolution from the peer {dns}"
            )


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


def _mapped(demo: Demo, nets: dict[str, Net], second: str) -> None:
    """The peering map of the final state, once a request waits and a route went missing."""
    lab, shared, analytics = nets["lab"], nets["shared"], nets["analytics"]
    demo.story("8. The peering map: a hub-internal connection, a request waiting, a route removed by hand")
    healthy = demo.request(nets["ingress"], shared)
    demo.act("the hub (a person)")
    waiting = demo.request(lab, shared)
    demo.act("analytics-b (a person)")
    ec2 = demo.ec2(demo.hub)
    tables = ec2.describe_route_tables(Filters=[{"Name": "route.vpc-peering-connection-id", "Values": [second]}])
    table = str(tables["RouteTables"][0]["RouteTableId"])
    ec2.delete_route(RouteTableId=table, DestinationCidrBlock=analytics.cidr)
    demo.said(f"hub: DeleteRoute {analytics.cidr} -> {second} from {table} (drift: no rule listens to DeleteRoute)")
    demo.act("hub (a person)")
    written = write_map_file(demo.stack, account=demo.hub, region=HUB_REGION, path=demo.map_path)
    demo.said(f"peering map: {written.summary()}")
    expected = {healthy: "active", second: "active", waiting: "held"}
    shown = all(written.states.get(pcx) == state for pcx, state in expected.items())
    drift = "missing-route" in written.findings.get(second, []) and not written.findings.get(healthy)
    demo.check("the map shows every connection, the held request and the missing route", shown and drift)


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
