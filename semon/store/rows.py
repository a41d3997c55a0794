"""Reads that answer rows as dicts (column -> value), and the WHERE clause a
list builds from the filters its caller gave."""

from __future__ import annotations

from typing import Any, LiteralString

from psycopg import AsyncConnection, sql
from psycopg.abc import Params
from psycopg.rows import dict_row

Row = dict[str, Any]
Query = str | sql.SQL | sql.Composed


async def fetch_one(
    conn: AsyncConnection, query: Query, params: Params | None = None
) -> Row | None:
    """The first row of ``query``, None when there is none."""
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(query, params)
        return await cur.fetchone()


async def fetch_all(conn: AsyncConnection, query: Query, params: Params | None = None) -> list[Row]:
    """Every row of ``query``."""
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(query, params)
        return await cur.fetchall()


class Filters:
    """Conditions ANDed into a query, each with its named parameters: a
    condition whose value is None is left out (the caller did not filter)."""

    def __init__(self, params: dict[str, Any]) -> None:
        self.args = dict(params)
        self._clauses: list[sql.Composable] = [sql.SQL("TRUE")]

    def add(self, clause: LiteralString, **values: Any) -> None:
        """Add ``clause`` (a fixed SQL text with ``%(name)s`` placeholders)
        unless one of its values is None."""
        if any(v is None for v in values.values()):
            return
        self._clauses.append(sql.SQL(clause))
        self.args.update(values)

    def where(self) -> sql.Composable:
        return sql.SQL(" AND ").join(self._clauses)
