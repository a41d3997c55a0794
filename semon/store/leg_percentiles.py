"""Each leg's median and p90 for `/stats/rescue` (the alert figures and the
work order's), per group and overall, without sorting every leg of the window.

Step times are clicked by people and pressed by terminals, so a leg's values
repeat. The query counts each (group, leg, value) in one hashed pass over the
window, sorts only those counts, and reads the percentiles off them as
PostgreSQL's ``percentile_cont`` does: the values at rows floor and ceil of
p * (n - 1) of the leg sorted, interpolated (``lo + frac * (hi - lo)`` in
float8, the same arithmetic). The figures are the same to the last bit;
only the work is smaller where values repeat.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

from psycopg import AsyncConnection, sql
from psycopg.rows import dict_row

from semon.store.jit import without_jit

QUANTILES = {"median": 0.5, "p90": 0.9}


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


def percentiles_sql(key: str, legs: dict[str, str], source: str) -> str:
    """A query of (overall, key, leg, quantile, value) rows: each leg's
    percentiles per group (`key`) and over all groups (overall true, key
    null). `legs` maps a leg's name to its expression in seconds (float8),
    `source` is the FROM and WHERE clause. Keeps any ``{...}`` placeholders of
    `key` and `source` for psycopg's ``sql.SQL.format``."""
    names = list(legs)
    columns = ", ".join(f"l{i}" for i in range(len(names)))
    bits = len(names) - 1
    # GROUPING(l0, l1, ...) of the set (key, li): a 1 for every other leg
    which = " ".join(
        f"WHEN {sum(1 << (bits - j) for j in range(len(names)) if j != i)} THEN '{name}'"
        for i, name in enumerate(names)
    )
    selected = ", ".join(f"{expr} AS l{i}" for i, expr in enumerate(legs.values()))
    quantiles = ", ".join(f"('{q}', {p}::float8)" for q, p in QUANTILES.items())
    return f"""
WITH counted AS (
    SELECT key, CASE GROUPING({columns}) {which} END AS leg,
           coalesce({columns}) AS value, count(*) AS n
      FROM (SELECT {key} AS key, {selected} {source}) x
     GROUP BY GROUPING SETS ({", ".join(f"(key, l{i})" for i in range(len(names)))})
), per AS (
    SELECT false AS overall, key, leg, value, n FROM counted WHERE value IS NOT NULL
    UNION ALL
    SELECT true, NULL, leg, value, sum(n)::bigint FROM counted WHERE value IS NOT NULL
     GROUP BY leg, value
), ranked AS (
    SELECT overall, key, leg, value, sum(n) OVER w - n AS first, sum(n) OVER w AS last,
           sum(n) OVER (PARTITION BY overall, key, leg) AS total
      FROM per WINDOW w AS (PARTITION BY overall, key, leg ORDER BY value)
), at_quantile AS (
    SELECT r.*, q.quantile, q.p * (r.total::bigint - 1)::float8 AS pos
      FROM ranked r CROSS JOIN (VALUES {quantiles}) q (quantile, p)
), ends AS (
    SELECT overall, key, leg, quantile, pos - floor(pos) AS frac,
           min(value) FILTER (WHERE first <= floor(pos) AND floor(pos) < last) AS lo,
           min(value) FILTER (WHERE first <= ceil(pos) AND ceil(pos) < last) AS hi
      FROM at_quantile
     GROUP BY overall, key, leg, quantile, pos
)
SELECT overall, key, leg, quantile, lo + frac * (hi - lo) AS value FROM ends
"""


# Hash memory of the figures queries: a year's distinct leg values in memory,
# not in batches on disk.
HASH_MEMORY = "128MB"


@dataclass(frozen=True)
class Figures:
    """A figures query and its legs' percentiles over the same rows:
    `figures` selects with ``{key}`` and ``{source}`` left to fill,
    `source` is the FROM and WHERE clause with ``{scope}`` left to fill,
    `groups` maps a group_by to its column, `legs` a leg to its seconds."""

    figures: str
    source: str
    groups: dict[str, str]
    legs: dict[str, str]

    async def run(
        self, conn: AsyncConnection, group_by: str, scope: sql.Composable, values: dict[str, Any]
    ) -> tuple[list[dict[str, Any]], dict[Any, dict[str, float]], dict[str, float]]:
        """The figures' rows, then each group's legs and overall's."""
        fill = {
            "key": sql.SQL(self.groups[group_by]),
            "source": sql.SQL(self.source).format(scope=scope),
        }
        # A year of a city prices these past jit_above_cost: compiling them
        # would take longer than running them (semon/store/jit.py).
        async with without_jit(conn):
            await conn.execute(f"SET LOCAL work_mem = '{HASH_MEMORY}'")
            cur = conn.cursor(row_factory=dict_row)
            await cur.execute(sql.SQL(self.figures).format(**fill), values)
            rows = await cur.fetchall()
            legs = await conn.execute(sql.SQL(self._percentiles).format(**fill), values)
            per_group, per_overall = read_percentiles(await legs.fetchall())
        return rows, per_group, per_overall

    @cached_property
    def _percentiles(self) -> str:
        return percentiles_sql("{key}", self.legs, "{source}")


def read_percentiles(
    rows: list[tuple[Any, ...]],
) -> tuple[dict[Any, dict[str, float]], dict[str, float]]:
    """The query's rows as {key: {"<leg>_<quantile>": value}} and overall's."""
    groups: dict[Any, dict[str, float]] = {}
    overall: dict[str, float] = {}
    for is_overall, key, leg, quantile, value in rows:
        into = overall if is_overall else groups.setdefault(key, {})
        into[f"{leg}_{quantile}"] = value
    return groups, overall


def leg_figures(out: dict[str, Any], legs: tuple[str, ...], found: dict[str, float]) -> None:
    """Each leg's median and p90 into `out` as ``<leg>_<quantile>_s``, in
    seconds to the millisecond (null where the leg was never reached)."""
    for leg in legs:
        for quantile in QUANTILES:
            value = found.get(f"{leg}_{quantile}")
            out[f"{leg}_{quantile}_s"] = None if value is None else round(float(value), 3)
