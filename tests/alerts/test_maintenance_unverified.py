"""A maintenance record the terminal contradicts raises maintenance_unverified
on the alerts process's sweep clock; a late upload that shows the technician
closes it."""

from __future__ import annotations

from datetime import timedelta

import psycopg

from semon.settings import Settings
from tests.alerts.helpers import (
    alerts_for,
    alerts_process,
    sample,
    start_clock,
    store_samples,
    tune,
    uid,
    wait_db,
)


async def test_contradicted_record_raises_and_late_witness_closes(
    settings: Settings, database_url: str
) -> None:
    tune(settings)
    settings.alerts.sweep_interval_s = 3600
    clock = start_clock()
    eid, honest, hand = uid("mu"), uid("mh"), uid("mr")
    start = (clock.now() - timedelta(days=2)).replace(second=0)
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        for e in (eid, honest, hand):
            await conn.execute(
                "INSERT INTO elevators (elevator_id, address, district, use_unit, installed_on,"
                " firm_id, last_inspected_on) VALUES (%s, '1 Main St', 'east', 'uu', '2015-01-01',"
                " 'fm', %s)",
                (e, start.date()),
            )
            # filed straight into the table (an import): never checked yet
            await conn.execute(
                "INSERT INTO maintenance_records (elevator_id, done_on, kind, firm_id,"
                " started_at, ended_at) VALUES (%s, %s, 'routine', 'fm', %s, %s)",
                (e, start.date(), start, start + timedelta(minutes=30)),
            )
    normal = [sample(start + timedelta(minutes=k)) for k in range(-5, 36)]
    await store_samples(database_url, eid, *normal)
    await store_samples(database_url, hand, *normal)
    await store_samples(
        database_url,
        honest,
        *normal[:10],
        *[sample(start + timedelta(minutes=k), mode="maintenance") for k in range(5, 25)],
    )
    async with alerts_process(settings, clock):
        [a] = await wait_db(database_url, eid, lambda r: len(r) == 1)
        assert a["kind"] == "maintenance_unverified" and a["severity"] == "minor"
        assert a["firm_id"] == "fm" and a["state"] == "open"
        assert a["details"]["evidence"]["coverage"] == 1.0
        # the terminal's buffer arrives: a technician in inspection mode after all
        await store_samples(
            database_url,
            eid,
            *[sample(start + timedelta(minutes=k, seconds=30), mode="inspection") for k in (3, 4)],
        )
        # someone resolves the other one by hand (the API): it stays resolved
        [h] = await wait_db(database_url, hand, lambda r: len(r) == 1)
        async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
            await conn.execute(
                "UPDATE alerts SET state = 'resolved', resolution = 'other', resolved_at = now()"
                " WHERE alert_id = %s",
                (h["alert_id"],),
            )
        clock.advance(3601)
        # (the sweep that closes it ran after the hand resolution)
        await wait_db(database_url, eid, lambda r: r[0]["state"] == "resolved")
    assert await alerts_for(database_url, honest) == []
    assert len(await alerts_for(database_url, hand)) == 1
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        cur = await conn.execute(
            "SELECT elevator_id, verification FROM maintenance_records"
            " WHERE elevator_id = ANY(%s) ORDER BY elevator_id",
            ([eid, honest],),
        )
        assert sorted(await cur.fetchall()) == sorted([(eid, "terminal"), (honest, "terminal")])
