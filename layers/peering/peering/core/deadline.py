"""How long a run may keep starting work: the invocation's time left, less a safety margin.

EC2's mutating calls share a token bucket (50 tokens, 5 more each second), so a target missing
hundreds of routes takes minutes: a batch of such targets would outrun the worker's timeout, and
one connection between a VPC of 200 route tables and a peer of 5 blocks (1,000 routes) outruns
configure's and cleanup's. The engine asks the deadline before each target, each connection and
each batch of route records and route; once less than the margin is left it stops
(``OutOfTimeError``) at a point where the ledger and EC2 agree, and the rest goes to another
invocation: the worker hands its target back to the queue, configure and cleanup hand their event
on to their own next invocation (lifecycle/handler.py). The engine used without a Lambda context
(the accept and operator functions' few calls, a local command) has no deadline (``NEVER``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from peering.core.errors import OutOfTimeError

# Enough for the longest step started just before the margin: one route change through the
# adaptive retries under throttling, then the records withdrawn and the rest handed back.
MARGIN_SECONDS = 60.0
# A short invocation (tests, a small timeout) keeps most of its time for work.
MARGIN_FRACTION = 0.1


@dataclass(frozen=True)
class Deadline:
    remaining_ms: Callable[[], int] | None = None  # Lambda's context.get_remaining_time_in_millis
    margin_seconds: float = MARGIN_SECONDS

    @classmethod
    def of(cls, context: Any) -> Deadline:
        """From a Lambda context: the margin is 60 s, or a tenth of the time this invocation has
        left at its start when that is shorter."""
        remaining: Callable[[], int] = context.get_remaining_time_in_millis
        return cls(remaining, min(MARGIN_SECONDS, MARGIN_FRACTION * remaining() / 1000))

    def seconds_left(self) -> float | None:
        return None if self.remaining_ms is None else self.remaining_ms() / 1000

    def expired(self) -> bool:
        left = self.seconds_left()
        return left is not None and left < self.margin_seconds

    def check(self, what: str) -> None:
        """Raise OutOfTimeError instead of starting ``what``."""
        if self.expired():
            raise OutOfTimeError(f"{self.seconds_left():.0f} s left (margin {self.margin_seconds:.0f} s): not {what}")


NEVER = Deadline()
