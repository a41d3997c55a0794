"""Input a database cannot hold, or too much of it, answers 4xx naming what
was wrong, and nothing is stored: text fields of alert actions, query
parameters of every route, and bodies over the size limit."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.api.world import World, build_world

Headers = dict[str, str]


@pytest.fixture(scope="module")
def world(api_url: str, admin_headers: Headers, database_url: str) -> World:
    return build_world(api_url, admin_headers, database_url, "badin")


def _alert(api_url: str, headers: Headers, world: World) -> dict[str, object]:
    r = httpx.get(f"{api_url}/alerts", params={"equipment_id": world.a.elevator}, headers=headers)
    assert r.status_code == 200, r.text
    items = r.json()["items"]
    assert items
    return dict(items[0])


def _locs(r: httpx.Response) -> list[list[object]]:
    return [e["loc"] for e in r.json()["detail"]]


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        (b'{"by": "nul\\u0000here"}', "by"),
        (b'{"by": "lone \\ud800 surrogate"}', "by"),
        (b'{"by": "two\\nlines"}', "by"),
        (b'{"by": ""}', "by"),
        (b'{"by": "ok", "note": "nul\\u0000here"}', "note"),
        (b'{"by": "ok", "note": "lone \\udfff"}', "note"),
    ],
)
def test_action_text_refused_naming_the_field(
    api_url: str, admin_headers: Headers, world: World, raw: bytes, field: str
) -> None:
    before = _alert(api_url, admin_headers, world)
    alert_id = before["alert_id"]
    r = httpx.post(
        f"{api_url}/alerts/{alert_id}/ack",
        content=raw,
        headers=admin_headers | {"Content-Type": "application/json"},
    )
    assert r.status_code == 422, r.text
    assert _locs(r) == [["body", field]], r.text
    assert _alert(api_url, admin_headers, world) == before


def test_ten_megabyte_by_refused(api_url: str, admin_headers: Headers, world: World) -> None:
    before = _alert(api_url, admin_headers, world)
    r = httpx.post(
        f"{api_url}/alerts/{before['alert_id']}/ack",
        json={"by": "x" * 10_000_000},
        headers=admin_headers,
        timeout=60,
    )
    assert r.status_code == 422, r.text[:500]
    assert _locs(r) == [["body", "by"]]
    assert _alert(api_url, admin_headers, world) == before


def test_body_over_the_limit_is_413(api_url: str, admin_headers: Headers, world: World) -> None:
    limit = 16 * 1024 * 1024
    before = _alert(api_url, admin_headers, world)
    url = f"{api_url}/alerts/{before['alert_id']}/ack"
    body = b'{"by": "' + b"x" * limit + b'"}'
    r = httpx.post(url, content=body, headers=admin_headers, timeout=60)
    assert r.status_code == 413, r.text[:500]
    assert f"{limit:,}" in r.json()["detail"]

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
        yield b'{"by": "'
        for _ in range(17):
            yield b"x" * (1024 * 1024)
        yield b'"}'

    r = httpx.post(url, content=chunks(), headers=admin_headers, timeout=60)
    assert r.status_code == 413, r.text[:500]
    assert _alert(api_url, admin_headers, world) == before


@pytest.mark.parametrize(
    ("path", "query", "name"),
    [
        ("/maintenance/scores", "firm_id=%00", "firm_id"),
        ("/maintenance/scores", "limit=5&firm_id=a%00b", "firm_id"),
        ("/alerts", "equipment_id=%00", "equipment_id"),
        ("/alerts", "cursor=ab%00", "cursor"),
        ("/alerts", "state=open%0A", "state"),
        ("/stats/overdue-inspections", "group_by=district&equipment=%FF", "equipment"),
        ("/alerts", "na%00me=1", "na\x00me"),
    ],
)
def test_query_text_refused_naming_the_parameter(
    api_url: str, admin_headers: Headers, path: str, query: str, name: str
) -> None:
    r = httpx.get(f"{api_url}{path}?{query}", headers=admin_headers)
    assert r.status_code == 422, r.text
    assert _locs(r) == [["query", name]]
    assert "U+" in r.json()["detail"][0]["msg"] or "UTF-8" in r.json()["detail"][0]["msg"]


def test_the_message_speaks_the_readers_language(api_url: str, admin_headers: Headers) -> None:
    r = httpx.get(
        f"{api_url}/maintenance/scores?firm_id=%00",
        headers=admin_headers | {"Accept-Language": "zh-CN"},
    )
    assert r.status_code == 422
    assert "控制字符" in r.json()["detail"][0]["msg"]


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"role": "dispatcher", "label": "nul\x00"}, ["body", "dispatcher", "label"]),
        ({"role": "dispatcher", "label": "two\nlines"}, ["body", "dispatcher", "label"]),
        (
            {"role": "dispatcher", "allow_unknown_scope": 0},
            ["body", "dispatcher", "allow_unknown_scope"],
        ),
        ({"role": "station", "scope": []}, ["body", "station", "scope"]),
        ({"role": "admin", "scope": ["d1"]}, ["body", "admin", "scope"]),
    ],
)
def test_token_requests_refused_naming_the_field(
    api_url: str, admin_headers: Headers, body: dict[str, object], loc: list[str]
) -> None:
    r = httpx.post(f"{api_url}/tokens", json=body, headers=admin_headers)
    assert r.status_code == 422, r.text
    assert _locs(r) == [loc]


def test_resolving_needs_a_resolution_named_in_the_schema(
    api_url: str, admin_headers: Headers, world: World
) -> None:
    before = _alert(api_url, admin_headers, world)
    r = httpx.post(
        f"{api_url}/alerts/{before['alert_id']}/resolve", json={"by": "d"}, headers=admin_headers
    )
    assert r.status_code == 422, r.text
    assert _locs(r) == [["body", "resolution"]]
    assert _alert(api_url, admin_headers, world) == before


def test_true_or_false_is_not_a_number(api_url: str, admin_headers: Headers) -> None:
    """pydantic's lax mode took JSON false for 0 (an elevator stored at lon 0)."""
    elevator = {
        "elevator_id": "badin-bool",
        "address": "1 Road",
        "district": "badin-d",
        "use_unit": "u",
        "installed_on": "2012-05-01",
        "lon": False,
    }
    r = httpx.post(f"{api_url}/registry/elevators", json=[elevator], headers=admin_headers)
    assert r.status_code == 422, r.text
    assert _locs(r) == [["body", 0, "lon"]]
    r = httpx.post(
        f"{api_url}/rescues",
        json={"elevator_id": "badin-bool", "trapped_reported": False},
        headers=admin_headers | {"Idempotency-Key": "badin-bool-1"},
    )
    assert r.status_code == 422, r.text
    assert ["body", "trapped_reported"] in _locs(r)


def test_hazards_and_self_checks_refuse_nul_and_non_days(
    api_url: str, admin_headers: Headers, world: World
) -> None:
    hazard = {
        "equipment_type": "elevator",
        "equipment_id": world.a.elevator,
        "source": "inspection",
        "level": "general",
        "description": "gap\x00",
        "found_on": "2026-11-20",
    }
    r = httpx.post(f"{api_url}/hazards", json=hazard, headers=admin_headers)
    assert r.status_code == 422, r.text
    assert _locs(r) == [["body", "description"]]
    r = httpx.post(
        f"{api_url}/hazards",
        json=hazard | {"description": "gap", "found_on": "2026-11-20T00:00:00Z"},
        headers=admin_headers,
    )
    assert r.status_code == 422, r.text
    assert _locs(r) == [["body", "found_on"]]
    check = {"use_unit": "u", "kind": "daily", "done_on": 0, "by": "x"}
    r = httpx.post(f"{api_url}/self-checks", json=check, headers=admin_headers)
    assert r.status_code == 422, r.text
    assert ["body", "done_on"] in _locs(r)
