"""bootstrap, invoke and explain as a user runs them, against a moto server (emulation.server).

Each command is ``python -m runner ...`` with the standard AWS environment pointing at the server
(AWS_ENDPOINT_URL), run in this process (run_cli); the assertions read the resulting state back
from the server. One command runs as a real subprocess through the console entry (run_runner):
its exit status, and Powertools set up from the template's environment in a new process.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from emulation.cloudtrail import api_call_event, cloudtrail_event
from emulation.server import MotoServer
from runner.cfn import Stack
from runner.model import find_function
from tests.e2e.conftest import REGION, ROOT, client, run_cli, run_runner

HUB = "123456789012"  # moto's default account: the hub here
LEDGER = "peering-autopilot-LedgerTable"
HUB_INTERNAL = """schemaVersion: 1
version: e2e-1
rules:
  - name: hub-internal
    action: accept
    requester: {accounts: ["123456789012"]}
    accepter: {accounts: ["123456789012"]}
"""


def bootstrapped(server: MotoServer) -> None:
    done = run_cli("bootstrap", endpoint=server.url)
    assert done.returncode == 0, done.stderr


def requested(server: MotoServer, tmp_path: Path) -> tuple[str, str, str, Path]:
    """Two DNS-ready hub VPCs, a request between them, and the CloudTrail event it produced."""
    ec2 = client(server, "ec2")
    vpcs = []
    for cidr in ("10.0.0.0/16", "10.1.0.0/16"):
        vpc = ec2.create_vpc(CidrBlock=cidr)["Vpc"]["VpcId"]
        ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})
        vpcs.append(vpc)
    params = {"VpcId": vpcs[0], "PeerVpcId": vpcs[1]}
    response = ec2.create_vpc_peering_connection(**params)
    event = api_call_event(
        "CreateVpcPeeringConnection",
        params,
        response,
        account=HUB,
        region=REGION,
        operation_model=ec2.meta.service_model.operation_model("CreateVpcPeeringConnection"),
    )
    path = tmp_path / "create.json"
    path.write_text(json.dumps(event))
    return response["VpcPeeringConnection"]["VpcPeeringConnectionId"], vpcs[0], vpcs[1], path


def event_file(tmp_path: Path, name: str, pcx: str) -> Path:
    event = cloudtrail_event(
        name,
        account=HUB,
        region=REGION,
        request_parameters={"vpcPeeringConnectionId": pcx},
        response_elements={"_return": True},
    )
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(event))
    return path


def status(server: MotoServer, pcx: str) -> str:
    found = client(server, "ec2").describe_vpc_peering_connections(VpcPeeringConnectionIds=[pcx])
    return str(found["VpcPeeringConnections"][0]["Status"]["Code"])


def peer_routes(server: MotoServer, vpc: str, pcx: str) -> list[str]:
    tables = client(server, "ec2").describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [vpc]}])
    return sorted(
        r["DestinationCidrBlock"]
        for t in tables["RouteTables"]
        for r in t["Routes"]
        if r.get("VpcPeeringConnectionId") == pcx
    )


def ledger_items(server: MotoServer, pcx: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = client(server, "dynamodb").query(
        TableName=LEDGER, KeyConditionExpression="pk = :pk", ExpressionAttributeValues={":pk": {"S": pcx}}
    )["Items"]
    return items


def snapshot(server: MotoServer, pcx: str, vpcs: tuple[str, str]) -> tuple[Any, ...]:
    """Everything explain could change: status, tags, routes, ledger."""
    ec2 = client(server, "ec2")
    found = ec2.describe_vpc_peering_connections(VpcPeeringConnectionIds=[pcx])["VpcPeeringConnections"][0]
    tags = sorted((t["Key"], t["Value"]) for t in found.get("Tags", []))
    return (found["Status"]["Code"], tags, [peer_routes(server, v, pcx) for v in vpcs], len(ledger_items(server, pcx)))


# ------------------------------------------------------------------------------------------------


def test_explain_of_a_hand_made_connection_never_plans_to_remove_its_hand_made_route(
    server: MotoServer, tmp_path: Path
) -> None:
    """Issue 22: a connection accepted by hand, with a narrower route added by hand (as a Terraform
    module would): explain plans the missing routes, never the removal of the /24, and says why."""
    bootstrapped(server)
    client(server, "ssm").put_parameter(
        Name="/peering-autopilot/policy", Value=HUB_INTERNAL, Type="String", Overwrite=True
    )
    pcx, a, _, _ = requested(server, tmp_path)
    ec2 = client(server, "ec2")
    ec2.accept_vpc_peering_connection(VpcPeeringConnectionId=pcx)
    table = ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [a]}])["RouteTables"][0]["RouteTableId"]
    ec2.create_route(RouteTableId=table, DestinationCidrBlock="10.1.1.0/24", VpcPeeringConnectionId=pcx)

    explained = run_cli("explain", pcx, "--account", HUB, endpoint=server.url)

    assert explained.returncode == 0, explained.stderr
    assert f"create route 10.1.0.0/16 -> {pcx}" in explained.stdout
    assert "delete route 10.1.1.0/24" not in explained.stdout
    assert f"foreign-route: {table} ({HUB}/{REGION}) routes 10.1.1.0/24 to {pcx}" in explained.stdout
    assert peer_routes(server, a, pcx) == ["10.1.1.0/24"]


def test_bootstrap_creates_the_template_resources_once(server: MotoServer) -> None:
    first = run_cli("bootstrap", endpoint=server.url)
    again = run_cli("bootstrap", endpoint=server.url)

    assert first.returncode == 0, first.stderr
    assert first.stdout.count("[created]") == 12
    assert again.returncode == 0, again.stderr
    assert again.stdout.count("[exists]") == 12
    table = client(server, "dynamodb").describe_table(TableName=LEDGER)["Table"]
    assert [(k["AttributeName"], k["KeyType"]) for k in table["KeySchema"]] == [("pk", "HASH"), ("sk", "RANGE")]
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    ttl = client(server, "dynamodb").describe_time_to_live(TableName=LEDGER)["TimeToLiveDescription"]
    assert ttl == {"TimeToLiveStatus": "ENABLED", "AttributeName": "expiresAt"}
    sqs = client(server, "sqs")
    sweep = sqs.get_queue_url(QueueName="peering-autopilot-SweepQueue")["QueueUrl"]
    attributes = sqs.get_queue_attributes(QueueUrl=sweep, AttributeNames=["All"])["Attributes"]
    assert attributes["VisibilityTimeout"] == "3600"
    assert json.loads(attributes["RedrivePolicy"]) == {
        "deadLetterTargetArn": f"arn:aws:sqs:{REGION}:{HUB}:peering-autopilot-SweepDeadLetterQueue",
        "maxReceiveCount": 3,
    }
    policy = client(server, "ssm").get_parameter(Name="/peering-autopilot/policy")["Parameter"]["Value"]
    assert json.loads(policy) == {"schemaVersion": 1, "version": "default-hold-all", "rules": []}
    assert client(server, "events").describe_event_bus(Name="peering-autopilot")["Name"] == "peering-autopilot"
    topics = {t["TopicArn"] for t in client(server, "sns").list_topics()["Topics"]}
    assert f"arn:aws:sns:{REGION}:{HUB}:peering-autopilot-NotificationTopic" in topics


def test_bootstrap_keeps_a_policy_already_there(server: MotoServer) -> None:
    client(server, "ssm").put_parameter(Name="/peering-autopilot/policy", Value=HUB_INTERNAL, Type="String")
    bootstrapped(server)
    assert client(server, "ssm").get_parameter(Name="/peering-autopilot/policy")["Parameter"]["Value"] == HUB_INTERNAL


def test_lifecycle_by_hand_explain_changes_nothing_invoke_does(server: MotoServer, tmp_path: Path) -> None:
    bootstrapped(server)
    client(server, "ssm").put_parameter(
        Name="/peering-autopilot/policy", Value=HUB_INTERNAL, Type="String", Overwrite=True
    )
    pcx, a, b, create = requested(server, tmp_path)

    # pending: the decision and the acceptance plan, nothing applied
    before = snapshot(server, pcx, (a, b))
    explained = run_cli("explain", pcx, "--account", HUB, "--json", endpoint=server.url)
    assert explained.returncode == 0, explained.stderr
    answer = explained.json()
    assert answer["status"] == "pending-acceptance"
    assert answer["decision"].startswith("accepted (policy), rule hub-internal")
    assert f"accept {pcx} in {HUB}/{REGION}" in answer["plan"]
    assert snapshot(server, pcx, (a, b)) == before

    # the accept function, by its folder name
    accepted = run_cli("invoke", "accept", str(create), endpoint=server.url)
    assert accepted.returncode == 0, accepted.stderr
    assert json.loads(accepted.stdout)["outcome"] == "accepted"
    assert status(server, pcx) == "active"
    assert '"Namespace":"PeeringAutopilot"' in accepted.stderr  # the service: test_invoke_exit_status...

    # active: the configure plan, nothing applied
    before = snapshot(server, pcx, (a, b))
    explained = run_cli("explain", pcx, "--account", HUB, endpoint=server.url)
    assert explained.returncode == 0, explained.stderr
    assert "configure plan (nothing applied):" in explained.stdout
    assert f"create route 10.1.0.0/16 -> {pcx}" in explained.stdout
    assert "ledger: accepted by policy (rule hub-internal)" in explained.stdout
    assert snapshot(server, pcx, (a, b)) == before

    # the configure function, by its logical id, on the Accept call's event
    configured = run_cli(
        "invoke", "ConfigureFunction", str(event_file(tmp_path, "AcceptVpcPeeringConnection", pcx)), endpoint=server.url
    )
    assert configured.returncode == 0, configured.stderr
    assert peer_routes(server, a, pcx) == ["10.1.0.0/16"]
    assert peer_routes(server, b, pcx) == ["10.0.0.0/16"]

    # dead: the cleanup plan, nothing applied
    client(server, "ec2").delete_vpc_peering_connection(VpcPeeringConnectionId=pcx)
    before = snapshot(server, pcx, (a, b))
    explained = run_cli("explain", pcx, "--account", HUB, endpoint=server.url)
    assert explained.returncode == 0, explained.stderr
    assert "cleanup plan (nothing applied):" in explained.stdout
    assert f"delete route 10.1.0.0/16 -> {pcx}" in explained.stdout
    assert "close the ledger record as deleted" in explained.stdout
    assert snapshot(server, pcx, (a, b)) == before

    cleaned = run_cli(
        "invoke", "cleanup", str(event_file(tmp_path, "DeleteVpcPeeringConnection", pcx)), endpoint=server.url
    )
    assert cleaned.returncode == 0, cleaned.stderr
    assert peer_routes(server, a, pcx) == peer_routes(server, b, pcx) == []


def test_invoke_takes_settings_from_env_and_parameters(server: MotoServer, tmp_path: Path) -> None:
    bootstrapped(server)
    client(server, "ssm").put_parameter(
        Name="/peering-autopilot/policy", Value=HUB_INTERNAL, Type="String", Overwrite=True
    )
    pcx, _, _, create = requested(server, tmp_path)

    by_env = run_cli("invoke", "accept", str(create), "--env", "DRY_RUN=true", endpoint=server.url)
    by_param = run_cli("invoke", "accept", str(create), "--param", "DryRun=true", endpoint=server.url)

    for done in (by_env, by_param):
        assert done.returncode == 0, done.stderr
        result = json.loads(done.stdout)
        assert result["dryRun"] is True
        assert {a["status"] for a in result["actions"]} >= {"dry-run"}
    assert status(server, pcx) == "pending-acceptance"


def test_invoke_exit_status_follows_the_handler(server: MotoServer, tmp_path: Path) -> None:
    bootstrapped(server)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"source": "aws.ec2", "detail-type": "AWS API Call via CloudTrail", "detail": {}}))
    # The console entry in a new process: the handler's answer is the process's exit status, and
    # Powertools was set up with the template's environment (the metrics' service dimension).
    refused = run_runner("invoke", "accept", str(bad), endpoint=server.url)
    assert refused.returncode == 1
    assert json.loads(refused.stdout)["error"] == "invalid_event"
    assert '"service":"peering-autopilot"' in refused.stderr
    assert '"Namespace":"PeeringAutopilot"' in refused.stderr

    def record(message_id: str, body: str) -> dict[str, Any]:
        return {
            "messageId": message_id,
            "receiptHandle": f"r-{message_id}",
            "body": body,
            "attributes": {},
            "messageAttributes": {},
            "md5OfBody": "",
            "eventSource": "aws:sqs",
            "eventSourceARN": f"arn:aws:sqs:{REGION}:{HUB}:peering-autopilot-SweepQueue",
            "awsRegion": REGION,
        }

    target = json.dumps({"account": HUB, "region": REGION, "sweepId": "e2e", "dryRun": None})
    sqs_event = {"Records": [record("m-0", target), record("m-1", "not a sweep target")]}
    worker_event = tmp_path / "sqs.json"
    worker_event.write_text(json.dumps(sqs_event))
    answered = run_cli("invoke", "WorkerFunction", str(worker_event), endpoint=server.url)
    # The bad record is refused (InvalidEvents), not retried: no retry could make it a target.
    assert answered.returncode == 0
    assert json.loads(answered.stdout) == {"batchItemFailures": []}
    assert '"InvalidEvents":[1.0]' in answered.stderr


def test_the_environment_is_the_templates() -> None:
    stack = Stack.load(account=HUB, region=REGION, overrides={"Regions": "us-east-1,eu-west-1"})
    sweep = find_function(stack, "sweep")
    assert sweep.environment["LEDGER_TABLE"] == LEDGER
    assert sweep.environment["TOPIC_ARN"] == f"arn:aws:sns:{REGION}:{HUB}:peering-autopilot-NotificationTopic"
    assert sweep.environment["POLICY_PARAMETER"] == "/peering-autopilot/policy"
    assert sweep.environment["SWEEP_REGIONS"] == "us-east-1,eu-west-1"
    assert sweep.environment["SWEEP_ACCOUNTS"] == HUB  # no organization: this account only
    assert sweep.environment["SWEEP_QUEUE_URL"].endswith(f"/{HUB}/peering-autopilot-SweepQueue")
    assert (sweep.timeout, sweep.memory) == (300, 256)  # 10,000 targets to queue (BENCHMARKS.md)
    worker = find_function(stack, "WorkerFunction")
    assert (worker.timeout, worker.memory) == (600, 512)


def test_the_runner_does_not_set_up_powertools_before_a_functions_environment() -> None:
    """Logger and Metrics read POWERTOOLS_* when peering.runtime.observability is first imported."""
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, runner.cli; print(sorted(m for m in sys.modules if m.startswith('peering')))",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    assert "peering.runtime.observability" not in done.stdout
