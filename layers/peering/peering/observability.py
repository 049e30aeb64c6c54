"""One Logger, Tracer and Metrics for every function (service name comes from the environment)."""

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit

NAMESPACE = "PeeringAutopilot"

logger = Logger()
tracer = Tracer()
metrics = Metrics(namespace=NAMESPACE)

__all__ = ["NAMESPACE", "MetricUnit", "logger", "metrics", "tracer"]
