"""Fixtures of the fidelity tests: AWS credentials faked, and the world on raw or patched moto.

Each gap of emulation/fidelity/ has its own test file here, test_<name>.py, with two kinds of test:
``test_raw_moto_still_has_gap_<name>`` shows moto as released still deviates (and, once a moto
upgrade fixes the gap, fails saying what to delete); ``test_<name>_...`` show the patched API
answering as the AWS documentation says. test_registry.py covers the registry and the rules every
gap follows, test_lifecycle.py the helpers of emulation/lifecycle.py.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from emulation import fidelity
from tests.integration.fidelity.world import EAST, World, build_world, fresh_moto


@pytest.fixture(autouse=True)
def _credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SECURITY_TOKEN", "AWS_SESSION_TOKEN"):
        monkeypatch.setenv(key, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", EAST)
    monkeypatch.setenv("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")  # no AMIs needed: much faster backends
    for key in ("AWS_PROFILE", "MOTO_ACCOUNT_ID", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(key, raising=False)


@pytest.fixture
def raw() -> Iterator[World]:
    """moto as released (whatever another test or conftest enabled is restored afterwards)."""
    with fresh_moto(), fidelity.raw_moto():
        yield build_world()


@pytest.fixture
def patched() -> Iterator[World]:
    """Every gap enabled."""
    with fresh_moto(), fidelity.enabled():
        yield build_world()
