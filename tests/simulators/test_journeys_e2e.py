"""End to end, in real time: stations ask the live API for fill permits, fill
what they are allowed and sometimes what they are not, deliver and take
back; ingest stores it all from the broker, the alerts service judges it.
Checked against the simulator's ground truth: every permit answer, every
filled_after_deny (and nothing on clean or refused fillings), and where
each cylinder is in its trace."""

from __future__ import annotations

import asyncio
import contextlib
import random
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psycopg
from psycopg.rows import dict_row

from alerts import service as alerts_service
from simulators.city import generate_city
from simulators.journeys import JourneyOptions, StationJourneys
from simulators.player import load_city
from simulators.publisher import open_publisher
from tests.api.conftest import LiveServer, make_settings
from tests.ingest.support import count, running_ingest, wait_until


def _station_tokens(api_url: str, admin: dict[str, str], stations: list[str]) -> dict[str, Any]:
    out = {}
    for st in stations:
        r = httpx.post(
            f"{api_url}/tokens",
            json={"role": "station", "scope": [st], "label": "journeys"},
            headers=admin,
            timeout=30,
        )
        assert r.status_code == 201, r.text
        out[st] = {"Authorization": f"Bearer {r.json()['secret']}"}
    return out


async def _filling_alerts(dsn: str) -> dict[str, set[str]]:
    """filling_id -> kinds of the alerts raised on it."""
    async with await psycopg.AsyncConnection.connect(dsn, row_factory=dict_row) as conn:
        rows = await (
            await conn.execute(
                "SELECT kind, details->'filling'->>'filling_id' AS fid FROM alerts"
                " WHERE details ? 'filling'"
            )
        ).fetchall()
    out: dict[str, set[str]] = {}
    for r in rows:
        out.setdefault(r["fid"], set()).add(r["kind"])
    return out


async def test_station_journeys_against_the_platform(
    fresh_database_url: str, mqtt_url: str, topic_root: str, tmp_path: Path
) -> None:
    settings = make_settings(fresh_database_url)
    settings.mqtt_url = mqtt_url
    settings.mqtt.topic_root = topic_root
    settings.state_dir = tmp_path / "state"
    settings.mqtt.session_expiry_s = 0
    settings.ingest.client_id = f"semon-ingest-{uuid.uuid4().hex[:8]}"
    settings.alerts.client_id = f"semon-alerts-{uuid.uuid4().hex[:8]}"
    settings.alerts.tick_interval_s = 0.02
    # A fill's record comes fill_s after its permit; the answer is kept well
    # inside that even on a loaded machine.
    settings.permits.flush_interval_s = 0.01
    city = generate_city(
        7, elevators=2, stations=3, reference_day=datetime.now(UTC).date(), cylinders_per_station=20
    )
    await load_city(settings, city, tmp_path / "city")
    server = LiveServer(settings)
    server.start()
    api_url = f"http://{settings.api.host}:{settings.api.port}"
    admin = {"Authorization": f"Bearer {settings.api.bootstrap_admin_token}"}
    ready = asyncio.Event()
    alerts = asyncio.create_task(alerts_service.run(settings, ready=ready))
    try:
        await asyncio.wait_for(ready.wait(), 30)
        tokens = _station_tokens(api_url, admin, [s.station_id for s in city.stations])
        async with running_ingest(settings), open_publisher(settings, name="journeys") as pub:
            journeys = StationJourneys(
                city,
                api_url=api_url,
                headers_for=tokens.__getitem__,
                publisher=pub,
                rng=random.Random(7),
                options=JourneyOptions(fill_s=0.3),
            )
            truth = await journeys.run(36)
            fillings = len(truth.permits)
            await wait_until(
                lambda: _is(fresh_database_url, "SELECT count(*) FROM fillings", fillings),
                30,
                "fillings stored",
            )
            await wait_until(
                lambda: _is(
                    fresh_database_url, "SELECT count(*) FROM deliveries", truth.deliveries
                ),
                30,
                "deliveries stored",
            )
        # Enough of each case to mean something.
        assert len(truth.filled_after_deny) >= 3 and len(truth.refused_fillings) >= 3
        assert len(truth.clean_fillings) >= 5 and truth.deliveries >= 5

        # Each permit answered as the cylinder's condition says.
        for p in truth.permits:
            assert p["allow"] is p["expected_allow"], p
            if p["expected_reason"]:
                assert p["expected_reason"] in p["reasons"], p

        # filled_after_deny on every fill made against a deny, with the deny's
        # reasons; nothing on a clean fill or a refusal.
        async def judged() -> bool:
            got = await _filling_alerts(fresh_database_url)
            return all(
                set(t["kinds"]) <= got.get(t["filling_id"], set()) for t in truth.filled_after_deny
            )

        await wait_until(judged, 30, "filled_after_deny raised")
        got = await _filling_alerts(fresh_database_url)
        for t in truth.filled_after_deny:
            assert got[t["filling_id"]] == set(t["kinds"]), t
        for fid in truth.clean_fillings + truth.refused_fillings:
            assert fid not in got, (fid, got.get(fid))
        # Every answer kept.
        assert await count(fresh_database_url, "SELECT count(*) FROM fill_permits") == len(
            truth.permits
        )

        # Where each cylinder is, by its trace.
        async with httpx.AsyncClient(timeout=30) as client:
            for cid, where in truth.whereabouts.items():
                r = await client.get(f"{api_url}/cylinders/{cid}/trace", headers=admin)
                assert r.status_code == 200, r.text
                seen = r.json()["whereabouts"]
                assert seen["state"] == where["state"], (cid, seen, where)
                assert seen["station_id"] == where["station_id"], (cid, seen, where)
                assert seen["customer"] == where.get("customer"), (cid, seen, where)
    finally:
        alerts.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await alerts
        server.stop()


async def _is(dsn: str, sql: str, n: int) -> bool:
    return await count(dsn, sql) == n
