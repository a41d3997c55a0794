"""A database that is slow or busy answers 503 with a JSON body, never 500."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import httpx
import psycopg
import pytest

from tests.api.conftest import make_settings, serving

Headers = dict[str, str]


@pytest.fixture(scope="module")
def tight_server(database_url: str) -> Iterator[tuple[str, Headers]]:
    settings = make_settings(database_url)
    settings.api.statement_timeout_ms = 1500
    settings.api.pool_timeout_s = 0.2
    settings.storage.pool_min = 1
    settings.storage.pool_max = 1
    with serving(settings) as served:
        yield served


def wait_for_lock_waiter(dsn: str, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    with psycopg.connect(dsn, autocommit=True) as conn:
        while time.monotonic() < deadline:
            row = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                " AND query LIKE '%%FROM elevators e%%'"
            ).fetchone()
            if row and row[0]:
                return
            time.sleep(0.02)
    raise TimeoutError("the API's query never waited on the lock")


def test_timeouts_answer_503(tight_server: tuple[str, Headers], database_url: str) -> None:
    url, headers = tight_server
    results: dict[str, httpx.Response] = {}
    with psycopg.connect(database_url) as locker:
        locker.execute("LOCK TABLE elevators IN ACCESS EXCLUSIVE MODE")

        def slow() -> None:
            results["slow"] = httpx.get(f"{url}/elevators/E-locked", headers=headers, timeout=30)

        t = threading.Thread(target=slow)
        t.start()
        wait_for_lock_waiter(database_url)
        # The only pooled connection is busy: the next request cannot get one.
        busy = httpx.get(f"{url}/alerts", headers=headers, timeout=30)
        t.join(30)
        locker.rollback()
    assert results["slow"].status_code == 503
    assert results["slow"].json() == {
        "type": "about:blank",
        "title": "服务暂不可用",
        "status": 503,
        "detail": "查询超时，请稍后重试",
    }
    assert busy.status_code == 503
    assert busy.headers["retry-after"]
    assert "请稍后重试" in busy.json()["detail"]
    # Once the database is free again, the same server answers normally.
    assert httpx.get(f"{url}/healthz").status_code == 200
