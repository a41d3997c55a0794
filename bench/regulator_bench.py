"""Time the regulator's routes over a large city, through the real API.

    python bench/regulator_bench.py [--elevators 200000] [--cylinders 2000000]
        [--hazards 500000] [--self-checks 100000] [--runs 5]

Makes a fresh database (dropped afterwards), migrates it, generates the
registry (insurance, tags, positions), inspections with 2 % fails and 5 %
conditionals, hazards, a month of self-checks and a sample in the last day
for most lifts with SQL generate_series, VACUUM ANALYZEs it, starts the API
on a spare port and times each statistics route and the monthly report in
each format as an admin (the whole city) and as a regulator of three
districts: median and worst of --runs requests (the first, warming, dropped).
Goals (issue 16): every statistics route under 300 ms, the whole city's
report under 2 s in each format.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the tests' helpers

from bench.scratch import generate
from semon.settings import Settings
from semon.tokens import create_token
from tests.api.conftest import LiveServer, make_settings
from tests.support import services

GENERATE = [
    """INSERT INTO stations (station_id, name, district)
       SELECT 'S' || i, 'station ' || i, 'D' || i %% 12 FROM generate_series(1, 2000) i""",
    """INSERT INTO elevators (elevator_id, address, district, lat, lon, use_unit, firm_id,
                              installed_on, last_inspected_on, inspection_interval_months,
                              status, insurer, insured_until)
       SELECT 'EL' || lpad(i::text, 7, '0'), 'street ' || i, 'D' || i %% 12,
              23.0 + (i %% 1000) / 2000.0, 113.2 + (i / 1000 %% 400) / 2000.0,
              'U' || i %% 20000, 'F' || i %% 400, date '2000-01-01' + (i %% 9000),
              CASE WHEN i %% 13 = 0 THEN NULL ELSE date '2025-01-01' + (i %% 700) END, 12,
              CASE WHEN i %% 97 = 0 THEN 'suspended' ELSE 'in_service' END,
              CASE WHEN i %% 12 = 0 THEN NULL ELSE 'PICC' END,
              CASE WHEN i %% 12 = 0 THEN NULL ELSE current_date + (i %% 400) - 20 END
         FROM generate_series(1, %(elevators)s) i""",
    """INSERT INTO cylinders (cylinder_id, serial_no, gas, manufactured_on, max_fill_kg,
                              design_life_years, inspection_interval_years, last_inspected_on,
                              owner_station_id, status, tag, insured_until)
       SELECT 'CY' || lpad(i::text, 8, '0'), 'SN' || i, 'lpg', date '2012-01-01' + (i %% 5000),
              14.5, 12, 4, CASE WHEN i %% 5 = 0 THEN NULL ELSE date '2022-01-01' + (i %% 1500) END,
              'S' || 1 + i %% 2000, CASE WHEN i %% 51 = 0 THEN 'scrapped' ELSE 'in_service' END,
              (ARRAY['qr', 'rfid', 'none'])[1 + i %% 3],
              CASE WHEN i %% 4 = 0 THEN NULL ELSE current_date + (i %% 300) END
         FROM generate_series(1, %(cylinders)s) i""",
    # inspections: through the table's triggers (failed in use, conditional hazards)
    """INSERT INTO inspections (equipment_type, equipment_id, inspected_on, result, inspector)
       SELECT 'elevator', 'EL' || lpad(i::text, 7, '0'), current_date - (i %% 300) - 1,
              CASE WHEN i %% 50 = 0 THEN 'fail' WHEN i %% 20 = 0 THEN 'conditional'
                   ELSE 'pass' END, 'SEI'
         FROM generate_series(1, %(elevators)s) i""",
    """INSERT INTO hazards (hazard_id, equipment_type, equipment_id, source, level, description,
                           found_on, deadline, state, district, firm_id, use_unit, rectified_at)
       SELECT 'hz' || i, 'elevator', 'EL' || lpad((1 + i %% %(elevators)s)::text, 7, '0'),
              'supervision', CASE WHEN i %% 5 = 0 THEN 'serious' ELSE 'general' END, 'finding',
              current_date - (i %% 365), current_date - (i %% 365) + 15,
              CASE WHEN i %% 10 = 0 THEN 'open' ELSE 'rectified' END,
              'D' || (1 + i %% %(elevators)s) %% 12, 'F' || (1 + i %% %(elevators)s) %% 400,
              'U' || (1 + i %% %(elevators)s) %% 20000,
              CASE WHEN i %% 10 = 0 THEN NULL
                   ELSE (current_date - (i %% 365) + (i %% 20))::timestamptz END
         FROM generate_series(1, %(hazards)s) i""",
    """INSERT INTO self_checks (use_unit, kind, done_on, done_by)
       SELECT 'U' || i %% 20000,
              CASE WHEN i %% 30 = 0 THEN 'monthly' WHEN i %% 7 = 0 THEN 'weekly' ELSE 'daily' END,
              date_trunc('month', current_date)::date - 1 - (i %% 30), 'unit'
         FROM generate_series(1, %(self_checks)s) i""",
    """INSERT INTO elevator_status (elevator_id, ts, floor, speed, direction, door, door_zone,
                                   mode, alarm, power, received_at)
       SELECT 'EL' || lpad(i::text, 7, '0'), now() - (i %% 1400) * interval '1 minute', 1, 0,
              'stopped', 'closed', true, 'normal', false, 'mains', now()
         FROM generate_series(1, %(elevators)s) i WHERE i %% 10 <> 0""",
    # what ingest keeps beside the samples it stores (semon/store/last_seen.py)
    """INSERT INTO elevator_last_seen (elevator_id, ts)
       SELECT elevator_id, max(ts) FROM elevator_status GROUP BY elevator_id""",
]


def cases(month: str, today: str) -> list[tuple[str, str, dict[str, Any]]]:
    window = {"from": f"{month}-01T00:00:00Z", "to": f"{today}T00:00:00Z"}
    return [
        ("stats", "/stats/overdue-inspections", {"equipment": "elevator"}),
        ("stats", "/stats/overdue-inspections", {"equipment": "elevator", "group_by": "use_unit"}),
        ("stats", "/stats/overdue-inspections", {"equipment": "cylinder", "group_by": "district"}),
        ("stats", "/stats/coverage", {"metric": "insurance"}),
        ("stats", "/stats/coverage", {"metric": "iot"}),
        ("stats", "/stats/coverage", {"metric": "tag", "equipment": "cylinder"}),
        ("stats", "/stats/coverage", {"metric": "insurance", "equipment": "cylinder"}),
        ("stats", "/stats/hazards", {"from": f"{month}-01", "to": today}),
        ("stats", "/stats/hazards", {"group_by": "use_unit", "from": f"{month}-01", "to": today}),
        ("stats", "/stats/rescue", window),
        ("stats", "/stats/illegal-fillings", window),
        ("stats", "/stats/maintenance-overdue", {}),
        ("report", "/reports/monthly", {"month": month, "format": "json"}),
        ("report", "/reports/monthly", {"month": month, "format": "csv"}),
        ("report", "/reports/monthly", {"month": month, "format": "xlsx"}),
        ("map", "/map/elevators.geojson", {"overdue": "true"}),
    ]


async def prepare(dsn: str, args: argparse.Namespace) -> str:
    sizes = ("elevators", "cylinders", "hazards", "self_checks")
    took = await generate(dsn, GENERATE, {k: getattr(args, k) for k in sizes})
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        _, secret = await create_token(conn, "regulator", ["D1", "D2", "D3"], "bench")
    print(
        f"generated {args.elevators:,} elevators, {args.cylinders:,} cylinders, "
        f"{args.hazards:,} hazards, {args.self_checks:,} self-checks in {took:.1f} s"
    )
    return secret


def run(dsn: str, args: argparse.Namespace) -> None:
    regulator_secret = asyncio.run(prepare(dsn, args))
    settings = make_settings(dsn)
    settings.api.statement_timeout_ms = 60_000
    settings.storage.pool_max = Settings().storage.pool_max
    server = LiveServer(settings)
    server.start(timeout=60)
    today = datetime.now(UTC).date()
    last = today.replace(day=1) - timedelta(days=1)
    month = f"{last.year:04d}-{last.month:02d}"
    try:
        base = f"http://127.0.0.1:{settings.api.port}"
        for who, secret in (
            ("admin", settings.api.bootstrap_admin_token),
            ("regulator of 3 districts", regulator_secret),
        ):
            headers = {"Authorization": f"Bearer {secret}"}
            with httpx.Client(base_url=base, headers=headers, timeout=120) as api:
                for kind, path, params in cases(month, today.isoformat()):
                    times = []
                    size = 0
                    for _ in range(args.runs + 1):
                        t = time.perf_counter()
                        r = api.get(path, params=params)
                        times.append(time.perf_counter() - t)
                        r.raise_for_status()
                        size = len(r.content)
                    times = times[1:]
                    goal = 2000 if kind == "report" else 300
                    worst = max(times) * 1000
                    q = "&".join(f"{k}={v}" for k, v in params.items() if k not in ("from", "to"))
                    print(
                        f"  {who:25s} {path:28s} {q:42s} median "
                        f"{statistics.median(times) * 1000:6.0f} ms  worst {worst:6.0f} ms  "
                        f"{size:>10,} B  {'ok' if worst < goal or kind == 'map' else 'SLOW'}"
                    )
    finally:
        server.stop()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--elevators", type=int, default=200_000)
    ap.add_argument("--cylinders", type=int, default=2_000_000)
    ap.add_argument("--hazards", type=int, default=500_000)
    ap.add_argument("--self-checks", type=int, default=100_000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--dsn", default="postgresql://postgres@127.0.0.1:5432/test")
    args = ap.parse_args()
    with services.fresh_database(args.dsn, prefix="semon_bench_regulator") as dsn:
        run(dsn, args)


if __name__ == "__main__":
    main()
