"""The scheduled sweep on moto: fan-out over a fleet, and one worker converging every state.

States moto cannot reach (provisioning, expired, failed) and the passing of time are set by
emulation.lifecycle the way AWS documents them (docs/moto-gaps.md).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from emulation import lifecycle
from peering.aws import clients
from peering.aws.clients import AwsClients
from peering.lifecycle.engine import Engine
from peering.runtime.batch import BatchProcessingError
from peering.runtime.config import Settings
from peering.sweep.messages import SweepTarget
from peering.sweep.target import converge_target
from tests.builders import (
    ACCEPT_TAG,
    connection,
    ledger_items,
    ledger_state,
    make_vpc,
    request_peering,
    scheduled_event,
    sqs_event,
    status,
)
from tests.conftest import (
    HUB_ACCOUNT,
    REGION,
    FakeContext,
    Organization,
    ec2,
    emitted_metrics,
    load_function,
)
from tests.faults import Faults
from tests.integration.test_configure import accept_event, accepted, dns_ready_vpc, main_table, peer_routes
from tests.paths import counted

sweep = load_function("sweep")
worker = load_function("worker")
configure = load_function("configure")
accept = load_function("accept")


@pytest.fixture
def queue_url(organization: Organization, monkeypatch: pytest.MonkeyPatch) -> str:
    url: str = boto3.client("sqs", region_name=REGION).create_queue(QueueName="sweep")["QueueUrl"]
    monkeypatch.setenv("SWEEP_QUEUE_URL", url)
    monkeypatch.setenv("SWEEP_REGIONS", "us-east-1,eu-west-1")
    monkeypatch.delenv("SWEEP_ACCOUNTS", raising=False)
    return url


def drain(url: str) -> list[dict[str, Any]]:
    sqs = boto3.client("sqs", region_name=REGION)
    bodies: list[dict[str, Any]] = []
    while batch := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        for message in batch:
            bodies.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return bodies


def run_target(account: str = HUB_ACCOUNT, region: str = REGION, dry_run: bool | None = None) -> dict[str, Any]:
    engine = Engine(Settings.from_env())
    result = converge_target(engine, SweepTarget(account, region, "test-sweep", dry_run))
    return {**result.as_dict(), "calls": engine.aws.calls}


# --- fan-out ----------------------------------------------------------------------------------


def test_schedule_fans_out_one_message_per_account_with_its_regions(
    organization: Organization, context: FakeContext, queue_url: str
) -> None:
    orgs = boto3.client("organizations", region_name=REGION)
    for n in range(23):  # with the hub and the two OU accounts: 26 accounts x 2 Regions = 52 targets
        orgs.create_account(AccountName=f"fleet-{n}", Email=f"fleet-{n}@example.com")

    result = sweep.lambda_handler(scheduled_event(), context)

    assert result["targets"] == 52
    messages = drain(queue_url)
    # One message per account, naming its Regions: one AssumeRole serves them all.
    assert result["messages"] == len(messages) == len({m["account"] for m in messages}) == 26
    targets = {(m["account"], r) for m in messages for r in m["regions"]}
    assert len(targets) == 52
    assert (HUB_ACCOUNT, "eu-west-1") in targets
    assert (organization.platform_account, REGION) in targets
    assert {m["sweepId"] for m in messages} == {result["sweepId"]}


def test_static_account_list_replaces_the_organization(
    organization: Organization, context: FakeContext, queue_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SWEEP_ACCOUNTS", f"{HUB_ACCOUNT}")
    monkeypatch.setenv("SWEEP_REGIONS", REGION)

    result = sweep.lambda_handler(scheduled_event(), context)

    assert result["targets"] == 1
    assert drain(queue_url) == [
        {"account": HUB_ACCOUNT, "region": REGION, "sweepId": result["sweepId"], "dryRun": None}
    ]


def test_operator_sweep_of_one_target_in_dry_run(
    organization: Organization, context: FakeContext, queue_url: str
) -> None:
    event = {
        **scheduled_event(),
        "source": "peering-autopilot.operator",
        "detail-type": "Sweep Peering Connections",
        "detail": {"accountId": organization.platform_account, "region": "eu-west-1", "dryRun": True},
    }

    result = sweep.lambda_handler(event, context)

    assert result["targets"] == 1
    [message] = drain(queue_url)
    assert message["account"] == organization.platform_account
    assert message["dryRun"] is True


def test_operator_sweep_from_another_account_is_refused(
    organization: Organization, context: FakeContext, queue_url: str
) -> None:
    event = {
        **scheduled_event(),
        "account": organization.platform_account,
        "source": "peering-autopilot.operator",
        "detail-type": "Sweep Peering Connections",
        "detail": {"accountId": organization.platform_account, "region": REGION},
    }

    assert sweep.lambda_handler(event, context)["error"] == "unauthorized_operator"
    assert drain(queue_url) == []


def test_operator_sweep_put_on_a_bus_in_another_region_is_refused(
    organization: Organization, context: FakeContext, queue_url: str
) -> None:
    event = {
        **scheduled_event(),
        "region": "eu-west-1",
        "source": "peering-autopilot.operator",
        "detail-type": "Sweep Peering Connections",
        "detail": {"accountId": organization.platform_account, "region": REGION, "dryRun": False},
    }

    assert sweep.lambda_handler(event, context)["error"] == "unauthorized_operator"
    assert drain(queue_url) == []


@pytest.mark.parametrize("where", [("outsider", REGION), ("platform", "ap-northeast-3")])
def test_operator_sweep_of_what_the_sweep_does_not_cover_is_refused(
    organization: Organization,
    context: FakeContext,
    queue_url: str,
    capsys: pytest.CaptureFixture[str],
    where: tuple[str, str],
) -> None:
    account = organization.outsider_account if where[0] == "outsider" else organization.platform_account
    event = {
        **scheduled_event(),
        "source": "peering-autopilot.operator",
        "detail-type": "Sweep Peering Connections",
        "detail": {"accountId": account, "region": where[1]},
    }

    result = sweep.lambda_handler(event, context)

    assert result["error"] == "not_a_sweep_target"
    assert drain(queue_url) == []
    assert emitted_metrics(capsys.readouterr().out)["SweepMessagesRefused"] == 1


# --- the worker -------------------------------------------------------------------------------


def test_worker_reports_only_the_failed_records(organization: Organization, context: FakeContext) -> None:
    good = SweepTarget(HUB_ACCOUNT, REGION, "s1").to_message()
    member = SweepTarget(organization.platform_account, REGION, "s1").to_message()
    faults = Faults()
    # The member role lacks a permission (the first target's listing passes): a real failure.
    faults.deny("ec2", "DescribeVpcPeeringConnections", times=1, skip=1)
    try:
        # A target that fails is retried; a body that is no target is dropped (no retry can help).
        result = worker.lambda_handler(sqs_event(good, member, "not json", good), context)
    finally:
        faults.clear()

    assert result == {"batchItemFailures": [{"itemIdentifier": "m-1"}]}


def test_pending_request_never_seen_goes_through_the_approval_path(organization: Organization) -> None:
    a = make_vpc(HUB_ACCOUNT, "10.0.0.0/16")
    b = make_vpc(HUB_ACCOUNT, "10.1.0.0/16")
    pcx, _ = request_peering(HUB_ACCOUNT, a, HUB_ACCOUNT, b)  # its event was lost

    result = run_target()

    assert result["done"] == {"request-accepted": 4}  # intent, tag, accept, commit
    assert status(HUB_ACCOUNT, pcx) == "active"


def test_held_request_is_left_alone_and_not_notified_again(organization: Organization, context: FakeContext) -> None:
    a = make_vpc(organization.outsider_account, "172.16.0.0/16")
    b = make_vpc(HUB_ACCOUNT, "10.1.0.0/16")
    pcx, event = request_peering(organization.outsider_account, a, HUB_ACCOUNT, b)
    accept.lambda_handler(event, context)
    organization.notifications()

    result = run_target()

    assert result["drift"] == 0
    assert status(HUB_ACCOUNT, pcx) == "pending-acceptance"
    assert organization.notifications() == []


def test_active_connection_missing_routes_is_configured(organization: Organization, context: FakeContext) -> None:
    a = dns_ready_vpc(organization.platform_account, "10.20.0.0/16")
    b = dns_ready_vpc(HUB_ACCOUNT, "10.1.0.0/16", tags=ACCEPT_TAG)
    pcx = accepted(organization, context, (organization.platform_account, a), (HUB_ACCOUNT, b))  # configure lost

    hub = run_target(HUB_ACCOUNT)
    member = run_target(organization.platform_account)

    assert hub["done"]["configured"] == 2  # route + DNS option, the hub's side only
    assert member["done"]["configured"] == 2  # the member's sweep does the member's side
    assert peer_routes(HUB_ACCOUNT, b, pcx)
    assert peer_routes(organization.platform_account, a, pcx)
    assert run_target(HUB_ACCOUNT)["drift"] == 0


def test_sweep_leaves_a_blackhole_route_to_a_deleted_nat_gateway_alone(
    organization: Organization, context: FakeContext
) -> None:
    """Given the hub VPC's route for the peer's block to a NAT gateway being replaced (deleted: a
    blackhole), when the sweep converges the connection, the route keeps its NAT gateway and the
    conflict is notified once."""
    a = dns_ready_vpc(organization.platform_account, "10.20.0.0/16")
    b = dns_ready_vpc(HUB_ACCOUNT, "10.1.0.0/16", tags=ACCEPT_TAG)
    client = ec2(HUB_ACCOUNT)
    subnet = client.create_subnet(VpcId=b, CidrBlock="10.1.1.0/24")["Subnet"]["SubnetId"]
    allocation = client.allocate_address(Domain="vpc")["AllocationId"]
    nat = client.create_nat_gateway(SubnetId=subnet, AllocationId=allocation)["NatGateway"]["NatGatewayId"]
    table = client.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [b]}])["RouteTables"][0]
    client.create_route(RouteTableId=table["RouteTableId"], DestinationCidrBlock="10.20.0.0/16", NatGatewayId=nat)
    client.delete_nat_gateway(NatGatewayId=nat)
    accepted(organization, context, (organization.platform_account, a), (HUB_ACCOUNT, b))  # configure lost
    organization.notifications()

    first = run_target(HUB_ACCOUNT)
    again = run_target(HUB_ACCOUNT)

    routes = client.describe_route_tables(RouteTableIds=[table["RouteTableId"]])["RouteTables"][0]["Routes"]
    kept = next(r for r in routes if r.get("DestinationCidrBlock") == "10.20.0.0/16")
    assert (kept.get("NatGatewayId"), kept["State"]) == (nat, "blackhole")
    assert "replace" not in json.dumps(first["plans"])
    notes = organization.notifications()
    assert len(notes) == 1
    assert nat in notes[0]["message"]
    assert again["done"].get("configured", 0) == 0


def test_no_drift_costs_a_constant_number_of_describe_calls(organization: Organization, context: FakeContext) -> None:
    def converged_fleet(count: int) -> None:
        for n in range(count):
            a = dns_ready_vpc(HUB_ACCOUNT, f"10.{2 * n}.0.0/16")
            b = dns_ready_vpc(HUB_ACCOUNT, f"10.{2 * n + 1}.0.0/16")
            pcx = accepted(organization, context, (HUB_ACCOUNT, a), (HUB_ACCOUNT, b))
            configure.lambda_handler(accept_event(HUB_ACCOUNT, pcx), context)

    converged_fleet(1)
    small = run_target()
    converged_fleet(9)
    large = run_target()

    def ec2_calls(result: dict[str, Any]) -> dict[str, int]:
        return {op: n for (_, _, op), n in result["calls"].items() if op.startswith("ec2:")}

    assert small["drift"] == large["drift"] == 0
    assert large["found"] == {"active": 10}
    assert (
        ec2_calls(small)
        == ec2_calls(large)
        == {
            "ec2:DescribeVpcPeeringConnections": 1,
            "ec2:DescribeVpcs": 1,
            "ec2:DescribeRouteTables": 1,
        }
    )


def test_deleted_connection_leftovers_are_removed_and_the_record_closed(
    organization: Organization, context: FakeContext
) -> None:
    a = dns_ready_vpc(HUB_ACCOUNT, "10.0.0.0/16")
    b = dns_ready_vpc(HUB_ACCOUNT, "10.1.0.0/16")
    pcx = accepted(organization, context, (HUB_ACCOUNT, a), (HUB_ACCOUNT, b))
    configure.lambda_handler(accept_event(HUB_ACCOUNT, pcx), context)
    ec2(HUB_ACCOUNT).delete_vpc_peering_connection(VpcPeeringConnectionId=pcx)  # its event was lost

    result = run_target()

    assert result["done"]["cleaned"] == 3  # two routes (once each), the record closed with its notification queued
    assert peer_routes(HUB_ACCOUNT, a, pcx) == set()
    assert peer_routes(HUB_ACCOUNT, b, pcx) == set()
    assert "closedAt" in ledger_state(pcx)
    assert run_target()["drift"] == 0


@pytest.mark.parametrize(("code", "why"), [("expired", "within 7 days"), ("failed", "refused")])
def test_expired_and_failed_requests_are_closed_and_the_requester_told(
    organization: Organization, context: FakeContext, code: str, why: str
) -> None:
    a = make_vpc(organization.outsider_account, "172.16.0.0/16")
    b = make_vpc(HUB_ACCOUNT, "10.1.0.0/16")
    pcx, event = request_peering(organization.outsider_account, a, HUB_ACCOUNT, b)
    accept.lambda_handler(event, context)  # held
    organization.notifications()
    lifecycle.set_status(pcx, code)

    result = run_target()

    assert result["found"] == {code: 1}
    state = ledger_state(pcx)
    assert state["status"]["S"] == code
    assert "closedAt" in state
    [note] = organization.notifications()
    assert code in note["subject"]
    assert why in note["message"]


def test_provisioning_connection_is_left_for_the_next_sweep(organization: Organization, context: FakeContext) -> None:
    a = dns_ready_vpc(HUB_ACCOUNT, "10.0.0.0/16")
    b = dns_ready_vpc(HUB_ACCOUNT, "10.1.0.0/16")
    pcx = accepted(organization, context, (HUB_ACCOUNT, a), (HUB_ACCOUNT, b))
    lifecycle.set_status(pcx, "provisioning")

    result = run_target()

    assert result["found"] == {"provisioning": 1}
    assert result["drift"] == 0
    assert peer_routes(HUB_ACCOUNT, a, pcx) == set()


def test_blackhole_route_to_a_vanished_connection_is_removed(organization: Organization, context: FakeContext) -> None:
    a = dns_ready_vpc(HUB_ACCOUNT, "10.0.0.0/16")
    b = dns_ready_vpc(HUB_ACCOUNT, "10.1.0.0/16")
    pcx = accepted(organization, context, (HUB_ACCOUNT, a), (HUB_ACCOUNT, b))
    configure.lambda_handler(accept_event(HUB_ACCOUNT, pcx), context)
    ec2(HUB_ACCOUNT).delete_vpc_peering_connection(VpcPeeringConnectionId=pcx)
    lifecycle.forget_connection(pcx)  # past its visibility window: Describe no longer shows it

    result = run_target()

    assert result["done"] == {"blackhole-removed": 2}
    tables = ec2(HUB_ACCOUNT).describe_route_tables(
        Filters=[{"Name": "route.vpc-peering-connection-id", "Values": [pcx]}]
    )["RouteTables"]
    assert tables == []


def test_our_old_unanswered_request_is_withdrawn(organization: Organization, context: FakeContext) -> None:
    a = make_vpc(HUB_ACCOUNT, "10.0.0.0/16")
    b = make_vpc(organization.outsider_account, "172.16.0.0/16")
    pcx = ec2(HUB_ACCOUNT).create_vpc_peering_connection(
        VpcId=a, PeerVpcId=b, PeerOwnerId=organization.outsider_account
    )["VpcPeeringConnection"]["VpcPeeringConnectionId"]
    lifecycle.age(pcx, hours=73)  # the default limit is 72 h

    result = run_target()

    assert result["done"] == {"request-withdrawn": 1}
    assert status(HUB_ACCOUNT, pcx) == "deleted"
    assert "withdrawn" in organization.notifications()[0]["subject"]


def test_recent_request_is_not_withdrawn(organization: Organization) -> None:
    a = make_vpc(HUB_ACCOUNT, "10.0.0.0/16")
    b = make_vpc(organization.outsider_account, "172.16.0.0/16")
    pcx = ec2(HUB_ACCOUNT).create_vpc_peering_connection(
        VpcId=a, PeerVpcId=b, PeerOwnerId=organization.outsider_account
    )["VpcPeeringConnection"]["VpcPeeringConnectionId"]
    lifecycle.age(pcx, hours=71)

    assert run_target()["drift"] == 0
    assert status(HUB_ACCOUNT, pcx) == "pending-acceptance"


def test_dry_run_sweep_reports_but_changes_nothing(
    organization: Organization, context: FakeContext, capsys: Any
) -> None:
    a = dns_ready_vpc(HUB_ACCOUNT, "10.0.0.0/16")
    b = dns_ready_vpc(HUB_ACCOUNT, "10.1.0.0/16")
    pcx = accepted(organization, context, (HUB_ACCOUNT, a), (HUB_ACCOUNT, b))
    capsys.readouterr()

    result = run_target(dry_run=True)

    assert result["dryRun"] is True
    assert result["drift"] == 3  # two routes and one DNS call, planned only
    assert any("create route" in plan for plan in result["plans"])
    assert peer_routes(HUB_ACCOUNT, a, pcx) == set()
    assert peer_routes(HUB_ACCOUNT, b, pcx) == set()


def test_worker_publishes_a_summary(
    organization: Organization, context: FakeContext, capsys: Any, caplog: pytest.LogCaptureFixture
) -> None:
    a = dns_ready_vpc(HUB_ACCOUNT, "10.0.0.0/16")
    b = dns_ready_vpc(HUB_ACCOUNT, "10.1.0.0/16")
    accepted(organization, context, (HUB_ACCOUNT, a), (HUB_ACCOUNT, b))
    capsys.readouterr()

    worker.lambda_handler(sqs_event(SweepTarget(HUB_ACCOUNT, REGION, "s2").to_message()), context)

    out = capsys.readouterr().out
    metrics = emitted_metrics(out)
    assert metrics["SweepConnections"] == 1
    assert metrics["SweepDrift"] == 3
    summary = [r for r in caplog.records if r.getMessage() == "sweep summary"]
    assert len(summary) == 1
    assert summary[0].__dict__["drift"] == 3


def test_clients_are_made_per_invocation(organization: Organization) -> None:
    first, second = AwsClients(Settings.from_env()), AwsClients(Settings.from_env())
    assert first.client("ec2", HUB_ACCOUNT, REGION) is not second.client("ec2", HUB_ACCOUNT, REGION)


@pytest.mark.parametrize("failing", ["CreateRoute", "ModifyVpcPeeringConnectionOptions"])
def test_one_failing_connection_does_not_stop_the_others(
    organization: Organization, context: FakeContext, failing: str
) -> None:
    """The sweep applies every connection's changes together (their route records batched); an
    AWS error on one connection's route or DNS change leaves the others converged."""
    a = dns_ready_vpc(HUB_ACCOUNT, "10.0.0.0/16")
    b = dns_ready_vpc(HUB_ACCOUNT, "10.1.0.0/16")
    c = dns_ready_vpc(HUB_ACCOUNT, "10.2.0.0/16")
    first = accepted(organization, context, (HUB_ACCOUNT, a), (HUB_ACCOUNT, b))
    second = accepted(organization, context, (HUB_ACCOUNT, a), (HUB_ACCOUNT, c))
    faults = Faults()
    faults.deny("ec2", failing, when=lambda request: first in request)

    try:
        with pytest.raises(BatchProcessingError):  # the whole (one-record) batch fails: the queue retries it
            worker.lambda_handler(sqs_event(SweepTarget(HUB_ACCOUNT, REGION, "s3").to_message()), context)
    finally:
        faults.clear()

    # The other connection was converged anyway, both sides.
    assert peer_routes(HUB_ACCOUNT, a, second) == {(main_table(HUB_ACCOUNT, a), "10.2.0.0/16")}
    assert peer_routes(HUB_ACCOUNT, c, second) == {(main_table(HUB_ACCOUNT, c), "10.0.0.0/16")}
    if failing == "CreateRoute":
        assert peer_routes(HUB_ACCOUNT, b, first) | peer_routes(HUB_ACCOUNT, a, first) == set()
        # Its records were withdrawn with the route not made: the ledger claims no route of it.
        assert not [i for i in ledger_items(first) if i["sk"]["S"].startswith("ROUTE#")]
    # The retry converges it.
    worker.lambda_handler(sqs_event(SweepTarget(HUB_ACCOUNT, REGION, "s4").to_message()), context)
    assert peer_routes(HUB_ACCOUNT, a, first) == {(main_table(HUB_ACCOUNT, a), "10.1.0.0/16")}
    assert peer_routes(HUB_ACCOUNT, b, first) == {(main_table(HUB_ACCOUNT, b), "10.0.0.0/16")}
    assert connection(HUB_ACCOUNT, first)["AccepterVpcInfo"]["PeeringOptions"]["AllowDnsResolutionFromRemoteVpc"]


def test_member_credentials_are_kept_per_process_until_shortly_before_they_expire(
    organization: Organization, monkeypatch: pytest.MonkeyPatch
) -> None:
    member = organization.platform_account

    def clients_made() -> int:
        """AssumeRole calls made by a new invocation's clients reaching the member account."""
        with counted() as calls:
            AwsClients(Settings.from_env()).client("ec2", member, REGION).describe_vpcs()
        return calls["sts:AssumeRole"]

    assert clients_made() == 1  # a cold process assumes the role
    assert clients_made() == 0  # the next invocations reuse its credentials
    now = datetime.now(UTC)
    monkeypatch.setattr(clients, "clock", lambda: now + timedelta(minutes=44))  # an hour's credentials
    assert clients_made() == 0
    monkeypatch.setattr(
        clients, "clock", lambda: now + timedelta(minutes=46)
    )  # less than an invocation's 15 minutes left
    assert clients_made() == 1
    monkeypatch.setattr(clients, "clock", lambda: datetime.now(UTC))
    assert clients_made() == 0  # the new credentials are kept in turn
    clients.reset_member_credentials()
    assert clients_made() == 1
