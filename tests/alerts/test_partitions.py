"""Two alerts workers side by side (partitions=2): each judges the devices
hashed to it, partition 0 alone does the fleet-wide work."""

from __future__ import annotations

import asyncio
import contextlib
import zlib
from datetime import UTC, datetime, timedelta

import psycopg

from semon.domain.alerts import ActionBody
from semon.settings import Settings
from semon.store.alerts import apply_action
from tests.alerts.helpers import (
    alerts_for,
    alerts_process,
    checkpoints,
    console,
    device,
    events_for,
    start_clock,
    tune,
    uid,
    wait_checkpoint,
)


def owner(equipment_id: str) -> int:
    return zlib.crc32(equipment_id.encode()) % 2


def ids(prefix: str, partition: int, n: int) -> list[str]:
    out: list[str] = []
    while len(out) < n:
        eid = uid(prefix)
        if owner(eid) == partition:
            out.append(eid)
    return out


async def _all_published(dsn: str, alert_ids: list[str], timeout: float = 10.0) -> None:
    """Once every row is marked published, no worker publishes it (again)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        evs = [e for a in alert_ids for e in await events_for(dsn, a)]
        if evs and all(e["published_at"] is not None for e in evs):
            return
        assert asyncio.get_running_loop().time() < deadline, evs
        await asyncio.sleep(0.05)


async def test_two_partitions_share_the_fleet_and_partition_0_does_fleet_work(
    settings: Settings, database_url: str
) -> None:
    tune(settings)
    settings.alerts.partitions = 2
    settings.alerts.escalate_after_s = 60
    workers: list[Settings] = []
    for p in (0, 1):
        s = settings.model_copy(deep=True)
        s.alerts.partition = p
        s.alerts.client_id = f"{settings.alerts.client_id}-p{p}"
        workers.append(s)
    # Partition 1 marks what it published a second after publishing it, while
    # partition 0 looks for unpublished rows every 50 ms: were partition 0 to
    # publish other workers' fresh rows, it would publish these twice.
    workers[0].alerts.publish_poll_s = 0.05
    workers[1].alerts.publish_poll_s = 1.0
    me = [w.alerts.client_id for w in workers]
    root = settings.mqtt.topic_root
    clock = start_clock()
    today = clock.now().date()
    cars = ids("p0", 0, 3) + ids("p1", 1, 3)
    # overdue for inspection, and hashed to partition 1: the sweep is fleet-wide
    [overdue] = ids("insp", 1, 1)
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        await conn.execute(
            "INSERT INTO elevators (elevator_id, address, district, use_unit, installed_on,"
            " last_inspected_on) VALUES (%s, '2 Main St', 'east', 'uu', %s, %s)",
            (overdue, today - timedelta(days=3000), today - timedelta(days=400)),
        )
    async with contextlib.AsyncExitStack() as stack:
        con = await stack.enter_async_context(console(settings))
        dev = await stack.enter_async_context(device(settings))
        for w in workers:
            await stack.enter_async_context(alerts_process(w, clock))
        for eid in cars:
            dev.event(eid, clock.now(), "trapped")
        raised = await con.wait(lambda m: m["equipment_id"] in cars, count=len(cars))
        by_car = {m["equipment_id"]: m["alert_id"] for m in raised}
        await con.wait(lambda m: m["equipment_id"] == overdue and m["kind"] == "inspection_overdue")
        # a console's ack (the API writes, a worker publishes) of partition 1's alert
        acked = by_car[cars[3]]
        async with await psycopg.AsyncConnection.connect(database_url) as conn:
            await apply_action(conn, acked, "ack", ActionBody(by="desk-1"), now=clock.now())
        await con.wait(lambda m: m["alert_id"] == acked and m["state"] == "acknowledged")
        # nobody acknowledged the others: each is paged again, once
        clock.advance(61)
        await con.wait(
            lambda m: m.get("event") == "escalate" and m["equipment_id"] in cars,
            count=len(cars) - 1,
        )
        await _all_published(database_url, list(by_car.values()))
        # a last alert through each worker: anything they published before is in
        for p in (0, 1):
            [probe] = ids("probe", p, 1)
            dev.event(probe, clock.now(), "trapped")
            await con.wait(lambda m, e=probe: m["equipment_id"] == e)
        for p in (0, 1):
            await wait_checkpoint(database_url, root, datetime.now(UTC), partition=p)

    def seen(alert_id: str, event: str) -> int:
        return len([m for m in con.messages if m["alert_id"] == alert_id and m["event"] == event])

    for eid in cars:
        [row] = await alerts_for(database_url, eid)
        evs = await events_for(database_url, row["alert_id"])
        raise_ev = [e for e in evs if e["action"] == "raise"]
        assert [e["by"] for e in raise_ev] == [me[owner(eid)]], (eid, evs)
        assert seen(row["alert_id"], "raise") == 1, eid
        if row["alert_id"] == acked:
            assert seen(acked, "ack") == 1
            assert not [e for e in evs if e["action"] == "escalate"]
        else:
            assert [e["by"] for e in evs if e["action"] == "escalate"] == [me[0]]
            assert seen(row["alert_id"], "escalate") == 1
    [insp] = [
        r for r in await alerts_for(database_url, overdue) if r["kind"] == "inspection_overdue"
    ]
    assert [e["by"] for e in await events_for(database_url, insp["alert_id"])] == [me[0]]
    assert seen(insp["alert_id"], "raise") == 1
    marks = await checkpoints(database_url, root)
    assert {p: (r["partitions"], r["client_id"]) for p, r in marks.items()} == {
        0: (2, me[0]),
        1: (2, me[1]),
    }
