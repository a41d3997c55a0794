"""filled_after_deny: a filling of a cylinder whose last permit at that
station, in the hour before, was a deny."""

from __future__ import annotations

from datetime import datetime, timedelta

import psycopg

from semon.settings import Settings
from tests.alerts.helpers import (
    add_cylinder,
    alerts_for,
    alerts_process,
    device,
    fill,
    start_clock,
    tune,
    uid,
    wait_db,
)


async def _permit(
    dsn: str, station: str, cylinder: str, at: datetime, allow: bool, reasons: list[str]
) -> None:
    async with await psycopg.AsyncConnection.connect(dsn) as conn:
        await conn.execute(
            "INSERT INTO fill_permits (permit_id, station_id, cylinder_id, gas, allow, reasons,"
            " asked_at) VALUES (%s, %s, %s, 'lpg', %s, %s, %s)",
            (uid("pm"), station, cylinder, allow, reasons, at),
        )


async def test_filled_after_deny(settings: Settings, database_url: str) -> None:
    tune(settings)
    clock = start_clock()
    t0 = clock.now()
    st, other = uid("st"), uid("st")
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        for s in (st, other):
            await conn.execute(
                "INSERT INTO stations (station_id, name, district) VALUES (%s, 'Gas', 'east')", (s,)
            )
    cyl = {k: uid(k) for k in ("denied", "then_allowed", "elsewhere", "long_ago", "refused")}
    for cid in cyl.values():
        await add_cylinder(database_url, cid, st)
    denied = ["filling_overdue_cylinder"]
    await _permit(database_url, st, cyl["denied"], t0 - timedelta(minutes=10), False, denied)
    # Denied, then allowed after the registry was put right: no deny stands.
    await _permit(database_url, st, cyl["then_allowed"], t0 - timedelta(minutes=20), False, denied)
    await _permit(database_url, st, cyl["then_allowed"], t0 - timedelta(minutes=5), True, [])
    await _permit(database_url, other, cyl["elsewhere"], t0 - timedelta(minutes=10), False, denied)
    await _permit(database_url, st, cyl["long_ago"], t0 - timedelta(minutes=70), False, denied)
    await _permit(database_url, st, cyl["refused"], t0 - timedelta(minutes=10), False, denied)
    async with device(settings) as dev, alerts_process(settings, clock):
        for k in ("then_allowed", "elsewhere", "long_ago"):
            dev.filling(st, fill(uid("f"), cyl[k], t0))
        dev.filling(st, fill(uid("f"), cyl["refused"], t0, result="refused", net_kg=0))
        fid = uid("f")  # last: judged in order, so the others are judged once it is
        dev.filling(st, fill(fid, cyl["denied"], t0))
        [alert] = await wait_db(database_url, cyl["denied"], lambda r: len(r) == 1)
    assert alert["kind"] == "filled_after_deny" and alert["severity"] == "critical"
    assert alert["condition_key"] == f"filled_after_deny:{fid}"
    assert alert["station_id"] == st and alert["district"] == "east"
    assert alert["details"]["permit"]["reasons"] == denied
    # The summary from the catalogs, in the platform's language, naming the deny.
    assert cyl["denied"] in alert["summary"] and "filling_overdue_cylinder" in alert["summary"]
    assert "alert." not in alert["summary"]
    for k in ("then_allowed", "elsewhere", "long_ago", "refused"):
        assert await alerts_for(database_url, cyl[k]) == [], k
