"""The local sandbox (``python -m runner up``) for Python code: start it, read its endpoint and accounts.

``Sandbox`` starts ``python -m runner up`` in a subprocess on a free loopback port, waits until the
organization, the hub and its rules are ready, and stops it (Ctrl-C's clean path, SIGINT) when the
block ends::

    from runner.sandbox import Sandbox

    with Sandbox(sweep_every=5) as sandbox:
        sandbox.url                      # "http://127.0.0.1:<port>": the endpoint for every service
        sandbox.region                   # the hub's Region ("us-east-1")
        sandbox.regions                  # the Regions the sweep covers (("us-east-1", "eu-west-1"))
        sandbox.hub                      # the hub account's id
        sandbox.accounts                 # {"hub": "123456789012", "network-a": "222222222222",
                                         #  "analytics-b": "333333333333"}
        sandbox.outputs                  # what the deployed stack's outputs would say, same keys:
                                         # {"LedgerTableName": ..., "PeeringEventBusName": ...,
                                         #  "PolicyParameterName": ..., "NotificationTopicArn": ...,
                                         #  "HubAccountId": ..., "PeeringEventBusArn": ...}
        sandbox.credentials("222222222222")   # {"aws_access_key_id": ..., "aws_secret_access_key": ...}
        sandbox.credentials("network-a")      # (an account's name works too)
        sandbox.session("network-a", region="eu-west-1")   # a boto3 Session as that account
        sandbox.client("ec2", "network-a")                 # a boto3 client on the sandbox's endpoint
        sandbox.environment("network-a")      # os.environ additions for a subprocess (the AWS CLI):
                                              # AWS_ENDPOINT_URL, keys, AWS_DEFAULT_REGION, and
                                              # AWS_CONFIG_FILE/AWS_SHARED_CREDENTIALS_FILE=os.devnull
        sandbox.log_path                 # the file `up` writes its timeline to (one line per event
                                         # and decision)
        sandbox.output()                 # what `up` printed so far; sandbox.stop() -> its exit code
        sandbox.profiles_path            # an AWS CLI config file: profiles hub, network-a, analytics-b
                                         # (keys, region, endpoint_url), for AWS_CONFIG_FILE

The approval policy is the demo's (runner.demo.organization): requests from network-a (platform OU)
into VPCs tagged ``peering-autopilot:accept=true`` are accepted, hub-internal ones too, the rest held.

Nothing is written under ~/.aws. ``up`` (and its moto server) stop when the process that started
them is gone, even if it never reached ``stop()``.
``SandboxError`` says why it did not start, with the end of its output.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import Any

from runner import ROOT

__all__ = ["Sandbox", "SandboxError"]


class SandboxError(RuntimeError):
    """The sandbox did not start (or stopped): the message ends with what it printed."""


class Sandbox:
    """``python -m runner up`` in a subprocess; see the module's docstring for what it exposes."""

    def __init__(
        self,
        *,
        sweep_every: float | None = None,
        startup_timeout: float = 120.0,
        python: str = sys.executable,
        log_path: Path | None = None,
    ) -> None:
        self._sweep_every = sweep_every
        self._startup_timeout = startup_timeout
        self._python = python
        self._workdir = Path(tempfile.mkdtemp(prefix="peering-autopilot-sandbox-"))
        self.log_path = log_path or self._workdir / "up.log"
        self._state_path = self._workdir / "state.json"
        self._output_path = self._workdir / "output.txt"
        #: the accounts as AWS CLI profiles (hub, network-a, analytics-b), for AWS_CONFIG_FILE
        self.profiles_path = self._workdir / "aws-config"
        self._proc: subprocess.Popen[bytes] | None = None
        self._state: dict[str, Any] = {}

    # -- lifecycle --------------------------------------------------------------------------

    def start(self) -> Sandbox:
        if self._proc is not None:
            return self
        command = [self._python, "-m", "runner", "up", "--port", "0", "--state-file", str(self._state_path)]
        command += ["--log", str(self.log_path), "--write-profiles", str(self.profiles_path)]
        command += ["--parent-pid", str(os.getpid())]
        if self._sweep_every is not None:
            command += ["--sweep-every", str(self._sweep_every)]
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "POWERTOOLS_"))}
        env["PYTHONUNBUFFERED"] = "1"
        with self._output_path.open("wb") as output:
            self._proc = subprocess.Popen(  # noqa: S603 - our own interpreter and module, no shell
                command, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT
            )
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self) -> None:
        assert self._proc is not None
        deadline = time.monotonic() + self._startup_timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise SandboxError(f"runner up exited with {self._proc.returncode}:\n{self.output(40)}")
            if self._state_path.is_file():
                try:
                    self._state = json.loads(self._state_path.read_text(encoding="utf-8"))
                    return
                except ValueError:
                    pass  # being written
            time.sleep(0.2)
        raise SandboxError(f"runner up was not ready within {self._startup_timeout:.0f} s:\n{self.output(40)}")

    def output(self, lines: int = 0) -> str:
        """What ``up`` printed (its last ``lines`` lines when given)."""
        try:
            text = self._output_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return "(no output)"
        return "\n".join(text.splitlines()[-lines:]) if lines else text

    def stop(self, timeout: float = 20.0) -> int | None:
        """Interrupt ``up`` (as Ctrl-C does) and wait for it; its exit code."""
        proc, self._proc = self._proc, None
        if proc is None:
            return None
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=timeout)
        return proc.returncode

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()

    # -- what it exposes --------------------------------------------------------------------

    def _get(self, key: str) -> Any:
        if not self._state:
            raise SandboxError("the sandbox is not started")
        return self._state[key]

    @property
    def url(self) -> str:
        return str(self._get("url"))

    @property
    def region(self) -> str:
        return str(self._get("region"))

    @property
    def regions(self) -> tuple[str, ...]:
        return tuple(self._get("regions"))

    @property
    def hub(self) -> str:
        return str(self._get("hub"))

    @property
    def accounts(self) -> dict[str, str]:
        return dict(self._get("accounts"))

    @property
    def server_pid(self) -> int:
        """The moto server's process (it stops with ``up``)."""
        return int(self._get("pid"))

    @property
    def outputs(self) -> dict[str, str]:
        return dict(self._get("outputs"))

    def account_id(self, account: str) -> str:
        """An account's id, from its id or its name (hub, network-a, analytics-b)."""
        accounts = self.accounts
        if account in accounts:
            return accounts[account]
        if account in accounts.values():
            return account
        raise SandboxError(f"no account {account!r} in the sandbox; it has {accounts}")

    def credentials(self, account: str) -> dict[str, str]:
        """boto3's keyword arguments for an account's long-lived keys (an IAM user in it)."""
        keys: dict[str, str] = self._get("credentials")[self.account_id(account)]
        return dict(keys)

    def session(self, account: str = "hub", region: str | None = None) -> Any:
        import boto3  # noqa: PLC0415 - only for callers that want one

        keys = self.credentials(account)
        return boto3.session.Session(
            aws_access_key_id=keys["aws_access_key_id"],
            aws_secret_access_key=keys["aws_secret_access_key"],
            region_name=region or self.region,
        )

    def client(self, service: str, account: str = "hub", region: str | None = None) -> Any:
        return self.session(account, region).client(service, endpoint_url=self.url)

    def environment(self, account: str = "hub", region: str | None = None) -> dict[str, str]:
        """Environment variables that point an AWS CLI (or any SDK) at the sandbox as ``account``."""
        keys = self.credentials(account)
        return {
            "AWS_ENDPOINT_URL": self.url,
            "AWS_ACCESS_KEY_ID": keys["aws_access_key_id"],
            "AWS_SECRET_ACCESS_KEY": keys["aws_secret_access_key"],
            "AWS_DEFAULT_REGION": region or self.region,
            "AWS_REGION": region or self.region,
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "AWS_EC2_METADATA_DISABLED": "true",
        }
