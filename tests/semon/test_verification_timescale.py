"""Maintenance records checked against the terminal on the TimescaleDB
flavour (a hypertable of status samples): the same SQL, the same verdicts,
and the late re-check."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import psycopg

from semon.settings_firms import VerificationSettings
from semon.store.verification import recheck_late, verify_records


async def test_verdicts_on_a_hypertable(timescale_url: str) -> None:
    cfg = VerificationSettings()
    tag = uuid.uuid4().hex[:6]
    honest, fake, silent = f"VH{tag}", f"VF{tag}", f"VS{tag}"
    start = (datetime.now(UTC) - timedelta(days=3)).replace(minute=0, second=0, microsecond=0)
    async with await psycopg.AsyncConnection.connect(timescale_url, autocommit=True) as conn:
        rows = []
        for k in range(-20, 60):
            ts = start + timedelta(minutes=k)
            working = 10 <= k < 30
            rows.append((honest, ts, "maintenance" if working else "normal"))
            rows.append((fake, ts, "normal"))
        # a few hundred rows a statement: PGlite's limits (tests/support/timescale.py)
        values = ", ".join(
            f"('{e}', '{ts.isoformat()}', 1, 0, 'stopped', 'closed', true, '{m}', false,"
            " 'mains', now())"
            for e, ts, m in rows
        )
        await conn.execute(
            "INSERT INTO elevator_status (elevator_id, ts, floor, speed, direction, door,"
            " door_zone, mode, alarm, power, received_at) VALUES " + values
        )
        ids = []
        for eid in (honest, fake, silent):
            cur = await conn.execute(
                "INSERT INTO maintenance_records (elevator_id, done_on, kind, firm_id,"
                " started_at, ended_at) VALUES (%s, %s, 'routine', 'f', %s, %s)"
                " RETURNING record_id",
                (eid, start.date(), start + timedelta(minutes=5), start + timedelta(minutes=45)),
            )
            row = await cur.fetchone()
            assert row is not None
            ids.append(int(row[0]))
        got = await verify_records(conn, ids, cfg, now=datetime.now(UTC))
        assert [got[i] for i in ids] == ["terminal", "contradicted", "no_terminal_data"]
        # the silent terminal uploads its buffer: inspection mode in the window
        await conn.execute(
            "INSERT INTO elevator_status (elevator_id, ts, floor, speed, direction, door,"
            " door_zone, mode, alarm, power, received_at) VALUES"
            " (%s, %s, 1, 0, 'stopped', 'closed', true, 'inspection', false, 'mains', now())",
            (silent, start + timedelta(minutes=20)),
        )
        again = await recheck_late(conn, cfg, now=datetime.now(UTC))
        assert again[ids[2]] == "terminal" and ids[0] not in again
