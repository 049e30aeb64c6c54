"""``python -m runner adopt --dry-run``, as a platform team runs it against an emulator before
adopting the peerings it already has.

Given a bootstrapped hub with a peering made by hand before it (active, one hand-made route),
when the first-run report is asked for, then it lists the connection as unmanaged, says why and
what adoption would change, and nothing in AWS or the ledger changed; without --dry-run the
command refuses and points at the policy's adopt: section.
"""

from __future__ import annotations

import json

from emulation.server import MotoServer
from tests.e2e.conftest import client, run_cli
from tests.e2e.test_commands import HUB, bootstrapped, snapshot


def made_by_hand(server: MotoServer) -> tuple[str, str, str]:
    ec2 = client(server, "ec2")
    vpcs = []
    for cidr in ("10.70.0.0/16", "10.71.0.0/16"):
        vpc = ec2.create_vpc(CidrBlock=cidr)["Vpc"]["VpcId"]
        ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})
        vpcs.append(vpc)
    pcx = ec2.create_vpc_peering_connection(VpcId=vpcs[0], PeerVpcId=vpcs[1])["VpcPeeringConnection"]
    pcx_id = pcx["VpcPeeringConnectionId"]
    ec2.accept_vpc_peering_connection(VpcPeeringConnectionId=pcx_id)
    table = ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [vpcs[1]]}])["RouteTables"][0]
    ec2.create_route(
        RouteTableId=table["RouteTableId"], DestinationCidrBlock="10.70.1.0/24", VpcPeeringConnectionId=pcx_id
    )
    return pcx_id, vpcs[0], vpcs[1]


def test_the_first_run_report_lists_what_adoption_would_change_and_changes_nothing(server: MotoServer) -> None:
    bootstrapped(server)
    pcx, a, b = made_by_hand(server)
    before = snapshot(server, pcx, (a, b))

    done = run_cli("adopt", "--dry-run", endpoint=server.url)
    as_json = run_cli("adopt", "--dry-run", "--json", endpoint=server.url)

    assert done.returncode == 0, done.stderr
    assert "1 active connection(s): 1 unmanaged" in done.stdout
    assert f"{pcx}: unmanaged" in done.stdout
    assert "no adopt entry of the policy names it" in done.stdout
    assert "adoption changes: add " in done.stdout
    assert f"create route 10.70.0.0/16 -> {pcx}" in done.stdout
    report = json.loads(as_json.stdout)
    (entry,) = report["connections"]
    assert (entry["connectionId"], entry["scope"]) == (pcx, "unmanaged")
    assert entry["routeChanges"]
    assert entry["dnsChanges"]
    assert snapshot(server, pcx, (a, b)) == before


def test_adopt_without_dry_run_points_at_the_policy(server: MotoServer) -> None:
    done = run_cli("adopt", endpoint=server.url)

    assert done.returncode == 2
    assert "adopt: section" in done.stderr


def test_explain_says_an_unmanaged_connection_is_left_alone_and_what_adoption_would_do(server: MotoServer) -> None:
    bootstrapped(server)
    pcx, a, b = made_by_hand(server)
    before = snapshot(server, pcx, (a, b))

    done = run_cli("explain", pcx, "--account", HUB, endpoint=server.url)

    assert done.returncode == 0, done.stderr
    assert "unmanaged: active with no record" in done.stdout
    assert "nothing is changed" in done.stdout
    assert f"create route 10.70.0.0/16 -> {pcx}" in done.stdout
    assert snapshot(server, pcx, (a, b)) == before
