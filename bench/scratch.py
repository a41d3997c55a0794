"""A benchmark's database: migrated, filled by SQL statements, analysed (the
regulator and statistics benchmarks; each makes it fresh and drops it with
tests.support.services.fresh_database)."""

from __future__ import annotations

import time
from typing import Any

import psycopg

from semon.settings import Settings
from semon.store.commands import migrate_database


async def generate(dsn: str, statements: list[str], values: dict[str, Any]) -> float:
    """Migrate the database at `dsn`, run the generating statements with
    `values`, VACUUM ANALYZE it; the seconds it all took."""
    started = time.perf_counter()
    await migrate_database(dsn, Settings(database_url=dsn))
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        for statement in statements:
            await conn.execute(statement, values)  # type: ignore[arg-type]
        await conn.execute("VACUUM ANALYZE")
    return time.perf_counter() - started
