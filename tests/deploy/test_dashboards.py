"""Every SQL panel of the provisioned Grafana dashboards, run against the real
schema with a small city in it: each query must run and return data.

Grafana's macros are expanded the way its PostgreSQL datasource does
($__timeFilter(col) -> `col BETWEEN '<from>' AND '<to>'`); the dashboards use
only the macros listed here, so the substitution stays faithful.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
BOARDS = sorted((REPO / "dashboards" / "grafana" / "dashboards").glob("*.json"))
DATASOURCES = REPO / "dashboards" / "grafana" / "provisioning" / "datasources" / "semon.yml"
PG_UID = "semon-timescaledb"
PROM_UID = "semon-prometheus"
KNOWN_MACROS = {"$__timeFilter", "$__timeFrom", "$__timeTo", "$__interval_ms", "$__rate_interval"}


def panels() -> list[tuple[str, dict[str, Any]]]:
    out = []
    for path in BOARDS:
        for panel in json.loads(path.read_text())["panels"]:
            out.append((path.stem, panel))
    return out


def sql_targets() -> list[tuple[str, str]]:
    found = []
    for board, panel in panels():
        for target in panel.get("targets", []):
            if target.get("datasource", panel["datasource"])["uid"] == PG_UID:
                found.append((f"{board}: {panel['title']}", target["rawSql"]))
    return found


def expand(sql: str, start: datetime, end: datetime, interval_ms: int = 3_600_000) -> str:
    macros = set(re.findall(r"\$__[A-Za-z_]+", sql))
    assert macros <= KNOWN_MACROS, f"macro the test cannot expand: {macros - KNOWN_MACROS}"
    frm, to = f"'{start.isoformat()}'", f"'{end.isoformat()}'"
    sql = re.sub(r"\$__timeFilter\(([^)]+)\)", rf"\1 BETWEEN {frm} AND {to}", sql)
    sql = sql.replace("$__timeFrom()", frm).replace("$__timeTo()", to)
    return sql.replace("$__interval_ms", str(interval_ms))


def test_dashboards_are_provisioned_consistently() -> None:
    assert {p.stem for p in BOARDS} == {
        "semon-regulators",
        "semon-dispatch",
        "semon-fleet",
        "semon-pipeline",
    }
    uids = {d["uid"] for d in yaml.safe_load(DATASOURCES.read_text())["datasources"]}
    assert uids == {PG_UID, PROM_UID}
    for path in BOARDS:
        doc = json.loads(path.read_text())
        assert doc["uid"] == path.stem
        ids = [p["id"] for p in doc["panels"]]
        assert len(ids) == len(set(ids)), path
        for panel in doc["panels"]:
            assert panel["datasource"]["uid"] in uids, (path.stem, panel["title"])
            assert panel["targets"], (path.stem, panel["title"])
            for t in panel["targets"]:
                assert t["datasource"]["uid"] == panel["datasource"]["uid"]
                assert ("rawSql" in t) == (t["datasource"]["uid"] == PG_UID)
                if t.get("format") == "time_series":
                    # Grafana needs a first column called time for a time series
                    assert re.search(r"\bAS time\b", t["rawSql"]), (path.stem, panel["title"])


def seed(conn: psycopg.Connection[Any], now: datetime) -> None:
    """A small city: overdue and in-date equipment, traps with their response
    times, illegal fillings, faults, offline terminals, scores, dead letters."""
    ago = lambda **kw: now - timedelta(**kw)  # noqa: E731
    x = conn.execute
    x(
        "INSERT INTO firms (firm_id, name, credit_grade, tech_level, phone) VALUES"
        " ('F1', 'Reliable Lifts', 'A', 4, '1'), ('F2', 'Cheap Lifts', 'C', 2, '2')"
    )
    x(
        "INSERT INTO stations (station_id, name, district) VALUES"
        " ('S1', 'North LPG', 'd1'), ('S2', 'South LPG', 'd2')"
    )
    x(
        "INSERT INTO elevators (elevator_id, address, district, use_unit, firm_id, installed_on,"
        " last_inspected_on, status) VALUES"
        " ('E1', '1 A Road', 'd1', 'U1', 'F1', '2010-01-01', current_date - 400, 'in_service'),"
        " ('E2', '2 A Road', 'd1', 'U1', 'F2', '2012-01-01', current_date - 30, 'in_service'),"
        " ('E3', '3 B Road', 'd2', 'U2', 'F1', '2020-01-01', NULL, 'in_service'),"
        " ('E4', '4 B Road', 'd2', 'U2', 'F2', '2000-01-01', NULL, 'retired')"
    )
    x(
        "INSERT INTO cylinders (cylinder_id, gas, manufactured_on, max_fill_kg, design_life_years,"
        " inspection_interval_years, last_inspected_on, owner_station_id) VALUES"
        " ('C1', 'lpg', '2018-01-01', 14.5, 8, 4, '2019-01-01', 'S1'),"
        " ('C2', 'lpg', current_date - 100, 14.5, 8, 4, NULL, 'S2')"
    )
    x(
        "INSERT INTO maintenance_records (elevator_id, done_on, kind, firm_id) VALUES"
        " ('E2', current_date - 3, 'routine', 'F2'), ('E1', current_date - 60, 'routine', 'F1')"
    )
    # the regulator's book: E2 insured, E1 failed in use, hazards open and fixed
    x("UPDATE elevators SET insured_until = current_date + 100 WHERE elevator_id = 'E2'")
    x(
        "INSERT INTO inspections (equipment_type, equipment_id, inspected_on, result, inspector)"
        " VALUES ('elevator', 'E1', current_date - 5, 'fail', 'SEI-1')"
    )
    x(
        "INSERT INTO hazards (hazard_id, equipment_type, equipment_id, source, level, description,"
        " found_on, deadline, state, district) VALUES"
        " ('h1', 'elevator', 'E1', 'supervision', 'serious', 'brake', current_date - 3,"
        "  current_date - 1, 'open', 'd1'),"
        " ('h2', 'elevator', 'E2', 'supervision', 'serious', 'door', current_date - 2,"
        "  current_date + 5, 'rectified', 'd1')"
    )
    x(
        "INSERT INTO elevator_scores (elevator_id, score, grade, interval_days, factor_names,"
        " factor_values, factor_weights, factor_contributions, vetoes, computed_at) VALUES"
        " ('E1', 48.5, 'D', 15, '{age}', '{20}', '{15}', '{-15}', '{inspection_overdue}', %s),"
        " ('E2', 88, 'A', 90, '{age}', '{3}', '{15}', '{0}', '{}', %s)",
        (now, now),
    )
    x(
        "INSERT INTO elevator_events (elevator_id, ts, code, gov_code, received_at) VALUES"
        " ('E1', %s, 'overspeed', 3, %s), ('E1', %s, 'door_lock_fault', 13, %s),"
        " ('E2', %s, 'alarm_test', NULL, %s)",
        (ago(hours=1), now, ago(hours=2), now, ago(hours=3), now),
    )
    x(
        # digest as ingest computes it (migration 0014): the row's identity.
        "INSERT INTO dead_letters (received_at, topic, payload, reason, detail, digest)"
        " SELECT at, topic, payload, reason, detail,"
        "  sha256(convert_to(topic, 'UTF8') || '\\x00'::bytea || payload)"
        " FROM (VALUES"
        " (%s::timestamptz, 'se/v1/elevators/E1/status', 'x'::bytea, 'not_json', 'x'),"
        " (%s, 'se/v1/elevators/E1/status', '{}', 'missing_field', 'ts')"
        ") AS d (at, topic, payload, reason, detail)",
        (ago(hours=1), now),
    )
    alerts = [
        # id, kind, severity, state, type, equipment, district, firm, station, started, steps
        (
            "a1",
            "trapped_passenger",
            "critical",
            "resolved",
            "elevator",
            "E1",
            "d1",
            "F1",
            None,
            ago(hours=5),
            {
                "acknowledged_at": ago(hours=5) + timedelta(seconds=40),
                "dispatched_at": ago(hours=5) + timedelta(minutes=2),
                "on_site_at": ago(hours=5) + timedelta(minutes=18),
                "resolved_at": ago(hours=5) + timedelta(minutes=25),
                "resolution": "rescued",
            },
        ),
        (
            "a2",
            "trapped_passenger",
            "critical",
            "open",
            "elevator",
            "E3",
            "d2",
            "F1",
            None,
            ago(minutes=3),
            {},
        ),
        (
            "a3",
            "overfill",
            "critical",
            "acknowledged",
            "station",
            "S1",
            "d1",
            None,
            "S1",
            ago(hours=20),
            {"acknowledged_at": ago(hours=19)},
        ),
        (
            "a4",
            "gas_mismatch",
            "critical",
            "open",
            "cylinder",
            "C1",
            "d1",
            None,
            "S1",
            ago(days=2),
            {},
        ),
        (
            "a5",
            "terminal_offline",
            "minor",
            "open",
            "elevator",
            "E2",
            "d1",
            "F2",
            None,
            ago(minutes=10),
            {},
        ),
        (
            "a6",
            "elevator_fault",
            "major",
            "open",
            "elevator",
            "E1",
            "d1",
            "F1",
            None,
            ago(hours=1),
            {},
        ),
        (
            "a7",
            "inspection_overdue",
            "major",
            "open",
            "elevator",
            "E1",
            "d1",
            "F1",
            None,
            ago(days=1),
            {},
        ),
    ]
    for aid, kind, sev, state, etype, eid, district, firm, station, started, steps in alerts:
        raised = started + timedelta(seconds=21)
        x(
            "INSERT INTO alerts (alert_id, condition_key, kind, severity, state, equipment_type,"
            " equipment_id, district, firm_id, station_id, started_at, raised_at, updated_at,"
            " acknowledged_at, dispatched_at, on_site_at, resolved_at, resolution, summary,"
            " details, location) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s,"
            " %s, %s, %s, %s, %s, %s, %s, %s)",
            (
                aid,
                f"{kind}:{eid}",
                kind,
                sev,
                state,
                etype,
                eid,
                district,
                firm,
                station,
                started,
                raised,
                raised,
                steps.get("acknowledged_at"),
                steps.get("dispatched_at"),
                steps.get("on_site_at"),
                steps.get("resolved_at"),
                steps.get("resolution"),
                f"{kind} {eid}",
                json.dumps({"code": "overspeed"} if kind == "elevator_fault" else {}),
                json.dumps({"address": "1 A Road", "district": district}),
            ),
        )
        x(
            "INSERT INTO alert_events (alert_id, state, action, at, message, published_at)"
            " VALUES (%s, 'open', 'raise', %s, '{}', %s)",
            (aid, raised, raised + timedelta(milliseconds=30)),
        )


@pytest.fixture(scope="module")
def seeded_dsn(pg_admin_dsn: str) -> Any:
    import asyncio

    from semon.settings import Settings
    from semon.store.commands import migrate_database
    from tests.support import services

    with services.fresh_database(pg_admin_dsn, prefix="semon_dash") as dsn:
        asyncio.run(migrate_database(dsn, Settings(database_url=dsn)))
        with psycopg.connect(dsn, autocommit=True) as conn:
            seed(conn, datetime.now(UTC))
        yield dsn


@pytest.mark.parametrize(("panel", "sql"), sql_targets(), ids=[p for p, _ in sql_targets()])
def test_sql_panel_returns_data(seeded_dsn: str, panel: str, sql: str) -> None:
    now = datetime.now(UTC)
    query = expand(sql, now - timedelta(days=7), now + timedelta(minutes=1))
    with psycopg.connect(seeded_dsn) as conn:
        conn.execute("SET statement_timeout = 10000")
        rows = conn.execute(query).fetchall()  # type: ignore[call-overload]
    assert rows, f"{panel}: no rows"
    values = [v for row in rows for v in row if v is not None]
    assert any(v not in (0, "") for v in values), f"{panel}: only zeros/nulls {rows}"
