"""`/stats/rescue`'s work-order figures over rescues stored with known step
times: each leg's median and p90, the 5- and 30-minute shares, people freed
and injured, cause and tier shares, escalations; by district, by firm, and
overall within the caller's scope."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import psycopg
import pytest
from psycopg.types.json import Jsonb

Headers = dict[str, str]
T = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)
WINDOW = {"from": "2025-03-01T00:00:00Z", "to": "2025-03-02T00:00:00Z"}


def store_rescue(
    conn: psycopg.Connection[Any],
    rid: str,
    district: str,
    firm: str,
    *,
    opened: datetime,
    dispatch_s: float | None = None,
    on_site_s: float | None = None,
    freed_s: float | None = None,
    trapped: int | None = None,
    injured: int | None = None,
    tier: int | None = None,
    cause: str | None = None,
    escalations: tuple[str, ...] = (),
) -> None:
    """A rescue and its alert as the steps would have left them; times in
    seconds after the previous step."""
    dispatched = opened + timedelta(seconds=dispatch_s) if dispatch_s is not None else None
    on_site = dispatched + timedelta(seconds=on_site_s) if dispatched and on_site_s else None
    freed = on_site + timedelta(seconds=freed_s) if on_site and freed_s else None
    alert_id = "al_" + rid
    conn.execute(
        "INSERT INTO alerts (alert_id, condition_key, kind, severity, state, equipment_type,"
        " equipment_id, district, firm_id, started_at, raised_at, updated_at, summary, details)"
        " VALUES (%s, %s, 'trapped_passenger', 'critical', 'resolved', 'elevator', %s, %s, %s,"
        " %s, %s, %s, 'trapped', %s)",
        (alert_id, "k:" + rid, "E" + rid, district, firm, opened, opened, opened, Jsonb({})),
    )
    conn.execute(
        "INSERT INTO rescues (rescue_id, elevator_id, alert_id, source, state, tier, on_site_tier,"
        " district, firm_id, opened_at, dispatched_at, on_site_at, freed_at, closed_at,"
        " trapped_count, injured_count, cause_category, updated_at)"
        " VALUES (%s, %s, %s, 'terminal', 'closed', %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s,"
        " %s, %s)",
        (
            rid,
            "E" + rid,
            alert_id,
            tier or 1,
            tier,
            district,
            firm,
            opened,
            dispatched,
            on_site,
            freed,
            opened + timedelta(hours=2),
            trapped,
            injured,
            cause,
            opened,
        ),
    )
    # the store counts each escalation it records on the rescue
    conn.execute(
        "UPDATE rescues SET escalation_count = %s WHERE rescue_id = %s", (len(escalations), rid)
    )
    for n, reason in enumerate(escalations, 1):
        conn.execute(
            "INSERT INTO rescue_escalations (rescue_id, reason, ref, at, due_at, from_tier,"
            " to_tier) VALUES (%s, %s, %s, %s, %s, 1, 2)",
            (rid, reason, n, opened, opened),
        )


@pytest.fixture(scope="module")
def world(database_url: str) -> dict[str, str]:
    uid = "rs" + datetime.now(UTC).strftime("%H%M%S%f")
    x, y, f1, f2 = f"{uid}-X", f"{uid}-Y", f"{uid}-F1", f"{uid}-F2"
    with psycopg.connect(database_url) as conn:
        store_rescue(
            conn,
            f"{uid}1",
            x,
            f1,
            opened=T,
            dispatch_s=60,
            on_site_s=600,
            freed_s=300,
            trapped=2,
            injured=0,
            tier=1,
            cause="external",
        )
        store_rescue(
            conn,
            f"{uid}2",
            x,
            f2,
            opened=T,
            dispatch_s=400,
            on_site_s=1500,
            freed_s=120,
            trapped=1,
            injured=1,
            tier=2,
            cause="door_system",
            escalations=("dispatch_overdue", "arrival_overdue"),
        )
        store_rescue(conn, f"{uid}3", x, f1, opened=T + timedelta(hours=1), cause="external")
        store_rescue(
            conn,
            f"{uid}4",
            y,
            f2,
            opened=T,
            dispatch_s=100,
            on_site_s=200,
            freed_s=100,
            trapped=3,
            injured=0,
            tier=1,
        )
        # outside the window
        store_rescue(conn, f"{uid}5", y, f2, opened=T - timedelta(days=2), dispatch_s=1)
    return {"x": x, "y": y, "f1": f1, "f2": f2}


def get(api_url: str, headers: Headers, **params: str) -> dict[str, Any]:
    r = httpx.get(
        f"{api_url}/stats/rescue", params={**WINDOW, **params}, headers=headers, timeout=30
    )
    assert r.status_code == 200, r.text
    return dict(r.json())


def test_work_order_figures_by_district(
    api_url: str, world: dict[str, str], token_for: Callable[..., Headers]
) -> None:
    body = get(api_url, token_for("regulator", world["x"], world["y"]), group_by="district")
    x = next(g for g in body["groups"] if g["key"] == world["x"])
    assert x["rescues"] == 3
    assert x["dispatched_within_5min"] == pytest.approx(1 / 3)
    assert x["open_to_dispatch_median_s"] == pytest.approx(230)
    assert x["open_to_dispatch_p90_s"] == pytest.approx(366)
    assert x["dispatch_to_on_site_median_s"] == pytest.approx(1050)
    assert x["dispatch_to_on_site_p90_s"] == pytest.approx(1410)
    assert x["on_site_to_freed_median_s"] == pytest.approx(210)
    assert x["on_site_to_freed_p90_s"] == pytest.approx(282)
    assert x["on_site_within_30min"] == pytest.approx(1 / 3)
    assert (x["people_freed"], x["injured"], x["escalations"]) == (3, 1, 2)
    assert x["by_cause"] == pytest.approx({"door_system": 1 / 3, "external": 2 / 3})
    assert x["by_tier"] == {"1": 0.5, "2": 0.5}
    o = body["overall"]
    assert (o["rescues"], o["people_freed"], o["injured"], o["escalations"]) == (4, 6, 1, 2)
    assert o["dispatched_within_5min"] == pytest.approx(2 / 4)
    assert o["open_to_dispatch_median_s"] == pytest.approx(100)
    assert o["by_tier"] == pytest.approx({"1": 2 / 3, "2": 1 / 3})


def test_by_firm_and_scope(
    api_url: str, world: dict[str, str], token_for: Callable[..., Headers]
) -> None:
    body = get(api_url, token_for("regulator", world["y"]), group_by="firm_id")
    assert [(g["key"], g["rescues"]) for g in body["groups"]] == [(world["f2"], 1)]
    assert body["overall"]["rescues"] == 1 and body["overall"]["people_freed"] == 3
    firm = get(api_url, token_for("maintenance", world["f1"]), group_by="firm_id")
    assert [(g["key"], g["rescues"], g["by_cause"]) for g in firm["groups"]] == [
        (world["f1"], 2, {"external": 1.0})
    ]
    assert firm["overall"]["dispatch_to_on_site_median_s"] == pytest.approx(600)
    none = get(api_url, token_for("regulator", "nowhere-" + world["x"]), group_by="district")
    assert none["groups"] == [] and none["overall"]["rescues"] == 0
    assert none["overall"]["by_cause"] == {} and none["overall"]["dispatched_within_5min"] is None
