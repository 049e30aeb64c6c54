"""The convergence engine every trigger gets: the lifecycles joined on one shared context.

Each lifecycle is observe -> plan -> apply in a module of its own: a request (request.py),
routes and DNS on an active connection (configure.py), what a dead connection leaves behind
(lifecycle/cleanup.py). They share one ``EngineContext`` (context.py): settings, AWS clients,
ledger, outbox, the approval policy read once, and ``locate``. The scheduled sweep runs them
all over one account+Region (sweep/fan_out.py fans out, sweep/target.py converges one target).
"""

from __future__ import annotations

from peering.lifecycle.cleanup import CleanupLifecycle
from peering.lifecycle.configure import ConfigureLifecycle
from peering.lifecycle.request import RequestLifecycle


class Engine(RequestLifecycle, ConfigureLifecycle, CleanupLifecycle):
    """One per invocation: ``Engine(Settings.from_env())``; every lifecycle's entry points."""
