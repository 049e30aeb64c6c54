"""The IAM documented for operators and policy publishers (policy/iam/*.json, docs/deploy.md) allows
every AWS call their runner commands make, and nothing they do not make.

Given a deployed hub (a stack with the template's outputs) with held requests, when an operator
runs ``pending``, ``approve`` and ``reject`` (and a publisher ``policy publish``) as a fresh
process would, every call the command makes is recorded by a botocore hook on each session it
opens (``before-parameter-build``: the operation and its parameters). Then each call, as the IAM
request it is (action, resource ARN, condition keys), must be allowed by a statement of the
documented policy, and each statement must be needed by some call. The operator's commands run
with the policy enforced: a call it does not allow raises AccessDenied, as IAM would, so a
command that copes with a refusal (``pending`` without Organizations reads) is seen coping.
(moto's own IAM enforcement matches no Resource element, so the hook evaluates the statements.)
The hub guardrail (guardrails-template.yaml) must deny none of these calls to an operator, or to
a policy publisher for ``policy publish``.

The emulated hub stands for the deployed one. Its ledger table is named as the tests name it;
CloudFormation names the deployed table ``<stack>-LedgerTable-<suffix>`` (the template gives it
no name), so a call on the emulated table is checked as a call on that name. The bus and the
policy parameter have the names the template gives them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from peering.aws import org, policy_store
from runner.cfn import Stack
from runner.cli import main
from tests.builders import make_vpc, request_peering
from tests.conftest import HUB_ACCOUNT, LEDGER_TABLE, POLICY_PARAMETER, REGION, FakeContext, Organization, load_function
from tests.template.cfn_yaml import HUB_TEMPLATE, ROOT
from tests.template.helpers import as_list
from tests.template.test_guardrails import OPERATORS, PUBLISHERS, denied, guardrail_stack, iam_actions, policy_of

OPERATOR_POLICY = ROOT / "policy" / "iam" / "operator.json"
PUBLISHER_POLICY = ROOT / "policy" / "iam" / "policy-publisher.json"

STACK = "peering-autopilot"
BUS = "peering-autopilot"
STACK_ID = f"arn:aws:cloudformation:{REGION}:{HUB_ACCOUNT}:stack/{STACK}/8e2b3c60-0000-11ef-8d1a-0a1b2c3d4e5f"
DEPLOYED_TABLE = f"{STACK}-LedgerTable-1A2B3C4D5E6F"
#: AWS documents these as needing no permission ("No permissions are required to perform this operation")
NO_PERMISSION_NEEDED = frozenset({"sts:GetCallerIdentity"})

accept = load_function("accept")


@dataclass(frozen=True)
class Request:
    """One call as IAM authorizes it. resource None: the test does not know what the call acts on."""

    action: str
    resource: str | None
    context: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        keys = "".join(f" {k}={v}" for k, v in self.context.items())
        return f"{self.action} on {self.resource}{keys}"


def _arn(service: str, resource: str) -> str:
    return f"arn:aws:{service}:{REGION}:{HUB_ACCOUNT}:{resource}"


def _bus_arn(name_or_arn: str) -> str:
    return name_or_arn if name_or_arn.startswith("arn:") else _arn("events", f"event-bus/{name_or_arn}")


def _resource(prefix: str, params: dict[str, Any]) -> str | None:
    """The ARN a call of this service acts on (None: the test does not know)."""
    if prefix == "dynamodb":
        table = params["TableName"]
        return _arn("dynamodb", f"table/{DEPLOYED_TABLE if table == LEDGER_TABLE else table}")
    if prefix == "cloudformation" and params.get("StackName") == STACK:
        return STACK_ID
    if prefix == "ssm" and "Name" in params:
        name = str(params["Name"]).split(":", 1)[0]  # a version selector (name:3) is not part of the ARN
        return _arn("ssm", f"parameter{name}")
    return "*" if prefix == "organizations" else None


def as_requests(prefix: str, operation: str, params: dict[str, Any]) -> list[Request]:
    """The IAM requests of one API call, from its parameters (PutEvents: one per entry)."""
    action = f"{prefix}:{operation}"
    if action in NO_PERMISSION_NEEDED:
        return []
    if action == "events:PutEvents":
        return [
            Request(action, _bus_arn(entry.get("EventBusName", "default")), {"events:source": entry["Source"]})
            for entry in params["Entries"]
        ]
    return [Request(action, _resource(prefix, params))]


@contextmanager
def recorded(monkeypatch: pytest.MonkeyPatch, enforced: dict[str, Any] | None = None) -> Iterator[list[Request]]:
    """Every IAM request of the boto3 sessions opened while the block runs, as a fresh process
    makes them (the engine's caches of the organization and the policy emptied first). With
    ``enforced``, a call that policy does not allow raises AccessDenied, as IAM would, and is not
    made."""
    requests: list[Request] = []

    def record(params: dict[str, Any], model: Any, **_: Any) -> None:
        made = as_requests(model.service_model.endpoint_prefix, model.name, params)
        requests.extend(made)
        if enforced is not None and refused(enforced, made):
            code = (
                "AccessDenied" if model.service_model.endpoint_prefix == "cloudformation" else "AccessDeniedException"
            )
            error: Any = {"Error": {"Code": code, "Message": f"not allowed: {', '.join(refused(enforced, made))}"}}
            raise ClientError(error, model.name)

    class RecordingSession(boto3.session.Session):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.events.register("before-parameter-build", record)

    org.clear_cache()
    policy_store.reset()
    with monkeypatch.context() as patched:
        patched.setattr(boto3.session, "Session", RecordingSession)
        yield requests


def guardrail_denies(principal: str, requests: list[Request]) -> list[str]:
    """The requests the hub guardrail (guardrails-template.yaml, with the tests' principals) denies."""
    scp = policy_of(guardrail_stack())
    return sorted(
        {
            str(r)
            for r in requests
            if r.resource is not None
            and denied(scp, r.action, r.resource, principal, source=r.context.get("events:source", ""))
        }
    )


def rendered(path: Path) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(path.read_text(encoding="utf-8").replace("HUB_ACCOUNT_ID", HUB_ACCOUNT))
    return document


def allows(statement: dict[str, Any], request: Request) -> bool:
    assert statement["Effect"] == "Allow"
    assert set(statement) <= {"Sid", "Effect", "Action", "Resource", "Condition"}, "no NotAction, NotResource"
    if request.resource is None:
        return False
    if not any(fnmatchcase(request.action.lower(), p.lower()) for p in as_list(statement["Action"])):
        return False
    if not any(fnmatchcase(request.resource, p) for p in as_list(statement["Resource"])):
        return False
    for operator, keys in statement.get("Condition", {}).items():
        assert operator == "StringEquals", operator
        for key, values in keys.items():
            if request.context.get(key) not in as_list(values):
                return False
    return True


def refused(policy: dict[str, Any], requests: list[Request]) -> list[str]:
    return sorted({str(r) for r in requests if not any(allows(s, r) for s in policy["Statement"])})


def unneeded(policy: dict[str, Any], requests: list[Request]) -> list[str]:
    """Statements no request needs: without each, every request is still allowed."""
    return [
        statement["Sid"]
        for statement in policy["Statement"]
        if not refused({"Statement": [s for s in policy["Statement"] if s is not statement]}, requests)
    ]


# --- the hub, deployed and holding requests ------------------------------------------------------


@pytest.fixture
def deployed_hub(organization: Organization) -> None:
    """The peering bus, and a stack whose outputs name the hub's resources (as template.yaml's do)."""
    boto3.client("events", region_name=REGION).create_event_bus(Name=BUS)
    outputs = {"PeeringEventBusName": BUS, "LedgerTableName": LEDGER_TABLE, "PolicyParameterName": POLICY_PARAMETER}
    template = {
        "Resources": {"Placeholder": {"Type": "AWS::SQS::Queue"}},
        "Outputs": {key: {"Value": value} for key, value in outputs.items()},
    }
    boto3.client("cloudformation", region_name=REGION).create_stack(StackName=STACK, TemplateBody=json.dumps(template))


def held(requester_account: str, cidr: str, accepter_cidr: str, context: FakeContext) -> str:
    """A request into an untagged hub VPC: no rule of the tests' policy accepts it, so it is held."""
    requester = make_vpc(requester_account, cidr)
    accepter = make_vpc(HUB_ACCOUNT, accepter_cidr)
    pcx, event = request_peering(requester_account, requester, HUB_ACCOUNT, accepter)
    assert accept.lambda_handler(event, context)["outcome"] == "held"
    return pcx


def test_the_template_names_what_the_policies_name() -> None:
    hub = Stack.load(HUB_TEMPLATE, account=HUB_ACCOUNT, region=REGION)
    assert hub.given_name("LedgerTable") is None  # CloudFormation names it <stack>-LedgerTable-<suffix>
    assert hub.given_name("PeeringEventBus") == BUS
    assert hub.given_name("PolicyParameter") == POLICY_PARAMETER


# --- the operator ---------------------------------------------------------------------------------


def test_the_operator_policy_allows_exactly_what_pending_approve_and_reject_call(
    organization: Organization,
    deployed_hub: None,
    context: FakeContext,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    member = held(organization.platform_account, "10.20.0.0/16", "10.1.0.0/16", context)
    outsider = held(organization.outsider_account, "172.16.0.0/16", "10.2.0.0/16", context)
    capsys.readouterr()

    policy = rendered(OPERATOR_POLICY)
    with recorded(monkeypatch, enforced=policy) as requests:
        assert main(["pending"]) == 0
        listing = capsys.readouterr().out
        assert main(["pending", "--json"]) == 0
        assert main(["approve", member, "--comment", "CHG-1"]) == 0
        assert main(["reject", outsider, "--dry-run"]) == 0

    assert listing.startswith(f"2 held request(s) in ledger {LEDGER_TABLE}")
    assert "withdrawn in" in listing  # the member's request: Organizations and the policy were read
    assert refused(policy, requests) == [], "the operator policy does not allow these calls"
    assert unneeded(policy, requests) == [], "no operator command needs these statements"
    assert guardrail_denies(OPERATORS[0], requests) == [], "the guardrail keeps operators from these calls"
    assert {r.action for r in requests} >= {
        "cloudformation:DescribeStacks",
        "dynamodb:GetItem",
        "dynamodb:Scan",
        "events:PutEvents",
        "ssm:GetParameter",
        "organizations:DescribeAccount",
    }


def test_without_the_organizations_statement_pending_counts_down_to_the_expiry(
    organization: Organization,
    deployed_hub: None,
    context: FakeContext,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """What docs/deploy.md promises an operator without Organizations reads (no delegation)."""
    member = held(organization.platform_account, "10.20.0.0/16", "10.1.0.0/16", context)
    policy = rendered(OPERATOR_POLICY)
    policy["Statement"] = [s for s in policy["Statement"] if s["Sid"] != "ReadTheOrganizationForWithdrawalTimes"]
    capsys.readouterr()

    with recorded(monkeypatch, enforced=policy) as requests:
        assert main(["pending"]) == 0

    listing = capsys.readouterr().out
    assert listing.startswith(f"1 held request(s) in ledger {LEDGER_TABLE}")
    assert member in listing
    assert "expires in" in listing
    assert "withdrawn" not in listing  # its sweep's withdrawal needs the requester's membership
    assert "organizations:DescribeOrganization on *" in refused(policy, requests)


def test_the_operator_policy_puts_only_operator_events_on_the_peering_bus() -> None:
    policy = rendered(OPERATOR_POLICY)
    bus = _arn("events", f"event-bus/{BUS}")
    operator_event = Request("events:PutEvents", bus, {"events:source": "peering-autopilot.operator"})
    assert refused(policy, [operator_event]) == []
    assert refused(policy, [Request("events:PutEvents", bus, {"events:source": "aws.ec2"})]) != []
    assert refused(policy, [Request("events:PutEvents", _arn("events", "event-bus/default"), operator_event.context)])


# --- the policy publisher ---------------------------------------------------------------------


def test_the_publisher_policy_allows_exactly_what_policy_publish_calls(
    organization: Organization, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    example = str(ROOT / "policy" / "example-policy.yaml")

    with recorded(monkeypatch) as requests:
        assert main(["policy", "publish", example, "--dry-run"]) == 0
        assert main(["policy", "publish", example]) == 0

    assert "published version" in capsys.readouterr().out
    policy = rendered(PUBLISHER_POLICY)
    assert refused(policy, requests) == [], "the publisher policy does not allow these calls"
    assert unneeded(policy, requests) == []
    assert {r.action for r in requests} == {"ssm:GetParameter", "ssm:PutParameter"}
    assert guardrail_denies(PUBLISHERS[0], requests) == [], "the guardrail keeps publishers from these calls"
    assert guardrail_denies(OPERATORS[0], requests) != []  # publishing is not an operator's


# --- the documents ----------------------------------------------------------------------------


@pytest.mark.parametrize("path", [OPERATOR_POLICY, PUBLISHER_POLICY], ids=lambda p: p.name)
def test_every_action_is_an_iam_action(path: Path) -> None:
    for statement in rendered(path)["Statement"]:
        for action in as_list(statement["Action"]):
            prefix, name = action.split(":")
            assert name.lower() in iam_actions(prefix), f"{path.name}: {action} is not an IAM action"


def test_the_guide_includes_both_policies() -> None:
    guide = (ROOT / "docs" / "deploy.md").read_text(encoding="utf-8")
    for path in (OPERATOR_POLICY, PUBLISHER_POLICY):
        assert f"(../policy/iam/{path.name})" in guide, f"docs/deploy.md does not link policy/iam/{path.name}"
