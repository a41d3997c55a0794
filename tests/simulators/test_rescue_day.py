"""A simulated day of the rescue centre (simulators/rescues.py): traps in a
generated city, callers, crews travelling per district, some stuck long
enough to escalate and be replaced by tier 2; `/stats/rescue` over that day
must say what the ground truth says, to the second."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg

from semon.domain.rescue import DispatchIn
from semon.settings import Settings
from semon.store import rescues
from simulators.city import generate_city
from simulators.player import load_city
from simulators.rescue_scripts import DeskOptions, draw_scripts, truth
from simulators.rescues import play
from tests.api.conftest import LiveServer, make_settings

DAY = datetime(2026, 3, 2, tzinfo=UTC)
LEGS = {
    "open_to_dispatch": ("opened_at", "dispatched_at"),
    "dispatch_to_on_site": ("dispatched_at", "on_site_at"),
    "on_site_to_freed": ("on_site_at", "freed_at"),
}


def percentile(values: list[float], q: float) -> float:
    """PostgreSQL's percentile_cont: linear between the two nearest ranks."""
    xs = sorted(values)
    pos = q * (len(xs) - 1)
    lo = int(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def expected(records: list[dict[str, Any]]) -> dict[str, Any]:
    def at(r: dict[str, Any], k: str) -> datetime:
        return datetime.fromisoformat(r[k])

    n = len(records)
    out: dict[str, Any] = {
        "rescues": n,
        "dispatched_within_5min": sum(
            at(r, "dispatched_at") - at(r, "opened_at") <= timedelta(minutes=5) for r in records
        )
        / n,
        "on_site_within_30min": sum(
            at(r, "on_site_at") - at(r, "opened_at") <= timedelta(minutes=30) for r in records
        )
        / n,
        "people_freed": sum(r["trapped"] for r in records),
        "injured": sum(r["injured"] for r in records),
        "escalations": sum(r["escalations"] for r in records),
    }
    for leg, (a, b) in LEGS.items():
        secs = [(at(r, b) - at(r, a)).total_seconds() for r in records]
        out[f"{leg}_median_s"] = percentile(secs, 0.5)
        out[f"{leg}_p90_s"] = percentile(secs, 0.9)
    for field, key in (("by_cause", "cause"), ("by_tier", "on_site_tier")):
        counts: dict[str, int] = {}
        for r in records:
            counts[str(r[key])] = counts.get(str(r[key]), 0) + 1
        out[field] = {k: v / n for k, v in counts.items()}
    return out


def same(got: dict[str, Any], want: dict[str, Any]) -> None:
    for k, v in want.items():
        if k.endswith("_s"):
            assert abs(got[k] - v) < 1.0, (k, got[k], v)  # to the second
        elif isinstance(v, float):
            assert abs(got[k] - v) < 1e-6, (k, got[k], v)
        elif isinstance(v, dict):
            assert set(got[k]) == set(v), (k, got[k], v)
            for kk, vv in v.items():
                assert abs(got[k][kk] - vv) < 1e-6, (k, kk, got[k][kk], vv)
        else:
            assert got[k] == v, (k, got[k], v)


async def test_a_simulated_day_matches_the_ground_truth(
    fresh_database_url: str, tmp_path: Path
) -> None:
    seed = 11
    city = generate_city(seed, elevators=160, stations=1, reference_day=date(2026, 3, 1))
    await load_city(
        Settings(database_url=fresh_database_url, state_dir=tmp_path), city, tmp_path / "city"
    )
    lifts = [r for r in city.records["elevators"] if r["status"] == "in_service"]
    options = DeskOptions(
        call_share=0.3, phone_only_share=0.15, stuck_share=0.15, late_dispatch_share=0.15
    )
    scripts = draw_scripts(
        random.Random(seed), lifts, day=DAY, count=70, seed=seed, options=options
    )
    records = [truth(s, options) for s in scripts]
    assert any(r["escalations"] for r in records) and any(r["on_site_tier"] == 2 for r in records)
    assert any(r["calls"] for r in records)
    async with await psycopg.AsyncConnection.connect(fresh_database_url) as conn:
        await play(conn, scripts, options)
        cur = await conn.execute(
            "SELECT count(*), count(*) FILTER (WHERE state = 'closed'),"
            " (SELECT count(*) FROM rescue_calls) FROM rescues"
        )
        assert await cur.fetchone() == (70, 70, sum(r["calls"] for r in records))

    settings = make_settings(fresh_database_url)
    server = LiveServer(settings)
    server.start()
    try:
        admin = {"Authorization": f"Bearer {settings.api.bootstrap_admin_token}"}
        window = {"from": DAY.isoformat(), "to": (DAY + timedelta(days=1)).isoformat()}
        r = httpx.get(
            f"http://127.0.0.1:{settings.api.port}/stats/rescue",
            params={**window, "group_by": "district"},
            headers=admin,
            timeout=30,
        )
        assert r.status_code == 200, r.text
        body = r.json()
    finally:
        server.stop()
    same(body["overall"], expected(records))
    districts = sorted({r["district"] for r in records})
    assert [g["key"] for g in body["groups"]] == districts
    for g in body["groups"]:
        same(g, expected([r for r in records if r["district"] == g["key"]]))


async def test_the_live_desk_works_every_rescue_to_its_close(fresh_database_url: str) -> None:
    """The demo's desk on a simulated clock: it takes on each rescue the
    platform opens, calls, dispatches, and (for a stuck crew, once the
    platform has escalated) sends tier 2; every rescue ends closed, and its
    ground-truth record is what the store says."""
    from semon import i18n
    from semon.domain.alerts import AlertDraft
    from semon.store.alerts import raise_alert
    from simulators.incidents import GroundTruth
    from simulators.rescues import RescueDesk, _escalate_due

    t0 = DAY + timedelta(hours=9)
    lifts = [f"desk-E{i}" for i in range(6)]
    truth_ = GroundTruth(None)
    desk = RescueDesk(
        5,
        options=DeskOptions(call_share=0.5, stuck_share=0.5, late_dispatch_share=0.3),
        truth=truth_,
    )
    async with await psycopg.AsyncConnection.connect(fresh_database_url) as conn:
        for i, eid in enumerate(lifts):
            await conn.execute(
                "INSERT INTO elevators (elevator_id, address, district, use_unit, installed_on)"
                " VALUES (%s, 'x', %s, 'u', '2015-01-01')",
                (eid, f"D{i % 2}"),
            )
            await raise_alert(
                conn,
                AlertDraft(
                    f"trapped_passenger:{eid}",
                    "trapped_passenger",
                    "elevator",
                    eid,
                    t0 + timedelta(seconds=i),
                    i18n.msg("alert.trapped_passenger.summary.unplaced", elevator_id=eid),
                    district=f"D{i % 2}",
                ),
                now=t0 + timedelta(seconds=i),
            )
        await conn.commit()
        # a dispatcher takes the first one over before the desk acts on it
        await desk.tick(conn, t0 + timedelta(seconds=6))
        cur = await conn.execute(
            "SELECT rescue_id FROM rescues WHERE elevator_id = %s", (lifts[0],)
        )
        row = await cur.fetchone()
        assert row is not None
        taken = str(row[0])
        await rescues.act(
            conn,
            taken,
            "dispatch",
            DispatchIn(tier=1, assignee="person", phone="9"),
            now=t0 + timedelta(seconds=7),
            by="desk-li",
            scope=rescues._ALL,
            params={},
        )
        await conn.commit()
        now = t0
        while now < t0 + timedelta(hours=1):
            now += timedelta(seconds=5)
            await _escalate_due(conn, now, 300.0, 900.0)  # the alerts process's part
            await desk.tick(conn, now)
        cur = await conn.execute(
            "SELECT count(*) FILTER (WHERE state = 'closed'), count(*) FROM rescues"
        )
        assert await cur.fetchone() == (5, 6)  # the one taken over is the dispatcher's
        cur = await conn.execute(
            "SELECT r.state, array_agg(a.by) FROM rescues r JOIN rescue_assignments a"
            " USING (rescue_id) WHERE r.rescue_id = %s GROUP BY r.state",
            (taken,),
        )
        assert await cur.fetchone() == ("dispatched", ["desk-li"])
        stuck = [r for r in truth_.records if r["on_site_tier"] == 2]
        assert stuck and all(r["escalations"] >= 1 for r in stuck)
        assert len(truth_.records) == 5 and any(r["calls"] for r in truth_.records)
        for r in truth_.records:
            cur = await conn.execute(
                "SELECT opened_at, on_site_at, freed_at FROM rescues WHERE rescue_id = %s",
                (r["rescue_id"],),
            )
            row = await cur.fetchone()
            assert row is not None
            assert [x.isoformat() for x in row] == [r["opened_at"], r["on_site_at"], r["freed_at"]]
