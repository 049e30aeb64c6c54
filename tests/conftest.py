"""Shared fixtures: an emulated organization on moto, the hub resources, and handler loading.

Environment variables are set before boto3 or moto are imported, so nothing can reach AWS.
"""

from __future__ import annotations

import functools
import importlib.util
import itertools
import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

HUB_ACCOUNT = "123456789012"  # moto's default account: the hub (MOTO_ACCOUNT_ID would break multi-account)
REGION = "us-east-1"
OTHER_REGION = "eu-west-1"
ROOT = Path(__file__).resolve().parent.parent

os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SECURITY_TOKEN": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_SERVICE_NAME": "peering-autopilot-tests",
        "POWERTOOLS_METRICS_NAMESPACE": "PeeringAutopilot",
        "POWERTOOLS_DEV": "false",
        "MOTO_EC2_LOAD_DEFAULT_AMIS": "false",  # the engine never reads AMIs; loading them is slow
    }
)
os.environ.pop("AWS_PROFILE", None)
os.environ.pop("MOTO_ACCOUNT_ID", None)
os.environ.pop("AWS_ENDPOINT_URL", None)

import boto3  # noqa: E402
import botocore.loaders  # noqa: E402
import botocore.session  # noqa: E402
import pytest  # noqa: E402
from moto import mock_aws  # noqa: E402
from moto.core.config import default_user_config  # noqa: E402

# mock_aws() would otherwise replace boto3's default session on each start, and every test's first
# client would parse botocore's service models again (EC2's alone is megabytes of JSON): two thirds
# of an organization test's set-up. The credentials above are the only ones, so a session kept for
# the whole run resolves the same identity; moto's backends are still reset on each start.
default_user_config["core"]["reset_boto3_session"] = False
# And every botocore session of the run (the engine's, renewed by each test or runner command that
# resets it) shares one loader, which caches what it parsed: models are read once per process, as
# in one Lambda container. The loader only reads botocore's data files; nothing is shared but them.
botocore.session.create_loader = functools.cache(botocore.loaders.create_loader)  # type: ignore[assignment]

from emulation import fidelity  # noqa: E402
from peering.aws import clients, org, policy_store  # noqa: E402

LEDGER_TABLE = "peering-autopilot-ledger"
POLICY_PARAMETER = "/peering-autopilot/policy"
MEMBER_ROLE = "PeeringAutopilotMember"


@dataclass
class FakeContext:
    """The attributes Powertools reads from a Lambda context."""

    function_name: str = "test-function"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = f"arn:aws:lambda:{REGION}:{HUB_ACCOUNT}:function:test-function"
    aws_request_id: str = "00000000-0000-0000-0000-000000000000"
    log_group_name: str = "/aws/lambda/test-function"
    log_stream_name: str = "test"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


def load_function(name: str) -> ModuleType:
    """Import functions/<name>/app.py under a unique module name (every handler is app.py)."""
    module_name = f"function_{name}"
    if module_name in sys.modules:
        return sys.modules[module_name]
    spec = importlib.util.spec_from_file_location(module_name, ROOT / "functions" / name / "app.py")
    assert spec
    assert spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module


_CREDENTIALS: dict[str, dict[str, str]] = {}


def client(service: str, account: str, region: str = REGION) -> Any:
    """A client acting in ``account`` (moto maps an assumed role's keys to its account).

    Clients come from boto3's default session so the service models are parsed once per run.
    """
    if account == HUB_ACCOUNT:
        return boto3.client(service, region_name=region)  # type: ignore[call-overload]
    if account not in _CREDENTIALS:
        creds = boto3.client("sts", region_name=REGION).assume_role(
            RoleArn=f"arn:aws:iam::{account}:role/{MEMBER_ROLE}", RoleSessionName="test-setup"
        )["Credentials"]
        _CREDENTIALS[account] = {
            "aws_access_key_id": creds["AccessKeyId"],
            "aws_secret_access_key": creds["SecretAccessKey"],
            "aws_session_token": creds["SessionToken"],
        }
    return boto3.client(service, region_name=region, **_CREDENTIALS[account])  # type: ignore[call-overload]


