"""The command line as an operator installs it (``pipx install .``): a wheel, in a fresh virtualenv
that holds only its declared runtime dependencies, run from outside the repository.

The wheel is built with pip (the build backend of pyproject.toml) from a copy of what it packages:
the engine (layers/peering/peering) and the runner. Its
dependencies come from a wheelhouse of the distributions already installed in the development
virtualenv (the pinned versions of requirements/dev.txt), repacked as they are installed: no
network, and the resolution is pip's own (``--no-index``), so a dependency the package uses but
does not declare is missing in the new virtualenv and its command fails here.
"""

from __future__ import annotations

import importlib.metadata
import json
import re
import shutil
import subprocess
import sys
import time
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from emulation.server import MotoServer
from runner.errors import ENVIRONMENT
from tests.e2e.conftest import ROOT, Run, client, runner_env

#: what the development environment has and the installed command line must not
DEVELOPMENT_ONLY = ("moto", "aws-sam-translator", "cfn-lint", "pytest", "mypy", "hypothesis", "ruff")
#: setuptools builds wheels by itself from this version on (pyproject.toml's build-system)
BUILDS_WHEELS = (70, 1)


def _requirements(distribution: importlib.metadata.Distribution) -> list[Requirement]:
    found = [Requirement(text) for text in distribution.requires or []]
    return [r for r in found if r.marker is None or r.marker.evaluate({"extra": ""})]


def _closure(requirements: list[Requirement]) -> list[importlib.metadata.Distribution]:
    """The installed distributions that satisfy the requirements, and theirs, and so on."""
    seen: dict[str, importlib.metadata.Distribution] = {}
    pending = list(requirements)
    while pending:
        requirement = pending.pop()
        name = re.sub(r"[-_.]+", "-", requirement.name).lower()
        if name in seen:
            continue
        distribution = importlib.metadata.distribution(requirement.name)
        seen[name] = distribution
        pending.extend(_requirements(distribution))
    return list(seen.values())


def _repack(distribution: importlib.metadata.Distribution, wheelhouse: Path) -> Path:
    """The installed distribution as the wheel it was installed from (its files, under its tag)."""
    dist_info = Path(str(distribution._path))  # type: ignore[attr-defined]  # PathDistribution's folder
    site = dist_info.parent
    wheel_file = (dist_info / "WHEEL").read_text().splitlines()
    tags = [line.split(":", 1)[1].strip().split("-") for line in wheel_file if line.startswith("Tag:")]
    tag = "-".join(".".join(dict.fromkeys(t[part] for t in tags if len(t) == 3)) for part in range(3))
    name = re.sub(r"[-_.]+", "_", distribution.metadata["Name"])
    wheel = wheelhouse / f"{name}-{distribution.version}-{tag}.whl"
    files = [
        f
        for f in distribution.files or []
        if f.parts[0] != ".."
        and "__pycache__" not in f.parts
        and f.name not in ("RECORD", "INSTALLER", "REQUESTED", "direct_url.json")
    ]
    record = dist_info.name + "/RECORD"
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_STORED) as archive:
        for file in files:
            archive.write(site / file, str(file))
        archive.writestr(record, "".join(f"{f},,\n" for f in [*map(str, files), record]))
    return wheel


def _pip(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "pip", "--disable-pip-version-check", "--quiet", *args], check=True)  # noqa: S603


