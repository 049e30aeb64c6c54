"""Checks on template.yaml: event wiring, failure handling, alarms, dashboard, logs, least-privilege IAM.

The template is read as data (short-form tags expanded, see cfn_yaml.py); nothing is deployed.
What each function may do in IAM lives in expectations.py.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from botocore import xform_name

from peering.core.events import (
    APPROVE_DETAIL_TYPE,
    CONVERGE_DETAIL_TYPE,
    OPERATOR_SOURCE,
    REJECT_DETAIL_TYPE,
    SWEEP_DETAIL_TYPE,
)
from peering.core.policy import parse_policy
from peering.core.policy_events import EVENT_NAME as POLICY_CHANGE_EVENT
from peering.runtime.config import Settings
from tests.template.cfn_yaml import ROOT, load_cfn_yaml
from tests.template.expectations import (
    ACTION_CONDITIONS,
    CODE_EVIDENCE,
    EC2_RESOURCE_TYPES,
    FUNCTION_ACTIONS,
    STAR_RESOURCE_ALLOWED,
    STAR_RESOURCE_WRITES,
    SUPPORT_ACTIONS,
    TAG_KEYS_CONDITION,
    assumes_member_role,
)
from tests.template.helpers import (
    Grant,
    Resources,
    as_list,
    dead_letter_queue,
    ec2_arn,
    events_of,
    function_grants,
    function_role,
    functions,
    getatt,
    granted,
    of_type,
    parse_sub_json,
    rule_events,
    sub_text,
)

pytestmark = pytest.mark.template

PACKAGE = ROOT / "layers" / "peering" / "peering"

PEERING_BUS = {"Ref": "PeeringEventBus"}
TOPIC = {"Ref": "NotificationTopic"}
THIS_ACCOUNT = {"Ref": "AWS::AccountId"}
POLICY_PARAMETER = {"Ref": "PolicyParameter"}  # its Ref is the parameter's name
DEFAULT_POLICY_PARAMETER = "/peering-autopilot/policy"  # the PolicyParameterName default


def cloudtrail_pattern(*event_names: str) -> dict[str, Any]:
    return {
        "source": ["aws.ec2"],
        "detail-type": ["AWS API Call via CloudTrail"],
        "detail": {
            "eventSource": ["ec2.amazonaws.com"],
            "errorCode": [{"exists": False}],  # failed calls changed nothing: never delivered
            "eventName": list(event_names),
        },
    }


def operator_pattern(*detail_types: str) -> dict[str, Any]:
    # Only events put by the hub account itself: EventBridge sets "account" from the caller.
    return {"source": [OPERATOR_SOURCE], "detail-type": list(detail_types), "account": [THIS_ACCOUNT]}


def policy_change_pattern() -> dict[str, Any]:
    # CloudTrail's record of a write to the policy parameter, which lives in the hub account.
    return {
        "source": ["aws.ssm"],
        "detail-type": ["AWS API Call via CloudTrail"],
        "detail": {
            "eventSource": ["ssm.amazonaws.com"],
            "errorCode": [{"exists": False}],
            "eventName": [POLICY_CHANGE_EVENT],
            "requestParameters": {"name": [POLICY_PARAMETER]},
        },
    }


# What triggers each function. CloudTrail patterns of EC2 calls are matched on the default bus
# and on the peering bus, operator patterns on the peering bus, the policy change on the default bus.
TRIGGERS: dict[str, list[dict[str, Any]]] = {
    "AcceptFunction": [cloudtrail_pattern("CreateVpcPeeringConnection")],
    "OperatorFunction": [operator_pattern(APPROVE_DETAIL_TYPE, REJECT_DETAIL_TYPE)],
    "ConfigureFunction": [
        cloudtrail_pattern(
            "AcceptVpcPeeringConnection",
            "AssociateVpcCidrBlock",
            "DisassociateVpcCidrBlock",
            "ModifyVpcPeeringConnectionOptions",
        ),
        operator_pattern(CONVERGE_DETAIL_TYPE),
    ],
    "CleanupFunction": [cloudtrail_pattern("RejectVpcPeeringConnection", "DeleteVpcPeeringConnection")],
    "SweepFunction": [operator_pattern(SWEEP_DETAIL_TYPE), policy_change_pattern()],
    "WorkerFunction": [],  # the sweep queue only
    "MapFunction": [],  # the schedule only (PublishMap=true)
}

# Metrics the dashboard must show (namespace PeeringAutopilot), by widget topic.
DASHBOARD_METRICS = {
    "decisions": {"RequestsAccepted", "RequestsRejected", "RequestsHeld", "ConnectionsAdopted"},
    "routes": {"RoutesInstalled", "RoutesReplaced", "RoutesRemoved", "RoutesTakenOver"},
    "conflicts": {
        "RouteConflicts",
        "RouteTablesFull",
        "ForeignRoutes",
        "DnsPrerequisiteMissing",
        "ConnectionsUnmanaged",
        "ConnectionsOutOfScope",
    },
    "drift": {"SweepDrift", "SweepConnections", "SweepHandedBack", "HandedOn", "MapFragmentsSummarized"},
    "errors": {"InvalidEvents", "UnknownConnections", "Errors", "PolicyInvalid", "OutboxFlushFailures"},
}

# Operations authorized under another action's name.
# Operations authorized as another action. TransactWriteItems has no action of its own: each item
# is authorized as its PutItem/UpdateItem/DeleteItem (DynamoDB guide, "Using IAM with DynamoDB
# transactions"); the ledger's transactions always update the STATE item.
IAM_ACTION_OF = {
    "sqs:SendMessageBatch": "sqs:SendMessage",
    "dynamodb:TransactWriteItems": "dynamodb:UpdateItem",
    "lambda:Invoke": "lambda:InvokeFunction",
}


# ---------------------------------------------------------------- helpers


def normalized(pattern: Any) -> Any:
    """An event pattern with its value lists sorted (EventBridge ignores their order)."""
    if isinstance(pattern, dict):
        return {k: normalized(v) for k, v in pattern.items()}
    if isinstance(pattern, list):
        return sorted((normalized(v) for v in pattern), key=lambda v: json.dumps(v, sort_keys=True))
    return pattern


def bus_of(props: dict[str, Any]) -> str:
    return json.dumps(props.get("EventBusName", "default"), sort_keys=True)


def effective_env(hub_template: dict[str, Any], function: dict[str, Any]) -> dict[str, Any]:
    env = dict(hub_template["Globals"]["Function"]["Environment"]["Variables"])
    env.update(function["Properties"].get("Environment", {}).get("Variables", {}))
    return env


def effective(hub_template: dict[str, Any], function: dict[str, Any], key: str) -> Any:
    return function["Properties"].get(key, hub_template["Globals"]["Function"].get(key))


def handler_source(function: dict[str, Any]) -> str:
    return (ROOT / function["Properties"]["CodeUri"] / "app.py").read_text()


def env_reads(path: Path) -> set[str]:
    """Environment variable names a module reads (env.get("X"), env["X"], _positive_int(env, "X"))."""
    source = path.read_text()
    read = set(re.findall(r"""env(?:\.get\(|\[)\s*"([A-Z][A-Z0-9_]+)\"""", source))
    read |= set(re.findall(r"""_positive_int\(\s*env,\s*"([A-Z][A-Z0-9_]+)\"""", source))
    return read


def alarms_on(resources: Resources, namespace: str, metric: str, dimension: dict[str, Any]) -> list[str]:
    return [
        name
        for name, alarm in of_type(resources, "AWS::CloudWatch::Alarm").items()
        if alarm["Properties"]["Namespace"] == namespace
        and alarm["Properties"]["MetricName"] == metric
        and dimension in alarm["Properties"]["Dimensions"]
    ]


def dead_letter_queues(resources: Resources) -> set[str]:
    """Every queue that holds dead letters: functions' on-failure queues and redrive targets."""
    queues = {dead_letter_queue(f) for f in functions(resources).values()}
    for holder in [
        *of_type(resources, "AWS::SQS::Queue").values(),
        *of_type(resources, "AWS::SNS::Subscription").values(),
    ]:
        redrive = holder["Properties"].get("RedrivePolicy")
        if redrive:
            queues.add(getatt(redrive["deadLetterTargetArn"])[0])
    return queues


