"""The runner's stack is what SAM deploys: templates read by cfn-lint's decoder, expanded by the SAM
translator, and the functions, rules and queue mappings read from the translator's resources.

The expectations on template.yaml are written from what ``sam validate`` shows for it (the
translator's logical ids and properties), not from the runner's code.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from runner import HUB_TEMPLATE, MEMBER_TEMPLATE
from runner.cfn import Stack
from runner.invoke import runtime_environment
from runner.model import FunctionSpec, RuleSpec, functions, queue_mappings, rules
from runner.template import LOCAL_CODE_BUCKET, TemplateError, load_template, local_code, translate

HUB = "111111111111"
REGION = "us-east-1"
QUEUE_ARN = f"arn:aws:sqs:{REGION}:{HUB}:peering-autopilot-{{}}"

#: a SAM template with what template.yaml does not use: a role, a disabled rule, a named schedule
#: and an SQS event made by SAM
SMALL_SAM = """\
Transform: AWS::Serverless-2016-10-31
Parameters:
  Stage: {Type: String, Default: test}
Globals:
  Function:
    Environment:
      Variables: {STAGE: !Ref Stage}
Resources:
  Queue: {Type: AWS::SQS::Queue}
  Bus:
    Type: AWS::Events::EventBus
    Properties: {Name: !Sub 'bus-${Stage}'}
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/accept
      Handler: app.lambda_handler
      Runtime: python3.13
      Environment:
        Variables: {QUEUE: !Ref Queue}
      Events:
        Paused:
          Type: EventBridgeRule
          Properties:
            EventBusName: !Ref Bus
            Pattern: {source: [x]}
            State: DISABLED
        Nightly:
          Type: Schedule
          Properties: {Schedule: rate(1 day), Name: nightly}
        Work:
          Type: SQS
          Properties: {Queue: !GetAtt Queue.Arn, BatchSize: 3, FunctionResponseTypes: [ReportBatchItemFailures]}
