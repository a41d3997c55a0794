"""Time to page a trapped passenger under a steady background load.

A private Mosquitto and a fresh database on the machine's PostgreSQL; the
alerts process runs as its own OS process (`semon alerts`); a load process
publishes status samples from thousands of simulated elevators at a steady
rate and, now and then, makes one car stop between floors with someone
inside. A console (this process) measures, for every trapped-passenger alert,
the time from the moment the rule's condition is met (device time the car
stopped + the threshold) to the page's arrival on two legs: an MQTT
subscriber of the alert topics, and an SSE client of `GET /alerts/stream`
served by a real `semon api` process (its own OS process; `--no-sse` skips
it). Device clocks are this machine's clock.

    python bench/alerts_bench.py --elevators 5000 --rate 2000 --traps 60

`--per-message 10` sends the background load in batches of ten samples (the
ingest benchmark's second shape); `--with-ingest` runs `semon ingest` beside
the alerts process, both consuming every message, as a city deploys them.

Both kinds of trap are measured, alternately (`--trap-kind`): a terminal's
`trapped` event (latency from the event's time) and a car standing between
floors with someone inside (from the moment its timer falls due). Before the
run the load generator publishes unthrottled for `--ceiling-s` seconds and
prints its own ceiling, so a reader can see it was not the bottleneck.
`--hog` keeps one of the cores busy with a spinning process during the run
and the bench reports how far the alerts process's judging of samples lagged
(its `semon_alerts_sample_lag_seconds`); pages must not lag with it.

    python bench/alerts_bench.py --elevators 10000 --rate 50000 --per-message 10 \
        --traps 120 --with-ingest --hog

`--soak-minutes 60` runs the load that long (traps spread over it) and
prints, every `--window-s` (300) seconds, each process's RSS, open file
descriptors and event-loop lag p99.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing as mp
import os
import random
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

import httpx
import orjson
import psycopg
from httpx_sse import aconnect_sse

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import semon.i18n  # noqa: F401  (first: semon.registry_import alone hits an import cycle)
from bench.common import api_env, percentile, rss_mb, semon_env, stop, wait_api
from semon import mqtt
from semon.registry_import import upsert_records
from semon.settings import Settings
from semon.store.commands import migrate_database
from semon.tokens import create_token
from tests.support import services


def _sample(ts: datetime, **kw: Any) -> bytes:
    body = {
        "ts": ts.isoformat(),
        "floor": 2,
        "speed": 0.0,
        "direction": "stopped",
        "door": "closed",
        "door_zone": True,
        "occupied": False,
        "mode": "normal",
    }
    body.update(kw)
    return orjson.dumps(body)


def _background(moving: bool, occupied: bool) -> bytes:
    """A background sample's bytes with a %d for its epoch-ms time."""
    body = orjson.loads(
        _sample(
            datetime.now(UTC),
            speed=1.0 if moving else 0.0,
            direction="up" if moving else "stopped",
            door_zone=not moving,
            occupied=occupied,
        )
    )
    return orjson.dumps(dict(body, ts=0)).replace(b'"ts":0', b'"ts":%d')


_BACKGROUND = {(m, o): _background(m, o) for m in (False, True) for o in (False, True)}


