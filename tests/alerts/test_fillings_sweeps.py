"""Filling rules against the registry, overfill from live scale samples, and
the inspection / maintenance sweep."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import psycopg
from psycopg import sql

from alerts.ops import Raise
from alerts.sweeps import sweep
from semon.settings import Settings
from semon.store.stats import maintenance_overdue
from tests.alerts.helpers import (
    add_cylinder,
    alerts_for,
    alerts_process,
    console,
    device,
    fill,
    start_clock,
    tune,
    uid,
    wait_db,
    years_ago,
)


async def test_filling_rules(settings: Settings, database_url: str) -> None:
    tune(settings)
    clock = start_clock()
    t0 = clock.now()
    st, other = uid("st"), uid("st")
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        await conn.execute(
            "INSERT INTO stations (station_id, name, district) VALUES (%s, 'North gas', 'north')",
            (st,),
        )
    cyl = {
        k: uid(k)
        for k in (
            "ok",
            "overdue",
            "old",
            "scrap",
            "foreign",
            "gas",
            "pre",
            "post",
            "unreg",
            "refused",
            "live",
            "final",
            "failed",
        )
    }
    await add_cylinder(database_url, cyl["ok"], st)
    await add_cylinder(database_url, cyl["overdue"], st, made=years_ago(6), inspected=years_ago(5))
    # Overdue, then failed its inspection yesterday: a fail never renews the
    # base date, so filling it is filling an overdue cylinder (migration 0040).
    await add_cylinder(database_url, cyl["failed"], st, made=years_ago(6), inspected=years_ago(5))
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        await conn.execute(
            "INSERT INTO inspections (equipment_type, equipment_id, inspected_on, result,"
            " inspector) VALUES ('cylinder', %s, %s, 'fail', 'CIS-1')",
            (cyl["failed"], t0.date() - timedelta(days=1)),
        )
    await add_cylinder(database_url, cyl["old"], st, made=years_ago(13), inspected=years_ago(1))
    await add_cylinder(database_url, cyl["scrap"], st, status="scrapped")
    await add_cylinder(database_url, cyl["foreign"], other)
    await add_cylinder(database_url, cyl["gas"], st, gas="oxygen")
    for k in ("pre", "post", "refused", "live", "final"):
        await add_cylinder(database_url, cyl[k], st)
    expected = {
        "overdue": ["filling_overdue_cylinder"],
        "failed": ["filling_overdue_cylinder"],
        "old": ["filling_scrapped_cylinder"],
        "scrap": ["filling_scrapped_cylinder"],
        "foreign": ["filling_foreign_cylinder"],
        "gas": ["gas_mismatch"],
        "pre": ["precheck_failed_but_filled"],
        "post": ["postcheck_missing"],
        "unreg": ["filling_unregistered_cylinder"],
        "live": ["overfill"],
        "final": ["overfill"],
    }
    async with console(settings) as con, device(settings) as dev, alerts_process(settings, clock):
        dev.filling(st, fill(uid("f"), cyl["ok"], t0))
        dev.filling(
            st,
            fill(
                uid("f"),
                cyl["refused"],
                t0,
                result="refused",
                net_kg=0,
                precheck={"passed": False, "failed_items": ["valve"]},
                postcheck=None,
            ),
        )
        for k in ("overdue", "failed", "old", "scrap", "foreign", "gas", "unreg"):
            dev.filling(st, fill(uid("f"), cyl[k], t0))
        dev.filling(
            st, fill(uid("f"), cyl["pre"], t0, precheck={"passed": False, "failed_items": ["rust"]})
        )
        dev.filling(st, fill(uid("f"), cyl["post"], t0, postcheck=None))
        fid = uid("f")
        for i, kg in enumerate((10.0, 14.9, 15.4)):
            dev.scale(
                st,
                {
                    "ts": (t0 + timedelta(seconds=i)).isoformat(),
                    "filling_id": fid,
                    "cylinder_id": cyl["live"],
                    "net_kg": kg,
                },
            )
        [over] = await con.wait(lambda m: m["equipment_id"] == cyl["live"])
        assert over["kind"] == "overfill" and over["details"]["source"] == "live scale"
        dev.filling(st, fill(fid, cyl["live"], t0, net_kg=15.6))
        dev.filling(st, fill(uid("f"), cyl["final"], t0, net_kg=16.0))
        await wait_db(database_url, cyl["final"], lambda r: len(r) == 1)
    for k, kinds in expected.items():
        rows = [
            r
            for r in await alerts_for(database_url, cyl[k])
            if not r["kind"].startswith("inspection_")
        ]  # the sweep's, not the fill's
        assert sorted(r["kind"] for r in rows) == kinds, (k, rows)
        assert all(r["station_id"] == st and r["district"] == "north" for r in rows)
    assert await alerts_for(database_url, cyl["ok"]) == []
    assert await alerts_for(database_url, cyl["refused"]) == []


async def test_sweep_inspections_and_maintenance(settings: Settings, database_url: str) -> None:
    tune(settings)
    settings.alerts.sweep_interval_s = 3600
    clock = start_clock()
    today = clock.now().date()
    late, soon, fine, serviced = uid("late"), uid("soon"), uid("fine"), uid("svc")
    cyl = uid("cyl")
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        for eid, inspected in (
            (late, today - timedelta(days=400)),
            (soon, today - timedelta(days=350)),
            (fine, today - timedelta(days=30)),
            (serviced, today - timedelta(days=30)),
        ):
            await conn.execute(
                "INSERT INTO elevators (elevator_id, address, district, use_unit, installed_on,"
                " last_inspected_on, firm_id) VALUES (%s, '1 Main St', 'east', 'uu', %s, %s, 'f1')",
                (eid, today - timedelta(days=3000), inspected),
            )
            if eid != serviced:
                await conn.execute(
                    "INSERT INTO maintenance_records (elevator_id, done_on, kind, firm_id)"
                    " VALUES (%s, %s, 'routine', 'f1')",
                    (eid, today - timedelta(days=3)),
                )
        await conn.execute(
            "INSERT INTO maintenance_records (elevator_id, done_on, kind, firm_id)"
            " VALUES (%s, %s, 'routine', 'f1')",
            (serviced, today - timedelta(days=20)),
        )
    await add_cylinder(database_url, cyl, uid("st"), made=years_ago(6), inspected=years_ago(4.5))
    async with alerts_process(settings, clock):
        await wait_db(database_url, serviced, lambda r: len(r) == 1)
        await wait_db(database_url, cyl, lambda r: len(r) == 1)
        [a] = await wait_db(database_url, late, lambda r: len(r) == 1)
        assert a["kind"] == "inspection_overdue" and a["location"]["address"] == "1 Main St"
        [b] = await wait_db(database_url, soon, lambda r: len(r) == 1)
        assert b["kind"] == "inspection_due_soon" and b["severity"] == "info"
        [c] = await alerts_for(database_url, serviced)
        assert c["kind"] == "maintenance_overdue" and c["details"]["interval_days"] == 15
        # the visits are recorded; the next sweep closes what they end and opens nothing twice
        async with await psycopg.AsyncConnection.connect(database_url) as conn:
            await conn.execute(
                "INSERT INTO inspections (equipment_type, equipment_id, inspected_on, result,"
                " inspector) VALUES ('elevator', %s, %s, 'pass', 'insp')",
                (late, today),
            )
            await conn.execute(
                "INSERT INTO maintenance_records (elevator_id, done_on, kind, firm_id)"
                " VALUES (%s, %s, 'routine', 'f1')",
                (serviced, today),
            )
        clock.advance(3601)
        await wait_db(database_url, late, lambda r: r[0]["state"] == "resolved")
        await wait_db(database_url, serviced, lambda r: r[0]["state"] == "resolved")
    assert (await alerts_for(database_url, late))[0]["resolution"] == "inspected"
    assert len(await alerts_for(database_url, soon)) == 1
    assert await alerts_for(database_url, fine) == []
    assert len(await alerts_for(database_url, cyl)) == 1


async def test_a_failed_inspection_never_renews_the_base_date(
    settings: Settings, database_url: str
) -> None:
    """An overdue lift that fails today stays overdue and is failed in use
    (its own alert); a later pass clears both. Before migration 0040 the fail
    moved last_inspected_on and the sweep's greatest() counted it."""
    tune(settings)
    settings.alerts.sweep_interval_s = 3600
    clock = start_clock()
    today = clock.now().date()
    lift, cyl = uid("failed"), uid("cylfail")
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        await conn.execute(
            "INSERT INTO elevators (elevator_id, address, district, use_unit, installed_on,"
            " last_inspected_on, firm_id) VALUES (%s, '2 Main St', 'east', 'uu', %s, %s, 'f1')",
            (lift, today - timedelta(days=3000), today - timedelta(days=400)),
        )
        await conn.execute(
            "INSERT INTO maintenance_records (elevator_id, done_on, kind, firm_id)"
            " VALUES (%s, %s, 'routine', 'f1')",
            (lift, today - timedelta(days=3)),
        )
    await add_cylinder(database_url, cyl, uid("st"), made=years_ago(2), inspected=None)

    async def inspect(etype: str, eid: str, result: str, on: object) -> None:
        async with await psycopg.AsyncConnection.connect(database_url) as conn:
            await conn.execute(
                "INSERT INTO inspections (equipment_type, equipment_id, inspected_on, result,"
                " inspector) VALUES (%s, %s, %s, %s, 'insp')",
                (etype, eid, on, result),
            )

    await inspect("elevator", lift, "fail", today)
    await inspect("cylinder", cyl, "fail", today - timedelta(days=1))
    async with alerts_process(settings, clock):
        got = await wait_db(database_url, lift, lambda r: len(r) == 2)
        by_kind = {a["kind"]: a for a in got}
        assert set(by_kind) == {"inspection_overdue", "inspection_failed_in_use"}
        assert by_kind["inspection_failed_in_use"]["severity"] == "major"
        assert by_kind["inspection_failed_in_use"]["details"]["failed_on"] == today.isoformat()
        assert by_kind["inspection_overdue"]["state"] == "open"
        # a cylinder in date but failed is failed in use, not overdue
        [c] = await wait_db(database_url, cyl, lambda r: len(r) == 1)
        assert c["kind"] == "inspection_failed_in_use"
        await inspect("elevator", lift, "pass", today + timedelta(days=1))
        await inspect("cylinder", cyl, "conditional", today)
        clock.advance(3601)
        done = await wait_db(database_url, lift, lambda r: all(a["state"] == "resolved" for a in r))
        assert len(done) == 2 and {a["resolution"] for a in done} == {"inspected"}
        await wait_db(database_url, cyl, lambda r: r[0]["state"] == "resolved")
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        cur = await conn.execute(
            "SELECT base_on, failed_in_use FROM inspection_state WHERE equipment_id = %s", (lift,)
        )
        assert await cur.fetchone() == (today + timedelta(days=1), False)


