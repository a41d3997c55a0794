"""Alert summaries in the reader's language: the list, an elevator's file, the
live stream and an action's answer render the stored key and arguments per
Accept-Language (zh-CN when none is asked for); the stored text stays in the
platform's language, and the key never shows in an answer."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import psycopg
import pytest
from httpx_sse import connect_sse

from tests.api.world import World, build_world

Headers = dict[str, str]
EN = {"Accept-Language": "en-US,en;q=0.9,zh;q=0.5"}


@pytest.fixture(scope="module")
def world(api_url: str, admin_headers: Headers, database_url: str) -> World:
    return build_world(api_url, admin_headers, database_url, "lang")


def texts(eid: str) -> tuple[str, str]:
    return (
        f"电梯 {eid} 困人：终端报告有人被困（3 层附近）",
        f"Passengers trapped in elevator {eid} near floor 3: "
        "the terminal reports a trapped passenger",
    )


def streamed(url: str, headers: Headers, count: int) -> list[dict[str, Any]]:
    got: list[dict[str, Any]] = []
    with (
        httpx.Client(timeout=httpx.Timeout(30, read=10)) as client,
        connect_sse(client, "GET", url, headers=headers) as source,
    ):
        for sse in source.iter_sse():
            if sse.event == "alert":
                got.append(json.loads(sse.data))
            if len(got) >= count:
                return got
    return got


def test_summaries_follow_accept_language(
    api_url: str, world: World, database_url: str, token_for: Callable[..., Headers]
) -> None:
    headers = token_for("dispatcher", world.a.district)
    eid = world.a.elevator
    zh, en = texts(eid)
    trapped_id = world.a.alerts[0]

    def listed(extra: Headers) -> dict[str, Any]:
        r = httpx.get(
            f"{api_url}/alerts",
            params={"equipment_id": eid, "kind": "trapped_passenger"},
            headers={**headers, **extra},
        )
        assert r.status_code == 200, r.text
        [item] = r.json()["items"]
        return dict(item)

    assert listed({})["summary"] == zh
    assert listed({"Accept-Language": "zh-CN,zh;q=0.9"})["summary"] == zh
    item = listed(EN)
    assert item["summary"] == en
    assert "summary_key" not in item and "summary_args" not in item

    r = httpx.get(f"{api_url}/elevators/{eid}", headers={**headers, **EN})
    assert [a["summary"] for a in r.json()["open_alerts"]] == [en]
    r = httpx.get(
        f"{api_url}/elevators/{eid}/history",
        params={"from": "2026-11-21T07:00:00Z", "to": "2026-11-21T10:00:00Z"},
        headers=headers,
    )
    assert [a["summary"] for a in r.json()["alerts"]] == [zh]
    r = httpx.get(f"{api_url}/cylinders/{world.a.cylinder}/trace", headers={**headers, **EN})
    assert [a["summary"] for a in r.json()["alerts"]] == [
        f"Station {world.a.station} filled cylinder {world.a.cylinder} with no post-fill check"
    ]

    # Replayed from the start of what is kept: this district's two alerts.
    events = streamed(f"{api_url}/alerts/stream?after=0", {**headers, **EN}, 2)
    assert {e["alert_id"]: e["summary"] for e in events}[trapped_id] == en
    assert all("summary_key" not in e for e in events)

    r = httpx.post(
        f"{api_url}/alerts/{trapped_id}/ack", json={"by": "desk-1"}, headers={**headers, **EN}
    )
    assert r.status_code == 200, r.text
    assert r.json()["summary"] == en and "summary_key" not in r.json()

    # Stored: the platform's language (the setting's default, zh-CN), and the key.
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            "SELECT summary, summary_key FROM alerts WHERE alert_id = %s", (trapped_id,)
        ).fetchone()
    assert row == (zh, "alert.trapped_passenger.summary.reported")


def test_rows_without_a_key_keep_their_text(
    api_url: str, world: World, database_url: str, token_for: Callable[..., Headers]
) -> None:
    """An alert stored before summaries had keys is shown as it was written."""
    headers = token_for("dispatcher", world.a.district)
    postcheck_id = world.a.alerts[1]
    with psycopg.connect(database_url) as conn:
        conn.execute(
            "UPDATE alerts SET summary = 'written long ago', summary_key = NULL,"
            " summary_args = NULL WHERE alert_id = %s",
            (postcheck_id,),
        )
    r = httpx.get(
        f"{api_url}/alerts", params={"kind": "postcheck_missing"}, headers={**headers, **EN}
    )
    summaries = {a["alert_id"]: a["summary"] for a in r.json()["items"]}
    assert summaries[postcheck_id] == "written long ago"
