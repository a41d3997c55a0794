"""Registry writes: bulk upserts of whole batches in one statement each.

Each batch goes in as one array per column through ``unnest`` and lands with
``INSERT ... ON CONFLICT DO UPDATE``: one round trip for 10,000 rows, and a
repeat of the same batch changes nothing (idempotent).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from psycopg import AsyncConnection, sql
from pydantic import BaseModel

from semon.domain.registry import (
    Cylinder,
    Elevator,
    Firm,
    Inspection,
    MaintenanceRecord,
    RescueOrg,
    Station,
)


@dataclass(frozen=True)
class TableSpec:
    table: str
    model: type[BaseModel]
    key: tuple[str, ...]
    columns: tuple[tuple[str, str], ...]  # (column, PostgreSQL type)
    # How a conflicting row's column is updated; default: take the new value.
    merge: tuple[tuple[str, str], ...] = ()
    touch_updated_at: bool = True


SPECS: dict[str, TableSpec] = {
    "elevators": TableSpec(
        "elevators",
        Elevator,
        ("elevator_id",),
        (
            ("elevator_id", "text"),
            ("address", "text"),
            ("district", "text"),
            ("lat", "float8"),
            ("lon", "float8"),
            ("use_unit", "text"),
            ("use_unit_level", "int2"),
            ("firm_id", "text"),
            ("installed_on", "date"),
            ("floors", "int2"),
            ("rated_speed", "float8"),
            ("last_inspected_on", "date"),
            ("inspection_interval_months", "int2"),
            ("status", "text"),
            ("contact_phone", "text"),
            ("rescue_code", "text"),
            ("insurer", "text"),
            ("insurance_policy", "text"),
            ("insured_until", "date"),
        ),
        # An inspection recorded through the API must not be undone by a
        # re-import of an older registry file; a file without rescue codes
        # keeps the codes posted in the cars.
        (
            ("last_inspected_on", "GREATEST(t.last_inspected_on, EXCLUDED.last_inspected_on)"),
            ("rescue_code", "coalesce(EXCLUDED.rescue_code, t.rescue_code)"),
        ),
    ),
    "cylinders": TableSpec(
        "cylinders",
        Cylinder,
        ("cylinder_id",),
        (
            ("cylinder_id", "text"),
            ("serial_no", "text"),
            ("gas", "text"),
            ("manufactured_on", "date"),
            ("max_fill_kg", "float8"),
            ("design_life_years", "int2"),
            ("inspection_interval_years", "int2"),
            ("last_inspected_on", "date"),
            ("owner_station_id", "text"),
            ("status", "text"),
            ("tag", "text"),
            ("insured_until", "date"),
        ),
        (("last_inspected_on", "GREATEST(t.last_inspected_on, EXCLUDED.last_inspected_on)"),),
    ),
    "firms": TableSpec(
        "firms",
        Firm,
        ("firm_id",),
        (
            ("firm_id", "text"),
            ("name", "text"),
            ("credit_grade", "text"),
            ("tech_level", "int2"),
            ("phone", "text"),
        ),
    ),
    "stations": TableSpec(
        "stations",
        Station,
        ("station_id",),
        (
            ("station_id", "text"),
            ("name", "text"),
            ("district", "text"),
            ("license_no", "text"),
            ("address", "text"),
        ),
    ),
    "rescue_orgs": TableSpec(
        "rescue_orgs",
        RescueOrg,
        ("org_id",),
        (("org_id", "text"), ("name", "text"), ("district", "text"), ("phone", "text")),
    ),
    "inspections": TableSpec(
        "inspections",
        Inspection,
        ("equipment_type", "equipment_id", "inspected_on"),
        (
            ("equipment_type", "text"),
            ("equipment_id", "text"),
            ("inspected_on", "date"),
            ("result", "text"),
            ("inspector", "text"),
        ),
        touch_updated_at=False,
    ),
    "maintenance": TableSpec(
        "maintenance_records",
        MaintenanceRecord,
        ("elevator_id", "done_on", "kind"),
        (
            ("elevator_id", "text"),
            ("done_on", "date"),
            ("kind", "text"),
            ("firm_id", "text"),
        ),
        touch_updated_at=False,
    ),
}

KINDS: tuple[str, ...] = tuple(SPECS)


def dedupe(spec: TableSpec, rows: Sequence[BaseModel]) -> list[BaseModel]:
    """Last record wins for a key given twice (one statement cannot update a
    row twice)."""
    by_key: dict[tuple[Any, ...], BaseModel] = {}
    for row in rows:
        by_key[tuple(getattr(row, k) for k in spec.key)] = row
    return list(by_key.values())


def _upsert_statement(spec: TableSpec) -> sql.Composed:
    cols = [c for c, _ in spec.columns]
    merge = dict(spec.merge)
    updates: list[sql.Composable] = [
        sql.SQL("{} = {}").format(
            sql.Identifier(c),
            sql.SQL(merge[c]) if c in merge else sql.SQL("EXCLUDED.{}").format(sql.Identifier(c)),
        )
        for c in cols
        if c not in spec.key
    ]
    if spec.touch_updated_at:
        updates.append(sql.SQL("updated_at = now()"))
    else:
        updates.append(sql.SQL("recorded_at = now()"))
    return sql.SQL(
        "INSERT INTO {table} AS t ({cols}) SELECT * FROM unnest({arrays}) "
        "ON CONFLICT ({key}) DO UPDATE SET {updates}"
    ).format(
        table=sql.Identifier(spec.table),
        cols=sql.SQL(", ").join(map(sql.Identifier, cols)),
        arrays=sql.SQL(", ").join(
            sql.SQL("%s::{}[]").format(sql.SQL(pgtype)) for _, pgtype in spec.columns
        ),
        key=sql.SQL(", ").join(map(sql.Identifier, spec.key)),
        updates=sql.SQL(", ").join(updates),
    )


_STATEMENTS = {kind: _upsert_statement(spec) for kind, spec in SPECS.items()}


async def upsert_rows(conn: AsyncConnection, kind: str, rows: Sequence[BaseModel]) -> None:
    """Write validated, de-duplicated records of one kind (caller holds the transaction)."""
    spec = SPECS[kind]
    arrays = [[getattr(r, c) for r in rows] for c, _ in spec.columns]
    await conn.execute(_STATEMENTS[kind], arrays)


_MISSING = """
SELECT x.id FROM unnest(%s::text[]) AS x(id)
WHERE NOT EXISTS (SELECT 1 FROM {table} t WHERE t.{key} = x.id)
"""


async def missing_ids(conn: AsyncConnection, equipment: str, ids: list[str]) -> set[str]:
    """Which of `ids` are not in the elevators / cylinders registry."""
    table, key = (
        ("elevators", "elevator_id") if equipment == "elevator" else ("cylinders", "cylinder_id")
    )
    query = sql.SQL(_MISSING).format(table=sql.Identifier(table), key=sql.Identifier(key))
    cur = await conn.execute(query, (ids,))
    return {r[0] for r in await cur.fetchall()}


_CODES_TAKEN = """
SELECT x.code FROM unnest(%s::text[], %s::text[]) AS x(id, code)
JOIN elevators e ON e.rescue_code = x.code AND e.elevator_id <> x.id
"""


async def rescue_codes_taken(conn: AsyncConnection, ids: list[str], codes: list[str]) -> set[str]:
    """Which of ``codes`` (posted in elevators ``ids``) another elevator holds."""
    cur = await conn.execute(_CODES_TAKEN, (ids, codes))
    return {r[0] for r in await cur.fetchall()}
