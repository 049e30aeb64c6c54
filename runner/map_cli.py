"""``python -m runner map``: the peering map, as one HTML file or as a link to the deployed hub's.

Locally (the standard AWS environment, e.g. AWS_ENDPOINT_URL for the emulator), every target of
the sweep (the SweepFunction's accounts and Regions) is observed with the functions' settings and
the same code the sweep runs (peering.map.publish.observe_map), then rendered to a file.
``--from-stack STACK`` reads the deployed stack's MapBucketName output and prints a SigV4
presigned URL of the page the sweep wrote (PublishMap=true), valid ``--expires`` seconds (at
most 7 days).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from botocore.config import Config

from runner.errors import CommandError
from runner.invoke import captured_output, function_environment, patched_environ

if TYPE_CHECKING:
    from runner.cfn import Stack

__all__ = ["MAX_LINK_SECONDS", "LinkLifetimeError", "MapWritten", "presigned_map_url", "write_map_file"]

MAP_BUCKET_OUTPUT = "MapBucketName"
MAX_LINK_SECONDS = 7 * 24 * 3600  # a SigV4 presigned URL is valid for at most 7 days


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
    from runner.model import find_function  # noqa: PLC0415 - the template's functions (development only)

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


class LinkLifetimeError(ValueError):
    """``--expires`` outside 1..MAX_LINK_SECONDS: no link is made."""


def presigned_map_url(session: Any, stack_name: str, expires: int) -> str:
    """A time-limited link to the page the deployed sweep wrote (the bucket itself stays private).

    Signed with SigV4 whatever botocore's default for the Region (some still sign S3 links with
    SigV2, which buckets created since June 2020 refuse); SigV4 caps a link at 7 days."""
    from peering.map.publish import MAP_KEY  # noqa: PLC0415

    if not 0 < expires <= MAX_LINK_SECONDS:
        raise LinkLifetimeError(
            f"--expires {expires}: a link lives 1 to {MAX_LINK_SECONDS:,} seconds (7 days, the SigV4 limit)"
        )
    stacks = session.client("cloudformation").describe_stacks(StackName=stack_name)["Stacks"]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}
    bucket = outputs.get(MAP_BUCKET_OUTPUT)
    if not bucket:
        raise CommandError(f"stack {stack_name} has no {MAP_BUCKET_OUTPUT} output: deploy it with PublishMap=true")
    # The stack's Region is the session's (describe_stacks found it there), so is its bucket's.
    s3 = session.client("s3", config=Config(signature_version="s3v4"))
    url: str = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": MAP_KEY}, ExpiresIn=expires)
    return url
