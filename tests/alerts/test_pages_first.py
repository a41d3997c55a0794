"""A page never waits behind telemetry: a trapped passenger reported after a
backlog of status samples is paged before that backlog is judged."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import orjson
import psycopg
from prometheus_client import REGISTRY

from semon import mqtt
from semon.settings import Settings
from tests.alerts.helpers import (
    STUCK,
    alerts_for,
    alerts_process,
    console,
    device,
    publish_fleet_backlog,
    sample,
    start_clock,
    tune,
    uid,
)
from tests.support import services

BACKLOG = 8000  # status messages, ten samples each


def judged_status() -> float:
    return REGISTRY.get_sample_value("semon_alerts_messages_total", {"kind": "status"}) or 0.0


async def test_trapped_event_is_paged_ahead_of_a_sample_backlog(settings: Settings) -> None:
    tune(settings)
    clock = start_clock()
    t0 = clock.now()
    root = settings.mqtt.topic_root
    trapped = uid("trapped")
    # A private broker that keeps the whole backlog for the absent worker.
    with services.mosquitto() as (url, _proc):
        settings.mqtt_url = url
        # A first start makes the worker's sessions and subscriptions; while it
        # is away the broker queues what the terminals send.
        async with alerts_process(settings, clock):
            pass
        async with mqtt.connect(url, uid("fleet")) as pub:
            await publish_fleet_backlog(pub, root, t0, BACKLOG)
            # ... and then a terminal reports a trapped passenger
            pub.publish(
                f"{root}/elevators/{trapped}/event",
                orjson.dumps({"ts": t0.isoformat(), "code": "trapped"}),
                qos=1,
            )
            await pub.drain()
        clock.set(t0 + timedelta(seconds=BACKLOG // 400))
        before = judged_status()
        async with console(settings) as con, alerts_process(settings, clock):
            await con.wait(lambda m: m["equipment_id"] == trapped, timeout=30)
            at_page = judged_status() - before
            # the backlog is still judged, all of it
            deadline = asyncio.get_running_loop().time() + 30
            while judged_status() - before < BACKLOG:
                assert asyncio.get_running_loop().time() < deadline, judged_status() - before
                await asyncio.sleep(0.05)
    # Paged while most of the backlog still waited (today: after all of it).
    print(f"paged after {at_page:.0f} of {BACKLOG} status messages")
    assert at_page < BACKLOG / 2, f"paged after {at_page:.0f} of {BACKLOG} status messages"


async def test_a_timer_falls_due_while_the_engine_waits_and_is_paged(
    settings: Settings, database_url: str
) -> None:
    """The engine waits on the database (a scale sample's cylinder lookup,
    the cylinders table locked by another session); a standing car's trapped
    timer falls due meanwhile and is paged all the same (the timers' own
    task), not once the lookup returns."""
    tune(settings)
    clock = start_clock()
    t0 = clock.now()
    standing = uid("stand")
    async with (
        console(settings) as con,
        device(settings) as dev,
        alerts_process(settings, clock),
        await psycopg.AsyncConnection.connect(database_url) as locker,
    ):
        dev.status(standing, sample(t0, **STUCK))
        probe = uid("probe")  # stood past its threshold: paged once judged
        dev.status(probe, sample(t0 - timedelta(seconds=25), **STUCK))
        await con.wait(lambda m: m["equipment_id"] == probe)
        await locker.execute("LOCK TABLE cylinders IN ACCESS EXCLUSIVE MODE")
        try:
            dev.scale(
                uid("st"),
                {
                    "ts": t0.isoformat(),
                    "filling_id": uid("f"),
                    "cylinder_id": uid("cyl"),
                    "net_kg": 10.0,
                },
            )
            await asyncio.sleep(0.5)  # the engine is in the lookup now
            clock.set(t0 + timedelta(seconds=settings.alerts.trapped_off_landing_s + 1))
            [page] = await con.wait(lambda m: m["equipment_id"] == standing, timeout=5)
        finally:
            await locker.rollback()
    assert page["kind"] == "trapped_passenger"


async def _stood_behind_the_fleet(
    settings: Settings, database_url: str
) -> tuple[list[dict[str, object]], list[dict[str, object]]]:
    """Three cars stood 21 s ago (live, not a late backlog) with someone
    inside, then the fleet's samples, then a sample that releases one car and
    one that shows another still standing. The engine starts with all of it
    queued, so their timers are due the moment their first sample is judged.
    Returns the alerts of the released car and of the one still standing."""
    tune(settings)
    clock = start_clock()
    t0 = clock.now()
    root = settings.mqtt.topic_root
    released, still, alone = uid("released"), uid("still"), uid("alone")
    with services.mosquitto() as (url, _proc):
        settings.mqtt_url = url
        async with alerts_process(settings, clock):
            pass
        async with mqtt.connect(url, uid("fleet")) as pub:

            def status(car: str, *samples: dict[str, object]) -> None:
                body = orjson.dumps({"samples": list(samples)})
                pub.publish(f"{root}/elevators/{car}/status", body, qos=1)

            for car in (released, still, alone):
                status(car, sample(t0, **STUCK))
            for i in range(BACKLOG // 4):
                ts = t0 + timedelta(seconds=i // 400)
                status(f"busy-{i % 400}", sample(ts, speed=1.0, direction="up"))
                await pub.wait_window(500)
            status(released, sample(t0 + timedelta(seconds=2), door="open"))
            status(still, sample(t0 + timedelta(seconds=2), **STUCK))
            await pub.drain()
        clock.set(t0 + timedelta(seconds=settings.alerts.trapped_off_landing_s + 1))
        before = judged_status()
        async with console(settings) as con, alerts_process(settings, clock):
            await con.wait(lambda m: m["equipment_id"] == alone, timeout=30)
            await con.wait(lambda m: m["equipment_id"] == still, timeout=30)
            deadline = asyncio.get_running_loop().time() + 30
            while judged_status() - before < BACKLOG // 4 + 5:
                assert asyncio.get_running_loop().time() < deadline, judged_status() - before
                await asyncio.sleep(0.05)
            await asyncio.sleep(0.5)  # a page after the last sample would be out by now
    return await alerts_for(database_url, released), await alerts_for(database_url, still)


async def test_a_timer_due_behind_the_cars_own_queued_samples_waits_for_them(
    settings: Settings, database_url: str
) -> None:
    """Overload: the engine is behind, and a car's trapped timer falls due
    while the sample that released it still waits in the queue behind the
    fleet's. That sample decides: no page (a soak at 8,000 msg/s on a busy
    machine paged 100 such cars at once). A car whose queued samples show it
    still standing is paged once they are judged, and one with nothing
    queued at once."""
    released, still = await _stood_behind_the_fleet(settings, database_url)
    assert released == []
    [page] = still
    assert page["kind"] == "trapped_passenger"


async def test_the_wait_for_queued_samples_has_a_cap(settings: Settings, database_url: str) -> None:
    """With ``trapped_defer_max_s`` at 0 the timer pages at once, released
    car or not: the wait behind telemetry is bounded (a trapped passenger is
    never left waiting for however far the engine has fallen behind)."""
    settings.alerts.trapped_defer_max_s = 0.0
    released, still = await _stood_behind_the_fleet(settings, database_url)
    assert [a["kind"] for a in released] == ["trapped_passenger"]
    assert [a["kind"] for a in still] == ["trapped_passenger"]
