"""The work behind `semon db migrate` and `semon db status` (and the schema
step of `semon up`): migrate a database and apply the storage policies, or
report which flavour and migrations it has. The console is the CLI's."""

from __future__ import annotations

from dataclasses import dataclass

import psycopg

from semon.settings import Settings
from semon.store.maintenance import apply_policies
from semon.store.migrate import (
    Flavour,
    current_flavour,
    migrate,
    migrations_for,
)

_TIMESCALE_VERSION = "SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'"


@dataclass(frozen=True)
class SchemaStatus:
    flavour: Flavour
    server_version: str
    # None on the timescale flavour means the extension has gone missing.
    timescale_version: str | None
    applied: list[int]
    pending: list[int]


async def migrate_database(dsn: str, settings: Settings) -> tuple[str, list[int]]:
    """Migrate and apply the storage policies; FlavourUnavailable (nothing
    built) when the server offers TimescaleDB but cannot create it."""
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        flavour, applied = await migrate(conn, settings.storage.flavour)
        await apply_policies(conn, flavour, settings.storage)
    return flavour, applied


async def schema_status(dsn: str) -> SchemaStatus | None:
    """The database's schema state; None when it was never migrated."""
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        flavour = await current_flavour(conn)
        if flavour is None:
            return None
        cur = await conn.execute("SELECT version FROM schema_migrations ORDER BY version")
        done = [r[0] for r in await cur.fetchall()]
        pending = [m.version for m in migrations_for(flavour) if m.version not in done]
        server = (await (await conn.execute("SHOW server_version")).fetchone() or ["?"])[0]
        ext = None
        if flavour == "timescale":
            row = await (await conn.execute(_TIMESCALE_VERSION)).fetchone()
            ext = row[0] if row else None
    return SchemaStatus(flavour, str(server), ext, done, pending)
