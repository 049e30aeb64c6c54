"""emulation.server: moto with the fidelity patches in a subprocess on loopback, started and stopped."""

from __future__ import annotations

import os
import socket

import pytest

from emulation import fidelity
from emulation.fidelity.patching import NOT_FOUND_CODE
from emulation.server import EmulationError, MotoServer, main
from tests.e2e.conftest import client


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_starts_on_a_free_loopback_port_and_stops_cleanly() -> None:
    server = MotoServer()
    with server:
        pid = server.pid
        assert pid is not None
        assert server.url.startswith("http://127.0.0.1:")
        port = int(server.url.rsplit(":", 1)[1])
        assert server.running
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            pass
        assert client(server, "sts").get_caller_identity()["Account"] == "123456789012"
    assert not server.running
    assert not alive(pid) or os.waitpid(pid, os.WNOHANG) != (0, 0)


def test_every_fidelity_patch_is_enabled_inside_the_server(server: MotoServer) -> None:
    health = server.health()
    assert health["ok"] is True
    assert set(health["gaps"]) == {g.name for g in fidelity.GAPS}


def test_the_patches_act_on_what_the_server_serves(server: MotoServer) -> None:
    """describe_unknown_ids: AWS answers NotFound for an unknown id (raw moto returns nothing)."""
    ec2 = client(server, "ec2")
    with pytest.raises(ec2.exceptions.ClientError) as error:
        ec2.describe_vpc_peering_connections(VpcPeeringConnectionIds=["pcx-0123456789abcdef0"])
    assert error.value.response["Error"]["Code"] == NOT_FOUND_CODE


def test_account_of_an_assumed_role_key(server: MotoServer) -> None:
    creds = client(server, "sts").assume_role(
        RoleArn="arn:aws:iam::222222222222:role/Anything", RoleSessionName="e2e-test"
    )["Credentials"]
    assert server.account_of(creds["AccessKeyId"]) == "222222222222"
    assert server.account_of("testing") == "123456789012"


def test_state_helpers_run_inside_the_server(server: MotoServer) -> None:
    ec2 = client(server, "ec2")
    a = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    b = ec2.create_vpc(CidrBlock="10.1.0.0/16")["Vpc"]["VpcId"]
    pcx = ec2.create_vpc_peering_connection(VpcId=a, PeerVpcId=b)["VpcPeeringConnection"]["VpcPeeringConnectionId"]

    def status() -> str:
        found = ec2.describe_vpc_peering_connections(VpcPeeringConnectionIds=[pcx])["VpcPeeringConnections"]
        return str(found[0]["Status"]["Code"])

    server.age(pcx, hours=7 * 24 + 1)
    assert status() == "expired"
    server.set_status(pcx, "failed")
    assert status() == "failed"
    server.forget_connection(pcx)
    assert ec2.describe_vpc_peering_connections()["VpcPeeringConnections"] == []


def test_unknown_control_requests_are_refused(server: MotoServer) -> None:
    with pytest.raises(EmulationError, match="unknown helper"):
        server.fidelity("enable")
    with pytest.raises(EmulationError, match="ValueError"):
        server.set_status("pcx-0123456789abcdef0", "sleeping")


def test_reset_forgets_everything(server: MotoServer) -> None:
    ec2 = client(server, "ec2")
    vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    server.reset()
    assert vpc not in {v["VpcId"] for v in ec2.describe_vpcs()["Vpcs"]}


def test_readable_account_ids_for_created_accounts() -> None:
    with MotoServer(account_ids=["222222222222", "333333333333"]) as server:
        orgs = client(server, "organizations")
        orgs.create_organization(FeatureSet="ALL")
        ids = [
            orgs.create_account(AccountName=n, Email=f"{n}@example.com")["CreateAccountStatus"]["AccountId"]
            for n in "ab"
        ]
    assert ids == ["222222222222", "333333333333"]


def test_binds_loopback_only() -> None:
    with pytest.raises(SystemExit):
        main(["--host", "0.0.0.0"])  # noqa: S104 - proving it is refused
