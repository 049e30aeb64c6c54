"""The Lambda process around the engine: settings, logs and metrics, a batch of SQS messages.

Settings read from the environment once per invocation (config), Powertools' logger and metrics and
a tracer that loads the X-Ray SDK only when tracing is on (observability), and an SQS batch answered
with its partial failures without Powertools' batch utility (batch). It may import the core and
Powertools; not boto3 nor the floors above it (aws, lifecycle, map, sweep).
"""