def worker_mapping(resources: Resources) -> dict[str, Any]:
    mappings = [
        m["Properties"]
        for m in of_type(resources, "AWS::Lambda::EventSourceMapping").values()
        if m["Properties"]["FunctionName"] == {"Ref": "WorkerFunction"}
    ]
    assert len(mappings) == 1, "the worker needs exactly one event source mapping"
    return mappings[0]


def dashboard(resources: Resources) -> tuple[dict[str, Any], set[tuple[str, str | None]]]:
    boards = of_type(resources, "AWS::CloudWatch::Dashboard")
    assert len(boards) == 1
    body, references = parse_sub_json(next(iter(boards.values()))["Properties"]["DashboardBody"])
    return body, references


def dashboard_metrics(resources: Resources) -> list[list[Any]]:
    body, _ = dashboard(resources)
    metrics: list[list[Any]] = []
    for widget in body["widgets"]:
        if widget["type"] == "metric":
            metrics.extend(widget["properties"]["metrics"])
    return metrics


def metric_key(metric: list[Any]) -> tuple[str, ...]:
    """Namespace, name and dimension pairs of a dashboard metric (without its options object)."""
    return tuple(str(part) for part in metric if not isinstance(part, dict))


# ---------------------------------------------------------------- the loader itself


def test_loader_expands_short_form_tags(tmp_path: Path) -> None:
    path = tmp_path / "t.yaml"
    path.write_text(
        "A: !Ref X\n"
        "B: !GetAtt Res.Outputs.Name\n"
        "C: !Sub 'arn:${AWS::Partition}:x'\n"
        "D: !If [Cond, !Ref Y, !Ref AWS::NoValue]\n"
        "E: !Not [!Equals [!Ref P, '']]\n"
        "F: !Join ['', [a, !Select [0, !Split [',', 'b,c']]]]\n"
        "G: !And [!Condition C1, !Not [!Condition C2]]\n"
    )
    data = load_cfn_yaml(path)
    assert data["A"] == {"Ref": "X"}
    assert data["B"] == {"Fn::GetAtt": ["Res", "Outputs.Name"]}
    assert data["C"] == {"Fn::Sub": "arn:${AWS::Partition}:x"}
    assert data["D"] == {"Fn::If": ["Cond", {"Ref": "Y"}, {"Ref": "AWS::NoValue"}]}
    assert data["E"] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "P"}, ""]}]}
    assert data["F"] == {"Fn::Join": ["", ["a", {"Fn::Select": [0, {"Fn::Split": [",", "b,c"]}]}]]}
    assert data["G"] == {"Fn::And": [{"Condition": "C1"}, {"Fn::Not": [{"Condition": "C2"}]}]}


def test_sub_json_placeholders() -> None:
    body, references = parse_sub_json({"Fn::Sub": '{"a": "${Fn}", "b": ["${Q.QueueName}", "${AWS::Region}"]}'})
    assert body == {"a": "<Fn>", "b": ["<Q.QueueName>", "<AWS::Region>"]}
    assert references == {("Fn", None), ("Q", "QueueName"), ("AWS::Region", None)}


# ---------------------------------------------------------------- functions and build


def test_globals_runtime_and_observability(hub_template: dict[str, Any]) -> None:
    glob = hub_template["Globals"]["Function"]
    assert glob["Runtime"] == "python3.13"
    assert glob["Architectures"] == ["arm64"]
    assert glob["Tracing"] == "Active"
    assert {"Ref": "PeeringLayer"} in glob["Layers"]
    env = glob["Environment"]["Variables"]
    assert env["POWERTOOLS_METRICS_NAMESPACE"] == "PeeringAutopilot"
    assert env["POWERTOOLS_SERVICE_NAME"]


def test_the_function_set(resources: Resources) -> None:
    assert set(functions(resources)) == set(TRIGGERS) == set(FUNCTION_ACTIONS)


def test_builds_need_neither_docker_nor_python313(resources: Resources) -> None:
    layer = resources["PeeringLayer"]
    assert layer["Type"] == "AWS::Serverless::LayerVersion"
    assert layer["Metadata"]["BuildMethod"] == "makefile"
    assert layer["Properties"]["CompatibleRuntimes"] == ["python3.13"]
    assert layer["Properties"]["CompatibleArchitectures"] == ["arm64"]
    layer_make = (ROOT / layer["Properties"]["ContentUri"] / "Makefile").read_text()
    assert re.search(r"^build-PeeringLayer:", layer_make, re.MULTILINE)
    assert re.search(r"^PLATFORM \?= manylinux2014_aarch64$", layer_make, re.MULTILINE)
    assert "--platform $(PLATFORM)" in layer_make
    assert "--python-version 3.13" in layer_make

    for name, function in functions(resources).items():
        metadata = function["Metadata"]
        assert metadata["BuildMethod"] == "makefile", name
        makefile = (ROOT / metadata["ContextPath"] / "Makefile").read_text()
        targets = re.findall(r"^(build-[\w%]+):", makefile, re.MULTILINE)
        assert any(re.fullmatch(t.replace("%", r"\w+"), f"build-{name}") for t in targets), name
        code = ROOT / function["Properties"]["CodeUri"] / "app.py"
        assert code.is_file(), f"{name}: {code} is missing"
        assert function["Properties"].get("Handler", "app.lambda_handler") == "app.lambda_handler"
        assert "def lambda_handler(" in code.read_text(), name


def test_layer_ships_the_pinned_closure_without_boto(resources: Resources) -> None:
    requirements = (ROOT / resources["PeeringLayer"]["Properties"]["ContentUri"] / "requirements.txt").read_text()
    pins = dict(line.split("==") for line in requirements.splitlines() if line.strip() and not line.startswith("#"))
    assert {"aws-lambda-powertools", "pydantic", "pydantic-core", "pyyaml", "aws-xray-sdk"} <= set(pins)
    assert not {"boto3", "botocore"} & set(pins), "the Lambda runtime provides boto3/botocore"
    dev = (ROOT / "requirements" / "dev.txt").read_text().lower().replace("_", "-")
    for package, version in pins.items():
        assert f"{package.lower()}=={version}" in dev, f"{package}=={version} differs from requirements/dev.txt"


# ---------------------------------------------------------------- settings


CONFIG_SETTINGS = env_reads(PACKAGE / "runtime" / "config.py")
# AWS_REGION / AWS_DEFAULT_REGION are set by the Lambda runtime itself (reserved names).
SWEEP_SETTINGS = {
    name
    for module in ("fan_out.py", "messages.py")
    for name in env_reads(PACKAGE / "sweep" / module)
    if not name.startswith("AWS_")
}


def test_the_settings_are_found() -> None:
    # Guards the regexes: if the code changes how it reads settings, this fails, not the checks below.
    assert {"LEDGER_TABLE", "POLICY_PARAMETER", "EVENT_BUS_NAME", "ACTIVE_PEERINGS_QUOTA", "DRY_RUN"} <= CONFIG_SETTINGS
    assert {"SWEEP_QUEUE_URL", "SWEEP_REGIONS", "SWEEP_ACCOUNTS"} <= SWEEP_SETTINGS


@pytest.mark.parametrize("name", sorted(TRIGGERS))
def test_every_setting_the_code_reads_is_set(hub_template: dict[str, Any], resources: Resources, name: str) -> None:
    function = resources[name]
    env = effective_env(hub_template, function)
    source = handler_source(function)
    # Every handler builds Settings.from_env (directly or through peering.lifecycle.handler.handle).
    assert "handle(" in source or "Settings.from_env" in source, name
    assert set(env) >= CONFIG_SETTINGS, f"{name} lacks {sorted(CONFIG_SETTINGS - set(env))}"
    needs_sweep = "fan_out(" in source or "SweepSettings" in source
    hands_back = "converge_in_time" in source  # a target out of time is queued again
    lists_only = "list_targets(" in source and "fan_out(" not in source  # the map function: no queue
    if lists_only:
        assert SWEEP_SETTINGS & set(env) == {"SWEEP_REGIONS", "SWEEP_ACCOUNTS"}, f"{name}: the targets only"
    elif needs_sweep:
        assert set(env) >= SWEEP_SETTINGS, f"{name} lacks {sorted(SWEEP_SETTINGS - set(env))}"
    elif hands_back:
        assert SWEEP_SETTINGS & set(env) == {"SWEEP_QUEUE_URL"}, f"{name} needs the sweep queue only"
    else:
        assert not SWEEP_SETTINGS & set(env), f"{name} does not fan out: no sweep settings"


