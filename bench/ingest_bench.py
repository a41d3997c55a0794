"""Ingest benchmark: simulated elevators -> private Mosquitto -> `semon ingest`
(a separate process) -> PostgreSQL (the machine's, a fresh database).

Two shapes, one sample per message and ten per message, each published at a
target rate (default: the issue's goals) by several publisher processes over
QoS 1. Measures samples stored per second while publishing, publish-to-commit
latency p50/p99 (a probe elevator publishes every 20 ms with its publish time
as ``ts``; the observer notes when each probe row becomes visible), and the
ingest process's RSS. Then the ceiling: PostgreSQL's own COPY of the same rows
from a file. Everything runs on this machine; other work on it shows in the
figures.

    python bench/ingest_bench.py                 # 20 s per shape
    python bench/ingest_bench.py --duration 600  # the 10-minute memory run

Every run prints the probe's p99 per minute too (``--minute-s``): the
storage maintenance round (``--maintenance-interval``, 300 s as deployed)
and its hourly roll-up must not show in any one minute.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import orjson
import psutil
import psycopg
from prometheus_client.parser import text_string_to_metric_families

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.common import semon_env  # noqa: E402
from semon import mqtt  # noqa: E402
from semon.settings import Settings  # noqa: E402
from semon.store.commands import migrate_database  # noqa: E402

ADMIN_DSN = os.environ.get("SEMON_BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def private_mosquitto() -> Iterator[str]:
    """Mosquitto with the limits ingest needs: a large inflight window (messages
    are acknowledged after commit, so throughput = window / commit time) and a
    large queue (the backlog lives in the broker during an outage)."""
    port = free_port()
    tmp = Path(tempfile.mkdtemp(prefix="semon-bench-mq-"))
    tmp.chmod(0o777)
    conf = tmp / "mosquitto.conf"
    conf.write_text(
        f"listener {port} 127.0.0.1\nallow_anonymous true\n"
        "max_inflight_messages 5000\nmax_queued_messages 1000000\n"
        "max_queued_bytes 0\npersistence false\n"
    )
    proc = subprocess.Popen(
        [shutil.which("mosquitto") or "/usr/sbin/mosquitto", "-c", str(conf)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        yield f"mqtt://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(5)
        shutil.rmtree(tmp, ignore_errors=True)


@contextmanager
def fresh_database() -> Iterator[str]:
    name = f"semon_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    dsn = urlunsplit(urlsplit(ADMIN_DSN)._replace(path="/" + name))
    try:
        asyncio.run(migrate_database(dsn, Settings(database_url=dsn)))
        yield dsn
    finally:
        with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def sample(ts_ms: int, i: int) -> dict[str, Any]:
    return {
        "ts": ts_ms,
        "floor": i % 30,
        "speed": 1.5,
        "direction": "up",
        "door": "closed",
        "door_zone": False,
        "load_kg": 320.0,
        "trips": i,
    }


# The publishers share the two cores with what is measured, so they render
# payloads from a template instead of building and serialising dicts (the same
# bytes as orjson.dumps(sample(ts, i)), at a fraction of the CPU: a terminal's
# CPU is not this machine's in the field).
_SAMPLE = (
    b'{"ts":%d,"floor":%d,"speed":1.5,"direction":"up","door":"closed",'
    b'"door_zone":false,"load_kg":320.0,"trips":%d}'
)


def sample_bytes(ts_ms: int, i: int) -> bytes:
    return _SAMPLE % (ts_ms, i % 30, i)


def publisher(
    url: str,
    root: str,
    proc_no: int,
    rate: float,
    per_message: int,
    duration: float,
    elevators: int,
    counter: Any,
) -> None:
    """One publishing process: QoS 1, paced to `rate` messages/s."""

    async def main() -> None:
        async with mqtt.connect(url, f"bench-pub-{proc_no}-{uuid.uuid4().hex[:6]}") as client:
            last = [0] * elevators
            t0 = time.monotonic()
            sent = 0
            i = 0
            while (elapsed := time.monotonic() - t0) < duration:
                due = int(elapsed * rate) + 1
                while sent < due:
                    e = i % elevators
                    now_ms = int(time.time() * 1000)
                    ts = max(now_ms, last[e] + per_message)
                    last[e] = ts
                    if per_message == 1:
                        body = sample_bytes(ts, i)
                    else:
                        body = (
                            b'{"samples":['
                            + b",".join(
                                sample_bytes(ts - per_message + 1 + k, i)
                                for k in range(per_message)
                            )
                            + b"]}"
                        )
                    await client.wait_window(1000)
                    topic = f"{root}/elevators/S{per_message}-B{proc_no}-{e:05d}/status"
                    client.publish(topic, body, qos=1)
                    sent += 1
                    i += 1
                await asyncio.sleep(0.002)
            await client.drain(timeout_s=300)
            with counter.get_lock():
                counter.value += sent

    asyncio.run(main())


async def probe_and_observe(
    url: str, dsn: str, root: str, duration: float, probe_id: str
) -> list[tuple[float, float]]:
    """Publish a probe sample every 20 ms (ts = publish time) and note when each
    becomes visible in the database: publish-to-commit latency, +-10 ms."""
    latencies: list[tuple[float, float]] = []  # (published, monotonic; latency, s)
    pending: dict[int, float] = {}
    async with (
        mqtt.connect(url, f"bench-probe-{uuid.uuid4().hex[:6]}") as client,
        await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn,
    ):
        t0 = time.monotonic()
        next_probe = t0
        seen = 0
        while time.monotonic() - t0 < duration or (
            pending and time.monotonic() - t0 < duration + 30
        ):
            now = time.monotonic()
            if now >= next_probe and now - t0 < duration:
                ts = int(time.time() * 1000)
                pending[ts] = now
                client.publish(
                    f"{root}/elevators/{probe_id}/status", orjson.dumps(sample(ts, 0)), qos=1
                )
                next_probe += 0.02
            cur = await conn.execute(
                "SELECT ts FROM elevator_status WHERE elevator_id = %s AND ts > %s",
                (probe_id, datetime.fromtimestamp(seen / 1000, UTC)),
            )
            now_wall = time.time()
            for (ts_dt,) in await cur.fetchall():
                ms = round(ts_dt.timestamp() * 1000)
                if ms in pending:
                    latencies.append((pending.pop(ms), now_wall - ms / 1000))
                seen = max(seen, ms)
            await asyncio.sleep(0.01)
    return latencies


def stored_rows(metrics_url: str) -> int:
    """Status rows ingest has inserted, from its own counter: a count(*) a
    second over tens of millions of rows would be the heaviest load on the
    database by the end of a long run (it was: the p99 grew with the table)."""
    text = urllib.request.urlopen(metrics_url, timeout=5).read().decode()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if (
                sample.name == "semon_ingest_rows_stored_total"
                and sample.labels.get("table") == "elevator_status"
            ):
                return int(sample.value)
    return 0


def count_rows(dsn: str) -> int:
    with psycopg.connect(dsn) as conn:
        row = conn.execute("SELECT count(*) FROM elevator_status").fetchone()
        return int(row[0]) if row else 0


def run_shape(
    url: str,
    dsn: str,
    ingest: psutil.Process,
    *,
    per_message: int,
    rate: float,
    duration: float,
    processes: int,
    metrics_url: str,
    report_every: float,
    minute_s: float,
) -> dict[str, Any]:
    root = "bench"
    counter = mp.Value("q", 0)
    before = count_rows(dsn)
    counted_before = stored_rows(metrics_url)
    procs = [
        mp.Process(
            target=publisher,
            args=(url, root, p, rate / processes, per_message, duration, 2000, counter),
        )
        for p in range(processes)
    ]
    rss: list[tuple[float, int]] = []  # (monotonic, bytes)
    for p in procs:
        p.start()
    t0 = time.monotonic()
    loop = asyncio.new_event_loop()
    probe = loop.create_task(probe_and_observe(url, dsn, root, duration, f"PROBE-{per_message}"))
    # Stored rate while publishing (after 2 s of warm-up).
    marks: list[tuple[float, int]] = []
    while not probe.done():
        loop.run_until_complete(asyncio.wait([probe], timeout=1.0))
        rss.append((time.monotonic(), ingest.memory_info().rss))
        elapsed = time.monotonic() - t0
        if 2.0 <= elapsed <= duration:
            marks.append((elapsed, stored_rows(metrics_url)))
    latencies = loop.run_until_complete(probe)
    loop.close()
    for p in procs:
        p.join()
    published_samples = counter.value * per_message
    # Drain: everything the broker acknowledged must arrive (the database's own
    # count decides what was lost).
    deadline = time.monotonic() + 120
    while (
        stored_rows(metrics_url) - counted_before < published_samples + len(latencies)
        and time.monotonic() < deadline
    ):
        time.sleep(0.2)
    drained = time.monotonic() - t0 - duration
    stored = count_rows(dsn) - before
    (ta, ca), (tb, cb) = marks[0], marks[-1]
    lat = sorted(x for _, x in latencies)
    p50, p99 = _p50_p99(lat) if lat else (float("nan"), float("nan"))
    if report_every > 0:
        _report(t0, report_every, marks, latencies, rss, per_message)
    _per_minute(t0, latencies, per_message, minute_s)
    return {
        "shape": f"{per_message}/msg",
        "target_msg_s": rate,
        "published_msg_s": counter.value / duration,
        "stored_samples_s": (cb - ca) / (tb - ta) if tb > ta else 0.0,
        "stored_msg_s": (cb - ca) / (tb - ta) / per_message if tb > ta else 0.0,
        "p50_ms": 1000 * p50,
        "p99_ms": 1000 * p99,
        "probes": len(lat),
        "lost": published_samples + len(latencies) - stored,
        "drain_s": max(drained, 0.0),
        "rss_mb_start_max_end": (
            rss[0][1] / 2**20,
            max(b for _, b in rss) / 2**20,
            rss[-1][1] / 2**20,
        ),
    }


def _p50_p99(lat: list[float]) -> tuple[float, float]:
    """Of sorted latencies, in seconds."""
    return statistics.median(lat), lat[int(0.99 * (len(lat) - 1))]


def _per_minute(
    t0: float, latencies: list[tuple[float, float]], per_message: int, minute_s: float
) -> None:
    """The probe's publish-to-commit p99 in each window of ``minute_s``."""
    windows: dict[int, list[float]] = {}
    for at, x in latencies:
        windows.setdefault(int((at - t0) // minute_s), []).append(x)
    parts = []
    for w in sorted(windows):
        lat = sorted(windows[w])
        parts.append(f"{1000 * _p50_p99(lat)[1]:.0f}")
    worst = max((float(p) for p in parts), default=float("nan"))
    print(
        f"{per_message}/msg: publish-to-commit p99 per {minute_s:.0f} s (ms): "
        f"{' '.join(parts)}; worst {worst:.0f} ms",
        flush=True,
    )


def _report(
    t0: float,
    every: float,
    marks: list[tuple[float, int]],
    latencies: list[tuple[float, float]],
    rss: list[tuple[float, int]],
    per_message: int,
) -> None:
    """The run in windows of `every` seconds: whether rate, latency and memory
    hold over a long run, or drift."""
    print(f"\n{per_message}/msg, every {every:.0f} s: stored samples/s, probe p50/p99 ms, RSS MB")
    edge = 2.0
    while edge < marks[-1][0]:
        end = edge + every
        inside = [(t, c) for t, c in marks if edge <= t <= end]
        lat = sorted(x for at, x in latencies if edge <= at - t0 < end)
        mem = [b for at, b in rss if edge <= at - t0 < end]
        if len(inside) >= 2 and lat and mem:
            (ta, ca), (tb, cb) = inside[0], inside[-1]
            p50, p99 = _p50_p99(lat)
            print(
                f"  {edge:5.0f}-{min(end, marks[-1][0]):5.0f} s {(cb - ca) / (tb - ta):>9,.0f} "
                f"{1000 * p50:>7.0f} {1000 * p99:>7.0f} {max(mem) / 2**20:>6.0f}",
                flush=True,
            )
        edge = end


def copy_ceiling(dsn: str, rows: int = 500_000) -> float:
    """PostgreSQL's own COPY of the same rows from a server-side file into a
    table shaped like elevator_status (same key): rows/s."""
    path = Path(tempfile.mkdtemp(prefix="semon-bench-copy-")) / "rows.csv"
    path.parent.chmod(0o755)
    base = int(time.time() * 1000) - rows
    with path.open("w") as f:
        for i in range(rows):
            ts = datetime.fromtimestamp((base + i) / 1000, UTC).isoformat()
            f.write(
                f"C-{i % 2000:05d},{ts},{i % 30},1.5,up,closed,f,,320,normal,f,mains,{i},,,{ts}\n"
            )
    path.chmod(0o644)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE ceiling (LIKE elevator_status INCLUDING ALL)")
        t0 = time.perf_counter()
        conn.execute(f"COPY ceiling FROM '{path}' (FORMAT csv)")
        took = time.perf_counter() - t0
        conn.execute("DROP TABLE ceiling")
    shutil.rmtree(path.parent, ignore_errors=True)
    return rows / took


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--duration", type=float, default=20.0, help="seconds per shape")
    ap.add_argument("--rate-single", type=float, default=8000.0, help="msg/s, 1 sample/msg")
    ap.add_argument("--rate-batch", type=float, default=5000.0, help="msg/s, 10 samples/msg")
    ap.add_argument("--processes", type=int, default=2, help="publisher processes")
    ap.add_argument("--shapes", default="1,10")
    ap.add_argument("--profile", help="run ingest under cProfile, stats to this file")
    ap.add_argument(
        "--report-every",
        type=float,
        default=0.0,
        help="also print rate, latency and RSS per window of this many seconds",
    )
    ap.add_argument(
        "--minute-s",
        type=float,
        default=60.0,
        help="seconds per window of the per-minute p99 line (60: a line a minute)",
    )
    ap.add_argument(
        "--maintenance-interval",
        type=float,
        default=300.0,
        help="ingest's storage maintenance (hourly roll-up) round, seconds (0: off)",
    )
    args = ap.parse_args()

    load = os.getloadavg()
    results = []
    metrics_port = free_port()
    with private_mosquitto() as url, fresh_database() as dsn:
        env = semon_env(
            DATABASE_URL=dsn,
            MQTT_URL=url,
            SEMON_MQTT__TOPIC_ROOT="bench",
            SEMON_INGEST__CLIENT_ID=f"bench-ingest-{uuid.uuid4().hex[:6]}",
            SEMON_INGEST__METRICS_PORT=str(metrics_port),
            SEMON_INGEST__MAINTENANCE_INTERVAL_S=str(args.maintenance_interval),
        )
        log = Path(tempfile.mkdtemp(prefix="semon-bench-")) / "ingest.log"
        profile = ["-m", "cProfile", "-o", args.profile] if args.profile else []
        ingest = subprocess.Popen(
            [sys.executable, *profile, "-m", "cli", "ingest"],
            env=env,
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
            cwd=REPO,
        )
        try:
            time.sleep(3)
            proc = psutil.Process(ingest.pid)
            for shape in (int(s) for s in args.shapes.split(",")):
                rate = args.rate_single if shape == 1 else args.rate_batch
                results.append(
                    run_shape(
                        url,
                        dsn,
                        proc,
                        per_message=shape,
                        rate=rate,
                        duration=args.duration,
                        processes=args.processes,
                        metrics_url=f"http://127.0.0.1:{metrics_port}/metrics",
                        report_every=args.report_every,
                        minute_s=args.minute_s,
                    )
                )
        finally:
            ingest.terminate()
            ingest.wait(15)
        ceiling = copy_ceiling(dsn)
    print(
        f"\ningest benchmark ({args.duration:.0f} s per shape, {os.cpu_count()} cores, "
        f"load average at start {load[0]:.1f})"
    )
    print(
        f"{'shape':>7} {'target msg/s':>12} {'publ. msg/s':>11} {'stored samples/s':>16} "
        f"{'stored msg/s':>12} {'p50 ms':>7} {'p99 ms':>7} {'lost':>5} {'drain s':>7} "
        f"{'RSS MB start/max/end':>21} {'of ceiling':>10}"
    )
    for r in results:
        rs = "/".join(f"{x:.0f}" for x in r["rss_mb_start_max_end"])
        print(
            f"{r['shape']:>7} {r['target_msg_s']:>12.0f} {r['published_msg_s']:>11.0f} "
            f"{r['stored_samples_s']:>16.0f} {r['stored_msg_s']:>12.0f} {r['p50_ms']:>7.0f} "
            f"{r['p99_ms']:>7.0f} {r['lost']:>5} {r['drain_s']:>7.1f} {rs:>21} "
            f"{r['stored_samples_s'] / ceiling:>10.1%}"
        )
    print(f"ceiling: PostgreSQL COPY FROM file, same rows and key: {ceiling:,.0f} rows/s")


if __name__ == "__main__":
    main()
