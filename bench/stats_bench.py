"""Time the overdue-inspection statistics over a large registry.

    python bench/stats_bench.py [--elevators 200000] [--cylinders 2000000] [--runs 5]

Makes a fresh database (dropped afterwards), migrates it, generates the
registry with SQL generate_series, VACUUM ANALYZEs it (so the covering
indexes of 0012 serve index-only scans), then times
``semon.store.stats.overdue_inspections`` as an admin (whole city) and as a
regulator of a few districts, per equipment and group_by: median and worst
of --runs runs, query and result building included. Goal: under 300 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import date
from functools import partial
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the tests' helpers

from bench.scratch import generate
from semon.store.stats import Equipment, Scoped, overdue_inspections
from tests.support import services

GENERATE = [
    """INSERT INTO stations (station_id, name, district)
       SELECT 'S' || i, 'station ' || i, 'D' || i %% 12 FROM generate_series(1, 2000) i""",
    """INSERT INTO elevators (elevator_id, address, district, use_unit, firm_id, installed_on,
                              last_inspected_on, inspection_interval_months, status)
       SELECT 'EL' || lpad(i::text, 7, '0'), 'street ' || i, 'D' || i %% 12, 'U' || i %% 20000,
              'F' || i %% 400, date '2000-01-01' + (i %% 9000),
              CASE WHEN i %% 13 = 0 THEN NULL ELSE date '2025-01-01' + (i %% 700) END, 12,
              CASE WHEN i %% 97 = 0 THEN 'suspended' ELSE 'in_service' END
         FROM generate_series(1, %(elevators)s) i""",
    """INSERT INTO cylinders (cylinder_id, serial_no, gas, manufactured_on, max_fill_kg,
                              design_life_years, inspection_interval_years, last_inspected_on,
                              owner_station_id, status)
       SELECT 'CY' || lpad(i::text, 8, '0'), 'SN' || i, 'lpg', date '2012-01-01' + (i %% 5000),
              14.5, 12, 4, CASE WHEN i %% 5 = 0 THEN NULL ELSE date '2022-01-01' + (i %% 1500) END,
              'S' || 1 + i %% 2000, CASE WHEN i %% 51 = 0 THEN 'scrapped' ELSE 'in_service' END
         FROM generate_series(1, %(cylinders)s) i""",
]

CASES: list[tuple[Equipment, str]] = [
    ("elevator", "district"),
    ("elevator", "firm_id"),
    ("elevator", "use_unit"),
    ("cylinder", "station_id"),
    ("cylinder", "district"),
]


def regulator_scope(equipment: str) -> Scoped:
    """The predicate api/scope.py builds for a regulator of three districts."""
    districts = {"scope_districts": ["D1", "D2", "D3"]}
    if equipment == "elevator":
        return sql.SQL("e.district = ANY(%(scope_districts)s)"), districts
    return sql.SQL(
        "EXISTS (SELECT 1 FROM stations scope_s WHERE scope_s.station_id = c.owner_station_id"
        " AND scope_s.district = ANY(%(scope_districts)s))"
    ), districts


async def bench(dsn: str, elevators: int, cylinders: int, runs: int) -> None:
    took = await generate(dsn, GENERATE, {"elevators": elevators, "cylinders": cylinders})
    print(f"generated {elevators:,} elevators, {cylinders:,} cylinders, 2,000 stations", end="")
    print(f" in {took:.1f} s")
    at = date(2026, 6, 1)
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        for who in ("admin", "regulator of 3 districts"):
            for equipment, group_by in CASES:
                scope = (sql.SQL("TRUE"), {}) if who == "admin" else regulator_scope(equipment)
                call = partial(
                    overdue_inspections,
                    conn,
                    equipment=equipment,
                    group_by=group_by,
                    at=at,
                    scope=scope,
                )
                times, result = await timed(call, runs)
                o = result["overall"]
                print(
                    f"  {who:25s} {equipment:8s} by {group_by:10s} "
                    f"median {statistics.median(times) * 1000:6.0f} ms  "
                    f"worst {max(times) * 1000:6.0f} ms  groups {len(result['groups']):6,}  "
                    f"total {o['total']:,} overdue {o['overdue']:,}"
                )


async def timed(call: Callable[[], Awaitable[Any]], runs: int) -> tuple[list[float], Any]:
    """Seconds of each of `runs` calls (after one more, warming the cache,
    dropped) and the last call's result."""
    times = []
    for _ in range(runs + 1):
        t = time.perf_counter()
        result = await call()
        times.append(time.perf_counter() - t)
    return times[1:], result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    for count, default in {"elevators": 200_000, "cylinders": 2_000_000, "runs": 5}.items():
        ap.add_argument(f"--{count}", type=int, default=default)
    ap.add_argument("--dsn", default="postgresql://postgres@127.0.0.1:5432/test")
    args = ap.parse_args()
    with services.fresh_database(args.dsn, prefix="semon_bench_stats") as dsn:
        asyncio.run(bench(dsn, args.elevators, args.cylinders, args.runs))


if __name__ == "__main__":
    main()
