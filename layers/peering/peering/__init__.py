"""Peering Autopilot shared engine: observe -> plan -> apply for VPC peering connections.

Six sub-packages on six floors, bottom to top; each imports only its own floor and those below
(tests/unit/test_layers.py): core (pure planning, no AWS SDK), runtime (the Lambda process),
aws (the adapters), lifecycle (observe -> plan -> apply per trigger), map (the peering map) and
sweep (the scheduled sweep). No module lives at this level.
"""

__version__ = "0.1.0"
