"""One rule for times in query strings, on every route that takes one: an
RFC 3339 date-time with an offset (`Z` or `±hh:mm`) is taken at its offset;
anything else is refused with 422 naming the parameter."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from tests.api.world import World, build_world

Headers = dict[str, str]

# (route, its time parameters); {e} is an elevator of the world.
ROUTES = [
    ("/alerts", ("since",)),
    ("/elevators/{e}/history", ("from", "to")),
    ("/stats/illegal-fillings", ("from", "to")),
    ("/stats/rescue", ("from", "to")),
]
# A window around the world's T0 (2026-11-21T08:00Z) written both ways.
GOOD = {
    "since": "2026-11-21T00:00:00Z",
    "from": "2026-11-21T00:00:00Z",
    "to": "2026-11-22T08:00:00+08:00",
}
REFUSED = {
    "no offset": "2026-11-21T08:00:00",
    "space for the T": "2026-11-21 08:00:00+08:00",
    "ISO week date": "2026-W47-6T08:00:00+08:00",
    "ordinal date": "2026-325T08:00:00+08:00",
    "basic format": "20261121T080000+0800",
    "no seconds": "2026-11-21T08:00+08:00",
    "epoch seconds": "1795248000",
    "a date": "2026-11-21",
    "out of range": "2026-11-31T08:00:00Z",
}
ACCEPTED = [
    "2026-11-21T08:00:00Z",
    "2026-11-21T16:00:00+08:00",
    "2026-11-21T08:00:00.250+00:00",
    "2026-11-21t08:00:00z",
]


@pytest.fixture(scope="module")
def world(api_url: str, admin_headers: Headers, database_url: str) -> World:
    return build_world(api_url, admin_headers, database_url, "qtime")


@pytest.mark.parametrize(("path", "names"), ROUTES)
@pytest.mark.parametrize("why", sorted(REFUSED))
def test_refused_with_422_naming_the_parameter(
    api_url: str,
    admin_headers: Headers,
    world: World,
    path: str,
    names: tuple[str, ...],
    why: str,
) -> None:
    url = api_url + path.format(e=world.a.elevator)
    for name in names:
        params = {n: GOOD[n] for n in names} | {name: REFUSED[why]}
        r = httpx.get(url, params=params, headers=admin_headers)
        assert r.status_code == 422, (name, r.text)
        errors = r.json()["detail"]
        assert [e["loc"] for e in errors] == [["query", name]], errors
        assert "RFC 3339" in errors[0]["msg"] or "date-time" in errors[0]["msg"]


@pytest.mark.parametrize(("path", "names"), ROUTES)
def test_offsets_and_z_accepted(
    api_url: str, admin_headers: Headers, world: World, path: str, names: tuple[str, ...]
) -> None:
    url = api_url + path.format(e=world.a.elevator)
    for value in ACCEPTED:
        # Each accepted form as the window's start (or `since`), `to` a day on.
        params = {n: GOOD[n] for n in names} | {names[0]: value}
        r = httpx.get(url, params=params, headers=admin_headers)
        assert r.status_code == 200, (value, r.text)


def test_the_offset_is_honoured(
    api_url: str, admin_headers: Headers, world: World, token_for: Callable[..., Headers]
) -> None:
    """The same instants written at +08:00 and in UTC select the same rows, and
    the answer gives them in UTC."""
    history = f"{api_url}/elevators/{world.a.elevator}/history"
    local = httpx.get(
        history,
        params={"from": "2026-11-21T16:00:00+08:00", "to": "2026-11-21T16:10:00+08:00"},
        headers=admin_headers,
    ).json()
    assert local["from"] == "2026-11-21T08:00:00Z" and local["to"] == "2026-11-21T08:10:00Z"
    assert len(local["samples"]) == 60
    assert local["samples"][0]["ts"] == "2026-11-21T08:00:00Z"

    # The world's alerts changed at T0 + 6 min = 16:06 in Shanghai.
    alerts = f"{api_url}/alerts"
    for since, count in (("2026-11-21T16:06:00+08:00", 1), ("2026-11-21T16:06:01+08:00", 0)):
        body = httpx.get(
            alerts,
            params={"since": since, "equipment_id": world.a.elevator},
            headers=admin_headers,
        ).json()
        assert len(body["items"]) == count, (since, body)

    # The trapped passenger started at T0 + 5 min: inside 16:00-16:10 +08:00,
    # outside 08:00-08:10 +08:00 (which is midnight UTC).
    regulator = token_for("regulator", world.a.district)
    for start, end, start_utc, count in (
        ("2026-11-21T16:00:00+08:00", "2026-11-21T16:10:00+08:00", "2026-11-21T08:00:00Z", 1),
        ("2026-11-21T08:00:00+08:00", "2026-11-21T08:10:00+08:00", "2026-11-21T00:00:00Z", 0),
    ):
        body = httpx.get(
            f"{api_url}/stats/rescue", params={"from": start, "to": end}, headers=regulator
        ).json()
        assert body["overall"]["count"] == count, (start, body)
        assert body["from"] == start_utc


def test_days_stay_dates(api_url: str, admin_headers: Headers) -> None:
    r = httpx.get(
        f"{api_url}/stats/overdue-inspections", params={"at": "2026-12-01"}, headers=admin_headers
    )
    assert r.status_code == 200, r.text
    assert r.json()["at"] == "2026-12-01"


NOT_DAYS = ["2026-12-01T00:00:00Z", "2026-12-01T00:00:00", "1764547200", "2026-W49-1"]


@pytest.mark.parametrize("value", NOT_DAYS)
def test_days_in_queries_and_bodies_are_yyyy_mm_dd(
    api_url: str, admin_headers: Headers, world: World, value: str
) -> None:
    """A day elsewhere than YYYY-MM-DD (a date-time, epoch seconds, a week)
    is refused with 422 naming the field, and nothing is stored."""
    r = httpx.get(
        f"{api_url}/stats/overdue-inspections", params={"at": value}, headers=admin_headers
    )
    assert r.status_code == 422, r.text
    assert [e["loc"] for e in r.json()["detail"]] == [["query", "at"]]

    r = httpx.post(
        f"{api_url}/maintenance/records",
        json={
            "elevator_id": world.a.elevator,
            "done_on": value,
            "kind": "routine",
            "firm_id": world.a.firm,
        },
        headers=admin_headers,
    )
    assert r.status_code == 422, r.text
    # One record or a list: the single record's error names the field.
    assert ["body", "MaintenanceRecord", "done_on"] in [e["loc"] for e in r.json()["detail"]]

    r = httpx.post(
        f"{api_url}/inspections",
        json=[
            {
                "equipment_type": "elevator",
                "equipment_id": world.a.elevator,
                "inspected_on": value,
                "result": "pass",
                "inspector": "qtime",
            }
        ],
        headers=admin_headers,
    )
    assert r.status_code == 422, r.text
    assert r.json()["failures"][0]["reason"].startswith("inspected_on: "), r.text
    r = httpx.get(f"{api_url}/elevators/{world.a.elevator}", headers=admin_headers)
    assert r.json()["elevator"].get("last_inspected_on") != "2026-12-01"


def test_the_refusal_is_in_the_readers_language(
    api_url: str, admin_headers: Headers, world: World
) -> None:
    url = f"{api_url}/stats/rescue"
    params = {"from": "2026-W49-1T00:00:00+08:00", "to": "2026-12-02T00:00:00Z"}
    zh = httpx.get(url, params=params, headers=admin_headers)
    en = httpx.get(url, params=params, headers={**admin_headers, "Accept-Language": "en"})
    assert zh.status_code == en.status_code == 422
    assert zh.json()["detail"][0]["msg"].startswith("应为带时区偏移的 RFC 3339 时间")
    assert en.json()["detail"][0]["msg"].startswith("expected an RFC 3339 date-time")
