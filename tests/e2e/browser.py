"""Headless Chromium from Python, with no driver and no package: the DOM once the page's scripts
ran (``--dump-dom``) and a screenshot (``--screenshot``).

Chromium is the Debian package ``chromium``; .ci/run installs it when missing. Locally, a test
that needs it is skipped when it is absent, unless REQUIRE_CHROMIUM is set (CI sets it): then it
fails, saying what to install.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

NAMES = ("chromium", "chromium-browser", "google-chrome")
# Time the page's scripts get before the DOM is read or the picture taken (virtual time: no wait).
SCRIPT_BUDGET_MS = 5000


def chromium() -> str:
    """The browser's path; skips (or fails under REQUIRE_CHROMIUM) when there is none."""
    for name in NAMES:
        found = shutil.which(name)
        if found:
            return found
    message = "headless Chromium is needed: apt-get install chromium (.ci/run installs it)"
    if os.environ.get("REQUIRE_CHROMIUM"):
        pytest.fail(message)
    pytest.skip(message)


def _run(page: Path, *flags: str, timeout: float = 120) -> str:
    with tempfile.TemporaryDirectory(prefix="peering-map-chromium-") as profile:
        done = subprocess.run(  # noqa: S603 - the browser found above, on a file we wrote
            [
                chromium(),
                "--headless",
                "--no-sandbox",  # CI runs as root, where the sandbox cannot start
                "--disable-gpu",
                "--no-first-run",
                "--disable-extensions",
                f"--user-data-dir={profile}",
                f"--virtual-time-budget={SCRIPT_BUDGET_MS}",
                *flags,
                page.resolve().as_uri() if "#" not in str(page) else f"file://{page}",
            ],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    if done.returncode != 0:
        raise RuntimeError(f"chromium failed ({done.returncode}): {done.stderr[-2000:]}")
    return done.stdout


def dump_dom(page: Path, fragment: str = "") -> str:
    """The document after its scripts ran; ``fragment`` is the URL's #part (the page reads it)."""
    target = Path(f"{page.resolve()}#{fragment}") if fragment else page
    return _run(target, "--dump-dom")


def screenshot(page: Path, png: Path, *, width: int = 1600, height: int = 1000, fragment: str = "") -> Path:
    target = Path(f"{page.resolve()}#{fragment}") if fragment else page
    png.parent.mkdir(parents=True, exist_ok=True)
    _run(target, f"--screenshot={png.resolve()}", f"--window-size={width},{height}", "--hide-scrollbars")
    if not png.is_file():
        raise RuntimeError(f"chromium wrote no screenshot to {png}")
    return png
