"""What every event model shares: the formats of ids, accounts, Regions and text, the strict
field-by-field reading of an event (``_Fields``: one JSON type a field, every problem reported with
where it is), and the EventBridge envelope (``EventBridgeEvent``) with its parsing.

The models of each kind of event are in ``peering.core.cloudtrail_events`` (the EC2 API calls CloudTrail
delivers) and ``peering.core.events`` (the operator's, the sweep's and the schedule's events).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from peering.core.errors import InvalidEventError

CONNECTION_ID = r"^pcx-(?:[0-9a-f]{8}|[0-9a-f]{17})$"  # AWS ids have 8 or 17 hex digits
VPC_ID = r"^vpc-(?:[0-9a-f]{8}|[0-9a-f]{17})$"
ACCOUNT_ID = r"^[0-9]{12}$"  # ASCII digits only (\d would take any Unicode digit)
# A Region name as every AWS partition forms them: a geography of 2 to 4 letters (us, cn, eusc),
# an optional qualifier (gov, iso, isob, isoe, isof, de), a compass direction and a number from 1:
# us-east-1, cn-north-1, us-gov-west-1, us-isob-east-1, eu-isoe-west-1, eusc-de-east-1 (every
# Region of botocore's endpoints.json is checked in tests/unit/test_events.py). A new geography or
# partition fits without a change here; a made-up name (a path, upper case, a long string, a
# direction no Region has) never reaches an API call.
REGION = (
    r"^[a-z]{2,4}(?:-[a-z]{2,4})?"
    r"-(?:north|south|east|west|central|northeast|northwest|southeast|southwest)-[1-9][0-9]?$"
)
# What a person may write as "requested by" (it becomes an EC2 tag value): letters, digits,
# spaces and the few punctuation marks EC2 tags allow; never control characters.
PRINCIPAL_NAME = r"^[\w .:/=+@-]{1,128}$"
FREE_TEXT = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"  # no control characters but newline and tab
MAX_COMMENT = 1024

#: what a value that does not match its pattern should have been, for the error message
_FORMAT_NAMES = {
    CONNECTION_ID: "a connection id (pcx- and 8 or 17 lowercase hex digits)",
    ACCOUNT_ID: "a 12-digit account id",
    REGION: "a Region name",
    PRINCIPAL_NAME: "a name of 1 to 128 letters, digits, spaces and . : / = + @ -",
    FREE_TEXT: "text without control characters",
}
_MISSING: Any = object()
Parsed = TypeVar("Parsed", bound="EventBridgeEvent")


def _shown(value: Any) -> str:
    """A value for an error message: its type and, cut short, its repr (hostile values can be huge)."""
    text = repr(value)
    return f"{type(value).__name__} {text[:40]}{'...' if len(text) > 40 else ''}"


class _Fields:
    """Reads the fields of one JSON object, noting every problem with where it is (``detail.region``).

    A field read with a problem gives a placeholder; the caller builds its model only when the
    whole event had none (``_parse``).
    """

    def __init__(self, data: dict[str, Any], where: str, problems: list[str]) -> None:
        self.data = data
        self.where = where
        self.problems = problems

    def _problem(self, key: str, message: str) -> None:
        self.problems.append(f"{self.where}{key}: {message}")

    def _get(self, key: str, default: Any) -> Any:
        value = self.data.get(key, _MISSING)
        if value is _MISSING and default is _MISSING:
            self._problem(key, "required")
        return value

    def text(
        self,
        key: str,
        *,
        default: str = _MISSING,
        pattern: str | None = None,
        choices: frozenset[str] | None = None,
        max_length: int | None = None,
    ) -> str:
        """A string: required, or ``default`` when absent (never null)."""
        value = self._get(key, default)
        if value is _MISSING:
            return default if isinstance(default, str) else ""
        return self._checked(key, value, pattern, choices, max_length) or ""

    def optional_text(self, key: str, *, pattern: str | None = None) -> str | None:
        """A string, or null or absent."""
        value = self.data.get(key)
        return None if value is None else self._checked(key, value, pattern, None, None)

    def _checked(
        self, key: str, value: Any, pattern: str | None, choices: frozenset[str] | None, max_length: int | None
    ) -> str | None:
        if not isinstance(value, str):
            self._problem(key, f"must be a string, not {_shown(value)}")
        elif choices is not None and value not in choices:
            self._problem(key, f"must be {' or '.join(repr(c) for c in sorted(choices))}, not {_shown(value)}")
        elif max_length is not None and len(value) > max_length:
            self._problem(key, f"must be at most {max_length} characters, not {len(value)}")
        elif pattern is not None and re.fullmatch(pattern, value) is None:
            self._problem(key, f"must be {_FORMAT_NAMES.get(pattern, pattern)}, not {_shown(value)}")
        else:
            return value
        return None

    def flag(self, key: str) -> bool | None:
        """true, false, or null/absent (the deployment's setting); never "true" or 1."""
        value = self.data.get(key)
        if value is None or isinstance(value, bool):
            return value
        self._problem(key, f"must be true, false or null, not {_shown(value)}")
        return None

    def mapping(self, key: str) -> dict[str, Any] | None:
        """An object, null or absent."""
        value = self.data.get(key)
        if value is None or _is_object(value):
            return value
        self._problem(key, f"must be an object or null, not {_shown(value)}")
        return None

    def obj(self, key: str) -> _Fields:
        """A required nested object, read in turn (an empty one stands in when it is wrong)."""
        value = self._get(key, _MISSING)
        if value is not _MISSING and not _is_object(value):
            self._problem(key, f"must be an object, not {_shown(value)}")
        return _Fields(value if _is_object(value) else {}, f"{self.where}{key}.", self.problems)

    def texts(self, key: str) -> tuple[str, ...]:
        """A required list of strings."""
        value = self._get(key, _MISSING)
        if value is _MISSING:
            return ()
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            self._problem(key, f"must be a list of strings, not {_shown(value)}")
            return ()
        return tuple(value)

    def timestamp(self, key: str) -> datetime:
        """A required ISO 8601 date and time ("2026-11-30T10:00:00Z")."""
        value = self._get(key, _MISSING)
        if value is _MISSING:
            return datetime.min
        try:
            if not isinstance(value, str):
                raise TypeError
            return datetime.fromisoformat(value)
        except (TypeError, ValueError):
            self._problem(key, f"must be an ISO 8601 date and time, not {_shown(value)}")
            return datetime.min

    def no_other_fields(self, known: frozenset[str]) -> None:
        """The project's own events: a field it does not know is a mistake (or a probe), never ignored."""
        for key in self.data:
            if key not in known:
                self._problem(repr(key)[:40], "is not a field of this event")


def _is_object(value: Any) -> bool:
    return isinstance(value, dict) and all(isinstance(key, str) for key in value)


_MAX_PROBLEMS = 10  # an event with a thousand unknown fields needs no thousand-part message


@dataclass(frozen=True, kw_only=True)
class EventBridgeEvent:
    """The envelope EventBridge puts around every event (what Powertools' EventBridgeModel checked)."""

    version: str
    id: str
    source: str
    account: str
    time: datetime
    region: str
    resources: tuple[str, ...]
    detail_type: str
    replay_name: str | None = None


def _envelope(fields: _Fields, sources: frozenset[str], detail_types: frozenset[str]) -> dict[str, Any]:
    return {
        "version": fields.text("version"),
        "id": fields.text("id"),
        "source": fields.text("source", choices=sources),
        "account": fields.text("account", pattern=ACCOUNT_ID),
        "time": fields.timestamp("time"),
        "region": fields.text("region"),
        "resources": fields.texts("resources"),
        "detail_type": fields.text("detail-type", choices=detail_types),
        "replay_name": fields.optional_text("replay-name"),
    }


def _parse(model: type[EventBridgeEvent], event: Any, read: Callable[[_Fields], Parsed]) -> Parsed:
    """``read`` the event's fields into ``model``; InvalidEventError naming every problem found."""
    if not isinstance(event, dict):
        raise InvalidEventError(f"the event must be a JSON object, got {type(event).__name__}")
    problems: list[str] = []
    parsed = read(_Fields(event, "", problems))
    if problems:
        more = len(problems) - _MAX_PROBLEMS
        listed = "; ".join(problems[:_MAX_PROBLEMS]) + (f"; and {more} more" if more > 0 else "")
        raise InvalidEventError(f"not a valid {model.__name__}: {listed}")
    return parsed
