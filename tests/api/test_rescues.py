"""Rescues through the live API: calls open or join, Idempotency-Key, every
step with the alert following, 409 on illegal steps, bad input naming the
field with nothing stored, scope, a terminal's trap opening exactly one
rescue, and `event: rescue` on the stream with Last-Event-ID resume."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import psycopg
import pytest
from httpx_sse import connect_sse

from semon import i18n
from semon.domain.alerts import AlertDraft
from semon.store.alerts import raise_alert

Headers = dict[str, str]


def _post(url: str, headers: Headers, body: Any, **kw: Any) -> httpx.Response:
    return httpx.post(url, json=body, headers=headers, timeout=30, **kw)


def lift_setup(api_url: str, admin: Headers, uid: str, n: int = 2) -> dict[str, Any]:
    """A firm, a rescue organisation and ``n`` lifts of one district, with codes."""
    district, firm = f"{uid}-d", f"{uid}-F"
    assert (
        _post(
            f"{api_url}/registry/firms",
            admin,
            [
                {
                    "firm_id": firm,
                    "name": "Pearl Lifts",
                    "credit_grade": "A",
                    "tech_level": 4,
                    "phone": "020-1111",
                }
            ],
        ).status_code
        == 200
    )
    lifts = [f"{uid}-E{i}" for i in range(n)]
    codes = [f"{uid[-6:]}{i}" for i in range(n)]
    r = _post(
        f"{api_url}/registry/elevators",
        admin,
        [
            {
                "elevator_id": e,
                "address": f"{i} Jiefang Rd",
                "district": district,
                "use_unit": "Mansions",
                "firm_id": firm,
                "installed_on": "2015-01-01",
                "rescue_code": c,
            }
            for i, (e, c) in enumerate(zip(lifts, codes, strict=True))
        ],
    )
    assert r.status_code == 200, r.text
    r = _post(
        f"{api_url}/registry/rescue-orgs",
        admin,
        [
            {
                "org_id": f"{uid}-RO",
                "name": "Rescue Station",
                "district": district,
                "phone": "020-2222",
            }
        ],
    )
    assert r.status_code == 200, r.text
    return {"district": district, "firm": firm, "lifts": lifts, "codes": codes}


def count(dsn: str, query: str, *args: Any) -> int:
    with psycopg.connect(dsn) as conn:
        row = conn.execute(query, args).fetchone()
        assert row is not None
        return int(row[0])


def test_calls_open_then_join_and_idempotency(
    api_url: str,
    admin_headers: Headers,
    token_for: Callable[..., Headers],
    uid: str,
    database_url: str,
) -> None:
    w = lift_setup(api_url, admin_headers, uid)
    desk = token_for("dispatcher", w["district"])
    key = {"Idempotency-Key": f"{uid}-call-1"}
    first = _post(
        f"{api_url}/rescues",
        {**desk, **key},
        {"rescue_code": w["codes"][0], "caller_name": "Li", "trapped_reported": 2},
    )
    assert first.status_code == 201, first.text
    rescue = first.json()
    assert rescue["state"] == "open" and rescue["source"] == "call" and rescue["tier"] == 1
    assert rescue["elevator_id"] == w["lifts"][0] and len(rescue["calls"]) == 1
    assert rescue["next_deadline"]["kind"] == "dispatch"
    assert [t["tier"] for t in rescue["ladder"]] == [1, 2, 3]
    assert rescue["ladder"][0]["phone"] == "020-1111"
    # the alert it opened
    alerts = httpx.get(
        f"{api_url}/alerts", params={"equipment_id": w["lifts"][0]}, headers=desk
    ).json()["items"]
    assert [(a["alert_id"], a["kind"], a["details"]["source"]) for a in alerts] == [
        (rescue["alert_id"], "trapped_passenger", "call")
    ]
    # the same request again: the same call, answered as the first time
    again = _post(
        f"{api_url}/rescues",
        {**desk, **key},
        {"rescue_code": w["codes"][0], "caller_name": "Li", "trapped_reported": 2},
    )
    assert again.status_code == 201 and again.json()["rescue_id"] == rescue["rescue_id"]
    assert len(again.json()["calls"]) == 1
    # the key with another call: refused, nothing stored
    other = _post(f"{api_url}/rescues", {**desk, **key}, {"elevator_id": w["lifts"][0]})
    assert other.status_code == 409
    # two more calls about the lift (by id, by code): one rescue, three calls
    for body in ({"elevator_id": w["lifts"][0]}, {"rescue_code": w["codes"][0], "note": "x"}):
        joined = _post(f"{api_url}/rescues", desk, body)
        assert joined.status_code == 200, joined.text
        assert joined.json()["rescue_id"] == rescue["rescue_id"]
    assert len(joined.json()["calls"]) == 3
    assert (
        count(database_url, "SELECT count(*) FROM rescues WHERE elevator_id = %s", w["lifts"][0])
        == 1
    )
    assert (
        count(database_url, "SELECT count(*) FROM alerts WHERE equipment_id = %s", w["lifts"][0])
        == 1
    )


def test_steps_move_the_rescue_and_its_alert(
    api_url: str, admin_headers: Headers, token_for: Callable[..., Headers], uid: str
) -> None:
    w = lift_setup(api_url, admin_headers, uid)
    desk = token_for("dispatcher", w["district"])
    firm = token_for("maintenance", w["firm"])
    rescue = _post(f"{api_url}/rescues", desk, {"elevator_id": w["lifts"][1]}).json()
    base = f"{api_url}/rescues/{rescue['rescue_id']}"

    def alert_state() -> str:
        items = httpx.get(
            f"{api_url}/alerts", params={"equipment_id": w["lifts"][1]}, headers=desk
        ).json()["items"]
        return str(items[0]["state"])

    assert _post(f"{base}/arrive", desk, {}).status_code == 409  # nobody dispatched
    assert _post(f"{base}/free", desk, {"trapped_count": 1, "injured_count": 0}).status_code == 409
    bad = _post(f"{base}/dispatch", desk, {"tier": 4, "assignee": "x", "phone": "1"})
    assert bad.status_code == 422 and "tier" in json.dumps(bad.json())
    assert _post(f"{base}/explode", desk, {}).status_code == 422
    assert (
        _post(f"{base}/dispatch", firm, {"tier": 1, "assignee": "x", "phone": "1"}).status_code
        == 403
    )
    r = _post(
        f"{base}/dispatch",
        desk,
        {"tier": 1, "assignee": "Pearl crew 3", "phone": "020-5555", "eta_min": 12},
    )
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "dispatched" and r.json()["next_deadline"]["kind"] == "arrival"
    assert alert_state() == "dispatched"
    assert _post(f"{base}/callback", desk, {"note": "told them help is coming"}).status_code == 200
    r = _post(f"{base}/arrive", firm, {})
    assert r.status_code == 200 and r.json()["state"] == "on_site"
    assert r.json()["assignments"][0]["arrived_at"] and r.json()["next_deadline"] is None
    assert alert_state() == "on_site"
    neg = _post(f"{base}/free", firm, {"trapped_count": -1, "injured_count": 0})
    assert neg.status_code == 422 and "trapped_count" in json.dumps(neg.json())
    r = _post(f"{base}/free", firm, {"trapped_count": 2, "injured_count": 1})
    assert r.status_code == 200 and r.json()["state"] == "freed"
    alerts = httpx.get(
        f"{api_url}/alerts", params={"equipment_id": w["lifts"][1]}, headers=desk
    ).json()["items"]
    assert (alerts[0]["state"], alerts[0]["resolution"]) == ("resolved", "rescued")
    assert (
        _post(
            f"{base}/cause", firm, {"cause_category": "door_system", "cause_note": "x"}
        ).status_code
        == 409
    )  # not closed yet
    bad = _post(f"{base}/close", desk, {"cause_category": "aliens"})
    assert bad.status_code == 422 and "cause_category" in json.dumps(bad.json())
    r = _post(f"{base}/close", desk, {"cause_category": "external"})
    assert r.status_code == 200 and r.json()["state"] == "closed"
    assert _post(f"{base}/close", desk, {"cause_category": "external"}).status_code == 409
    other_firm = token_for("maintenance", f"{uid}-other")
    assert (
        _post(
            f"{base}/cause", other_firm, {"cause_category": "door_system", "cause_note": "x"}
        ).status_code
        == 404
    )
    r = _post(f"{base}/cause", firm, {"cause_category": "door_system", "cause_note": "door lock"})
    assert r.status_code == 200, r.text
    done = httpx.get(base, headers=desk).json()
    assert (done["cause_category"], done["cause_note"]) == ("door_system", "door lock")
    assert (done["trapped_count"], done["injured_count"]) == (2, 1)
    assert done["callback_at"] and done["callback_note"] == "told them help is coming"
    assert [a["tier"] for a in done["assignments"]] == [1]


def test_bad_input_names_the_field_and_stores_nothing(
    api_url: str,
    admin_headers: Headers,
    token_for: Callable[..., Headers],
    uid: str,
    database_url: str,
) -> None:
    w = lift_setup(api_url, admin_headers, uid, n=1)
    desk = token_for("dispatcher", w["district"])
    elsewhere = token_for("dispatcher", f"{uid}-elsewhere")
    before = count(database_url, "SELECT count(*) FROM rescues")
    cases: list[tuple[Headers, dict[str, Any], str]] = [
        (desk, {"elevator_id": f"{uid}-nope"}, "elevator_id"),
        (desk, {"rescue_code": "000000x"}, "rescue_code"),
        (elsewhere, {"elevator_id": w["lifts"][0]}, "elevator_id"),  # out of scope
        (desk, {"elevator_id": w["lifts"][0], "trapped_reported": -2}, "trapped_reported"),
        (desk, {"caller_name": "nobody"}, "elevator_id"),
        (desk, {"elevator_id": "bad id!"}, "elevator_id"),
    ]
    for headers, body, field in cases:
        r = _post(f"{api_url}/rescues", headers, body)
        assert r.status_code == 422, (body, r.text)
        assert field in json.dumps(r.json()), (field, r.text)
    assert (
        _post(
            f"{api_url}/rescues", token_for("regulator"), {"elevator_id": w["lifts"][0]}
        ).status_code
        == 403
    )
    assert count(database_url, "SELECT count(*) FROM rescues") == before
    assert httpx.get(f"{api_url}/rescues/rs_nope", headers=desk).status_code == 404
    # a rescue code is one car's
    dup = _post(
        f"{api_url}/registry/elevators",
        admin_headers,
        [
            {
                "elevator_id": f"{uid}-E9",
                "address": "9 Rd",
                "district": w["district"],
                "use_unit": "u",
                "installed_on": "2015-01-01",
                "rescue_code": w["codes"][0],
            }
        ],
    )
    assert dup.status_code == 422 and "rescue_code" in dup.text


def test_a_terminal_trap_opens_exactly_one_rescue(
    api_url: str,
    admin_headers: Headers,
    token_for: Callable[..., Headers],
    uid: str,
    database_url: str,
) -> None:
    w = lift_setup(api_url, admin_headers, uid, n=1)
    eid = w["lifts"][0]

    async def trap() -> str:
        async with await psycopg.AsyncConnection.connect(database_url) as conn:
            msg, _ = await raise_alert(
                conn,
                AlertDraft(
                    condition_key=f"trapped_passenger:{eid}",
                    kind="trapped_passenger",
                    equipment_type="elevator",
                    equipment_id=eid,
                    started_at=datetime.now(UTC),
                    summary=i18n.msg("alert.trapped_passenger.summary.unplaced", elevator_id=eid),
                    district=w["district"],
                    firm_id=w["firm"],
                ),
                now=datetime.now(UTC),
                worker="test",
            )
            await conn.commit()
            return msg.alert_id

    alert_id = asyncio.run(trap())
    assert asyncio.run(trap()) == alert_id  # the terminal repeats itself: one alert
    desk = token_for("dispatcher", w["district"])
    page = httpx.get(f"{api_url}/rescues", params={"elevator_id": eid}, headers=desk).json()
    assert [(r["alert_id"], r["source"]) for r in page["items"]] == [(alert_id, "terminal")]
    # a call about the lift joins it
    r = _post(f"{api_url}/rescues", desk, {"rescue_code": w["codes"][0]})
    assert r.status_code == 200 and r.json()["alert_id"] == alert_id
    # scope: a regulator elsewhere and a station see none of it
    for headers in (token_for("regulator", f"{uid}-x"), token_for("station", f"{uid}-S")):
        got = httpx.get(f"{api_url}/rescues", params={"elevator_id": eid}, headers=headers)
        assert got.status_code == 200 and got.json()["items"] == []
        rid = page["items"][0]["rescue_id"]
        assert httpx.get(f"{api_url}/rescues/{rid}", headers=headers).status_code == 404


def test_list_filters_and_paging(
    api_url: str, admin_headers: Headers, token_for: Callable[..., Headers], uid: str
) -> None:
    w = lift_setup(api_url, admin_headers, uid, n=3)
    desk = token_for("dispatcher", w["district"])
    made = [
        _post(f"{api_url}/rescues", desk, {"elevator_id": e}).json()["rescue_id"]
        for e in w["lifts"]
    ]
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"district": w["district"], "limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = httpx.get(f"{api_url}/rescues", params=params, headers=desk).json()
        seen += [r["rescue_id"] for r in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == made[::-1]
    now = datetime.now(UTC)
    later = httpx.get(
        f"{api_url}/rescues",
        params={"district": w["district"], "from": (now + timedelta(hours=1)).isoformat()},
        headers=desk,
    ).json()
    assert later["items"] == []
    assert (
        httpx.get(f"{api_url}/rescues", params={"state": "sleeping"}, headers=desk).status_code
        == 422
    )
    hits = httpx.get(f"{api_url}/rescues/lifts", params={"q": w["codes"][1]}, headers=desk).json()
    assert hits[0]["elevator_id"] == w["lifts"][1]
    hits = httpx.get(f"{api_url}/rescues/lifts", params={"q": "2 Jiefang"}, headers=desk).json()
    assert [h["elevator_id"] for h in hits] == [w["lifts"][2]]


@pytest.mark.timeout(60)
def test_rescue_events_stream_and_resume(
    api_url: str, admin_headers: Headers, token_for: Callable[..., Headers], uid: str
) -> None:
    w = lift_setup(api_url, admin_headers, uid, n=1)
    desk = token_for("dispatcher", w["district"])
    rescue = _post(f"{api_url}/rescues", desk, {"elevator_id": w["lifts"][0]}).json()
    base = f"{api_url}/rescues/{rescue['rescue_id']}"
    _post(f"{base}/dispatch", desk, {"tier": 1, "assignee": "crew", "phone": "1"})
    _post(f"{base}/arrive", desk, {})

    def read(headers: Headers, n: int) -> list[tuple[int, str, dict[str, Any]]]:
        got: list[tuple[int, str, dict[str, Any]]] = []
        with (
            httpx.Client(timeout=httpx.Timeout(30, read=5)) as client,
            connect_sse(
                client,
                "GET",
                f"{api_url}/alerts/stream",
                headers=headers,
                params={"after": 0} if "Last-Event-ID" not in headers else None,
            ) as src,
        ):
            for sse in src.iter_sse():
                data = json.loads(sse.data)
                if data.get("rescue_id") == rescue["rescue_id"] or (
                    data.get("alert_id") == rescue["alert_id"]
                ):
                    got.append((int(sse.id), sse.event, data))
                if len(got) >= n:
                    return got
        return got

    # everything about this rescue, from the start: the alert's and the rescue's changes
    events = read(desk, 7)
    kinds = [(e[1], e[2].get("event")) for e in events]
    assert kinds == [
        ("alert", "raise"),
        ("rescue", "open"),
        ("rescue", "call"),
        ("alert", "dispatch"),
        ("rescue", "dispatch"),
        ("alert", "arrive"),
        ("rescue", "arrive"),
    ], kinds
    ids = [e[0] for e in events]
    assert ids == sorted(ids)
    assert events[6][2]["state"] == "on_site"
    # resume after the dispatch: the rest, nothing missed
    after_dispatch = events[4][0]
    _post(f"{base}/free", desk, {"trapped_count": 1, "injured_count": 0})
    resumed = read({**desk, "Last-Event-ID": str(after_dispatch)}, 4)
    assert [(e[1], e[2].get("event")) for e in resumed] == [
        ("alert", "arrive"),
        ("rescue", "arrive"),
        ("alert", "resolve"),
        ("rescue", "free"),
    ]


def test_concurrent_first_calls_open_one_rescue(
    api_url: str,
    admin_headers: Headers,
    token_for: Callable[..., Headers],
    uid: str,
    database_url: str,
) -> None:
    """Five desks take a first call about one lift at the same moment, two of
    them sending the same Idempotency-Key: one rescue, one alert, four calls."""
    import concurrent.futures

    w = lift_setup(api_url, admin_headers, uid, n=1)
    desk = token_for("dispatcher", w["district"])
    same_key = {"Idempotency-Key": f"{uid}-dup"}
    headers = [desk, desk, desk, {**desk, **same_key}, {**desk, **same_key}]
    with concurrent.futures.ThreadPoolExecutor(5) as pool:
        answers = list(
            pool.map(
                lambda h: _post(f"{api_url}/rescues", h, {"rescue_code": w["codes"][0]}), headers
            )
        )
    assert all(r.status_code in (200, 201) for r in answers), [r.text for r in answers]
    assert len({r.json()["rescue_id"] for r in answers}) == 1
    opened = [i for i, r in enumerate(answers) if r.status_code == 201]
    # one request opened it; when it was a keyed one, its repeat answers 201 too
    assert opened in ([0], [1], [2], [3, 4]), opened
    eid = w["lifts"][0]
    assert count(database_url, "SELECT count(*) FROM rescues WHERE elevator_id = %s", eid) == 1
    assert count(database_url, "SELECT count(*) FROM alerts WHERE equipment_id = %s", eid) == 1
    assert (
        count(
            database_url,
            "SELECT count(*) FROM rescue_calls c JOIN rescues r USING (rescue_id)"
            " WHERE r.elevator_id = %s",
            eid,
        )
        == 4
    )
