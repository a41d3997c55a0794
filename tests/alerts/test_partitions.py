"""Two alerts workers side by side (partitions=2): each judges the devices
hashed to it, partition 0 alone does the fleet-wide work."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import zlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from semon.domain.rescue import DispatchIn
from semon.settings import Settings
from semon.store import rescues
from tests.alerts.helpers import (
    Device,
    alerts_for,
    alerts_process,
    checkpoints,
    console,
    device,
    events_for,
    start_clock,
    store_event,
    tune,
    uid,
    wait_checkpoint,
)
from tests.alerts.test_recovery import _alerts_cli, _cli_env


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
    # The cars' traps are paged again by their rescues' dispatch deadline.
    settings.rescue.dispatch_deadline_s = 60
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
        # a console's dispatch (the API writes, a worker publishes) of partition 1's trap
        acked = by_car[cars[3]]
        async with await psycopg.AsyncConnection.connect(database_url) as conn:
            cur = await conn.execute("SELECT rescue_id FROM rescues WHERE alert_id = %s", (acked,))
            row = await cur.fetchone()
            assert row is not None
            body = DispatchIn(tier=1, assignee="crew", phone="1")
            await rescues.act(
                conn,
                row[0],
                "dispatch",
                body,
                now=clock.now(),
                by="desk-1",
                scope=rescues._ALL,
                params={},
            )
        await con.wait(lambda m: m["alert_id"] == acked and m["state"] == "dispatched")
        # nobody was sent to the others: each is paged again (its rescue), once
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
            assert seen(acked, "dispatch") == 1
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


@pytest.mark.slow
async def test_kill_9_of_one_partition_loses_and_doubles_no_alert(
    settings: Settings, database_url: str, mqtt_url: str, tmp_path: Path
) -> None:
    """Two `semon alerts` processes (partitions=2); partition 1 is killed with
    SIGKILL and started again. Traps reported before, during (stored by
    ingest, queued by the broker for the dead worker's sessions) and after
    the kill, on cars of both partitions: each car has one alert, paged once.

    Killed once what it paged is marked published: a page published in the
    instant before a kill and not yet marked is published again by partition
    0 after the grace (the same alert id; at least once, by design)."""
    root = settings.mqtt.topic_root
    envs = [
        _cli_env(
            settings,
            database_url,
            mqtt_url,
            SEMON_ALERTS__CLIENT_ID=f"{settings.alerts.client_id}-p{p}",
            SEMON_ALERTS__PARTITIONS="2",
            SEMON_ALERTS__PARTITION=str(p),
            SEMON_ALERTS__PUBLISH_GRACE_S="3",
        )
        for p in (0, 1)
    ]
    logs = [tmp_path / "alerts-0.log", tmp_path / "alerts-1.log"]
    before = ids("before", 0, 2) + ids("before", 1, 2)
    during = ids("during", 0, 2) + ids("during", 1, 2)
    after = ids("after", 0, 2) + ids("after", 1, 2)

    async def trap(dev: Device, eid: str) -> None:
        at = datetime.now(UTC)
        await store_event(database_url, eid, at, "trapped")  # as ingest stores it
        dev.event(eid, at, "trapped")

    async with console(settings) as con, device(settings) as dev:
        with _alerts_cli(envs[0], logs[0]) as p0:
            with _alerts_cli(envs[1], logs[1]) as first:
                for p in (0, 1):
                    await wait_checkpoint(database_url, root, datetime.now(UTC), partition=p)
                for eid in before:
                    await trap(dev, eid)
                raised = await con.wait(lambda m: m["equipment_id"] in before, count=len(before))
                await _all_published(database_url, [m["alert_id"] for m in raised])
                await wait_checkpoint(database_url, root, datetime.now(UTC), partition=1)
                first.send_signal(signal.SIGKILL)
                assert await asyncio.to_thread(first.wait, 10) == -signal.SIGKILL
            for eid in during:
                await trap(dev, eid)
            # partition 0 goes on paging its own cars meanwhile
            mine = [e for e in during if owner(e) == 0]
            await con.wait(lambda m: m["equipment_id"] in mine, count=len(mine))
            with _alerts_cli(envs[1], logs[1]) as second:
                await con.wait(lambda m: m["equipment_id"] in during, count=len(during))
                for eid in after:
                    await trap(dev, eid)
                await con.wait(lambda m: m["equipment_id"] in after, count=len(after))
                # a last probe through each worker, and time for any late double
                for p in (0, 1):
                    [probe] = ids("probe", p, 1)
                    await trap(dev, probe)
                    await con.wait(lambda m, e=probe: m["equipment_id"] == e)
                await asyncio.sleep(4)  # past the publish grace: a double would be out
                assert second.poll() is None, logs[1].read_text()[-3000:]
                assert p0.poll() is None, logs[0].read_text()[-3000:]
    for eid in before + during + after:
        rows = await alerts_for(database_url, eid)
        assert len(rows) == 1, (eid, rows)
        raises = [m for m in con.messages if m["equipment_id"] == eid and m.get("event") == "raise"]
        assert len(raises) == 1, (eid, raises)
        assert raises[0]["alert_id"] == rows[0]["alert_id"]
