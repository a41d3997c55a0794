"""100 consoles resuming /alerts/stream with ?after=0 at once: every stream
gets the whole replay (none is cut by a pool timeout) and a dispatcher's ack
meanwhile is answered (the replays take turns on a few of the pool's
connections). Ack latency under the storm: bench/stream_bench.py."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import psycopg
import pytest
from httpx_sse import aconnect_sse

from semon.domain.alerts import AlertDraft
from semon.i18n import msg as i18n_msg
from semon.settings import Settings
from semon.store.alerts import raise_alert
from tests.api.conftest import LiveServer, make_settings, token_factory

CONSOLES = 100
ALERTS = 300


@pytest.fixture(scope="module")
def small_pool_server(database_url: str) -> Iterator[tuple[str, Settings]]:
    """A server whose pool is small next to 100 consoles (as 10 is next to a
    city's dispatch room), and that gives up on a connection after 1 s."""
    settings = make_settings(database_url)
    settings.storage.pool_max = 4
    settings.api.pool_timeout_s = 1.0
    server = LiveServer(settings)
    server.start()
    try:
        yield f"http://127.0.0.1:{settings.api.port}", settings
    finally:
        server.stop()


async def _raise_many(dsn: str, district: str, n: int) -> list[str]:
    ids = []
    async with await psycopg.AsyncConnection.connect(dsn) as conn:
        for i in range(n):
            now = datetime.now(UTC)
            msg, _ = await raise_alert(
                conn,
                AlertDraft(
                    condition_key=f"storm:{district}:{i}",
                    kind="elevator_fault",
                    equipment_type="elevator",
                    equipment_id=f"{district}-E{i % 50}",
                    started_at=now,
                    # a message of a realistic size
                    summary=i18n_msg(
                        "alert.elevator_fault.summary.detail",
                        elevator_id=f"{district}-E{i % 50}",
                        code="overspeed",
                        detail=f"fault {i} " + "x" * 400,
                    ),
                    details={"code": "overspeed"},
                    district=district,
                ),
                now=now,
            )
            ids.append(msg.alert_id)
        await conn.commit()
    return ids


async def _console(
    client: httpx.AsyncClient, url: str, headers: dict[str, str], want: set[str], stop: int = 0
) -> set[str]:
    """Resume from the start; returns the alert ids seen once all are in (or
    once ``stop`` are: a console closed mid-replay)."""
    seen: set[str] = set()
    async with aconnect_sse(client, "GET", url, params={"after": 0}, headers=headers) as source:
        assert source.response.status_code == 200
        async for sse in source.aiter_sse():
            if sse.event == "alert":
                seen.add(json.loads(sse.data)["alert_id"])
                if want <= seen or len(seen) == stop:
                    break
    return seen


@pytest.mark.slow
async def test_a_hundred_consoles_replaying_leave_room_for_an_ack(
    small_pool_server: tuple[str, Settings], database_url: str
) -> None:
    url, settings = small_pool_server
    admin = {"Authorization": f"Bearer {settings.api.bootstrap_admin_token}"}
    district = f"storm-{uuid.uuid4().hex[:8]}"
    headers = await asyncio.to_thread(token_factory(url, admin), "dispatcher", district)
    ids = await _raise_many(database_url, district, ALERTS)
    want = set(ids)
    limits = httpx.Limits(max_connections=CONSOLES + 10, max_keepalive_connections=0)
    timeout = httpx.Timeout(60, read=30)
    async with httpx.AsyncClient(limits=limits, timeout=timeout) as client:
        stream = f"{url}/alerts/stream"
        consoles = [
            asyncio.create_task(_console(client, stream, headers, want)) for _ in range(CONSOLES)
        ]
        # Consoles closed mid-replay (mid-turn) leave no turn taken.
        closed = [
            asyncio.create_task(_console(client, stream, headers, want, stop=5)) for _ in range(10)
        ]
        await asyncio.sleep(0.3)  # the storm is on
        r = await client.post(f"{url}/alerts/{ids[0]}/ack", json={"by": "desk-1"}, headers=headers)
        assert r.status_code == 200, r.text
        results = await asyncio.gather(*consoles, return_exceptions=True)
        assert all(len(r) == 5 for r in await asyncio.gather(*closed))
        late = await asyncio.wait_for(_console(client, stream, headers, want), 30)
        assert want <= late
    cut = [r for r in results if not isinstance(r, set) or not want <= r]
    assert not cut, f"{len(cut)} of {CONSOLES} streams cut: {cut[:3]}"