async def _load(
    url: str,
    root: str,
    elevators: int,
    rate: float,
    traps: int,
    spacing: float,
    threshold: float,
    warmup: float,
    per_message: int,
    trap_kind: str = "both",
    duration: float = 0.0,
    counter: Any = None,
) -> None:
    """Publish the background load at ``rate`` samples/s, inject ``traps``
    (every ``spacing`` s after ``warmup``), and go on for at least ``duration``
    seconds; prints what it published, and leaves the number of status
    samples published (each a distinct key) in ``counter`` (a shared value)."""
    rng = random.Random(1)
    ids = [f"bench-el-{i:05d}" for i in range(elevators)]
    trapped: dict[str, float] = {}  # elevator -> wall time it stopped
    # The trapped cars' terminals publish on a connection of their own, as a
    # real terminal does: not queued behind the fleet's flood in this process.
    async with (
        mqtt.connect(url, f"bench-load-{uuid.uuid4().hex[:6]}") as client,
        mqtt.connect(url, f"bench-traps-{uuid.uuid4().hex[:6]}") as terminals,
    ):
        start = time.monotonic()
        sent = 0
        next_trap = start + warmup
        made = 0
        last_stuck: dict[str, float] = {}
        # newest device time (epoch ms) sent per car: a batch starts after it
        newest: dict[str, int] = {}
        step_ms = 100  # between the samples of a batch
        published = 0
        kinds = {"both": ("event", "timer"), "event": ("event",), "timer": ("timer",)}[trap_kind]
        while made < traps or trapped or time.monotonic() - start < duration:
            now_m = time.monotonic()
            due = (int((now_m - start) * rate) - sent) // per_message
            wall = datetime.now(UTC)
            for _ in range(max(0, min(due, 5000))):
                eid = ids[rng.randrange(elevators)]
                if eid in trapped:
                    continue
                moving = rng.random() < 0.5
                # bytes from a template (the same as _sample's, with epoch ms):
                # the load shares the two cores with what it measures
                template = _BACKGROUND[moving, rng.random() < 0.5]
                now_ms = int(wall.timestamp() * 1000)
                if per_message == 1:
                    ts = now_ms if newest.get(eid, -1) < now_ms else newest[eid] + 1
                    newest[eid] = ts  # every sample its own key: lost ones count
                    body = template % ts
                else:
                    step = step_ms
                    first = now_ms - step * (per_message - 1)
                    if eid in newest and first <= newest[eid]:
                        # the car sent a batch a moment ago: this one fills the
                        # time since, never ahead of the clock (1 ms apart at least)
                        step = max(1, (now_ms - newest[eid]) // per_message)
                        first = newest[eid] + step
                    body = b'{"samples":[%s]}' % b",".join(
                        template % (first + step * k) for k in range(per_message)
                    )
                    newest[eid] = first + step * (per_message - 1)
                # QoS 1 with the broker's window: a publisher at its ceiling
                # would otherwise run out of packet ids
                await client.wait_window(4000)
                client.publish(f"{root}/elevators/{eid}/status", body, qos=1)
                sent += per_message
                published += per_message
            if counter is not None:
                counter.value = published  # current even if the load is stopped
            # more than one round can send: the generator is at its ceiling
            sent += max(0, due - 5000) * per_message
            if made < traps and now_m >= next_trap:
                eid = ids[rng.randrange(elevators)]
                if eid not in trapped:
                    trapped[eid] = now_m
                    made += 1
                    if kinds[made % len(kinds)] == "event":
                        # the terminal's own detection: paged at once; the
                        # car is then released like the others
                        terminals.publish(
                            f"{root}/elevators/{eid}/event",
                            orjson.dumps({"ts": wall.isoformat(), "code": "trapped"}),
                            qos=1,
                        )
                        last_stuck[eid] = float("inf")
                    else:
                        last_stuck[eid] = 0.0
                next_trap = now_m + spacing
            for eid, t in list(trapped.items()):
                # the terminal's samples are microseconds apart from the fleet's
                # (which are whole ms): a key of their own
                if now_m - last_stuck[eid] >= 2.0 and now_m - t < threshold + 1.0:
                    published += 1
                    terminals.publish(
                        f"{root}/elevators/{eid}/status",
                        _sample(wall, door_zone=False, occupied=True),
                        qos=1,
                    )
                    last_stuck[eid] = now_m
                elif now_m - t >= threshold + 1.0:
                    # released: doors open at a landing, car empties
                    published += 1
                    terminals.publish(
                        f"{root}/elevators/{eid}/status",
                        _sample(wall + timedelta(milliseconds=1), door="open"),
                        qos=1,
                    )
                    del trapped[eid]
            await asyncio.sleep(0.01)
        took = time.monotonic() - start
        if counter is not None:
            counter.value = published
        print(
            f"load: {published} samples published in {took:.1f}s "
            f"({published / took:.0f}/s of {rate:.0f}/s asked), {made} traps",
            flush=True,
        )


def _load_main(*args: Any) -> None:
    asyncio.run(_load(*args))


def _ceiling(url: str, root: str, elevators: int, per_message: int, seconds: float) -> None:
    """The load generator unthrottled for ``seconds``: its own ceiling on this
    machine (to a broker with no subscriber of the samples)."""
    print("load generator ceiling (unthrottled, nobody subscribed):", flush=True)
    p = mp.get_context("spawn").Process(
        target=_load_main,
        args=(
            url,
            f"{root}/ceiling",
            elevators,
            1e9,
            0,
            1.0,
            5.0,
            0.0,
            per_message,
            "both",
            seconds,
        ),
    )
    p.start()
    p.join(seconds + 60)
    _stop_load(p)


class Leg:
    """One way a page reaches a console: the first page of every
    trapped-passenger alert, with its latency in ms, by alert id."""

    def __init__(self, name: str, threshold: float, changed: asyncio.Event) -> None:
        self.name = name
        self.threshold = threshold
        self.changed = changed
        self.lat: dict[str, float] = {}
        self.kind: dict[str, str] = {}  # alert id -> "event" or "timer"
        self.unlocated = 0  # pages without the registry's address or firm

    def saw(self, msg: dict[str, Any], arrived: datetime) -> None:
        ms = page_latency_ms(msg, arrived, self.threshold)
        if ms is None or msg["alert_id"] in self.lat:  # not a page, or a redelivery
            return
        self.lat[msg["alert_id"]] = ms
        self.kind[msg["alert_id"]] = "event" if "event" in msg["details"] else "timer"
        if not (msg.get("location") or {}).get("address") or "firm" not in msg["details"]:
            self.unlocated += 1
        if ms > 250:
            print(
                f"slow ({self.name}): {ms:.0f} ms {msg['equipment_id']} "
                f"{msg['details'].get('reason')} started {msg['started_at']} "
                f"raised {msg['raised_at']}",
                flush=True,
            )
        self.changed.set()


def page_latency_ms(msg: dict[str, Any], arrived: datetime, threshold: float) -> float | None:
    """Arrival minus the moment the rule's condition was met, in ms, for the
    first page (open, "raise") of a trapped-passenger alert; None otherwise.
    The same for an MQTT message and an SSE event: both carry the message as
    stored in alert_events."""
    if not (
        msg.get("kind") == "trapped_passenger"
        and msg.get("state") == "open"
        and msg.get("event") == "raise"
    ):
        return None
    # the rule that decided: T1 for the injected cars; a background car
    # that happened to stand occupied at a landing decides on T2
    details = msg.get("details") or {}
    if "condition_met_at" in details:
        met = datetime.fromisoformat(details["condition_met_at"])
    else:
        met = datetime.fromisoformat(msg["started_at"]) + timedelta(
            seconds=details.get("threshold_s", threshold)
        )
    return (arrived - met).total_seconds() * 1000


async def _sse(api_url: str, token: str, leg: Leg, connected: asyncio.Event) -> None:
    # read=None: the stream is idle between alerts (pings every 15 s)
    async with (
        httpx.AsyncClient(timeout=httpx.Timeout(10.0, read=None)) as client,
        aconnect_sse(
            client,
            "GET",
            f"{api_url}/alerts/stream",
            # a fresh database: replaying from 0 can only add this run's events,
            # and nothing raised while the stream connects is missed
            params={"after": 0},
            headers={"Authorization": f"Bearer {token}"},
        ) as source,
    ):
        source.response.raise_for_status()
        connected.set()
        async for sse in source.aiter_sse():
            arrived = datetime.now(UTC)
            if sse.event == "alert":
                leg.saw(orjson.loads(sse.data), arrived)


async def _console(
    url: str,
    root: str,
    threshold: float,
    expect: int,
    wait_s: float,
    api: tuple[str, str] | None,
    start_load: Callable[[], None],
    monitor: Monitor | None = None,
    soak: bool = False,
) -> list[Leg]:
    lag: list[float] = []
    changed = asyncio.Event()
    mqtt_leg = Leg("MQTT", threshold, changed)
    legs = [mqtt_leg]

    async def on_message(topic: str, payload: bytes, qos: int, props: dict[str, Any]) -> int:
        arrived = datetime.now(UTC)
        msg = orjson.loads(payload)
        if "/elevators/" in topic:  # transport lag of the load itself, for reference
            ts = msg["samples"][-1]["ts"] if "samples" in msg else msg["ts"]
            sent = (
                datetime.fromtimestamp(ts / 1000, UTC)
                if isinstance(ts, int)
                else datetime.fromisoformat(ts)
            )
            lag.append((arrived - sent).total_seconds() * 1000)
            return 0
        mqtt_leg.saw(msg, arrived)
        return 0

    async with mqtt.connect(
        url, f"bench-console-{uuid.uuid4().hex[:6]}", on_message=on_message
    ) as client:
        await client.subscribe(
            (f"{root}/alerts/#", 1),
            *[(f"{root}/elevators/bench-el-{i:05d}/status", 1) for i in range(20)],
        )
        sse_task: asyncio.Task[None] | None = None
        if api is not None:
            sse_leg = Leg("SSE", threshold, changed)
            legs.append(sse_leg)
            connected = asyncio.Event()
            sse_task = asyncio.create_task(_sse(*api, sse_leg, connected), name="sse")
            waiter = asyncio.create_task(connected.wait())
            await asyncio.wait({sse_task, waiter}, timeout=15, return_when=asyncio.FIRST_COMPLETED)
            waiter.cancel()
            if sse_task.done():
                sse_task.result()  # raises what went wrong
            if not connected.is_set():
                raise TimeoutError("the SSE stream did not open in 15 s")
        watching = asyncio.create_task(monitor.run()) if monitor is not None else None
        try:
            start_load()
            deadline = time.monotonic() + wait_s
            settled: float | None = None
            while time.monotonic() < deadline:
                if sse_task is not None and sse_task.done():
                    print(f"SSE stream ended: {sse_task.exception()!r}", flush=True)
                    sse_task = None
                # A soak runs its whole length: background cars that stood
                # occupied are paged too, and must not end it early.
                if not soak and all(len(leg.lat) >= expect for leg in legs):
                    # all pages counted; give a page one leg has and another
                    # not yet a moment to arrive before comparing
                    settled = settled or time.monotonic()
                    same = all(leg.lat.keys() == legs[0].lat.keys() for leg in legs)
                    if same or time.monotonic() - settled > 2.0:
                        break
                changed.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(changed.wait(), 0.5)
            else:
                for leg in legs:
                    if len(leg.lat) < expect:
                        print(
                            f"console: only {len(leg.lat)} of {expect} alerts arrived "
                            f"over {leg.name}",
                            flush=True,
                        )
            # A page one leg has and another not yet when the console stops (the
            # stream reads the store, written after the page went out): a moment
            # to arrive; pages first seen after the stop are not counted.
            seen = set().union(*(leg.lat.keys() for leg in legs))
            grace = time.monotonic() + 5.0
            while time.monotonic() < grace and not all(seen <= leg.lat.keys() for leg in legs):
                changed.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(changed.wait(), 0.2)
            for leg in legs:
                for late in leg.lat.keys() - seen:
                    del leg.lat[late]
        finally:
            if watching is not None:
                watching.cancel()
            if sse_task is not None:
                sse_task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await sse_task
    if lag:
        lag.sort()
        print(
            f"device-to-console lag of the load itself (reference): p50 "
            f"{statistics.median(lag):.0f} ms, max {lag[-1]:.0f} ms over {len(lag)}",
            flush=True,
        )
    return legs


def _metric_lines(
    url: str, headers: dict[str, str] | None = None
) -> list[tuple[str, dict[str, str], float]]:
    """A Prometheus text page as (name, labels, value)."""
    out: list[tuple[str, dict[str, str], float]] = []
    for line in httpx.get(url, headers=headers, timeout=2.0).text.splitlines():
        if not line or line.startswith("#"):
            continue
        head, _, value = line.rpartition(" ")
        name, _, rest = head.partition("{")
        labels = dict(
            (kv.split("=", 1)[0], kv.split("=", 1)[1].strip('"'))
            for kv in rest.rstrip("}").split(",")
            if "=" in kv
        )
        out.append((name, labels, float(value)))
    return out


def _lag_buckets(url: str, headers: dict[str, str] | None = None) -> dict[float, float]:
    return {
        float(labels["le"]): v
        for name, labels, v in _metric_lines(url, headers)
        if name.endswith("_event_loop_lag_seconds_bucket")
    }


def _p99_ms(now: dict[float, float], before: dict[float, float]) -> str:
    """The 99th percentile of the loop-lag histogram between two readings
    (the upper bound of the bucket it falls in)."""
    delta = {le: now[le] - before.get(le, 0.0) for le in now}
    total = delta.get(float("inf"), 0.0)
    if total <= 0:
        return "-"
    for le in sorted(delta):
        if delta[le] >= 0.99 * total:
            return f"<={le * 1000:.0f} ms" if le != float("inf") else ">5000 ms"
    return "-"


class Monitor:
    """Reads the processes while the load runs: the alerts processes' sample
    lag every half second, and per window each process's RSS, open file
    descriptors and event-loop lag p99."""

    def __init__(self, window_s: float) -> None:
        self.window_s = window_s
        self.procs: dict[
            str, tuple[subprocess.Popen[bytes], str | None, dict[str, str] | None]
        ] = {}
        self.sample_lag: list[float] = []

    def add(
        self,
        name: str,
        proc: subprocess.Popen[bytes],
        metrics: str | None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.procs[name] = (proc, metrics, headers)

    def _window(self, minute: float, before: dict[str, dict[float, float]]) -> None:
        parts = []
        for name, (proc, metrics, headers) in self.procs.items():
            if proc.poll() is not None:
                parts.append(f"{name} exited {proc.returncode}")
                continue
            fds = len(os.listdir(f"/proc/{proc.pid}/fd"))
            lag = "-"
            if metrics is not None:
                with contextlib.suppress(httpx.HTTPError):
                    now = _lag_buckets(metrics, headers)
                    lag = _p99_ms(now, before.get(name, {}))
                    before[name] = now
            parts.append(f"{name} RSS {rss_mb(proc.pid):.0f} MB, {fds} fds, loop lag p99 {lag}")
        print(f"[{minute:5.1f} min] " + "; ".join(parts), flush=True)

    async def run(self) -> None:
        start = time.monotonic()
        next_window = start + self.window_s
        before: dict[str, dict[float, float]] = {}
        for name, (_, metrics, headers) in self.procs.items():
            if metrics is not None:
                with contextlib.suppress(httpx.HTTPError):
                    before[name] = await asyncio.to_thread(_lag_buckets, metrics, headers)
        while True:
            await asyncio.sleep(0.5)
            for name, (_, metrics, _headers) in self.procs.items():
                if metrics is None or not name.startswith("alerts"):
                    continue
                with contextlib.suppress(httpx.HTTPError):
                    lines = await asyncio.to_thread(_metric_lines, metrics)
                    self.sample_lag += [
                        v for n, _, v in lines if n == "semon_alerts_sample_lag_seconds"
                    ]
            if time.monotonic() >= next_window:
                next_window += self.window_s
                await asyncio.to_thread(self._window, (time.monotonic() - start) / 60, before)

    def summary(self) -> str:
        lag = sorted(self.sample_lag)
        if not lag:
            return "sample lag of the alerts process: not measured"
        p99 = lag[min(len(lag) - 1, int(len(lag) * 0.99))]
        return (
            f"sample lag of the alerts process (platform time - device time of the newest "
            f"sample judged, every 0.5 s): p50 {statistics.median(lag):.2f} s, "
            f"p99 {p99:.2f} s, max {lag[-1]:.2f} s"
        )


async def _register(dsn: str, elevators: int) -> None:
    """The bench city's registry, as a real one has it: every page carries the
    car's address and its maintenance firm's phone from the alerts process's
    registry cache. Installed days ago and inspected on time, so the sweep
    raises nothing of its own during the run."""
    today = datetime.now(UTC).date()
    firms = [
        {
            "firm_id": f"bench-firm-{i}",
            "name": f"Lift care {i}",
            "credit_grade": "B",
            "tech_level": 3,
            "phone": f"+86 20 5555 {i:04d}",
        }
        for i in range(20)
    ]
    cars = [
        {
            "elevator_id": f"bench-el-{i:05d}",
            "address": f"{i} Bench Road",
            "district": f"D{i % 12:02d}",
            "lat": 23.1 + i * 1e-5,
            "lon": 113.3,
            "use_unit": f"Estate {i // 50}",
            "firm_id": f"bench-firm-{i % 20}",
            "installed_on": (today - timedelta(days=5)).isoformat(),
            "contact_phone": "+86 20 5555 0000",
        }
        for i in range(elevators)
    ]
    async with await psycopg.AsyncConnection.connect(dsn) as conn:
        await upsert_records(conn, "firms", firms)
        await upsert_records(conn, "elevators", cars)
        await conn.commit()


async def _make_token(dsn: str) -> str:
    async with await psycopg.AsyncConnection.connect(dsn) as conn:
        _, secret = await create_token(conn, "dispatcher", [], "alerts bench")
        await conn.commit()
    return secret


def _stop_load(load: BaseProcess) -> None:
    if load.is_alive():
        load.terminate()
    load.join(10)
    if load.is_alive():
        load.kill()
        load.join(5)


def _stored_report(dsn: str, published: int, wait_s: float = 120.0) -> str:
    """Nothing lost, counted by key: the distinct (elevator, ts) stored of
    the status samples the load published (every one its own key)."""
    deadline = time.monotonic() + wait_s
    stored = 0
    while time.monotonic() < deadline:
        with psycopg.connect(dsn) as conn:
            row = conn.execute(
                "SELECT count(DISTINCT (elevator_id, ts)) FROM elevator_status"
                " WHERE elevator_id LIKE 'bench-el-%'"
            ).fetchone()
        stored = int(row[0]) if row else 0
        if stored >= published:
            break
        time.sleep(1.0)
    lost = published - stored
    verdict = (
        "nothing lost"
        if lost == 0
        else f"{lost} LOST"
        if lost > 0
        else "MORE than published: the load's count is wrong"
    )
    return (
        f"ingest stored {stored} of the {published} status samples published"
        f" (distinct keys): {verdict}"
    )


def _summary(leg: Leg, args: argparse.Namespace) -> list[str]:
    path = {"MQTT": "MQTT subscriber", "SSE": "SSE client of /alerts/stream"}[leg.name]
    out = []
    for kind, what in (("event", "trapped event"), ("timer", "trapped timer due")):
        lat = sorted(ms for a, ms in leg.lat.items() if leg.kind[a] == kind)
        head = (
            f"{what} -> {path}, {len(lat)} alerts "
            f"({args.elevators} elevators, {args.rate:.0f} samples/s"
            f"{f' in messages of {args.per_message}' if args.per_message > 1 else ''}"
            f"{f', {args.partitions} alert partitions' if args.partitions > 1 else ''}"
            f"{', ingest running' if args.ingest else ''}"
            f"{', a CPU hog on one core' if args.hog else ''})"
        )
        if not lat:
            out.append(f"{head}: none measured")
            continue
        out.append(
            f"{head}: p50 {statistics.median(lat):.0f} ms, p99 {percentile(lat, 0.99):.0f} ms,"
            f" max {lat[-1]:.0f} ms"
        )
    return out


_HOG = "import os\nos.sched_setaffinity(0, {0})\nwhile True:\n    pass\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--elevators", type=int, default=5000)
    ap.add_argument("--rate", type=float, default=2000.0, help="status samples per second")
    ap.add_argument("--traps", type=int, default=60)
    ap.add_argument("--spacing", type=float, default=0.5, help="seconds between injected traps")
    ap.add_argument(
        "--threshold",
        type=float,
        default=5.0,
        help="trapped threshold T1 for the run (default rules use 20 s)",
    )
    ap.add_argument("--warmup", type=float, default=5.0)
    ap.add_argument("--partitions", type=int, default=1, help="alerts processes (device-hashed)")
    ap.add_argument(
        "--per-message", type=int, default=1, help="samples per background message (batches)"
    )
    ap.add_argument(
        "--with-ingest",
        dest="ingest",
        action="store_true",
        help="run `semon ingest` on the same broker and database too, as deployed",
    )
    ap.add_argument(
        "--ingest-workers",
        type=int,
        default=1,
        help="with --with-ingest: this many `semon ingest` sharing the subscription",
    )
    ap.add_argument(
        "--no-sse",
        dest="sse",
        action="store_false",
        help="measure the MQTT leg only (no `semon api` process, no SSE client)",
    )
    ap.add_argument(
        "--trap-kind",
        choices=("both", "event", "timer"),
        default="both",
        help="terminal trapped events, cars whose timer falls due, or both alternately",
    )
    ap.add_argument(
        "--ceiling-s",
        type=float,
        default=3.0,
        help="seconds the load generator runs unthrottled first (0: skip)",
    )
    ap.add_argument(
        "--hog", action="store_true", help="a process spinning on core 0 during the run"
    )
    ap.add_argument(
        "--soak-minutes",
        type=float,
        default=0.0,
        help="run the load this long, traps spread over it (0: until the traps are done)",
    )
    ap.add_argument(
        "--window-s", type=float, default=300.0, help="RSS/fds/loop-lag report interval"
    )
    args = ap.parse_args()
    if args.soak_minutes and args.traps:
        args.spacing = max(args.spacing, args.soak_minutes * 60 / args.traps)
    monitor = Monitor(args.window_s)

    root = f"bench/{uuid.uuid4().hex[:8]}/se/v1"
    with (
        services.admin_postgres() as admin,
        services.fresh_database(admin) as dsn,
        services.mosquitto() as (url, _broker),
    ):
        asyncio.run(migrate_database(dsn, Settings(database_url=dsn)))
        asyncio.run(_register(dsn, args.elevators))
        if args.ceiling_s > 0:
            _ceiling(url, root, args.elevators, args.per_message, args.ceiling_s)
        procs: list[subprocess.Popen[bytes]] = []
        load: BaseProcess | None = None
        on_broker = {"DATABASE_URL": dsn, "MQTT_URL": url, "SEMON_MQTT__TOPIC_ROOT": root}
        try:
            for part in range(args.partitions):
                env = semon_env(
                    **on_broker,
                    SEMON_ALERTS__CLIENT_ID=f"bench-alerts-{part}-{uuid.uuid4().hex[:6]}",
                    SEMON_ALERTS__TRAPPED_OFF_LANDING_S=str(args.threshold),
                    SEMON_ALERTS__PARTITIONS=str(args.partitions),
                    SEMON_ALERTS__PARTITION=str(part),
                    SEMON_ALERTS__METRICS_PORT=str(mport := services.free_port()),
                )
                procs.append(subprocess.Popen([sys.executable, "-m", "cli", "alerts"], env=env))
                monitor.add(f"alerts-{part}", procs[-1], f"http://127.0.0.1:{mport}/metrics")
            for worker in range(args.ingest_workers if args.ingest else 0):
                env = semon_env(
                    **on_broker,
                    SEMON_INGEST__CLIENT_ID=f"bench-ingest-{worker}-{uuid.uuid4().hex[:6]}",
                    SEMON_INGEST__METRICS_PORT=str(mport := services.free_port()),
                    # two or more share the subscription (MQTT 5 shared subscription)
                    SEMON_MQTT__SHARE_GROUP="bench-ingest" if args.ingest_workers > 1 else "",
                    # only the first runs the storage maintenance round
                    SEMON_INGEST__MAINTENANCE_INTERVAL_S="300" if worker == 0 else "0",
                )
                procs.append(subprocess.Popen([sys.executable, "-m", "cli", "ingest"], env=env))
                monitor.add(f"ingest-{worker}", procs[-1], f"http://127.0.0.1:{mport}/metrics")
            api: tuple[str, str] | None = None
            if args.sse:
                port = services.free_port()
                api_proc = subprocess.Popen(
                    [sys.executable, "-m", "cli", "api"], env=api_env(port, DATABASE_URL=dsn)
                )
                procs.append(api_proc)
                api_url = f"http://127.0.0.1:{port}"
                token = asyncio.run(_make_token(dsn))
                auth = {"Authorization": f"Bearer {token}"}  # /metrics wants a token
                monitor.add("api", api_proc, f"{api_url}/metrics", auth)
                wait_api(api_url, api_proc)
                api = (api_url, token)
            time.sleep(2.0)  # the alerts process connects and subscribes
            spawn = mp.get_context("spawn")
            published = spawn.Value("q", 0)
            load = spawn.Process(
                target=_load_main,
                args=(
                    url,
                    root,
                    args.elevators,
                    args.rate,
                    args.traps,
                    args.spacing,
                    args.threshold,
                    args.warmup,
                    args.per_message,
                    args.trap_kind,
                    args.soak_minutes * 60,
                    published,
                ),
            )
            if args.hog:
                hog = subprocess.Popen([sys.executable, "-c", _HOG])
                procs.append(hog)
                print("a CPU hog spins on core 0 for the run", flush=True)
            # A soak's console stops 15 s after the load: 20 s after it (T2)
            # every car last seen standing occupied at a landing is paged at
            # once, thousands of pages that say nothing about the platform.
            total = (
                args.soak_minutes * 60 + 15
                if args.soak_minutes
                else args.warmup + args.traps * args.spacing + args.threshold + 30
            )
            legs = asyncio.run(
                _console(
                    url,
                    root,
                    args.threshold,
                    args.traps,
                    total,
                    api,
                    load.start,
                    monitor,
                    soak=args.soak_minutes > 0,
                )
            )
            load.join(60)
            if args.ingest:
                print(_stored_report(dsn, published.value), flush=True)
        finally:
            if load is not None and load.pid is not None:
                _stop_load(load)
            for proc in procs:
                stop(proc)
    for leg in legs:
        print("\n".join(_summary(leg, args)))
    print(monitor.summary())
    for leg in legs:
        if leg.unlocated:
            print(f"warning: {leg.unlocated} {leg.name} pages came without address or firm")
        if len(leg.lat) < args.traps:
            print(f"warning: the {leg.name} leg saw {len(leg.lat)} of {args.traps} alerts")
        for other in legs:
            missed = other.lat.keys() - leg.lat.keys()
            if missed:
                print(
                    f"warning: the {leg.name} leg missed {len(missed)} alerts the "
                    f"{other.name} leg saw: {', '.join(sorted(missed)[:5])}"
                )


if __name__ == "__main__":
    main()
