"""An event function handing the rest of its work to its own next invocation (asynchronous).

Configure and cleanup run inside their invocation's time (``core/deadline.py``); what they cannot
finish is handed on by invoking the same function again, asynchronously, with the original event
wrapped as a continuation (``core.events.continued_event``). Lambda queues the invocation, retries
it twice if it fails and then sends it to the function's dead-letter queue, as for any event.
The role may invoke only its own function (template.yaml, ``<Function>Continues``).
"""

from __future__ import annotations

import json
from typing import Any

from peering.aws.clients import AwsClients


def invoke_later(aws: AwsClients, function_arn: str, payload: dict[str, Any]) -> None:
    """Queue ``payload`` for ``function_arn`` (an asynchronous invocation: Lambda answers 202)."""
    # The function itself, never a version or alias the context may name: the role's grant is
    # on the unqualified ARN (arn:partition:lambda:Region:account:function:name).
    parts = function_arn.split(":")
    aws.hub("lambda", parts[3]).invoke(
        FunctionName=":".join(parts[:7]), InvocationType="Event", Payload=json.dumps(payload).encode()
    )
