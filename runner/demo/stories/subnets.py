"""Story 6: subnet-level routing by a rule of its own, followed by the sweep when a subnet is tagged."""

from __future__ import annotations

import json
import sys
from typing import Any

from runner.demo.stage import HUB_REGION, OTHER_REGION, PLATFORM_ACCOUNT, Demo, Net

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
