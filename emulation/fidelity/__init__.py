"""The registry of moto's gaps, and the one switch that patches them: moto made to behave like AWS.

moto 5.2 deviates from the EC2 API in ways the engine meets. Each deviation ("gap") is one module of
this package, ``emulation/fidelity/<name>.py``, whose docstring says what AWS does (and where that
is documented), what moto does, the patch and how to turn it on; it declares ``GAP``. ``GAP_NAMES``
lists them; docs/moto-gaps.md explains every gap in prose. The shared test fixtures
(tests/conftest.py) and the emulator (``emulation.server``) turn them on here::

    from emulation import fidelity

    fidelity.enable()              # idempotent, patches every gap, returns nothing
    with fidelity.raw_moto():      # moto as released, e.g. to show a gap still exists
        ...
    with fidelity.enabled(["describe_filters"]):   # a subset, restored afterwards
        ...
    fidelity.disable()             # restore moto exactly

The patches change moto's classes, not a mock: they apply to ``moto.mock_aws`` and to a moto server
running in this process (``moto.server.ThreadedMotoServer`` or a ``python -m`` wrapper that calls
``enable()`` before it serves), whether enabled before or after the mock or server starts. AWS
states and the passing of time moto cannot reach are not gaps: see ``emulation.lifecycle``.

Gaps are installed in the order of ``GAP_NAMES``; a gap that wraps a moto method wraps whatever an
earlier gap installed, so the order matters where two gaps touch the same method (per-account tags
must be seen by the tag filters, so ``peering_tags_per_account`` comes before ``describe_filters``;
``expiration_time`` records the creation before ``create_overlap_fails`` may fail the request).
No gap module imports another, so that when moto fixes a gap, deleting its module, its line below,
its test file (tests/integration/fidelity/test_<name>.py) and its section in docs/moto-gaps.md is
the whole change. To add one: a module declaring ``GAP = Gap("<name>", ...)`` (see
``emulation.fidelity.patching``), its line below, its test file (raw moto still deviates /
patched moto matches AWS) and its section in docs/moto-gaps.md.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from emulation.fidelity.patching import Gap, Patcher

__all__ = ["GAPS", "GAP_NAMES", "Gap", "disable", "enable", "enabled", "enabled_gaps", "gap", "raw_moto"]

#: every known gap, one module of this package each, in installation order
GAP_NAMES = (
    "vpc_info_cidr_sets",
    "not_found_error_code",
    "peering_tags_per_account",
    "describe_unknown_ids",
    "describe_filters",
    "expiration_time",
    "create_overlap_fails",
    "blackhole_routes",
    "blackhole_targets",
    "dns_prerequisites",
    "modify_options_checks",
    "subnet_ipv6_state",
    "event_target_account",
)


def _declared(name: str) -> Gap:
    declared = getattr(importlib.import_module(f"{__name__}.{name}"), "GAP", None)
    if not isinstance(declared, Gap) or declared.name != name:
        raise TypeError(f"{__name__}.{name} must declare GAP = Gap({name!r}, ...)")
    return declared


#: every known gap, in installation order
GAPS: tuple[Gap, ...] = tuple(_declared(name) for name in GAP_NAMES)

_lock = threading.RLock()
_patcher: Patcher | None = None
_enabled: tuple[str, ...] = ()


def gap(name: str) -> Gap:
    for item in GAPS:
        if item.name == name:
            return item
    raise KeyError(f"unknown moto gap {name!r}; known: {', '.join(g.name for g in GAPS)}")


def _select(names: Iterable[str] | None) -> set[str]:
    if names is None:
        return {g.name for g in GAPS}
    wanted = {names} if isinstance(names, str) else set(names)
    for name in wanted:
        gap(name)  # raises on an unknown name
    return wanted


def _install(names: set[str]) -> None:
    global _patcher, _enabled
    patcher = Patcher()
    installed: list[str] = []
    try:
        for item in GAPS:
            if item.name in names:
                item.install(patcher)
                installed.append(item.name)
    except Exception:
        patcher.undo()
        raise
    _patcher, _enabled = patcher, tuple(installed)


def disable() -> None:
    """Restore moto as released (idempotent)."""
    global _patcher, _enabled
    with _lock:
        if _patcher is not None:
            _patcher.undo()
        _patcher, _enabled = None, ()


def enable(names: Iterable[str] | None = None) -> None:
    """Patch moto for every gap (or the ``names`` given, added to those already enabled). Idempotent."""
    wanted = _select(names)
    with _lock:
        if wanted <= set(_enabled):
            return
        union = wanted | set(_enabled)
        disable()
        _install(union)


def enabled_gaps() -> tuple[str, ...]:
    """The names of the gaps patched now, in installation order."""
    return _enabled


def _restore(names: tuple[str, ...]) -> None:
    with _lock:
        disable()
        if names:
            _install(set(names))


@contextmanager
def enabled(names: Iterable[str] | None = None) -> Iterator[None]:
    """Patch moto (every gap, or ``names``) for the block, then restore the previous state."""
    with _lock:
        before = _enabled
        disable()
        _install(_select(names))
    try:
        yield
    finally:
        _restore(before)


@contextmanager
def raw_moto() -> Iterator[None]:
    """moto exactly as released for the block (e.g. to show a gap still exists), then restore."""
    with _lock:
        before = _enabled
        disable()
    try:
        yield
    finally:
        _restore(before)
