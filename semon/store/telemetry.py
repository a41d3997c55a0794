"""Writing device telemetry: binary COPY, through staging where dedup needs it.

A redelivered message (QoS 1 is at-least-once) meets the table's key and is
dropped by ``ON CONFLICT DO NOTHING`` on the insert from staging; the
difference between rows staged and rows inserted is the duplicate count.
Status and scale samples, the volume, are first copied straight into their
table, and staged only if that meets a key already stored (`_copy_or_merge`).
Dead letters have no key in the message: theirs is a digest of topic and raw
bytes (`Rows.add_dead`), so a redelivered rejection is kept once too.
The caller owns the transaction: one batch, one commit, and only then are
its messages acknowledged.

Synchronous on purpose: ingest runs these in a thread of its own, so that
the COPY's client side does not wait for turns of an event loop busy
decoding the next batch.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
import psycopg
from psycopg import Connection

from semon.domain.decode import Decoded, Rejection
from semon.domain.gov_codes import gov_code_for
from semon.domain.wire import StatusSample

# Temp tables live as long as the connection; ON COMMIT DELETE ROWS empties
# them at each commit so no batch sees the previous one's rows. JSON columns
# are staged as text and cast on insert (simplest correct binary COPY).
PREPARE_SQL = """
CREATE TEMP TABLE IF NOT EXISTS stage_status (
    elevator_id text, ts timestamptz, floor smallint, speed real, direction text,
    door text, door_zone boolean, occupied boolean, load_kg real, mode text,
    alarm boolean, power text, trips bigint, door_cycles bigint, run_s bigint,
    received_at timestamptz
) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS stage_events (
    elevator_id text, ts timestamptz, code text, gov_code smallint, detail text,
    data text, received_at timestamptz
) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS stage_scale (
    station_id text, filling_id text, cylinder_id text, ts timestamptz,
    net_kg double precision, pressure_mpa double precision, received_at timestamptz
) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS stage_fillings (
    filling_id text, station_id text, cylinder_id text, gas text, operator_id text,
    started_at timestamptz, ended_at timestamptz, result text, net_kg double precision,
    tare_kg double precision, pressure_mpa double precision,
    temperature_c double precision, precheck text, postcheck text,
    received_at timestamptz
) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS stage_deliveries (
    delivery_id text, station_id text, ts timestamptz, direction text, cylinder_ids text,
    customer text, address text, district text, received_at timestamptz
) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS stage_dead (
    received_at timestamptz, topic text, payload bytea, reason text, detail text,
    digest bytea
) ON COMMIT DELETE ROWS;
"""


def _columns(spec: str) -> tuple[str, list[str]]:
    """A table's column list and the columns' COPY types from "name type, ...":
    each column named once with its type, in the order a row holds them."""
    pairs = [column.split() for column in spec.split(",")]
    return ", ".join(name for name, _ in pairs), [kind for _, kind in pairs]


def _from_stage(table: str, stage: str, columns: str, conflict: str = "") -> str:
    """The insert of a table whose rows are staged as they are stored."""
    return (
        f"INSERT INTO {table} ({columns}) SELECT {columns} FROM {stage}"
        f" ON CONFLICT {conflict}DO NOTHING"
    )


STATUS_COLUMNS, STATUS_TYPES = _columns(
    "elevator_id text, ts timestamptz, floor int2, speed float4, direction text, door text,"
    " door_zone bool, occupied bool, load_kg float4, mode text, alarm bool, power text,"
    " trips int8, door_cycles int8, run_s int8, received_at timestamptz"
)
EVENT_COLUMNS, EVENT_TYPES = _columns(
    "elevator_id text, ts timestamptz, code text, gov_code int2, detail text, data text,"
    " received_at timestamptz"
)
SCALE_COLUMNS, SCALE_TYPES = _columns(
    "station_id text, filling_id text, cylinder_id text, ts timestamptz, net_kg float8,"
    " pressure_mpa float8, received_at timestamptz"
)
FILLING_COLUMNS, FILLING_TYPES = _columns(
    "filling_id text, station_id text, cylinder_id text, gas text, operator_id text,"
    " started_at timestamptz, ended_at timestamptz, result text, net_kg float8, tare_kg float8,"
    " pressure_mpa float8, temperature_c float8, precheck text, postcheck text,"
    " received_at timestamptz"
)
DELIVERY_COLUMNS, DELIVERY_TYPES = _columns(
    "delivery_id text, station_id text, ts timestamptz, direction text, cylinder_ids text,"
    " customer text, address text, district text, received_at timestamptz"
)
DEAD_COLUMNS, DEAD_TYPES = _columns(
    "received_at timestamptz, topic text, payload bytea, reason text, detail text, digest bytea"
)

INSERT_STATUS = _from_stage("elevator_status", "stage_status", STATUS_COLUMNS)
INSERT_SCALE = _from_stage("scale_samples", "stage_scale", SCALE_COLUMNS)
INSERT_DEAD = _from_stage("dead_letters", "stage_dead", DEAD_COLUMNS, "(digest) ")
INSERT_EVENTS = f"""
INSERT INTO elevator_events ({EVENT_COLUMNS})
SELECT elevator_id, ts, code, gov_code, detail, data::jsonb, received_at FROM stage_events
ON CONFLICT DO NOTHING
"""
INSERT_FILLINGS = f"""
INSERT INTO fillings ({FILLING_COLUMNS})
SELECT filling_id, station_id, cylinder_id, gas, operator_id, started_at, ended_at, result,
       net_kg, tare_kg, pressure_mpa, temperature_c, precheck::jsonb, postcheck::jsonb,
       received_at
