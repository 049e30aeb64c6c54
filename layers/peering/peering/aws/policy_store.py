"""Loading the approval policy from its SSM parameter (Powertools Parameters, cached).

The provider lives at module level so its cache survives warm invocations; it is created on
first use (never at import time) and ``reset()`` drops it (tests, policy changes in the demo).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aws_lambda_powertools.utilities import parameters
from botocore.exceptions import ClientError

from peering.aws.clients import AwsClients
from peering.core.errors import PolicyError

if TYPE_CHECKING:
    from peering.core.policy import PolicyDocument

_providers: dict[str, parameters.SSMProvider] = {}
# Errors that mean there is no usable policy (as opposed to an outage): everything is held.
_NO_POLICY = frozenset(
    {"ParameterNotFound", "ParameterVersionNotFound", "AccessDeniedException", "ValidationException"}
)


def reset() -> None:
    _providers.clear()


def load_policy(aws: AwsClients, parameter_name: str, max_age: int) -> PolicyDocument:
    """The current policy document. Missing or invalid raises ``PolicyError`` (never accepts)."""
    provider = _providers.get("ssm")
    if provider is None:
        provider = _providers["ssm"] = parameters.SSMProvider(boto3_client=aws.hub("ssm"))
    try:
        text = provider.get(parameter_name, max_age=max_age)
    except parameters.exceptions.GetParameterError as exc:
        # Powertools wraps every error; the one it wraps tells a missing policy from an outage.
        cause = exc.__context__
        if isinstance(cause, ClientError) and cause.response["Error"]["Code"] in _NO_POLICY:
            raise PolicyError(f"cannot read the approval policy parameter {parameter_name}: {exc}") from exc
        # Throttling, a 5xx, the network: holding everything (and telling people so) would be a
        # decision on a view with holes. Raise, so the invocation is retried.
        raise (cause or exc) from None
    # The policy's models (pydantic) are imported by the first read, not with the handler: a
    # cold start pays for them only on a path that reads the policy.
    from peering.core.policy import parse_policy  # noqa: PLC0415

    return parse_policy(text if isinstance(text, str) else None)