def ec2(account: str, region: str = REGION) -> Any:
    return client("ec2", account, region)


@dataclass
class Organization:
    """The emulated organization: the hub, a platform OU and a sandbox OU with one account each."""

    org_id: str
    root_id: str
    platform_ou: str
    sandbox_ou: str
    platform_account: str  # 222222222222
    sandbox_account: str  # 333333333333
    outsider_account: str = "444444444444"  # not in the organization
    topic_queue_url: str = ""
    accounts: dict[str, str] = field(default_factory=dict)

    def notifications(self) -> list[dict[str, str]]:
        """Messages published to the notification topic so far (drained)."""
        sqs = boto3.client("sqs", region_name=REGION)
        out: list[dict[str, str]] = []
        while True:
            batch = sqs.receive_message(QueueUrl=self.topic_queue_url, MaxNumberOfMessages=10).get("Messages", [])
            if not batch:
                return out
            for message in batch:
                body = json.loads(message["Body"])
                out.append({"subject": body.get("Subject", ""), "message": body["Message"]})
                sqs.delete_message(QueueUrl=self.topic_queue_url, ReceiptHandle=message["ReceiptHandle"])


def default_policy(organization: Organization) -> str:
    return f"""
schemaVersion: 1
version: test-1
rules:
  - name: platform-into-opted-in-vpcs
    action: accept
    requester:
      organizationalUnits: [{organization.platform_ou}]
    accepter:
      vpcTag: {{key: "peering-autopilot:accept", value: "true"}}
  - name: hub-internal
    action: accept
    requester:
      accounts: ["{HUB_ACCOUNT}"]
    accepter:
      accounts: ["{HUB_ACCOUNT}"]
  - name: no-sandbox
    action: reject
    requester:
      organizationalUnits: [{organization.sandbox_ou}]
"""


def put_policy(text: str) -> None:
    boto3.client("ssm", region_name=REGION).put_parameter(
        Name=POLICY_PARAMETER, Value=text, Type="String", Overwrite=True
    )
    policy_store.reset()


def _enable_fidelity() -> None:
    """Make moto behave as AWS documents where the engine depends on it (docs/moto-gaps.md)."""
    fidelity.enable()


HUB_ENV = {
    "LEDGER_TABLE": LEDGER_TABLE,
    "POLICY_PARAMETER": POLICY_PARAMETER,
    "MEMBER_ROLE_NAME": MEMBER_ROLE,
    "EXTERNAL_ID": "test-external-id",
    "POLICY_CACHE_SECONDS": "1",
    "EVENT_BUS_NAME": "peering-autopilot",
}


