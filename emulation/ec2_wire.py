"""An EC2 call as the server saw it (query-string request, XML response) -> what boto3 would have had.

CloudTrail records a call's parameters and response (``emulation.cloudtrail.api_call_event`` writes
them from a boto3 call's parameters and parsed response). A call made by any client (the AWS CLI,
Terraform, an SDK in another language) reaches the emulator only as the EC2 query protocol: a form
body ``Action=CreateVpc&CidrBlock=10.0.0.0/16&TagSpecification.1.Tag.1.Key=...`` and an XML answer.
``decode_call`` reverses botocore's EC2 serializer with the operation's input shape (query names:
``queryName``, else the capitalized ``locationName``, else the member name; lists flattened as
``Name.1``, ``Name.2``) and parses the answer with botocore's own EC2 parser, errors included.
"""

from __future__ import annotations

import functools
import urllib.parse
from dataclasses import dataclass
from typing import Any

from botocore import parsers
from botocore.model import OperationModel, ServiceModel, Shape

__all__ = ["DecodedCall", "decode_call", "operation_model"]


@functools.cache
def _service() -> ServiceModel:
    import botocore.session  # noqa: PLC0415 - loading the model is the slow part; once

    return botocore.session.get_session().get_service_model("ec2")


def operation_model(action: str) -> OperationModel | None:
    """The EC2 operation named ``action``, or None when botocore's model has no such operation."""
    service = _service()
    return service.operation_model(action) if action in service.operation_names else None


@dataclass(frozen=True)
class DecodedCall:
    operation: str
    params: dict[str, Any]  # boto3's parameters (member names, typed values)
    response: dict[str, Any]  # boto3's parsed response (ResponseMetadata included), {} for an error
    error: tuple[str, str] | None  # (code, message) of a failed call
    model: OperationModel


def _query_name(shape: Shape, default: str) -> str:
    serialization = shape.serialization
    if "queryName" in serialization:
        return str(serialization["queryName"])
    if "name" in serialization:
        name = str(serialization["name"])
        return name[:1].upper() + name[1:]
    return default


def _present(prefix: str, keys: frozenset[str]) -> bool:
    return prefix in keys or any(k.startswith(prefix + ".") for k in keys)


def _scalar(shape: Shape, value: str) -> Any:
    kind = shape.type_name
    if kind == "boolean":
        return value.lower() == "true"
    if kind in ("integer", "long"):
        try:
            return int(value)
        except ValueError:
            return value
    if kind in ("float", "double"):
        try:
            return float(value)
        except ValueError:
            return value
    return value


def _decode(shape: Shape, prefix: str, flat: dict[str, str], keys: frozenset[str]) -> Any:
    kind = shape.type_name
    if kind == "structure":
        out: dict[str, Any] = {}
        for name, member in shape.members.items():  # type: ignore[attr-defined]
            key = _query_name(member, name)
            path = f"{prefix}.{key}" if prefix else key
            if _present(path, keys):
                out[name] = _decode(member, path, flat, keys)
        return out
    if kind == "list":
        items: list[Any] = []
        while _present(f"{prefix}.{len(items) + 1}", keys):
            items.append(_decode(shape.member, f"{prefix}.{len(items) + 1}", flat, keys))  # type: ignore[attr-defined]
        return items
    if kind == "map":  # not in EC2's inputs today; keep the raw entries rather than guess
        return {k[len(prefix) + 1 :]: v for k, v in flat.items() if k.startswith(prefix + ".")}
    return _scalar(shape, flat.get(prefix, ""))


def decode_call(action: str, request_body: str, status: int, response_body: bytes) -> DecodedCall | None:
    """The call's boto3 parameters and parsed response; None for an action botocore does not know."""
    model = operation_model(action)
    if model is None:
        return None
    flat = {k: v[-1] for k, v in urllib.parse.parse_qs(request_body, keep_blank_values=True).items()}
    flat.pop("Action", None)
    flat.pop("Version", None)
    params: dict[str, Any] = {}
    if model.input_shape is not None:
        params = _decode(model.input_shape, "", flat, frozenset(flat))
    parser = parsers.create_parser("ec2")
    parsed: dict[str, Any] = parser.parse(
        {"body": response_body, "headers": {}, "status_code": status},
        model.output_shape,  # type: ignore[arg-type]  # None for an operation without output: parsed as {}
    )
    error = None
    if status >= 300:
        details = parsed.get("Error") or {}
        error = (str(details.get("Code") or "Error"), str(details.get("Message") or ""))
        parsed = {}
    return DecodedCall(action, params, parsed, error, model)
