"""Migrations on plain PostgreSQL: idempotent, partitioned, flavour recorded."""

from __future__ import annotations

import psycopg

from semon.settings import Settings
from semon.store.commands import migrate_database


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
