"""``python -m runner map``, as a user runs it against an emulator, and ``--from-stack``.

Given a bootstrapped hub with a request between two of its VPCs, when the map is asked for, then
one HTML file holds the request with its state, nothing in AWS changed; and for a deployed stack
with PublishMap=true, a SigV4 presigned link to the page its sweep wrote is printed (at most 7 days).
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
    assert "X-Amz-Algorithm=AWS4-HMAC-SHA256" in url  # SigV4: buckets made since June 2020 refuse SigV2
    assert "X-Amz-Expires=600" in url
    assert "X-Amz-Signature=" in url
    assert "AWSAccessKeyId=" not in url


def test_a_link_longer_than_seven_days_is_refused(server: MotoServer) -> None:
    client(server, "cloudformation").create_stack(StackName="hub", TemplateBody=json.dumps(MAP_STACK))

    done = run_cli("map", "--from-stack", "hub", "--expires", "10000000", endpoint=server.url)

    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.strip().splitlines() == [
        "error: --expires 10000000: a link lives 1 to 604,800 seconds (7 days, the SigV4 limit)"
    ]


def test_a_stack_without_the_map_says_so(server: MotoServer) -> None:
    client(server, "cloudformation").create_stack(
        StackName="plain", TemplateBody=json.dumps({"Resources": {"B": {"Type": "AWS::S3::Bucket"}}})
    )

    done = run_cli("map", "--from-stack", "plain", endpoint=server.url)

    assert done.returncode != 0
    assert "PublishMap=true" in done.stderr
