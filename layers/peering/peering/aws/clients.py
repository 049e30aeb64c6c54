"""AWS clients per (account, Region), assuming the member role for other accounts.

A new ``AwsClients`` is made per invocation: its clients are cached inside it, so nothing is
created at import time (moto-safe). The member role's credentials are kept per process until
shortly before they expire: a warm worker assumes each member role once per credential lifetime,
not once per message. Every API call made through it is counted, which is what benchmarks
measure.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
from botocore.config import Config

from peering.runtime.config import Settings

RETRY_CONFIG = Config(retries={"mode": "adaptive", "max_attempts": 10})
SESSION_NAME = "peering-autopilot"

# One boto3 session per process, made on first use: a new session would parse the service
# models again (hundreds of ms for EC2) on every invocation.
_shared: dict[str, boto3.session.Session] = {}
# Who the process-wide session is ((account, partition)): it never changes for a function, so
# it is asked once per process rather than once per invocation.
_identity: dict[str, tuple[str, str]] = {}

# Assumed-role credentials are refreshed this long before they expire: an invocation keeps the
# credentials it started with, and may run for Lambda's maximum of 15 minutes (the worker: 10).
REFRESH_BEFORE = timedelta(minutes=15)


@dataclass(frozen=True)
class _Assumed:
    credentials: dict[str, str]
    expiration: datetime


# Member-role credentials of the process-wide session, by (role ARN, external id). Lambda runs one
# invocation at a time per process; the lock keeps threads (tests, a future thread pool) from
# tearing the dictionary, and two threads assuming the same role at once is merely one call too many.
_assumed: dict[tuple[str, str], _Assumed] = {}
_assumed_lock = threading.Lock()


def clock() -> datetime:
    """Now, for the credentials' expiry (tests move it)."""
    return datetime.now(UTC)


def shared_session() -> boto3.session.Session:
    if "session" not in _shared:
        _shared["session"] = boto3.session.Session()
    return _shared["session"]


def reset_shared_session() -> None:
    """Forget the process-wide session (tests switching credentials or endpoints)."""
    _shared.clear()
    _identity.clear()
    reset_member_credentials()


def reset_member_credentials() -> None:
    """Forget every cached member-role credential (a new process: tests, a new emulated AWS)."""
    with _assumed_lock:
        _assumed.clear()


class AwsClients:
    def __init__(self, settings: Settings, session: boto3.session.Session | None = None) -> None:
        self._settings = settings
        self._base = session or shared_session()
        self._credentials: dict[str, dict[str, str]] = {}
        self._clients: dict[tuple[str, str, str], Any] = {}
        self._own_account: str | None = None
        self._partition: str = "aws"
        #: API calls made, keyed by (account, Region, "service:Operation")
        self.calls: Counter[tuple[str, str, str]] = Counter()

    @property
    def default_region(self) -> str:
        return self._base.region_name or "us-east-1"

    @property
    def own_account(self) -> str:
        if self._own_account is None:
            shared = self._base is _shared.get("session")
            identity = _identity.get("session") if shared else None
            if identity is None:
                answer = self.hub("sts").get_caller_identity()
                identity = (str(answer["Account"]), str(answer["Arn"]).split(":")[1])
                if shared:
                    _identity["session"] = identity
            self._own_account, self._partition = identity
        return self._own_account

    def hub(self, service: str, region: str | None = None) -> Any:
        """A client with the function's own credentials (ledger, topic, policy, Organizations)."""
        return self._client("hub", service, region or self.default_region)

    def client(self, service: str, account: str, region: str) -> Any:
        """A client acting in ``account``: own credentials, or the member role there."""
        if account == self.own_account:
            return self._client(account, service, region)
        return self._client(account, service, region, self._member_credentials(account))

    def role_arn(self, account: str) -> str:
        return f"arn:{self._partition}:iam::{account}:role/{self._settings.member_role_name}"

    def _member_credentials(self, account: str) -> dict[str, str]:
        cached = self._credentials.get(account)
        if cached is not None:
            return cached
        role_arn = self.role_arn(account)
        key = (role_arn, self._settings.external_id or "")
        shared = self._base is _shared.get("session")
        with _assumed_lock:
            kept = _assumed.get(key) if shared else None
        if kept is None or clock() >= kept.expiration - REFRESH_BEFORE:
            kept = self._assume(role_arn)
            if shared:
                with _assumed_lock:
                    _assumed[key] = kept
        self._credentials[account] = kept.credentials
        return kept.credentials

    def _assume(self, role_arn: str) -> _Assumed:
        params: dict[str, Any] = {"RoleArn": role_arn, "RoleSessionName": SESSION_NAME}
        if self._settings.external_id:
            params["ExternalId"] = self._settings.external_id
        creds = self.hub("sts").assume_role(**params)["Credentials"]
        return _Assumed(
            {
                "aws_access_key_id": creds["AccessKeyId"],
                "aws_secret_access_key": creds["SecretAccessKey"],
                "aws_session_token": creds["SessionToken"],
            },
            creds["Expiration"],  # timezone-aware, as botocore parses it
        )

    def _client(self, account: str, service: str, region: str, credentials: dict[str, str] | None = None) -> Any:
        key = (account, service, region)
        cached = self._clients.get(key)
        if cached is not None:
            return cached
        client = self._base.client(  # type: ignore[call-overload]
            service, region_name=region, config=RETRY_CONFIG, **(credentials or {})
        )

        def count(model: Any, **_: Any) -> None:
            self.calls[(account, region, f"{service}:{model.name}")] += 1

        client.meta.events.register("before-call", count)
        self._clients[key] = client
        return client

    def total_calls(self, service: str | None = None) -> int:
        return sum(n for (_, _, op), n in self.calls.items() if service is None or op.startswith(f"{service}:"))
