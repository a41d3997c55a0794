"""A replay storm: consoles resuming /alerts/stream with ?after=0 at once
while a dispatcher acknowledges alerts, lists them and the load balancer
polls /healthz.

    python bench/stream_bench.py [--consoles 100] [--alerts 2000] [--pool-max 10]

Makes a fresh database (dropped afterwards), raises --alerts alerts in one
district, starts `semon api` as a process of its own, then opens --consoles
streams with ?after=0 at once and, until every stream has replayed them all,
acknowledges one alert every --every seconds (a different one each time),
lists alerts and asks /healthz, timing each. Prints p50/p99/max of each, the
replay time, streams cut, and the API's memory before and after. Goal: the
ack under 200 ms (p99) while 100 consoles replay.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from multiprocessing import Queue
from pathlib import Path

import httpx
import psycopg
from httpx_sse import aconnect_sse

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import api_env, rss_mb, stop, wait_api
from semon.domain.alerts import AlertDraft
from semon.i18n import msg as i18n_msg
from semon.settings import Settings
from semon.store.alerts import raise_alert
from semon.store.commands import migrate_database
from semon.tokens import create_token
from tests.support import services


async def _seed(dsn: str, district: str, n: int) -> tuple[list[str], str]:
    ids = []
    async with await psycopg.AsyncConnection.connect(dsn) as conn:
        for i in range(n):
            now = datetime.now(UTC)
            msg, _ = await raise_alert(
                conn,
                AlertDraft(
                    condition_key=f"bench:{i}",
                    kind="elevator_fault",
                    equipment_type="elevator",
                    equipment_id=f"E{i % 500:05d}",
                    started_at=now,
                    summary=i18n_msg(
                        "alert.elevator_fault.summary.detail",
                        elevator_id=f"E{i % 500:05d}",
                        code="overspeed",
                        detail=f"overspeed governor tripped ({i})",
                    ),
                    details={"code": "overspeed", "floor": i % 30, "note": "x" * 300},
                    district=district,
                ),
                now=now,
            )
            ids.append(msg.alert_id)
            if i % 500 == 499:
                await conn.commit()
        _, secret = await create_token(
            conn, "dispatcher", [district], "stream bench", allow_unknown_scope=True
        )
        await conn.commit()
    return ids, secret


def _figures(name: str, xs: list[float]) -> str:
    if not xs:
        return f"{name}: none"
    xs = sorted(xs)
    p99 = xs[min(len(xs) - 1, round(0.99 * (len(xs) - 1)))]
    return (
        f"{name}: p50 {statistics.median(xs) * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms,"
        f" max {xs[-1] * 1000:.0f} ms (n={len(xs)})"
    )


async def _console(client: httpx.AsyncClient, url: str, headers: dict[str, str], n: int) -> int:
    """Replay from the start until n alerts are seen; returns how many were."""
    seen: set[str] = set()
    async with aconnect_sse(client, "GET", url, params={"after": 0}, headers=headers) as source:
        if source.response.status_code != 200:
            return 0
        async for sse in source.aiter_sse():
            if sse.event == "alert":
                seen.add(json.loads(sse.data)["alert_id"])
                if len(seen) >= n:
                    break
    return len(seen)


async def _consoles(api: str, secret: str, n: int, consoles: int) -> list[int]:
    headers = {"Authorization": f"Bearer {secret}"}
    limits = httpx.Limits(max_connections=consoles + 5, max_keepalive_connections=0)
    async with httpx.AsyncClient(limits=limits, timeout=httpx.Timeout(120, read=60)) as client:
        got = await asyncio.gather(
            *(_console(client, f"{api}/alerts/stream", headers, n) for _ in range(consoles)),
            return_exceptions=True,
        )
    return [g if isinstance(g, int) else -1 for g in got]


def _console_process(api: str, secret: str, n: int, consoles: int, out: Queue[list[int]]) -> None:
    """The consoles in a process of their own: parsing 100 streams' events
    would otherwise hold up the prober's loop and be counted as ack time."""
    out.put(asyncio.run(_consoles(api, secret, n, consoles)))


