"""The errors a command raises for a user to act on; ``runner.cli`` prints each as one line.

A command raises ``CommandError`` with a message that says what went wrong and what to do; the
runner's entry point (``runner.cli.main``) prints it as ``error: <message>`` and exits with its
code, no traceback (``--debug`` shows one).
"""

from __future__ import annotations

__all__ = ["BAD_INPUT", "ENVIRONMENT", "CommandError", "DevelopmentOnlyError"]

BAD_INPUT = 2  # exit status: an argument, a file or a name that is wrong; nothing was changed
ENVIRONMENT = 4  # exit status: no endpoint, no or expired credentials, access denied, a missing package


class CommandError(Exception):
    """What went wrong and what to do, in one line; ``exit_code`` is the command's exit status."""

    def __init__(self, message: str, exit_code: int = BAD_INPUT) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class DevelopmentOnlyError(CommandError):
    """A command that needs the development environment (a clone with ``make dev``), run without it."""

    def __init__(self, command: str, missing: str) -> None:
        super().__init__(
            f"`{command}` needs the development environment (missing: {missing}): in a clone of the repository "
            f"run `make dev`, then `.venv/bin/python -m runner {command}`",
            ENVIRONMENT,
        )
