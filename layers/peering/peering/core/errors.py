"""Typed errors. Handlers catch ``PeeringError`` subclasses to log, count and report them."""


class PeeringError(Exception):
    """Base class for every error this package raises on purpose."""

    #: short, stable name used as the metric dimension and in handler results
    kind = "error"


class InvalidEventError(PeeringError):
    """The event is not one this function accepts (wrong source, detail type, missing fields)."""

    kind = "invalid_event"


class NotASweepTargetError(InvalidEventError):
    """A sweep message (or an operator's sweep request) names an account or a Region this stack's
    sweep does not cover: nothing is read or written for it."""

    kind = "not_a_sweep_target"


class SkippedEventError(PeeringError):
    """The event is well formed but there is nothing to do (e.g. the API call itself failed)."""

    kind = "skipped_event"


class UnknownConnectionError(PeeringError):
    """The EC2 API, asked in the owner's account and Region, does not know the connection."""

    kind = "unknown_connection"


class PolicyError(PeeringError):
    """The approval policy is missing or invalid. Everything is held until it is fixed."""

    kind = "invalid_policy"


class UnauthorizedOperatorError(PeeringError):
    """An operator event was not put on the peering bus of this Region by the hub account."""

    kind = "unauthorized_operator"


class ConfigurationError(PeeringError):
    """A required environment setting is missing or malformed."""

    kind = "configuration"


class NotReadyError(PeeringError):
    """The connection is still being set up by AWS; the invocation fails so it is retried."""

    kind = "not_ready"


class OutsideOrganizationError(PeeringError):
    """The side that must act is in an account this automation cannot (and must not) reach."""

    kind = "outside_organization"


class SweepIncompleteError(PeeringError):
    """Some connections of a swept account+Region could not be converged; the target is retried."""

    kind = "sweep_incomplete"


class OutOfTimeError(PeeringError):
    """Less time is left in the invocation than the safety margin: no new work is started.

    Raised between steps that each leave the ledger and EC2 consistent (records are written before
    their routes and withdrawn for routes not made), so the rest can be handed to another run.
    """

    kind = "out_of_time"


class LedgerBusyError(PeeringError):
    """DynamoDB left part of a batch write unprocessed after every retry; the run is retried."""

    kind = "ledger_busy"
