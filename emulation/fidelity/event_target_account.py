"""Gap ``event_target_account``: an event a rule sends to its target has no ``account``.

AWS: every event EventBridge delivers carries the top-level fields ``version``, ``id``,
``detail-type``, ``source``, ``account`` (the 12-digit account the event comes from), ``time``,
``region``, ``resources`` and ``detail``; a rule's target receives the whole event unless the
rule's target transforms it.
https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-events-structure.html

moto 5.2: a target without an input transformer receives the event rebuilt from a default template
that leaves ``account`` out (``EventTemplateParser.DEFAULT_EVENT_INPUT_TEMPLATE``), so a queue a
rule copies events to holds events without it. ``runner up`` reads the peering bus through such a
queue, and the operator rule's pattern (template.yaml) matches on the sending account.

Patch: the default template keeps ``account`` (moto fills it with the bus owner's account, the
sender of a PutEvents on its own bus).

Turn on: ``fidelity.enable()`` (every gap) or ``fidelity.enabled(["event_target_account"])`` for a
block, from ``emulation.fidelity``. docs/moto-gaps.md#event_target_account.
"""

from __future__ import annotations

from moto.events.utils import EventTemplateParser

from emulation.fidelity.patching import Gap, Patcher

STRUCTURE_DOC = "https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-events-structure.html"

#: moto's default template, with ``account`` where AWS puts it
TEMPLATE = (
    '{"version": "0", "id": "<id>", "detail-type": "<detail-type>", "source": "<source>", '
    '"account": "<account>", "time": <time>, "region": "<region>", "resources": <resources>, "detail": <detail>}'
)


def install(patcher: Patcher) -> None:
    """Rebuild an untransformed event with its ``account``, as AWS delivers it."""
    patcher.replace(EventTemplateParser, "DEFAULT_EVENT_INPUT_TEMPLATE", TEMPLATE)


GAP = Gap("event_target_account", STRUCTURE_DOC, install, __doc__ or "")
