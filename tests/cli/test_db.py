"""`semon db status` and `semon db migrate` as a user runs them, on a database
of their own that starts empty."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator

import pytest

from tests.support import services


@pytest.fixture
def empty_database_url(pg_admin_dsn: str) -> Iterator[str]:
    with services.fresh_database(pg_admin_dsn) as dsn:
        yield dsn


def semon(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "SEMON_LOG_LEVEL": "WARNING",
        "SEMON_I18N__LANGUAGE": "en",  # English lines are parsed below
    }
    return subprocess.run(
        [sys.executable, "-m", "cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_status_migrate_status(empty_database_url: str) -> None:
    before = semon(empty_database_url, "db", "status")
    assert before.returncode == 1, before.stderr
    assert "not migrated yet: run `semon db migrate`" in before.stdout

    first = semon(empty_database_url, "db", "migrate")
    assert first.returncode == 0, first.stderr
    flavour, _, applied = first.stdout.strip().partition(": applied ")
    assert flavour in ("postgres", "timescale"), first.stdout
    assert applied.startswith("0001, "), first.stdout

    again = semon(empty_database_url, "db", "migrate")
    assert again.returncode == 0, again.stderr
    assert again.stdout.strip() == f"{flavour}: up to date"

    after = semon(empty_database_url, "db", "status")
    assert after.returncode == 0, after.stderr
    lines = dict(line.split(": ", 1) for line in after.stdout.strip().splitlines())
    label = "TimescaleDB" if flavour == "timescale" else "plain PostgreSQL"
    assert lines["flavour"].startswith(label)
    assert lines["server"].startswith("PostgreSQL ")
    assert lines["applied"] == applied
    assert lines["pending"] == "none"


def test_commands_refuse_without_a_database() -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "SEMON_DATABASE_URL")}
    done = subprocess.run(
        [sys.executable, "-m", "cli", "db", "status"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    # In the platform's language, zh-CN unless the setting says otherwise.
    assert "未设置 DATABASE_URL" in done.stderr, done.stderr
