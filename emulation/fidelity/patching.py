"""What every gap module is written with: the ``Gap`` it declares and the ``Patcher`` it patches through.

A gap module (``emulation.fidelity.<name>``) declares ``GAP = Gap(...)`` whose ``install`` receives
a ``Patcher``: every attribute it replaces on moto's classes is remembered, so the registry
(``emulation.fidelity``) can undo the patches exactly. Besides, this module holds the little that
several patches read or answer alike, so that no gap module needs another: the EC2 not-found code
as AWS spells it, a VPC's associated CIDR blocks, and the items of one of moto's responses.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from moto.core.responses import ActionResult

__all__ = ["NOT_FOUND_CODE", "Gap", "Patcher", "associated_blocks", "replace_result", "result_items"]

#: the error code as the EC2 API reference (and botocore's waiter model) spells it: "ID", not "Id"
NOT_FOUND_CODE = "InvalidVpcPeeringConnectionID.NotFound"

Install = Callable[["Patcher"], None]


class Patcher:
    """Replaces attributes on moto's classes and remembers the originals so ``undo`` restores them."""

    def __init__(self) -> None:
        self._saved: list[tuple[type, str, bool, Any]] = []

    @staticmethod
    def current(owner: type, name: str) -> Any:
        """The attribute as installed now (function, property, ...), found along the MRO, unbound."""
        for klass in owner.__mro__:
            if name in vars(klass):
                return vars(klass)[name]
        raise AttributeError(f"{owner.__name__} has no attribute {name!r}: moto changed, revisit the patch")

    @property
    def replaced(self) -> list[tuple[type, str]]:
        """(class, attribute) of every replacement made and not undone yet, in the order made."""
        return [(owner, name) for owner, name, _, _ in self._saved]

    def replace(self, owner: type, name: str, value: Any) -> None:
        own = name in vars(owner)
        self._saved.append((owner, name, own, vars(owner).get(name)))
        setattr(owner, name, value)

    def wrap(self, owner: type, name: str, make: Callable[[Callable[..., Any]], Callable[..., Any]]) -> None:
        """Replace method ``name`` by ``make(previous)``, keeping its name (moto dispatches on it)."""
        previous = self.current(owner, name)
        if not callable(previous):
            raise TypeError(f"{owner.__name__}.{name} is not a method: moto changed, revisit the patch")
        self.replace(owner, name, functools.wraps(previous)(make(previous)))

    def undo(self) -> None:
        while self._saved:
            owner, name, own, value = self._saved.pop()
            if own:
                setattr(owner, name, value)
            else:
                delattr(owner, name)


@dataclass(frozen=True)
class Gap:
    """One way moto 5.2 deviates from AWS, and the patch that reproduces AWS's documented behaviour."""

    name: str  # the name of its module in emulation/fidelity/, and of its tests
    doc: str  # the AWS documentation of the behaviour reproduced
    install: Install
    description: str  # what AWS does, what moto does, the patch, how to turn it on (the module's docstring)
    #: False when the AWS behaviour is inferred rather than stated in the page (see docs/moto-gaps.md)
    documented: bool = True

    @property
    def module(self) -> str:
        return f"emulation/fidelity/{self.name}.py"

    @property
    def tests(self) -> str:
        """Where its tests live: raw moto still deviates / patched moto matches AWS."""
        return f"tests/integration/fidelity/test_{self.name}.py"


def associated_blocks(vpc: Any, *, ipv6: bool) -> list[str]:
    """The VPC's CIDR blocks in state ``associated`` (primary first), IPv4 or IPv6."""
    return [
        str(item["cidr_block"])
        for item in vpc.get_cidr_block_association_set(ipv6=ipv6)
        if (item.get("cidr_block_state") or {}).get("state") == "associated"
    ]


def result_items(result: ActionResult, key: str) -> Any:
    """``key`` of the body of one of moto's responses (None when the body is not a dict)."""
    body = result.result
    return body.get(key) if isinstance(body, dict) else None


def replace_result(result: ActionResult, key: str, value: Any) -> ActionResult:
    """The same response with ``key`` of its body replaced by ``value``."""
    body = result.result
    assert isinstance(body, dict)
    return ActionResult({**body, key: value})
