"""The scene the stories share: six VPCs in three accounts and two Regions, and the DNS check."""

from __future__ import annotations

from runner.demo.stage import HUB_REGION, OTHER_REGION, PLATFORM_ACCOUNT, WORKLOADS_ACCOUNT, Demo, Net


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
