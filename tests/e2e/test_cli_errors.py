"""The errors a user meets first, as a user meets them: ``python -m runner ...`` in a new process.

Each ends as one line on stderr that says what to do, with an exit status and no traceback
(runner.cli._explained): no endpoint answering, no credentials, credentials AWS does not accept
or that have expired, access denied (with the IAM policy to attach), a stack that is not there, an
event file that is not JSON. And ``--help`` answers without importing any command's dependencies.

Access denied and unknown credentials come from a moto server that enforces IAM
(INITIAL_NO_AUTH_ACTION_COUNT); moto never expires credentials, so the expired case is answered
by a loopback endpoint that sends STS's documented ExpiredToken error.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from emulation.server import MotoServer
from runner.errors import BAD_INPUT, ENVIRONMENT
from tests.e2e.conftest import ROOT, Run, client, runner_env

#: what neither ``--help`` nor its parsing may import (seconds on a busy machine, and absent from
#: the installed command line)
HEAVY = (
    "samtranslator",
    "cfnlint",
    "moto",
    "emulation",
    "boto3",
    "pydantic",
    "yaml",
    "aws_lambda_powertools",
    "peering.runtime",
    "peering.aws",
    "peering.lifecycle",
    "peering.map",
    "peering.sweep",
    "runner.cfn",
    "runner.template",
    "runner.model",
    "runner.policy_tool",
)


def runner(*args: str, env: dict[str, str]) -> Run:
    done = subprocess.run(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "runner", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return Run(done.returncode, done.stdout, done.stderr)


def one_line(done: Run) -> str:
    """The single ``error:`` line the command printed (and nothing else on stderr)."""
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("error: ")
    return lines[0]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- no endpoint, no credentials ----------------------------------------------------------------


def test_no_emulator_at_the_endpoint_is_one_line_that_says_to_start_it() -> None:
    endpoint = f"http://127.0.0.1:{free_port()}"

    done = runner("pending", env=runner_env(endpoint))

    line = one_line(done)
    assert done.returncode == ENVIRONMENT
    assert f"nothing answers at {endpoint}" in line
    assert "python -m runner up" in line
    assert "unset AWS_ENDPOINT_URL" in line


def test_no_credentials_is_one_line_that_says_where_to_set_them() -> None:
    env = runner_env(None)
    del env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"]
    env["AWS_EC2_METADATA_DISABLED"] = "true"  # no instance role to look for

    done = runner("approve", "pcx-0123456789abcdef0", env=env)

    line = one_line(done)
    assert done.returncode == ENVIRONMENT
    assert "no AWS credentials" in line
    assert "AWS_PROFILE" in line


def test_debug_shows_the_traceback_instead() -> None:
    endpoint = f"http://127.0.0.1:{free_port()}"

    done = runner("--debug", "pending", env=runner_env(endpoint))

    assert done.returncode == 1
    assert "Traceback" in done.stderr
    assert "EndpointConnectionError" in done.stderr


# --- input: a stack that is not there, an event file that is not JSON ---------------------------


def test_a_wrong_stack_name_says_to_check_it(server: MotoServer) -> None:
    done = runner("pending", "--stack-name", "no-such-hub", env=runner_env(server.url))

    line = one_line(done)
    assert done.returncode == BAD_INPUT
    assert "no ledger table no-such-hub-LedgerTable" in line
    assert "--stack-name" in line
    assert "ResourceNotFoundException" not in line


def test_a_map_link_of_a_wrong_stack_says_to_check_its_name(server: MotoServer) -> None:
    done = runner("map", "--from-stack", "no-such-hub", env=runner_env(server.url))

    line = one_line(done)
    assert done.returncode == BAD_INPUT
    assert "no-such-hub does not exist in Region us-east-1" in line
    assert "check the stack name" in line


def test_an_event_file_that_is_not_json_is_named(tmp_path: Path) -> None:
    event = tmp_path / "create.json"
    event.write_text('{"detail-type": "AWS API Call via CloudTrail",\n  detail: {}}\n')

    done = runner("route", str(event), env=runner_env(None))

    line = one_line(done)
    assert done.returncode == BAD_INPUT
    assert f"{event} is not JSON" in line
    assert "line 2 column 3" in line


def test_an_event_file_that_is_not_there_is_named(tmp_path: Path) -> None:
    done = runner("route", str(tmp_path / "missing.json"), env=runner_env(None))

    assert one_line(done) == f"error: {tmp_path / 'missing.json'}: no such file"
    assert done.returncode == BAD_INPUT


# --- credentials AWS refuses: unknown, expired; a call IAM does not allow -----------------------


@dataclass(frozen=True)
class IamServer:
    url: str
    reader: dict[str, str]  # the environment of a user allowed sts:GetCallerIdentity only


@pytest.fixture(scope="module")
def iam_server() -> Iterator[IamServer]:
    """A moto server that enforces IAM after its first three calls: the set-up of a user that may
    only ask who it is."""
    with pytest.MonkeyPatch.context() as patched:
        patched.setenv("INITIAL_NO_AUTH_ACTION_COUNT", "3")
        with MotoServer() as server:
            iam = client(server, "iam")
            iam.create_user(UserName="reader")
            iam.put_user_policy(
                UserName="reader",
                PolicyName="identity-only",
                PolicyDocument=json.dumps(
                    {
                        "Version": "2012-10-17",
                        "Statement": [{"Effect": "Allow", "Action": "sts:GetCallerIdentity", "Resource": "*"}],
                    }
                ),
            )
            key = iam.create_access_key(UserName="reader")["AccessKey"]
            reader = {"AWS_ACCESS_KEY_ID": key["AccessKeyId"], "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"]}
            yield IamServer(server.url, reader)


def test_credentials_aws_does_not_know_are_one_line(iam_server: IamServer) -> None:
    env = runner_env(iam_server.url) | {"AWS_ACCESS_KEY_ID": "AKIAUNKNOWNKEY000000"}

    done = runner("pending", "--stack-name", "hub", env=env)

    line = one_line(done)
    assert done.returncode == ENVIRONMENT
    assert "AWS does not accept these credentials (InvalidClientTokenId calling GetCallerIdentity)" in line
    assert "python -m runner up" in line  # the sandbox's credentials, as an endpoint is set


def test_access_denied_names_the_action_and_the_policy_to_attach(iam_server: IamServer) -> None:
    done = runner("pending", "--stack-name", "hub", env=runner_env(iam_server.url) | iam_server.reader)

    line = one_line(done)
    assert done.returncode == ENVIRONMENT
    assert line == (
        "error: access denied to cloudformation:DescribeStacks: attach policy/iam/operator.json to your role "
        "or user (docs/deploy.md)"
    )


class _ExpiredToken(BaseHTTPRequestHandler):
    """What STS answers a call signed with an expired session token (403, ExpiredToken)."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        body = (
            b'<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type>'
            b"<Code>ExpiredToken</Code><Message>The security token included in the request is expired</Message>"
            b"</Error><RequestId>0f1e2d3c-0000-4000-8000-000000000000</RequestId></ErrorResponse>"
        )
        self.send_response(403)
        self.send_header("Content-Type", "text/xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""


def test_expired_credentials_say_to_refresh_them() -> None:
    with ThreadingHTTPServer(("127.0.0.1", 0), _ExpiredToken) as sts:
        threading.Thread(target=sts.serve_forever, daemon=True).start()
        env = runner_env(f"http://127.0.0.1:{sts.server_address[1]}") | {"AWS_SESSION_TOKEN": "expired"}
        try:
            done = runner("pending", env=env)
        finally:
            sts.shutdown()

    line = one_line(done)
    assert done.returncode == ENVIRONMENT
    assert line.startswith("error: your AWS credentials have expired (ExpiredToken calling ")
    assert "aws sso login" in line


# --- --help -------------------------------------------------------------------------------------

_HELP_PROBE = """
import contextlib, io, json, sys
from runner.cli import _parser, main
commands = sorted(_parser()._subparsers._group_actions[0].choices)
for argv in [["--help"], *([c, "--help"] for c in commands), ["policy", "check", "--help"]]:
    with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):
        main(argv)
heavy = {heavy!r}
print(json.dumps({{"commands": commands,
                  "loaded": sorted({{h for h in heavy for m in sys.modules if m == h or m.startswith(h + ".")}})}}))
"""


def test_help_imports_no_commands_dependencies() -> None:
    """``--help``, top level and of every subcommand, in a new process: none of the heavy modules."""
    done = subprocess.run(  # noqa: S603 - our own interpreter
        [sys.executable, "-c", _HELP_PROBE.format(heavy=HEAVY)],
        cwd=ROOT,
        env=runner_env(None),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    found = json.loads(done.stdout.splitlines()[-1])

    assert {"pending", "approve", "reject", "policy", "map", "demo"} <= set(found["commands"])
    assert found["loaded"] == []


def test_help_answers_from_the_console_entry() -> None:
    done = runner("pending", "--help", env=runner_env(None))

    assert done.returncode == 0
    assert "--stack-name" in done.stdout
    assert done.stderr == ""
