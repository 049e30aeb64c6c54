"""``python -m runner route``: which of the template's rules meet an event, on which bus it arrives."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from emulation.cloudtrail import cloudtrail_event
from runner.cfn import Stack
from runner.cli import main
from runner.model import rules
from runner.routing import deliver
from tests.e2e.conftest import ROOT, run_runner

HUB = "111111111111"
CROSS_ACCOUNT = ROOT / "events" / "CreateVpcPeeringConnection__cross-account.json"


def route(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(["route", *args])
    return code, capsys.readouterr().out


def write(tmp_path: Path, event: dict[str, Any]) -> str:
    path = tmp_path / "event.json"
    path.write_text(json.dumps(event))
    return str(path)


def test_a_member_request_arrives_on_the_peering_bus_and_runs_the_accept_function(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out = route(capsys, str(CROSS_ACCOUNT), "--account", HUB, "--region", "us-east-1")

    assert code == 0
    assert "arrives: bus peering-autopilot" in out
    assert "member ForwardingRule" in out
    assert "AcceptFunctionCreateOnPeeringBus" in out
    assert "AcceptFunctionCreateOnDefaultBus" in out
    assert "runs:    AcceptFunction" in out


def test_json_output_lists_rules_buses_and_functions(capsys: pytest.CaptureFixture[str]) -> None:
    code, out = route(capsys, str(CROSS_ACCOUNT), "--account", HUB, "--region", "us-east-1", "--json")

    answer = json.loads(out)
    assert code == 0
    assert answer["arrives"]["bus"] == "peering-autopilot"
    assert {(m["rule"], m["bus"], m["function"]) for m in answer["matches"]} == {
        ("AcceptFunctionCreateOnDefaultBus", "default", "AcceptFunction"),
        ("AcceptFunctionCreateOnPeeringBus", "peering-autopilot", "AcceptFunction"),
    }
    assert answer["functions"] == ["AcceptFunction"]


def test_bus_option_keeps_the_rules_of_one_bus(capsys: pytest.CaptureFixture[str]) -> None:
    code, out = route(capsys, str(CROSS_ACCOUNT), "--account", HUB, "--bus", "default", "--json")

    assert code == 0
    assert [m["rule"] for m in json.loads(out)["matches"]] == ["AcceptFunctionCreateOnDefaultBus"]


def test_a_call_no_rule_wants_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    event = cloudtrail_event(
        "CreateRoute",
        account=HUB,
        region="us-east-1",
        request_parameters={"routeTableId": "rtb-0123456789abcdef0", "destinationCidrBlock": "10.1.0.0/16"},
        response_elements={"_return": True},
    )

    code, out = route(capsys, write(tmp_path, event), "--account", HUB)

    assert code == 1
    assert "none of the 11 rules matches" in out


def test_operator_events_count_only_from_the_hub_account(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    event = json.loads((ROOT / "events" / "operator__approve.json").read_text())

    assert route(capsys, write(tmp_path, event), "--account", HUB)[0] == 0
    code, out = route(capsys, write(tmp_path, event), "--account", "999999999999")
    assert code == 1
    assert "none of the" in out


def test_template_parameters_are_validated(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["route", str(CROSS_ACCOUNT), "--param", "DryRun=maybe"]) == 2
    assert "DryRun='maybe' is not one of true, false" in capsys.readouterr().err


def test_the_template_has_the_eleven_rules_sam_generates() -> None:
    found = {r.rule_id: (r.bus, r.functions) for r in rules(Stack.load(account=HUB, region="us-east-1"))}
    assert len(found) == 11
    assert found["SweepFunctionPolicyChangedOnDefaultBus"] == ("default", ("SweepFunction",))
    assert found["SweepFunctionScheduled"] == ("default", ("SweepFunction",))
    assert found["ConfigureFunctionConvergeOnPeeringBus"] == ("peering-autopilot", ("ConfigureFunction",))


@pytest.mark.parametrize(
    ("account", "region", "bus"),
    [
        (HUB, "us-east-1", "default"),  # the hub's own calls in its Region: its default bus
        (HUB, "eu-west-1", "peering-autopilot"),  # the hub in another Region: its member stack forwards
        ("222222222222", "us-east-1", "peering-autopilot"),
        ("222222222222", "eu-west-1", "peering-autopilot"),
    ],
)
def test_delivery_follows_the_member_template(account: str, region: str, bus: str) -> None:
    hub = Stack.load(account=HUB, region="us-east-1")
    event = cloudtrail_event(
        "DeleteVpcPeeringConnection",
        account=account,
        region=region,
        request_parameters={"vpcPeeringConnectionId": "pcx-0123456789abcdef0"},
        response_elements={"_return": True},
    )
    assert deliver(event, hub).bus == bus


def test_a_call_the_member_stack_does_not_forward_never_reaches_the_hub() -> None:
    hub = Stack.load(account=HUB, region="us-east-1")
    event = cloudtrail_event("CreateTags", account="222222222222", region="us-east-1", request_parameters={})
    assert deliver(event, hub).bus is None


def test_route_runs_as_a_command() -> None:
    done = run_runner("route", str(CROSS_ACCOUNT), "--account", HUB, "--json")
    assert done.returncode == 0, done.stderr
    assert done.json()["functions"] == ["AcceptFunction"]
