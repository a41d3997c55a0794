"""The hourly roll-up's cost on plain PostgreSQL: the round before 0025 (a
full recomputation of the last hours) against the incremental one (folding
in what the inserts since the last round appended), and what the statement
triggers add to each insert.

    python bench/rollup_bench.py --rows 2000000 --batches 300 --batch-rows 1000

A fresh database on the machine's PostgreSQL (dropped afterwards): ``--rows``
samples spread over three hours (``--cars`` elevators), then ``--batches``
inserts of ``--batch-rows`` new samples each (a round's worth), timed with
the triggers and again without them; then the new round
(``semon_merge_hourly``) and the old one (``semon_refresh_hourly`` over the
three hours). Each row of a batch is a different car: the worst case for
the deltas (one per row). Other work on the machine shows in the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from semon.settings import Settings
from semon.store.commands import migrate_database
from tests.support import services

INSERT = """
INSERT INTO elevator_status (elevator_id, ts, floor, speed, direction, door, door_zone, mode,
                             alarm, power, trips, received_at)
SELECT 'C-' || (g %% %(cars)s), %(start)s + g * %(step)s * interval '1 millisecond', 1, 0,
       'stopped', 'closed', true, 'normal', false, 'mains', g, now()
FROM generate_series(%(lo)s, %(hi)s) g
ON CONFLICT DO NOTHING
"""


def timed(conn: psycopg.Connection, query: str, params: dict | None = None) -> float:
    t = time.perf_counter()
    conn.execute(query, params)
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, default=2_000_000, help="samples over three hours")
    ap.add_argument("--cars", type=int, default=1000)
    ap.add_argument("--batches", type=int, default=300, help="inserts in a round")
    ap.add_argument("--batch-rows", type=int, default=1000)
    args = ap.parse_args()
    with services.admin_postgres() as admin, services.fresh_database(admin, "semon_b") as dsn:
        settings = Settings(database_url=dsn)
        settings.storage.flavour = "postgres"
        asyncio.run(migrate_database(dsn, settings))
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("SET max_parallel_workers_per_gather = 0")  # as the round runs
            start = conn.execute("SELECT now() - interval '3 hours'").fetchone()[0]  # type: ignore[index]
            step = 3 * 3600 * 1000 / args.rows
            seed = timed(
                conn,
                INSERT,
                {"cars": args.cars, "start": start, "step": step, "lo": 0, "hi": args.rows - 1},
            )
            conn.execute("SELECT semon_merge_hourly()")
            print(f"seeded {args.rows:,} samples over 3 h in {seed:.1f} s")
            lo = args.rows
            per_batch: dict[str, float] = {}
            for label in ("with the triggers", "without them"):
                if label == "without them":
                    conn.execute(
                        "ALTER TABLE elevator_status DISABLE TRIGGER elevator_status_hourly_delta"
                    )
                took = 0.0
                for _ in range(args.batches):
                    took += timed(
                        conn,
                        INSERT,
                        {
                            "cars": args.batch_rows,
                            "start": start,
                            "step": step,
                            "lo": lo,
                            "hi": lo + args.batch_rows - 1,
                        },
                    )
                    lo += args.batch_rows
                per_batch[label] = 1000 * took / args.batches
                if label == "with the triggers":
                    merge = timed(conn, "SELECT semon_merge_hourly()")
            conn.execute("ALTER TABLE elevator_status ENABLE TRIGGER elevator_status_hourly_delta")
            full = timed(conn, "SELECT semon_refresh_hourly(now() - interval '3 hours', now())")
    rows = args.batches * args.batch_rows
    print(
        f"insert of {args.batch_rows:,} rows: {per_batch['with the triggers']:.1f} ms with the"
        f" triggers, {per_batch['without them']:.1f} ms without"
    )
    print(f"new round (merge of {args.batches} inserts, {rows:,} rows): {merge:.2f} s")
    print(f"old round (recompute 3 h, {args.rows + 2 * rows:,} rows): {full:.2f} s")


if __name__ == "__main__":
    main()
