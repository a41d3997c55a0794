"""Each shared module imports on its own, whatever is imported first: an
import cycle (semon.i18n's vocabularies read the registry, whose record
checks speak through semon.i18n) shows only when a module is the first."""

from __future__ import annotations

import subprocess
import sys

import pytest

FIRST = [
    "semon.domain.registry",
    "semon.registry_import",
    "semon.store.registry",
    "semon.i18n",
    "semon.domain.alerts",
]


@pytest.mark.parametrize("module", FIRST)
def test_imports_first(module: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", f"import {module}"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr[-2000:]