def set_hub_env(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    for key, value in HUB_ENV.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("DRY_RUN", raising=False)
    monkeypatch.delenv("TOPIC_ARN", raising=False)
    return dict(HUB_ENV)


@pytest.fixture
def hub_env(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    return set_hub_env(monkeypatch)


@pytest.fixture(autouse=True)
def fresh_process() -> Iterator[None]:
    """Each test starts as a new function process: no member credentials cached from another
    test's (reset) moto accounts."""
    clients.reset_member_credentials()
    yield
    clients.reset_member_credentials()


@contextmanager
def emulated_organization(monkeypatch: pytest.MonkeyPatch) -> Iterator[Organization]:
    """A mocked AWS with the organization, ledger, topic (+ a queue to read it) and policy
    (the hub's environment must be set: ``set_hub_env``)."""
    # The first two accounts get readable ids; a larger fleet (sweep tests) counts on from there.
    ids = itertools.chain(["222222222222", "333333333333"], (f"{n:012d}" for n in itertools.count(500000000000)))
    monkeypatch.setattr("moto.organizations.utils.make_random_account_id", lambda: next(ids))
    org.clear_cache()
    policy_store.reset()
    _CREDENTIALS.clear()
    with mock_aws():
        _enable_fidelity()
        orgs = boto3.client("organizations", region_name=REGION)
        org_id = orgs.create_organization(FeatureSet="ALL")["Organization"]["Id"]
        root_id = orgs.list_roots()["Roots"][0]["Id"]
        platform = orgs.create_organizational_unit(ParentId=root_id, Name="platform")["OrganizationalUnit"]["Id"]
        sandbox = orgs.create_organizational_unit(ParentId=root_id, Name="sandbox")["OrganizationalUnit"]["Id"]
        accounts = {}
        for name, ou in (("network-a", platform), ("sandbox-b", sandbox)):
            status = orgs.create_account(AccountName=name, Email=f"{name}@example.com")["CreateAccountStatus"]
            account_id = status["AccountId"]
            orgs.move_account(AccountId=account_id, SourceParentId=root_id, DestinationParentId=ou)
            accounts[name] = account_id

        boto3.client("dynamodb", region_name=REGION).create_table(
            TableName=LEDGER_TABLE,
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        topic_arn = boto3.client("sns", region_name=REGION).create_topic(Name="peering-autopilot")["TopicArn"]
        sqs = boto3.client("sqs", region_name=REGION)
        queue_url = sqs.create_queue(QueueName="notifications")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        boto3.client("sns", region_name=REGION).subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)
        monkeypatch.setenv("TOPIC_ARN", topic_arn)

        organization = Organization(
            org_id=org_id,
            root_id=root_id,
            platform_ou=platform,
            sandbox_ou=sandbox,
            platform_account=accounts["network-a"],
            sandbox_account=accounts["sandbox-b"],
            topic_queue_url=queue_url,
            accounts=accounts,
        )
        put_policy(default_policy(organization))
        yield organization
    org.clear_cache()
    policy_store.reset()


@pytest.fixture
def organization(hub_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[Organization]:
    with emulated_organization(monkeypatch) as organization:
        yield organization


@pytest.fixture
def context() -> FakeContext:
    return FakeContext()


def emitted_metrics(output: str) -> dict[str, float]:
    """Sum the CloudWatch EMF metrics that Powertools printed to stdout."""
    totals: dict[str, float] = {}
    for line in output.splitlines():
        if not line.startswith("{") or "_aws" not in line:
            continue
        blob = json.loads(line)
        for directive in blob["_aws"]["CloudWatchMetrics"]:
            for metric in directive["Metrics"]:
                value = blob[metric["Name"]]
                values = value if isinstance(value, list) else [value]
                totals[metric["Name"]] = totals.get(metric["Name"], 0) + sum(values)
    return totals


# Test files whose tests share a session fixture (pytest-xdist runs each worker's session fixtures
# once): the demo, played once for its smoke test and for the map's browser test; the installed wheel.
XDIST_GROUPS = {
    "tests/e2e/test_demo.py": "demo",
    "tests/e2e/test_map_browser.py": "demo",
    # one wheel built and installed (a module fixture, about 20 s), not one per worker
    "tests/e2e/test_installed_cli.py": "installed",
    "tests/e2e/test_sandbox.py": "sandbox",  # one runner up for the file, stopped by its last test
    "tests/e2e/test_smoke.py": "smoke",  # one emulated hub (a module fixture) for the file
}


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """--dist loadgroup, with XDIST_GROUPS sent whole to one worker. (xdist's own xdist_group
    marker never reaches its scheduler under pytest 9: the node id it appends the group to is
    computed now, not stored.)"""
    if config.getoption("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadGroupScheduling  # noqa: PLC0415 - only with xdist, only here

    class FileGroupScheduling(LoadGroupScheduling):  # type: ignore[misc]
        def _split_scope(self, nodeid: str) -> str:
            group = XDIST_GROUPS.get(nodeid.split("::", 1)[0])
            return f"group:{group}" if group else str(super()._split_scope(nodeid))

    return FileGroupScheduling(config, log)
