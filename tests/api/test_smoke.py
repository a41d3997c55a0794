"""The server starts with its lifespan, serves health, OpenAPI and metrics."""

from __future__ import annotations

import time

import httpx


def test_healthz_needs_no_token(api_url: str) -> None:
    r = httpx.get(f"{api_url}/healthz")
    assert r.status_code == 200
    assert r.json() == {"status": "ok", "database": "ok"}


def test_openapi_lists_every_contract_route(api_url: str) -> None:
    spec = httpx.get(f"{api_url}/openapi.json").json()
    for path in (
        "/healthz",
        "/metrics",
        "/registry/elevators",
        "/registry/cylinders",
        "/registry/firms",
        "/registry/stations",
        "/inspections",
        "/alerts",
        "/alerts/stream",
        "/alerts/{alert_id}/{action}",
        "/elevators/{elevator_id}",
        "/elevators/{elevator_id}/history",
        "/cylinders/{cylinder_id}/trace",
    ):
        assert path in spec["paths"], path


def test_metrics_need_a_token(api_url: str, admin_headers: dict[str, str]) -> None:
    assert httpx.get(f"{api_url}/metrics").status_code == 401
    r = httpx.get(f"{api_url}/metrics", headers=admin_headers)
    assert r.status_code == 200
    assert "semon_api_requests_total" in r.text


def test_metrics_have_the_event_loop_lag(api_url: str, admin_headers: dict[str, str]) -> None:
    """The API's loop lag, as ingest and alerts have theirs: the soak reads
    each process's p99 per window (bench/alerts_bench.py --soak-minutes)."""
    deadline = time.monotonic() + 10
    while True:
        text = httpx.get(f"{api_url}/metrics", headers=admin_headers).text
        counts = [
            float(line.rpartition(" ")[2])
            for line in text.splitlines()
            if line.startswith("semon_api_event_loop_lag_seconds_count")
        ]
        if counts and counts[0] > 0:
            break
        assert time.monotonic() < deadline, "no loop-lag observation in 10 s"
        time.sleep(0.2)


def test_metrics_count_answers_by_route_template(
    api_url: str, admin_headers: dict[str, str]
) -> None:
    """Each answer is counted and timed under its route's template, never the
    raw path (which would carry ids into label values)."""
    missing = httpx.get(f"{api_url}/elevators/EL-NOT-THERE-9/inspections", headers=admin_headers)
    assert missing.status_code == 404
    text = httpx.get(f"{api_url}/metrics", headers=admin_headers).text
    labels = 'method="GET",route="/elevators/{elevator_id}/inspections"'
    assert f'semon_api_requests_total{{{labels},status="404"}}' in text
    assert f"semon_api_request_seconds_count{{{labels}}}" in text
    assert "EL-NOT-THERE-9" not in text


def test_bad_token_is_401(api_url: str) -> None:
    r = httpx.get(f"{api_url}/alerts", headers={"Authorization": "Bearer nope"})
    assert r.status_code == 401


def test_console_page_is_served(api_url: str) -> None:
    page = httpx.get(f"{api_url}/console")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert httpx.get(f"{api_url}/console/console.js").status_code == 200
    assert httpx.get(f"{api_url}/console/..%2Fapp.py").status_code == 404
