"""How `/stats/rescue` runs its figures queries (semon/store/leg_percentiles.py):
a Figures query's groups (keyed bytewise: non-ASCII names and a NULL key
too), overall, counts and each leg's median and p90 as percentile_cont has
them; and seconds_between, extract's float8 for less."""

from __future__ import annotations

import asyncio
from typing import Any

import psycopg
from psycopg import sql

from semon.store.leg_percentiles import Figures, leg_figures, seconds_between

LEGS = {"first": "t.a", "second": "t.b"}


def test_figures_per_group_and_overall(database_url: str) -> None:
    figures = Figures(
        "count(*) AS n",
        "FROM t2 t WHERE t.n < %(high)s AND ({scope})",
        {"by_k": "t.k"},
        LEGS,
    )

    async def run() -> Any:
        async with await psycopg.AsyncConnection.connect(database_url) as conn:
            await conn.execute("CREATE TEMP TABLE t2 (n int, k text, a float8, b float8)")
            await conn.execute(
                "INSERT INTO t2 VALUES (1, '天河', 1, 10), (2, '天河', 3, NULL),"
                " (3, 'Yuexiu', 5, 7), (4, 'Yuexiu', 100, 100), (5, NULL, NULL, NULL),"
                " (6, 'z', 1, 1)"
            )
            return await figures.run(
                conn, "by_k", sql.SQL("t.k IS DISTINCT FROM %(skip)s"), {"high": 6, "skip": "z"}
            )

    rows = asyncio.run(run())
    got: dict[Any, dict[str, Any]] = {}
    for row in rows:
        out = {"n": row["n"]}
        leg_figures(out, tuple(LEGS), row)
        got["overall" if row["overall"] else row["key"]] = out
    assert got["天河"] == {
        "n": 2,
        "first_median_s": 2.0,
        "first_p90_s": 2.8,  # 1 + 0.9 * (3 - 1)
        "second_median_s": 10.0,
        "second_p90_s": 10.0,
    }
    assert got[None] == {
        "n": 1,
        "first_median_s": None,
        "first_p90_s": None,
        "second_median_s": None,
        "second_p90_s": None,
    }
    assert got["overall"]["n"] == 5 and got["overall"]["first_median_s"] == 4.0
    assert got["overall"]["second_p90_s"] == 82.0  # 10 + 0.8 * (100 - 10)
    assert set(got) == {"天河", "Yuexiu", None, "overall"}


def test_seconds_between_is_extracts_float8(database_url: str) -> None:
    """Within 24 hours (either way) and beyond, to the microsecond, nulls too."""
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            "WITH x AS (SELECT timestamptz '2025-01-01' + random() * interval '400 days' AS a,"
            " (random() - 0.2) * interval '3 days' + random() * interval '1 hour' AS d"
            " FROM generate_series(1, 200000) UNION ALL SELECT now(), NULL)"
            f" SELECT count(*), count(*) FILTER (WHERE {seconds_between('a', 'a + d')}"
            " IS DISTINCT FROM extract(epoch FROM (a + d) - a)::float8),"
            " count(*) FILTER (WHERE d >= interval '1 day') FROM x"
        ).fetchone()
    assert row is not None
    total, differ, beyond_a_day = row
    assert total == 200001 and differ == 0 and beyond_a_day > 50000
