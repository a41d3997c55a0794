"""Migrations on plain PostgreSQL: idempotent, partitioned, flavour recorded; and
on a server whose TimescaleDB is installed but not preloaded."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator

import psycopg
import pytest

from semon.settings import Settings
from semon.store.commands import migrate_database
from semon.store.migrate import (
    MIGRATION_LOCK,
    FlavourUnavailable,
    TimescaleState,
    migrate,
    timescale_state,
)
from tests.support import services
from tests.support.timescale import unpreloaded_timescale_server


async def test_migrate_is_idempotent_and_detects_plain_postgres(fresh_database_url: str) -> None:
    flavour, applied = await migrate_database(
        fresh_database_url, Settings(database_url=fresh_database_url)
    )
    assert flavour == "postgres"
    assert applied == []  # the fixture already migrated
    async with await psycopg.AsyncConnection.connect(fresh_database_url) as conn:
        cur = await conn.execute(
            "SELECT count(*) FROM pg_inherits i JOIN pg_class p ON p.oid = i.inhparent "
            "WHERE p.relname = 'elevator_status'"
        )
        (parts,) = await cur.fetchone()  # type: ignore[misc]
        assert parts >= 8  # default + days back + days ahead
        cur = await conn.execute("SELECT DISTINCT flavour FROM schema_migrations")
        assert [r[0] for r in await cur.fetchall()] == ["postgres"]


# A TimescaleDB that is installed but not preloaded. The server is real
# PostgreSQL; the extension is a stand-in (tests/support/timescale.py says
# why) that ends its backend when created, as the real one does.


@pytest.fixture(scope="module")
def unpreloaded_admin_dsn() -> Iterator[str]:
    with unpreloaded_timescale_server() as dsn:
        yield dsn


def run_semon(dsn: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SEMON_STORAGE__")}
    return subprocess.run(
        [sys.executable, "-m", "cli", *args],
        env={
            **clean,
            "DATABASE_URL": dsn,
            "SEMON_LOG_LEVEL": "WARNING",
            "SEMON_I18N__LANGUAGE": "en",
            **env,
        },
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_migrate_stops_with_one_line_on_a_timescaledb_not_preloaded(
    unpreloaded_admin_dsn: str,
) -> None:
    with services.fresh_database(unpreloaded_admin_dsn) as dsn:
        done = run_semon(dsn, "db", "migrate")
        assert done.returncode == 1, done.stdout + done.stderr
        assert done.stdout == ""
        (line,) = done.stderr.splitlines()
        assert line.startswith("semon db migrate: TimescaleDB is installed on this server")
        assert "not preloaded" in line
        assert "shared_preload_libraries = 'timescaledb'" in line and "restart" in line
        assert "SEMON_STORAGE__FLAVOUR=postgres" in line
        with psycopg.connect(dsn) as conn:
            # Nothing built: no extension, no migration recorded.
            assert conn.execute(
                "SELECT count(*) FROM pg_extension WHERE extname = 'timescaledb'"
            ).fetchone() == (0,)
            assert conn.execute("SELECT count(*) FROM schema_migrations").fetchone() == (0,)

        # Asked for plain PostgreSQL, the same server migrates; and the
        # flavour is kept, so a later run in auto mode does not try again.
        done = run_semon(dsn, "db", "migrate", SEMON_STORAGE__FLAVOUR="postgres")
        assert done.returncode == 0, done.stderr
        assert done.stdout.startswith("postgres: applied 0001, 0002")
        done = run_semon(dsn, "db", "migrate")
        assert (done.returncode, done.stdout.strip()) == (0, "postgres: up to date"), done.stderr
        done = run_semon(dsn, "db", "status")
        assert "flavour: plain PostgreSQL" in done.stdout, done.stderr


async def test_detection_reads_the_state_and_the_ended_connection_holds_no_lock(
    unpreloaded_admin_dsn: str,
) -> None:
    with services.fresh_database(unpreloaded_admin_dsn) as dsn:
        async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
            state = await timescale_state(conn)
            assert state == TimescaleState(installed=False, available=True, preloaded=False)
            with pytest.raises(FlavourUnavailable, match="not preloaded"):
                await migrate(conn)
            assert conn.closed  # the server ended it: nothing more runs on it
        # A fresh connection finds the migration lock free (it went with the
        # backend) and builds the plain schema when asked to.
        async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as fresh:
            cur = await fresh.execute("SELECT pg_try_advisory_lock(%s)", (MIGRATION_LOCK,))
            assert await cur.fetchone() == (True,)
            await fresh.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK,))
            flavour, applied = await migrate(fresh, "postgres")
            assert flavour == "postgres" and applied[:2] == [1, 2]
