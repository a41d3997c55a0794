"""Maintenance scores for the whole fleet: aggregated SQL in, numpy, one upsert out.

``refresh_scores`` reads one row per elevator from aggregates (the registry,
the alerts table, and the terminal's counters from the hourly figures of
0007, never the raw samples), scores the
fleet with ``semon.scoring`` and writes ``elevator_scores`` in one upsert.
Rows travel both ways as binary COPY decoded and encoded by numpy record
arrays, so no Python code runs per elevator. The API calls ``ensure_fresh``
before reading scores; the alerts process reads ``interval_days``.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import numpy.typing as npt
from psycopg import AsyncConnection, sql
from psycopg.rows import dict_row

from semon.scoring import FACTORS, GRADES, VETOES, FleetMetrics, score_fleet
from semon.settings import Settings

REFRESH_LOCK = 0x5E3A0012  # advisory lock: one fleet refresh at a time

# Which hourly source this database has (0007): a rollup table on plain
# PostgreSQL, continuous aggregates on TimescaleDB. They are read directly
# rather than through the `elevator_hourly` view, whose FULL JOINs keep the
# window's bucket filter from reaching the tables.
_HOURLY_SOURCE = """
SELECT to_regclass('elevator_hourly_rollup') IS NOT NULL,
       to_regclass('elevator_hourly_status') IS NOT NULL
"""

# The terminal's counters over the load window, from hourly figures. Both
# aggregates read only the lifts being scored (``score_fleet``): the whole
# fleet for a refresh, one lift for its eligibility.
_TERMINAL_HOURLY = """
SELECT elevator_id,
       sum(trips)::float8 AS trips,
       sum(door_cycles)::float8 AS door_cycles,
       max(bucket) + interval '1 hour' AS last_seen
  FROM {table}
 WHERE bucket >= %(load_from)s AND bucket < %(now)s AND samples > 0
   AND elevator_id IN (SELECT elevator_id FROM score_fleet)
 GROUP BY elevator_id
"""

_METRICS = """
WITH term AS ({terminal}),
al AS (
    SELECT equipment_id AS elevator_id,
           count(*) FILTER (WHERE kind = 'elevator_fault' AND started_at >= %(act_from)s)
               AS faults,
           count(*) FILTER (WHERE kind = 'trapped_passenger' AND started_at >= %(trap_from)s)
               AS traps,
           coalesce(sum(extract(epoch FROM least(coalesce(ended_at, resolved_at, %(now)s), %(now)s)
                                          - started_at))
                    FILTER (WHERE kind = 'trapped_passenger' AND started_at >= %(trap_from)s), 0)
               / 60.0 AS trap_minutes,
           coalesce(sum(extract(epoch FROM least(coalesce(ended_at, resolved_at, %(now)s), %(now)s)
                                          - greatest(started_at, %(act_from)s)))
                    FILTER (WHERE kind = 'terminal_offline'
                              AND coalesce(ended_at, resolved_at, %(now)s) > %(act_from)s), 0)
               AS offline_s,
           min(started_at) FILTER (WHERE kind = 'terminal_offline'
                                     AND coalesce(ended_at, resolved_at) IS NULL) AS offline_since,
           bool_or(kind = 'trapped_passenger' AND started_at >= %(veto_from)s
                   AND (resolution = 'repaired' OR details->>'cause' = 'maintenance'))
               AS maintenance_trap
      FROM alerts
     WHERE equipment_type = 'elevator'
       AND equipment_id IN (SELECT elevator_id FROM score_fleet)
       AND kind IN ('elevator_fault', 'trapped_passenger', 'terminal_offline')
       AND started_at <= %(now)s
       AND (started_at >= %(trap_from)s
            OR coalesce(ended_at, resolved_at) IS NULL
            OR coalesce(ended_at, resolved_at) > %(act_from)s)
     GROUP BY equipment_id
)
SELECT fl.i,
       ((%(today)s::date - e.installed_on) / 365.25)::float8 AS age_years,
       coalesce(fi.tech_level::float8, 'NaN') AS tech_level,
       coalesce(e.use_unit_level::float8, 'NaN') AS use_unit_level,
       coalesce(ascii(fi.credit_grade) - 65, -1)::int4 AS credit,
       coalesce(al.faults, 0)::float8 AS faults,
       coalesce(CASE WHEN t.trips >= 0 THEN t.trips * %(load_scale)s END, 'NaN')::float8 AS trips,
       coalesce(al.traps, 0)::float8 AS traps,
       coalesce(al.trap_minutes, 0)::float8 AS trap_minutes,
       least(coalesce(al.offline_s, 0) / %(act_s)s, 1.0)::float8 AS offline_share,
       coalesce(CASE WHEN t.door_cycles >= 0 THEN t.door_cycles / %(load_days)s END,
                'NaN')::float8 AS door_per_day,
       (e.status = 'in_service'
        AND semon_elevator_due(e.last_inspected_on, e.inspection_passed_on,
                               e.inspection_failed_on, e.installed_on,
                               e.inspection_interval_months) < %(today)s::date) AS overdue,
       coalesce(extract(epoch FROM %(now)s - coalesce(t.last_seen, al.offline_since)) / 86400.0,
                'Infinity')::float8
           AS days_since_data,
       coalesce(al.maintenance_trap, false) AS maintenance_trap,
       ({uninsured}) AS uninsured,
       (e.status = 'in_service'
        AND semon_failed_in_use(e.inspection_failed_on, e.last_inspected_on)) AS failed_in_use
  FROM score_fleet fl
  JOIN elevators e ON e.elevator_id = fl.elevator_id
  LEFT JOIN firms fi ON fi.firm_id = e.firm_id
  LEFT JOIN term t ON t.elevator_id = e.elevator_id
  LEFT JOIN al ON al.elevator_id = e.elevator_id
 ORDER BY fl.i
