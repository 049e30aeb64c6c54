"""``python -m runner smoke``: the lifecycle through AWS APIs on the local sandbox, its steps table
and exit status, and what a failed or interrupted run leaves behind: nothing.

The passing run goes through the command itself (``--local``). The failing ones run the same
``run_smoke`` on an emulated hub kept for the module (one moto server for a policy), with a fault
injected through botocore's hooks on the smoke test's own session (a failed CreateVpc), a policy
that holds every request, or an interruption; then EC2 is listed by the run tag. The IAM policy the
deploy guide gives for the sandbox account (policy/iam/smoke-test.json) is checked against every
call a run makes, as IAM would authorize it.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from fnmatch import fnmatchcase
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from peering.core.decision import Verdict
from peering.core.models import RequesterIdentity, Vpc
from peering.core.policy import evaluate, parse_policy
from runner import ROOT
from runner.cli import main
from runner.smoke import RUN_TAG, HubNames, smoke_rule
from runner.smoke_cli import clean_up, run_smoke
from runner.smoke_targets import LocalTarget, hub_names, local_target
from tests.template.helpers import as_list
from tests.template.test_guardrails import iam_actions

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
    with refusing(hub, "CreateVpc", "VpcLimitExceeded", skip=1):
        played = play(hub)

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
    played = play(Deaf(holding_hub), timeout=0.5, progress_every=0.2)

    assert played.code == 1
    assert table_rows(played.output)["decision: accepted"] == "FAIL"
    assert re.search(r"waiting for the decision: 0 s of 0 s; the connection is pending-acceptance", played.output)
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
        run_smoke(Interrupted(holding_hub), out=out.append, timeout=FAST["timeout"], poll=FAST["poll"])

    assert left_behind(holding_hub) == []
    assert any(line.startswith("   ok: removed pcx-") for line in out), out
    rows = table_rows("\n".join(out))
    assert rows["decision: accepted"] == "FAIL"
    assert rows["remove what it created"] == "pass"
    assert re.search(r"^decision: accepted +FAIL .* interrupted$", "\n".join(out), re.MULTILINE)


@contextmanager
def refusing(
    target: LocalTarget, operation: str, code: str, *, skip: int = 0, times: int | None = None
) -> Iterator[list[str]]:
    """The sandbox session's ``operation`` fails with ``code``: after ``skip`` calls, ``times`` calls
    (every one when None)."""
    calls: list[str] = []

    def refuse(model: Any, **_: Any) -> None:
        calls.append(model.name)
        if len(calls) > skip and (times is None or len(calls) <= skip + times):
            raise ClientError({"Error": {"Code": code, "Message": "injected"}}, operation)

    event = f"before-call.ec2.{operation}"
    target.sandbox_session.events.register(event, refuse)
    try:
        yield calls
    finally:
        target.sandbox_session.events.unregister(event, refuse)


def test_a_vpc_that_still_depends_on_its_connection_is_deleted_on_a_retry(hub: LocalTarget) -> None:
    with refusing(hub, "DeleteVpc", "DependencyViolation", times=1) as calls:
        played = play(hub)

    assert played.code == 0, played.output
    assert calls == ["DeleteVpc", "DeleteVpc", "DeleteVpc"]  # the first VPC twice
    assert left_behind(hub) == []


def test_what_could_not_be_removed_fails_the_last_step_and_clean_up_removes_it_later(hub: LocalTarget) -> None:
    with refusing(hub, "DeleteRouteTable", "UnauthorizedOperation"):
        played = play(hub)

    assert played.code == 1
    assert table_rows(played.output)["remove what it created"] == "FAIL"
    assert "failed: remove what it created" in played.output
    assert re.search(
        r"could not remove rtb-\w+ \(UnauthorizedOperation\), rtb-\w+ \(UnauthorizedOperation\), "
        r"vpc-\w+ \(not tried: what it holds is still there\)",
        played.output,
    )
    assert "`smoke --clean-up` tries again" in played.output
    assert len(left_behind(hub)) == 4

    out: list[str] = []
    assert clean_up(hub, out=out.append) == 0
    assert left_behind(hub) == []


def test_a_ledger_it_cannot_read_skips_the_ledger_check(hub: LocalTarget) -> None:
    elsewhere = replace(hub, names=HubNames(source="a stack elsewhere", ledger_table="no-such-table"))

    played = play(elsewhere)

    assert played.code == 0, played.output
    assert "note: the ledger no-such-table is not readable (ResourceNotFoundException): its checks are skipped" in (
        played.output
    )
    assert "skipped: the ledger is not readable here (a stack elsewhere)" in played.output


# --- a deployed stack: what keeps it from starting -------------------------------------------------


def test_a_stack_that_does_not_exist_is_one_line_and_exit_2(
    hub: LocalTarget, capsys: pytest.CaptureFixture[str]
) -> None:
    """(The hub fixture points the standard AWS environment at its server, as --stack would AWS.)"""
    code = main(["smoke", "--stack", "no-such-stack", "--region", hub.region])

    err = capsys.readouterr().err
    assert code == 2
    assert err == (
        f"error: no stack 'no-such-stack' in {hub.region}: give the hub's stack name and Region "
        "(--stack, --hub-region; --hub-profile when the hub is another account)\n"
    )


def test_credentials_of_another_account_start_nothing(hub: LocalTarget, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["smoke", "--stack", "peering-autopilot", "--account", "111122223333", "--region", hub.region])

    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith(f"error: the credentials are of account {hub.account}, not 111122223333:")
    assert left_behind(hub) == []


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


# --- the IAM it needs (policy/iam/smoke-test.json, docs/deploy.md) --------------------------------

SMOKE_POLICY = ROOT / "policy" / "iam" / "smoke-test.json"
#: the resource types each call acts on, as IAM authorizes it (cfn-lint's IAM reference), when used
_ACTS_ON = {"vpc", "route-table", "vpc-peering-connection"}
_ID_PREFIX = {"vpc": "vpc-", "route-table": "rtb-", "vpc-peering-connection": "pcx-"}
_CREATED = {"CreateVpc": "Vpc", "CreateRouteTable": "RouteTable", "CreateVpcPeeringConnection": "VpcPeeringConnection"}
_NO_PERMISSION_NEEDED = {"sts:GetCallerIdentity"}


@dataclass(frozen=True)
class IamRequest:
    action: str
    resource: str
    context: tuple[tuple[str, str], ...] = ()

    def __str__(self) -> str:
        return f"{self.action} on {self.resource}{''.join(f' {k}={v}' for k, v in self.context)}"


@dataclass
class Recorder:
    """Every call of the sessions it is attached to: (service prefix, operation, params, response)."""

    calls: list[tuple[str, str, dict[str, Any], dict[str, Any]]]

    def attach(self, session: Any) -> None:
        session.events.register("before-parameter-build", self._params)
        session.events.register("after-call", self._done)

    def detach(self, session: Any) -> None:
        session.events.unregister("before-parameter-build", self._params)
        session.events.unregister("after-call", self._done)

    def _params(self, params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context["smoke.params"] = dict(params)

    def _done(self, model: Any, parsed: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        prefix = model.service_model.endpoint_prefix
        self.calls.append((prefix, model.name, context.get("smoke.params", {}), parsed))


def as_iam_requests(calls: list[tuple[str, str, dict[str, Any], dict[str, Any]]], account: str) -> list[IamRequest]:
    """The IAM requests of the calls: one per resource each acts on, with its tag condition keys."""
    tagged: set[str] = set()  # ids created with the run tag (their ec2:ResourceTag is set)
    requests: list[IamRequest] = []
    for prefix, operation, params, response in calls:
        action = f"{prefix}:{operation}"
        if action in _NO_PERMISSION_NEEDED:
            continue
        if prefix == "cloudformation":
            requests.append(
                IamRequest(action, f"arn:aws:cloudformation:us-east-1:{account}:stack/{params['StackName']}/x")
            )
            continue
        if prefix == "dynamodb":
            table = str(params["TableName"]).replace(
                "peering-autopilot-LedgerTable", "peering-autopilot-LedgerTable-1A2B"
            )
            requests.append(IamRequest(action, f"arn:aws:dynamodb:us-east-1:{account}:table/{table}"))
            continue
        types = [t for t in iam_actions(prefix)[operation.lower()] if t in _ACTS_ON]
        if not types:
            requests.append(IamRequest(action, "*"))
            continue
        request_tag = any(t["Key"] == RUN_TAG for s in params.get("TagSpecifications", []) for t in s["Tags"])
        created = str(response.get(_CREATED.get(operation, ""), {}).get(f"{_CREATED.get(operation, '')}Id", ""))
        named = {str(v) for k, v in params.items() if k.endswith("Id") and isinstance(v, str)}
        for kind in types:
            ids = (
                [created]
                if created.startswith(_ID_PREFIX[kind])
                else sorted(i for i in named if i.startswith(_ID_PREFIX[kind]))
            )
            for resource_id in ids:
                context: list[tuple[str, str]] = []
                if resource_id == created and request_tag:
                    context.append((f"aws:RequestTag/{RUN_TAG}", "set"))
                if resource_id in tagged:
                    context.append((f"ec2:ResourceTag/{RUN_TAG}", "set"))
                requests.append(
                    IamRequest(action, f"arn:aws:ec2:us-east-1:{account}:{kind}/{resource_id}", tuple(context))
                )
                if resource_id == created and request_tag:  # tags on create: CreateTags, for this action only
                    requests.append(
                        IamRequest("ec2:CreateTags", requests[-1].resource, (("ec2:CreateAction", operation),))
                    )
        if created and request_tag:
            tagged.add(created)
    return requests


def allows(statement: dict[str, Any], request: IamRequest) -> bool:
    assert statement["Effect"] == "Allow"
    assert set(statement) <= {"Sid", "Effect", "Action", "Resource", "Condition"}, "no NotAction, NotResource"
    if not any(fnmatchcase(request.action.lower(), p.lower()) for p in as_list(statement["Action"])):
        return False
    if not any(fnmatchcase(request.resource, p) for p in as_list(statement["Resource"])):
        return False
    context = dict(request.context)
    for operator, keys in statement.get("Condition", {}).items():
        for key, value in keys.items():
            if operator == "Null":
                assert value == "false", "only 'the key is present' conditions"
                if key not in context:
                    return False
            elif operator == "StringEquals":
                if context.get(key) not in as_list(value):
                    return False
            else:
                raise AssertionError(f"condition operator {operator} is not evaluated by this test")
    return True


def refused(policy: dict[str, Any], requests: list[IamRequest]) -> list[str]:
    return sorted({str(r) for r in requests if not any(allows(s, r) for s in policy["Statement"])})


def smoke_policy(account: str) -> dict[str, Any]:
    text = SMOKE_POLICY.read_text(encoding="utf-8")
    document: dict[str, Any] = json.loads(
        text.replace("SANDBOX_ACCOUNT_ID", account).replace("HUB_ACCOUNT_ID", account)
    )
    return document


def test_the_documented_policy_allows_every_call_of_a_run_and_each_statement_is_needed(hub: LocalTarget) -> None:
    calls: list[tuple[str, str, dict[str, Any], dict[str, Any]]] = []
    recorder = Recorder(calls)
    hub.hub_client("cloudformation").create_stack(
        StackName="peering-autopilot",
        TemplateBody=json.dumps(
            {
                "Resources": {"Placeholder": {"Type": "AWS::SQS::Queue"}},
                "Outputs": {"LedgerTableName": {"Value": hub.names.ledger_table}},
            }
        ),
    )
    reader = boto3.session.Session(region_name=hub.region)
    for session in (hub.sandbox_session, hub.hub_session, reader):
        recorder.attach(session)
    try:
        assert hub_names(reader, "peering-autopilot").ledger_table == hub.names.ledger_table  # --stack's reading
        played = play(hub)
    finally:
        for session in (hub.sandbox_session, hub.hub_session):
            recorder.detach(session)
    assert played.code == 0, played.output

    policy = smoke_policy(hub.account)
    requests = as_iam_requests(calls, hub.account)
    assert refused(policy, requests) == [], "policy/iam/smoke-test.json does not allow these calls"
    for statement in policy["Statement"]:
        others = {"Statement": [s for s in policy["Statement"] if s is not statement]}
        assert refused(others, requests), f"no call of the smoke test needs statement {statement['Sid']}"


def test_the_documented_policy_touches_no_vpc_the_smoke_test_did_not_make(hub: LocalTarget) -> None:
    policy = smoke_policy(hub.account)
    someone_elses = f"arn:aws:ec2:us-east-1:{hub.account}:vpc/vpc-0123456789abcdef0"
    for action in ("ec2:DeleteVpc", "ec2:ModifyVpcAttribute", "ec2:CreateVpcPeeringConnection"):
        assert refused(policy, [IamRequest(action, someone_elses)]), action
    assert refused(policy, [IamRequest("ec2:CreateTags", someone_elses)])  # no tagging after the fact
    assert refused(policy, [IamRequest("ec2:CreateVpc", f"arn:aws:ec2:us-east-1:{hub.account}:vpc/new")])  # untagged


def test_every_action_of_the_documented_policy_is_an_iam_action() -> None:
    for statement in smoke_policy("123456789012")["Statement"]:
        for action in as_list(statement["Action"]):
            prefix, name = action.split(":")
            assert name.lower() in iam_actions(prefix), f"{action} is not an IAM action"


def test_the_deploy_guide_links_the_policy_and_shows_the_smoke_rule() -> None:
    guide = (ROOT / "docs" / "deploy.md").read_text(encoding="utf-8")
    section = guide.split("## Check the deployment: the smoke test", 1)
    assert len(section) == 2, "docs/deploy.md has no smoke test section"
    assert "\n## " not in section[1], "the smoke test section is the guide's last"
    assert "(../policy/iam/smoke-test.json)" in section[1]
    assert smoke_rule("111122223333", "eu-west-1") in section[1]


@pytest.mark.parametrize(
    ("requester", "region", "accepter", "tags", "verdict"),
    [
        ("111122223333", "eu-west-1", "111122223333", {RUN_TAG: "smoke-1"}, Verdict.ACCEPT),
        ("111122223333", "us-east-1", "111122223333", {RUN_TAG: "smoke-1"}, Verdict.HOLD),  # another Region
        ("444455556666", "eu-west-1", "111122223333", {RUN_TAG: "smoke-1"}, Verdict.HOLD),  # another requester
        ("111122223333", "eu-west-1", "111122223333", {}, Verdict.HOLD),  # a VPC that is not the smoke test's
        ("111122223333", "eu-west-1", "444455556666", {RUN_TAG: "smoke-1"}, Verdict.HOLD),  # another accepter
    ],
)
def test_the_smoke_rule_accepts_only_the_sandbox_accounts_own_tagged_vpcs(
    requester: str, region: str, accepter: str, tags: dict[str, str], verdict: Verdict
) -> None:
    policy = parse_policy(f"schemaVersion: 1\nversion: with-smoke\nrules:\n{smoke_rule('111122223333', 'eu-west-1')}")
    target = Vpc(accepter, "eu-west-1", "vpc-0123456789abcdef0", ("10.255.255.16/28",), tags=tags)

    decision = evaluate(policy, RequesterIdentity(requester, region), target, hub_org_id=None)

    assert decision.verdict is verdict