def test_settings_values(hub_template: dict[str, Any], resources: Resources) -> None:
    env = hub_template["Globals"]["Function"]["Environment"]["Variables"]
    assert env["LEDGER_TABLE"] == {"Ref": "LedgerTable"}
    assert env["TOPIC_ARN"] == TOPIC
    assert env["POLICY_PARAMETER"] == {"Ref": "PolicyParameter"}
    assert env["EVENT_BUS_NAME"] == PEERING_BUS
    assert env["DRY_RUN"] == {"Ref": "DryRun"}
    assert env["MEMBER_ROLE_NAME"] == {"Ref": "MemberRoleName"}
    assert env["EXTERNAL_ID"] == {"Ref": "ExternalId"}
    assert env["ACTIVE_PEERINGS_QUOTA"] == {"Ref": "ActivePeeringsQuota"}
    assert env["ROUTES_PER_TABLE_QUOTA"] == {"Ref": "RoutesPerTableQuota"}
    sweep = resources["SweepFunction"]["Properties"]["Environment"]["Variables"]
    assert sweep["SWEEP_QUEUE_URL"] == {"Ref": "SweepQueue"}
    published = {"Fn::If": ["PublishesMap", {"Ref": "MapBucket"}, {"Ref": "AWS::NoValue"}]}
    # The worker refuses a message for any account or Region the sweep's own settings do not cover.
    assert resources["WorkerFunction"]["Properties"]["Environment"]["Variables"] == {
        "SWEEP_QUEUE_URL": {"Ref": "SweepQueue"},
        "SWEEP_REGIONS": sweep["SWEEP_REGIONS"],
        "SWEEP_ACCOUNTS": sweep["SWEEP_ACCOUNTS"],
        "MAP_BUCKET": published,
    }
    # The sweep reads no fragment (issue 23); the map function draws the page of the sweep's targets.
    assert "MAP_BUCKET" not in sweep
    assert resources["MapFunction"]["Properties"]["Environment"]["Variables"] == {
        "SWEEP_REGIONS": sweep["SWEEP_REGIONS"],
        "SWEEP_ACCOUNTS": sweep["SWEEP_ACCOUNTS"],
        "MAP_BUCKET": {"Ref": "MapBucket"},
    }
    # Regions: the parameter, or the deployment Region when it is empty.
    assert sweep["SWEEP_REGIONS"] == {
        "Fn::If": ["HasRegions", {"Fn::Join": [",", {"Ref": "Regions"}]}, {"Ref": "AWS::Region"}]
    }
    # Accounts: the parameter (empty = the organization), or only this account without one.
    assert sweep["SWEEP_ACCOUNTS"] == {"Fn::If": ["SweepOwnAccountOnly", THIS_ACCOUNT, {"Ref": "SweepAccounts"}]}
    conditions = hub_template["Conditions"]
    assert conditions["SweepOwnAccountOnly"] == {
        "Fn::And": [{"Fn::Not": [{"Condition": "HasOrganization"}]}, {"Fn::Not": [{"Condition": "HasSweepAccounts"}]}]
    }
    assert conditions["HasSweepAccounts"] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "SweepAccounts"}, ""]}]}
    assert conditions["HasRegions"] == {"Fn::Not": [{"Fn::Equals": [{"Fn::Join": ["", {"Ref": "Regions"}]}, ""]}]}


def test_parameters(hub_template: dict[str, Any]) -> None:
    params = hub_template["Parameters"]
    assert params["Regions"]["Type"] == "CommaDelimitedList"
    assert params["Regions"]["Default"] == ""
    schedule = params["SweepSchedule"]
    assert schedule["Default"] == "rate(30 minutes)"  # failed connections are visible 2 hours only
    assert re.fullmatch(schedule["AllowedPattern"], schedule["Default"])
    assert re.fullmatch(schedule["AllowedPattern"], "cron(0/15 * * * ? *)")
    assert not re.fullmatch(schedule["AllowedPattern"], "every 30 minutes")
    accounts = params["SweepAccounts"]
    assert accounts["Default"] == ""
    for good in ("", "111111111111", "111111111111,222222222222"):
        assert re.fullmatch(accounts["AllowedPattern"], good), good
    for bad in ("1111", "111111111111,", "111111111111, 222222222222"):
        assert not re.fullmatch(accounts["AllowedPattern"], bad), bad
    assert params["AllowSecurityGroupRevocation"]["Default"] == "false"
    assert params["ExternalId"]["NoEcho"] is True
    for kept in ("OrganizationId", "MemberRoleName", "PolicyParameterName", "DryRun", "NotificationEmail"):
        assert kept in params
    assert {"LogRetentionDays", "ActivePeeringsQuota", "RoutesPerTableQuota"} <= set(params)


def test_organization_requires_an_external_id(hub_template: dict[str, Any]) -> None:
    rule = hub_template["Rules"]["OrganizationNeedsExternalId"]
    assert rule["RuleCondition"] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "OrganizationId"}, ""]}]}
    assert rule["Assertions"][0]["Assert"] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "ExternalId"}, ""]}]}


def test_timeouts(hub_template: dict[str, Any], resources: Resources) -> None:
    wait = int(hub_template["Globals"]["Function"]["Environment"]["Variables"]["ACTIVATION_WAIT_SECONDS"])
    default = hub_template["Globals"]["Function"]["Timeout"]
    configure = effective(hub_template, resources["ConfigureFunction"], "Timeout")
    # A CIDR change re-converges every active connection of the VPC, each of which may wait.
    assert configure > default
    assert configure >= 10 * wait
    for name, function in functions(resources).items():
        timeout = effective(hub_template, function, "Timeout")
        assert timeout < function["Properties"]["EventInvokeConfig"]["MaximumEventAgeInSeconds"], name


# ---------------------------------------------------------------- events in


@pytest.mark.parametrize("name", sorted(TRIGGERS))
def test_rules_match_the_triggers_on_both_buses(resources: Resources, name: str) -> None:
    """CloudTrail events on both buses (the hub's own calls and the members' forwarded ones);
    operator events on the peering bus only, whose policy names the operators."""
    events = events_of(resources[name], "EventBridgeRule")
    found = sorted((bus_of(p), json.dumps(normalized(p["Pattern"]), sort_keys=True)) for p in events.values())
    expected = sorted(
        (bus, json.dumps(normalized(pattern), sort_keys=True))
        for pattern in TRIGGERS[name]
        for bus in (
            (bus_of({"EventBusName": PEERING_BUS}),)
            if pattern["source"] == [OPERATOR_SOURCE]
            else (bus_of({}),)
            if pattern["source"] == ["aws.ssm"]
            else (bus_of({}), bus_of({"EventBusName": PEERING_BUS}))
        )
    )
    assert found == expected


@pytest.mark.parametrize("name", sorted(TRIGGERS))
def test_rules_match_what_the_handler_accepts(resources: Resources, name: str) -> None:
    """The CloudTrail eventNames a function's rules deliver are exactly those its handler handles."""
    function = resources[name]
    handled = set(
        re.findall(r'"((?:Create|Accept|Reject|Delete|Modify|Associate|Disassociate)Vpc\w+)"', handler_source(function))
    )
    delivered = {
        event_name
        for props in events_of(function, "EventBridgeRule").values()
        if props["Pattern"]["source"] == ["aws.ec2"]
        for event_name in props["Pattern"].get("detail", {}).get("eventName", [])
    }
    assert delivered == handled