"""

# Insurance is in the registry once its fields are (CONTRACT.md v1.1,
# "Coverage": insured_until, null = uninsured); before that nobody is vetoed.
_HAS_INSURANCE = """
SELECT EXISTS (SELECT 1 FROM information_schema.columns
                WHERE table_schema = current_schema() AND table_name = 'elevators'
                  AND column_name = 'insured_until')
"""
UNINSURED_SQL = "e.insured_until IS NULL OR e.insured_until < %(today)s::date"


async def has_insurance(conn: AsyncConnection) -> bool:
    row = await (await conn.execute(_HAS_INSURANCE)).fetchone()
    return bool(row and row[0])


# The fleet as ordinals: rows travel between the database and numpy as
# fixed-width binary COPY records keyed by ``i``, never as Python objects.
_FLEET = """
CREATE TEMP TABLE score_fleet ON COMMIT DROP AS
SELECT row_number() OVER (ORDER BY elevator_id)::int4 AS i, elevator_id FROM elevators
"""
_BATCH = """
CREATE TEMP TABLE score_batch (
    i int4, score float8, grade int4, interval_days int4, vetoes int4, {cols}
) ON COMMIT DROP
"""

# Binary COPY layout of one metrics row (all fields NOT NULL), in query order.
_METRIC_FIELDS: tuple[tuple[str, str], ...] = (
    ("i", ">i4"),
    ("age_years", ">f8"),
    ("firm_tech_level", ">f8"),
    ("use_unit_level", ">f8"),
    ("firm_credit", ">i4"),
    ("faults", ">f8"),
    ("trips", ">f8"),
    ("traps", ">f8"),
    ("trap_minutes", ">f8"),
    ("offline_share", ">f8"),
    ("door_cycles_per_day", ">f8"),
    ("inspection_overdue", "?"),
    ("days_since_data", ">f8"),
    ("maintenance_trap", "?"),
    ("uninsured", "?"),
    ("failed_in_use", "?"),
)
_BATCH_FIELDS: tuple[tuple[str, str], ...] = (
    ("i", ">i4"),
    ("score", ">f8"),
    ("grade", ">i4"),
    ("interval_days", ">i4"),
    ("vetoes", ">i4"),
    *((f"v{k}", ">f8") for k in range(len(FACTORS))),
    *((f"c{k}", ">f8") for k in range(len(FACTORS))),
)
_COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + b"\x00" * 8
_COPY_TRAILER = b"\xff\xff"


def copy_dtype(fields: tuple[tuple[str, str], ...]) -> np.dtype[Any]:
    """A numpy record for one binary COPY tuple: field count, then each
    field's length and value."""
    parts: list[tuple[str, str]] = [("_n", ">i2")]
    for name, code in fields:
        parts += [(f"_len_{name}", ">i4"), (name, code)]
    return np.dtype(parts)


