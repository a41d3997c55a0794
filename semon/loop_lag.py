"""Event-loop lag as a Prometheus histogram: how late a short sleep wakes up.
Each service runs ``watch_loop_lag`` beside its work; the soak benchmark
reads the histogram per window (bench/alerts_bench.py --soak-minutes)."""

from __future__ import annotations

import asyncio
import time

from prometheus_client import Histogram

LOOP_LAG = Histogram(
    "semon_event_loop_lag_seconds",
    "How much later than asked a 100 ms sleep of the event loop woke up",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)


async def watch_loop_lag(interval_s: float = 0.1) -> None:
    """Run until cancelled."""
    while True:
        start = time.monotonic()
        await asyncio.sleep(interval_s)
        LOOP_LAG.observe(max(0.0, time.monotonic() - start - interval_s))
