"""The samples' inbox is bounded: an engine behind under overload pauses
reading, the broker keeps the rest, and nothing is lost or delays a page."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import orjson
from prometheus_client import REGISTRY

from semon import mqtt
from semon.settings import Settings
from tests.alerts.helpers import (
    alerts_process,
    console,
    publish_fleet_backlog,
    start_clock,
    tune,
    uid,
)
from tests.support import services

BACKLOG = 8000  # status messages, ten samples each (about 1.7 KB)
BOUND = 2**20


def metric(name: str, labels: dict[str, str] | None = None) -> float:
    return REGISTRY.get_sample_value(name, labels or {}) or 0.0


async def test_a_backlog_past_the_bound_waits_at_the_broker_and_is_all_judged(
    settings: Settings,
) -> None:
    tune(settings)
    settings.alerts.inbox_max_bytes = BOUND
    clock = start_clock()
    t0 = clock.now()
    root = settings.mqtt.topic_root
    trapped = uid("trapped")
    with services.mosquitto() as (url, _proc):
        settings.mqtt_url = url
        async with alerts_process(settings, clock):
            pass  # its sessions: the broker queues for them from here on
        async with mqtt.connect(url, uid("fleet")) as pub:
            await publish_fleet_backlog(pub, root, t0, BACKLOG)
            pub.publish(
                f"{root}/elevators/{trapped}/event",
                orjson.dumps({"ts": t0.isoformat(), "code": "trapped"}),
                qos=1,
            )
            await pub.drain()
        clock.set(t0 + timedelta(seconds=BACKLOG // 400))
        judged = metric("semon_alerts_messages_total", {"kind": "status"})
        pauses = metric("semon_alerts_inbox_pauses_total")
        async with console(settings) as con, alerts_process(settings, clock):
            # the events session does not wait for the samples' bound
            await con.wait(lambda m: m["equipment_id"] == trapped, timeout=30)
            deadline = asyncio.get_running_loop().time() + 60
            while metric("semon_alerts_messages_total", {"kind": "status"}) - judged < BACKLOG:
                assert asyncio.get_running_loop().time() < deadline
                await asyncio.sleep(0.05)
            peak = metric("semon_alerts_inbox_bytes_peak")
            left = metric("semon_alerts_inbox_bytes")
    assert metric("semon_alerts_inbox_pauses_total") > pauses
    # the bound, plus what semon.mqtt's window lets in before reading pauses
    # (1,000 messages) and the socket's buffer: the backlog itself is ~14 MB
    assert BOUND <= peak < 4 * BOUND, peak
    assert left == 0
