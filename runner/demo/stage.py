"""The demo's stage: its accounts and Regions, the VPCs (``Net``), the checks, and ``Demo``, through
which a story acts (requests, operator decisions, the schedule) and reads the emulated AWS state.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from emulation.cloudtrail import event_time
from emulation.server import MotoServer
from runner.cfn import Stack
from runner.world import SCHEDULE, ApiRecorder, World

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
