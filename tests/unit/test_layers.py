"""The engine's layers: each sub-package imports only its own floor and the floors below it.

layers/peering/peering/ is six sub-packages on six floors, bottom to top: core (pure planning,
no AWS SDK), runtime (the Lambda process), aws (the adapters), lifecycle, map, sweep. The folder
listing is the architecture diagram only while the code keeps to it, so the imports are read here
from the sources with ``ast`` (nothing is imported, so a lazy import inside a function or one under
``TYPE_CHECKING`` counts as much as one at the top of a module): an import may go down or stay on
its floor, never up; the core imports neither the AWS SDK nor Powertools, the runtime not the AWS
SDK; no modules import each other in a circle; and every module lives in a floor (a new module at
the package root fails).
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from functools import cache
from pathlib import Path

import pytest

from tests.conftest import ROOT

ENGINE = ROOT / "layers" / "peering" / "peering"
#: bottom to top: a floor may import its own modules and the floors below it
FLOORS = ("core", "runtime", "aws", "lifecycle", "map", "sweep")
#: what the pure core never imports: the AWS SDK (the Lambda runtime's) and Powertools
NOT_IN_CORE = ("boto3", "botocore", "aws_lambda_powertools")
#: the runtime wraps the process (settings, logs, metrics, batches); AWS calls are the adapters'
NOT_IN_RUNTIME = ("boto3", "botocore")

Imports = Mapping[str, Iterable[str]]  # module -> the modules it imports ("peering.core.models", "boto3")


def module_name(path: Path) -> str:
    parts = path.relative_to(ENGINE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def engine_modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(ENGINE.rglob("*.py"))}


def imports_of(path: Path, known: Iterable[str]) -> set[str]:
    """Every module ``path`` imports, wherever the import stands. ``from a import b`` imports
    ``a.b`` when that is one of the engine's modules, else ``a``."""
    known = set(known)
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from the module's own package upwards
                package = module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names if f"{base}.{alias.name}" in known)
    return found


@cache
def _read_engine_imports() -> dict[str, frozenset[str]]:
    modules = engine_modules()
    return {name: frozenset(imports_of(path, modules)) for name, path in modules.items()}


def engine_imports() -> dict[str, set[str]]:
    """The engine's imports, read once per test session (a copy each caller may change)."""
    return {name: set(targets) for name, targets in _read_engine_imports().items()}


def floor_of(module: str) -> str | None:
    """The floor of an engine module (None for the package itself and anything outside it)."""
    parts = module.split(".")
    return parts[1] if parts[0] == "peering" and len(parts) > 1 else None


# ---------------------------------------------------------------- the rules, on any import graph


def upward_imports(imports: Imports) -> list[str]:
    wrong = []
    for module, targets in imports.items():
        floor = floor_of(module)
        if floor is None:
            continue
        for target in targets:
            above = floor_of(target)
            if above is not None and above in FLOORS and FLOORS.index(above) > FLOORS.index(floor):
                wrong.append(f"{module} ({floor}) imports {target} ({above}, a floor above)")
    return sorted(wrong)


def impure_core_imports(imports: Imports) -> list[str]:
    wrong = []
    for module, targets in imports.items():
        if floor_of(module) != "core":
            continue
        for target in targets:
            if target.split(".")[0] in NOT_IN_CORE:
                wrong.append(f"{module} imports {target}: the core is pure (no AWS SDK, no Powertools)")
            elif target.startswith("peering.") and floor_of(target) != "core":
                wrong.append(f"{module} imports {target}: the core imports only the core")
    return sorted(wrong)


def runtime_aws_imports(imports: Imports) -> list[str]:
    return sorted(
        f"{module} imports {target}: AWS calls belong to the adapters (aws/)"
        for module, targets in imports.items()
        if floor_of(module) == "runtime"
        for target in targets
        if target.split(".")[0] in NOT_IN_RUNTIME
    )


