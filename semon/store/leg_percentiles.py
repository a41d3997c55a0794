"""How `/stats/rescue` runs its two figures queries (the alert figures and
the work order's): counts and each leg's median and p90 (``percentile_cont``)
per group and overall, from one sorted pass (GROUPING SETS), and how the
legs are read back.

A year of a city is a million rows, so three things are kept out of the way
(bench/rescue_bench.py): JIT (the planner prices the query past
jit_above_cost and compiling it took longer than running it), the
collation (the rows are sorted by the group key; compared bytewise, not by
C.UTF-8's strcoll, as the order of the groups is not part of the answer),
and numeric arithmetic (``seconds_between``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from psycopg import AsyncConnection, sql
from psycopg.rows import dict_row

from semon.store.jit import without_jit

QUANTILES = ("median", "p90")
# Sort memory of the figures queries: a year's legs in memory, not on disk.
SORT_MEMORY = "128MB"


def seconds_between(start: str, end: str) -> str:
    """SQL for the seconds from ``start`` to ``end`` (timestamptz
    expressions), the same float8 as ``extract(epoch FROM end - start)::float8``
    at half its cost: within 24 hours either way date_part's float8 is that
    same double (the interval holds no days), beyond it extract's exact
    numeric."""
    return (
        f"CASE WHEN {end} > {start} - interval '24 hours' AND {end} < {start} + interval '24 hours'"
        f" THEN date_part('epoch', {end} - {start})"
        f" ELSE extract(epoch FROM {end} - {start})::float8 END"
    )


@dataclass(frozen=True)
class Figures:
    """A figures query over rows of one table: `counts` are its aggregate
    columns, `source` the FROM and WHERE clause with ``{scope}`` left to fill,
    `groups` maps a group_by to its column, `legs` a leg to its seconds."""

    counts: str
    source: str
    groups: dict[str, str]
    legs: dict[str, str]

    @property
    def query(self) -> str:
        percentiles = ", ".join(
            f"percentile_cont(ARRAY[0.5, 0.9]) WITHIN GROUP (ORDER BY {expr}) AS leg_{leg}"
            for leg, expr in self.legs.items()
        )
        return (
            "SELECT {key} AS key, GROUPING({key}) AS overall, "
            f"{self.counts}, {percentiles} {{source}} GROUP BY GROUPING SETS (({{key}}), ())"
        )

    async def run(
        self, conn: AsyncConnection, group_by: str, scope: sql.Composable, values: dict[str, Any]
    ) -> list[dict[str, Any]]:
        """The rows: one a group, and overall's (``overall`` 1)."""
        query = sql.SQL(self.query).format(
            key=sql.SQL(f'{self.groups[group_by]} COLLATE "C"'),
            source=sql.SQL(self.source).format(scope=scope),
        )
        async with without_jit(conn):
            await conn.execute(f"SET LOCAL work_mem = '{SORT_MEMORY}'")
            cur = conn.cursor(row_factory=dict_row)
            await cur.execute(query, values)
            return await cur.fetchall()


def leg_figures(out: dict[str, Any], legs: tuple[str, ...], row: dict[str, Any]) -> None:
    """Each leg's median and p90, taken off a figures row, into `out` as
    ``<leg>_<quantile>_s``, in seconds to the millisecond (null where the
    leg was never reached)."""
    for leg in legs:
        pair = row.pop(f"leg_{leg}", None) or (None, None)
        for quantile, value in zip(QUANTILES, pair, strict=True):
            out[f"{leg}_{quantile}_s"] = None if value is None else round(float(value), 3)