def test_policy_changes_reach_one_function_from_the_hub_default_bus_only(resources: Resources) -> None:
    """The parameter lives in the hub: its writes are recorded on the hub's default bus, and only
    writes to the policy parameter itself are delivered, to the function that notifies them."""
    found = {
        (name, rule_id): props
        for name, function in functions(resources).items()
        for rule_id, props in events_of(function, "EventBridgeRule").items()
        if props["Pattern"]["source"] == ["aws.ssm"]
    }
    assert list(found) == [("SweepFunction", "PolicyChangedOnDefaultBus")]
    props = found["SweepFunction", "PolicyChangedOnDefaultBus"]
    assert "EventBusName" not in props
    assert props["Pattern"]["detail"]["requestParameters"] == {"name": [POLICY_PARAMETER]}
    assert "notify_policy_change" in handler_source(resources["SweepFunction"])
    sample = json.loads((ROOT / "events" / f"{POLICY_CHANGE_EVENT}__policy.json").read_text())
    assert matches(props["Pattern"], sample, HUB_ACCOUNT)
    other = {**sample, "detail": {**sample["detail"], "requestParameters": {"name": "/team/other"}}}
    assert not matches(props["Pattern"], other, HUB_ACCOUNT)
    failed = {**sample, "detail": {**sample["detail"], "errorCode": "AccessDenied"}}
    assert not matches(props["Pattern"], failed, HUB_ACCOUNT)


def matches(pattern: Any, event: Any, account: str) -> bool:
    """EventBridge matching for the pattern forms the templates use (value lists, nesting)."""
    if isinstance(pattern, dict):
        if not isinstance(event, dict):
            return False
        for key, value in pattern.items():
            if value == [{"exists": False}]:
                if key in event:
                    return False
            elif key not in event or not matches(value, event[key], account):
                return False
        return True
    resolved = {json.dumps(THIS_ACCOUNT): account, json.dumps(POLICY_PARAMETER): DEFAULT_POLICY_PARAMETER}
    allowed = [resolved.get(json.dumps(value, sort_keys=True), value) for value in pattern]
    return event in allowed


def receivers(resources: Resources, event: dict[str, Any], account: str) -> set[str]:
    """Functions a sample reaches, on either bus, if the stack runs in ``account``."""
    found = set()
    for name, function in functions(resources).items():
        for props in events_of(function, "EventBridgeRule").values():
            if matches(props["Pattern"], event, account):
                found.add(name)
        # A schedule delivers "Scheduled Event" envelopes from aws.events.
        if events_of(function, "Schedule") and (event["source"], event["detail-type"]) == (
            "aws.events",
            "Scheduled Event",
        ):
            found.add(name)
    return found


SAMPLES = sorted((ROOT / "events").glob("*.json"))
HUB_ACCOUNT = "111111111111"  # the demo hub account of the samples (events/README.md)


def test_the_matcher() -> None:
    pattern = operator_pattern(APPROVE_DETAIL_TYPE)
    event = {"source": OPERATOR_SOURCE, "detail-type": APPROVE_DETAIL_TYPE, "account": HUB_ACCOUNT, "detail": {}}
    assert matches(pattern, event, HUB_ACCOUNT)
    assert not matches(pattern, {**event, "account": "222222222222"}, HUB_ACCOUNT)
    assert not matches(pattern, {**event, "detail-type": REJECT_DETAIL_TYPE}, HUB_ACCOUNT)
    nested = cloudtrail_pattern("CreateVpcPeeringConnection")
    call = {"source": "aws.ec2", "detail-type": "AWS API Call via CloudTrail"}
    assert matches(
        nested, {**call, "detail": {"eventSource": "ec2.amazonaws.com", "eventName": "CreateVpcPeeringConnection"}}, "1"
    )
    assert not matches(nested, {**call, "detail": {"eventSource": "ec2.amazonaws.com", "eventName": "CreateVpc"}}, "1")
    assert not matches(nested, call, "1")


@pytest.mark.parametrize("path", SAMPLES, ids=[p.name for p in SAMPLES])
def test_every_sample_event_reaches_exactly_one_function(resources: Resources, path: Path) -> None:
    event = json.loads(path.read_text())
    reached = receivers(resources, event, HUB_ACCOUNT)
    if "errorCode" in event.get("detail", {}):
        assert reached == set(), f"{path.name}: a failed call reaches {sorted(reached)}"
        return
    if event.get("detail-type") == "Scheduled Event":
        # The schedule starts the sweep and, with PublishMap=true, the map function beside it.
        assert reached == {"SweepFunction", "MapFunction"}, path.name
        return
    assert len(reached) == 1, f"{path.name} reaches {sorted(reached) or 'no function'}"
    if event["source"] == OPERATOR_SOURCE:
        # The same request put by a member account reaches nothing.
        assert receivers(resources, {**event, "account": "222222222222"}, HUB_ACCOUNT) == set()


def test_only_functions_with_no_other_trigger_lack_rules(resources: Resources) -> None:
    for name, function in functions(resources).items():
        if not rule_events(function):
            assert name == "WorkerFunction"


def test_sweep_runs_on_the_schedule_parameter(resources: Resources) -> None:
    schedules = events_of(resources["SweepFunction"], "Schedule", "ScheduleV2")
    assert len(schedules) == 1
    schedule = next(iter(schedules.values()))
    assert schedule["Schedule"] == {"Ref": "SweepSchedule"}
    # A classic EventBridge schedule: the handler parses "Scheduled Event" from aws.events.
    assert "Input" not in schedule
    assert "ScheduledEvent" in (PACKAGE / "core" / "events.py").read_text()
    # The map function draws the page on the same schedule, off the sweep's path (issue 23).
    (map_schedule,) = events_of(resources["MapFunction"], "Schedule", "ScheduleV2").values()
    assert map_schedule["Schedule"] == {"Ref": "SweepSchedule"}
    for name, function in functions(resources).items():
        if name not in ("SweepFunction", "MapFunction"):
            assert not events_of(function, "Schedule", "ScheduleV2"), name


def test_peering_bus_admits_only_the_organization(resources: Resources) -> None:
    bus = resources["PeeringEventBus"]
    assert bus["Properties"]["Name"] == "peering-autopilot"
    assert "PeeringEventBusPolicy" not in resources  # one policy, on the bus itself
    allow, _ = bus["Properties"]["Policy"]["Statement"]
    assert allow["Fn::If"][0] == "HasOrganization"
    statement = allow["Fn::If"][1]
    assert (statement["Effect"], statement["Action"], statement["Principal"]) == ("Allow", "events:PutEvents", "*")
    assert statement["Condition"] == {"StringEquals": {"aws:PrincipalOrgID": {"Ref": "OrganizationId"}}}
    assert allow["Fn::If"][2] == {"Ref": "AWS::NoValue"}


def test_only_the_operator_principals_can_put_operator_events(
    hub_template: dict[str, Any], resources: Resources
) -> None:
    _, deny = resources["PeeringEventBus"]["Properties"]["Policy"]["Statement"]
    assert (deny["Effect"], deny["Action"], deny["Principal"]) == ("Deny", "events:PutEvents", "*")
    assert deny["Condition"]["StringEquals"] == {"events:source": OPERATOR_SOURCE}
    principals = deny["Condition"]["ArnNotLike"]["aws:PrincipalArn"]["Fn::If"]
    assert principals[0] == "HasOperatorPrincipals"
    assert principals[1] == {"Ref": "OperatorPrincipalArns"}
    # Nobody configured: the deny covers every real principal (no role has that name).
    assert "no-operator-configured" in principals[2][0]["Fn::Sub"]
    assert hub_template["Parameters"]["OperatorPrincipalArns"]["Default"] == ""
    assert hub_template["Conditions"]["HasOperatorPrincipals"] == {
        "Fn::Not": [{"Fn::Equals": [{"Fn::Join": ["", {"Ref": "OperatorPrincipalArns"}]}, ""]}]
    }


