"""The demo's firms: their visits played by the demo's world, the telemetry
through the real broker and ingest, the full records filed as the demo files
them; the terminal vouches for every honest one and contradicts every fake,
and the README's firm (F001) has both within the demo's first minutes."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, date, datetime
from pathlib import Path

import orjson
import psycopg

from semon.settings import Settings
from simulators.city import generate_city
from simulators.demo import DemoSchedule
from simulators.demo_firms import DemoFirms, file_visits, visited_today
from simulators.incidents import GroundTruth
from simulators.player import load_city
from simulators.visits import PlannedVisit
from simulators.world import World, WorldOptions
from tests.ingest.support import count, publish, running_ingest, wait_until

PLAYED_S = 60 * 60


async def test_the_demo_firms_file_records_the_terminal_judges(
    fresh_database_url: str, mqtt_url: str, topic_root: str, tmp_path: Path
) -> None:
    settings = Settings(database_url=fresh_database_url, mqtt_url=mqtt_url, state_dir=tmp_path)
    settings.mqtt.topic_root = topic_root
    settings.ingest.client_id = f"semon-ingest-{uuid.uuid4().hex[:8]}"
    city = generate_city(5, elevators=40, stations=1, reference_day=datetime.now(UTC).date())
    await load_city(settings, city, tmp_path / "city")
    # The demo's first hour, played fast and two hours ago (all of it past).
    start = time.time() - 2 * 3600
    world = World(
        city, start=start, seed=5, truth=GroundTruth(None), options=WorldOptions(rates=None)
    )
    lifts = {r["elevator_id"]: r["firm_id"] for r in city.records["elevators"]}
    firms_lifts = {e: f for e, f in lifts.items() if e in world.elevators}
    firms = DemoFirms(
        firms_lifts,
        start=start,
        seed=5,
        schedule=DemoSchedule().maintenance,
    )
    messages: list[tuple[str, bytes]] = []
    samples = 0
    ready: list[PlannedVisit] = []
    t = start
    while t < start + PLAYED_S:
        t += 1.0
        for incident in firms.due(t):
            world.inject(incident)
        for m in world.step(t, batch=True):
            if m.topic.startswith("elevators/"):
                messages.append((f"{topic_root}/{m.topic}", orjson.dumps(m.payload)))
                if m.topic.endswith("/status"):
                    samples += len(m.payload["samples"])
        ready += firms.ready(t)
    async with running_ingest(settings):
        await publish(mqtt_url, messages)

        async def stored() -> bool:
            return await count(fresh_database_url) >= samples

        await wait_until(stored, 60, f"{samples} samples stored")
    truth = GroundTruth(None)
    async with await psycopg.AsyncConnection.connect(fresh_database_url) as conn:
        verdicts = await file_visits(
            conn, ready, settings.verification, now=datetime.now(UTC), truth=truth
        )
        cur = await conn.execute(
            "SELECT record_id, elevator_id, firm_id, items, technicians, signed_by, started_at"
            " FROM maintenance_records WHERE started_at IS NOT NULL"
        )
        filed = {int(r[0]): r[1:] for r in await cur.fetchall()}
    # an hour at one visit every 150 s, less those still going on
    assert len(ready) >= 8 and len(verdicts) == len(ready) == len(filed)
    by_lift = {row[0]: verdicts[rid] for rid, row in filed.items()}
    for v in ready:
        assert by_lift[v.elevator_id] == ("contradicted" if v.fake else "terminal"), v
    for _eid, firm, items, technicians, signed_by, _ in filed.values():
        assert firm == lifts[_eid] and items and technicians and signed_by
    f001 = {v.fake for v in ready if v.firm_id == "F001"}
    assert f001 == {True, False}
    assert [t["fake"] for t in truth.records] == [v.fake for v in ready]
    assert {t["record_id"] for t in truth.records} == set(filed)
    # filed again (a restarted demo replays its seed): nothing new, no truth
    async with await psycopg.AsyncConnection.connect(fresh_database_url) as conn:
        again = await file_visits(
            conn, ready, settings.verification, now=datetime.now(UTC), truth=truth
        )
        # a demo restarted that day visits other lifts first
        day = ready[0].record()["done_on"]
        seen = await visited_today(conn, date.fromisoformat(day))
    assert again == {} and len(truth.records) == len(ready)
    assert seen == {v.elevator_id for v in ready if v.record()["done_on"] == day}
    replay = DemoFirms(firms_lifts, start=start, seed=5, visited=seen)
    replay.due(start + PLAYED_S)
    assert replay.planned[0].elevator_id not in seen
