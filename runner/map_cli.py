"""``python -m runner map``: the peering map, as one HTML file or as a link to the deployed hub's.

Locally (the standard AWS environment, e.g. AWS_ENDPOINT_URL for the emulator), every target of
the sweep (the SweepFunction's accounts and Regions) is observed with the functions' settings and
the same code the sweep runs (peering.map.publish.observe_map), then rendered to a file.
``--from-stack STACK`` reads the deployed stack's MapBucketName output and prints a presigned URL
of the page the sweep wrote (PublishMap=true).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runner.cfn import Stack
from runner.invoke import captured_output, function_environment, patched_environ
from runner.model import find_function

__all__ = ["MapWritten", "presigned_map_url", "write_map_file"]

MAP_BUCKET_OUTPUT = "MapBucketName"


@dataclass(frozen=True)
class MapWritten:
    path: Path
    vpcs: int
    connections: int
    counts: dict[str, int]
    states: dict[str, str]  # connection id -> state
    findings: dict[str, list[str]]  # connection id -> finding kinds
    size: int

    def summary(self) -> str:
        counts = ", ".join(f"{n} {name}" for name, n in self.counts.items() if n)
        return f"{self.path} ({self.vpcs} VPCs, {self.connections} connections: {counts}; {self.size:,} bytes)"


def write_map_file(
    stack: Stack, *, account: str, region: str, path: Path, env: dict[str, str] | None = None
) -> MapWritten:
    """Observe every sweep target with the functions' settings and write the page to ``path``."""
    worker = function_environment(
        find_function(stack, "WorkerFunction"),
        account=account,
        region=region,
        overrides={"POWERTOOLS_LOG_LEVEL": "WARNING", **(env or {})},
    )
    sweep = find_function(stack, "SweepFunction").environment
    targets_env = {k: str(sweep[k]) for k in ("SWEEP_REGIONS", "SWEEP_ACCOUNTS") if sweep.get(k)}
    with patched_environ({**worker, **targets_env}), captured_output(sys.stderr):
        # The engine reads its Powertools settings when imported: import it in this environment.
        from peering.lifecycle.engine import Engine  # noqa: PLC0415
        from peering.map.publish import observe_map  # noqa: PLC0415
        from peering.map.render import render  # noqa: PLC0415
        from peering.runtime.config import Settings  # noqa: PLC0415
        from peering.sweep.fan_out import list_targets  # noqa: PLC0415
        from peering.sweep.messages import SweepSettings  # noqa: PLC0415

        engine = Engine(Settings.from_env())
        peering_map = observe_map(engine, list_targets(engine, SweepSettings.from_env()))
        page = render(peering_map)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page, encoding="utf-8")
    return MapWritten(
        path=path,
        vpcs=len(peering_map.vpcs),
        connections=len(peering_map.edges),
        counts=peering_map.counts(),
        states={e.connection_id: e.state for e in peering_map.edges},
        findings={e.connection_id: sorted({f.kind for f in e.findings}) for e in peering_map.edges},
        size=len(page.encode()),
    )


def presigned_map_url(session: Any, stack_name: str, expires: int) -> str:
    """A time-limited link to the page the deployed sweep wrote (the bucket itself stays private)."""
    from peering.map.publish import MAP_KEY  # noqa: PLC0415

    stacks = session.client("cloudformation").describe_stacks(StackName=stack_name)["Stacks"]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}
    bucket = outputs.get(MAP_BUCKET_OUTPUT)
    if not bucket:
        raise SystemExit(f"stack {stack_name} has no {MAP_BUCKET_OUTPUT} output: deploy it with PublishMap=true")
    url: str = session.client("s3").generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": MAP_KEY}, ExpiresIn=expires
    )
    return url
