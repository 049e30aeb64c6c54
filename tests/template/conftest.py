"""Fixtures for the template tests: the hub and member templates as plain data (see cfn_yaml.py)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.template.cfn_yaml import HUB_TEMPLATE, MEMBER_TEMPLATE, load_cfn_yaml


@pytest.fixture(scope="session")
def hub_template() -> dict[str, Any]:
    return load_cfn_yaml(HUB_TEMPLATE)


@pytest.fixture(scope="session")
def resources(hub_template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = hub_template["Resources"]
    return found


@pytest.fixture(scope="session")
def member_template() -> dict[str, Any]:
    return load_cfn_yaml(MEMBER_TEMPLATE)


@pytest.fixture(scope="session")
def member_resources(member_template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = member_template["Resources"]
    return found
