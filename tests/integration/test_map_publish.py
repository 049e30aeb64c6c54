"""The deployed hub's peering map on moto (PublishMap=true: MAP_BUCKET is set).

Each worker writes its account+Region's fragment after converging it; the map function, on its own
schedule, reads the fragments of the sweep's targets and writes the page. The sweep function reads
no fragment: a map that hangs, is killed or cannot be written never delays or stops a sweep. A
member's fragment over the cap is summarized, on the page too. Without MAP_BUCKET nothing is
written and nothing is imported.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest
from botocore.client import BaseClient
from botocore.exceptions import ClientError

from peering.aws import org
from peering.lifecycle.engine import Engine
from peering.map import publish
from peering.map.model import MapFragment
from peering.map.publish import MAP_KEY, account_info, fragment_key, observe_map
from peering.runtime.config import Settings
from peering.sweep.messages import SweepTarget
from runner.map_cli import MAX_LINK_SECONDS, LinkLifetimeError, presigned_map_url
from tests.builders import ACCEPT_TAG, make_vpc, request_peering, sqs_event
from tests.conftest import HUB_ACCOUNT, REGION, ROOT, FakeContext, Organization, emitted_metrics, load_function
from tests.conftest import ec2 as ec2_client
from tests.faults import Crash, faults
from tests.integration.test_configure import accepted, dns_ready_vpc, peer_routes
from tests.integration.test_sweep import scheduled_event

sweep = load_function("sweep")
worker = load_function("worker")
accept = load_function("accept")
map_function = load_function("map")

BUCKET = "peering-autopilot-map"


@pytest.fixture
def bucket(organization: Organization, monkeypatch: pytest.MonkeyPatch) -> str:
    boto3.client("s3", region_name=REGION).create_bucket(Bucket=BUCKET)
    monkeypatch.setenv("MAP_BUCKET", BUCKET)
    url = boto3.client("sqs", region_name=REGION).create_queue(QueueName="sweep")["QueueUrl"]
    monkeypatch.setenv("SWEEP_QUEUE_URL", url)
    monkeypatch.setenv("SWEEP_REGIONS", REGION)
    monkeypatch.delenv("SWEEP_ACCOUNTS", raising=False)
    return BUCKET


def stored(key: str) -> bytes | None:
    try:
        body: bytes = boto3.client("s3", region_name=REGION).get_object(Bucket=BUCKET, Key=key)["Body"].read()
    except boto3.client("s3", region_name=REGION).exceptions.NoSuchKey:
        return None
    return body


def work(account: str, context: FakeContext) -> dict[str, Any]:
    answer: dict[str, Any] = worker.lambda_handler(sqs_event(SweepTarget(account, REGION, "s1").to_message()), context)
    assert answer == {"batchItemFailures": []}
    return answer


def fleet(organization: Organization, context: FakeContext) -> tuple[str, str]:
    """A cross-account connection whose routes were never added, and a request held for a person."""
    member_vpc = dns_ready_vpc(organization.platform_account, "10.20.0.0/16")
    hub_vpc = dns_ready_vpc(HUB_ACCOUNT, "10.1.0.0/16", tags=ACCEPT_TAG)
    active = accepted(organization, context, (organization.platform_account, member_vpc), (HUB_ACCOUNT, hub_vpc))
    outsider = make_vpc(organization.outsider_account, "172.16.0.0/16")
    held, event = request_peering(organization.outsider_account, outsider, HUB_ACCOUNT, hub_vpc)
    accept.lambda_handler(event, context)
    return active, held


def queued_targets() -> list[tuple[str, str]]:
    """(account, Region) of every message on the sweep queue."""
    sqs = boto3.client("sqs", region_name=REGION)
    url = sqs.get_queue_url(QueueName="sweep")["QueueUrl"]
    bodies = []
    while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        bodies += [json.loads(m["Body"]) for m in messages]
        for m in messages:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    return sorted((b["account"], b["region"]) for b in bodies)


def test_workers_write_fragments_and_the_map_function_draws_the_page(
    organization: Organization, context: FakeContext, bucket: str
) -> None:
    active, held = fleet(organization, context)

    work(HUB_ACCOUNT, context)
    work(organization.platform_account, context)
    sweep.lambda_handler(scheduled_event(), context)
    assert stored(MAP_KEY) is None  # the sweep draws nothing
    drawn = map_function.lambda_handler(scheduled_event(), context)

    # Each worker's fragment shows the state it left: the routes it just added, on its own side.
    hub = MapFragment.from_json(json.loads(stored(fragment_key(HUB_ACCOUNT, REGION)) or b"{}"))
    (hub_view,) = [e for e in hub.edges if e.connection_id == active]
    assert hub_view.accepter.observed
    assert hub_view.accepter.routes_complete
    assert not hub_view.requester.observed  # the member's worker reads that side
    assert {e.connection_id: e.state for e in hub.edges} == {active: "active", held: "held"}
    assert peer_routes(organization.platform_account, hub_view.requester.vpc_id, active)
    member = MapFragment.from_json(json.loads(stored(fragment_key(organization.platform_account, REGION)) or b"{}"))
    assert [(a.name, a.ou) for a in member.accounts] == [("network-a", "platform")]
    # The page joins both, and says which targets have no fragment yet.
    page = (stored(MAP_KEY) or b"").decode()
    assert f'data-id="{active}" data-state="active" data-health="healthy"' in page
    assert f'data-id="{held}" data-state="held" data-health="waiting"' in page
    assert f"not observed yet: {organization.sandbox_account}/{REGION}" in page
    assert (drawn["ok"], drawn["fragments"], drawn["missing"], drawn["unread"]) == (True, 2, 1, 0)


def test_the_map_is_what_the_sweep_leaves_and_a_dry_run_shows_the_drift(
    organization: Organization, context: FakeContext, bucket: str
) -> None:
    active, _ = fleet(organization, context)
    dry = {"Records": sqs_event(SweepTarget(HUB_ACCOUNT, REGION, "s1", dry_run=True).to_message())["Records"]}

    worker.lambda_handler(dry, context)

    hub = MapFragment.from_json(json.loads(stored(fragment_key(HUB_ACCOUNT, REGION)) or b"{}"))
    (edge,) = [e for e in hub.edges if e.connection_id == active]
    assert edge.health == "drift"
    assert {f.kind for f in edge.findings} == {"missing-route", "dns-off"}


def test_a_map_that_cannot_be_written_never_fails_the_sweep(
    organization: Organization, context: FakeContext, bucket: str, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    fleet(organization, context)
    monkeypatch.setenv("MAP_BUCKET", "no-such-bucket")
    capsys.readouterr()

    work(HUB_ACCOUNT, context)
    answer = sweep.lambda_handler(scheduled_event(), context)
    with pytest.raises(ClientError):  # the map function's own failure: its retries, its dead letters
        map_function.lambda_handler(scheduled_event(), context)

    assert answer["targets"] == 3
    assert len(queued_targets()) == 3
    assert emitted_metrics(capsys.readouterr().out)["MapPublishFailures"] == 2  # the worker's, the map's
    assert stored(MAP_KEY) is None


def test_the_sweep_queues_every_target_while_reading_fragments_hangs(
    organization: Organization, context: FakeContext, bucket: str
) -> None:
    # Given fragments written, and every GetObject of the map bucket hanging (until the test ends)
    fleet(organization, context)
    work(HUB_ACCOUNT, context)
    queued_targets()  # the hub's own hand-backs, if any, out of the way
    released = threading.Event()
    with faults() as injected:
        injected.hold("s3", "GetObject", released)
        # When the schedule fires (the sweep function, with the Lambda timeout its own thread gets)
        answer: dict[str, Any] = {}
        run = threading.Thread(target=lambda: answer.update(sweep.lambda_handler(scheduled_event(), context)))
        run.start()
        run.join(timeout=20)
        finished = not run.is_alive()
        released.set()
        run.join()

    # Then the sweep finished and queued every target, having read no fragment
    assert finished
    assert answer["targets"] == 3
    assert queued_targets() == sorted(
        [(HUB_ACCOUNT, REGION), (organization.platform_account, REGION), (organization.sandbox_account, REGION)]
    )


def test_the_sweep_queues_every_target_when_the_map_is_killed(
    organization: Organization, context: FakeContext, bucket: str
) -> None:
    fleet(organization, context)
    work(HUB_ACCOUNT, context)
    queued_targets()
    with faults() as injected:
        # The map step dies (a timeout or an out-of-memory kill: no exception handler runs).
        injected.crash_before("s3", "GetObject", times=None)
        injected.crash_before("s3", "PutObject", times=None)
        answer = sweep.lambda_handler(scheduled_event(), context)
        with pytest.raises(Crash):
            map_function.lambda_handler(scheduled_event(), context)

    assert answer["targets"] == 3
    assert len(queued_targets()) == 3


@dataclass
class ShortContext(FakeContext):
    """An invocation with ``seconds`` left when it starts, on the clock."""

    seconds: float = 6.0
    ends: float = 0.0

    def __post_init__(self) -> None:
        self.ends = time.monotonic() + self.seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.ends - time.monotonic()) * 1000))


def peer_vpc(connection_id: str, account: str) -> str:
    """The requester's VPC of a connection, as the requester's account sees it."""
    (conn,) = ec2_client(account).describe_vpc_peering_connections(VpcPeeringConnectionIds=[connection_id])[
        "VpcPeeringConnections"
    ]
    return str(conn["RequesterVpcInfo"]["VpcId"])


def test_the_map_function_writes_what_it_read_by_its_deadline(
    organization: Organization, context: FakeContext, bucket: str
) -> None:
    # Given both members' fragments, and the platform account's GetObject hanging
    active, _ = fleet(organization, context)
    work(HUB_ACCOUNT, context)
    work(organization.platform_account, context)
    released = threading.Event()
    platform_key = fragment_key(organization.platform_account, REGION)
    with faults() as injected:
        injected.hold("s3", "GetObject", released, when=lambda request: platform_key in request["url_path"])
        # When the map function runs with 6 s left
        began = time.monotonic()
        drawn = map_function.lambda_handler(scheduled_event(), ShortContext(seconds=6))
        took = time.monotonic() - began
        released.set()

    # Then it stopped reading in time and wrote the page with the hub's fragment, naming the other
    assert took < 6
    assert (drawn["fragments"], drawn["unread"]) == (1, 1)
    page = (stored(MAP_KEY) or b"").decode()
    assert f'data-id="{active}"' in page
    assert f"{organization.platform_account}/{REGION} (not read in time)" in page


def test_an_inflated_fragment_is_capped_and_summarized_on_the_page(
    organization: Organization, context: FakeContext, bucket: str, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    # Given a member whose account+Region holds more than a fragment may (a cap of 3,000 bytes,
    # and 12 route tables each missing its route to the peer)
    active, _ = fleet(organization, context)
    member_vpc = peer_vpc(active, organization.platform_account)
    for _ in range(12):
        ec2_client(organization.platform_account).create_route_table(VpcId=member_vpc)
    monkeypatch.setattr(publish, "MAX_FRAGMENT_BYTES", 3_000, raising=False)
    capsys.readouterr()

    # When its worker runs (a dry run: the drift stays)
    dry = SweepTarget(organization.platform_account, REGION, "s1", dry_run=True).to_message()
    assert worker.lambda_handler(sqs_event(dry), context) == {"batchItemFailures": []}

    # Then its fragment is a summary under the cap: counts and the worst findings, nothing drawn
    body = stored(fragment_key(organization.platform_account, REGION)) or b""
    assert len(body) <= 3_000
    summarized = MapFragment.from_json(json.loads(body))
    assert (summarized.vpcs, summarized.edges) == ((), ())
    assert summarized.summary is not None
    assert summarized.summary.reason == "fragment"
    assert summarized.summary.size > 3_000
    assert summarized.summary.connections == {"drift": 1}
    assert summarized.summary.findings["missing-route"] >= 12
    assert [w.kind for w in summarized.summary.worst][:1] == ["missing-route"]
    assert emitted_metrics(capsys.readouterr().out)["MapFragmentsSummarized"] == 1
    # And when the map is drawn, the page says so, with the member's worst findings
    work(HUB_ACCOUNT, context)
    map_function.lambda_handler(scheduled_event(), context)
    page = (stored(MAP_KEY) or b"").decode()
    assert "1 account+Regions summarized, not drawn" in page
    assert f'<tr data-account="{organization.platform_account}" data-region="{REGION}">' in page
    assert 'data-kind="missing-route"' in page
    assert f'data-id="{active}"' in page  # the hub's side is still drawn


def test_a_fragment_over_the_cap_is_never_loaded(organization: Organization, context: FakeContext, bucket: str) -> None:
    # Given a fragment of 600 KB in the bucket (written before the cap, or by someone else)
    fleet(organization, context)
    work(HUB_ACCOUNT, context)
    huge = json.dumps({"account": organization.platform_account, "region": REGION, "padding": "x" * 600_000})
    boto3.client("s3", region_name=REGION).put_object(
        Bucket=BUCKET, Key=fragment_key(organization.platform_account, REGION), Body=huge.encode()
    )

    drawn = map_function.lambda_handler(scheduled_event(), context)

    assert (drawn["fragments"], drawn["unread"]) == (1, 1)
    page = (stored(MAP_KEY) or b"").decode()
    assert f"{organization.platform_account}/{REGION} (fragment of 600," in page


def test_without_publish_map_nothing_is_written(
    organization: Organization, context: FakeContext, bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    fleet(organization, context)
    monkeypatch.delenv("MAP_BUCKET")

    work(HUB_ACCOUNT, context)
    sweep.lambda_handler(scheduled_event(), context)

    assert boto3.client("s3", region_name=REGION).list_objects_v2(Bucket=BUCKET).get("KeyCount") == 0


def test_the_local_map_observes_every_target(organization: Organization, context: FakeContext) -> None:
    active, held = fleet(organization, context)

    peering_map = observe_map(
        Engine(Settings.from_env()), [(HUB_ACCOUNT, REGION), (organization.platform_account, REGION)]
    )

    states = {e.connection_id: (e.state, e.health) for e in peering_map.edges}
    assert states == {active: ("active", "drift"), held: ("held", "waiting")}
    (edge,) = [e for e in peering_map.edges if e.connection_id == active]
    assert {(f.kind, f.side) for f in edge.findings} >= {("missing-route", "requester"), ("missing-route", "accepter")}
    assert peering_map.accounts[organization.platform_account].ou == "platform"


def test_account_names_are_read_once_per_account_and_each_ou_once(
    organization: Organization, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A third account in the platform OU: the OU's name is read once for both.
    orgs = boto3.client("organizations", region_name=REGION)
    created = orgs.create_account(AccountName="platform-c", Email="platform-c@example.com")["CreateAccountStatus"]
    third = created["AccountId"]
    orgs.move_account(
        AccountId=third, SourceParentId=organization.root_id, DestinationParentId=organization.platform_ou
    )
    calls: Counter[str] = Counter()
    make_api_call = BaseClient._make_api_call

    def counted(client: BaseClient, operation: str, params: dict[str, Any]) -> Any:
        if client.meta.service_model.service_name == "organizations":
            calls[operation] += 1
        return make_api_call(client, operation, params)

    monkeypatch.setattr(BaseClient, "_make_api_call", counted)
    org.clear_cache()

    # Each worker run has its own engine; one process serves many runs (many Regions of an account).
    labels = [
        account_info(Engine(Settings.from_env()), account)
        for account in [organization.platform_account] * 3 + [third, organization.sandbox_account] * 2
    ]

    assert {(a.account, a.name, a.ou) for a in labels} == {
        (organization.platform_account, "network-a", "platform"),
        (third, "platform-c", "platform"),
        (organization.sandbox_account, "sandbox-b", "sandbox"),
    }
    assert calls == {"DescribeOrganization": 1, "DescribeAccount": 3, "ListParents": 3, "DescribeOrganizationalUnit": 2}


def test_no_handler_imports_the_map_on_a_cold_start() -> None:
    code = (
        f"import sys; sys.path[:0] = [{str(ROOT / 'functions' / '{name}')!r}, {str(ROOT / 'layers' / 'peering')!r}]; "
        "import app; print(sorted(m for m in sys.modules if m.startswith('peering.map')))"
    )
    for name in ("sweep", "worker"):
        done = subprocess.run(  # noqa: S603 - our own interpreter
            [sys.executable, "-c", code.replace("{name}", name)], capture_output=True, text=True, check=True
        )
        assert done.stdout.strip() == "[]", name


# --- the link to the deployed page (python -m runner map --from-stack) -------------------------------

MAP_STACK = {
    "Resources": {"MapBucket": {"Type": "AWS::S3::Bucket"}},
    "Outputs": {"MapBucketName": {"Value": {"Ref": "MapBucket"}}},
}


@pytest.mark.parametrize("region", ["us-east-1", "eu-west-1"])
def test_the_link_is_signed_with_sigv4_in_every_region(organization: Organization, region: str) -> None:
    # Given a hub stack with PublishMap=true in the Region (botocore signs S3 links there with
    # SigV2 by default, which buckets created since June 2020 refuse)
    session = boto3.session.Session(region_name=region)
    session.client("cloudformation").create_stack(StackName="hub", TemplateBody=json.dumps(MAP_STACK))

    # When the link is asked for
    url = presigned_map_url(session, "hub", 600)

    # Then it is a SigV4 link of the page, valid as long as asked
    query = parse_qs(urlsplit(url).query)
    assert urlsplit(url).path.endswith(f"/{MAP_KEY}")
    assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]
    assert query["X-Amz-Expires"] == ["600"]
    assert f"/{region}/s3/aws4_request" in query["X-Amz-Credential"][0]
    assert "Signature" not in query
    assert "AWSAccessKeyId" not in query


@pytest.mark.parametrize("expires", [0, -1, MAX_LINK_SECONDS + 1, 10_000_000])
def test_a_link_outside_seven_days_is_refused(organization: Organization, expires: int) -> None:
    session = boto3.session.Session(region_name=REGION)
    session.client("cloudformation").create_stack(StackName="hub", TemplateBody=json.dumps(MAP_STACK))

    with pytest.raises(LinkLifetimeError, match=r"1 to 604,800 seconds \(7 days"):
        presigned_map_url(session, "hub", expires)


def test_a_seven_day_link_is_made(organization: Organization) -> None:
    session = boto3.session.Session(region_name=REGION)
    session.client("cloudformation").create_stack(StackName="hub", TemplateBody=json.dumps(MAP_STACK))

    url = presigned_map_url(session, "hub", MAX_LINK_SECONDS)

    assert parse_qs(urlsplit(url).query)["X-Amz-Expires"] == ["604800"]
