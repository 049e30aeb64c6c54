"""``python -m runner up``, driven as a user drives it: the real AWS CLI and the runner's own commands,
each a subprocess pointed at the sandbox's endpoint with an account's keys. No code here calls a
function: whatever the autopilot does, it does because the sandbox turned the CLI's calls into
CloudTrail events and routed them through the template's rules.

The AWS CLI comes from its own virtualenv (``make .venv-awscli/.installed``; requirements/awscli.txt).
Without it the CLI's tests are skipped, unless REQUIRE_AWSCLI or CI is set (.ci/run sets it): then
they fail.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from runner.sandbox import Sandbox
from tests.e2e.conftest import ROOT

AWS_CLI = ROOT / ".venv-awscli" / "bin" / "aws"
ACCEPT_TAG = [{"Key": "peering-autopilot:accept", "Value": "true"}]
WAIT = 60.0  # seconds for the autopilot to react (it takes about one)

pytestmark = pytest.mark.slow


def aws_cli() -> Path:
    if AWS_CLI.is_file():
        return AWS_CLI
    reason = f"no AWS CLI at {AWS_CLI.relative_to(ROOT)}: make .venv-awscli/.installed creates it"
    if os.environ.get("REQUIRE_AWSCLI") or os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(sweep_every=8) as running:
        yield running


def run(sandbox: Sandbox, account: str, *command: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "POWERTOOLS_"))}
    env.update(sandbox.environment(account))
    return subprocess.run(  # noqa: S603 - our own tools, no shell
        list(command), cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False
    )


def cli(sandbox: Sandbox, account: str, *args: str) -> Any:
    done = run(sandbox, account, str(aws_cli()), *args, "--output", "json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout) if done.stdout.strip() else None


def runner(sandbox: Sandbox, *args: str) -> subprocess.CompletedProcess[str]:
    return run(sandbox, "hub", sys.executable, "-m", "runner", *args)


def until(what: str, probe: Callable[[], Any], sandbox: Sandbox) -> Any:
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(0.3)
    pytest.fail(f"not within {WAIT:.0f} s: {what}\n--- runner up said:\n{sandbox.output(60)}")


def vpc(sandbox: Sandbox, account: str, cidr: str, tags: list[dict[str, str]] | None = None) -> str:
    ec2 = sandbox.client("ec2", account)
    specs = [{"ResourceType": "vpc", "Tags": tags}] if tags else []
    vpc_id = str(ec2.create_vpc(CidrBlock=cidr, TagSpecifications=specs)["Vpc"]["VpcId"])
    ec2.modify_vpc_attribute(VpcId=vpc_id, EnableDnsHostnames={"Value": True})
    return vpc_id


def connection(sandbox: Sandbox, account: str, pcx: str) -> dict[str, Any]:
    found = sandbox.client("ec2", account).describe_vpc_peering_connections(VpcPeeringConnectionIds=[pcx])
    item: dict[str, Any] = found["VpcPeeringConnections"][0]
    return item


def routes_to(sandbox: Sandbox, account: str, vpc_id: str, pcx: str) -> list[str]:
    tables = sandbox.client("ec2", account).describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])
    return sorted(
        str(r.get("DestinationCidrBlock"))
        for t in tables["RouteTables"]
        for r in t["Routes"]
        if r.get("VpcPeeringConnectionId") == pcx
    )


def ledger(sandbox: Sandbox, pcx: str) -> dict[str, Any]:
    item: dict[str, Any] = (
        sandbox.client("dynamodb")
        .get_item(
            TableName=sandbox.outputs["LedgerTableName"],
            Key={"pk": {"S": pcx}, "sk": {"S": "STATE"}},
            ConsistentRead=True,
        )
        .get("Item", {})
    )
    return item


def dns(sandbox: Sandbox, account: str, pcx: str, side: str) -> bool:
    options = connection(sandbox, account, pcx)[f"{side}VpcInfo"].get("PeeringOptions") or {}
    return bool(options.get("AllowDnsResolutionFromRemoteVpc"))


def test_a_peering_made_and_deleted_with_the_aws_cli_is_accepted_configured_and_cleaned_up(sandbox: Sandbox) -> None:
    # Given a VPC in network-a (platform OU) and one in analytics-b opted in by its tag
    network_a, analytics_b = sandbox.account_id("network-a"), sandbox.account_id("analytics-b")
    requester = vpc(sandbox, network_a, "10.10.0.0/16")
    accepter = vpc(sandbox, analytics_b, "10.20.0.0/16", ACCEPT_TAG)

    # When network-a asks to peer with the AWS CLI
    created = cli(
        sandbox,
        network_a,
        "ec2",
        "create-vpc-peering-connection",
        "--vpc-id",
        requester,
        "--peer-vpc-id",
        accepter,
        "--peer-owner-id",
        analytics_b,
    )
    pcx = created["VpcPeeringConnection"]["VpcPeeringConnectionId"]

    # Then the policy accepts it, and routes and DNS are set on both sides
    until("active", lambda: connection(sandbox, network_a, pcx)["Status"]["Code"] == "active", sandbox)
    until("routes on both sides", lambda: routes_to(sandbox, analytics_b, accepter, pcx), sandbox)
    assert routes_to(sandbox, network_a, requester, pcx) == ["10.20.0.0/16"]
    assert routes_to(sandbox, analytics_b, accepter, pcx) == ["10.10.0.0/16"]
    until("DNS on both sides", lambda: dns(sandbox, network_a, pcx, "Requester"), sandbox)
    assert dns(sandbox, analytics_b, pcx, "Accepter")
    assert ledger(sandbox, pcx)["decision"]["S"] == "accepted"
    log = sandbox.log_path.read_text(encoding="utf-8")
    assert f"CreateVpcPeeringConnection [CloudTrail, aws.ec2] in {network_a}/us-east-1  <- a call by aws-cli/" in log

    # When network-a deletes it with the AWS CLI, through the profiles runner up wrote
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "POWERTOOLS_"))}
    env.update(AWS_CONFIG_FILE=str(sandbox.profiles_path), AWS_SHARED_CREDENTIALS_FILE=os.devnull)
    command = ["--profile", "network-a", "ec2", "delete-vpc-peering-connection", "--vpc-peering-connection-id", pcx]
    deleted = subprocess.run(  # noqa: S603 - the pinned AWS CLI, no shell
        [str(aws_cli()), *command],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert deleted.returncode == 0, deleted.stderr

    # Then the routes are gone on both sides and the ledger is closed
    until("routes removed", lambda: not routes_to(sandbox, network_a, requester, pcx), sandbox)
    until("ledger closed", lambda: "closedAt" in ledger(sandbox, pcx), sandbox)
    assert routes_to(sandbox, analytics_b, accepter, pcx) == []
    assert ledger(sandbox, pcx)["status"]["S"] == "deleted"
    shown = runner(sandbox, "tail", "--once")
    assert shown.returncode == 0, shown.stderr
    line = next(line for line in shown.stdout.splitlines() if pcx in line)
    assert "status deleted, decision accepted by policy" in line
    assert ", closed " in line


def test_a_failed_call_reaches_the_hub_as_a_cloudtrail_event_with_its_error_code(sandbox: Sandbox) -> None:
    network_a = sandbox.account_id("network-a")
    done = run(
        sandbox,
        network_a,
        str(aws_cli()),
        "ec2",
        "delete-vpc-peering-connection",
        "--vpc-peering-connection-id",
        "pcx-0123456789abcdef0",
    )
    assert done.returncode != 0
    expected = (
        "[-] DeleteVpcPeeringConnection (failed: Client.InvalidVpcPeeringConnectionID.NotFound)  <- a call by aws-cli/"
    )
    until("the failed call's event", lambda: expected in sandbox.log_path.read_text(encoding="utf-8"), sandbox)


def test_an_operator_approves_a_held_request_and_pending_no_longer_lists_it(sandbox: Sandbox) -> None:
    # Given a request from analytics-b (workloads OU), which the policy holds for a person
    network_a, analytics_b = sandbox.account_id("network-a"), sandbox.account_id("analytics-b")
    requester = vpc(sandbox, analytics_b, "10.30.0.0/16")
    accepter = vpc(sandbox, network_a, "10.40.0.0/16")
    pcx = str(
        sandbox.client("ec2", analytics_b).create_vpc_peering_connection(
            VpcId=requester, PeerVpcId=accepter, PeerOwnerId=network_a
        )["VpcPeeringConnection"]["VpcPeeringConnectionId"]
    )
    until("held", lambda: ledger(sandbox, pcx).get("decision", {}).get("S") == "held", sandbox)
    listed = runner(sandbox, "pending")
    assert listed.returncode == 0, listed.stderr
    assert pcx in listed.stdout

    # When the operator approves it, while tail follows the ledger
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "POWERTOOLS_"))}
    following = subprocess.Popen(
        [sys.executable, "-m", "runner", "tail", "--interval", "0.3"],
        cwd=ROOT,
        env={**env, **sandbox.environment("hub")},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    approved = runner(sandbox, "approve", pcx, "--comment", "reviewed by the network team")
    assert approved.returncode == 0, approved.stderr

    # Then the operator function accepts it, and it is no longer pending
    until("accepted", lambda: connection(sandbox, network_a, pcx)["Status"]["Code"] == "active", sandbox)
    until("routes", lambda: routes_to(sandbox, analytics_b, requester, pcx) == ["10.40.0.0/16"], sandbox)
    assert ledger(sandbox, pcx)["decision"]["S"] == "accepted"
    after = runner(sandbox, "pending")
    assert after.returncode == 0, after.stderr
    assert pcx not in after.stdout
    time.sleep(1)  # tail's next look at the ledger
    following.send_signal(signal.SIGINT)
    out, errors = following.communicate(timeout=30)
    assert following.returncode == 0, errors
    assert f"ledger {pcx}, status pending-acceptance, decision held by policy" in out, out + errors
    assert "decision accepted by operator:sandbox-admin" in out.split(f"ledger {pcx}")[-1], out + errors
    queues = sandbox.client("sqs").list_queues().get("QueueUrls", [])
    assert not [q for q in queues if "runner-tail-" in q]  # it removed its own queue


def test_a_taken_port_is_one_line_saying_what_to_do(sandbox: Sandbox) -> None:
    port = sandbox.url.rsplit(":", 1)[1]
    done = runner(sandbox, "up", "--port", port)
    assert done.returncode == 2
    assert f"error: port {port} is taken (another runner up?): --port 0 picks a free one" in done.stdout
    assert "Traceback" not in done.stdout + done.stderr


def test_the_sweep_runs_on_the_sandbox_clock(sandbox: Sandbox) -> None:
    until(
        "a scheduled sweep",
        lambda: "rule SweepFunctionScheduled -> SweepFunction" in sandbox.log_path.read_text(encoding="utf-8"),
        sandbox,
    )


def test_interrupting_up_stops_it_and_its_emulator(sandbox: Sandbox) -> None:
    """The file's last test: it stops the module's sandbox (one xdist group: XDIST_GROUPS)."""
    server_pid = sandbox.server_pid
    assert sandbox.stop() == 0
    assert "interrupted: the sandbox and its moto server are stopped" in sandbox.output()
    with pytest.raises(ProcessLookupError):
        os.kill(server_pid, 0)
