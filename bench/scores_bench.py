"""Score a whole fleet end to end and print the time.

    python bench/scores_bench.py [--elevators 100000] [--hours 48] [--dsn postgresql://...]

Makes a fresh database on the server (dropped afterwards), migrates it,
generates the fleet with SQL generate_series (firms, elevators, 48 hours of
hourly figures per elevator, a year of alerts), then times
``semon.store.scores.refresh_scores``: the aggregate query, the numpy
scoring and the upsert of every elevator's row. Goal: under 5 s for 100,000.
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid
from datetime import UTC, datetime
from urllib.parse import urlsplit, urlunsplit

import numpy as np
import psycopg

from semon.scoring import score_fleet
from semon.settings import Settings
from semon.store.commands import migrate_database
from semon.store.scores import load_metrics, refresh_scores

GENERATE = [
    """INSERT INTO firms (firm_id, name, credit_grade, tech_level)
       SELECT 'F' || i, 'firm ' || i, (ARRAY['A','A','B','B','B','C','D'])[1 + i %% 7], 1 + i %% 5
         FROM generate_series(1, 300) i""",
    """INSERT INTO elevators (elevator_id, address, district, use_unit, use_unit_level, firm_id,
                              installed_on, last_inspected_on, inspection_interval_months)
       SELECT 'EL' || lpad(i::text, 7, '0'), 'street ' || i, 'D' || i %% 11, 'U' || i %% 5000,
              CASE WHEN i %% 7 = 0 THEN NULL ELSE 1 + i %% 5 END, 'F' || 1 + i %% 300,
              date '2026-01-01' - (i %% 9000), %(now)s::date - (i %% 420), 12
         FROM generate_series(1, %(n)s) i""",
    """INSERT INTO elevator_hourly_rollup (bucket, elevator_id, samples, trips, door_cycles,
                                           run_s, faults)
       SELECT date_bin('1 hour', %(now)s::timestamptz, '2000-01-01') - h * interval '1 hour',
              'EL' || lpad(i::text, 7, '0'), 60, (i + h) %% 40, (i * 3 + h) %% 90, 600, 0
         FROM generate_series(1, %(n)s) i, generate_series(1, %(hours)s) h
        WHERE i %% 50 <> 0""",
    """INSERT INTO alerts (alert_id, condition_key, kind, severity, state, equipment_type,
                           equipment_id, district, firm_id, started_at, ended_at, raised_at,
                           updated_at, resolved_at, resolution, summary)
       SELECT 'AL' || j, 'AL' || j, k, 'major', 'resolved', 'elevator',
              'EL' || lpad((1 + (j * 7919) %% %(n)s)::text, 7, '0'), 'D1', 'F1',
              %(now)s::timestamptz - (j %% 360) * interval '1 day',
              %(now)s::timestamptz - (j %% 360) * interval '1 day' + interval '20 minutes',
              %(now)s::timestamptz - (j %% 360) * interval '1 day',
              %(now)s::timestamptz, %(now)s::timestamptz,
              CASE WHEN j %% 10 = 0 THEN 'repaired' ELSE 'rescued' END, 'bench'
         FROM generate_series(1, %(n)s / 2) j,
              LATERAL (SELECT (ARRAY['trapped_passenger','elevator_fault','terminal_offline'])
                              [1 + j %% 3] AS k) kk""",
]


def with_db(dsn: str, name: str) -> str:
    return urlunsplit(urlsplit(dsn)._replace(path="/" + name))


async def bench(dsn: str, n: int, hours: int) -> None:
    settings = Settings(database_url=dsn)
    settings.score.load_window_hours = hours
    now = datetime.now(UTC)
    t = time.perf_counter()
    await migrate_database(dsn, settings)
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        for q in GENERATE:
            await conn.execute(q, {"n": n, "now": now, "hours": hours})
        await conn.execute("VACUUM ANALYZE")
        rows = await (await conn.execute("SELECT count(*) FROM elevator_hourly_rollup")).fetchone()
    print(
        f"generated {n:,} elevators, {rows[0] if rows else 0:,} hourly rows, "
        f"{n // 2:,} alerts in {time.perf_counter() - t:.1f} s"
    )

    async with await psycopg.AsyncConnection.connect(dsn) as conn:
        t = time.perf_counter()
        _, metrics = await load_metrics(conn, settings, now=now)
        t_query = time.perf_counter() - t
        t = time.perf_counter()
        s = score_fleet(metrics, settings.score)
        t_score = time.perf_counter() - t
        await conn.rollback()
        grades = np.bincount(s.grade, minlength=4)
        print(
            f"  aggregate query: {t_query:.2f} s   numpy scoring: {t_score * 1000:.0f} ms   "
            f"grades A-D: {grades.tolist()}   vetoed: {int(s.vetoes.any(axis=0).sum()):,}"
        )
        for label in ("first refresh (insert)", "second refresh (update)"):
            t = time.perf_counter()
            done = await refresh_scores(conn, settings, now=now)
            await conn.commit()
            print(f"  {label}: {done:,} elevators end to end in {time.perf_counter() - t:.2f} s")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--elevators", type=int, default=100_000)
    ap.add_argument("--hours", type=int, default=48, help="hourly rows per elevator")
    ap.add_argument("--dsn", default="postgresql://postgres@127.0.0.1:5432/test")
    args = ap.parse_args()
    name = f"semon_bench_scores_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(args.dsn, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        asyncio.run(bench(with_db(args.dsn, name), args.elevators, args.hours))
    finally:
        with psycopg.connect(args.dsn, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
