"""Event-loop lag: how late a short sleep wakes up. Each service defines its
own histogram (``semon_<part>_event_loop_lag_seconds``, with ``BUCKETS``,
in its metrics module) and runs ``watch_loop_lag`` beside its work; the soak
benchmark reads it per window (bench/alerts_bench.py --soak-minutes)."""

from __future__ import annotations

import asyncio
import time

from prometheus_client import Histogram

BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
HELP = "How much later than asked a 100 ms sleep of the event loop woke up"


async def watch_loop_lag(histogram: Histogram, interval_s: float = 0.1) -> None:
    """Run until cancelled."""
    while True:
        start = time.monotonic()
        await asyncio.sleep(interval_s)
        histogram.observe(max(0.0, time.monotonic() - start - interval_s))
