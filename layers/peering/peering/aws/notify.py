"""Notifications to people (SNS topic). Skipped, with a log line, when no topic is configured."""

from __future__ import annotations

from peering.aws.clients import AwsClients
from peering.runtime.observability import logger


class Notifier:
    def __init__(self, aws: AwsClients, topic_arn: str | None) -> None:
        self._aws = aws
        self._topic_arn = topic_arn

    def send(self, subject: str, message: str, notice_id: str | None = None) -> None:
        """Publish one notice. ``notice_id`` (a message attribute) lets a subscriber recognise the
        rare repeat of a notice (docs/reliability.md, "the outbox")."""
        if not self._topic_arn:
            logger.warning("no notification topic configured", extra={"subject": subject})
            return
        attributes = {"noticeId": {"DataType": "String", "StringValue": notice_id}} if notice_id else {}
        self._aws.hub("sns").publish(
            TopicArn=self._topic_arn, Subject=subject, Message=message, MessageAttributes=attributes
        )
