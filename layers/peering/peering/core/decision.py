"""The policy's verdict on a request and its reasons: what planning needs from the policy.

Apart from policy.py (the document's schema and its evaluation), so that importing the planning
core or a handler does not import pydantic: only a path that parses a policy does.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from peering.core.errors import PolicyError


class Verdict(StrEnum):
    ACCEPT = "accept"
    REJECT = "reject"
    HOLD = "hold"


@dataclass(frozen=True)
class PolicyDecision:
    verdict: Verdict
    reasons: tuple[str, ...]
    rule: str | None
    policy_version: str | None


def unavailable_policy_decision(error: PolicyError) -> PolicyDecision:
    """A missing or invalid policy holds everything; it never accepts."""
    return PolicyDecision(Verdict.HOLD, (f"policy unavailable, holding: {error}",), None, None)
