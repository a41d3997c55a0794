"""Versioned migrations, applied once each under an advisory lock.

Files in ``migrations/`` are ``NNNN_name.sql`` (every flavour) or
``NNNN_name.<flavour>.sql`` (``postgres`` or ``timescale``). They are never
edited once released; a change is a new number. The flavour is chosen at the
first migration and kept: a server that offers the timescaledb extension gets
it, one that offers it but cannot create it stops the migration
(`FlavourUnavailable`, see `detect_flavour`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from typing import Literal

import psycopg
from psycopg import AsyncConnection, sql

from semon.i18n import Message, msg, reader

Flavour = Literal["timescale", "postgres"]
# What the operator asks for (StorageSettings.flavour): "auto" takes
# TimescaleDB when the server offers it.
FlavourChoice = Literal["auto", "timescale", "postgres"]

MIGRATION_LOCK = 0x5E3A0001  # advisory lock key held while migrating
_NAME = re.compile(r"(\d{4})_([a-z0-9_]+?)(?:\.(postgres|timescale))?\.sql")


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


def migrations_for(flavour: Flavour) -> list[Migration]:
    files = resources.files("semon.store").joinpath("migrations")
    found: dict[int, Migration] = {}
    for entry in sorted(files.iterdir(), key=lambda e: e.name):
        m = _NAME.fullmatch(entry.name)
        if not m:
            continue
        version, name, only = int(m.group(1)), m.group(2), m.group(3)
        if only is not None and only != flavour:
            continue
        if version in found:
            raise RuntimeError(f"two migrations numbered {version:04d}")
        found[version] = Migration(version, name, entry.read_text(encoding="utf-8"))
    return [found[v] for v in sorted(found)]


class FlavourUnavailable(RuntimeError):
    """The schema cannot be built in the flavour the server calls for; the
    message is one line telling the operator what to do (`message`, a
    catalog message for the operator's language; str() is the English)."""

    def __init__(self, message: Message) -> None:
        self.message = message
        super().__init__(reader("en").render(message))


@dataclass(frozen=True)
class TimescaleState:
    installed: bool  # created in this database
    available: bool  # the server has the extension's files
    preloaded: bool  # its library is in shared_preload_libraries


_STATE = """
SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb'),
       EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb'),
       current_setting('shared_preload_libraries')
"""


async def timescale_state(conn: AsyncConnection) -> TimescaleState:
    cur = await conn.execute(_STATE)
    row = await cur.fetchone()
    assert row is not None
    libraries = [item.strip().strip('"').rsplit("/", 1)[-1] for item in str(row[2]).split(",")]
    preloaded = any(lib.startswith("timescaledb") for lib in libraries)
    return TimescaleState(installed=row[0], available=row[1], preloaded=preloaded)


async def detect_flavour(conn: AsyncConnection, choice: FlavourChoice = "auto") -> Flavour:
    """The flavour to build: TimescaleDB when the extension is created or can
    be, plain PostgreSQL when the server does not offer it.

    A server that offers timescaledb without preloading its library (what
    installing the package without tuning the server gives) cannot create
    it: TimescaleDB's loader ends the backend with a FATAL, so the
    connection is gone. PGlite's TimescaleDB build also shows no preload yet
    creates it, so the state is read first and the creation still tried.

    When it cannot be created we stop (FlavourUnavailable) rather than build
    the plain schema: the flavour is chosen once, at the first migration, and
    kept, so a fallback would leave an operator who installed TimescaleDB on
    plain partitions for good, with a warning that scrolled by. The fix is
    one line and a restart; ``choice="postgres"`` (SEMON_STORAGE__FLAVOUR)
    asks for plain PostgreSQL on purpose.
    """
    if choice == "postgres":
        return "postgres"
    state = await timescale_state(conn)
    if state.installed:
        return "timescale"
    if not state.available:
        if choice == "timescale":
            raise FlavourUnavailable(msg("store.flavour.no_timescale"))
        return "postgres"
    try:
        async with conn.transaction():
            await conn.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
    except psycopg.Error as exc:
        said = (exc.diag.message_primary or str(exc) or type(exc).__name__).splitlines()[0]
        if not state.preloaded:
            raise FlavourUnavailable(msg("store.flavour.not_preloaded", error=said)) from None
        raise FlavourUnavailable(msg("store.flavour.create_failed", error=said)) from None
    return "timescale"


async def current_flavour(conn: AsyncConnection) -> Flavour | None:
    """The flavour the schema was built for, or None before the first migration."""
    cur = await conn.execute("SELECT to_regclass('schema_migrations') IS NOT NULL")
    row = await cur.fetchone()
    if not row or not row[0]:
        return None
    cur = await conn.execute("SELECT flavour FROM schema_migrations ORDER BY version LIMIT 1")
    first = await cur.fetchone()
    return first[0] if first else None


async def migrate(
    conn: AsyncConnection, choice: FlavourChoice = "auto"
) -> tuple[Flavour, list[int]]:
    """Apply what is missing; returns the flavour and the versions applied now.

    Safe to run from several processes at once: the advisory lock serialises
    them and the second finds nothing to do. FlavourUnavailable when a first
    migration cannot have the flavour the server calls for (detect_flavour);
    nothing is built then, and the connection may have been ended by the server.
    """
    await conn.set_autocommit(True)
    await conn.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK,))
    try:
        await conn.execute(
            """CREATE TABLE IF NOT EXISTS schema_migrations (
                   version integer PRIMARY KEY,
                   name text NOT NULL,
                   flavour text NOT NULL,
                   applied_at timestamptz NOT NULL DEFAULT now())"""
        )
        flavour = await current_flavour(conn) or await detect_flavour(conn, choice)
        cur = await conn.execute("SELECT version FROM schema_migrations")
        done = {r[0] for r in await cur.fetchall()}
        applied: list[int] = []
        for m in migrations_for(flavour):
            if m.version in done:
                continue
            async with conn.transaction():
                await conn.execute(sql.SQL(m.sql))
                await conn.execute(
                    "INSERT INTO schema_migrations (version, name, flavour) VALUES (%s, %s, %s)",
                    (m.version, m.name, flavour),
                )
            applied.append(m.version)
        return flavour, applied
    finally:
        # A connection the server ended (a TimescaleDB that is not preloaded)
        # holds no lock any more: it went with the backend.
        if not conn.closed:
            await conn.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK,))
