"""A moto server, made to behave like AWS (``emulation.fidelity``), in a subprocess on loopback.

Two halves:

- the launcher, run in the child process: ``python -m emulation.server --port 0`` enables every
  fidelity patch *in that process* (patches change moto's classes, so they must run where
  moto serves), binds 127.0.0.1 (never another interface), prints one line
  ``emulation.server ready http://127.0.0.1:<port>`` and serves until SIGTERM/SIGINT or until the
  process that started it goes away;
- ``MotoServer``, used by the parent: starts the launcher on a free port, waits until it answers,
  and stops it cleanly (a context manager)::

      with MotoServer() as server:
          os.environ["AWS_ENDPOINT_URL"] = server.url
          ...

Besides moto's own API (and ``/moto-api/``), the launcher answers a few control requests under
``/_emulation/`` that only make sense inside the emulator, because they reach moto's in-process
state:

- ``GET  /_emulation/health``: ``{"ok": true, "gaps": [...], "helpers": [...]}``;
- ``GET  /_emulation/account?accessKeyId=...``: the account moto maps an access key to (the
  account of an assumed role's credentials), so a client can tell which account made a call;
- ``POST /_emulation/fidelity/<helper>`` with ``{"args": [...], "kwargs": {...}}``: one of
  ``emulation.lifecycle``'s helpers (``set_status``, ``age``, ``forget_connection``): AWS states and
  the passing of time that moto cannot reach through its API;
- ``GET  /_emulation/calls?after=N`` (started with ``--record-calls``): the mutating EC2 calls it
  answered after the N-th, from any client, each with its caller's account (from the access key),
  Region (from the signature's scope), form body, status, XML answer, user agent and the
  ``X-Emulation-Caller`` header when the client sent one, so that the parent can
  make the CloudTrail events AWS would deliver (``runner up``; ``emulation.ec2_wire`` decodes them).
"""

from __future__ import annotations

import argparse
import collections
import io
import ipaddress
import json
import logging
import os
import re
import select
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Any

__all__ = ["CALLER_HEADER", "CONTROL_PREFIX", "STATE_HELPERS", "EmulationError", "MotoServer", "main"]

ROOT = Path(__file__).resolve().parent.parent
CONTROL_PREFIX = "/_emulation/"
READY = "emulation.server ready "
#: emulation.lifecycle helpers reachable through POST /_emulation/fidelity/<name>
STATE_HELPERS = ("set_status", "age", "forget_connection")
LOOPBACK = "127.0.0.1"
#: a request header naming who made a call, kept with the recorded call (the runner's functions set it)
CALLER_HEADER = "X-Emulation-Caller"

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
_SCOPE = re.compile(r"Credential=([^/,\s]+)/\d{8}/([a-z0-9-]+)/ec2/aws4_request")
_READ_ONLY = ("Describe", "Get", "List")


class EmulationError(RuntimeError):
    """The emulator could not be started, or refused a control request."""


# --------------------------------------------------------------------------------------------
# Child process: the launcher
# --------------------------------------------------------------------------------------------


def _json_response(start_response: Callable[..., Any], status: str, body: Any) -> list[bytes]:
    data = json.dumps(body, default=str).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
    return [data]


