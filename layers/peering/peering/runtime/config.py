"""Settings read from the function's environment (set by template.yaml), parsed once per call."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from peering.core.errors import ConfigurationError

DEFAULT_ACTIVE_PEERINGS_QUOTA = 50  # L-7E9ECCDB default; raise it here when the quota is raised
DEFAULT_POLICY_CACHE_SECONDS = 60
DEFAULT_ROUTES_PER_TABLE = 50  # L-93826ACB default (per IP version); raise it with the quota
DEFAULT_ACTIVATION_WAIT_SECONDS = 20  # provisioning -> active usually takes seconds


_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"", "0", "false", "no", "off"})


def _flag(value: str | None, name: str = "DRY_RUN") -> bool:
    """A typo must not silently turn a dry run into a live one: unknown values are an error."""
    text = (value or "").strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ConfigurationError(f"{name} must be true or false, got {value!r}")


def _positive_int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise ConfigurationError(f"{name} must be an integer, got {raw!r}") from exc
    if value <= 0:
        raise ConfigurationError(f"{name} must be positive, got {value}")
    return value


@dataclass(frozen=True)
class Settings:
    ledger_table: str
    topic_arn: str | None
    policy_parameter: str
    member_role_name: str
    external_id: str | None
    active_peerings_quota: int
    policy_cache_seconds: int
    dry_run: bool
    bus_name: str = "peering-autopilot"
    routes_per_table: int = DEFAULT_ROUTES_PER_TABLE
    activation_wait_seconds: int = DEFAULT_ACTIVATION_WAIT_SECONDS
    # The stack grants ec2:RevokeSecurityGroup* only when AllowSecurityGroupRevocation is true.
    allow_security_group_revocation: bool = False
    tag_prefix: str = "peering-autopilot"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        missing = [name for name in ("LEDGER_TABLE", "POLICY_PARAMETER") if not env.get(name)]
        if missing:
            raise ConfigurationError(f"missing environment settings: {', '.join(missing)}")
        return cls(
            ledger_table=env["LEDGER_TABLE"],
            topic_arn=env.get("TOPIC_ARN") or None,
            policy_parameter=env["POLICY_PARAMETER"],
            member_role_name=env.get("MEMBER_ROLE_NAME") or "PeeringAutopilotMember",
            external_id=env.get("EXTERNAL_ID") or None,
            active_peerings_quota=_positive_int(env, "ACTIVE_PEERINGS_QUOTA", DEFAULT_ACTIVE_PEERINGS_QUOTA),
            policy_cache_seconds=_positive_int(env, "POLICY_CACHE_SECONDS", DEFAULT_POLICY_CACHE_SECONDS),
            dry_run=_flag(env.get("DRY_RUN")),
            bus_name=env.get("EVENT_BUS_NAME") or "peering-autopilot",
            routes_per_table=_positive_int(env, "ROUTES_PER_TABLE_QUOTA", DEFAULT_ROUTES_PER_TABLE),
            activation_wait_seconds=_positive_int(env, "ACTIVATION_WAIT_SECONDS", DEFAULT_ACTIVATION_WAIT_SECONDS),
            allow_security_group_revocation=_flag(env.get("ALLOW_SG_REVOCATION"), "ALLOW_SG_REVOCATION"),
        )
