"""The template tests read templates with the runner's loader (one loader for tools and tests)."""

from runner.cfn_yaml import HUB_TEMPLATE, MEMBER_TEMPLATE, ROOT, load_cfn_yaml

__all__ = ["HUB_TEMPLATE", "MEMBER_TEMPLATE", "ROOT", "load_cfn_yaml"]
