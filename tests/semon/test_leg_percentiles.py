"""Each leg's median and p90 read off a count of its values
(semon/store/leg_percentiles.py) equal PostgreSQL's percentile_cont over the
same rows, to the last bit: repeated and unique values, fractions of a
second, negative legs, legs never reached (NULL), one-row groups, a group
whose every leg is NULL, a NULL group key."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import psycopg
from psycopg import sql

from semon.store.leg_percentiles import (
    QUANTILES,
    Figures,
    percentiles_sql,
    read_percentiles,
    seconds_between,
)

LEGS = {"first": "t.a", "second": "t.b"}


def rows(seed: int) -> list[tuple[Any, ...]]:
    rng = random.Random(seed)
    out: list[tuple[Any, ...]] = []
    for n in range(400):
        key = rng.choice(["north", "south", "east", None])
        a = rng.choice([None, float(rng.randrange(60, 70)), rng.uniform(-5, 900)])
        b = None if rng.random() < 0.2 else round(rng.uniform(0, 3000), 6)
        out.append((n, key, a, b))
    out += [(1000, "one", 12.5, None), (1001, "nulls", None, None)]
    return out


def test_percentiles_are_percentile_conts(database_url: str) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("CREATE TEMP TABLE t (n int, k text, a float8, b float8)")
        for seed in range(5):
            conn.execute("TRUNCATE t")
            with conn.cursor() as cur:
                cur.executemany("INSERT INTO t VALUES (%s, %s, %s, %s)", rows(seed))
            source = sql.SQL("FROM t WHERE t.n >= %(low)s")
            query = sql.SQL(percentiles_sql("{key}", LEGS, "{source}")).format(
                key=sql.SQL("t.k"), source=source
            )
            groups, overall = read_percentiles(conn.execute(query, {"low": 0}).fetchall())
            arrays = ", ".join(
                f"percentile_cont(ARRAY[{', '.join(str(p) for p in QUANTILES.values())}])"
                f" WITHIN GROUP (ORDER BY {expr}) AS {leg}"
                for leg, expr in LEGS.items()
            )
            expected = conn.execute(
                f"SELECT k, GROUPING(k), {arrays} FROM t GROUP BY GROUPING SETS ((k), ())"
            ).fetchall()
            for key, is_overall, *pairs in expected:
                got = overall if is_overall else groups.get(key, {})
                for leg, pair in zip(LEGS, pairs, strict=True):
                    for quantile, value in zip(QUANTILES, pair or (None, None), strict=True):
                        assert got.get(f"{leg}_{quantile}") == value, (key, leg, quantile)
            assert set(groups) == {k for k, g, *_ in expected if not g} - {"nulls"}


def test_figures_run_fills_the_key_source_and_scope(database_url: str) -> None:
    figures = Figures(
        "SELECT {key} AS key, count(*) AS n {source} GROUP BY {key}",
        "FROM t2 t WHERE t.n < %(high)s AND ({scope})",
        {"by_k": "t.k"},
        LEGS,
    )

    async def run() -> Any:
        async with await psycopg.AsyncConnection.connect(database_url) as conn:
            await conn.execute("CREATE TEMP TABLE t2 (n int, k text, a float8, b float8)")
            await conn.execute(
                "INSERT INTO t2 VALUES (1, 'x', 1, 10), (2, 'x', 3, NULL), (3, 'y', 5, 7),"
                " (4, 'y', 100, 100)"
            )
            return await figures.run(
                conn, "by_k", sql.SQL("t.k <> %(skip)s"), {"high": 4, "skip": "z"}
            )

    found, groups, overall = asyncio.run(run())
    assert sorted((r["key"], r["n"]) for r in found) == [("x", 2), ("y", 1)]
    assert groups["x"] == {
        "first_median": 2.0,
        "first_p90": 2.8,  # 1 + 0.9 * (3 - 1)
        "second_median": 10.0,
        "second_p90": 10.0,
    }
    assert overall["first_median"] == 3.0 and overall["second_p90"] == 9.7


def test_seconds_between_is_extracts_float8(database_url: str) -> None:
    """Under a day (either way) and beyond it, to the microsecond, nulls too."""
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
