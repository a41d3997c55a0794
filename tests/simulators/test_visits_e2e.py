"""End to end: a simulated month of maintenance visits, some filed with
nobody on site, checked against what the car model's terminal reported.

The city is imported through the registry path, the car model plays each
lift around each visit (the technician's maintenance mode, or the car in
normal service for a fake record, or a silent terminal), its messages go
through the real broker to a running ingest, and the firms file their
records through the real API. Verification must find every fake record whose terminal was online
and flag no honest one.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import orjson
import pytest

from semon.settings import Settings
from semon.store.commands import migrate_database
from simulators.city import generate_city
from simulators.elevator import ElevatorModel
from simulators.incidents import GroundTruth, read_ground_truth
from simulators.player import load_city
from simulators.visits import firm_habits, plan_visits, visit_incidents, write_truth
from tests.api.conftest import LiveServer, make_settings
from tests.ingest.support import count, publish, running_ingest, wait_until
from tests.support import services

DAYS = 30
LIFTS = 16
# The month ends five days ago: every record is in the past.
MONTH = (datetime.now(UTC) - timedelta(days=DAYS + 5)).replace(
    hour=0, minute=0, second=0, microsecond=0
)


@pytest.fixture(scope="module")
def server(pg_admin_dsn: str, mqtt_url: str) -> Iterator[tuple[str, Settings]]:
    with services.fresh_database(pg_admin_dsn, prefix="semon_visits") as dsn:
        asyncio.run(migrate_database(dsn, Settings(database_url=dsn)))
        settings = make_settings(dsn)
        settings.mqtt_url = mqtt_url
        settings.mqtt.topic_root = f"t/{uuid.uuid4().hex[:12]}/se/v1"
        settings.ingest.client_id = f"semon-ingest-{uuid.uuid4().hex[:8]}"
        live = LiveServer(settings)
        live.start()
        try:
            yield f"http://127.0.0.1:{settings.api.port}", settings
        finally:
            live.stop()


async def through_ingest(settings: Settings, messages: list[tuple[str, bytes]], n: int) -> None:
    """Publish through the broker to a running ingest; wait until stored."""
    async with running_ingest(settings):
        await publish(settings.mqtt_url, messages)

        async def stored() -> bool:
            return await count(settings.database_url) >= n

        await wait_until(stored, 60, f"{n} samples stored")


def test_a_month_of_visits_fake_ones_found(server: tuple[str, Settings], tmp_path: Path) -> None:
    url, settings = server
    rng = random.Random(17)
    city = generate_city(17, elevators=LIFTS, stations=1, reference_day=MONTH.date())
    asyncio.run(load_city(settings, city, tmp_path / "city"))
    lifts = {e["elevator_id"]: e["firm_id"] for e in city.records["elevators"]}
    firms = sorted(set(lifts.values()))
    habits = {f: firm_habits(rng, f, fake_share=0.3) for f in firms}
    visits = plan_visits(rng, lifts, habits, start=MONTH.timestamp(), days=DAYS)
    specs = {s.elevator_id: s for s in city.elevators}
    messages: list[tuple[str, bytes]] = []
    samples = 0
    for v in visits:
        model = ElevatorModel(specs[v.elevator_id], start=v.at - 1800, rng=rng)
        for incident in visit_incidents(v):
            model.inject(incident)
        for m in model.step(v.at + v.duration_s + 5400, batch=True):
            root = settings.mqtt.topic_root
            messages.append((f"{root}/{m.topic}", orjson.dumps(m.payload)))
            if m.topic.endswith("/status"):
                samples += len(m.payload["samples"])
    asyncio.run(through_ingest(settings, messages, samples))
    admin = {"Authorization": f"Bearer {settings.api.bootstrap_admin_token}"}
    r = httpx.post(
        url + "/maintenance/records", json=[v.record() for v in visits], headers=admin, timeout=60
    )
    assert r.status_code == 200, r.text
    filed = r.json()["records"]
    assert len(filed) == len(visits)
    verdict = {(f["elevator_id"], f["done_on"]): f["verification"] for f in filed}
    ledger = GroundTruth(tmp_path / "visits.jsonl")
    write_truth(visits, ledger)
    ledger.close()
    truth = read_ground_truth(tmp_path / "visits.jsonl")
    assert len(truth) == len(visits) and all(t["kind"] == "maintenance_record" for t in truth)
    seen: Counter[tuple[bool, bool, str]] = Counter()
    for t in truth:
        got = verdict[(t["elevator_id"], t["done_on"])]
        seen[(t["fake"], t["terminal_online"], got)] += 1
        if t["fake"] and t["terminal_online"]:
            assert got == "contradicted", t
        elif not t["fake"] and t["terminal_online"]:
            assert got == "terminal", t
        else:
            assert got == "no_terminal_data", t  # a silent terminal vouches for nothing
    # the month had every case in it, so the checks above were not empty
    assert seen[(True, True, "contradicted")] >= 3 and seen[(False, True, "terminal")] >= 10
    assert sum(n for (fake, online, _), n in seen.items() if not online) >= 1