class ServedCalls:
    """The mutating EC2 calls the server answered (the last ``limit``), numbered from 1.

    A call is recognised by its SigV4 scope (``<key>/<date>/<region>/ec2/aws4_request``) and its
    form body's ``Action``; read-only calls (Describe/Get/List, never delivered by CloudTrail) and
    unsigned requests are passed through untouched.
    """

    def __init__(self, account_of: Callable[[str], str], limit: int = 10_000) -> None:
        self._account_of = account_of
        self._calls: collections.deque[dict[str, Any]] = collections.deque(maxlen=limit)
        self._lock = threading.Lock()
        self._count = 0

    def serve(self, app: WsgiApp, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        scope = _SCOPE.search(str(environ.get("HTTP_AUTHORIZATION", "")))
        if scope is None or environ.get("REQUEST_METHOD") != "POST":
            return app(environ, start_response)
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(body)
        text = body.decode("utf-8", errors="replace")
        action = (urllib.parse.parse_qs(text).get("Action") or [""])[0]
        if not action or action.startswith(_READ_ONLY):
            return app(environ, start_response)
        answered: dict[str, int] = {}

        def capture(status: str, headers: Any, exc_info: Any = None) -> Any:
            answered["status"] = int(status.split(maxsplit=1)[0])
            return start_response(status, headers, exc_info)

        answer = app(environ, capture)
        try:
            data = b"".join(answer)
        finally:
            close = getattr(answer, "close", None)
            if callable(close):
                close()
        key, region = scope.group(1), scope.group(2)
        record = {
            "action": action,
            "accessKeyId": key,
            "account": self._account_of(key),
            "region": region,
            "request": text,
            "status": answered.get("status", 500),
            "response": data.decode("utf-8", errors="replace"),
            "userAgent": str(environ.get("HTTP_USER_AGENT", "")),
            "caller": str(environ.get("HTTP_" + CALLER_HEADER.upper().replace("-", "_"), "")),
            "sourceIPAddress": str(environ.get("REMOTE_ADDR", "")),
        }
        with self._lock:
            self._count += 1
            self._calls.append({"seq": self._count, **record})
        return [data]

    def after(self, seq: int) -> list[dict[str, Any]]:
        with self._lock:
            return [c for c in self._calls if c["seq"] > seq]


class ControlApp:
    """WSGI middleware: answers ``/_emulation/...`` itself, passes everything else to moto.

    ``enabled_gaps`` is emulation.fidelity's, ``helpers`` the emulation.lifecycle module and
    ``account_of`` moto's access key -> account mapping, all of the serving process (given, so that
    only the child imports moto).
    """

    def __init__(
        self,
        app: WsgiApp,
        *,
        enabled_gaps: Callable[[], Iterable[str]],
        helpers: Any,
        account_of: Callable[[str], str],
        served: ServedCalls | None = None,
    ) -> None:
        self._app = app
        self._enabled_gaps = enabled_gaps
        self._helpers = helpers
        self._account_of = account_of
        self._served = served

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = str(environ.get("PATH_INFO", ""))
        if not path.startswith(CONTROL_PREFIX):
            if self._served is not None:
                return self._served.serve(self._app, environ, start_response)
            return self._app(environ, start_response)
        action = path[len(CONTROL_PREFIX) :]
        try:
            if action == "health":
                status, body = self._health()
            elif action == "account":
                status, body = self._account(environ)
            elif action == "calls":
                status, body = self._calls(environ)
            elif action.startswith("fidelity/") and environ.get("REQUEST_METHOD") == "POST":
                status, body = self._helper(action[len("fidelity/") :], environ)
            else:
                status, body = "404 Not Found", {"error": f"unknown control request {action!r}"}
        except Exception as exc:  # report it to the caller and keep serving
            status, body = "500 Internal Server Error", {"error": f"{type(exc).__name__}: {exc}"}
        return _json_response(start_response, status, body)

    def _health(self) -> tuple[str, dict[str, Any]]:
        helpers = [name for name in STATE_HELPERS if callable(getattr(self._helpers, name, None))]
        return "200 OK", {"ok": True, "gaps": list(self._enabled_gaps()), "helpers": helpers}

    def _account(self, environ: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        query = urllib.parse.parse_qs(str(environ.get("QUERY_STRING", "")))
        key = (query.get("accessKeyId") or [""])[0]
        if not key:
            return "400 Bad Request", {"error": "accessKeyId is required"}
        return "200 OK", {"account": self._account_of(key)}

    def _calls(self, environ: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        if self._served is None:
            return "404 Not Found", {"error": "the server records no calls (start it with --record-calls)"}
        query = urllib.parse.parse_qs(str(environ.get("QUERY_STRING", "")))
        after = int((query.get("after") or ["0"])[0] or 0)
        return "200 OK", {"calls": self._served.after(after)}

    def _helper(self, name: str, environ: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        if name not in STATE_HELPERS:
            return "404 Not Found", {"error": f"unknown helper {name!r}"}
        helper = getattr(self._helpers, name, None)
        if not callable(helper):
            return "501 Not Implemented", {"error": f"emulation.lifecycle has no {name}(): cannot emulate it"}
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = json.loads(environ["wsgi.input"].read(length) if length else b"{}")
        args, kwargs = body.get("args", []), body.get("kwargs", {})
        if not isinstance(args, list) or not isinstance(kwargs, dict):
            return "400 Bad Request", {"error": 'the body must be {"args": [...], "kwargs": {...}}'}
        return "200 OK", {"ok": True, "result": helper(*args, **kwargs)}


def _readable_account_ids(account_ids: Sequence[str]) -> None:
    """Organizations.CreateAccount hands out these ids first (then random ones, as moto does).

    Only CreateAccount draws from the list: moto also draws an id for the management account when
    the organization is created (and then replaces it with the caller's).
    """
    from moto.organizations import utils  # noqa: PLC0415 - child process only (see serve)
    from moto.organizations.models import OrganizationsBackend  # noqa: PLC0415

    queue = list(account_ids)
    random_id = utils.make_random_account_id
    creating = threading.local()

    def make_account_id() -> str:
        return queue.pop(0) if queue and getattr(creating, "account", False) else random_id()

    create_account = OrganizationsBackend.create_account

    def create_account_with_readable_id(self: Any, **kwargs: Any) -> Any:
        creating.account = True
        try:
            return create_account(self, **kwargs)
        finally:
            creating.account = False

    utils.make_random_account_id = make_account_id
    OrganizationsBackend.create_account = create_account_with_readable_id  # type: ignore[method-assign]


def _watch_parent(parent_pid: int) -> None:
    """Exit when the process that started us is gone (no orphaned servers after a crash)."""

    def watch() -> None:
        while True:
            time.sleep(0.5)
            if os.getppid() != parent_pid:
                os._exit(0)

    threading.Thread(target=watch, name="watch-parent", daemon=True).start()


def serve(
    host: str,
    port: int,
    *,
    account_ids: Sequence[str] = (),
    parent_pid: int | None = None,
    record_calls: bool = False,
) -> None:
    """Run moto (with every fidelity patch) on host:port until SIGTERM/SIGINT."""
    if not ipaddress.ip_address(host).is_loopback:
        raise EmulationError(f"the emulator binds a loopback address only, not {host}")
    # Imported here, in the child only: the parent (tests, the demo) needs none of moto's server, and
    # importing the fidelity patches costs seconds.
    from moto.iam.models import get_account_id_from  # noqa: PLC0415
    from moto.moto_server.werkzeug_app import (  # noqa: PLC0415
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from werkzeug.serving import make_server  # noqa: PLC0415

    from emulation import fidelity, lifecycle  # noqa: PLC0415

    fidelity.enable()
    if account_ids:
        _readable_account_ids(account_ids)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no line per request
    app = ControlApp(
        DomainDispatcherApplication(create_backend_app),
        enabled_gaps=fidelity.enabled_gaps,
        helpers=lifecycle,
        account_of=get_account_id_from,
        served=ServedCalls(get_account_id_from) if record_calls else None,
    )
    server = make_server(host, port, app, threaded=True, request_handler=MotoRequestHandler)

    def stop(_signum: int, _frame: Any) -> None:
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    if parent_pid is not None:
        _watch_parent(parent_pid)
    print(f"{READY}http://{host}:{server.server_port}", flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m emulation.server", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default=LOOPBACK, help="loopback address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port (default 0: a free one, printed when ready)")
    parser.add_argument(
        "--account-ids",
        default="",
        help="comma-separated ids Organizations.CreateAccount hands out first (readable demo accounts)",
    )
    parser.add_argument("--parent-pid", type=int, default=None, help="exit when this process is gone")
    parser.add_argument(
        "--record-calls", action="store_true", help="keep the mutating EC2 calls served (GET /_emulation/calls)"
    )
    args = parser.parse_args(argv)
    ids = [a.strip() for a in args.account_ids.split(",") if a.strip()]
    for account in ids:
        if not (account.isdigit() and len(account) == 12):
            parser.error(f"--account-ids: {account!r} is not a 12-digit account id")
    try:
        serve(args.host, args.port, account_ids=ids, parent_pid=args.parent_pid, record_calls=args.record_calls)
    except EmulationError as exc:
        parser.error(str(exc))
    return 0


# --------------------------------------------------------------------------------------------
# Parent process: start, wait, stop
# --------------------------------------------------------------------------------------------


class MotoServer:
    """The launcher in a subprocess on a free loopback port; ``url`` is its endpoint.

    ``log`` receives the server's stderr (default: a temporary file, shown if it fails to start).
    """

    def __init__(
        self,
        *,
        account_ids: Sequence[str] = (),
        startup_timeout: float = 30.0,
        python: str = sys.executable,
        log: IO[str] | None = None,
        record_calls: bool = False,
        port: int = 0,
    ) -> None:
        self._account_ids = list(account_ids)
        self._record_calls = record_calls
        self._port = port
        self._startup_timeout = startup_timeout
        self._python = python
        self._log = log
        self._own_log: IO[str] | None = None
        self._proc: subprocess.Popen[str] | None = None
        self.url = ""

    # -- lifecycle --------------------------------------------------------------------------

    def start(self) -> str:
        if self._proc is not None:
            return self.url
        log = self._log
        if log is None:
            self._own_log = log = tempfile.TemporaryFile(mode="w+", prefix="moto-server-", suffix=".log")  # noqa: SIM115
        command = [self._python, "-m", "emulation.server", "--host", LOOPBACK, "--port", str(self._port)]
        command += ["--parent-pid", str(os.getpid())]
        if self._account_ids:
            command += ["--account-ids", ",".join(self._account_ids)]
        if self._record_calls:
            command.append("--record-calls")
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
        env["PYTHONUNBUFFERED"] = "1"
        self._proc = subprocess.Popen(  # noqa: S603 - our own interpreter and module, no shell
            command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=log, text=True
        )
        try:
            self.url = self._wait_ready()
            self._wait_answers()
        except BaseException:
            self.stop()
            raise
        return self.url

    def _wait_ready(self) -> str:
        assert self._proc is not None
        assert self._proc.stdout is not None
        deadline = time.monotonic() + self._startup_timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise EmulationError(f"the moto server exited with {self._proc.returncode}:\n{self._log_tail()}")
            ready, _, _ = select.select([self._proc.stdout], [], [], 0.2)
            if not ready:
                continue
            line = self._proc.stdout.readline()
            if line.startswith(READY):
                return line[len(READY) :].strip()
        raise EmulationError(f"the moto server did not start within {self._startup_timeout:.0f} s:\n{self._log_tail()}")

    def _wait_answers(self) -> None:
        deadline = time.monotonic() + self._startup_timeout
        while True:
            try:
                if self.health().get("ok"):
                    return
            except (OSError, EmulationError):
                if time.monotonic() > deadline:
                    raise
            time.sleep(0.1)

    def _log_tail(self, lines: int = 30) -> str:
        log = self._log or self._own_log
        if log is None or not log.seekable():
            return "(no log)"
        try:
            log.flush()
            log.seek(0)
            return "".join(log.readlines()[-lines:])
        except (OSError, ValueError):
            return "(log unreadable)"

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout=10)
            if proc.stdout is not None:
                proc.stdout.close()
        if self._own_log is not None:
            self._own_log.close()
            self._own_log = None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def __enter__(self) -> MotoServer:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()

    # -- control requests -------------------------------------------------------------------

    def _request(self, path: str, payload: dict[str, Any] | None = None) -> dict[str, Any]:
        if not self.url:
            raise EmulationError("the moto server is not started")
        data = json.dumps(payload).encode() if payload is not None else None
        request = urllib.request.Request(  # noqa: S310 - our own loopback http endpoint
            self.url + path, data=data, method="POST" if data is not None else "GET"
        )
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
                body: dict[str, Any] = json.loads(response.read() or b"{}")
                return body
        except urllib.error.HTTPError as exc:
            try:
                detail = json.loads(exc.read() or b"{}").get("error", str(exc))
            except ValueError:
                detail = str(exc)
            raise EmulationError(f"{path}: {detail}") from exc

    def health(self) -> dict[str, Any]:
        return self._request(CONTROL_PREFIX + "health")

    def reset(self) -> None:
        """Forget every resource (moto's own /moto-api/reset); the fidelity patches stay."""
        request = urllib.request.Request(self.url + "/moto-api/reset", data=b"", method="POST")  # noqa: S310
        with urllib.request.urlopen(request, timeout=30):  # noqa: S310
            pass

    def account_of(self, access_key_id: str) -> str:
        query = urllib.parse.urlencode({"accessKeyId": access_key_id})
        return str(self._request(f"{CONTROL_PREFIX}account?{query}")["account"])

    def served_calls(self, after: int = 0) -> list[dict[str, Any]]:
        """The mutating EC2 calls served after the ``after``-th (needs ``record_calls=True``)."""
        calls: list[dict[str, Any]] = self._request(f"{CONTROL_PREFIX}calls?after={int(after)}")["calls"]
        return calls

    def fidelity(self, helper: str, *args: Any, **kwargs: Any) -> Any:
        """Call one of emulation.lifecycle's helpers inside the server process."""
        payload = {"args": list(args), "kwargs": kwargs}
        return self._request(f"{CONTROL_PREFIX}fidelity/{helper}", payload).get("result")

    def set_status(self, connection_id: str, code: str) -> Any:
        """lifecycle.set_status(connection_id, code) in the server (expired, failed, provisioning...)."""
        return self.fidelity("set_status", connection_id, code)

    def age(self, connection_id: str, hours: float) -> Any:
        """lifecycle.age(connection_id, hours=...): the request was made that long ago."""
        return self.fidelity("age", connection_id, hours=hours)

    def forget_connection(self, connection_id: str) -> Any:
        """lifecycle.forget_connection(connection_id): past its visibility window."""
        return self.fidelity("forget_connection", connection_id)


if __name__ == "__main__":
    sys.exit(main())
