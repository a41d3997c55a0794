"""Versioned migrations, applied once each under an advisory lock.

Files in ``migrations/`` are ``NNNN_name.sql`` (every flavour) or
``NNNN_name.<flavour>.sql`` (``postgres`` or ``timescale``). They are never
edited once released; a change is a new number. The flavour is detected: a
server that offers the timescaledb extension gets it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from typing import Literal

import psycopg
from psycopg import AsyncConnection, sql

Flavour = Literal["timescale", "postgres"]

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


async def detect_flavour(conn: AsyncConnection) -> Flavour:
    """TimescaleDB when the extension is installed or can be; plain otherwise.

    "Can be" is tried, not inferred: a server may list timescaledb among its
    available extensions without having it in shared_preload_libraries, and
    then CREATE EXTENSION fails and the database is plain. PGlite's
    TimescaleDB build lists it and creates it without any preloading.
    """
    cur = await conn.execute("SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'")
    if await cur.fetchone():
        return "timescale"
    cur = await conn.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb'")
    if await cur.fetchone() is None:
        return "postgres"
    try:
        async with conn.transaction():
            await conn.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
    except psycopg.Error:  # offered but not loadable (not in shared_preload_libraries)
        return "postgres"
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


async def migrate(conn: AsyncConnection) -> tuple[Flavour, list[int]]:
    """Apply what is missing; returns the flavour and the versions applied now.

    Safe to run from several processes at once: the advisory lock serialises
    them and the second finds nothing to do.
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
        flavour = await current_flavour(conn) or await detect_flavour(conn)
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
        await conn.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK,))
