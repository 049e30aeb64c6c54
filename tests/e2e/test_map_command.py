"""``python -m runner map``, as a user runs it against an emulator, and ``--from-stack``.

Given a bootstrapped hub with a request between two of its VPCs, when the map is asked for, then
one HTML file holds the request with its state, nothing in AWS changed; and for a deployed stack
with PublishMap=true, a presigned link to the page its sweep wrote is printed.
"""

from __future__ import annotations

import json
from pathlib import Path

from emulation.server import MotoServer
from tests.e2e.conftest import client, run_cli
from tests.e2e.test_commands import bootstrapped, requested, snapshot

MAP_STACK = {
    "Resources": {"MapBucket": {"Type": "AWS::S3::Bucket"}},
    "Outputs": {"MapBucketName": {"Value": {"Ref": "MapBucket"}}},
}


def test_the_map_of_every_target_in_one_file_changing_nothing(server: MotoServer, tmp_path: Path) -> None:
    bootstrapped(server)
    pcx, a, b, _ = requested(server, tmp_path)
    before = snapshot(server, pcx, (a, b))
    out = tmp_path / "maps" / "peering.html"

    done = run_cli("map", "--out", str(out), endpoint=server.url)

    assert done.returncode == 0, done.stderr
    assert f"peering map: {out} (" in done.stdout
    assert "1 waiting" in done.stdout
    page = out.read_text()
    assert f'data-id="{pcx}" data-state="pending"' in page
    assert f'data-vpc="{a}"' in page
    assert f'data-vpc="{b}"' in page
    assert snapshot(server, pcx, (a, b)) == before


def test_a_link_to_the_deployed_map(server: MotoServer) -> None:
    cloudformation = client(server, "cloudformation")
    cloudformation.create_stack(StackName="hub", TemplateBody=json.dumps(MAP_STACK))
    bucket = cloudformation.describe_stacks(StackName="hub")["Stacks"][0]["Outputs"][0]["OutputValue"]

    done = run_cli("map", "--from-stack", "hub", "--expires", "600", endpoint=server.url)

    assert done.returncode == 0, done.stderr
    url = done.stdout.strip()
    assert bucket in url
    assert "peering-map.html" in url
    assert "X-Amz-Expires=600" in url or "Expires=" in url
    assert "Signature" in url


def test_a_stack_without_the_map_says_so(server: MotoServer) -> None:
    client(server, "cloudformation").create_stack(
        StackName="plain", TemplateBody=json.dumps({"Resources": {"B": {"Type": "AWS::S3::Bucket"}}})
    )

    done = run_cli("map", "--from-stack", "plain", endpoint=server.url)

    assert done.returncode != 0
    assert "PublishMap=true" in done.stderr