async def test_hazard_overdue_until_rectified(settings: Settings, database_url: str) -> None:
    """An open hazard past its deadline raises hazard_overdue (major when
    serious, minor when general) until it is rectified."""
    tune(settings)
    settings.alerts.sweep_interval_s = 3600
    clock = start_clock()
    today = clock.now().date()
    lift = uid("hz")
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        await conn.execute(
            "INSERT INTO elevators (elevator_id, address, district, use_unit, installed_on,"
            " last_inspected_on, firm_id) VALUES (%s, '3 Main St', 'east', 'uu', %s, %s, 'f1')",
            (lift, today - timedelta(days=300), today - timedelta(days=30)),
        )
        await conn.execute(
            "INSERT INTO maintenance_records (elevator_id, done_on, kind, firm_id)"
            " VALUES (%s, %s, 'routine', 'f1')",
            (lift, today - timedelta(days=3)),
        )
        for hid, level, deadline in (
            (f"{lift}-s", "serious", today - timedelta(days=1)),
            (f"{lift}-g", "general", today - timedelta(days=2)),
            (f"{lift}-ok", "serious", today),
        ):
            await conn.execute(
                "INSERT INTO hazards (hazard_id, equipment_type, equipment_id, source, level,"
                " description, found_on, deadline, district, use_unit)"
                " VALUES (%s, 'elevator', %s, 'supervision', %s, 'gap', %s, %s, 'east', 'uu')",
                (hid, lift, level, today - timedelta(days=20), deadline),
            )
    async with alerts_process(settings, clock):
        got = await wait_db(database_url, lift, lambda r: len(r) == 2)
        sev = {a["details"]["hazard_id"]: a["severity"] for a in got}
        assert sev == {f"{lift}-s": "major", f"{lift}-g": "minor"}
        assert {a["kind"] for a in got} == {"hazard_overdue"}
        async with await psycopg.AsyncConnection.connect(database_url) as conn:
            await conn.execute(
                "UPDATE hazards SET state = 'rectified', rectified_at = now() WHERE hazard_id = %s",
                (f"{lift}-s",),
            )
        clock.advance(3601)
        done = await wait_db(database_url, lift, lambda r: any(a["state"] == "resolved" for a in r))
        [closed] = [a for a in done if a["state"] == "resolved"]
        assert closed["details"]["hazard_id"] == f"{lift}-s"
        assert closed["resolution"] == "repaired"


