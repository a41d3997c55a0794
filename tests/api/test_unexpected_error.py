"""A defect answers 500 as problem details in the reader's language, with an
id that finds its traceback in the log; the server goes on serving."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import httpx
import psycopg
import pytest

from tests.api.conftest import make_settings, serving

Headers = dict[str, str]


@pytest.fixture
def server(fresh_database_url: str) -> Iterator[tuple[str, Headers]]:
    settings = make_settings(fresh_database_url)
    with serving(settings) as served:
        yield served


def test_an_unexpected_error_is_a_problem_with_an_id_in_the_log(
    server: tuple[str, Headers], fresh_database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    url, headers = server
    # A schema the code does not expect (a failed or partial migration): not
    # the database being away (503), a defect the API cannot answer around.
    with psycopg.connect(fresh_database_url, autocommit=True) as conn:
        conn.execute("ALTER TABLE rescues RENAME TO rescues_gone")
    with caplog.at_level(logging.ERROR, logger="api.errors"):
        zh = httpx.get(f"{url}/rescues", headers=headers, timeout=10)
        en = httpx.get(f"{url}/rescues", headers={**headers, "Accept-Language": "en"}, timeout=10)
    assert zh.status_code == en.status_code == 500
    assert zh.headers["content-type"] == "application/json"
    body = zh.json()
    assert body["title"] == "服务器内部错误"
    assert body["error_id"] in body["detail"] and "编号" in body["detail"]
    assert en.json()["title"] == "Internal server error"
    assert en.json()["error_id"] in en.json()["detail"]
    assert body["error_id"] != en.json()["error_id"]
    logged = [r for r in caplog.records if body["error_id"] in r.getMessage()]
    assert logged and logged[0].exc_info is not None
    assert "rescues" in str(logged[0].exc_info[1])
    # The server goes on: health, and the same route once the table is back.
    assert httpx.get(f"{url}/healthz", timeout=10).status_code == 200
    with psycopg.connect(fresh_database_url, autocommit=True) as conn:
        conn.execute("ALTER TABLE rescues_gone RENAME TO rescues")
    assert httpx.get(f"{url}/rescues", headers=headers, timeout=10).status_code == 200
