"""A member's flood of events against the configure function's reserved concurrency.

A member calls ModifyVpcPeeringConnectionOptions 1,000 times on a handful of its connections (each
call is a configure invocation at the hub). The events go through the stack's own rules (the
member stack forwards them to the peering bus) to the configure function, which Lambda invokes
asynchronously within its reserved concurrency (``ConfigureFunctionConcurrency``), as
``runner.lambda_async`` emulates on a simulated clock: every invocation takes INVOCATION_SECONDS
there, the handlers run in this process against moto.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from botocore.client import ClientCreator
from moto.iam.models import get_account_id_from

from peering.aws.clients import AwsClients, shared_session
from peering.aws.ledger import Ledger
from peering.runtime.config import Settings
from runner.bootstrap import bootstrap
from runner.cfn import Stack
from runner.lambda_async import AsyncLambda, Run
from runner.world import ApiRecorder, World
from tests.builders import make_vpc
from tests.conftest import HUB_ACCOUNT, HUB_ENV, MEMBER_ROLE, REGION, Organization, ec2

CONNECTIONS = 5
#: a configure of a converged connection: about ten AWS calls at 100-200 ms (the latency model)
INVOCATION_SECONDS = 2.0


@dataclass
class Flooded:
    world: World
    lambda_async: AsyncLambda
    stack: Stack
    member: str
    connections: dict[str, tuple[str, str, str, str]]  # pcx -> (requester VPC, its block, accepter VPC, block)
    event_ids: list[str]

    def configure_runs(self) -> list[Run]:
        return [r for r in self.lambda_async.runs if r.function == "ConfigureFunction"]

    def dead_letters(self) -> list[Any]:
        sqs = boto3.client("sqs", region_name=REGION)
        url = str(self.stack.ref("ConfigureDeadLetterQueue"))
        return list(sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []))


def most_at_once(runs: list[Run]) -> int:
    """The largest number of runs whose intervals overlap on the simulated clock."""
    edges = sorted([(r.start, 1) for r in runs] + [(r.end, -1) for r in runs])  # an end before a start at a tie
    running = peak = 0
    for _, change in edges:
        running += change
        peak = max(peak, running)
    return peak


def member_session(account: str) -> Any:
    credentials = boto3.client("sts", region_name=REGION).assume_role(
        RoleArn=f"arn:aws:iam::{account}:role/{MEMBER_ROLE}", RoleSessionName="a-person"
    )["Credentials"]
    return boto3.session.Session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
        region_name=REGION,
    )


@pytest.fixture
def client_classes_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each invocation makes its own clients, as in Lambda; building a client's class (a method and
    a docstring per operation: 700 for EC2) is most of an invocation's time on moto. Build each
    service's class once: the calls, their parameters and their answers are the same."""
    original = getattr(ClientCreator, "_create_client_class")  # noqa: B009 - private, patched for speed
    built: dict[str, Any] = {}

    def once(self: ClientCreator, service_name: str, service_model: Any) -> Any:
        if service_name not in built:
            built[service_name] = original(self, service_name, service_model)
        return built[service_name]

    monkeypatch.setattr(ClientCreator, "_create_client_class", once)