def import_circles(imports: Imports) -> list[list[str]]:
    """The engine's modules that import each other in a circle, one list per circle (Tarjan's
    strongly connected components; a module importing itself counts too)."""
    graph = {m: sorted(t for t in targets if t in imports and t != "peering") for m, targets in imports.items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    circles: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for target in graph[module]:
            if target not in index:
                visit(target)
                low[module] = min(low[module], low[target])
            elif target in on_stack:
                low[module] = min(low[module], index[target])
        if low[module] == index[module]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == module:
                    break
            if len(component) > 1 or module in graph[module]:
                circles.append(sorted(component))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    return sorted(circles)


def misplaced_modules(paths: Iterable[Path]) -> list[str]:
    wrong = []
    for path in paths:
        parts = path.relative_to(ENGINE).parts
        if len(parts) == 1 and parts[0] != "__init__.py":
            wrong.append(f"{path.name} is at the package root: put it in the floor it belongs to ({', '.join(FLOORS)})")
        elif len(parts) > 1 and parts[0] not in FLOORS:
            wrong.append(f"{'/'.join(parts)} is in {parts[0]}/, not a floor: add the floor to FLOORS and the docs")
    return sorted(wrong)


# ---------------------------------------------------------------- the engine keeps them


def test_the_imports_are_found() -> None:
    # Guards the reading: if the parsing misses imports, the checks below pass on nothing.
    imports = engine_imports()
    assert set(FLOORS) == {floor_of(m) for m in imports} - {None}
    assert "peering.core.models" in imports["peering.core.plan"]
    assert "peering.map.publish" in imports["peering.sweep.target"]  # imported inside a function
    assert "botocore.exceptions" in imports["peering.aws.observe"]
    assert sum(len(t) for t in imports.values()) > 150


def test_every_module_is_on_a_floor() -> None:
    assert misplaced_modules(ENGINE.rglob("*.py")) == []


@pytest.mark.parametrize("floor", FLOORS)
def test_each_floor_says_what_it_owns_and_what_it_may_import(floor: str) -> None:
    docstring = " ".join((ast.get_docstring(ast.parse((ENGINE / floor / "__init__.py").read_text())) or "").split())
    assert "may import" in docstring, f"{floor}/__init__.py: one paragraph, what it owns and what it may import"


def test_no_floor_imports_a_floor_above_it() -> None:
    assert upward_imports(engine_imports()) == []


def test_the_core_is_pure() -> None:
    assert impure_core_imports(engine_imports()) == []


def test_the_runtime_makes_no_aws_call() -> None:
    assert runtime_aws_imports(engine_imports()) == []


def test_no_modules_import_each_other_in_a_circle() -> None:
    assert import_circles(engine_imports()) == []


# ---------------------------------------------------------------- the checks catch what they are for


def _with(module: str, *extra: str) -> dict[str, set[str]]:
    imports = engine_imports()
    imports[module] = imports[module] | set(extra)
    return imports


@pytest.mark.parametrize(
    ("module", "wrong"),
    [
        ("peering.aws.apply", "peering.lifecycle.context"),  # an adapter reaching for a lifecycle
        ("peering.runtime.config", "peering.aws.clients"),
        ("peering.map.publish", "peering.sweep.target"),  # the cut that ended the sweep's circle
        ("peering.core.models", "peering.runtime.observability"),
    ],
)
def test_an_import_from_a_floor_above_is_caught(module: str, wrong: str) -> None:
    assert upward_imports(_with(module, wrong)) == [
        f"{module} ({floor_of(module)}) imports {wrong} ({floor_of(wrong)}, a floor above)"
    ]


@pytest.mark.parametrize("wrong", ["boto3", "botocore.exceptions", "aws_lambda_powertools.logging", "peering.aws.org"])
def test_an_impure_import_in_the_core_is_caught(wrong: str) -> None:
    found = impure_core_imports(_with("peering.core.routing", wrong))
    assert len(found) == 1
    assert found[0].startswith(f"peering.core.routing imports {wrong}: ")


def test_an_aws_import_in_the_runtime_is_caught() -> None:
    assert runtime_aws_imports(_with("peering.runtime.config", "boto3")) == [
        "peering.runtime.config imports boto3: AWS calls belong to the adapters (aws/)"
    ]


def test_a_circle_on_one_floor_is_caught() -> None:
    # readiness read SweepTarget from the fan-out, which imports readiness: the circle before the split
    imports = _with("peering.sweep.readiness", "peering.sweep.fan_out")
    assert import_circles(imports) == [["peering.sweep.fan_out", "peering.sweep.readiness"]]


def test_a_module_at_the_root_or_outside_a_floor_is_caught() -> None:
    strays = [ENGINE / "helpers.py", ENGINE / "util" / "helpers.py", ENGINE / "__init__.py"]
    assert [w.split(" ")[0] for w in misplaced_modules(strays)] == ["helpers.py", "util/helpers.py"]


def test_a_lazy_import_counts(tmp_path: Path) -> None:
    source = tmp_path / "lazy.py"
    source.write_text("def later() -> None:\n    from peering.sweep.target import converge_target\n")
    assert imports_of(source, set()) == {"peering.sweep.target"}


# ---------------------------------------------------------------------------------------------
# Rooms a reader can take in at once
# ---------------------------------------------------------------------------------------------

#: the most lines an engine class may have (issue 21: the 392-line Ledger became one store per record)
MAX_CLASS_LINES = 200


def oversized_classes(modules: Mapping[str, Path], limit: int) -> list[str]:
    return [
        f"{name}.{node.name}: {node.end_lineno - node.lineno + 1} lines"
        for name, path in modules.items()
        for node in ast.walk(ast.parse(path.read_text(), str(path)))
        if isinstance(node, ast.ClassDef) and node.end_lineno and node.end_lineno - node.lineno + 1 > limit
    ]


def test_no_engine_class_exceeds_the_limit() -> None:
    assert oversized_classes(engine_modules(), MAX_CLASS_LINES) == []


def test_the_class_limit_catches_a_long_class() -> None:
    # the largest class today is well under the limit, so the check is proven on a lower one
    assert oversized_classes(engine_modules(), 150), "some class should exceed 150 lines"
