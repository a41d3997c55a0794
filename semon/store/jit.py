"""Queries that PostgreSQL would JIT-compile for nothing.

The planner prices set-wide queries over day partitions or a city's lifts
high enough to pass ``jit_above_cost``; compiling them took 1.5-2 s where
running them takes a fraction of that (bench/verification_bench.py). Inside
``without_jit`` the setting is off for the enclosing transaction only.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from psycopg import AsyncConnection


@asynccontextmanager
async def without_jit(conn: AsyncConnection) -> AsyncIterator[None]:
    async with conn.transaction():
        await conn.execute("SET LOCAL jit = off")
        yield
