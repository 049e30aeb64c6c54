"""Fixtures for the end-to-end tests: a moto server (emulation.server) and the runner as a user runs it.

The commands run as subprocesses (``python -m runner ...``) with the standard AWS environment
pointing at the server, exactly as docs/try-it.md shows; only routing, which needs no AWS, is also
called in-process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

from emulation.server import MotoServer

ROOT = Path(__file__).resolve().parents[2]
REGION = "us-east-1"


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)


@pytest.fixture(scope="session")
def moto_server() -> Iterator[MotoServer]:
    with MotoServer() as server:
        yield server


@pytest.fixture
def server(moto_server: MotoServer) -> MotoServer:
    """The session's server, emptied for this test (moto's own reset; the patches stay)."""
    moto_server.reset()
    return moto_server


def runner_env(endpoint: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "POWERTOOLS_"))}
    env.update(
        {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": REGION,
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        }
    )
    if endpoint:
        env["AWS_ENDPOINT_URL"] = endpoint
    return env


def run_runner(*args: str, endpoint: str | None = None, timeout: float = 120) -> Run:
    done = subprocess.run(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "runner", *args],
        cwd=ROOT,
        env=runner_env(endpoint),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return Run(done.returncode, done.stdout, done.stderr)


def client(server: MotoServer, service: str, region: str = REGION, **credentials: str) -> Any:
    return boto3.client(  # type: ignore[call-overload]
        service,
        region_name=region,
        endpoint_url=server.url,
        aws_access_key_id=credentials.get("aws_access_key_id", "testing"),
        aws_secret_access_key=credentials.get("aws_secret_access_key", "testing"),
        aws_session_token=credentials.get("aws_session_token"),
    )
