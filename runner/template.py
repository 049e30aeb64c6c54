"""Templates as CloudFormation deploys them: read by cfn-lint's decoder, expanded by the SAM translator.

``load_template`` reads a template with ``cfnlint.decode`` (short-form tags such as ``!Ref`` become
their long form, YAML anchors are expanded) and returns it as plain data. ``translate`` runs the SAM
translator on it the way ``sam validate`` does, when the template declares SAM's transform: every
``AWS::Serverless::*`` resource becomes the CloudFormation resources ``sam deploy`` creates (the
function, its rules, permissions, event invoke config...) under the translator's logical ids. A
template without the transform (the member stack) is plain CloudFormation already.

The translator takes code only from S3: a local ``CodeUri``/``ContentUri`` goes in as
``s3://LOCAL_CODE_BUCKET/<path>``, and ``local_code`` reads the path back from the translated
``Code``. Managed policy names come from the translator's bundled list (no IAM call is made).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import boto3
from cfnlint.decode import decode
from samtranslator.metrics.metrics import DummyMetricsPublisher, Metrics
from samtranslator.model.exceptions import InvalidDocumentException
from samtranslator.parser.parser import Parser
from samtranslator.translator.translator import Translator

__all__ = ["LOCAL_CODE_BUCKET", "SAM_TRANSFORM", "TemplateError", "load_template", "local_code", "translate"]

SAM_TRANSFORM = "AWS::Serverless-2016-10-31"
#: the bucket of the placeholder S3 URIs that stand for local code
LOCAL_CODE_BUCKET = "runner-local-code"
#: SAM resource type -> its property holding a code location
_CODE_PROPERTY = {"AWS::Serverless::Function": "CodeUri", "AWS::Serverless::LayerVersion": "ContentUri"}


class TemplateError(ValueError):
    """The template cannot be read or translated, or uses what the local resolver cannot resolve."""


def load_template(path: Path) -> dict[str, Any]:
    """The template at ``path`` as plain dicts, lists and scalars (intrinsics in their long form)."""
    decoded, problems = decode(str(path))
    if problems or not isinstance(decoded, dict):
        details = "; ".join(str(problem) for problem in problems) or "not a template mapping"
        raise TemplateError(f"cannot read {path}: {details}")
    # The decoder's nodes (dict_node, str_node...) carry their source position; tools want plain data.
    plain: dict[str, Any] = json.loads(json.dumps(decoded, default=str))
    return plain


def _transforms(template: Mapping[str, Any]) -> list[str]:
    declared = template.get("Transform") or []
    return [str(name) for name in (declared if isinstance(declared, list) else [declared])]


def _with_s3_code(template: dict[str, Any]) -> None:
    """Local code locations -> placeholder S3 URIs (the translator accepts nothing else)."""

    def place(props: dict[str, Any], key: str) -> None:
        location = props.get(key)
        if isinstance(location, str) and not location.startswith("s3://"):
            props[key] = f"s3://{LOCAL_CODE_BUCKET}/{location}"

    place(((template.get("Globals") or {}).get("Function")) or {}, "CodeUri")
    for body in (template.get("Resources") or {}).values():
        key = _CODE_PROPERTY.get(str(body.get("Type")))
        if key is not None:
            place(body.setdefault("Properties", {}), key)


def translate(template: Mapping[str, Any], *, region: str, parameters: Mapping[str, Any]) -> dict[str, Any]:
    """The CloudFormation template a SAM template becomes (a copy; ``template`` is not changed).

    ``parameters`` are the values given for the template's parameters (the others take their
    defaults); ``region`` is the Region the stack is deployed to.
    """
    work = copy.deepcopy(dict(template))
    if SAM_TRANSFORM not in _transforms(work):
        return work
    _with_s3_code(work)
    metrics = Metrics("ServerlessTransform", DummyMetricsPublisher())
    translator = Translator(None, Parser(), boto_session=boto3.session.Session(region_name=region), metrics=metrics)
    try:
        # Beyond the translator's bundled list, no managed policy is known (``dict()``: none).
        translated: dict[str, Any] = translator.translate(
            work, parameter_values=dict(parameters), get_managed_policy_map=dict
        )
    except InvalidDocumentException as exc:
        causes = "; ".join(str(cause.message) for cause in exc.causes)
        raise TemplateError(f"the SAM translator refuses the template: {causes}") from exc
    finally:
        metrics.publish()  # to the dummy publisher: nothing leaves the process
    return translated


def local_code(code: Any) -> str | None:
    """The local path a translated ``Code``/``Content`` stands for (None: code not from this checkout)."""
    if isinstance(code, Mapping) and code.get("S3Bucket") == LOCAL_CODE_BUCKET:
        return str(code.get("S3Key", ""))
    return None