FROM stage_fillings
ON CONFLICT DO NOTHING
"""
# The deliveries new to the store, and an item row per cylinder of each; the
# count is of deliveries (the rest were redeliveries).
INSERT_DELIVERIES = f"""
WITH ins AS (
    INSERT INTO deliveries ({DELIVERY_COLUMNS})
    SELECT delivery_id, station_id, ts, direction,
           ARRAY(SELECT jsonb_array_elements_text(cylinder_ids::jsonb)),
           customer, address, district, received_at
    FROM stage_deliveries
    ON CONFLICT DO NOTHING
    RETURNING delivery_id, ts, cylinder_ids
), items AS (
    INSERT INTO delivery_items (cylinder_id, ts, delivery_id)
    SELECT unnest(cylinder_ids), ts, delivery_id FROM ins
    ON CONFLICT DO NOTHING
)
SELECT count(*) FROM ins
"""

if tuple(StatusSample.__annotations__) != tuple(c.strip() for c in STATUS_COLUMNS.split(","))[1:-1]:
    raise RuntimeError("StatusSample's fields must be elevator_status's columns, in order")

TABLES = ("elevator_status", "elevator_events", "scale_samples", "fillings", "deliveries")
# The high-volume tables, whose rows COPY as they are staged (no JSON casts):
# tried straight into the table first (_copy_or_merge).
DIRECT = frozenset({"elevator_status", "scale_samples"})


@dataclass
class Rows:
    """One batch's rows, per destination table."""

    status: list[tuple[Any, ...]] = field(default_factory=list)
    events: list[tuple[Any, ...]] = field(default_factory=list)
    scale: list[tuple[Any, ...]] = field(default_factory=list)
    fillings: list[tuple[Any, ...]] = field(default_factory=list)
    deliveries: list[tuple[Any, ...]] = field(default_factory=list)
    dead: list[tuple[Any, ...]] = field(default_factory=list)

    def __len__(self) -> int:
        return (
            len(self.status)
            + len(self.events)
            + len(self.scale)
            + len(self.fillings)
            + len(self.deliveries)
            + len(self.dead)
        )

    def add(self, message: Decoded | Rejection, received_at: datetime) -> None:
        if isinstance(message, Rejection):
            self.add_dead(
                received_at, message.topic, message.payload, message.reason, message.detail
            )
            return
        eid = message.equipment_id
        if message.kind == "status":
            # A validated sample's keys are the table's columns, in order
            # (checked below, at import): no per-field lookups on the hot path.
            self.status.extend((eid, *s.values(), received_at) for s in message.status)
        elif message.event is not None:
            e = message.event
            data = None if e.data is None else orjson.dumps(e.data).decode()
            self.events.append(
                (eid, e.ts, e.code, gov_code_for(e.code, e.gov_code), e.detail, data, received_at)
            )
        elif message.scale is not None:
            c = message.scale
            self.scale.append(
                (eid, c.filling_id, c.cylinder_id, c.ts, c.net_kg, c.pressure_mpa, received_at)
            )
        elif message.filling is not None:
            f = message.filling
            post = None if f.postcheck is None else orjson.dumps(f.postcheck.model_dump()).decode()
            self.fillings.append(
                (
                    f.filling_id,
                    eid,
                    f.cylinder_id,
                    f.gas,
                    f.operator_id,
                    f.started_at,
                    f.ended_at,
                    f.result,
                    f.net_kg,
                    f.tare_kg,
                    f.pressure_mpa,
                    f.temperature_c,
                    orjson.dumps(f.precheck.model_dump()).decode(),
                    post,
                    received_at,
                )
            )
        elif message.delivery is not None:
            d = message.delivery
            self.deliveries.append(
                (
                    d.delivery_id,
                    eid,
                    d.ts,
                    d.direction,
                    orjson.dumps(d.cylinder_ids).decode(),
                    d.customer,
                    d.address,
                    d.district,
                    received_at,
                )
            )

    def add_dead(
        self, received_at: datetime, topic: str, payload: bytes, reason: str, detail: str
    ) -> None:
        # text columns cannot hold NUL; the raw bytes are kept intact in bytea.
        topic = topic.replace("\x00", "\ufffd")
        # The row's identity, what a redelivery repeats: SHA-256 of the stored
        # topic's UTF-8, a NUL (which the topic now cannot hold, so no two pairs
        # hash the same bytes) and the payload; migration 0014 backfilled old
        # rows with the same expression in SQL. surrogatepass: this runs in the
        # message handler and must not raise (a topic from gmqtt has none).
        digest = hashlib.sha256(topic.encode("utf-8", "surrogatepass"))
        digest.update(b"\x00")
        digest.update(payload)
        self.dead.append(
            (
                received_at,
                topic,
                payload,
                reason,
                detail.replace("\x00", "\ufffd")[:2000],
                digest.digest(),
            )
        )