async def test_insurance_expiring_and_lapsed(settings: Settings, database_url: str) -> None:
    """Insurance within 30 days of its end raises insurance_expiring (info),
    past it insurance_lapsed (minor); a renewed policy closes the alert."""
    tune(settings)
    settings.alerts.sweep_interval_s = 3600
    clock = start_clock()
    today = clock.now().date()
    soon, gone, fine = uid("ins-soon"), uid("ins-gone"), uid("ins-fine")
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        for eid, until in (
            (soon, today + timedelta(days=10)),
            (gone, today - timedelta(days=1)),
            (fine, today + timedelta(days=200)),
        ):
            await conn.execute(
                "INSERT INTO elevators (elevator_id, address, district, use_unit, installed_on,"
                " last_inspected_on, firm_id, insured_until)"
                " VALUES (%s, '4 Main St', 'east', 'uu', %s, %s, 'f1', %s)",
                (eid, today - timedelta(days=300), today - timedelta(days=30), until),
            )
            await conn.execute(
                "INSERT INTO maintenance_records (elevator_id, done_on, kind, firm_id)"
                " VALUES (%s, %s, 'routine', 'f1')",
                (eid, today - timedelta(days=3)),
            )
    async with alerts_process(settings, clock):
        [a] = await wait_db(database_url, soon, lambda r: len(r) == 1)
        assert (a["kind"], a["severity"]) == ("insurance_expiring", "info")
        [b] = await wait_db(database_url, gone, lambda r: len(r) == 1)
        assert (b["kind"], b["severity"]) == ("insurance_lapsed", "minor")
        async with await psycopg.AsyncConnection.connect(database_url) as conn:
            await conn.execute(
                "UPDATE elevators SET insured_until = %s WHERE elevator_id = %s",
                (today + timedelta(days=365), gone),
            )
        clock.advance(3601)
        await wait_db(database_url, gone, lambda r: r[0]["state"] == "resolved")
    assert await alerts_for(database_url, fine) == []


