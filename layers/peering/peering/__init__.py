"""Peering Autopilot shared engine: observe -> plan -> apply for VPC peering connections."""

__version__ = "0.1.0"
