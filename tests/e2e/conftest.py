"""Fixtures for the end-to-end tests: a moto server (emulation.server) and the runner as a user runs it.

The commands run with the standard AWS environment pointing at the server, exactly as
docs/try-it.md shows: ``run_cli`` runs ``runner.cli.main`` in this process, with that environment
and none of the engine's process-wide caches (a new process has none), and captures what it
prints; ``run_runner`` starts ``python -m runner ...`` as a subprocess, for what only a new process
shows (the console entry, Powertools set up from a function's environment at import).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

from emulation.server import MotoServer
from peering.aws.clients import reset_shared_session
from runner.cli import main

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


@dataclass(frozen=True)
class PlayedDemo:
    """``make demo`` played to its end: its exit code, what it printed and how long it took."""

    returncode: int
    output: str  # stdout
    errors: str  # stderr
    seconds: float


@pytest.fixture(scope="session")
def played_demo() -> Iterator[PlayedDemo]:
    """``python -m runner demo``, played once per session (about a minute) for the tests that read
    its output or open the map it wrote. A subprocess, as a user runs it: in a process where other
    tests already imported the engine, its Powertools would not be the functions'. Its map and its
    functions' log are removed afterwards. The files that use it are one xdist group (XDIST_GROUPS)."""
    started = time.monotonic()
    done = run_runner("demo", timeout=180)
    played = PlayedDemo(done.returncode, done.stdout, done.stderr, time.monotonic() - started)
    yield played
    for pattern in (r"peering map: (\S+\.html) \(", r"function logs: (\S+)"):
        found = re.search(pattern, played.output)
        if found:
            Path(found.group(1)).unlink(missing_ok=True)


def _forget_engine_state() -> None:
    """What a new process would not have: the engine's boto3 session and its policy and
    organization caches (not imported here when not yet imported: see runner.demo)."""
    reset_shared_session()
    for module, reset in (("peering.aws.policy_store", "reset"), ("peering.aws.org", "clear_cache")):
        loaded = sys.modules.get(module)
        if loaded is not None:
            getattr(loaded, reset)()


def run_cli(*args: str, endpoint: str | None = None) -> Run:
    """``python -m runner ARGS`` in this process: the same environment as run_runner's, its exit
    code (SystemExit included), stdout and stderr; the environment is restored afterwards."""
    saved = dict(os.environ)
    stdout, stderr = io.StringIO(), io.StringIO()
    os.environ.clear()
    os.environ.update(runner_env(endpoint))
    _forget_engine_state()
    try:
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            try:
                code = main(list(args))
            except SystemExit as exc:  # argparse and the commands' own refusals
                if exc.code is None or isinstance(exc.code, int):
                    code = exc.code or 0
                else:  # a message: Python prints it and exits 1
                    print(exc.code, file=sys.stderr)
                    code = 1
    finally:
        _forget_engine_state()
        os.environ.clear()
        os.environ.update(saved)
    return Run(code, stdout.getvalue(), stderr.getvalue())


def client(server: MotoServer, service: str, region: str = REGION, **credentials: str) -> Any:
    return boto3.client(  # type: ignore[call-overload]
        service,
        region_name=region,
        endpoint_url=server.url,
        aws_access_key_id=credentials.get("aws_access_key_id", "testing"),
        aws_secret_access_key=credentials.get("aws_secret_access_key", "testing"),
        aws_session_token=credentials.get("aws_session_token"),
    )
