"""The template tests read templates with the runner's loader (cfn-lint's decoder, one for tools and tests)."""

from runner import HUB_TEMPLATE, MEMBER_TEMPLATE, ROOT
from runner.template import load_template as load_cfn_yaml

__all__ = ["HUB_TEMPLATE", "MEMBER_TEMPLATE", "ROOT", "load_cfn_yaml"]
