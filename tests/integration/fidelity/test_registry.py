"""emulation.fidelity, the registry and its switch: every gap declared, documented and tested alike,
each its own module that imports no other gap, and patched in and out of moto exactly.
"""

from __future__ import annotations

import ast
import urllib.request
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto.server import ThreadedMotoServer

from emulation import fidelity
from emulation.fidelity import GAP_NAMES, GAPS
from emulation.fidelity.patching import NOT_FOUND_CODE, Gap, Patcher
from tests.integration.fidelity.calls import error_code
from tests.integration.fidelity.world import EAST, UNKNOWN_ID

ROOT = Path(__file__).resolve().parents[3]
PACKAGE = ROOT / "emulation" / "fidelity"
#: the modules of emulation/fidelity/ that are not gaps
SUPPORT = {"__init__", "patching"}
PATCHING = "emulation.fidelity.patching"


def _replaced(names: Iterable[str]) -> set[tuple[type, str]]:
    """(class, attribute) of moto that the gaps ``names`` replace: installed on raw moto, then undone."""
    wanted = set(names)
    with fidelity.raw_moto():
        patcher = Patcher()
        try:
            for gap in GAPS:
                if gap.name in wanted:
                    gap.install(patcher)
            return set(patcher.replaced)
        finally:
            patcher.undo()


def _snapshot(attributes: Iterable[tuple[type, str]]) -> dict[tuple[type, str], Any]:
    return {(owner, name): vars(owner).get(name) for owner, name in attributes}