@dataclass(frozen=True)
class Installed:
    bin: Path
    distributions: set[str]
    seconds: float

    def run(self, *args: str, cwd: Path, endpoint: str | None = None) -> Run:
        env = runner_env(endpoint)
        env.pop("PYTHONPATH", None)
        done = subprocess.run(  # noqa: S603 - the command we just installed
            [str(self.bin / "peering-autopilot"), *args],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        return Run(done.returncode, done.stdout, done.stderr)


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    started = time.monotonic()
    work = tmp_path_factory.mktemp("installed")
    dist, wheelhouse, venv = work / "dist", work / "wheelhouse", work / "venv"
    wheelhouse.mkdir()
    try:
        setuptools = tuple(int(p) for p in importlib.metadata.version("setuptools").split(".")[:2])
    except importlib.metadata.PackageNotFoundError:  # a virtualenv made without requirements/dev.txt
        setuptools = (0, 0)
    # The pinned backend of the development environment, offline; an older virtualenv gets it from
    # the package index in pip's isolated build.
    offline = ["--no-build-isolation"] if setuptools >= BUILDS_WHEELS else []
    source = work / "source"  # what the build reads, copied: the build writes its own folders beside it
    for part in ("pyproject.toml", "README.md", "runner", "layers/peering/peering"):
        if (ROOT / part).is_dir():
            shutil.copytree(ROOT / part, source / part, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            (source / part).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / part, source / part)
    _pip("wheel", "--no-deps", *offline, "--wheel-dir", str(dist), str(source))
    wheel = next(dist.glob("peering_autopilot-*.whl"))
    with zipfile.ZipFile(wheel) as archive:
        metadata = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        declared = [
            Requirement(line.split(":", 1)[1].strip())
            for line in archive.read(metadata).decode().splitlines()
            if line.startswith("Requires-Dist:")
        ]
    for distribution in _closure(declared):
        _repack(distribution, wheelhouse)
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)  # noqa: S603
    _pip("--python", str(venv / "bin" / "python"), "install", "--no-index", "--find-links", str(wheelhouse), str(wheel))
    listed = subprocess.run(  # noqa: S603
        [sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "list", "--format=freeze"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    names = {re.sub(r"[-_.]+", "-", line.split("==")[0]).lower() for line in listed.splitlines() if "==" in line}
    return Installed(venv / "bin", names, time.monotonic() - started)


@pytest.mark.slow
def test_the_installed_command_line_has_only_its_runtime_dependencies(installed: Installed) -> None:
    assert {"peering-autopilot", "boto3", "pydantic", "pyyaml", "aws-lambda-powertools"} <= installed.distributions
    assert not installed.distributions & set(DEVELOPMENT_ONLY)
    print(f"built and installed in {installed.seconds:.1f} s")


@pytest.mark.slow
def test_the_installed_help_and_policy_check_run_outside_the_repository(installed: Installed, tmp_path: Path) -> None:
    helped = installed.run("--help", cwd=tmp_path)
    checked = installed.run("policy", "check", str(ROOT / "policy" / "example-policy.yaml"), cwd=tmp_path)

    assert helped.returncode == 0, helped.stderr
    assert helped.stdout.startswith("usage: peering-autopilot ")
    for command in ("pending", "approve", "reject", "map", "policy"):
        assert command in helped.stdout
    assert checked.returncode == 0, checked.stderr
    assert checked.stdout.startswith(f"{ROOT / 'policy' / 'example-policy.yaml'}: valid, version ")


@pytest.mark.slow
def test_a_development_command_says_it_needs_the_development_environment(installed: Installed, tmp_path: Path) -> None:
    done = installed.run("demo", cwd=tmp_path)

    assert done.returncode == ENVIRONMENT
    assert "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines() == [
        "error: `demo` needs the development environment (missing: emulation): in a clone of the repository "
        "run `make dev`, then `.venv/bin/python -m runner demo`"
    ]


@pytest.mark.slow
def test_the_installed_pending_without_a_deployed_stack_says_to_name_it(
    installed: Installed, server: MotoServer, tmp_path: Path
) -> None:
    done = installed.run("pending", "--stack-name", "no-such-hub", cwd=tmp_path, endpoint=server.url)

    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines() == [
        "error: no stack no-such-hub in 123456789012/us-east-1: give the deployed hub's stack name with "
        "--stack-name (or its bus and ledger with --bus and --table), or check AWS_PROFILE and AWS_REGION"
    ]


HELD = "pcx-0a11aa11aa11aa111"
REQUESTER = "444455556666/us-east-1/vpc-0b22bb22bb22bb222"


def deployed_hub(server: MotoServer) -> str:
    """What a deployed hub shows an operator: a stack whose outputs name its bus, ledger, policy
    parameter and map bucket, a request held in the ledger, and a rule copying operator events to
    a queue."""
    names = {
        "PeeringEventBusName": "hub-bus",
        "LedgerTableName": "hub-ledger",
        "PolicyParameterName": "/hub/policy",
        "MapBucketName": "hub-map",
    }
    client(server, "cloudformation").create_stack(
        StackName="hub",
        TemplateBody=json.dumps(
            {
                "Resources": {"Placeholder": {"Type": "AWS::SQS::Queue"}},
                "Outputs": {key: {"Value": value} for key, value in names.items()},
            }
        ),
    )
    client(server, "ssm").put_parameter(
        Name="/hub/policy", Type="String", Value=(ROOT / "policy" / "example-policy.yaml").read_text()
    )
    dynamodb = client(server, "dynamodb")
    dynamodb.create_table(
        TableName="hub-ledger",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    expires = (datetime.now(UTC) + timedelta(days=6)).isoformat()
    dynamodb.put_item(
        TableName="hub-ledger",
        Item={
            "pk": {"S": HELD},
            "sk": {"S": "STATE"},
            "decision": {"S": "held"},
            "requester": {"S": REQUESTER},
            "accepter": {"S": "123456789012/us-east-1/vpc-0c33cc33cc33cc333"},
            "reasons": {"L": [{"S": "no rule matches"}]},
            "policyVersion": {"S": "2024-06-01.1"},
            "expirationTime": {"S": expires},
        },
    )
    events, sqs = client(server, "events"), client(server, "sqs")
    events.create_event_bus(Name="hub-bus")
    url = sqs.create_queue(QueueName="operator-events")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(
        Name="copy", EventBusName="hub-bus", EventPattern=json.dumps({"source": ["peering-autopilot.operator"]})
    )
    events.put_targets(Rule="copy", EventBusName="hub-bus", Targets=[{"Id": "queue", "Arn": arn}])
    return str(url)


@pytest.mark.slow
def test_the_installed_operator_commands_work_on_a_deployed_hub(
    installed: Installed, server: MotoServer, tmp_path: Path
) -> None:
    queue = deployed_hub(server)

    pending = installed.run("pending", "--stack-name", "hub", "--json", cwd=tmp_path, endpoint=server.url)
    approved = installed.run(
        "approve", HELD, "--stack-name", "hub", "--comment", "CHG-1", cwd=tmp_path, endpoint=server.url
    )
    listed = installed.run("pending", "--stack-name", "hub", cwd=tmp_path, endpoint=server.url)
    linked = installed.run("map", "--from-stack", "hub", "--expires", "600", cwd=tmp_path, endpoint=server.url)

    assert pending.returncode == 0, pending.stderr
    [held] = json.loads(pending.stdout)
    assert (held["connectionId"], held["requester"], held["reasons"]) == (HELD, REQUESTER, ["no rule matches"])
    assert held["hoursLeft"] is not None
    assert f"  decide: peering-autopilot approve|reject {HELD} --comment 'why'" in listed.stdout.splitlines()
    assert approved.returncode == 0, approved.stderr
    [message] = client(server, "sqs").receive_message(QueueUrl=queue, MaxNumberOfMessages=10)["Messages"]
    event = json.loads(message["Body"])
    assert event["detail-type"] == "Approve Peering Request"
    assert event["detail"] == {"connectionId": HELD, "requestedBy": "moto", "comment": "CHG-1"}
    assert linked.returncode == 0, linked.stderr
    assert "hub-map" in linked.stdout
    assert "X-Amz-Expires=600" in linked.stdout
