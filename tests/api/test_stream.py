"""Alert list filters, state changes and the SSE stream with Last-Event-ID resume."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import psycopg
import pytest
from httpx_sse import connect_sse

from semon.domain.alerts import AlertDraft
from semon.i18n import msg
from semon.store.alerts import raise_alert
from tests.api.world import World, build_world

Headers = dict[str, str]


@pytest.fixture(scope="module")
def world(api_url: str, admin_headers: Headers, database_url: str) -> World:
    return build_world(api_url, admin_headers, database_url, "stream")


def raise_one(dsn: str, world: World, n: int, district: str | None = None) -> str:
    async def go() -> str:
        async with await psycopg.AsyncConnection.connect(dsn) as conn:
            raised, _ = await raise_alert(
                conn,
                AlertDraft(
                    condition_key=f"fault:{world.uid}:{n}:{datetime.now(UTC).isoformat()}",
                    kind="elevator_fault",
                    equipment_type="elevator",
                    equipment_id=world.a.elevator,
                    started_at=datetime.now(UTC),
                    summary=msg(
                        "alert.elevator_fault.summary.detail",
                        elevator_id=world.a.elevator,
                        code="overspeed",
                        detail=f"fault {n}",
                    ),
                    details={"code": "overspeed"},
                    district=district or world.a.district,
                    firm_id=world.a.firm,
                ),
                now=datetime.now(UTC),
            )
            await conn.commit()
            return raised.alert_id

    return asyncio.run(go())


class Reader:
    """Reads an SSE stream in a thread, collecting events until told to stop."""

    def __init__(self, url: str, headers: Headers) -> None:
        self.url, self.headers = url, headers
        self.events: list[tuple[int, dict[str, Any]]] = []
        self.connected = threading.Event()
        self.changed = threading.Condition()
        self.stop = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        with (
            httpx.Client(timeout=httpx.Timeout(30, read=5)) as client,
            connect_sse(client, "GET", self.url, headers=self.headers) as source,
        ):
            assert source.response.status_code == 200
            self.connected.set()
            try:
                for sse in source.iter_sse():
                    if sse.event == "alert":
                        with self.changed:
                            self.events.append((int(sse.id), json.loads(sse.data)))
                            self.changed.notify_all()
                    if self.stop:
                        return
            except httpx.ReadTimeout:
                return

    def wait_for(self, n: int, timeout: float = 15) -> list[tuple[int, dict[str, Any]]]:
        with self.changed:
            assert self.changed.wait_for(lambda: len(self.events) >= n, timeout), self.events
            return list(self.events)

    def close(self) -> None:
        self.stop = True
        self.thread.join(10)


def test_stream_resume_misses_nothing(
    api_url: str, world: World, database_url: str, token_for: Callable[..., Headers]
) -> None:
    headers = token_for("dispatcher", world.a.district)
    url = f"{api_url}/alerts/stream"
    live = Reader(url, headers)
    assert live.connected.wait(10)
    mine = [raise_one(database_url, world, 1)]
    raise_one(database_url, world, 2, district=world.b.district)  # foreign: never streamed
    mine.append(raise_one(database_url, world, 3))
    got = live.wait_for(2)
    live.close()
    assert [e[1]["alert_id"] for e in got] == mine
    first_id = got[0][0]
    # Disconnected: more changes happen, one of them through the API.
    r = httpx.post(f"{api_url}/alerts/{mine[0]}/ack", json={"by": "desk-1"}, headers=headers)
    assert r.status_code == 200 and r.json()["state"] == "acknowledged"
    mine.append(raise_one(database_url, world, 4))
    resumed = Reader(url, {**headers, "Last-Event-ID": str(first_id)})
    events = resumed.wait_for(3)
    resumed.close()
    ids = [e[0] for e in events]
    assert ids == sorted(ids) and ids[0] > first_id
    assert [(e[1]["alert_id"], e[1]["state"]) for e in events[:3]] == [
        (mine[1], "open"),
        (mine[0], "acknowledged"),
        (mine[2], "open"),
    ]
    assert all(
        e[1]["location"] is None or e[1]["location"].get("district") != world.b.district
        for e in events
    )


def test_actions_and_conflicts(
    api_url: str, world: World, database_url: str, token_for: Callable[..., Headers]
) -> None:
    headers = token_for("dispatcher", world.a.district)
    alert_id = raise_one(database_url, world, 10)
    base = f"{api_url}/alerts/{alert_id}"
    assert httpx.post(f"{base}/arrive", json={"by": "tech"}, headers=headers).status_code == 200
    assert httpx.post(f"{base}/ack", json={"by": "d"}, headers=headers).status_code == 409
    assert httpx.post(f"{base}/resolve", json={"by": "d"}, headers=headers).status_code == 422
    r = httpx.post(
        f"{base}/resolve", json={"by": "d", "resolution": "repaired", "note": "ok"}, headers=headers
    )
    assert r.status_code == 200
    assert r.json()["resolution"] == "repaired" and r.json()["resolved_at"]
    assert (
        httpx.post(
            f"{base}/resolve", json={"by": "d", "resolution": "other"}, headers=headers
        ).status_code
        == 409
    )
    assert httpx.post(f"{base}/explode", json={"by": "d"}, headers=headers).status_code == 422


def test_alert_filters(api_url: str, world: World, admin_headers: Headers) -> None:
    r = httpx.get(
        f"{api_url}/alerts",
        params={"kind": "postcheck_missing", "equipment_id": world.a.cylinder},
        headers=admin_headers,
    )
    assert [a["alert_id"] for a in r.json()["items"]] == [world.a.alerts[1]]
    r = httpx.get(
        f"{api_url}/alerts",
        params={"state": "resolved", "equipment_id": world.a.cylinder},
        headers=admin_headers,
    )
    assert r.json()["items"] == []
    r = httpx.get(
        f"{api_url}/alerts", params={"since": "2100-01-01T00:00:00Z"}, headers=admin_headers
    )
    assert r.json() == {"items": [], "next_cursor": None}
    assert (
        httpx.get(f"{api_url}/alerts", params={"kind": "bogus"}, headers=admin_headers).status_code
        == 422
    )


def test_notify_wakes_the_stream_without_polling(database_url: str, world: World) -> None:
    """With polling pushed out to a minute, only LISTEN/NOTIFY can deliver."""
    from tests.api.conftest import LiveServer, make_settings

    settings = make_settings(database_url)
    settings.api.stream_poll_s = 60.0
    server = LiveServer(settings)
    server.start()
    try:
        headers = {"Authorization": f"Bearer {settings.api.bootstrap_admin_token}"}
        reader = Reader(f"http://127.0.0.1:{settings.api.port}/alerts/stream", headers)
        assert reader.connected.wait(10)
        alert_id = raise_one(database_url, world, 99)
        got = reader.wait_for(1, timeout=10)
        reader.close()
        assert got[0][1]["alert_id"] == alert_id
    finally:
        server.stop()