def test_operator_events_are_honoured_on_the_peering_bus_only(resources: Resources) -> None:
    for name, function in functions(resources).items():
        for event, props in events_of(function, "EventBridgeRule").items():
            if props["Pattern"].get("source") == [OPERATOR_SOURCE]:
                assert props.get("EventBusName") == {"Ref": "PeeringEventBus"}, f"{name}.{event}"


# ---------------------------------------------------------------- failures


@pytest.mark.parametrize("name", sorted(TRIGGERS))
def test_every_rule_target_retries_then_dead_letters(resources: Resources, name: str) -> None:
    function = resources[name]
    queue = dead_letter_queue(function)
    assert resources[queue]["Type"] == "AWS::SQS::Queue"
    invoke = function["Properties"]["EventInvokeConfig"]
    assert 0 <= invoke["MaximumRetryAttempts"] <= 2
    assert invoke["MaximumEventAgeInSeconds"] > 0
    for event, props in rule_events(function).items():
        assert props["RetryPolicy"]["MaximumRetryAttempts"] > 0, event
        assert props["RetryPolicy"]["MaximumEventAgeInSeconds"] > 0, event
        assert getatt(props["DeadLetterConfig"]["Arn"]) == (queue, "Arn"), event


def test_one_dead_letter_queue_per_function(resources: Resources) -> None:
    queues = {name: dead_letter_queue(function) for name, function in functions(resources).items()}
    assert set(queues) == set(FUNCTION_ACTIONS)
    assert len(set(queues.values())) == len(queues), "one dead-letter queue per function"
    # The worker's failures and the sweep queue's redrive land in the same place.
    redrive = resources["SweepQueue"]["Properties"]["RedrivePolicy"]
    assert getatt(redrive["deadLetterTargetArn"]) == (queues["WorkerFunction"], "Arn")


def test_queue_policies_admit_exactly_their_rules(resources: Resources) -> None:
    for name, function in functions(resources).items():
        queue = dead_letter_queue(function)
        policies = [
            p
            for p in of_type(resources, "AWS::SQS::QueuePolicy").values()
            if {"Ref": queue} in p["Properties"]["Queues"]
        ]
        assert len(policies) == 1, f"{queue} needs exactly one queue policy"
        statements = policies[0]["Properties"]["PolicyDocument"]["Statement"]
        allows = [s for s in statements if s["Effect"] == "Allow"]
        # SAM names the rule it generates for an event <function><event>.
        expected = {(f"{name}{event}", "Arn") for event in rule_events(function)}
        if not expected:
            assert allows == [], f"{queue}: no rule delivers to it, so nothing may send to it by policy"
            continue
        assert len(allows) == 1
        allow = allows[0]
        assert allow["Principal"] == {"Service": "events.amazonaws.com"}
        assert allow["Action"] == "sqs:SendMessage"
        assert getatt(allow["Resource"]) == (queue, "Arn")
        sources = allow["Condition"]["ArnEquals"]["aws:SourceArn"]
        assert {getatt(s) for s in as_list(sources)} == expected


def test_every_queue_is_encrypted_and_tls_only(resources: Resources) -> None:
    policies = of_type(resources, "AWS::SQS::QueuePolicy").values()
    for queue, body in of_type(resources, "AWS::SQS::Queue").items():
        props = body["Properties"]
        assert props.get("SqsManagedSseEnabled") or props.get("KmsMasterKeyId"), f"{queue} is not encrypted"
        statements = [
            s
            for p in policies
            if {"Ref": queue} in p["Properties"]["Queues"]
            for s in p["Properties"]["PolicyDocument"]["Statement"]
        ]
        assert any(
            s["Effect"] == "Deny"
            and s["Principal"] == "*"
            and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
            and getatt(s["Resource"]) == (queue, "Arn")
            for s in statements
        ), f"{queue} accepts plain HTTP"
    for queue in dead_letter_queues(resources):
        assert resources[queue]["Properties"]["MessageRetentionPeriod"] == 1209600, queue


# ---------------------------------------------------------------- the sweep queue and the worker


def test_sweep_queue_redrives_and_outlasts_the_worker(hub_template: dict[str, Any], resources: Resources) -> None:
    queue = resources["SweepQueue"]["Properties"]
    redrive = queue["RedrivePolicy"]
    assert getatt(redrive["deadLetterTargetArn"]) == ("SweepDeadLetterQueue", "Arn")
    assert redrive["maxReceiveCount"] == 3
    timeout = effective(hub_template, resources["WorkerFunction"], "Timeout")
    # Lambda's advice for SQS sources: visibility timeout at least six times the function timeout.
    assert queue["VisibilityTimeout"] >= 6 * timeout
    # A failing target must reach the dead-letter queue before it expires.
    assert queue["MessageRetentionPeriod"] > redrive["maxReceiveCount"] * queue["VisibilityTimeout"]
    dlq = resources["SweepDeadLetterQueue"]["Properties"]
    assert dlq["MessageRetentionPeriod"] > queue["MessageRetentionPeriod"]


def test_worker_consumes_the_sweep_queue_with_partial_batch_failures(resources: Resources) -> None:
    mapping = worker_mapping(resources)
    assert getatt(mapping["EventSourceArn"]) == ("SweepQueue", "Arn")
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping.get("Enabled", True) is True
    # The handler reports failed records, which is what ReportBatchItemFailures expects back.
    assert "process_partial_response" in handler_source(resources["WorkerFunction"])
    # No SAM SQS event: it would attach AWSLambdaSQSQueueExecutionRole (receive/delete on every queue).
    assert not events_of(resources["WorkerFunction"], "SQS")


def test_worker_concurrency_and_batch_size_are_parameters(hub_template: dict[str, Any], resources: Resources) -> None:
    mapping = worker_mapping(resources)
    params = hub_template["Parameters"]
    assert mapping["BatchSize"] == {"Ref": "SweepBatchSize"}
    assert mapping["ScalingConfig"]["MaximumConcurrency"] == {"Ref": "SweepConcurrency"}
    batch, concurrency = params["SweepBatchSize"], params["SweepConcurrency"]
    assert (batch["MinValue"], batch["MaxValue"]) == (1, 10)  # SQS's limit without a batching window
    assert (concurrency["MinValue"], concurrency["MaxValue"]) == (2, 1000)  # the mapping's limits
    # The defaults that sweep 10,000 account+Regions within the 30-minute schedule (BENCHMARKS.md).
    assert (batch["Default"], concurrency["Default"]) == (10, 20)


#: each event function, the parameter setting its reserved concurrency, and that parameter's default
RESERVED_CONCURRENCY = {
    "AcceptFunction": ("AcceptFunctionConcurrency", "5"),
    "OperatorFunction": ("OperatorFunctionConcurrency", "2"),
    "ConfigureFunction": ("ConfigureFunctionConcurrency", "10"),
    "CleanupFunction": ("CleanupFunctionConcurrency", "5"),
    "SweepFunction": ("SweepFunctionConcurrency", "2"),
}


def test_each_event_function_reserves_the_concurrency_its_parameter_sets(
    hub_template: dict[str, Any], resources: Resources
) -> None:
    params, conditions = hub_template["Parameters"], hub_template["Conditions"]
    assert set(RESERVED_CONCURRENCY) == set(functions(resources)) - {"WorkerFunction", "MapFunction"}
    for function, (parameter, default) in RESERVED_CONCURRENCY.items():
        reserved = resources[function]["Properties"]["ReservedConcurrentExecutions"]
        condition = reserved["Fn::If"][0]
        # 0 must omit the property: a reservation of 0 throttles every event.
        assert reserved == {"Fn::If": [condition, {"Ref": parameter}, {"Ref": "AWS::NoValue"}]}, function
        assert conditions[condition] == {"Fn::Not": [{"Fn::Equals": [{"Ref": parameter}, "0"]}]}, function
        spec = params[parameter]
        assert spec["Default"] == default, parameter
        # The condition compares text: only one spelling of zero may get through.
        for good in ("0", "1", "10", "999"):
            assert re.fullmatch(spec["AllowedPattern"], good), (parameter, good)
        for bad in ("00", "010", "-1", "1000", "", " 5", "5.0", "1e3"):
            assert not re.fullmatch(spec["AllowedPattern"], bad), (parameter, bad)
    # The worker is bounded by its event source mapping (SweepConcurrency), not by a reservation.
    assert "ReservedConcurrentExecutions" not in resources["WorkerFunction"]["Properties"]
    # The map's page is drawn on a schedule, one at a time: a fixed reservation, no parameter.
    assert resources["MapFunction"]["Properties"]["ReservedConcurrentExecutions"] == 1


