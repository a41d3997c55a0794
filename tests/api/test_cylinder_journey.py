"""The cylinder trace with deliveries: fillings and deliveries in one
timeline in time order, page by page, and where the cylinder is now."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson
import psycopg

Headers = dict[str, str]


def _store_filling(
    conn: psycopg.Connection[Any], fid: str, st: str, cid: str, at: datetime
) -> None:
    check = orjson.dumps({"passed": True, "failed_items": []}).decode()
    conn.execute(
        "INSERT INTO fillings (filling_id, station_id, cylinder_id, gas, operator_id, started_at,"
        " ended_at, result, net_kg, precheck, postcheck, received_at)"
        " VALUES (%s, %s, %s, 'lpg', 'op', %s, %s, 'filled', 14, %s, %s, now())",
        (fid, st, cid, at - timedelta(minutes=2), at, check, check),
    )


def _store_delivery(
    conn: psycopg.Connection[Any],
    did: str,
    st: str,
    cids: list[str],
    at: datetime,
    direction: str,
    customer: str | None = None,
) -> None:
    """What ingest stores for a delivery message (tests/ingest/test_deliveries.py)."""
    conn.execute(
        "INSERT INTO deliveries (delivery_id, station_id, ts, direction, cylinder_ids, customer,"
        " address, district, received_at) VALUES (%s, %s, %s, %s, %s, %s, %s, 'north', now())",
        (did, st, at, direction, cids, customer, f"{customer} street" if customer else None),
    )
    for cid in cids:
        conn.execute(
            "INSERT INTO delivery_items (cylinder_id, ts, delivery_id) VALUES (%s, %s, %s)",
            (cid, at, did),
        )


def _trace(api_url: str, headers: Headers, cid: str, **params: Any) -> dict[str, Any]:
    r = httpx.get(f"{api_url}/cylinders/{cid}/trace", params=params, headers=headers, timeout=30)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def test_trace_shows_the_journey_and_where_the_cylinder_is(
    api_url: str,
    admin_headers: Headers,
    token_for: Callable[..., Headers],
    database_url: str,
    uid: str,
) -> None:
    st, cid, other = f"{uid}-st", f"{uid}-cy", f"{uid}-cy2"
    r = httpx.post(
        f"{api_url}/registry/stations",
        json=[{"station_id": st, "name": "North gas", "district": "north"}],
        headers=admin_headers,
    )
    assert r.status_code == 200, r.text
    cylinders = [
        {
            "cylinder_id": c,
            "gas": "lpg",
            "manufactured_on": "2024-01-01",
            "max_fill_kg": 14.5,
            "design_life_years": 8,
            "inspection_interval_years": 4,
            "owner_station_id": st,
        }
        for c in (cid, other)
    ]
    r = httpx.post(f"{api_url}/registry/cylinders", json=cylinders, headers=admin_headers)
    assert r.status_code == 200, r.text
    station = token_for("station", st)
    assert _trace(api_url, station, cid)["whereabouts"] == {
        "state": "unknown",
        "since": None,
        "station_id": None,
        "customer": None,
        "address": None,
        "district": None,
        "delivery_id": None,
    }
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(days=3)
    with psycopg.connect(database_url, autocommit=True) as conn:
        _store_filling(conn, f"{uid}-f1", st, cid, t0)
        # Loaded at the very instant the fill ended: filled, then out.
        _store_delivery(conn, f"{uid}-d1", st, [cid, other], t0, "out", "Noodle shop")
        _store_delivery(conn, f"{uid}-d2", st, [cid], t0 + timedelta(days=1), "return")
        _store_filling(conn, f"{uid}-f2", st, cid, t0 + timedelta(days=1, hours=1))
        _store_delivery(conn, f"{uid}-d3", st, [cid], t0 + timedelta(days=2), "out", "Tea house")
    body = _trace(api_url, station, cid)
    assert [(e["type"], e["id"], e["what"]) for e in body["timeline"]] == [
        ("filling", f"{uid}-f1", "filled"),
        ("delivery", f"{uid}-d1", "out"),
        ("delivery", f"{uid}-d2", "return"),
        ("filling", f"{uid}-f2", "filled"),
        ("delivery", f"{uid}-d3", "out"),
    ]
    assert [d["delivery_id"] for d in body["deliveries"]] == [f"{uid}-d{i}" for i in (1, 2, 3)]
    where = body["whereabouts"]
    assert where["state"] == "with_customer" and where["customer"] == "Tea house"
    assert where["delivery_id"] == f"{uid}-d3" and where["station_id"] == st
    assert datetime.fromisoformat(where["since"]) == t0 + timedelta(days=2)
    # The other cylinder went out with the first delivery and never came back.
    assert _trace(api_url, station, other)["whereabouts"]["customer"] == "Noodle shop"

    # Page by page: each delivery shown once, with the fillings around it.
    first = _trace(api_url, station, cid, limit=1)
    assert [e["id"] for e in first["timeline"]] == [f"{uid}-f1", f"{uid}-d1"]
    last = _trace(api_url, station, cid, limit=1, cursor=first["next_cursor"])
    assert [e["id"] for e in last["timeline"]] == [f"{uid}-d2", f"{uid}-f2", f"{uid}-d3"]
    assert last["next_cursor"] is None

    # Returned: at the station since the return.
    with psycopg.connect(database_url, autocommit=True) as conn:
        _store_delivery(conn, f"{uid}-d4", st, [cid], t0 + timedelta(days=2, hours=5), "return")
    where = _trace(api_url, station, cid)["whereabouts"]
    assert (where["state"], where["station_id"], where["delivery_id"]) == (
        "at_station",
        st,
        f"{uid}-d4",
    )
    # Another station's token: not found, as if it did not exist.
    r = httpx.get(
        f"{api_url}/cylinders/{cid}/trace", headers=token_for("station", f"{uid}-else"), timeout=30
    )
    assert r.status_code == 404