"""


@pytest.fixture(scope="module")
def hub() -> Stack:
    return Stack.load(account=HUB, region=REGION)


@pytest.fixture(scope="module")
def hub_rules(hub: Stack) -> dict[str, RuleSpec]:
    return {r.rule_id: r for r in rules(hub)}


@pytest.fixture(scope="module")
def hub_functions(hub: Stack) -> dict[str, FunctionSpec]:
    return functions(hub)


@pytest.fixture
def small(tmp_path: Path) -> Stack:
    path = tmp_path / "template.yaml"
    path.write_text(SMALL_SAM)
    return Stack.load(path, account=HUB, region="eu-west-1", stack_name="small")


def _of_type(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


# -- reading templates ------------------------------------------------------------------------------


def test_the_decoder_gives_plain_data_with_anchors_expanded(tmp_path: Path) -> None:
    path = tmp_path / "t.yaml"
    path.write_text("A: &pattern {source: [x], account: [!Ref AWS::AccountId]}\nB: *pattern\nC: !GetAtt Q.Arn\n")

    data = load_template(path)

    assert data["B"] == data["A"] == {"source": ["x"], "account": [{"Ref": "AWS::AccountId"}]}
    assert data["C"] == {"Fn::GetAtt": ["Q", "Arn"]}
    assert type(data["A"]) is dict
    assert type(data["A"]["account"]) is list
    assert type(data["C"]["Fn::GetAtt"][0]) is str  # not the decoder's str_node


@pytest.mark.parametrize(
    "text",
    ["A: [unclosed\n", "- a list\n- not a template\n", "A: 1\nA: 2\n"],
    ids=["broken YAML", "not a mapping", "duplicate key"],
)
def test_an_unreadable_template_is_a_template_error(tmp_path: Path, text: str) -> None:
    path = tmp_path / "t.yaml"
    path.write_text(text)

    with pytest.raises(TemplateError, match="cannot read"):
        load_template(path)


def test_a_missing_template_is_a_template_error(tmp_path: Path) -> None:
    with pytest.raises(TemplateError, match="not found"):
        load_template(tmp_path / "absent.yaml")


# -- translating ------------------------------------------------------------------------------------


def test_the_hub_template_becomes_cloudformation_and_stays_as_read() -> None:
    source = load_template(HUB_TEMPLATE)
    before = copy.deepcopy(source)

    translated = translate(source, region=REGION, parameters={})

    assert source == before
    assert "Transform" not in translated
    assert not [k for k, v in translated["Resources"].items() if v["Type"].startswith("AWS::Serverless::")]
    sam_functions = set(_of_type(source, "AWS::Serverless::Function"))
    assert set(_of_type(translated, "AWS::Lambda::Function")) == sam_functions
    code = {k: local_code(v["Properties"]["Code"]) for k, v in _of_type(translated, "AWS::Lambda::Function").items()}
    assert code["AcceptFunction"] == "functions/accept"
    assert code["WorkerFunction"] == "functions/worker"


def test_a_template_without_the_sam_transform_is_not_translated() -> None:
    source = load_template(MEMBER_TEMPLATE)

    assert translate(source, region=REGION, parameters={}) == source


def test_what_the_translator_refuses_is_a_template_error(tmp_path: Path) -> None:
    path = tmp_path / "t.yaml"
    path.write_text(SMALL_SAM.replace("Type: Schedule", "Type: NoSuchEvent"))

    with pytest.raises(TemplateError, match="SAM translator"):
        Stack.load(path, account=HUB, region=REGION)


def test_code_that_is_not_local_is_not_run(tmp_path: Path) -> None:
    path = tmp_path / "t.yaml"
    path.write_text(SMALL_SAM.replace("CodeUri: functions/accept", "CodeUri: s3://bucket/fn.zip"))
    stack = Stack.load(path, account=HUB, region=REGION)

    assert local_code(stack.resources["Fn"]["Properties"]["Code"]) is None
    with pytest.raises(TemplateError, match="not a folder of this checkout"):
        functions(stack)


# -- the rules are the translator's -----------------------------------------------------------------


def test_every_rule_the_translator_emits_for_a_function_is_routed_to_it(
    hub: Stack, hub_rules: dict[str, RuleSpec]
) -> None:
    emitted = {}
    rules = _of_type(hub.template, "AWS::Events::Rule")
    for logical_id, body in rules.items():
        if not hub.is_created(logical_id):
            continue  # the map function's schedule: only with PublishMap=true
        for target in body["Properties"]["Targets"]:
            emitted[logical_id] = (target["Id"], target["Arn"]["Fn::GetAtt"][0])

    assert len(emitted) == 11
    assert set(rules) - set(emitted) == {"MapFunctionScheduled"}
    assert {k: (r.targets[0].target_id, r.functions[0]) for k, r in hub_rules.items()} == emitted
    assert all(len(r.targets) == 1 for r in hub_rules.values())


def test_the_rules_carry_bus_retry_policy_and_dead_letter_queue(hub_rules: dict[str, RuleSpec]) -> None:
    on_bus = hub_rules["AcceptFunctionCreateOnPeeringBus"]
    (target,) = on_bus.targets

    assert on_bus.bus == "peering-autopilot"
    assert hub_rules["AcceptFunctionCreateOnDefaultBus"].bus == "default"
    assert target.target_id == "AcceptFunctionCreateOnPeeringBusLambdaTarget"
    assert target.arn == f"arn:aws:lambda:{REGION}:{HUB}:function:peering-autopilot-AcceptFunction"
    assert target.retry_policy == {"MaximumRetryAttempts": 8, "MaximumEventAgeInSeconds": 3600}
    assert target.dead_letter_arn == QUEUE_ARN.format("AcceptDeadLetterQueue")
    assert hub_rules["SweepFunctionScheduled"].targets[0].dead_letter_arn == QUEUE_ARN.format(
        "SweepTriggerDeadLetterQueue"
    )


def test_a_schedule_rule_meets_the_events_it_fires_with_its_own_arn(hub: Stack, hub_rules: dict[str, RuleSpec]) -> None:
    scheduled = hub_rules["SweepFunctionScheduled"]
    event = {"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}}

    assert scheduled.schedule == "rate(30 minutes)"
    assert scheduled.kind == "schedule"
    for arn in (
        hub.get_att("SweepFunctionScheduled", "Arn"),  # the local name
        f"{hub.get_att('SweepFunctionScheduled', 'Arn')}-1K7Q2X9WZ3AB",  # CloudFormation's
    ):
        matched = {r.rule_id for r in hub_rules.values() if r.matches({**event, "resources": [arn]})}
        assert matched == {"SweepFunctionScheduled"}


def test_the_translators_state_name_and_sqs_mapping_are_followed(small: Stack) -> None:
    found = {r.rule_id: r for r in rules(small)}

    assert set(found) == {"FnPaused", "FnNightly"}
    assert not found["FnPaused"].enabled
    assert not found["FnPaused"].matches({"source": "x", "detail-type": "d", "detail": {}})
    assert found["FnPaused"].bus == "bus-test"
    nightly = {"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}}
    arn = f"arn:aws:events:eu-west-1:{HUB}:rule/nightly"
    assert found["FnNightly"].matches({**nightly, "resources": [arn]})
    assert not found["FnNightly"].matches({**nightly, "resources": [f"{arn}-1K7Q2X9WZ3AB"]})
    (mapping,) = queue_mappings(small)
    assert (mapping.logical_id, mapping.queue, mapping.function) == ("FnWork", "Queue", "Fn")
    assert (mapping.batch_size, mapping.report_batch_item_failures, mapping.enabled) == (3, True, True)


def test_a_role_sam_generates_is_the_functions_role(small: Stack) -> None:
    (spec,) = functions(small).values()

    assert small.resources["FnRole"]["Type"] == "AWS::IAM::Role"
    assert spec.role == f"arn:aws:iam::{HUB}:role/small-FnRole"
    assert spec.environment == {
        "STAGE": "test",
        "QUEUE": f"https://sqs.eu-west-1.amazonaws.com/{HUB}/small-Queue",
    }
    assert (spec.timeout, spec.memory, spec.log_group) == (3, 128, "/aws/lambda/small-Fn")


# -- functions and queue mappings of template.yaml --------------------------------------------------


def test_the_functions_have_their_own_roles_and_log_groups(hub_functions: dict[str, FunctionSpec]) -> None:
    accept = hub_functions["AcceptFunction"]

    assert set(hub_functions) == {
        f"{n}Function" for n in ("Accept", "Operator", "Configure", "Cleanup", "Sweep", "Worker")
    }
    assert accept.role == f"arn:aws:iam::{HUB}:role/peering-autopilot-AcceptFunctionRole"
    assert accept.log_group == "/aws/lambda/peering-autopilot-accept"
    assert runtime_environment(accept, account=HUB, region=REGION)["AWS_LAMBDA_LOG_GROUP_NAME"] == accept.log_group
    assert accept.handler_file.parts[-3:] == ("functions", "accept", "app.py")


def test_globals_reach_every_function_with_its_own_variables(hub_functions: dict[str, FunctionSpec]) -> None:
    for spec in hub_functions.values():
        assert spec.environment["POWERTOOLS_SERVICE_NAME"] == "peering-autopilot", spec.logical_id
        assert spec.environment["EVENT_BUS_NAME"] == "peering-autopilot", spec.logical_id
    assert "SWEEP_QUEUE_URL" in hub_functions["SweepFunction"].environment
    assert "SWEEP_QUEUE_URL" not in hub_functions["AcceptFunction"].environment


def test_the_worker_consumes_the_sweep_queue_through_the_templates_mapping(hub: Stack) -> None:
    (mapping,) = queue_mappings(hub)

    assert (mapping.logical_id, mapping.queue, mapping.function) == (
        "WorkerSweepQueueMapping",
        "SweepQueue",
        "WorkerFunction",
    )
    # BatchSize is the SweepBatchSize parameter: its default.
    assert (mapping.batch_size, mapping.report_batch_item_failures, mapping.enabled) == (10, True, True)


def test_the_code_placeholder_is_only_for_local_folders() -> None:
    assert local_code({"S3Bucket": LOCAL_CODE_BUCKET, "S3Key": "functions/sweep"}) == "functions/sweep"
    assert local_code({"S3Bucket": "elsewhere", "S3Key": "functions/sweep"}) is None
    assert local_code({"ZipFile": "def handler(e, c): pass"}) is None