@dataclass
class Written:
    """Rows given and rows actually inserted, per table (the rest were duplicates)."""

    staged: dict[str, int] = field(default_factory=dict)
    inserted: dict[str, int] = field(default_factory=dict)

    def duplicates(self, table: str) -> int:
        return self.staged.get(table, 0) - self.inserted.get(table, 0)


def prepare_staging(conn: Connection[Any]) -> None:
    """Create this connection's staging tables (once per connection)."""
    conn.execute(PREPARE_SQL)
    conn.commit()


def _stage(
    conn: Connection[Any],
    table: str,
    columns: str,
    types: list[str],
    rows: list[tuple[Any, ...]],
) -> None:
    with (
        conn.cursor() as cur,
        cur.copy(f"COPY {table} ({columns}) FROM STDIN (FORMAT BINARY)") as copy,
    ):
        copy.set_types(types)
        for row in rows:
            copy.write_row(row)


def _copy_or_merge(
    conn: Connection[Any],
    table: str,
    stage: str,
    columns: str,
    types: list[str],
    insert: str,
    rows: list[tuple[Any, ...]],
) -> int:
    """Rows inserted. COPY straight into the table first: a batch with no row
    already stored (all but the first batches after a redelivery) skips the
    staging pass, which had cost about a third of each batch's write. A key
    already there fails the COPY; the savepoint undoes it and the batch goes
    through staging, where ON CONFLICT drops the duplicates."""
    conn.execute("SAVEPOINT direct_copy")
    try:
        _stage(conn, table, columns, types, rows)
    except psycopg.errors.UniqueViolation:
        conn.execute("ROLLBACK TO SAVEPOINT direct_copy")
    else:
        conn.execute("RELEASE SAVEPOINT direct_copy")
        return len(rows)
    _stage(conn, stage, columns, types, rows)
    return max(conn.execute(insert).rowcount, 0)


def write_rows(conn: Connection[Any], rows: Rows) -> Written:
    """Stage and insert one batch inside the caller's transaction (not committed)."""
    out = Written()
    plan = (
        (
            "elevator_status",
            "stage_status",
            STATUS_COLUMNS,
            STATUS_TYPES,
            INSERT_STATUS,
            rows.status,
        ),
        ("elevator_events", "stage_events", EVENT_COLUMNS, EVENT_TYPES, INSERT_EVENTS, rows.events),
        ("scale_samples", "stage_scale", SCALE_COLUMNS, SCALE_TYPES, INSERT_SCALE, rows.scale),
        (
            "fillings",
            "stage_fillings",
            FILLING_COLUMNS,
            FILLING_TYPES,
            INSERT_FILLINGS,
            rows.fillings,
        ),
        (
            "deliveries",
            "stage_deliveries",
            DELIVERY_COLUMNS,
            DELIVERY_TYPES,
            INSERT_DELIVERIES,
            rows.deliveries,
        ),
        # Rare; a redelivery meets the digest's unique index and is dropped.
        ("dead_letters", "stage_dead", DEAD_COLUMNS, DEAD_TYPES, INSERT_DEAD, rows.dead),
    )
    for table, stage, columns, types, insert, data in plan:
        if not data:
            continue
        out.staged[table] = len(data)
        if table in DIRECT:
            out.inserted[table] = _copy_or_merge(conn, table, stage, columns, types, insert, data)
            continue
        _stage(conn, stage, columns, types, data)
        cur = conn.execute(insert)
        if table == "deliveries":  # counted by its SELECT (the rowcount is the items')
            counted = cur.fetchone()
            out.inserted[table] = int(counted[0]) if counted else 0
        else:
            out.inserted[table] = max(cur.rowcount, 0)
    return out
