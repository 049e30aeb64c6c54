"""``python -m runner smoke``: the lifecycle through AWS APIs on the local sandbox, its steps table
and exit status, and what a failed or interrupted run leaves behind: nothing.

The passing run goes through the command itself (``--local``). The failing ones run the same
``run_smoke`` on an emulated hub kept for the module (one moto server for a policy), with a fault
injected through botocore's hooks on the smoke test's own session (a failed CreateVpc), a policy
that holds every request, or an interruption; then EC2 is listed by the run tag.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from botocore.exceptions import ClientError

from runner.cli import main
from runner.smoke import RUN_TAG
from runner.smoke_cli import clean_up, run_smoke
from runner.smoke_targets import LocalTarget, local_target

FAST = {"timeout": 10.0, "poll": 0.05}
STEPS = (
    "create VPCs",
    "request peering",
    "decision: accepted",
    "routes on both sides",
    "DNS on both sides",
    "delete the connection",
    "cleanup: routes gone",
    "cleanup: ledger closed",
    "remove what it created",
)
HOLD_EVERYTHING = 'schemaVersion: 1\nversion: "hold-all"\nrules: []\n'


def table_rows(output: str) -> dict[str, str]:
    """Step name -> pass/FAIL, from the table at the end of the output."""
    rows: dict[str, str] = {}
    for line in output.split("step ", 1)[-1].splitlines():
        found = re.match(r"^(.+?)\s{2,}(pass|FAIL)\s", line)
        if found:
            rows[found.group(1)] = found.group(2)
    return rows


def left_behind(target: LocalTarget) -> list[str]:
    """What carries the run tag in EC2 and still exists (a deleted connection stays visible, as in AWS)."""
    ec2 = target.sandbox_client("ec2")
    tagged = [{"Name": "tag-key", "Values": [RUN_TAG]}]
    connections = [
        c["VpcPeeringConnectionId"]
        for c in ec2.describe_vpc_peering_connections(Filters=tagged)["VpcPeeringConnections"]
        if c["Status"]["Code"] not in ("deleted", "rejected", "failed", "expired")
    ]
    tables = [t["RouteTableId"] for t in ec2.describe_route_tables(Filters=tagged)["RouteTables"]]
    vpcs = [v["VpcId"] for v in ec2.describe_vpcs(Filters=tagged)["Vpcs"]]
    return [*connections, *tables, *vpcs]


@dataclass
class Played:
    code: int
    output: str


def play(target: Any, **options: Any) -> Played:
    out = io.StringIO()
    code = run_smoke(target, out=lambda line: print(line, file=out), **{**FAST, **options})
    return Played(code, out.getvalue())


@pytest.fixture(scope="module")
def hub() -> Iterator[LocalTarget]:
    """The emulated hub whose policy holds the smoke test's rule (one per module: a process has one
    AWS environment, and the functions run in it)."""
    with local_target() as target:
        yield target


@pytest.fixture
def holding_hub(hub: LocalTarget) -> Iterator[LocalTarget]:
    """The same hub, with a policy that holds every request (as the default policy does)."""
    assert hub.names.policy_parameter
    before = hub.hub_client("ssm").get_parameter(Name=hub.names.policy_parameter)["Parameter"]["Value"]
    hub.use_policy(HOLD_EVERYTHING)
    yield hub
    hub.use_policy(before)


# --- the command -----------------------------------------------------------------------------


def test_smoke_local_passes_every_step_and_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["smoke", "--local", "--poll-interval", "0.05", "--timeout", "20"])

    out = capsys.readouterr().out
    assert code == 0, out
    assert table_rows(out) == dict.fromkeys(STEPS, "pass")
    assert "9 of 9 steps passed" in out
    assert re.search(r"accepted: the connection is active", out)
    assert re.search(r"record closed at \S+ \(status deleted\)", out)
    removed = re.search(r"removed (.+)", out.split("-- remove what it created", 1)[1])
    assert removed
    assert sorted(r.split("-")[0] for r in removed.group(1).split(", ")) == ["rtb", "rtb", "vpc", "vpc"]


def test_smoke_needs_a_stack_or_local(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["smoke"])
    assert exited.value.code == 2
    assert "one of the arguments --stack --local is required" in capsys.readouterr().err


# --- a step fails: the exit status, the step named, nothing left ----------------------------------


def test_a_failed_second_vpc_fails_the_first_step_and_leaves_nothing(hub: LocalTarget) -> None:
    created: list[str] = []

    def refuse_the_second(model: Any, **_: Any) -> None:
        created.append(model.name)
        if len(created) == 2:
            raise ClientError({"Error": {"Code": "VpcLimitExceeded", "Message": "injected"}}, "CreateVpc")

    hub.sandbox_session.events.register("before-call.ec2.CreateVpc", refuse_the_second)
    try:
        played = play(hub)
    finally:
        hub.sandbox_session.events.unregister("before-call.ec2.CreateVpc", refuse_the_second)

    assert played.code == 1, played.output
    assert table_rows(played.output) == {"create VPCs": "FAIL", "remove what it created": "pass"}
    assert "failed: create VPCs" in played.output
    assert "VpcLimitExceeded" in played.output
    assert re.search(r"removed rtb-\w+, vpc-\w+", played.output)  # the first VPC and its table
    assert left_behind(hub) == []


def test_a_held_request_fails_the_decision_names_the_missing_rule_and_leaves_nothing(
    holding_hub: LocalTarget,
) -> None:
    played = play(holding_hub)

    assert played.code == 1, played.output
    rows = table_rows(played.output)
    assert rows["decision: accepted"] == "FAIL"
    assert rows["remove what it created"] == "pass"
    assert "routes on both sides" not in rows
    assert "the policy held the request" in played.output
    assert "no rule of policy hold-all matches" in played.output
    assert f'accepter: {{accounts: ["{holding_hub.account}"], vpcTag: {{key: "{RUN_TAG}"}}}}' in played.output
    assert re.search(r"removed pcx-\w+, rtb-\w+, rtb-\w+, vpc-\w+, vpc-\w+", played.output)
    assert left_behind(holding_hub) == []


@dataclass
class Deaf:
    """A hub that never reacts (a deployed stack whose rules do not fire)."""

    target: LocalTarget

    def __getattr__(self, name: str) -> Any:
        return getattr(self.target, name)

    def settle(self) -> None:
        """Nothing happens."""


def test_a_decision_that_never_comes_fails_within_the_timeout(holding_hub: LocalTarget) -> None:
    played = play(Deaf(holding_hub), timeout=0.5)

    assert played.code == 1
    assert table_rows(played.output)["decision: accepted"] == "FAIL"
    assert "the decision: not seen within 0.5 s (last seen: the connection is pending-acceptance" in played.output
    assert left_behind(holding_hub) == []


@dataclass
class Interrupted(Deaf):
    """Ctrl-C (once) while the run waits for the decision."""

    pressed: bool = False

    def settle(self) -> None:
        if not self.pressed:
            self.pressed = True
            raise KeyboardInterrupt


def test_an_interrupted_run_still_removes_what_it_created(holding_hub: LocalTarget) -> None:
    out: list[str] = []
    with pytest.raises(KeyboardInterrupt):
        run_smoke(Interrupted(holding_hub), out=out.append, **FAST)

    assert left_behind(holding_hub) == []
    assert any(line.startswith("   ok: removed pcx-") for line in out), out


# --- what an interrupted run left ---------------------------------------------------------------


def test_clean_up_removes_what_earlier_runs_left(hub: LocalTarget) -> None:
    ec2 = hub.sandbox_client("ec2")
    tags = [{"ResourceType": "vpc", "Tags": [{"Key": RUN_TAG, "Value": "smoke-20260101000000-dead"}]}]
    vpc = ec2.create_vpc(CidrBlock="10.255.254.0/28", TagSpecifications=tags)["Vpc"]["VpcId"]
    table_tags = [{**tags[0], "ResourceType": "route-table"}]
    table = ec2.create_route_table(VpcId=vpc, TagSpecifications=table_tags)["RouteTable"]["RouteTableId"]

    played = play(hub)  # a new run tells about it, and leaves it
    assert played.code == 0, played.output
    assert "earlier runs left VPCs here (smoke-20260101000000-dead)" in played.output
    assert left_behind(hub) == [table, vpc]

    out: list[str] = []
    assert clean_up(hub, out=out.append) == 0
    assert out[0] == f"smoke-20260101000000-dead: removed {table}, {vpc}"
    assert left_behind(hub) == []