def _imports(path: Path) -> set[str]:
    """Every module (and module.name) a source file imports; relative imports as ``.<module>``."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            module = "." * node.level + (node.module or "")
            found |= {module} | {f"{module}.{alias.name}" for alias in node.names}
    return found


def _test_names(path: Path) -> list[str]:
    tree = ast.parse(path.read_text())
    return [node.name for node in tree.body if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")]


def test_enable_is_idempotent_and_disable_restores_moto_exactly() -> None:
    touched = _replaced(GAP_NAMES)
    with fidelity.raw_moto():
        pristine = _snapshot(touched)
        fidelity.enable()
        first = _snapshot(touched)
        assert all(first[k] is not pristine[k] for k in pristine)
        assert fidelity.enable() is None
        assert _snapshot(touched) == first, "a second enable() must not wrap twice"
        assert fidelity.enabled_gaps() == GAP_NAMES == tuple(g.name for g in GAPS)
        fidelity.disable()
        fidelity.disable()
        assert _snapshot(touched) == pristine
        assert fidelity.enabled_gaps() == ()


def test_context_managers_restore_the_previous_state() -> None:
    first, last = GAP_NAMES[0], GAP_NAMES[-1]
    with fidelity.raw_moto():
        with fidelity.enabled([last]):
            assert fidelity.enabled_gaps() == (last,)
            with fidelity.raw_moto():
                assert fidelity.enabled_gaps() == ()
            assert fidelity.enabled_gaps() == (last,)
            fidelity.enable([first])  # adds, in registry order
            assert fidelity.enabled_gaps() == tuple(dict.fromkeys((first, last)))
        assert fidelity.enabled_gaps() == ()


@pytest.mark.parametrize("name", GAP_NAMES)
def test_a_subset_patches_only_its_gaps(name: str) -> None:
    own = _replaced([name])
    assert own, f"gap {name} patches nothing"
    others = _replaced(set(GAP_NAMES) - {name}) - own
    with fidelity.raw_moto():
        pristine = _snapshot(own | others)
        with fidelity.enabled([name]):
            assert fidelity.enabled_gaps() == (name,)
            now = _snapshot(own | others)
            assert all(now[k] is not pristine[k] for k in own)
            assert all(now[k] is pristine[k] for k in others)
        assert _snapshot(own | others) == pristine


def test_unknown_gap_name_is_refused() -> None:
    with pytest.raises(KeyError, match="no-such-gap"):
        fidelity.enable(["no-such-gap"])


def test_every_module_of_the_package_is_a_registered_gap() -> None:
    modules = {path.stem for path in PACKAGE.glob("*.py")} - SUPPORT
    assert modules == set(GAP_NAMES)
    assert len(GAP_NAMES) == len(set(GAP_NAMES))
    assert all(isinstance(g, Gap) and g.name == name for g, name in zip(GAPS, GAP_NAMES, strict=True))


@pytest.mark.parametrize("gap", GAPS, ids=[g.name for g in GAPS])
def test_every_gap_is_documented_and_tested(gap: Gap) -> None:
    assert gap.doc.startswith("https://docs.aws.amazon.com/"), gap.name
    assert gap.description.startswith(f"Gap ``{gap.name}``: "), "the module docstring says which gap it owns"
    for label in ("AWS: ", "moto 5.2: ", "Patch: ", "Turn on: "):
        assert f"\n{label}" in gap.description, f"{gap.module}: no {label!r} paragraph in its docstring"
    assert gap.doc in gap.description, f"{gap.module}: its docstring cites {gap.doc}"
    assert f'fidelity.enabled(["{gap.name}"])' in gap.description, f"{gap.module}: how to turn it on"
    tests = _test_names(ROOT / gap.tests)
    assert f"test_raw_moto_still_has_gap_{gap.name}" in tests, f"{gap.name}: no test proving raw moto deviates"
    assert any(t.startswith(f"test_{gap.name}_") for t in tests), f"{gap.name}: no test of the patched behaviour"
    docs = (ROOT / "docs" / "moto-gaps.md").read_text()
    assert f"## `{gap.name}`" in docs, f"{gap.name}: no section in docs/moto-gaps.md"
    assert f"`{gap.module}`" in docs, f"{gap.name}: docs/moto-gaps.md does not point at {gap.module}"


def test_every_test_file_here_is_named_after_a_module() -> None:
    """Removing a gap removes exactly one test file: its own."""
    files = {path.stem for path in Path(__file__).parent.glob("test_*.py")}
    assert files == {f"test_{name}" for name in GAP_NAMES} | {"test_registry", "test_lifecycle"}


@pytest.mark.parametrize("name", GAP_NAMES)
def test_no_gap_module_imports_another(name: str) -> None:
    """Deleting one gap module (and its registry line and tests) must be the whole change."""
    imports = _imports(PACKAGE / f"{name}.py")
    assert not {i for i in imports if i.startswith(".")}, "absolute imports only"
    reaching = {i for i in imports if i.startswith("emulation.fidelity") and not i.startswith(f"{PATCHING}")}
    assert not reaching, f"{name} imports {reaching}: a gap builds on {PATCHING} and emulation.lifecycle only"


@pytest.mark.parametrize("path", [PACKAGE / "patching.py", ROOT / "emulation" / "lifecycle.py"], ids=lambda p: p.stem)
def test_what_the_gaps_build_on_imports_no_gap(path: Path) -> None:
    assert not {i for i in _imports(path) if i.startswith("emulation.fidelity")}


def test_patches_apply_to_an_in_process_moto_server() -> None:
    """The same patches serve HTTP clients of a moto server started in this process."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    try:
        with fidelity.enabled():
            client = boto3.client("ec2", region_name=EAST, endpoint_url=url)
            a = client.create_vpc(CidrBlock="10.40.0.0/16")["Vpc"]["VpcId"]
            b = client.create_vpc(CidrBlock="10.41.0.0/16")["Vpc"]["VpcId"]
            pcx = client.create_vpc_peering_connection(VpcId=a, PeerVpcId=b)["VpcPeeringConnection"]
            found = client.describe_vpc_peering_connections(
                Filters=[{"Name": "requester-vpc-info.vpc-id", "Values": [a]}]
            )["VpcPeeringConnections"]
            assert [i["VpcPeeringConnectionId"] for i in found] == [pcx["VpcPeeringConnectionId"]]
            assert found[0]["RequesterVpcInfo"]["CidrBlockSet"] == [{"CidrBlock": "10.40.0.0/16"}]
            with pytest.raises(ClientError) as exc:
                client.describe_vpc_peering_connections(VpcPeeringConnectionIds=[UNKNOWN_ID])
            assert error_code(exc) == NOT_FOUND_CODE
    finally:
        urllib.request.urlopen(urllib.request.Request(f"{url}/moto-api/reset", method="POST"), timeout=10).close()  # noqa: S310
        server.stop()