async def _probe(
    api: str, ids: list[str], secret: str, every: float, done: Callable[[], bool]
) -> tuple[list[float], list[float], list[float], list[int]]:
    """Until done(): an ack (a different alert each time), the alert list and
    /healthz, each timed."""
    headers = {"Authorization": f"Bearer {secret}"}
    acks: list[float] = []
    lists: list[float] = []
    health: list[float] = []
    errors: list[int] = []
    async with httpx.AsyncClient(timeout=httpx.Timeout(60)) as client:
        i = 0
        while not done() and i < len(ids):
            await asyncio.sleep(every)
            for path, bucket in (
                (f"/alerts/{ids[i]}/ack", acks),
                ("/alerts?limit=50", lists),
                ("/healthz", health),
            ):
                t = time.perf_counter()
                if bucket is acks:
                    r = await client.post(api + path, json={"by": "desk-1"}, headers=headers)
                else:
                    r = await client.get(api + path, headers=headers)
                bucket.append(time.perf_counter() - t)
                if r.status_code != 200:
                    errors.append(r.status_code)
            i += 1
    return acks, lists, health, errors


def _storm(api: str, ids: list[str], secret: str, args: argparse.Namespace) -> None:
    ctx = mp.get_context("spawn")
    out: Queue[list[int]] = ctx.Queue()
    procs = []
    per = [
        args.consoles // args.procs + (i < args.consoles % args.procs) for i in range(args.procs)
    ]
    t0 = time.perf_counter()
    for k in per:
        p = ctx.Process(target=_console_process, args=(api, secret, len(ids), k, out))
        p.start()
        procs.append(p)
    acks, lists, health, errors = asyncio.run(
        _probe(api, ids, secret, args.every, lambda: not any(p.is_alive() for p in procs))
    )
    got = [x for _ in procs for x in out.get(timeout=120)]
    replay_s = time.perf_counter() - t0
    for p in procs:
        p.join(10)
    cut = [g for g in got if g < len(ids)]
    print(
        f"{args.consoles} consoles replayed {len(ids)} alerts each in {replay_s:.1f} s;"
        f" streams cut: {len(cut)}; non-200 answers: {len(errors)} {sorted(set(errors))}"
    )
    print(_figures("ack", acks))
    print(_figures("GET /alerts", lists))
    print(_figures("/healthz", health))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--consoles", type=int, default=100)
    ap.add_argument("--alerts", type=int, default=2000)
    ap.add_argument("--every", type=float, default=0.05, help="seconds between two acks")
    ap.add_argument("--procs", type=int, default=2, help="processes the consoles run in")
    ap.add_argument("--pool-max", type=int, default=Settings().storage.pool_max)
    ap.add_argument("--turns", type=int, default=Settings().api.stream_turns)
    ap.add_argument("--batch", type=int, default=Settings().api.stream_batch)
    ap.add_argument(
        "--api-src",
        type=Path,
        help="run the API from this checkout instead (to compare with another version)",
    )
    args = ap.parse_args()
    district = f"bench-{uuid.uuid4().hex[:6]}"
    with services.admin_postgres() as admin, services.fresh_database(admin) as dsn:
        asyncio.run(migrate_database(dsn, Settings(database_url=dsn)))
        ids, secret = asyncio.run(_seed(dsn, district, args.alerts))
        port = services.free_port()
        env = api_env(
            port,
            DATABASE_URL=dsn,
            SEMON_API__STREAM_TURNS=str(args.turns),
            SEMON_API__STREAM_BATCH=str(args.batch),
            SEMON_STORAGE__POOL_MAX=str(args.pool_max),
        )
        if args.api_src is not None:
            env["PYTHONPATH"] = str(args.api_src.resolve())
        proc = subprocess.Popen(
            [sys.executable, "-m", "cli", "api"], env=env, cwd=args.api_src or None
        )
        api = f"http://127.0.0.1:{port}"
        try:
            wait_api(api, proc)
            before = rss_mb(proc.pid)
            print(f"pool_max {args.pool_max}, stream_turns {args.turns}, stream_batch {args.batch}")
            _storm(api, ids, secret, args)
            print(f"API memory: {before:.0f} MB before, {rss_mb(proc.pid):.0f} MB after")
        finally:
            stop(proc)


if __name__ == "__main__":
    main()