def test_the_default_reservations_leave_the_account_its_unreserved_minimum(hub_template: dict[str, Any]) -> None:
    """Lambda refuses a reservation that leaves fewer than 100 unreserved executions in the Region;
    the defaults total far less than the default 1,000 minus that minimum (docs/deploy.md)."""
    params = hub_template["Parameters"]
    total = sum(int(params[parameter]["Default"]) for parameter, _ in RESERVED_CONCURRENCY.values())
    assert total == 24
    assert total <= 1_000 - 100


def test_sweep_fans_out_to_the_queue_the_worker_reads(resources: Resources) -> None:
    sweep = resources["SweepFunction"]["Properties"]["Environment"]["Variables"]
    assert sweep["SWEEP_QUEUE_URL"] == {"Ref": getatt(worker_mapping(resources)["EventSourceArn"])[0]}


# ---------------------------------------------------------------- alarms, logs, dashboard


def test_alarms_for_every_function_and_queue(resources: Resources) -> None:
    for name in functions(resources):
        for metric in ("Errors", "Throttles"):
            found = alarms_on(resources, "AWS/Lambda", metric, {"Name": "FunctionName", "Value": {"Ref": name}})
            assert found, f"no {metric} alarm for {name}"
    dead_letters = dead_letter_queues(resources)
    assert "SweepDeadLetterQueue" in dead_letters
    for queue in of_type(resources, "AWS::SQS::Queue"):
        dimension = {"Name": "QueueName", "Value": {"Fn::GetAtt": [queue, "QueueName"]}}
        metric = "ApproximateNumberOfMessagesVisible" if queue in dead_letters else "ApproximateAgeOfOldestMessage"
        assert alarms_on(resources, "AWS/SQS", metric, dimension), f"no {metric} alarm for {queue}"
    for name, alarm in of_type(resources, "AWS::CloudWatch::Alarm").items():
        assert TOPIC in alarm["Properties"]["AlarmActions"], name
        assert alarm["Properties"]["Threshold"] >= 1, name
        assert alarm["Properties"]["TreatMissingData"] == "notBreaching", name


def test_dead_letter_alarms_fire_on_the_first_message(resources: Resources) -> None:
    for queue in dead_letter_queues(resources):
        dimension = {"Name": "QueueName", "Value": {"Fn::GetAtt": [queue, "QueueName"]}}
        for name in alarms_on(resources, "AWS/SQS", "ApproximateNumberOfMessagesVisible", dimension):
            props = resources[name]["Properties"]
            assert props["Threshold"] == 1, name
            assert props["ComparisonOperator"] == "GreaterThanOrEqualToThreshold", name


def test_policy_invalid_alarm_uses_the_metrics_dimension(hub_template: dict[str, Any], resources: Resources) -> None:
    service = hub_template["Globals"]["Function"]["Environment"]["Variables"]["POWERTOOLS_SERVICE_NAME"]
    assert alarms_on(resources, "PeeringAutopilot", "PolicyInvalid", {"Name": "service", "Value": service})


def test_alarms_can_publish_to_the_encrypted_topic(resources: Resources) -> None:
    topic = resources["NotificationTopic"]["Properties"]
    key = topic["KmsMasterKeyId"]
    # The AWS managed alias/aws/sns key cannot grant CloudWatch: alarms would be dropped silently.
    assert key == {"Ref": "NotificationKey"}
    statements = resources["NotificationKey"]["Properties"]["KeyPolicy"]["Statement"]
    assert any(s.get("Principal") == {"Service": "cloudwatch.amazonaws.com"} for s in statements)
    assert resources["NotificationKey"]["Properties"]["EnableKeyRotation"] is True
    assert resources["NotificationEmailSubscription"]["Condition"] == "HasNotificationEmail"


def test_every_function_has_a_log_group_with_retention(resources: Resources) -> None:
    groups = of_type(resources, "AWS::Logs::LogGroup")
    names = set()
    for name, function in functions(resources).items():
        # Named from the stack, not the function: the role scopes logging to it without a cycle
        # (function -> role -> log group), and the group exists before the function's first log.
        group = function["Properties"]["LoggingConfig"]["LogGroup"]
        assert group == {"Ref": name.removesuffix("Function") + "LogGroup"}, name
        properties = groups[group["Ref"]]["Properties"]
        assert sub_text(properties["LogGroupName"]).startswith("/aws/lambda/${AWS::StackName}-"), name
        assert properties["RetentionInDays"] == {"Ref": "LogRetentionDays"}
        names.add(sub_text(properties["LogGroupName"]))
    assert len(names) == len(functions(resources))


def test_dashboard_shows_the_engine_metrics(hub_template: dict[str, Any], resources: Resources) -> None:
    services = {effective_env(hub_template, f)["POWERTOOLS_SERVICE_NAME"] for f in functions(resources).values()}
    assert len(services) == 1, "one service name: the dashboard has one dimension value per metric"
    service = services.pop()
    namespace = hub_template["Globals"]["Function"]["Environment"]["Variables"]["POWERTOOLS_METRICS_NAMESPACE"]
    shown = {metric_key(m) for m in dashboard_metrics(resources)}
    source = "\n".join(p.read_text() for p in sorted(PACKAGE.rglob("*.py")))
    for topic, names in DASHBOARD_METRICS.items():
        for name in names:
            assert (namespace, name, "service", service) in shown, f"{topic}: {name} is not on the dashboard"
            assert f'"{name}"' in source, f"{name} is on the dashboard but the code never emits it"
    for key in shown:
        if key[0] == namespace:
            assert key[2:] == ("service", service), f"{key}: Powertools metrics have exactly the service dimension"


def test_dashboard_shows_every_function_and_dead_letter_queue(resources: Resources) -> None:
    shown = {metric_key(m) for m in dashboard_metrics(resources)}
    for name, function in functions(resources).items():
        if "Condition" in function:
            continue  # the dashboard cannot name a resource that may not exist; its alarms watch it
        for metric in ("Errors", "Throttles"):
            assert ("AWS/Lambda", metric, "FunctionName", f"<{name}>") in shown, f"{name} {metric}"
    for queue in dead_letter_queues(resources):
        if "Condition" in resources[queue]:
            continue
        key = ("AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", f"<{queue}.QueueName>")
        assert key in shown, queue


def test_dashboard_references_exist(resources: Resources) -> None:
    body, references = dashboard(resources)
    for resource, attribute in references:
        if resource.startswith("AWS::"):
            assert resource in {"AWS::Region", "AWS::StackName", "AWS::AccountId"}
            continue
        assert resource in resources, f"the dashboard names {resource}, which the template lacks"
        if attribute:
            assert attribute == "QueueName"
    for widget in body["widgets"]:
        if widget["type"] == "metric":
            assert widget["properties"]["region"] == "<AWS::Region>"


# ---------------------------------------------------------------- state


def test_ledger_table(resources: Resources) -> None:
    table = resources["LedgerTable"]
    assert table["DeletionPolicy"] == table["UpdateReplacePolicy"] == "Retain"
    props = table["Properties"]
    assert props["KeySchema"] == [
        {"AttributeName": "pk", "KeyType": "HASH"},
        {"AttributeName": "sk", "KeyType": "RANGE"},
    ]
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
    assert props["SSESpecification"]["SSEEnabled"] is True
    assert props["TimeToLiveSpecification"] == {"AttributeName": "expiresAt", "Enabled": True}


def test_default_policy_is_valid_and_holds_everything(resources: Resources) -> None:
    parameter = resources["PolicyParameter"]["Properties"]
    assert parameter["Name"] == {"Ref": "PolicyParameterName"}
    assert parameter["Type"] == "String"
    policy = parse_policy(parameter["Value"])  # the engine's own parser: what the functions will read
    assert policy.version == "default-hold-all"
    assert policy.rules == []