async def test_maintenance_sweep_and_statistic_are_one_definition(
    settings: Settings, database_url: str
) -> None:
    """A visit dated in the future (stored before such dates were refused)
    neither ends an elevator's overdue maintenance for the sweep nor for
    /stats/maintenance-overdue: both judge it the same way, lift by lift."""
    today = datetime.now(UTC).date()
    district = uid("d")
    visits = {
        uid("future"): [date(2099, 1, 1)],
        uid("old_and_future"): [today - timedelta(days=30), date(2099, 1, 1)],
        uid("recent"): [today - timedelta(days=3)],
        uid("never"): [],
        uid("scored"): [today - timedelta(days=20)],
    }
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        for eid, done in visits.items():
            await conn.execute(
                "INSERT INTO elevators (elevator_id, address, district, use_unit, installed_on)"
                " VALUES (%s, '1 Main St', %s, 'uu', %s)",
                (eid, district, today - timedelta(days=3000)),
            )
            for d in done:
                await conn.execute(
                    "INSERT INTO maintenance_records (elevator_id, done_on, kind, firm_id)"
                    " VALUES (%s, %s, 'routine', 'f1')",
                    (eid, d),
                )
        scored = next(e for e in visits if e.startswith("scored"))
        await conn.execute(
            "INSERT INTO elevator_scores (elevator_id, score, grade, interval_days, factor_names,"
            " factor_values, factor_weights, factor_contributions, computed_at)"
            " VALUES (%s, 90, 'A', 30, '{}', '{}', '{}', '{}', now())",
            (scored,),
        )
        ops = await sweep(conn, settings.alerts, datetime.now(UTC))
        swept = {
            op.draft.equipment_id
            for op in ops
            if isinstance(op, Raise)
            and op.draft.kind == "maintenance_overdue"
            and op.draft.equipment_id in visits
        }
        stat = await maintenance_overdue(
            conn,
            group_by="district",
            at=today,
            default_days=settings.alerts.default_maintenance_interval_days,
            scope=(sql.SQL("e.district = %(district)s"), {"district": district}),
        )
    assert swept == {e for e in visits if e.split("-")[0] in ("future", "old_and_future", "never")}
    assert stat["overall"]["total"] == 5
    assert stat["overall"]["overdue"] == len(swept)
