"""The parameter tables of the docs list exactly the templates' parameters, with their defaults.

Each table is found by its heading (``TABLES``): the first Markdown table after the heading line,
up to the first line that is not a table row. Its first column is the parameter's name in
backticks; its second column is the default, written one of three ways:

- ``required``: the template gives the parameter no ``Default`` (text may follow: "required, NoEcho");
- ``empty``: the ``Default`` is the empty string (text may follow: "empty (the stack's Region)");
- a value in backticks, equal to the template's ``Default`` as CloudFormation reads it (``90``).

A parameter added to a template without a row fails here, naming the parameter, the table's heading
and the file; so does a row for a parameter the template does not have (a StackSet given an
unknown parameter is refused), a row twice, or a default that differs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.template.cfn_yaml import HUB_TEMPLATE, MEMBER_TEMPLATE, ROOT, load_cfn_yaml

GUARDRAILS_TEMPLATE = ROOT / "guardrails-template.yaml"
README = ROOT / "README.md"
DEPLOY_GUIDE = ROOT / "docs" / "deploy.md"


@dataclass(frozen=True)
class Table:
    doc: Path
    heading: str  # the whole heading line, as written
    template: Path

    @property
    def where(self) -> str:
        return str(self.doc.relative_to(ROOT)) if self.doc.is_relative_to(ROOT) else str(self.doc)

    def __str__(self) -> str:
        return f"the table under {self.heading!r} in {self.where}"


TABLES = (
    Table(README, "### Hub parameters (`template.yaml`)", HUB_TEMPLATE),
    Table(DEPLOY_GUIDE, "## Hub parameters (`template.yaml`)", HUB_TEMPLATE),
    Table(DEPLOY_GUIDE, "## Member parameters (`member-template.yaml`)", MEMBER_TEMPLATE),
    Table(DEPLOY_GUIDE, "### Guardrail parameters (`guardrails-template.yaml`)", GUARDRAILS_TEMPLATE),
)

REQUIRED = object()  # a parameter without a Default
_NAME = re.compile(r"`([A-Za-z0-9]+)`")


def _cells(row: str) -> list[str]:
    return [cell.strip() for cell in row.strip().strip("|").split("|")]


def table_rows(table: Table) -> list[tuple[str, str]]:
    """(name cell, default cell) of each body row of the table under the heading."""
    lines = table.doc.read_text(encoding="utf-8").splitlines()
    assert table.heading in lines, f"{table.where} has no heading line {table.heading!r}"
    after = lines[lines.index(table.heading) + 1 :]
    start = next((i for i, line in enumerate(after) if line.startswith("|")), None)
    assert start is not None, f"no table after {table.heading!r} in {table.where}"
    rows = []
    for line in after[start + 2 :]:  # past the header and its |---| line
        if not line.startswith("|"):
            break
        cells = _cells(line)
        rows.append((cells[0], cells[1] if len(cells) > 1 else ""))
    return rows


def documented_default(cell: str) -> Any:
    """The default a cell states: REQUIRED, "" (empty), the backticked value, or None (unreadable)."""
    if re.match(r"required\b", cell):
        return REQUIRED
    if re.match(r"empty\b", cell):
        return ""
    literal = re.match(r"`([^`]*)`", cell)
    return literal.group(1) if literal else None


def template_defaults(template: Path) -> dict[str, Any]:
    """Each parameter's Default as text (REQUIRED when it has none)."""
    parameters: dict[str, dict[str, Any]] = load_cfn_yaml(template)["Parameters"]
    return {name: str(spec["Default"]) if "Default" in spec else REQUIRED for name, spec in parameters.items()}


def _shown(default: Any) -> str:
    return "required (no Default)" if default is REQUIRED else "empty" if default == "" else f"`{default}`"


def problems(table: Table) -> list[str]:
    """Every difference between the table and its template, one line each."""
    expected = template_defaults(table.template)
    template = table.template.name
    found: list[str] = []
    seen: set[str] = set()
    for name_cell, default_cell in table_rows(table):
        match = _NAME.fullmatch(name_cell)
        if match is None:
            found.append(f"{table}: a row's first cell {name_cell!r} is not a parameter name in backticks")
            continue
        name = match.group(1)
        if name in seen:
            found.append(f"{table}: `{name}` has two rows")
        seen.add(name)
        if name not in expected:
            found.append(f"{table} lists `{name}`, which {template} does not have")
            continue
        stated = documented_default(default_cell)
        if stated is None:
            found.append(f"{table}: the default of `{name}` ({default_cell!r}) is none of required, empty or a `value`")
        elif stated != expected[name]:
            found.append(
                f"{table}: `{name}` defaults to {_shown(stated)}, but {template} says {_shown(expected[name])}"
            )
    for name in expected:
        if name not in seen:
            found.append(f"{template} parameter `{name}` (default {_shown(expected[name])}) is missing from {table}")
    return found


@pytest.mark.parametrize("table", TABLES, ids=lambda t: f"{t.doc.name}:{t.template.name}")
def test_the_table_lists_exactly_the_templates_parameters_and_defaults(table: Table) -> None:
    found = problems(table)
    assert not found, "\n".join(found)


def test_the_defaults_are_read_as_written() -> None:
    assert documented_default("required, NoEcho") is REQUIRED
    assert documented_default("empty (the stack's Region)") == ""
    assert documented_default("`rate(30 minutes)`") == "rate(30 minutes)"
    assert documented_default("the stack's Region") is None


def test_a_missing_an_extra_and_a_wrong_row_are_each_named(tmp_path: Path) -> None:
    template = tmp_path / "t.yaml"
    template.write_text("Parameters:\n  Kept: {Type: String, Default: a}\n  Added: {Type: Number, Default: 3}\n")
    doc = tmp_path / "doc.md"
    doc.write_text(
        "## T\n\n| Parameter | Default | Meaning |\n|---|---|---|\n"
        "| `Kept` | `b` | x |\n| `Gone` | empty | y |\n\nafter\n| `Added` | `3` | not in the table |\n"
    )
    found = problems(Table(doc, "## T", template))

    where = f"the table under '## T' in {doc}"
    assert found == [
        f"{where}: `Kept` defaults to `b`, but t.yaml says `a`",
        f"{where} lists `Gone`, which t.yaml does not have",
        f"t.yaml parameter `Added` (default `3`) is missing from {where}",
    ]