@pytest.fixture
def flood(organization: Organization, client_classes_kept: None) -> Iterator[Any]:
    recorder = ApiRecorder(get_account_id_from)
    recorder.attach(shared_session())  # the functions' own calls are CloudTrail events too

    def run(events: int, concurrency: str) -> Flooded:
        overrides = {
            "OrganizationId": organization.org_id,
            "ExternalId": HUB_ENV["EXTERNAL_ID"],
            "ConfigureFunctionConcurrency": concurrency,
        }
        stack = Stack.load(account=HUB_ACCOUNT, region=REGION, overrides=overrides)
        bootstrap(stack, boto3.session.Session(region_name=REGION))
        member = organization.platform_account
        ledger = Ledger(AwsClients(Settings.from_env()), str(stack.ref("LedgerTable")))
        connections = {}
        for n in range(CONNECTIONS):  # active, not configured yet: no routes, no DNS option
            blocks = (f"10.{2 * n}.0.0/16", f"10.{2 * n + 1}.0.0/16")
            vpcs = [make_vpc(member, block) for block in blocks]
            for vpc in vpcs:
                ec2(member).modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})
            pcx = ec2(member).create_vpc_peering_connection(VpcId=vpcs[0], PeerVpcId=vpcs[1])
            pcx_id = pcx["VpcPeeringConnection"]["VpcPeeringConnectionId"]
            ec2(member).accept_vpc_peering_connection(VpcPeeringConnectionId=pcx_id)
            # Accepted after deployment: configure records it as the autopilot's (core/scope.py).
            ledger.record_managed(pcx_id, "managed: accepted after deployment by a person (test)")
            connections[pcx_id] = (vpcs[0], blocks[0], vpcs[1], blocks[1])
        person = member_session(member)
        recorder.attach(person)
        world = World(stack, recorder, sqs=boto3.client("sqs", region_name=REGION), max_deliveries=3 * events)
        lambda_async = world.invoke_asynchronously(duration=lambda _: INVOCATION_SECONDS)
        recorder.drain()
        client = person.client("ec2", region_name=REGION)
        ids = list(connections)
        for n in range(events):  # the member turns DNS resolution off, again and again
            off = {"AllowDnsResolutionFromRemoteVpc": False}
            client.modify_vpc_peering_connection_options(
                VpcPeeringConnectionId=ids[n % len(ids)],
                RequesterPeeringConnectionOptions=off,
                AccepterPeeringConnectionOptions=off,
            )
        world.emit_calls(recorder.drain(), cause="network-a (a person)")
        event_ids = [str(event["id"]) for event, _, _ in world.pending]
        world.run()
        return Flooded(world, lambda_async, stack, member, connections, event_ids)

    yield run
    recorder.detach(shared_session())


@pytest.mark.slow
def test_a_flood_of_1000_configure_events_is_queued_and_converges_within_the_reservation(flood: Any) -> None:
    """1,000 events at once, a reservation of 5: about 15 simulated minutes (8,000 throttles), and
    1,005 invocations (the function's own 5 option changes come back as events too)."""
    flooded = flood(1_000, concurrency="5")

    runs = flooded.configure_runs()
    # Nothing lost: every event of the flood ran exactly once, and succeeded.
    ran = Counter(r.event_id for r in runs if r.event_id in set(flooded.event_ids))
    assert len(flooded.event_ids) == 1_000
    assert set(ran) == set(flooded.event_ids)
    assert set(ran.values()) == {1}
    assert not [r for r in runs if r.failed]
    # At most 5 at once: the rest were throttled and retried by Lambda, not run, not failed.
    assert most_at_once(runs) == 5
    assert flooded.lambda_async.throttles["ConfigureFunction"] > 1_000
    # Nothing dead-lettered: every event ran well within its maximum age (an hour).
    assert flooded.lambda_async.dropped == []
    assert flooded.dead_letters() == []
    assert flooded.lambda_async.now < 20 * 60
    # Every connection converged: its routes on both sides and DNS resolution on, as the policy says.
    member = ec2(flooded.member)
    for pcx, (requester_vpc, requester_block, accepter_vpc, accepter_block) in flooded.connections.items():
        for vpc, peer_block in ((requester_vpc, accepter_block), (accepter_vpc, requester_block)):
            tables = member.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["RouteTables"]
            assert tables
            for table in tables:
                routes = {r.get("DestinationCidrBlock"): r.get("VpcPeeringConnectionId") for r in table["Routes"]}
                assert routes.get(peer_block) == pcx, (pcx, table["RouteTableId"])
        options = member.describe_vpc_peering_connections(VpcPeeringConnectionIds=[pcx])["VpcPeeringConnections"][0]
        assert options["RequesterVpcInfo"]["PeeringOptions"]["AllowDnsResolutionFromRemoteVpc"] is True
        assert options["AccepterVpcInfo"]["PeeringOptions"]["AllowDnsResolutionFromRemoteVpc"] is True


def test_without_a_reservation_a_flood_runs_all_at_once(flood: Any) -> None:
    """ConfigureFunctionConcurrency=0: nothing caps the function; the flood takes as many of the
    Region's executions as it has events (what the reservation prevents)."""
    flooded = flood(100, concurrency="0")

    runs = flooded.configure_runs()
    assert flooded.lambda_async.configs["ConfigureFunction"].reserved is None
    assert most_at_once(runs) >= 100
    assert flooded.lambda_async.throttles["ConfigureFunction"] == 0
