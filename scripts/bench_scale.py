"""Benchmark: a full sweep of an organization, through the deployed handlers, on moto in-process.

The sweep function lists the organization's accounts and queues one message per account+Region;
the worker function takes them from the queue in batches of the event source mapping's BatchSize
(10), as Lambda would. Each member account holds one active same-account connection. The first
sweep finds every route missing (drift: it installs them), the second finds nothing to do.
Figures are API calls: per sweep, per account+Region, by service.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import boto3
from moto import mock_aws

from bench_common import (
    HUB,
    REGION,
    ROOT,
    active_connection,
    by_service,
    client,
    counting,
    hub,
    organization,
    sqs_records,
)
from emulation import fidelity

BATCH_SIZE = 10  # template.yaml: SweepBatchSize default


class _Context:
    function_name = "bench"
    memory_limit_in_mb = 512
    invoked_function_arn = f"arn:aws:lambda:{REGION}:{HUB}:function:bench"
    aws_request_id = "bench"
    log_group_name = "/aws/lambda/bench"
    log_stream_name = "bench"

    def get_remaining_time_in_millis(self) -> int:
        return 600_000


def _function(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"bench_function_{name}", ROOT / "functions" / name / "app.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@dataclass(frozen=True)
class SweepFigures:
    targets: int
    drift: bool
    calls: dict[str, int]
    total: int

    def per_target(self, service: str) -> float:
        return self.calls.get(service, 0) / self.targets


def _sweep(queue_url: str, sweep: ModuleType, worker: ModuleType) -> dict[str, Any]:
    scheduled = json.loads((ROOT / "events" / "scheduled__sweep.json").read_text())
    quiet = contextlib.redirect_stdout(io.StringIO())  # the handlers' metrics (EMF) go to stdout
    with quiet:
        answer = sweep.lambda_handler(scheduled, _Context())
    sqs = boto3.client("sqs", region_name=REGION)
    failures = 0
    while True:
        batch = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=BATCH_SIZE).get("Messages", [])
        if not batch:
            break
        records = sqs_records(batch, "bench-sweep")
        with contextlib.redirect_stdout(io.StringIO()):
            result = worker.lambda_handler({"Records": records}, _Context())
        failures += len(result.get("batchItemFailures", []))
        # The event source mapping deletes what the function did not report as failed.
        sqs.delete_message_batch(
            QueueUrl=queue_url,
            Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)],
        )
    return {"targets": answer.get("targets"), "failures": failures}


def measure(targets: int) -> list[SweepFigures]:
    """Both sweeps (drift, then none) of an organization of ``targets`` account+Regions."""
    import os  # noqa: PLC0415

    figures = []
    with mock_aws():
        fidelity.enable()
        hub()
        members = organization(targets - 1)
        queue_url = boto3.client("sqs", region_name=REGION).create_queue(QueueName="bench-sweep")["QueueUrl"]
        os.environ.update({"SWEEP_QUEUE_URL": queue_url, "SWEEP_REGIONS": REGION})
        os.environ.pop("SWEEP_ACCOUNTS", None)
        for n, account in enumerate([HUB, *members]):
            active_connection(client("ec2", account), n)
        sweep, worker = _function("sweep"), _function("worker")
        for drift in (True, False):
            with counting() as calls:
                outcome = _sweep(queue_url, sweep, worker)
            if outcome["targets"] != targets or outcome["failures"]:
                raise RuntimeError(f"sweep of {targets} targets: {outcome}")
            by = {s: by_service(calls, s) for s in ("ec2", "sts", "organizations", "sqs", "dynamodb", "ssm", "sns")}
            figures.append(SweepFigures(targets, drift, by, sum(calls.values())))
    return figures


def table(results: list[SweepFigures]) -> str:
    lines = [
        "| account+Regions | drift | all calls | EC2 per target | STS per target | DynamoDB per target "
        "| Organizations | SQS | SSM |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r.targets} | {'every route missing' if r.drift else 'none'} | {r.total} "
            f"| {r.per_target('ec2'):.1f} | {r.per_target('sts'):.2f} | {r.per_target('dynamodb'):.1f} "
            f"| {r.calls['organizations']} | {r.calls['sqs']} | {r.calls['ssm']} |"
        )
    return "\n".join(lines)


def main(sizes: tuple[int, ...] = (10, 100)) -> str:
    return table([f for size in sizes for f in measure(size)])


if __name__ == "__main__":
    print(main())
