"""Time the fill permit under load, and the trace of a well-travelled cylinder.

    python bench/permit_bench.py [--cylinders 2000000] [--rate 500] [--clients 50]
        [--duration 30] [--ingest-rate 2000] [--trace-fillings 200]
        [--trace-deliveries 400] [--trace-runs 30]

Makes a fresh database (dropped afterwards) and a private Mosquitto,
generates the registry with SQL generate_series (2,000 stations and
--cylinders cylinders, some overdue, scrapped or foreign so permits deny
too) and one cylinder with --trace-fillings fillings and --trace-deliveries
deliveries, then starts `semon api`, and, with --ingest-rate > 0, `semon
ingest` fed by `semon simulate --rate` beside it. --clients concurrent
clients ask permits for random cylinders at --rate requests per second in
total (open loop: each request has its start time on a fixed schedule, so a
slow answer does not slow the load down); latency is measured from that
scheduled start (queueing in the client included) to the answer.

Goals: permit p99 under 50 ms at 500 requests/s from 50 clients against
2,000,000 cylinders with ingest beside; the trace of a cylinder with 200
fillings and 400 deliveries under 100 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.support, run as a script

from bench.common import api_env, percentile, semon_env, stop, wait_api
from semon.settings import Settings
from semon.store.commands import migrate_database
from tests.support import services

GENERATE = [
    """INSERT INTO stations (station_id, name, district)
       SELECT 'S' || i, 'station ' || i, 'D' || i %% 12 FROM generate_series(1, 2000) i""",
    # Every 7th inspection overdue, every 51st scrapped: permits deny a share.
    """INSERT INTO cylinders (cylinder_id, serial_no, gas, manufactured_on, max_fill_kg,
                              design_life_years, inspection_interval_years, last_inspected_on,
                              owner_station_id, status)
       SELECT 'CY' || lpad(i::text, 8, '0'), 'SN' || i, 'lpg', date '2020-01-01' + (i %% 1500),
              14.5, 12, 4,
              CASE WHEN i %% 7 = 0 THEN date '2019-01-01' ELSE date '2024-01-01' + (i %% 600) END,
              'S' || 1 + i %% 2000, CASE WHEN i %% 51 = 0 THEN 'scrapped' ELSE 'in_service' END
         FROM generate_series(1, %(cylinders)s) i""",
    """INSERT INTO cylinders (cylinder_id, gas, manufactured_on, max_fill_kg, design_life_years,
                              inspection_interval_years, owner_station_id)
       VALUES ('CYTRACE', 'lpg', current_date - 400, 14.5, 12, 4, 'S1')""",
    """INSERT INTO fillings (filling_id, station_id, cylinder_id, gas, operator_id, started_at,
                             ended_at, result, net_kg, precheck, postcheck, received_at)
       SELECT 'FT' || i, 'S1', 'CYTRACE', 'lpg', 'op', now() - (i || ' hours')::interval,
              now() - (i || ' hours')::interval + interval '2 minutes', 'filled', 14,
              '{"passed": true, "failed_items": []}', '{"passed": true, "failed_items": []}', now()
         FROM generate_series(1, %(fillings)s) i""",
    """INSERT INTO deliveries (delivery_id, station_id, ts, direction, cylinder_ids, customer,
                               received_at)
       SELECT 'DT' || i, 'S1', now() - (i || ' hours')::interval / 2 + interval '5 minutes',
              CASE WHEN i %% 2 = 0 THEN 'out' ELSE 'return' END, ARRAY['CYTRACE'],
              'customer ' || i %% 40, now()
         FROM generate_series(1, %(deliveries)s) i""",
    """INSERT INTO delivery_items (cylinder_id, ts, delivery_id)
       SELECT 'CYTRACE', ts, delivery_id FROM deliveries""",
]


class RawConnection:
    """A minimal keep-alive HTTP/1.1 client for GETs: httpx spends more CPU
    per request than the API does, and on a small machine the load
    generator would measure itself."""

    def __init__(self, host: str, port: int, token: str) -> None:
        self.host, self.port = host, port
        self.head = f"Host: {host}:{port}\r\nAuthorization: Bearer {token}\r\n\r\n".encode()
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def get(self, target: str) -> tuple[int, bytes]:
        if self.writer is None or self.reader is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        self.writer.write(f"GET {target} HTTP/1.1\r\n".encode() + self.head)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n"):
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        body = await self.reader.readexactly(length) if length else b""
        return status, body

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


async def _permits(
    api_urls: list[str],
    token: str,
    cylinders: int,
    rate: float,
    clients: int,
    duration: float,
    warmup: float,
) -> tuple[list[float], dict[str, int]]:
    """Open-loop load: request i starts at t0 + i / rate, taken by a free client
    (clients spread over the API processes). The first ``warmup`` seconds
    (connections opening, pools filling) are not counted."""
    total = int(rate * (warmup + duration))
    counted_from = int(rate * warmup)
    latencies: list[float] = []
    outcomes: dict[str, int] = {}
    rng = random.Random(1)
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(total):
        queue.put_nowait(i)
    t0 = time.perf_counter() + 0.5

    async def worker(api_url: str) -> None:
        host, port = urlsplit(api_url).hostname or "127.0.0.1", urlsplit(api_url).port or 80
        conn = RawConnection(host, port, token)
        try:
            while True:
                try:
                    i = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                due = t0 + i / rate
                wait = due - time.perf_counter()
                if wait > 0:
                    await asyncio.sleep(wait)
                n = rng.randint(1, cylinders)
                # One in twenty asks at a station that does not own the cylinder.
                st = 1 + n % 2000 if rng.random() > 0.05 else 1 + (n + 1) % 2000
                try:
                    status, body = await conn.get(
                        f"/cylinders/CY{n:08d}/fill-permit?station_id=S{st}&gas=lpg"
                    )
                    key = str(status)
                    if status == 200:
                        key = "allow" if b'"allow":true' in body else "deny"
                except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
                    key = type(exc).__name__
                    conn.close()
                    conn = RawConnection(host, port, token)
                if i >= counted_from:
                    latencies.append((time.perf_counter() - due) * 1000)
                outcomes[key] = outcomes.get(key, 0) + 1
        finally:
            conn.close()

    await asyncio.gather(*(worker(api_urls[c % len(api_urls)]) for c in range(clients)))
    return latencies, outcomes


async def _trace(api_url: str, token: str, runs: int, page: int) -> tuple[list[float], int, int]:
    headers = {"Authorization": f"Bearer {token}"}
    times: list[float] = []
    body: dict[str, object] = {}
    async with httpx.AsyncClient(base_url=api_url, headers=headers) as client:
        for _ in range(runs + 1):  # the first warms the cache and is dropped
            t = time.perf_counter()
            r = await client.get("/cylinders/CYTRACE/trace", params={"limit": page}, timeout=30)
            r.raise_for_status()
            body = r.json()
            times.append((time.perf_counter() - t) * 1000)
    fillings = body.get("fillings")
    deliveries = body.get("deliveries")
    return (
        times[1:],
        len(fillings) if isinstance(fillings, list) else 0,
        len(deliveries) if isinstance(deliveries, list) else 0,
    )


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--cylinders", type=int, default=2_000_000)
    ap.add_argument("--rate", type=float, default=500.0, help="permit requests per second")
    ap.add_argument("--clients", type=int, default=50, help="concurrent clients")
    ap.add_argument("--api-procs", type=int, default=1, help="`semon api` processes")
    ap.add_argument("--duration", type=float, default=30.0, help="seconds of permit load")
    ap.add_argument("--warmup", type=float, default=3.0, help="seconds of load not counted")
    ap.add_argument(
        "--ingest-rate", type=float, default=2000.0, help="status samples/s beside; 0: no ingest"
    )
    ap.add_argument("--trace-fillings", type=int, default=200)
    ap.add_argument("--trace-deliveries", type=int, default=400)
    ap.add_argument("--trace-runs", type=int, default=30)
    args = ap.parse_args()

    root = f"bench/{uuid.uuid4().hex[:8]}/se/v1"
    token = "semon_bench_admin_" + uuid.uuid4().hex
    with (
        services.admin_postgres() as admin,
        services.fresh_database(admin) as dsn,
        services.mosquitto() as (mqtt_url, _broker),
    ):
        t = time.perf_counter()
        asyncio.run(migrate_database(dsn, Settings(database_url=dsn)))
        with psycopg.connect(dsn, autocommit=True) as conn:
            for q in GENERATE:
                conn.execute(
                    q,
                    {
                        "cylinders": args.cylinders,
                        "fillings": args.trace_fillings,
                        "deliveries": args.trace_deliveries,
                    },
                )
            conn.execute("VACUUM ANALYZE")
        print(
            f"generated {args.cylinders:,} cylinders, 2,000 stations, a cylinder with "
            f"{args.trace_fillings} fillings and {args.trace_deliveries} deliveries "
            f"in {time.perf_counter() - t:.1f} s"
        )
        on_broker = {"DATABASE_URL": dsn, "MQTT_URL": mqtt_url, "SEMON_MQTT__TOPIC_ROOT": root}
        procs: list[subprocess.Popen[bytes]] = []
        try:
            # Several processes, as a deployment runs several API workers
            # behind its proxy; each its own port, the clients spread over them.
            api_urls: list[str] = []
            for _ in range(args.api_procs):
                port = services.free_port()
                api = subprocess.Popen(
                    [sys.executable, "-m", "cli", "api"],
                    env=api_env(port, **on_broker, SEMON_API__BOOTSTRAP_ADMIN_TOKEN=token),
                    start_new_session=True,
                )
                procs.append(api)
                api_urls.append(f"http://127.0.0.1:{port}")
                wait_api(api_urls[-1], api, timeout=60.0, poll_s=0.2)
            api_url = api_urls[0]
            if args.ingest_rate > 0:
                ingest_env = semon_env(
                    **on_broker, SEMON_INGEST__CLIENT_ID=f"bench-{uuid.uuid4().hex[:6]}"
                )
                procs.append(
                    subprocess.Popen(
                        [sys.executable, "-m", "cli", "ingest"],
                        env=ingest_env,
                        start_new_session=True,
                    )
                )
                procs.append(
                    subprocess.Popen(
                        [
                            sys.executable,
                            "-m",
                            "cli",
                            "simulate",
                            "--rate",
                            str(args.ingest_rate),
                            "--elevators",
                            "2000",
                            "--duration",
                            str(args.warmup + args.duration + 15),
                        ],
                        env=semon_env(**on_broker),
                        stdout=subprocess.DEVNULL,
                        start_new_session=True,
                    )
                )
                time.sleep(3.0)  # ingest subscribed, the load flowing
            lat, outcomes = asyncio.run(
                _permits(
                    api_urls,
                    token,
                    args.cylinders,
                    args.rate,
                    args.clients,
                    args.duration,
                    args.warmup,
                )
            )
            beside = (
                f", ingest at {args.ingest_rate:.0f} samples/s beside" if args.ingest_rate else ""
            )
            print(
                f"fill-permit, {args.rate:.0f} req/s from {args.clients} clients to "
                f"{args.api_procs} API process(es) for "
                f"{args.duration:.0f} s, {args.cylinders:,} cylinders{beside}"
                f": p50 {statistics.median(lat):.1f} ms, p99 {percentile(lat, 0.99):.1f} ms, "
                f"max {max(lat):.1f} ms; answers {dict(sorted(outcomes.items()))}"
            )
            times, nf, nd = asyncio.run(
                _trace(api_url, token, args.trace_runs, max(args.trace_fillings, 1))
            )
            print(
                f"trace of a cylinder with {nf} fillings and {nd} deliveries "
                f"(HTTP, one page), {args.trace_runs} runs: median "
                f"{statistics.median(times):.1f} ms, p99 {percentile(times, 0.99):.1f} ms, "
                f"max {max(times):.1f} ms"
            )
            with psycopg.connect(dsn) as conn:
                kept = conn.execute("SELECT count(*) FROM fill_permits").fetchone()
            print(f"permit answers kept: {kept[0] if kept else 0:,} of {sum(outcomes.values()):,}")
        finally:
            for proc in reversed(procs):
                stop(proc, group=True)


if __name__ == "__main__":
    main()
