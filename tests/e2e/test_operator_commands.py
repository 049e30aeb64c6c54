"""``pending``, ``approve`` and ``policy publish`` as an operator runs them, against a moto server.

The hub is bootstrapped from the template (so the bus and ledger names come from it), a request
is held by the accept function, listed by ``pending``, approved with ``approve``; the event the
bus received is handed to the operator function, and the connection ends up active.
"""

from __future__ import annotations

import json
from pathlib import Path

from emulation.server import MotoServer
from tests.e2e.conftest import REGION, ROOT, client, run_cli
from tests.e2e.test_commands import HUB, LEDGER, bootstrapped, requested, status

BUS = "peering-autopilot"


def copy_operator_events(server: MotoServer) -> str:
    """A rule on the peering bus that copies operator events to a queue, to read what was sent."""
    sqs, events = client(server, "sqs"), client(server, "events")
    url = sqs.create_queue(QueueName="operator-events")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name="copy", EventBusName=BUS, EventPattern=json.dumps({"source": ["peering-autopilot.operator"]}))
    events.put_targets(Rule="copy", EventBusName=BUS, Targets=[{"Id": "queue", "Arn": arn}])
    return str(url)


def test_pending_then_approve_against_the_emulator(server: MotoServer, tmp_path: Path) -> None:
    bootstrapped(server)  # the default policy holds everything
    queue = copy_operator_events(server)
    pcx, _, _, create = requested(server, tmp_path)
    held = run_cli("invoke", "AcceptFunction", str(create), endpoint=server.url)
    assert held.returncode == 0, held.stderr

    pending = run_cli("pending", endpoint=server.url)
    assert pending.returncode == 0, pending.stderr
    assert pending.stdout.startswith(f"1 held request(s) in ledger {LEDGER} ({HUB}/{REGION})")
    assert "because no rule of policy default-hold-all matches" in pending.stdout

    approve = run_cli("approve", pcx, "--comment", "CHG-1", endpoint=server.url)
    assert approve.returncode == 0, approve.stderr
    assert f"sent Approve Peering Request for {pcx} to bus {BUS}" in approve.stdout
    [message] = client(server, "sqs").receive_message(QueueUrl=queue)["Messages"]
    event = {"account": HUB, **json.loads(message["Body"])}  # moto leaves out the sender's account
    event_file = tmp_path / "approve.json"
    event_file.write_text(json.dumps(event))

    decided = run_cli("invoke", "OperatorFunction", str(event_file), endpoint=server.url)
    assert decided.returncode == 0, decided.stderr
    assert status(server, pcx) == "active"
    assert run_cli("pending", endpoint=server.url).stdout.startswith("0 held request(s)")


def test_publish_to_the_emulator(server: MotoServer) -> None:
    bootstrapped(server)
    example = str(ROOT / "policy" / "example-policy.yaml")

    first = run_cli("policy", "publish", example, "--cases", "policy/example-cases.yaml", endpoint=server.url)
    again = run_cli("policy", "publish", example, endpoint=server.url)

    assert first.returncode == 0, first.stderr
    assert "(parameter version 2, was default-hold-all)" in first.stdout
    assert again.returncode == 1
    assert "is already published" in again.stderr
    parameter = client(server, "ssm").get_parameter(Name="/peering-autopilot/policy")["Parameter"]
    assert parameter["Value"] == Path(example).read_text(encoding="utf-8")
    assert parameter["Version"] == 2
