"""A read answers 503 by its deadline when the database stops answering at
all (a private PostgreSQL frozen with SIGSTOP: the statement timeout never
fires), in the reader's language; the API answers again once it thaws, and
an answer that has started (the alert stream) is not cut at the deadline."""

from __future__ import annotations

import asyncio
import os
import signal
import time

import httpx

from tests.alerts.helpers import postgres_pids, private_postgres
from tests.api.conftest import LiveServer, make_settings

DEADLINE_S = 1.0


def _get(url: str, headers: dict[str, str]) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    r = httpx.get(url, headers=headers, timeout=30)
    return r, time.monotonic() - started


def _stream_lines(url: str, headers: dict[str, str], seconds: float) -> list[str]:
    """The stream's lines for `seconds` (pings arrive every second)."""
    lines: list[str] = []
    with httpx.stream("GET", url, headers=headers, timeout=30) as r:
        assert r.status_code == 200
        end = time.monotonic() + seconds
        for line in r.iter_lines():
            lines.append(line)
            if time.monotonic() > end:
                break
    return lines


async def test_a_read_answers_503_by_its_deadline_on_a_frozen_database() -> None:
    async with private_postgres() as (pg, dsn):
        settings = make_settings(dsn)
        settings.api.request_deadline_s = DEADLINE_S
        server = LiveServer(settings)
        await asyncio.to_thread(server.start)
        url = f"http://{settings.api.host}:{settings.api.port}"
        admin = {"Authorization": f"Bearer {settings.api.bootstrap_admin_token}"}
        try:
            r, _ = await asyncio.to_thread(_get, f"{url}/alerts", admin)
            assert r.status_code == 200, r.text
            # Started answers run past the deadline: pings for three of them.
            lines = await asyncio.to_thread(
                _stream_lines, f"{url}/alerts/stream", admin, 3 * DEADLINE_S
            )
            assert sum(1 for x in lines if x.startswith(":")) >= 2, lines
            pids = postgres_pids(pg.pgdata)
            for pid in pids:
                os.kill(pid, signal.SIGSTOP)
            try:
                # The token lookup waits first; then the route's own query.
                for path, headers in (("/alerts", admin), ("/healthz", {})):
                    for lang, words in (("zh-CN", "数据库没有响应"), ("en", "does not respond")):
                        r, took = await asyncio.to_thread(
                            _get, f"{url}{path}", {**headers, "Accept-Language": lang}
                        )
                        assert r.status_code == 503, r.text
                        assert r.headers["retry-after"]
                        assert words in r.json()["detail"]
                        assert took < DEADLINE_S + 1.0, took
            finally:
                for pid in pids:
                    os.kill(pid, signal.SIGCONT)
            for _ in range(100):  # thawed: answered again
                r, _ = await asyncio.to_thread(_get, f"{url}/alerts", admin)
                if r.status_code == 200:
                    break
                await asyncio.sleep(0.1)
            assert r.status_code == 200, r.text
        finally:
            await asyncio.to_thread(server.stop)
