"""Local runner for Peering Autopilot: ``python -m runner <command>`` (see docs/try-it.md).

Runs the functions of template.yaml in-process with the environment the template gives them,
routes events through the EventBridge rules ``sam deploy`` would create (the SAM translator's
output), explains what the engine would do for one connection, creates the hub resources in an
endpoint, and plays the whole lifecycle on a local AWS emulation (``demo``).
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HUB_TEMPLATE = ROOT / "template.yaml"
MEMBER_TEMPLATE = ROOT / "member-template.yaml"
EVENTS_DIR = ROOT / "events"
LAYER_DIR = ROOT / "layers" / "peering"
#: the hub stack's name, and the prefix of the resources ``bootstrap`` creates
DEFAULT_STACK_NAME = "peering-autopilot"

# The engine is the layer's package `peering`; in Lambda the layer is on the path, here we put it
# there. An installed command line (``pip install .``) has both packages in site-packages already.
if (LAYER_DIR / "peering").is_dir():
    for _path in (str(ROOT), str(LAYER_DIR)):
        if _path not in sys.path:
            sys.path.insert(0, _path)

__all__ = ["DEFAULT_STACK_NAME", "EVENTS_DIR", "HUB_TEMPLATE", "LAYER_DIR", "MEMBER_TEMPLATE", "ROOT", "invoked_as"]


def invoked_as() -> str:
    """How the user runs the commands, for the ones we print: the installed console script
    (``pip install .``), else ``python -m runner``."""
    name = Path(sys.argv[0]).name if sys.argv and sys.argv[0] else ""
    return name if name.startswith("peering-autopilot") else "python -m runner"