# ---------------------------------------------------------------- IAM


def test_mapping_matches_the_code() -> None:
    source = "\n".join(p.read_text() for p in sorted(PACKAGE.rglob("*.py")))
    mapped = set().union(*FUNCTION_ACTIONS.values())
    assert mapped | SUPPORT_ACTIONS == set(CODE_EVIDENCE), "CODE_EVIDENCE and FUNCTION_ACTIONS disagree"
    for action in mapped:
        evidence = CODE_EVIDENCE[action]
        if evidence is not None:
            assert evidence in source, f"{action} is mapped but the code no longer calls it"


def test_every_aws_call_in_the_code_is_mapped() -> None:
    """The reverse of the check above: any operation of a service the code makes clients for,
    called (client.op(...), client.op, or a paginator / paginate name "op"), must be mapped."""
    source = "\n".join(p.read_text() for p in sorted(PACKAGE.rglob("*.py")))
    source += "\n".join(p.read_text() for p in sorted((ROOT / "functions").glob("*/app.py")))
    services = set(re.findall(r"""\b(?:hub|client)\(\s*"([a-z0-9-]+)\"""", source))
    assert {"ec2", "sts", "dynamodb", "organizations", "sns", "sqs", "ssm"} <= services
    session = botocore.session.get_session()
    called: set[str] = set()
    for service in services:
        model = session.get_service_model(service)
        for operation in model.operation_names:
            snake = xform_name(operation)
            if re.search(rf'\.{snake}\b|"{snake}"', source):
                action = f"{model.signing_name}:{operation}"
                called.add(IAM_ACTION_OF.get(action, action))
    assert "ec2:AcceptVpcPeeringConnection" in called  # the search finds calls made through a variable
    mapped = set().union(*FUNCTION_ACTIONS.values())
    assert called - mapped == set(), "the code calls AWS operations no function is granted"


@pytest.mark.parametrize("name", sorted(FUNCTION_ACTIONS))
def test_functions_get_exactly_what_their_code_calls(resources: Resources, name: str) -> None:
    grants = function_grants(resources, name)
    expected = FUNCTION_ACTIONS[name] | SUPPORT_ACTIONS
    everything = granted(grants)
    assert everything - expected == set(), f"{name} is granted more than its code calls"
    assert expected - everything == set(), f"{name} lacks permissions its code needs"
    assert not any("*" in action for action in everything), "no wildcard actions"
    # Conditional actions are granted only under their condition, and nothing else is conditional;
    # a function that exists only under that condition (the map function) grants them plainly.
    exists_if = resources[name].get("Condition")
    conditional = {a for a in expected if a in ACTION_CONDITIONS and ACTION_CONDITIONS[a] != exists_if}
    assert granted(grants, conditional=True) == conditional
    assert not granted(grants, conditional=False) & conditional
    for grant in grants:
        if grant.condition is not None:
            assert {ACTION_CONDITIONS[a] for a in grant.actions} == {grant.condition}


def test_every_function_runs_under_a_role_of_its_own(resources: Resources) -> None:
    """A role SAM generates carries AWSLambdaBasicExecutionRole (logs on every log group) and,
    with Tracing: Active, AWSXrayWriteOnlyAccess: each function names a role declared here."""
    roles = of_type(resources, "AWS::IAM::Role")
    used = [getatt(f["Properties"]["Role"])[0] for f in functions(resources).values()]
    assert sorted(used) == sorted(set(used)), "a role is shared by two functions"
    for name, function in functions(resources).items():
        role = function_role(resources, name)["Properties"]
        assert role["AssumeRolePolicyDocument"]["Statement"] == [
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ]
        assert not {"ManagedPolicyArns", "PermissionsBoundary", "Path"} & set(role), name
        assert not {"Policies", "PermissionsBoundary"} & set(function["Properties"]), name
        # Poller events would have SAM add execution-role policies; with a role given it cannot,
        # and the function would fail to poll: the worker's queue has a mapping of its own.
        kinds = {event["Type"] for event in function["Properties"].get("Events", {}).values()}
        assert kinds <= {"EventBridgeRule", "Schedule"}, f"{name}: {kinds}"
    function_roles = {f"{name}Role" for name in functions(resources)}
    assert function_roles <= set(roles)


def test_no_function_may_create_log_groups_or_write_to_others(resources: Resources) -> None:
    for name in functions(resources):
        logs = [g for g in function_grants(resources, name) if any(a.startswith("logs:") for a in g.actions)]
        assert len(logs) == 1, name
        assert logs[0].actions == {"logs:CreateLogStream", "logs:PutLogEvents"}, name


def test_only_the_worker_deletes_connections_and_only_its_own_requests(resources: Resources) -> None:
    for name in functions(resources):
        grants = [g for g in function_grants(resources, name) if "ec2:DeleteVpcPeeringConnection" in g.actions]
        if name != "WorkerFunction":
            assert grants == [], name
            continue
        assert len(grants) == 1
        statement = grants[0].statement
        assert grants[0].actions == {"ec2:DeleteVpcPeeringConnection"}
        assert [sub_text(t) for t in grants[0].targets] == [ec2_arn("vpc-peering-connection")]
        assert statement["Condition"] == {"ArnLike": {"ec2:RequesterVpc": {"Fn::Sub": ec2_arn("vpc")}}}


def test_functions_cannot_do_each_others_work(resources: Resources) -> None:
    grants = {name: granted(function_grants(resources, name)) for name in functions(resources)}
    assert "ec2:DeleteRoute" not in grants["AcceptFunction"]
    assert "ec2:DeleteRoute" not in grants["OperatorFunction"]
    assert "ec2:AcceptVpcPeeringConnection" not in grants["ConfigureFunction"]
    assert "ec2:AcceptVpcPeeringConnection" not in grants["CleanupFunction"]
    assert not {"ec2:CreateRoute", "ec2:ReplaceRoute"} & grants["CleanupFunction"]
    assert not any(a.startswith(("ec2:", "sts:AssumeRole")) for a in grants["SweepFunction"])
    # The sweep touches the ledger only to publish the outbox: it reads no STATE, decides nothing.
    assert {a for a in grants["SweepFunction"] if a.startswith("dynamodb:")} == {
        "dynamodb:Query",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
    }


def test_revocation_is_opt_in(hub_template: dict[str, Any], resources: Resources) -> None:
    assert hub_template["Parameters"]["AllowSecurityGroupRevocation"]["Default"] == "false"
    assert hub_template["Conditions"]["CanRevokeSecurityGroupRules"] == {
        "Fn::Equals": [{"Ref": "AllowSecurityGroupRevocation"}, "true"]
    }
    revocations = {a for a, condition in ACTION_CONDITIONS.items() if condition == "CanRevokeSecurityGroupRules"}
    revoking = {name for name in functions(resources) if granted(function_grants(resources, name)) & revocations}
    assert revoking == {"CleanupFunction", "WorkerFunction"}