def decode_copy(data: bytes, fields: tuple[tuple[str, str], ...]) -> npt.NDArray[np.void]:
    body = data[len(_COPY_HEADER) : len(data) - len(_COPY_TRAILER)]
    return np.frombuffer(body, dtype=copy_dtype(fields))


def encode_copy(columns: dict[str, Any], fields: tuple[tuple[str, str], ...]) -> bytes:
    dtype = copy_dtype(fields)
    n = len(next(iter(columns.values())))
    rec = np.zeros(n, dtype=dtype)
    rec["_n"] = len(fields)
    for name, _code in fields:
        rec[f"_len_{name}"] = dtype[name].itemsize
        rec[name] = columns[name]
    return _COPY_HEADER + rec.tobytes() + _COPY_TRAILER


def upsert_sql() -> str:
    """The upsert from ``score_batch``: factor values and contributions as
    arrays (no per-row text or JSON), vetoes from the bit mask."""
    values = ", ".join(f"b.v{k}" for k in range(len(FACTORS)))
    contribs = ", ".join(f"b.c{k}" for k in range(len(FACTORS)))
    vetoes = ", ".join(
        f"CASE WHEN b.vetoes & {1 << k} <> 0 THEN '{name}' END" for k, name in enumerate(VETOES)
    )
    return f"""
INSERT INTO elevator_scores (elevator_id, score, grade, interval_days, factor_names,
                             factor_values, factor_weights, factor_contributions, vetoes,
                             computed_at)
SELECT fl.elevator_id, b.score, chr(65 + b.grade), b.interval_days, %(names)s::text[],
       ARRAY[{values}], %(weights)s::float8[], ARRAY[{contribs}],
       array_remove(ARRAY[{vetoes}]::text[], NULL), %(now)s
  FROM score_batch b JOIN score_fleet fl ON fl.i = b.i
ON CONFLICT (elevator_id) DO UPDATE
   SET score = excluded.score, grade = excluded.grade, interval_days = excluded.interval_days,
       factor_names = excluded.factor_names, factor_values = excluded.factor_values,
       factor_weights = excluded.factor_weights,
       factor_contributions = excluded.factor_contributions,
       vetoes = excluded.vetoes, computed_at = excluded.computed_at
"""


_DELETE_GONE = """
DELETE FROM elevator_scores s
 WHERE NOT EXISTS (SELECT 1 FROM elevators e WHERE e.elevator_id = s.elevator_id)
"""

_STALE = """
SELECT EXISTS (
    SELECT 1 FROM elevators e LEFT JOIN elevator_scores s ON s.elevator_id = e.elevator_id
     WHERE s.elevator_id IS NULL OR s.computed_at < %(stale)s OR s.computed_at > %(now)s)
"""


