"""runner.world runs a rule's function as Lambda runs an asynchronous invocation: a run that raises
is retried (the function's EventInvokeConfig, MaximumRetryAttempts 2), then the event goes to its
on-failure destination, the function's dead-letter queue, in Lambda's destination record."""

from __future__ import annotations

import json

import boto3

from emulation.server import MotoServer
from runner import EVENTS_DIR
from runner.bootstrap import bootstrap
from runner.cfn import Stack
from runner.demo import _isolated
from runner.world import ApiRecorder, World

HUB = "123456789012"


def test_a_function_that_raises_is_retried_twice_then_dead_lettered(server: MotoServer) -> None:
    with _isolated(server.url):
        # Given the hub's resources, and an operator function whose ledger table does not exist
        session = boto3.session.Session(region_name="us-east-1")
        sqs = session.client("sqs")
        stack = Stack.load(
            account=HUB, region="us-east-1", queue_url=lambda name: sqs.get_queue_url(QueueName=name)["QueueUrl"]
        )
        bootstrap(stack, session)
        world = World(stack, ApiRecorder(server.account_of), sqs=sqs, overrides={"LEDGER_TABLE": "no-such-table"})
        dead_lettered: list[tuple[str, str | None]] = []
        world.dead_letter_hooks.append(lambda function, _event, queue: dead_lettered.append((function, queue)))
        event = json.loads((EVENTS_DIR / "operator__approve.json").read_text(encoding="utf-8"))
        event["account"] = HUB

        # When an operator event reaches it through the peering bus's rule
        world.put(event, str(stack.ref("PeeringEventBus")), cause="test")
        world.run()

        # Then it ran three times, and the event is in its dead-letter queue with Lambda's record
        assert [(i.function, i.ok) for i in world.invocations] == [("OperatorFunction", False)] * 3
        messages = sqs.receive_message(QueueUrl=str(stack.output("OperatorDeadLetterQueueUrl"))).get("Messages", [])
        assert len(messages) == 1
        record = json.loads(messages[0]["Body"])
        assert record["requestContext"]["condition"] == "RetriesExhausted"
        assert record["requestContext"]["approximateInvokeCount"] == 3
        assert record["requestContext"]["functionArn"].endswith(":function:peering-autopilot-OperatorFunction:$LATEST")
        assert record["requestPayload"] == event
        assert record["responseContext"]["functionError"] == "Unhandled"
        assert record["responsePayload"]["errorType"] == "ResourceNotFoundException"
        assert dead_lettered == [("OperatorFunction", str(stack.get_att("OperatorDeadLetterQueue", "Arn")))]
