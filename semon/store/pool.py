"""The async connection pool, opened in a lifespan and checked at start, and
what a database that is away or stalled raises."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import psycopg
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

# What an unreachable or stalled database raises: a refused or broken
# connection, a pool that cannot hand one out in time (PoolTimeout) and a
# cancelled statement are OperationalErrors; asyncio.timeout around a query
# raises TimeoutError, a dropped socket OSError.
DB_UNAVAILABLE: tuple[type[Exception], ...] = (
    psycopg.OperationalError,
    psycopg.InterfaceError,
    TimeoutError,
    OSError,
)


class DatabaseUnavailable(RuntimeError):
    """The database could not be reached in time (at start)."""


@asynccontextmanager
async def open_pool(
    dsn: str,
    *,
    min_size: int = 1,
    max_size: int = 10,
    timeout: float = 30.0,  # noqa: ASYNC109 - the pool's wait for a connection
    name: str = "semon",
    statement_timeout_ms: int | None = None,
    check: bool = True,
    autocommit: bool = False,
) -> AsyncIterator[AsyncConnectionPool[AsyncConnection]]:
    """A pool whose first connection is made before this returns, so a bad DSN
    fails at start rather than at the first request.

    ``check``: test each connection (a round trip) as it leaves the pool. A
    caller that treats any failed query as an outage and retries anyway can
    do without it (the alerts writer: the round trip was a page's cost).
    ``autocommit``: each statement its own transaction, so a read costs one
    round trip (no BEGIN, no rollback when the connection goes back)."""

    async def configure(conn: AsyncConnection) -> None:
        if statement_timeout_ms is not None:
            await conn.execute(f"SET statement_timeout = {int(statement_timeout_ms)}")
            await conn.commit()

    pool: AsyncConnectionPool[AsyncConnection] = AsyncConnectionPool(
        dsn,
        min_size=min_size,
        max_size=max_size,
        open=False,
        name=name,
        timeout=timeout,
        check=AsyncConnectionPool.check_connection if check else None,
        configure=configure,
        kwargs={"autocommit": autocommit},
    )
    await pool.open()
    try:
        try:
            await pool.wait(timeout=timeout)
        except Exception as exc:
            raise DatabaseUnavailable(f"cannot reach the database: {exc}") from None
        yield pool
    finally:
        await pool.close()
