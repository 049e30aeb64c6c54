"""Settings from the function environment."""

from __future__ import annotations

import pytest

from peering.core.errors import ConfigurationError
from peering.runtime.config import (
    DEFAULT_ACTIVATION_WAIT_SECONDS,
    DEFAULT_ACTIVE_PEERINGS_QUOTA,
    DEFAULT_POLICY_CACHE_SECONDS,
    DEFAULT_ROUTES_PER_TABLE,
    Settings,
)

INTEGER_SETTINGS = [
    "ACTIVE_PEERINGS_QUOTA",
    "POLICY_CACHE_SECONDS",
    "ROUTES_PER_TABLE_QUOTA",
    "ACTIVATION_WAIT_SECONDS",
]
REQUIRED = {"LEDGER_TABLE": "ledger", "POLICY_PARAMETER": "/peering-autopilot/policy"}


def _settings(**extra: str) -> Settings:
    return Settings.from_env({**REQUIRED, **extra})


def test_defaults() -> None:
    got = _settings()
    assert got == Settings(
        ledger_table="ledger",
        topic_arn=None,
        policy_parameter="/peering-autopilot/policy",
        member_role_name="PeeringAutopilotMember",
        external_id=None,
        active_peerings_quota=DEFAULT_ACTIVE_PEERINGS_QUOTA,
        policy_cache_seconds=DEFAULT_POLICY_CACHE_SECONDS,
        dry_run=False,
        bus_name="peering-autopilot",
        tag_prefix="peering-autopilot",
    )
    assert got.active_peerings_quota == 50
    assert got.routes_per_table == DEFAULT_ROUTES_PER_TABLE == 50
    assert got.activation_wait_seconds == DEFAULT_ACTIVATION_WAIT_SECONDS


def test_every_setting_is_read() -> None:
    got = _settings(
        TOPIC_ARN="arn:aws:sns:us-east-1:111111111111:peering",
        MEMBER_ROLE_NAME="CustomMember",
        EXTERNAL_ID="ext-1",
        ACTIVE_PEERINGS_QUOTA="125",
        POLICY_CACHE_SECONDS="5",
        DRY_RUN="true",
        EVENT_BUS_NAME="my-bus",
        ROUTES_PER_TABLE_QUOTA="1000",
        ACTIVATION_WAIT_SECONDS="3",
    )
    assert got.topic_arn == "arn:aws:sns:us-east-1:111111111111:peering"
    assert got.member_role_name == "CustomMember"
    assert got.external_id == "ext-1"
    assert got.active_peerings_quota == 125
    assert got.policy_cache_seconds == 5
    assert got.dry_run is True
    assert got.bus_name == "my-bus"
    assert got.routes_per_table == 1000
    assert got.activation_wait_seconds == 3


def test_empty_optional_settings_mean_unset() -> None:
    got = _settings(TOPIC_ARN="", EXTERNAL_ID="", MEMBER_ROLE_NAME="", EVENT_BUS_NAME="", ACTIVE_PEERINGS_QUOTA="")
    assert got.topic_arn is None
    assert got.external_id is None
    assert got.member_role_name == "PeeringAutopilotMember"
    assert got.bus_name == "peering-autopilot"
    assert got.active_peerings_quota == DEFAULT_ACTIVE_PEERINGS_QUOTA


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({}, ["LEDGER_TABLE", "POLICY_PARAMETER"]),
        ({"LEDGER_TABLE": "ledger"}, ["POLICY_PARAMETER"]),
        ({"POLICY_PARAMETER": "/p"}, ["LEDGER_TABLE"]),
        ({"LEDGER_TABLE": "", "POLICY_PARAMETER": "/p"}, ["LEDGER_TABLE"]),
    ],
)
def test_required_settings_are_named_when_missing(env: dict[str, str], named: list[str]) -> None:
    with pytest.raises(ConfigurationError) as caught:
        Settings.from_env(env)
    message = str(caught.value)
    assert message.startswith("missing environment settings")
    for name in named:
        assert name in message
    for name in {"LEDGER_TABLE", "POLICY_PARAMETER"} - set(named):
        assert name not in message


def test_reads_os_environ_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEDGER_TABLE", "from-os")
    monkeypatch.setenv("POLICY_PARAMETER", "/from/os")
    monkeypatch.setenv("ACTIVE_PEERINGS_QUOTA", "7")
    monkeypatch.delenv("DRY_RUN", raising=False)
    got = Settings.from_env()
    assert (got.ledger_table, got.policy_parameter, got.active_peerings_quota) == ("from-os", "/from/os", 7)


@pytest.mark.parametrize("name", INTEGER_SETTINGS)
@pytest.mark.parametrize("raw", ["abc", "1.5", "12x", "ten"])
def test_integer_settings_must_be_integers(name: str, raw: str) -> None:
    with pytest.raises(ConfigurationError, match=f"{name} must be an integer, got '{raw}'"):
        _settings(**{name: raw})


@pytest.mark.parametrize("name", INTEGER_SETTINGS)
@pytest.mark.parametrize("raw", ["0", "-1", "-50"])
def test_integer_settings_must_be_positive(name: str, raw: str) -> None:
    with pytest.raises(ConfigurationError, match=f"{name} must be positive, got {int(raw)}"):
        _settings(**{name: raw})


def test_integer_settings_tolerate_surrounding_spaces() -> None:
    assert _settings(ACTIVE_PEERINGS_QUOTA=" 60 ").active_peerings_quota == 60


@pytest.mark.parametrize("raw", ["1", "true", "TRUE", "True", "yes", "on", " true "])
def test_dry_run_on(raw: str) -> None:
    assert _settings(DRY_RUN=raw).dry_run is True


@pytest.mark.parametrize("raw", ["", "0", "false", "False", "no", "off", " OFF "])
def test_dry_run_off(raw: str) -> None:
    assert _settings(DRY_RUN=raw).dry_run is False


def test_dry_run_is_off_when_unset() -> None:
    assert _settings().dry_run is False


@pytest.mark.parametrize("raw", ["ture", "enabled", "dry", "2"])
def test_a_dry_run_typo_is_an_error_not_a_live_run(raw: str) -> None:
    with pytest.raises(ConfigurationError, match=f"DRY_RUN must be true or false, got '{raw}'"):
        _settings(DRY_RUN=raw)


def test_settings_are_immutable() -> None:
    got = _settings()
    with pytest.raises(AttributeError):
        got.dry_run = True  # type: ignore[misc]
