"""Content of an elevator's file and history, and of a cylinder's trace."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from tests.api.world import World, build_world

Headers = dict[str, str]


@pytest.fixture(scope="module")
def world(api_url: str, admin_headers: Headers, database_url: str) -> World:
    return build_world(api_url, admin_headers, database_url, "files")


def test_elevator_file(api_url: str, world: World, token_for: Callable[..., Headers]) -> None:
    headers = token_for("maintenance", world.a.firm)
    r = httpx.get(f"{api_url}/elevators/{world.a.elevator}", headers=headers)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["elevator"]["district"] == world.a.district
    assert body["firm"]["firm_id"] == world.a.firm
    assert body["latest_status"]["ts"] == "2026-11-21T08:19:50Z"
    assert body["latest_status"]["trips"] == 119
    assert [a["alert_id"] for a in body["open_alerts"]] == [world.a.alerts[0]]


def test_history_raw_and_downsampled(api_url: str, world: World, admin_headers: Headers) -> None:
    url = f"{api_url}/elevators/{world.a.elevator}/history"
    raw = httpx.get(
        url,
        params={"from": "2026-11-21T08:00:00Z", "to": "2026-11-21T08:10:00Z"},
        headers=admin_headers,
    ).json()
    assert raw["resolution_s"] is None
    assert len(raw["samples"]) == 60
    assert raw["samples"][0]["ts"] == "2026-11-21T08:00:00Z"
    assert [e["code"] for e in raw["events"]] == ["alarm_button"]
    assert [a["alert_id"] for a in raw["alerts"]] == [world.a.alerts[0]]
    assert raw["rescues"][0]["alert_id"] == world.a.alerts[0]
    # A week: bucketed with date_bin, every sample counted once.
    week = httpx.get(
        url,
        params={"from": "2026-11-18T08:00:00Z", "to": "2026-11-25T08:00:00Z"},
        headers=admin_headers,
    ).json()
    assert week["resolution_s"] is not None and week["resolution_s"] >= 300
    assert sum(p["samples"] for p in week["samples"]) == 120
    assert max(p["trips"] for p in week["samples"]) == 119
    # Window limits.
    for params in (
        {"from": "2026-11-21T09:00:00Z", "to": "2026-11-21T08:00:00Z"},
        {"from": "2026-01-01T00:00:00Z", "to": "2026-11-21T08:00:00Z"},
    ):
        assert httpx.get(url, params=params, headers=admin_headers).status_code == 422


def test_cylinder_trace_paged(
    api_url: str, world: World, token_for: Callable[..., Headers]
) -> None:
    headers = token_for("station", world.a.station)
    url = f"{api_url}/cylinders/{world.a.cylinder}/trace"
    first = httpx.get(url, params={"limit": 3}, headers=headers).json()
    assert first["cylinder"]["owner_station_id"] == world.a.station
    assert first["owner_station"]["district"] == world.a.district
    assert [i["inspected_on"] for i in first["inspections"]] == ["2024-06-01"]
    assert [a["kind"] for a in first["alerts"]] == ["postcheck_missing"]
    assert len(first["fillings"]) == 3 and first["next_cursor"]
    f0 = first["fillings"][0]
    assert f0["station_id"] == world.a.station and f0["operator_id"] == "op-1"
    assert f0["precheck"] == {"passed": True, "failed_items": []} and f0["postcheck"] is None
    second = httpx.get(
        url, params={"limit": 3, "cursor": first["next_cursor"]}, headers=headers
    ).json()
    assert second["next_cursor"] is None
    ids = [f["filling_id"] for f in first["fillings"] + second["fillings"]]
    assert ids == [f"{world.a.cylinder}-f{i}" for i in range(5)]
    ends = [f["ended_at"] for f in first["fillings"] + second["fillings"]]
    assert ends == sorted(ends)
    assert httpx.get(url, params={"cursor": "garbage"}, headers=headers).status_code == 422