async def _load(
    conn: AsyncConnection, settings: Settings, *, now: datetime
) -> tuple[npt.NDArray[np.int32], FleetMetrics]:
    """Ordinals and metrics of every elevator in ``score_fleet`` (made by the
    caller), straight from a binary COPY into numpy."""
    cfg = settings.score
    rollup, caggs = await (await conn.execute(_HOURLY_SOURCE)).fetchone() or (False, False)
    if not (rollup or caggs):
        raise RuntimeError("no hourly figures: migration 0007 has not been applied")
    terminal = _TERMINAL_HOURLY.format(
        table="elevator_hourly_rollup" if rollup else "elevator_hourly_status"
    )
    act = timedelta(days=cfg.activity_window_days)
    load = timedelta(hours=cfg.load_window_hours)
    params: dict[str, Any] = {
        "now": now,
        "today": now.date(),
        "act_from": now - act,
        "act_s": act.total_seconds(),
        "load_from": now - load,
        "load_days": load.total_seconds() / 86400.0,
        # trips seen in the load window, scaled to the activity window that
        # the fault alerts are counted over
        "load_scale": act / load,
        "trap_from": now - timedelta(days=cfg.trap_window_days),
        "veto_from": now - timedelta(days=cfg.veto_trap_window_days),
    }
    uninsured = UNINSURED_SQL if await has_insurance(conn) else "false"
    query = (
        "COPY ("
        + _METRICS.format(terminal=terminal, uninsured=uninsured)
        + ") TO STDOUT (FORMAT BINARY)"
    )
    buf = bytearray()
    async with conn.cursor().copy(query, params) as copy:
        async for chunk in copy:
            buf += chunk
    rec = decode_copy(bytes(buf), _METRIC_FIELDS)

    def col(name: str, dtype: type[Any]) -> Any:
        return rec[name].astype(dtype)

    return col("i", np.int32), FleetMetrics(
        age_years=col("age_years", np.float64),
        firm_tech_level=col("firm_tech_level", np.float64),
        use_unit_level=col("use_unit_level", np.float64),
        firm_credit=col("firm_credit", np.int64),
        faults=col("faults", np.float64),
        trips=col("trips", np.float64),
        traps=col("traps", np.float64),
        trap_minutes=col("trap_minutes", np.float64),
        offline_share=col("offline_share", np.float64),
        door_cycles_per_day=col("door_cycles_per_day", np.float64),
        inspection_overdue=col("inspection_overdue", np.bool_),
        days_since_data=col("days_since_data", np.float64),
        maintenance_trap=col("maintenance_trap", np.bool_),
        uninsured=col("uninsured", np.bool_),
        failed_in_use=col("failed_in_use", np.bool_),
    )


_FLEET_OF = """
CREATE TEMP TABLE score_fleet ON COMMIT DROP AS
SELECT row_number() OVER (ORDER BY elevator_id)::int4 AS i, elevator_id FROM elevators
 WHERE elevator_id = ANY(%(ids)s)
"""


async def load_metrics(
    conn: AsyncConnection, settings: Settings, *, now: datetime, ids: list[str] | None = None
) -> tuple[npt.NDArray[np.int32], FleetMetrics]:
    """The fleet's ordinals and metrics (``score_fleet`` stays in the
    transaction to map ordinals back to elevator ids); ``ids``: only these
    elevators (one lift's eligibility), by the very same query."""
    await conn.execute("DROP TABLE IF EXISTS score_fleet")
    if ids is None:
        await conn.execute(_FLEET)
    else:
        await conn.execute(_FLEET_OF, {"ids": ids})
    # temp tables are never auto-analyzed; the metrics query joins this one
    # to everything, so give the planner its real size
    await conn.execute("ANALYZE score_fleet")
    return await _load(conn, settings, now=now)


async def refresh_scores(conn: AsyncConnection, settings: Settings, *, now: datetime) -> int:
    """Score every elevator in the registry at ``now`` and store the results.

    Runs in the caller's transaction (commits nothing itself) under an
    advisory lock so concurrent refreshes queue instead of racing. Returns the
    number of elevators scored.
    """
    await conn.execute("SELECT pg_advisory_xact_lock(%s)", (REFRESH_LOCK,))
    # An elevator deleted after score_fleet was made drops out of the metrics,
    # so rows carry their ordinal rather than relying on position.
    ordinals, metrics = await load_metrics(conn, settings, now=now)
    await conn.execute(_DELETE_GONE)
    n = len(metrics.age_years)
    if n:
        s = score_fleet(metrics, settings.score)
        bits = (s.vetoes.astype(np.int32) << np.arange(len(VETOES), dtype=np.int32)[:, None]).sum(
            axis=0
        )
        columns: dict[str, Any] = {
            "i": ordinals,
            "score": s.score,
            "grade": s.grade,
            "interval_days": s.interval_days,
            "vetoes": bits,
        }
        for k in range(len(FACTORS)):
            columns[f"v{k}"] = np.round(s.values[k], 3)
            columns[f"c{k}"] = s.contributions[k]
        cols = ", ".join(f"v{k} float8, c{k} float8" for k in range(len(FACTORS)))
        await conn.execute("DROP TABLE IF EXISTS score_batch")
        await conn.execute(_BATCH.format(cols=cols))
        order = ", ".join(name for name, _ in _BATCH_FIELDS)
        async with conn.cursor().copy(
            f"COPY score_batch ({order}) FROM STDIN (FORMAT BINARY)"
        ) as cp:
            await cp.write(encode_copy(columns, _BATCH_FIELDS))
        await conn.execute(
            upsert_sql(), {"now": now, "names": list(FACTORS), "weights": s.weights.tolist()}
        )
        await conn.execute("DROP TABLE score_batch")
    await conn.execute("DROP TABLE score_fleet")
    return n


