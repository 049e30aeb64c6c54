"""Loading the approval policy from its SSM parameter (Powertools Parameters, cached).

The provider lives at module level so its cache survives warm invocations; it is created on
first use (never at import time) and ``reset()`` drops it (tests, policy changes in the demo).
"""

from __future__ import annotations

from aws_lambda_powertools.utilities import parameters

from peering.aws import AwsClients
from peering.errors import PolicyError
from peering.policy import PolicyDocument, parse_policy

_providers: dict[str, parameters.SSMProvider] = {}


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
        raise PolicyError(f"cannot read the approval policy parameter {parameter_name}: {exc}") from exc
    return parse_policy(text if isinstance(text, str) else None)
