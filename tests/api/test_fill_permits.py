"""The fill permit: one condition per cylinder, each answered with the very
kinds the filling alerts would raise for a fill of it; bad input refused;
every answer kept; a database too slow answered "unknown, try again"."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import psycopg
from psycopg.rows import dict_row

from alerts.fillings import filling_drafts
from alerts.registry import RegistryCache
from semon.domain.wire import Filling
from semon.store.pool import open_pool
from tests.alerts.helpers import postgres_pids, private_postgres
from tests.api.conftest import LiveServer, make_settings

Headers = dict[str, str]


def _years_ago(n: int) -> str:
    today = datetime.now(UTC).date()
    return today.replace(year=today.year - n, day=min(today.day, 28)).isoformat()


def _cylinder(cid: str, owner: str, **overrides: Any) -> dict[str, Any]:
    return {
        "cylinder_id": cid,
        "gas": "lpg",
        "manufactured_on": _years_ago(1),
        "max_fill_kg": 14.5,
        "design_life_years": 8,
        "inspection_interval_years": 4,
        "owner_station_id": owner,
        "status": "in_service",
        **overrides,
    }


def _register(api_url: str, admin: Headers, path: str, body: list[dict[str, Any]]) -> None:
    r = httpx.post(f"{api_url}/registry/{path}", json=body, headers=admin, timeout=30)
    assert r.status_code == 200, r.text


def _permit(api_url: str, headers: Headers, cid: str, station: str, gas: str) -> httpx.Response:
    return httpx.get(
        f"{api_url}/cylinders/{cid}/fill-permit",
        params={"station_id": station, "gas": gas},
        headers=headers,
        timeout=30,
    )


def _kept(dsn: str, permit_ids: list[str], timeout: float = 10.0) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while True:
        with psycopg.connect(dsn, row_factory=dict_row) as conn:
            rows = conn.execute(
                "SELECT * FROM fill_permits WHERE permit_id = ANY(%s)", (permit_ids,)
            ).fetchall()
        if len(rows) == len(permit_ids) or time.monotonic() > deadline:
            return rows
        time.sleep(0.05)


async def _as_alerts_read(
    dsn: str, station_id: str, cylinder_ids: list[str]
) -> tuple[dict[str, Any] | None, dict[str, dict[str, Any] | None]]:
    async with open_pool(dsn, name="t") as pool:
        registry = RegistryCache(pool, refresh_s=3600)
        station = await registry.station(station_id)
        return station, {cid: await registry.cylinder(cid) for cid in cylinder_ids}


def test_permit_and_alerts_agree_on_every_condition(
    api_url: str,
    admin_headers: Headers,
    token_for: Callable[..., Headers],
    database_url: str,
    uid: str,
) -> None:
    st, other = f"{uid}-st", f"{uid}-other"
    _register(
        api_url,
        admin_headers,
        "stations",
        [
            {"station_id": st, "name": "North gas", "district": "north"},
            {"station_id": other, "name": "South gas", "district": "south"},
        ],
    )
    cases: dict[str, tuple[dict[str, Any] | None, list[str]]] = {
        "ok": (_cylinder(f"{uid}-ok", st), []),
        "unreg": (None, ["filling_unregistered_cylinder"]),
        "scrap": (
            _cylinder(f"{uid}-scrap", st, status="scrapped", tag="rfid"),
            ["filling_scrapped_cylinder"],
        ),
        "old": (
            _cylinder(
                f"{uid}-old", st, manufactured_on=_years_ago(9), last_inspected_on=_years_ago(1)
            ),
            ["filling_scrapped_cylinder"],
        ),
        "overdue": (
            _cylinder(
                f"{uid}-overdue", st, manufactured_on=_years_ago(6), last_inspected_on=_years_ago(5)
            ),
            ["filling_overdue_cylinder"],
        ),
        "foreign": (_cylinder(f"{uid}-foreign", other), ["filling_foreign_cylinder"]),
        "gas": (_cylinder(f"{uid}-gas", st, gas="oxygen"), ["gas_mismatch"]),
        "all": (
            _cylinder(
                f"{uid}-all",
                other,
                gas="oxygen",
                status="scrapped",
                manufactured_on=_years_ago(7),
                last_inspected_on=_years_ago(5),
            ),
            [
                "filling_scrapped_cylinder",
                "filling_overdue_cylinder",
                "filling_foreign_cylinder",
                "gas_mismatch",
            ],
        ),
    }
    _register(api_url, admin_headers, "cylinders", [c for c, _ in cases.values() if c is not None])
    station = token_for("station", st)
    answers: dict[str, dict[str, Any]] = {}
    for name, (row, expected) in cases.items():
        cid = row["cylinder_id"] if row else f"{uid}-unreg"
        r = _permit(api_url, station, cid, st, "lpg")
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["reasons"] == expected, name
        assert body["allow"] is (not expected)
        if row is not None:  # the registry facts a scan shows, tag type among them
            assert body["registry"]["tag"] == row.get("tag", "none")
        answers[name] = body
    # The alerts' side: a fill of the same cylinder, gas and station, judged
    # by the alerts service's own function against the registry as the alerts
    # service reads it (its RegistryCache).
    rows = asyncio.run(
        _as_alerts_read(database_url, st, [a["cylinder_id"] for a in answers.values()])
    )
    station_row, cylinder_rows = rows
    for name, body in answers.items():
        now = datetime.now(UTC)
        fill = Filling.model_validate(
            {
                "filling_id": f"{uid}-f-{name}",
                "cylinder_id": body["cylinder_id"],
                "gas": "lpg",
                "operator_id": "op-1",
                "started_at": now.isoformat(),
                "ended_at": now.isoformat(),
                "result": "filled",
                "net_kg": 14.0,
                "precheck": {"passed": True, "failed_items": []},
                "postcheck": {"passed": True, "failed_items": []},
            }
        )
        drafts = filling_drafts(
            st, fill, cylinder_rows[body["cylinder_id"]], station_row, overfill_raised=False
        )
        assert [d.kind for d in drafts] == body["reasons"], name
    # The reasons in words, in the language asked for.
    r = httpx.get(
        f"{api_url}/cylinders/{uid}-gas/fill-permit",
        params={"station_id": st, "gas": "lpg"},
        headers={**station, "Accept-Language": "en"},
        timeout=30,
    )
    assert r.json()["reason_texts"] == ["Wrong gas filled"]
    assert answers["gas"]["reason_texts"] == ["充装介质不符"]  # zh-CN by default
    kept = {
        r["permit_id"]: r for r in _kept(database_url, [a["permit_id"] for a in answers.values()])
    }
    assert len(kept) == len(answers)
    for body in answers.values():
        row = kept[body["permit_id"]]
        assert row["asked_by"]  # the token that asked
        assert (row["allow"], row["reasons"], row["station_id"], row["gas"]) == (
            body["allow"],
            body["reasons"],
            st,
            "lpg",
        )


def test_bad_input_is_refused_and_not_kept(
    api_url: str,
    admin_headers: Headers,
    token_for: Callable[..., Headers],
    database_url: str,
    uid: str,
) -> None:
    st = f"{uid}-st"
    _register(
        api_url, admin_headers, "stations", [{"station_id": st, "name": "n", "district": "d"}]
    )
    _register(api_url, admin_headers, "cylinders", [_cylinder(f"{uid}-c", st)])
    cid = f"{uid}-c"
    r = _permit(api_url, admin_headers, cid, f"{uid}-nowhere", "lpg")
    assert r.status_code == 422 and r.json()["detail"].startswith("station_id"), r.text
    r = _permit(api_url, admin_headers, cid, st, "xenon")
    assert r.status_code == 422 and r.json()["detail"].startswith("gas"), r.text
    r = _permit(api_url, admin_headers, cid, st, "LPG; drop")
    assert r.status_code == 422, r.text
    r = _permit(api_url, admin_headers, cid, "bad id!", "lpg")
    assert r.status_code == 422, r.text
    # A station asks for itself only; other roles not at all.
    r = _permit(api_url, token_for("station", f"{uid}-elsewhere"), cid, st, "lpg")
    assert r.status_code == 403, r.text
    r = _permit(api_url, token_for("regulator"), cid, st, "lpg")
    assert r.status_code == 403, r.text
    r = _permit(api_url, {}, cid, st, "lpg")
    assert r.status_code == 401, r.text
    r = _permit(api_url, {"Authorization": "Bearer semon_no_such_token"}, cid, st, "xenon")
    assert r.status_code == 401, r.text  # who asks, before what is asked
    ok = _permit(api_url, admin_headers, cid, st, "lpg")
    assert ok.status_code == 200 and ok.json()["allow"] is True
    assert len(_kept(database_url, [ok.json()["permit_id"]])) == 1
    with psycopg.connect(database_url) as conn:
        n = conn.execute(
            "SELECT count(*) FROM fill_permits WHERE cylinder_id = %s", (cid,)
        ).fetchone()
    assert n == (1,)  # the refused questions left nothing


def test_slow_database_answers_unknown_within_the_deadline(
    fresh_database_url: str, uid: str
) -> None:
    """A lock held on the registry stands in for a database too slow to answer."""
    settings = make_settings(fresh_database_url)
    settings.permits.deadline_s = 0.3
    server = LiveServer(settings)
    server.start()
    url = f"http://{settings.api.host}:{settings.api.port}"
    admin = {"Authorization": f"Bearer {settings.api.bootstrap_admin_token}"}
    try:
        st, cid = f"{uid}-st", f"{uid}-c"
        _register(url, admin, "stations", [{"station_id": st, "name": "n", "district": "d"}])
        _register(url, admin, "cylinders", [_cylinder(cid, st)])
        assert _permit(url, admin, cid, st, "lpg").json()["allow"] is True
        with psycopg.connect(fresh_database_url) as locker:
            locker.execute("LOCK TABLE cylinders IN ACCESS EXCLUSIVE MODE")
            started = time.monotonic()
            r = _permit(url, admin, cid, st, "lpg")
            took = time.monotonic() - started
            assert r.status_code == 503, r.text
            assert r.headers["retry-after"] == str(settings.permits.retry_after_s)
            body = r.json()
            assert body["allow"] is None and body["reasons"] == [] and body["detail"]
            assert took < 0.3 + 1.0, took  # the deadline, plus a loaded machine's slack
            unknown_id = body["permit_id"]
        # Lock gone: answered again, and the "unknown" was kept too.
        again = _permit(url, admin, cid, st, "lpg")
        assert again.status_code == 200 and again.json()["allow"] is True
        [row] = _kept(fresh_database_url, [unknown_id])
        assert row["allow"] is None
    finally:
        server.stop()


def test_gas_list_is_the_contracts() -> None:
    from semon.domain.filling_rules import GASES

    for gas in ("lpg", "oxygen", "nitrogen", "argon", "co2", "acetylene", "cng", "hydrogen"):
        assert gas in GASES


async def test_a_frozen_database_answers_unknown_within_the_deadline(uid: str) -> None:
    """A private PostgreSQL stopped with SIGSTOP: every process of it frozen
    mid-conversation, the worst a slow database can do."""
    async with private_postgres() as (pg, dsn):
        settings = make_settings(dsn)
        settings.permits.deadline_s = 0.3
        server = LiveServer(settings)
        await asyncio.to_thread(server.start)
        url = f"http://{settings.api.host}:{settings.api.port}"
        admin = {"Authorization": f"Bearer {settings.api.bootstrap_admin_token}"}
        st, cid = f"{uid}-st", f"{uid}-c"
        try:
            _register(url, admin, "stations", [{"station_id": st, "name": "n", "district": "d"}])
            _register(url, admin, "cylinders", [_cylinder(cid, st)])
            # The token is known to the API; the permit's own lookup is what waits.
            assert (await asyncio.to_thread(_permit, url, admin, cid, st, "lpg")).status_code == 200
            pids = postgres_pids(pg.pgdata)
            for pid in pids:
                os.kill(pid, signal.SIGSTOP)
            try:
                for _ in range(3):  # the first, and the ones after it alike
                    started = time.monotonic()
                    r = await asyncio.to_thread(_permit, url, admin, cid, st, "lpg")
                    took = time.monotonic() - started
                    # The token lookup is inside the deadline too: it is the
                    # first thing to wait on a frozen server.
                    assert r.status_code == 503, r.text
                    assert r.headers["retry-after"] == str(settings.permits.retry_after_s)
                    assert r.json()["allow"] is None
                    assert took < settings.permits.deadline_s + 1.0, took
            finally:
                for pid in pids:
                    os.kill(pid, signal.SIGCONT)
            for _ in range(50):  # thawed: answered again
                r = await asyncio.to_thread(_permit, url, admin, cid, st, "lpg")
                if r.status_code == 200:
                    break
                await asyncio.sleep(0.2)
            assert r.status_code == 200 and r.json()["allow"] is True
        finally:
            await asyncio.to_thread(server.stop)
