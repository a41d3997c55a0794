"""Time to page a trapped passenger under a steady background load.

A private Mosquitto and a fresh database on the machine's PostgreSQL; the
alerts process runs as its own OS process (`semon alerts`); a load process
publishes status samples from thousands of simulated elevators at a steady
rate and, now and then, makes one car stop between floors with someone
inside. A console (this process) subscribes to the alert topics and measures,
for every trapped-passenger alert, the time from the moment the rule's
condition is met (device time the car stopped + the threshold) to the
message's arrival. Device clocks are this machine's clock.

    python bench/alerts_bench.py --elevators 5000 --rate 2000 --traps 60
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import random
import statistics
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from semon import mqtt
from semon.settings import Settings
from semon.store.commands import migrate_database
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


async def _load(
    url: str,
    root: str,
    elevators: int,
    rate: float,
    traps: int,
    spacing: float,
    threshold: float,
    warmup: float,
) -> None:
    rng = random.Random(1)
    ids = [f"bench-el-{i:05d}" for i in range(elevators)]
    trapped: dict[str, float] = {}  # elevator -> wall time it stopped
    async with mqtt.connect(url, f"bench-load-{uuid.uuid4().hex[:6]}") as client:
        start = time.monotonic()
        sent = 0
        next_trap = start + warmup
        made = 0
        last_stuck: dict[str, float] = {}
        while made < traps or trapped:
            now_m = time.monotonic()
            due = int((now_m - start) * rate) - sent
            wall = datetime.now(UTC)
            for _ in range(max(0, min(due, 5000))):
                eid = ids[rng.randrange(elevators)]
                if eid in trapped:
                    continue
                moving = rng.random() < 0.5
                client.publish(
                    f"{root}/elevators/{eid}/status",
                    _sample(
                        wall,
                        speed=1.0 if moving else 0.0,
                        direction="up" if moving else "stopped",
                        door_zone=not moving,
                        occupied=rng.random() < 0.5,
                    ),
                    qos=1,
                )
                sent += 1
            sent += max(0, due - 5000)
            if made < traps and now_m >= next_trap:
                eid = ids[rng.randrange(elevators)]
                if eid not in trapped:
                    trapped[eid] = now_m
                    last_stuck[eid] = 0.0
                    made += 1
                next_trap = now_m + spacing
            for eid, t in list(trapped.items()):
                if now_m - last_stuck[eid] >= 2.0 and now_m - t < threshold + 1.0:
                    client.publish(
                        f"{root}/elevators/{eid}/status",
                        _sample(wall, door_zone=False, occupied=True),
                        qos=1,
                    )
                    last_stuck[eid] = now_m
                elif now_m - t >= threshold + 1.0:
                    # released: doors open at a landing, car empties
                    client.publish(
                        f"{root}/elevators/{eid}/status",
                        _sample(wall + timedelta(milliseconds=1), door="open"),
                        qos=1,
                    )
                    del trapped[eid]
            await asyncio.sleep(0.01)
        print(
            f"load: {sent} samples in {time.monotonic() - start:.1f}s "
            f"({sent / (time.monotonic() - start):.0f}/s), {made} traps",
            flush=True,
        )


def _load_main(*args: Any) -> None:
    asyncio.run(_load(*args))


async def _console(
    url: str, root: str, threshold: float, expect: int, wait_s: float
) -> list[float]:
    lat: list[float] = []
    lag: list[float] = []
    done = asyncio.Event()

    async def on_message(topic: str, payload: bytes, qos: int, props: dict[str, Any]) -> int:
        arrived = datetime.now(UTC)
        msg = orjson.loads(payload)
        if "/elevators/" in topic:  # transport lag of the load itself, for reference
            lag.append((arrived - datetime.fromisoformat(msg["ts"])).total_seconds() * 1000)
            return 0
        if (
            msg["kind"] == "trapped_passenger"
            and msg["state"] == "open"
            and msg.get("event") == "raise"
        ):
            # the rule that decided: T1 for the injected cars; a background car
            # that happened to stand occupied at a landing decides on T2
            met = datetime.fromisoformat(msg["started_at"]) + timedelta(
                seconds=msg["details"].get("threshold_s", threshold)
            )
            if "condition_met_at" in msg["details"]:
                met = datetime.fromisoformat(msg["details"]["condition_met_at"])
            lat.append((arrived - met).total_seconds() * 1000)
            if lat[-1] > 250:
                print(
                    f"slow: {lat[-1]:.0f} ms {msg['equipment_id']} {msg['details']['reason']}"
                    f" started {msg['started_at']} raised {msg['raised_at']}",
                    flush=True,
                )
            if len(lat) >= expect:
                done.set()
        return 0

    async with mqtt.connect(
        url, f"bench-console-{uuid.uuid4().hex[:6]}", on_message=on_message
    ) as client:
        client.subscribe(f"{root}/alerts/#", qos=1)
        for i in range(20):
            client.subscribe(f"{root}/elevators/bench-el-{i:05d}/status", qos=1)
        try:
            await asyncio.wait_for(done.wait(), wait_s)
        except TimeoutError:
            print(f"console: only {len(lat)} of {expect} alerts arrived", flush=True)
    if lag:
        lag.sort()
        print(
            f"device-to-console lag of the load itself (reference): p50 "
            f"{statistics.median(lag):.0f} ms, max {lag[-1]:.0f} ms over {len(lag)}",
            flush=True,
        )
    return lat


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
    args = ap.parse_args()

    root = f"bench/{uuid.uuid4().hex[:8]}/se/v1"
    with (
        services.admin_postgres() as admin,
        services.fresh_database(admin) as dsn,
        services.mosquitto() as (url, _broker),
    ):
        asyncio.run(migrate_database(dsn, Settings(database_url=dsn)))
        procs = []
        for part in range(args.partitions):
            env = dict(
                os.environ,
                DATABASE_URL=dsn,
                MQTT_URL=url,
                SEMON_MQTT__TOPIC_ROOT=root,
                SEMON_ALERTS__CLIENT_ID=f"bench-alerts-{part}-{uuid.uuid4().hex[:6]}",
                SEMON_ALERTS__TRAPPED_OFF_LANDING_S=str(args.threshold),
                SEMON_ALERTS__PARTITIONS=str(args.partitions),
                SEMON_ALERTS__PARTITION=str(part),
                SEMON_LOG_LEVEL="WARNING",
            )
            procs.append(subprocess.Popen([sys.executable, "-m", "semon.cli", "alerts"], env=env))
        try:
            time.sleep(2.0)  # the alerts process connects and subscribes
            load = mp.get_context("spawn").Process(
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
                ),
            )
            load.start()
            total = args.warmup + args.traps * args.spacing + args.threshold + 30
            lat = asyncio.run(_console(url, root, args.threshold, args.traps, total))
            load.join(60)
        finally:
            for proc in procs:
                proc.terminate()
                proc.wait(10)
    if not lat:
        print("no alerts measured")
        return
    lat.sort()
    p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))]
    print(
        f"trapped-passenger page latency over {len(lat)} alerts "
        f"({args.elevators} elevators, {args.rate:.0f} samples/s): "
        f"p50 {statistics.median(lat):.0f} ms, p99 {p99:.0f} ms, max {lat[-1]:.0f} ms"
    )


if __name__ == "__main__":
    main()
