"""The newcomer's two commands leave the tree clean and never look stuck:
`make test` writes no tracked file (screenshots go to a temporary directory
unless asked to refresh the docs), and the first install says what it does
while pip and npm show their own progress."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support import screenshots

REPO = Path(__file__).resolve().parents[2]


def test_screenshots_go_to_the_docs_only_when_asked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(screenshots.UPDATE_ENV, raising=False)
    assert screenshots.screenshot_path("console.png", tmp_path) == tmp_path / "console.png"
    monkeypatch.setenv(screenshots.UPDATE_ENV, "1")
    assert screenshots.screenshot_path("console.png", tmp_path) == REPO / "docs" / "console.png"


def test_first_install_shows_progress(tmp_path: Path) -> None:
    make = shutil.which("make")
    assert make, "make is part of the two commands"
    # -n: print what a first `make test` would run, run nothing; -B: as if
    # nothing were installed yet.
    done = subprocess.run(
        [make, "-n", "-B", "test", f"VENV={tmp_path / 'venv'}"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    lines = done.stdout.splitlines()
    installs = [
        i
        for i, line in enumerate(lines)
        if not line.startswith("echo ") and (" install " in line or "npm ci" in line)
    ]
    assert len(installs) == 3, lines  # pip, semon, the PGlite TimescaleDB
    for i in installs:
        assert "--quiet" not in lines[i] and "--loglevel" not in lines[i], lines[i]
        assert lines[i - 1].startswith("echo "), f"no notice before {lines[i]!r}"