async def ensure_fresh(conn: AsyncConnection, settings: Settings, *, now: datetime) -> bool:
    """Refresh the fleet's scores when any is missing or older than the
    staleness limit; True when a refresh ran. Commits."""
    stale = now - timedelta(seconds=settings.score.stale_after_s)
    row = await (await conn.execute(_STALE, {"stale": stale, "now": now})).fetchone()
    if not row or not row[0]:
        return False
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(%s)", (REFRESH_LOCK,))
        # Another request may have refreshed while this one waited for the lock.
        row = await (await conn.execute(_STALE, {"stale": stale, "now": now})).fetchone()
        if row and row[0]:
            await refresh_scores(conn, settings, now=now)
    await conn.commit()
    return True


_SELECT = """
SELECT s.elevator_id, e.firm_id, e.district, s.score, s.grade, s.interval_days,
       s.factor_names, s.factor_values, s.factor_weights, s.factor_contributions,
       s.vetoes, s.computed_at
  FROM elevator_scores s JOIN elevators e ON e.elevator_id = s.elevator_id
"""


def as_result(row: dict[str, Any]) -> dict[str, Any]:
    """A stored row as the contract's score: factors as a list of objects."""
    out = {k: v for k, v in row.items() if not k.startswith("factor_")}
    factors = []
    for name, value, weight, contribution in zip(
        row["factor_names"],
        row["factor_values"],
        row["factor_weights"],
        row["factor_contributions"],
        strict=True,
    ):
        shown: float | str | None = None if math.isnan(value) else value
        if name == "firm_credit_grade" and shown is not None:
            shown = GRADES[int(value)]
        factors.append(
            {"name": name, "value": shown, "weight": weight, "contribution": contribution}
        )
    out["factors"] = factors
    out["vetoes"] = list(row["vetoes"] or [])
    return out


async def score_of(
    conn: AsyncConnection, elevator_id: str, *, scope: sql.Composable, params: dict[str, Any]
) -> dict[str, Any] | None:
    """One elevator's stored score, or None when it is not in the caller's
    scope (``scope`` is a predicate over ``e``, the elevators row)."""
    cur = conn.cursor(row_factory=dict_row)
    query = sql.SQL(_SELECT + " WHERE s.elevator_id = %(elevator_id)s AND ({})").format(scope)
    await cur.execute(query, {**params, "elevator_id": elevator_id})
    row = await cur.fetchone()
    return None if row is None else as_result(row)


async def worst_scores(
    conn: AsyncConnection,
    *,
    scope: sql.Composable,
    params: dict[str, Any],
    firm_id: str | None,
    limit: int,
    offset: int,
) -> tuple[int, list[dict[str, Any]]]:
    """Scores in scope, worst first, one page; with the total in scope."""
    cond = sql.SQL("({})").format(scope)
    if firm_id is not None:
        cond = sql.SQL("{} AND e.firm_id = %(firm_id)s").format(cond)
    p = {**params, "firm_id": firm_id, "limit": limit, "offset": offset}
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(
        sql.SQL(
            "SELECT count(*) AS n FROM elevator_scores s"
            " JOIN elevators e ON e.elevator_id = s.elevator_id WHERE {}"
        ).format(cond),
        p,
    )
    total = (await cur.fetchone() or {"n": 0})["n"]
    await cur.execute(
        sql.SQL(
            _SELECT + " WHERE {} ORDER BY s.score, s.elevator_id LIMIT %(limit)s OFFSET %(offset)s"
        ).format(cond),
        p,
    )
    return int(total), [as_result(r) for r in await cur.fetchall()]
