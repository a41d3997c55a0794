"""Time `/stats/rescue` (the alert figures and the work order's) over many
stored rescues.

    python bench/rescue_bench.py [--rescues 1000000] [--days 365] [--runs 5] [--keep NAME]
                                 [--microseconds]

Makes a fresh database (dropped afterwards; with --keep NAME, the database
NAME, kept, and reused as it is when it already holds rescues, for EXPLAIN
ANALYZE or a second run), migrates it, generates
trapped-passenger alerts and their rescues with SQL generate_series (step
times, counts, causes, tiers and escalations drawn from the row number),
VACUUM ANALYZEs, then times what the route runs (semon.store.stats.rescue
and semon.store.rescue_stats.rescue_figures side by side on two
connections, as the route does; result building included) as an
admin (whole city) and as a regulator of three districts, by district and by
firm, for the whole span and for 30 days: median and worst of --runs runs.
Goal: under 300 ms with 1,000,000 rescues.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

from semon.settings import Settings
from semon.store.commands import migrate_database
from semon.store.rescue_stats import rescue_figures
from semon.store.stats import rescue

START = datetime(2025, 1, 1, tzinfo=UTC)
CAUSES = "ARRAY['external','human','door_system','equipment','power','unknown']"

# With --microseconds, each step a number of microseconds later (as the API
# stamps them): every leg a value of its own, nothing to count twice.
US = "%(us)s * ((i::bigint * {p}) %% 1000000) * interval '1 microsecond'"
GENERATE = [
    f"""INSERT INTO alerts (alert_id, condition_key, kind, severity, state, equipment_type,
            equipment_id, district, firm_id, started_at, raised_at, updated_at, acknowledged_at,
            dispatched_at, on_site_at, resolved_at, resolution, summary, details)
       SELECT 'al' || i, 'trapped_passenger:EL' || i %% 100000, 'trapped_passenger', 'critical',
              'resolved', 'elevator', 'EL' || i %% 100000, 'D' || i %% 12, 'F' || i %% 400, t, t, t,
              t + interval '30 s' + {US.format(p=15485863)},
              t + (60 + i %% 400) * interval '1 s' + {US.format(p=7919)},
              t + (600 + i %% 1800) * interval '1 s' + {US.format(p=104729)},
              t + (900 + i %% 2400) * interval '1 s' + {US.format(p=1299709)},
              CASE WHEN i %% 10 = 0 THEN 'false_alarm' ELSE 'rescued' END, 'trapped', '{{}}'
         FROM (SELECT i, %(start)s::timestamptz
                         + (i::bigint * %(span_s)s / %(n)s) * interval '1 s' AS t
                 FROM generate_series(1, %(n)s) i) g""",
    f"""INSERT INTO rescues (rescue_id, elevator_id, alert_id, source, state, tier, on_site_tier,
            district, firm_id, opened_at, dispatched_at, on_site_at, freed_at, callback_at,
            closed_at, trapped_count, injured_count, cause_category, updated_at)
       SELECT 'rs' || i, 'EL' || i %% 100000, 'al' || i,
              CASE WHEN i %% 5 = 0 THEN 'call' ELSE 'terminal' END, 'closed',
              1 + (i %% 50 = 0)::int,
              1 + (i %% 50 = 0)::int + (i %% 500 = 0)::int, 'D' || i %% 12, 'F' || i %% 400, t,
              t + (60 + i %% 400) * interval '1 s' + {US.format(p=7919)},
              t + (600 + i %% 1800) * interval '1 s' + {US.format(p=104729)},
              t + (900 + i %% 2400) * interval '1 s' + {US.format(p=1299709)}, t + interval '120 s',
              t + interval '1 hour', 1 + i %% 3, (i %% 40 = 0)::int,
              ({CAUSES})[1 + i %% 6], t
         FROM (SELECT i, %(start)s::timestamptz
                         + (i::bigint * %(span_s)s / %(n)s) * interval '1 s' AS t
                 FROM generate_series(1, %(n)s) i) g""",
    """INSERT INTO rescue_escalations (rescue_id, reason, ref, at, due_at, from_tier, to_tier)
       SELECT rescue_id, 'dispatch_overdue', 1, opened_at + interval '5 min',
              opened_at + interval '5 min', 1, 1
         FROM rescues WHERE dispatched_at > opened_at + interval '5 minutes'""",
]


def with_db(dsn: str, name: str) -> str:
    return urlunsplit(urlsplit(dsn)._replace(path="/" + name))


async def generate(dsn: str, n: int, days: int, us: bool) -> None:
    """Migrate, then fill an empty database (a kept one is only migrated)."""
    t = time.perf_counter()
    await migrate_database(dsn, Settings(database_url=dsn))
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        cur = await conn.execute("SELECT EXISTS (SELECT FROM rescues)")
        row = await cur.fetchone()
        if row and row[0]:
            await conn.execute("VACUUM ANALYZE")
            print(f"reusing the rescues stored, migrated in {time.perf_counter() - t:.1f} s")
            return
        for q in GENERATE:
            await conn.execute(q, {"n": n, "start": START, "span_s": days * 86400, "us": int(us)})
        await conn.execute("VACUUM ANALYZE")
    grain = "microseconds" if us else "whole seconds"
    print(f"generated {n:,} rescues over {days} days ({grain}) in {time.perf_counter() - t:.1f} s")


async def bench(dsn: str, n: int, days: int, runs: int, us: bool) -> None:
    await generate(dsn, n, days, us)
    end = START + timedelta(days=days + 1)
    windows = {f"{days} days": (START, end), "30 days": (end - timedelta(days=31), end)}
    async with (
        await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn,
        await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn2,
    ):
        for who in ("admin", "regulator of 3 districts"):
            if who == "admin":
                a_scope: sql.Composable = sql.SQL("TRUE")
                r_scope: sql.Composable = sql.SQL("TRUE")
                params: dict[str, object] = {}
            else:
                a_scope = sql.SQL("a.district = ANY(%(scope_districts)s)")
                r_scope = sql.SQL("r.district = ANY(%(scope_districts)s)")
                params = {"scope_districts": ["D1", "D2", "D3"]}
            for label, (since, until) in windows.items():
                for group_by in ("district", "firm_id"):
                    times = []
                    for _ in range(runs + 1):  # the first run warms the cache and is dropped
                        t = time.perf_counter()
                        # as the route runs them: side by side on two connections
                        _, (groups, overall) = await asyncio.gather(
                            rescue(
                                conn,
                                group_by=group_by,
                                since=since,
                                until=until,
                                scope=a_scope,
                                params=params,
                            ),
                            rescue_figures(
                                conn2,
                                group_by=group_by,
                                since=since,
                                until=until,
                                scope=r_scope,
                                params=params,
                            ),
                        )
                        times.append(time.perf_counter() - t)
                    times = times[1:]
                    print(
                        f"  {who:25s} {label:9s} by {group_by:8s} "
                        f"median {statistics.median(times) * 1000:6.0f} ms  "
                        f"worst {max(times) * 1000:6.0f} ms  groups {len(groups):4}  "
                        f"rescues {overall['rescues']:,}"
                    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rescues", type=int, default=1_000_000)
    ap.add_argument("--days", type=int, default=365)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--dsn", default="postgresql://postgres@127.0.0.1:5432/test")
    ap.add_argument(
        "--microseconds",
        action="store_true",
        help="step times to the microsecond (every leg distinct) instead of whole seconds",
    )
    ap.add_argument(
        "--keep", metavar="NAME", help="use the database NAME (made if missing) and keep it"
    )
    args = ap.parse_args()
    name = args.keep or f"semon_bench_rescue_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(args.dsn, autocommit=True) as admin:
        cur = admin.execute("SELECT EXISTS (SELECT FROM pg_database WHERE datname = %s)", (name,))
        row = cur.fetchone()
        if not (row and row[0]):
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        asyncio.run(
            bench(with_db(args.dsn, name), args.rescues, args.days, args.runs, args.microseconds)
        )
    finally:
        if not args.keep:
            with psycopg.connect(args.dsn, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
