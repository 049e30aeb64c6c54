"""The layer's build recipe (layers/peering/Makefile, run by `sam build`) ships runtime bytecode.

Without it every cold start compiles the layer from source. Dependencies are not installed here
(PIP=true): what is checked is the engine's own package, compiled or not, and how.
"""

from __future__ import annotations

import struct
import subprocess
from pathlib import Path

import pytest

from tests.template.cfn_yaml import ROOT

LAYER = ROOT / "layers" / "peering"
ENGINE = LAYER / "peering"


def _modules(package: Path) -> list[str]:
    return sorted(p.relative_to(package).with_suffix("").as_posix() for p in package.rglob("*.py"))


def _compiled(package: Path) -> list[str]:
    """The modules a __pycache__ of the package holds python3.13 bytecode for."""
    return sorted(
        (p.parent.parent.relative_to(package) / p.name.split(".")[0]).as_posix()
        for p in package.rglob("__pycache__/*.cpython-313.pyc")
    )


#: the engine's modules, by path inside the package without ".py" ("core/models", "__init__")
ENGINE_MODULES = _modules(ENGINE)


def _build(target: Path, *overrides: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["make", "-C", str(LAYER), "build-PeeringLayer", f"ARTIFACTS_DIR={target}", "PIP=true", *overrides],
        capture_output=True,
        text=True,
        check=True,
    )


def _python313() -> str | None:
    """A python3.13 on this machine, found independently of the Makefile."""
    probe = "import sys; assert sys.version_info[:2] == (3, 13); print(sys.executable)"
    for command in (["env", "PYENV_VERSION=3.13.0", "python3.13"], ["python3.13"]):
        try:
            found = subprocess.run([*command, "-c", probe], capture_output=True, text=True, check=True)
        except (OSError, subprocess.CalledProcessError):
            continue
        return found.stdout.strip()
    return None


def test_without_a_python313_the_layer_ships_sources_and_says_so(tmp_path: Path) -> None:
    built = _build(tmp_path, "PYTHON313=")
    assert "no python3.13 found" in built.stderr
    assert _modules(tmp_path / "python" / "peering") == ENGINE_MODULES
    assert list(tmp_path.rglob("*.pyc")) == []


def test_the_layer_ships_hash_based_bytecode_for_the_runtime(tmp_path: Path) -> None:
    python313 = _python313()
    if python313 is None:
        pytest.skip("no python3.13 on this machine: the build falls back to sources (tested above)")
    built = _build(tmp_path)
    assert f"compiling the layer's bytecode with {python313}" in built.stdout
    package = tmp_path / "python" / "peering"
    assert _compiled(package) == ENGINE_MODULES
    magic = subprocess.run(
        [python313, "-c", "import importlib.util; print(importlib.util.MAGIC_NUMBER.hex())"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    for pyc in package.rglob("*.pyc"):
        header = pyc.read_bytes()[:8]
        assert header[:4].hex() == magic, pyc.name
        # PEP 552 flags: bit 0 hash-based, bit 1 check the source. Unchecked: file times in the
        # zip and the source are never consulted, so nothing can make the runtime recompile.
        assert struct.unpack("<I", header[4:8])[0] == 0b01, pyc.name
