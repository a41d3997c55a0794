"""Registry bulk upserts: validated, all-or-nothing naming the bad rows,
idempotent, 10,000 records a request; and `semon registry import`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg

Headers = dict[str, str]


def elevator(uid: str, i: int, **over: Any) -> dict[str, Any]:
    rec = {
        "elevator_id": f"{uid}-E{i}",
        "address": f"{i} Long Rd",
        "district": f"{uid}-d",
        "use_unit": "u",
        "firm_id": f"{uid}-F",
        "installed_on": "2014-03-01",
        "floors": 10,
    }
    rec.update(over)
    return rec


def count(dsn: str, table: str, column: str, prefix: str) -> int:
    with psycopg.connect(dsn) as conn:
        row = conn.execute(
            f"SELECT count(*) FROM {table} WHERE {column} LIKE %s", (prefix + "%",)
        ).fetchone()
    assert row is not None
    return int(row[0])


def test_bad_rows_are_named_and_nothing_is_written(
    api_url: str, admin_headers: Headers, database_url: str, uid: str
) -> None:
    records = [elevator(uid, i) for i in range(5)]
    del records[1]["district"]
    records[3]["installed_on"] = "yesterday"
    r = httpx.post(f"{api_url}/registry/elevators", json=records, headers=admin_headers)
    assert r.status_code == 422
    failures = {f["index"]: f["reason"] for f in r.json()["failures"]}
    assert set(failures) == {1, 3}
    assert "district" in failures[1] and "installed_on" in failures[3]
    assert count(database_url, "elevators", "elevator_id", uid) == 0


def test_inspection_of_unknown_equipment_rejects_the_batch(
    api_url: str, admin_headers: Headers, database_url: str, uid: str
) -> None:
    r = httpx.post(f"{api_url}/registry/elevators", json=[elevator(uid, 0)], headers=admin_headers)
    assert r.status_code == 200
    batch = [
        {
            "equipment_type": "elevator",
            "equipment_id": f"{uid}-E0",
            "inspected_on": "2026-01-05",
            "result": "pass",
            "inspector": "i",
        },
        {
            "equipment_type": "elevator",
            "equipment_id": f"{uid}-nope",
            "inspected_on": "2026-01-05",
            "result": "pass",
            "inspector": "i",
        },
    ]
    r = httpx.post(f"{api_url}/inspections", json=batch, headers=admin_headers)
    assert r.status_code == 422
    assert r.json()["failures"] == [{"index": 1, "reason": f"未知的电梯 '{uid}-nope'"}]
    english = {**admin_headers, "Accept-Language": "en"}
    r = httpx.post(f"{api_url}/inspections", json=batch, headers=english)
    assert r.json()["failures"] == [{"index": 1, "reason": f"unknown elevator '{uid}-nope'"}]
    assert count(database_url, "inspections", "equipment_id", uid) == 0
    # The good half alone lands and moves the base date forward, never back
    # (inspections keep it beside the registry's own last_inspected_on: 0040).
    assert httpx.post(f"{api_url}/inspections", json=batch[:1], headers=admin_headers).is_success
    older = [{**batch[0], "inspected_on": "2025-01-05"}]
    assert httpx.post(f"{api_url}/inspections", json=older, headers=admin_headers).is_success
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            "SELECT inspection_passed_on::text FROM elevators WHERE elevator_id = %s",
            (f"{uid}-E0",),
        ).fetchone()
    assert row == ("2026-01-05",)


def test_ten_thousand_records_idempotent(
    api_url: str, admin_headers: Headers, database_url: str, uid: str
) -> None:
    records = [elevator(uid, i) for i in range(10_000)]
    for _ in range(2):
        r = httpx.post(
            f"{api_url}/registry/elevators", json=records, headers=admin_headers, timeout=120
        )
        assert r.status_code == 200, r.text
        assert r.json() == {"kind": "elevators", "upserted": 10_000}
        assert count(database_url, "elevators", "elevator_id", uid) == 10_000
    # An update changes the row; a key given twice in one batch keeps the last.
    changed = [elevator(uid, 7, floors=30), elevator(uid, 7, floors=31)]
    assert httpx.post(
        f"{api_url}/registry/elevators", json=changed, headers=admin_headers
    ).is_success
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            "SELECT floors FROM elevators WHERE elevator_id = %s", (f"{uid}-E7",)
        ).fetchone()
    assert row == (31,)
    too_many = [*records, elevator(uid, 10000)]
    r = httpx.post(
        f"{api_url}/registry/elevators", json=too_many, headers=admin_headers, timeout=120
    )
    assert r.status_code == 422


def test_each_kind_upserts(api_url: str, admin_headers: Headers, uid: str) -> None:
    bodies = {
        "/registry/firms": [
            {"firm_id": f"{uid}-F", "name": "F", "credit_grade": "A", "tech_level": 5}
        ],
        "/registry/stations": [{"station_id": f"{uid}-S", "name": "S", "district": "d"}],
        "/registry/cylinders": [
            {
                "cylinder_id": f"{uid}-C",
                "gas": "oxygen",
                "manufactured_on": "2019-02-02",
                "max_fill_kg": 6.5,
                "design_life_years": 20,
                "inspection_interval_years": 3,
            }
        ],
    }
    for path, body in bodies.items():
        r = httpx.post(f"{api_url}{path}", json=body, headers=admin_headers)
        assert r.status_code == 200, (path, r.text)


def run_cli(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "SEMON_LOG_LEVEL": "WARNING",
        "SEMON_I18N__LANGUAGE": "en",  # English lines are read below
    }
    return subprocess.run(
        [sys.executable, "-m", "cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_import_command_csv_and_json(database_url: str, tmp_path: Path, uid: str) -> None:
    csv_file = tmp_path / "elevators.csv"
    csv_file.write_text(
        "elevator_id,address,district,use_unit,firm_id,installed_on,floors,lat\n"
        f"{uid}-E1,1 A St,{uid}-d,u,{uid}-F,2010-01-01,8,\n"
        f"{uid}-E2,2 A St,{uid}-d,u,,2011-01-01,,23.5\n"
    )
    done = run_cli(database_url, "registry", "import", str(csv_file))
    assert done.returncode == 0, done.stderr
    assert "imported 2 elevators" in done.stdout
    json_file = tmp_path / "batch.json"
    json_file.write_text(
        json.dumps(
            [
                {
                    "equipment_type": "elevator",
                    "equipment_id": f"{uid}-E1",
                    "inspected_on": "2026-02-01",
                    "result": "conditional",
                    "inspector": "x",
                },
            ]
        )
    )
    done = run_cli(database_url, "registry", "import", str(json_file), "--kind", "inspections")
    assert done.returncode == 0, done.stderr
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT elevator_id, firm_id, floors, lat, inspection_passed_on::text FROM elevators"
            " WHERE elevator_id LIKE %s ORDER BY 1",
            (uid + "%",),
        ).fetchall()
    assert rows == [
        (f"{uid}-E1", f"{uid}-F", 8, None, "2026-02-01"),
        (f"{uid}-E2", None, None, 23.5, None),
    ]
    # A bad file names its rows, imports nothing and exits non-zero.
    bad = tmp_path / "firms.json"
    bad.write_text(
        json.dumps(
            [
                {"firm_id": f"{uid}-G", "name": "g", "credit_grade": "A", "tech_level": 2},
                {"firm_id": f"{uid}-H", "name": "h", "credit_grade": "Q", "tech_level": 2},
            ]
        )
    )
    done = run_cli(database_url, "registry", "import", str(bad))
    assert done.returncode == 1
    assert "record 1: credit_grade" in done.stderr
    assert count(database_url, "firms", "firm_id", uid) == 0


def test_token_commands(database_url: str, api_url: str, uid: str) -> None:
    firm = f"{uid}-F999"
    create = ("token", "create", "--role", "maintenance", "--scope", firm, "--label", "cli")
    # No firm F999 in the registry: one clear line, no token.
    done = run_cli(database_url, *create)
    assert done.returncode == 2, done.stdout
    assert done.stderr.splitlines() == [
        f"error: scope: no firm '{firm}' in the registry (--allow-unknown-scope issues it anyway)"
    ]
    assert done.stdout == ""
    done = run_cli(database_url, "token", "create", "--role", "regulator", "--scope", uid + "-d")
    assert done.returncode == 2 and "no district" in done.stderr
    done = run_cli(database_url, *create, "--allow-unknown-scope")
    assert done.returncode == 0, done.stderr
    lines = dict(line.split(":", 1) for line in done.stdout.splitlines() if ":" in line)
    secret, token_id = lines["secret"].strip(), lines["token_id"].strip()
    headers = {"Authorization": f"Bearer {secret}"}
    assert httpx.get(f"{api_url}/alerts", headers=headers).status_code == 200
    assert run_cli(database_url, "token", "revoke", token_id).returncode == 0
    assert httpx.get(f"{api_url}/alerts", headers=headers).status_code == 401
    assert run_cli(database_url, "token", "create", "--role", "station").returncode == 2


def test_control_characters_in_registry_text_are_refused(
    api_url: str, admin_headers: Headers, database_url: str, uid: str
) -> None:
    """A district of control characters, a newline in an address, an escape
    sequence in a name: refused with the field named, nothing written."""
    bad_elevators = [
        elevator(uid, 0, district="\x01\x02"),
        elevator(uid, 1, address="1 Long Rd\nDistrict: X"),
        elevator(uid, 2, use_unit="\x1b[2Jowner"),
        elevator(uid, 3, contact_phone="555\u0085"),
        elevator(uid, 4, address="\ud800"),
        elevator(uid, 5),
    ]
    r = httpx.post(
        f"{api_url}/registry/elevators",
        # json.dumps escapes the lone surrogate (\\ud800), as a client's JSON may
        content=json.dumps(bad_elevators),
        headers={**admin_headers, "Content-Type": "application/json"},
    )
    assert r.status_code == 422, r.text
    failures = {f["index"]: f["reason"] for f in r.json()["failures"]}
    assert set(failures) == {0, 1, 2, 3, 4}
    for index, field in enumerate(("district", "address", "use_unit", "contact_phone")):
        assert failures[index].startswith(f"{field}:"), failures[index]
        assert "控制字符" in failures[index]  # the reader's language: zh-CN by default
    assert failures[4].startswith("address:")  # pydantic: not a valid string
    assert count(database_url, "elevators", "elevator_id", uid) == 0

    others = {
        "/registry/firms": {
            "firm_id": f"{uid}-F",
            "name": "Pearl\tLifts",
            "credit_grade": "A",
            "tech_level": 3,
        },
        "/registry/stations": {"station_id": f"{uid}-S", "name": "S", "district": "d\r"},
        "/registry/cylinders": {
            "cylinder_id": f"{uid}-C",
            "serial_no": "SN\x7f",
            "gas": "lpg",
            "manufactured_on": "2019-02-02",
            "max_fill_kg": 6.5,
            "design_life_years": 20,
            "inspection_interval_years": 3,
        },
    }
    for path, record in others.items():
        r = httpx.post(f"{api_url}{path}", json=[record], headers=admin_headers)
        assert r.status_code == 422, (path, r.text)
        (failure,) = r.json()["failures"]
        assert "控制字符" in failure["reason"], failure
    assert r.json()["failures"][0]["reason"].startswith("serial_no:")
    # An identifier is matched whole: a trailing newline is not the id.
    for field in ("elevator_id", "firm_id"):
        r = httpx.post(
            f"{api_url}/registry/elevators",
            json=[elevator(uid, 6, **{field: f"{uid}-X\n"})],
            headers=admin_headers,
        )
        assert r.status_code == 422, r.text
        assert r.json()["failures"][0]["reason"].startswith(f"{field}:")
    assert count(database_url, "elevators", "elevator_id", uid) == 0
    # In a path, too.
    for path in (f"/elevators/{uid}-E5%0A", f"/cylinders/{uid}-C%0A/trace"):
        assert httpx.get(f"{api_url}{path}", headers=admin_headers).status_code == 422, path
    # And in a token's scope.
    for bad in (
        {"role": "maintenance", "scope": [f"{uid}-F\n"]},
        {"role": "regulator", "scope": ["\x01\x02"]},
    ):
        english = {**admin_headers, "Accept-Language": "en"}
        r = httpx.post(f"{api_url}/tokens", headers=english, json=bad)
        assert r.status_code == 422, (bad, r.text)
        assert "scope" in r.text


def test_import_command_refuses_control_characters(
    database_url: str, tmp_path: Path, uid: str
) -> None:
    inspections = tmp_path / "inspections.json"
    stations = tmp_path / "stations.csv"
    stations.write_text(f'station_id,name,district\n{uid}-S,"Gas\x1b[31m",d\n')
    done = run_cli(database_url, "registry", "import", str(stations))
    assert done.returncode == 1, done.stdout
    assert "record 0: name: text contains a control character (U+001B)" in (done.stderr)
    assert count(database_url, "stations", "station_id", uid) == 0
    inspections.write_text(
        json.dumps(
            [
                {
                    "equipment_type": "elevator",
                    "equipment_id": f"{uid}-E1",
                    "inspected_on": "2026-02-01",
                    "result": "pass",
                    "inspector": "Li\nWei",
                }
            ]
        )
    )
    done = run_cli(database_url, "registry", "import", str(inspections))
    assert done.returncode == 1
    assert "record 0: inspector: text contains a control character (U+000A)" in (done.stderr)


def test_dates_in_the_future_are_refused_naming_the_field(
    api_url: str, admin_headers: Headers, database_url: str, uid: str, tmp_path: Path
) -> None:
    """Installed 9999-01-01 gave an age of -7,971 years; an inspection or a
    cylinder made after today is a typo too. Tomorrow is inside the tolerance
    (a local date runs ahead of UTC's)."""
    tomorrow = (datetime.now(UTC).date() + timedelta(days=1)).isoformat()
    records = [elevator(uid, 0), elevator(uid, 1, installed_on="9999-01-01")]
    records.append(elevator(uid, 2, last_inspected_on="2099-05-01"))
    english = {**admin_headers, "Accept-Language": "en"}
    r = httpx.post(f"{api_url}/registry/elevators", json=records, headers=english)
    assert r.status_code == 422, r.text
    failures = {f["index"]: f["reason"] for f in r.json()["failures"]}
    assert failures.keys() == {1, 2}
    assert failures[1].startswith("installed_on: 9999-01-01 is in the future")
    assert failures[2].startswith("last_inspected_on: 2099-05-01 is in the future")
    assert count(database_url, "elevators", "elevator_id", uid) == 0
    ok = [elevator(uid, 0, installed_on=tomorrow)]
    r = httpx.post(f"{api_url}/registry/elevators", json=ok, headers=admin_headers)
    assert r.status_code == 200, r.text
    inspection = {
        "equipment_type": "elevator",
        "equipment_id": f"{uid}-E0",
        "inspected_on": "2099-01-01",
        "result": "pass",
        "inspector": "GZ-SEI 17",
    }
    r = httpx.post(f"{api_url}/inspections", json=[inspection], headers=admin_headers)
    assert r.status_code == 422 and "inspected_on" in r.json()["failures"][0]["reason"]
    # the import command refuses the same, naming the field
    cylinders = tmp_path / "cylinders.csv"
    cylinders.write_text(
        "cylinder_id,gas,manufactured_on,max_fill_kg,design_life_years,inspection_interval_years\n"
        f"{uid}-C1,lpg,9999-01-01,15,12,4\n"
    )
    done = run_cli(database_url, "registry", "import", str(cylinders))
    assert done.returncode == 1, done.stdout
    assert "manufactured_on: 9999-01-01 is in the future" in done.stderr
    assert count(database_url, "cylinders", "cylinder_id", uid) == 0