def test_the_peering_map_is_opt_in_private_and_least_privilege(
    hub_template: dict[str, Any], resources: Resources
) -> None:
    assert hub_template["Parameters"]["PublishMap"]["Default"] == "false"
    assert hub_template["Conditions"]["PublishesMap"] == {"Fn::Equals": [{"Ref": "PublishMap"}, "true"]}
    # Nothing of the map exists without PublishMap=true.
    for name in ("MapBucket", "MapBucketPolicy"):
        assert resources[name]["Condition"] == "PublishesMap"
    assert hub_template["Outputs"]["MapBucketName"]["Condition"] == "PublishesMap"
    bucket = resources["MapBucket"]["Properties"]
    assert set(bucket["PublicAccessBlockConfiguration"].values()) == {True}
    assert bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]
    assert bucket["VersioningConfiguration"] == {"Status": "Enabled"}
    (rule,) = bucket["LifecycleConfiguration"]["Rules"]
    assert rule["NoncurrentVersionExpiration"]["NoncurrentDays"] > 0
    (tls,) = resources["MapBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert tls["Effect"] == "Deny"
    assert tls["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    # Who may touch the bucket, and where: the worker writes fragments, the map function reads them
    # and writes the page; the sweep never touches it (issue 23).
    s3 = {
        name: {
            (a, sub_text(t))
            for g in function_grants(resources, name)
            for a in g.actions
            if a.startswith("s3:")
            for t in g.targets
        }
        for name in functions(resources)
    }
    assert s3 == {
        "AcceptFunction": set(),
        "OperatorFunction": set(),
        "ConfigureFunction": set(),
        "CleanupFunction": set(),
        "WorkerFunction": {("s3:PutObject", "${MapBucket.Arn}/fragments/*")},
        "SweepFunction": set(),
        "MapFunction": {
            ("s3:GetObject", "${MapBucket.Arn}/fragments/*"),
            ("s3:PutObject", "${MapBucket.Arn}/peering-map.html"),
        },
    }
    # The map function and everything only it needs exist only with PublishMap=true.
    for name in ("MapFunction", "MapFunctionRole", "MapDeadLetterQueue", "MapDeadLetterQueuePolicy", "MapLogGroup"):
        assert resources[name]["Condition"] == "PublishesMap", name


@pytest.mark.parametrize("name", sorted(FUNCTION_ACTIONS))
def test_resources_are_scoped(resources: Resources, name: str) -> None:
    queue = dead_letter_queue(resources[name])
    for grant in function_grants(resources, name):
        assert_scoped(grant, name, queue)


def assert_scoped(grant: Grant, name: str, queue: str) -> None:  # noqa: PLR0912 - one branch per service
    actions, targets = grant.actions, grant.targets
    if "*" in targets:
        assert targets == ["*"]
        allowed_on_star = STAR_RESOURCE_ALLOWED | STAR_RESOURCE_WRITES
        assert actions <= allowed_on_star, f"{name}: {sorted(actions - allowed_on_star)} on '*'"
        # A write on "*" stands alone in its statement, so nothing else hides behind its reason.
        assert actions <= STAR_RESOURCE_ALLOWED or actions <= STAR_RESOURCE_WRITES, f"{name}: {sorted(actions)}"
        return
    services = {a.split(":")[0] for a in actions}
    assert len(services) == 1, f"{name}: one service per statement"
    service = services.pop()
    if service == "ec2":
        arns = {sub_text(t) for t in targets}
        allowed = {ec2_arn(kind) for action in actions for kind in EC2_RESOURCE_TYPES[action]}
        assert arns <= allowed, f"{name}: {sorted(arns - allowed)}"
        for action in actions:
            assert arns & {ec2_arn(kind) for kind in EC2_RESOURCE_TYPES[action]}, action
        if "ec2:CreateTags" in actions:
            assert grant.statement["Condition"] == TAG_KEYS_CONDITION
    elif service == "sts":
        assert targets == [{"Fn::Sub": "arn:${AWS::Partition}:iam::*:role/${MemberRoleName}"}]
    elif service == "dynamodb":
        assert targets == [{"Fn::GetAtt": ["LedgerTable", "Arn"]}]
    elif service == "sns":
        assert targets == [TOPIC]
    elif service == "kms":
        assert targets == [{"Fn::GetAtt": ["NotificationKey", "Arn"]}]
    elif service == "s3":
        # The map bucket's objects only (fragments, the page): never the bucket itself, never another.
        assert all(sub_text(t).startswith("${MapBucket.Arn}/") for t in targets), f"{name}: {targets}"
    elif service == "ssm":
        assert [sub_text(t) for t in targets] == [
            "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter${PolicyParameter}"
        ]
    elif service == "logs":
        # Streams and events of its own log group, which the stack creates: no CreateLogGroup.
        assert actions == {"logs:CreateLogStream", "logs:PutLogEvents"}, name
        group = name.removesuffix("Function") + "LogGroup"
        assert [sub_text(t) for t in targets] == [
            f"arn:${{AWS::Partition}}:logs:${{AWS::Region}}:${{AWS::AccountId}}:log-group:${{{group}}}:*"
        ], name
    elif service == "lambda":
        # Configure and cleanup continue themselves: each its own function, nothing else.
        assert actions == {"lambda:InvokeFunction"}, name
        assert [getatt(t) for t in targets] == [(name, "Arn")], name
    elif service == "sqs":
        queues = {getatt(t) for t in targets}
        if actions == {"sqs:SendMessage"}:
            # The sweep queues targets; the worker queues again a target it had no time to finish.
            sweeps = name in ("SweepFunction", "WorkerFunction")
            allowed_queues = {(queue, "Arn")} | ({("SweepQueue", "Arn")} if sweeps else set())
            assert queues <= allowed_queues, f"{name}: {queues}"
        else:
            assert name == "WorkerFunction"
            assert queues == {("SweepQueue", "Arn")}
    else:  # pragma: no cover - a new service needs a rule here
        pytest.fail(f"{name}: no scoping rule for {service}")


def test_the_engine_tag_prefix_matches_the_tag_condition() -> None:
    prefix = Settings.__dataclass_fields__["tag_prefix"].default
    assert TAG_KEYS_CONDITION["ForAllValues:StringLike"]["aws:TagKeys"] == [f"{prefix}:*"]


def test_conditions_on_peering_keys_name_only_connections(resources: Resources) -> None:
    """ec2:AccepterVpc / ec2:RequesterVpc exist only on the connection: a VPC resource in the same
    statement would never match, silently denying the action."""
    for name in functions(resources):
        for grant in function_grants(resources, name):
            keys = json.dumps(grant.statement.get("Condition", {}))
            if "ec2:AccepterVpc" in keys or "ec2:RequesterVpc" in keys:
                assert {sub_text(t) for t in grant.targets} == {ec2_arn("vpc-peering-connection")}, name


# ---------------------------------------------------------------- outputs for the member stack


def test_outputs_for_the_member_stack(hub_template: dict[str, Any], resources: Resources) -> None:
    outputs = hub_template["Outputs"]
    for name in functions(resources):
        assert outputs[f"{name}RoleArn"]["Value"] == {"Fn::GetAtt": [f"{name}Role", "Arn"]}
        assert outputs[f"{name}RoleArn"].get("Condition") == resources[name].get("Condition"), name
        assert outputs[f"{name}Name"]["Value"] == {"Ref": name}
    separator, roles = outputs["MemberTrustedRoleArns"]["Value"]["Fn::Join"]
    assert separator == ","
    trusted = {getatt(r)[0] for r in roles}
    assert trusted == {f"{name}Role" for name in FUNCTION_ACTIONS if assumes_member_role(name)}
    assert "SweepFunctionRole" not in trusted
    assert outputs["HubAccountId"]["Value"] == THIS_ACCOUNT
    assert outputs["PeeringEventBusArn"]["Value"] == {"Fn::GetAtt": ["PeeringEventBus", "Arn"]}
    assert outputs["SweepQueueUrl"]["Value"] == {"Ref": "SweepQueue"}
    for queue in dead_letter_queues(resources):
        assert outputs[f"{queue}Url"]["Value"] == {"Ref": queue}


def test_member_roles_are_assumed_only_in_the_organization(resources: Resources) -> None:
    for name in functions(resources):
        for grant in function_grants(resources, name):
            if "sts:AssumeRole" not in grant.actions:
                continue
            organization_only, single_account = grant.statement["Condition"]["Fn::If"][1:]
            assert grant.statement["Condition"]["Fn::If"][0] == "HasOrganization", name
            assert organization_only == {"StringEquals": {"aws:ResourceOrgID": {"Ref": "OrganizationId"}}}, name
            assert single_account == {"Ref": "AWS::NoValue"}, name


def test_the_topic_takes_tls_only(resources: Resources) -> None:
    policy = resources["NotificationTopicPolicy"]["Properties"]
    assert policy["Topics"] == [TOPIC]
    deny = policy["PolicyDocument"]["Statement"][0]
    assert (deny["Effect"], deny["Action"], deny["Principal"]) == ("Deny", "sns:Publish", "*")
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
