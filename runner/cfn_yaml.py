"""Loading CloudFormation/SAM templates as plain data (the runner and the template tests).

CloudFormation's short-form tags (``!Ref``, ``!GetAtt``, ``!Sub``...) are not YAML that a safe
loader accepts. ``load_cfn_yaml`` turns each into its long form (``{"Ref": ...}``,
``{"Fn::GetAtt": [...]}``...), so tests compare against exactly what CloudFormation receives.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
HUB_TEMPLATE = ROOT / "template.yaml"
MEMBER_TEMPLATE = ROOT / "member-template.yaml"

# Short tags whose long form is not "Fn::<name>".
_NOT_FN = {"Ref": "Ref", "Condition": "Condition"}


class CfnLoader(yaml.SafeLoader):
    """A safe loader that also understands CloudFormation's short-form intrinsic functions."""


def _construct_intrinsic(loader: CfnLoader, tag_suffix: str, node: yaml.Node) -> dict[str, Any]:
    key = _NOT_FN.get(tag_suffix, f"Fn::{tag_suffix}")
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
        if tag_suffix == "GetAtt":
            # "Resource.Attribute" (the attribute itself may contain dots, e.g. Outputs.X)
            resource, _, attribute = str(value).partition(".")
            value = [resource, attribute]
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    return {key: value}


CfnLoader.add_multi_constructor("!", _construct_intrinsic)


def load_cfn_yaml(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf-8") as handle:
        data = yaml.load(handle, Loader=CfnLoader)  # noqa: S506 - CfnLoader is a SafeLoader subclass
    assert isinstance(data, dict), f"{path} is not a template mapping"
    return data
