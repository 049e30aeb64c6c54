"""The deployer's permissions table (docs/deploy.md, "What the deployer needs") covers the hub
template's resources.

Its rows are ``| Service (`prefix`) | resource types | actions |``. The resource types are those of
template.yaml once SAM has translated it (conditional ones included: the map bucket exists only
with PublishMap=true). Each has exactly one row; every action of a row is an IAM action of the
row's service (the IAM Service Authorization Reference, as cfn-lint ships it); and a row holds,
for each of its types, every permission of the row's service that CloudFormation's delete
handler for the type lists (the resource provider schemas cfn-lint ships), unless the template
retains every resource of the type (DeletionPolicy: Retain): a rollback or ``sam delete`` must
be able to remove what a deploy made.
"""

from __future__ import annotations

import json
import re
from functools import cache
from importlib.resources import files
from typing import Any

import pytest

from runner.template import translate
from tests.template.cfn_yaml import HUB_TEMPLATE, ROOT, load_cfn_yaml
from tests.template.test_guardrails import iam_actions

DEPLOY_GUIDE = ROOT / "docs" / "deploy.md"
SECTION = "## What the deployer needs"


def table() -> dict[str, tuple[str, set[str]]]:
    """Resource type -> (the row's service prefix, the row's actions as prefix:Action)."""
    text = DEPLOY_GUIDE.read_text(encoding="utf-8")
    assert SECTION in text, f"docs/deploy.md has no section {SECTION!r}"
    section = text.split(SECTION, 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| ")][1:]  # past the header
    found: dict[str, tuple[str, set[str]]] = {}
    for row in rows:
        cells = [cell.strip() for cell in row.strip().strip("|").split("|")]
        assert len(cells) == 3, f"{row!r}: the columns are Service (`prefix`) | Resource types | Actions"
        service, types, actions = cells
        prefix = re.search(r"\(`([a-z0-9-]+)`\)", service)
        assert prefix is not None, f"the row {service!r} names no service prefix like (`iam`)"
        names = {f"{prefix.group(1)}:{name}" for name in re.findall(r"`([A-Z][A-Za-z0-9]+)`", actions)}
        for kind in re.findall(r"`(AWS::[A-Za-z0-9]+::[A-Za-z0-9]+)`", types):
            assert kind not in found, f"{kind} has two rows"
            found[kind] = (prefix.group(1), names)
    return found


@cache
def hub_resources() -> dict[str, dict[str, Any]]:
    translated = translate(load_cfn_yaml(HUB_TEMPLATE), region="us-east-1", parameters={})
    resources: dict[str, dict[str, Any]] = translated["Resources"]
    return resources


def resource_types() -> list[str]:
    return sorted({body["Type"] for body in hub_resources().values()})


@cache
def _schema_files() -> dict[str, str]:
    providers = files("cfnlint.data.schemas.providers").joinpath("us-east-1.json").read_text()
    index: dict[str, str] = json.loads(providers)
    return index


def delete_permissions(kind: str) -> set[str]:
    """What CloudFormation's delete handler for the type may call (its resource schema)."""
    schema = json.loads(files("cfnlint.data.schemas.resources").joinpath(f"{_schema_files()[kind]}.json").read_text())
    return set(schema["handlers"]["delete"]["permissions"])


def retained(kind: str) -> bool:
    return all(body.get("DeletionPolicy") == "Retain" for body in hub_resources().values() if body["Type"] == kind)


def test_every_resource_type_has_a_row_and_no_row_is_stale() -> None:
    documented = set(table())
    without_row = sorted(set(resource_types()) - documented)
    stale = sorted(documented - set(resource_types()))
    assert not without_row, f"resource types of template.yaml without a row in the deployer's table: {without_row}"
    assert not stale, f"rows of the deployer's table for resource types template.yaml does not have: {stale}"


def test_every_action_is_an_iam_action_of_its_service() -> None:
    for kind, (prefix, actions) in table().items():
        known = iam_actions(prefix)
        unknown = sorted(a for a in actions if a.split(":")[1].lower() not in known)
        assert not unknown, f"the row of {kind}: {unknown} are no IAM actions of {prefix}"


@pytest.mark.parametrize("kind", resource_types())
def test_the_row_can_delete_what_the_template_creates(kind: str) -> None:
    prefix, actions = table()[kind]
    if retained(kind):
        return
    needed = {p for p in delete_permissions(kind) if p.startswith(f"{prefix}:")}
    missing = sorted(needed - actions)
    assert not missing, f"{kind}: CloudFormation's delete handler needs {missing}, not in the deployer's table"


def test_the_map_bucket_is_in_the_table_because_publish_map_creates_it() -> None:
    conditions = {body.get("Condition") for body in hub_resources().values() if body["Type"].startswith("AWS::S3::")}
    assert conditions == {"PublishesMap"}
    assert table()["AWS::S3::Bucket"][0] == "s3"
