"""Check maintenance records against a month of telemetry, then time the
firms' scorecards and /stats/firms, and print the figures.

    python bench/verification_bench.py [--lifts 100000] [--records 100000] [--days 30]
        [--background-s 3600] [--dsn postgresql://...] [--pglite]

Makes a fresh database (dropped afterwards) on ``--dsn`` (its flavour: plain
PostgreSQL, or TimescaleDB where the server has it; ``--pglite`` starts the
test suite's PGlite TimescaleDB instead, small sizes only: one connection, no
parallelism). Generates with SQL generate_series: 300 firms, the lifts in 11
districts, a month of status samples for every lift every ``--background-s``
seconds, and for each record a visit's samples every 60 s from two hours
before its window to two hours after: a third with the car in maintenance
mode (honest), a third in normal service (fake), a third silent. Then times:

- ``verify_records`` over every record (semon/store/verification.py), in
  chunks of 20,000 (2,000 on PGlite, which crashes on messages over ~64 KB)
  (goal: 100,000 records under 60 s);
- ``firm_scorecard`` for a sample of firms, with every deduction's events
  (goal: under 300 ms each);
- ``groups_and_overall`` by firm for the whole city (every firm's card and
  the city's, one pass), i.e. ``/stats/firms`` (goal: under 1 s).

A record's check reads only its window (plus slack) through the
(elevator_id, ts) primary key, so what it costs depends on the samples in
the windows, not on the month around them: ``--background-s`` sets how big
that month is (3600: 72 million rows at 100,000 lifts; lower it for more).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

from semon.settings import Settings
from semon.store.commands import migrate_database
from semon.store.scorecards import CardWindow, firm_scorecard, groups_and_overall
from semon.store.verification import verify_records

STATUS_COLS = (
    "elevator_id, ts, floor, speed, direction, door, door_zone, mode, alarm, power, received_at"
)
GENERATE = [
    """INSERT INTO firms (firm_id, name, credit_grade, tech_level)
       SELECT 'F' || i, 'firm ' || i, (ARRAY['A','A','B','B','B','C','D'])[1 + i %% 7], 1 + i %% 5
         FROM generate_series(1, 300) i""",
    """INSERT INTO elevators (elevator_id, address, district, use_unit, firm_id, installed_on,
                              last_inspected_on)
       SELECT 'EL' || lpad(i::text, 7, '0'), 'street ' || i, 'D' || i %% 11, 'U' || i %% 5000,
              'F' || 1 + i %% 300, date '2026-01-01' - (i %% 9000), %(start)s::date - (i %% 420)
         FROM generate_series(1, %(lifts)s) i""",
    # the month, coarse
    f"""INSERT INTO elevator_status ({STATUS_COLS})
       SELECT 'EL' || lpad(i::text, 7, '0'), t, 1, 0, 'stopped', 'closed', true, 'normal', false,
              'mains', t
         FROM generate_series(1, %(lifts)s) i,
              generate_series(%(start)s::timestamptz, %(end)s::timestamptz,
                              make_interval(secs => %(background_s)s)) t
       ON CONFLICT DO NOTHING""",
    """INSERT INTO maintenance_records (elevator_id, done_on, kind, firm_id, started_at, ended_at)
       SELECT 'EL' || lpad((1 + j %% %(lifts)s)::text, 7, '0'), s::date, 'routine',
              'F' || 1 + (1 + j %% %(lifts)s) %% 300, s, s + interval '40 minutes'
         FROM generate_series(0, %(records)s - 1) j,
              LATERAL (SELECT %(start)s::timestamptz + interval '3 hours'
                              + ((j * 7919) %% ((%(days)s - 1) * 86400)) * interval '1 second'
                              AS s) w
       ON CONFLICT DO NOTHING""",
    # each visit's samples: maintenance mode (record_id %% 3 = 0), normal (1), none (2)
    f"""INSERT INTO elevator_status ({STATUS_COLS})
       SELECT m.elevator_id, t, 1, 0, 'stopped', 'closed', true,
              CASE WHEN m.record_id %% 3 = 0 AND t >= m.started_at AND t <= m.ended_at
                   THEN 'maintenance' ELSE 'normal' END, false, 'mains', t
         FROM maintenance_records m,
              generate_series(m.started_at - interval '2 hours', m.ended_at + interval '2 hours',
                              interval '60 seconds') t
        WHERE m.record_id %% 3 <> 2
       ON CONFLICT DO NOTHING""",
    """INSERT INTO alerts (alert_id, condition_key, kind, severity, state, equipment_type,
                           equipment_id, district, firm_id, started_at, raised_at, updated_at,
                           on_site_at, resolved_at, resolution, summary, details)
       SELECT 'AL' || j, 'AL' || j, 'trapped_passenger', 'critical', 'resolved', 'elevator',
              e.elevator_id, e.district, e.firm_id, t, t, t,
              t + (5 + j %% 40) * interval '1 minute', t + interval '1 hour', 'rescued', 'bench',
              jsonb_build_object('cause', (ARRAY['external','equipment','human','door_system'])
                                          [1 + j %% 4])
         FROM generate_series(1, %(lifts)s / 10) j
         JOIN elevators e ON e.elevator_id = 'EL' || lpad((1 + (j * 7919) %% %(lifts)s)::text,
                                                           7, '0'),
              LATERAL (SELECT %(start)s::timestamptz + (j %% (%(days)s * 24)) * interval '1 hour'
                              AS t) tt""",
]


def with_db(dsn: str, name: str) -> str:
    return urlunsplit(urlsplit(dsn)._replace(path="/" + name))


@contextlib.contextmanager
def fresh(admin_dsn: str, *, keep: bool = False) -> Iterator[str]:
    name = f"semon_vbench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield with_db(admin_dsn, name)
    finally:
        if keep:
            print("kept:", with_db(admin_dsn, name))
        else:
            with psycopg.connect(admin_dsn, autocommit=True) as conn:
                conn.execute(
                    sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
                )


async def bench(dsn: str, args: argparse.Namespace) -> None:
    settings = Settings(database_url=dsn)
    end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(days=1)
    start = end - timedelta(days=args.days)
    params = {
        "lifts": args.lifts,
        "records": args.records,
        "days": args.days,
        "start": start,
        "end": end,
        "background_s": args.background_s,
    }
    t = time.perf_counter()
    # plain PostgreSQL: day partitions from 35 days back exist after migrating
    flavour, _ = await migrate_database(dsn, settings)
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        for q in GENERATE:
            await conn.execute(q, params)
        if not args.pglite:
            await conn.execute("VACUUM ANALYZE")
        row = await (await conn.execute("SELECT count(*) FROM elevator_status")).fetchone()
        cur = await conn.execute("SELECT record_id FROM maintenance_records ORDER BY record_id")
        ids = [int(r[0]) for r in await cur.fetchall()]
    print(
        f"{flavour}: generated {args.lifts:,} lifts, {row[0] if row else 0:,} status rows, "
        f"{len(ids):,} records in {time.perf_counter() - t:.1f} s"
    )
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        t = time.perf_counter()
        verdicts: dict[int, str] = {}
        chunk = 2_000 if args.pglite else 20_000
        for k in range(0, len(ids), chunk):
            verdicts |= await verify_records(
                conn, ids[k : k + chunk], settings.verification, now=datetime.now(UTC)
            )
        took = time.perf_counter() - t
        counts = {v: list(verdicts.values()).count(v) for v in sorted(set(verdicts.values()))}
        print(f"verify {len(ids):,} records: {took:.2f} s  (goal < 60 s)  {counts}")
        cfg = settings.scorecard
        window = CardWindow(since=start, until=end, at=end.date(), default_days=15)
        times = []
        for f in range(1, 300, max(1, 300 // args.cards)):
            t = time.perf_counter()
            await firm_scorecard(conn, cfg, f"F{f}", window)
            times.append(time.perf_counter() - t)
        print(
            f"scorecard, {len(times)} firms: median {statistics.median(times) * 1000:.0f} ms, "
            f"max {max(times) * 1000:.0f} ms  (goal < 300 ms)"
        )
        times = []
        for _ in range(args.runs):
            t = time.perf_counter()
            groups, _ = await groups_and_overall(conn, cfg, window, group_by="firm_id")
            times.append(time.perf_counter() - t)
        print(
            f"/stats/firms ({len(groups)} firms): median {statistics.median(times) * 1000:.0f} ms,"
            f" max {max(times) * 1000:.0f} ms  (goal < 1 s)"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--lifts", type=int, default=100_000)
    ap.add_argument("--records", type=int, default=100_000)
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--background-s", type=int, default=3600)
    ap.add_argument("--cards", type=int, default=20, help="firms whose scorecard is timed")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--dsn", default="postgresql://postgres@127.0.0.1:5432/test")
    ap.add_argument("--pglite", action="store_true", help="PGlite TimescaleDB (small sizes)")
    ap.add_argument("--keep", action="store_true", help="keep the database (prints its DSN)")
    args = ap.parse_args()
    if args.pglite:
        sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
        from tests.support.timescale import timescale_server

        with timescale_server() as dsn:
            asyncio.run(bench(dsn, args))
        return
    with fresh(args.dsn, keep=args.keep) as dsn:
        asyncio.run(bench(dsn, args))


if __name__ == "__main__":
    main()
