"""Where the browser tests put their screenshots.

A test run leaves the tracked tree alone: screenshots go to the test's own
temporary directory, unless ``SEMON_UPDATE_SCREENSHOTS=1`` asks to refresh
the pictures the README shows (``docs/``).
"""

from __future__ import annotations

import os
from pathlib import Path

DOCS = Path(__file__).resolve().parents[2] / "docs"
UPDATE_ENV = "SEMON_UPDATE_SCREENSHOTS"


def screenshot_path(name: str, tmp_dir: Path) -> Path:
    """``docs/<name>`` when asked to refresh the docs, else ``tmp_dir/<name>``."""
    if os.environ.get(UPDATE_ENV) == "1":
        DOCS.mkdir(exist_ok=True)
        return DOCS / name
    return tmp_dir / name
