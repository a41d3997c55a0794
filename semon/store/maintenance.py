"""Keeping the time-series in shape: partitions ahead, retention, policies,
and the hourly per-elevator figures.

Runs after migrations (``semon db migrate``) and then periodically from
``maintenance_loop``, which every process that writes (ingest) may run: one
advisory lock lets one of them work per round and the others skip it, and
every step is idempotent, so a crash halfway is mended by the next round.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta

import psycopg
from psycopg import AsyncConnection

from semon.clock import Clock, SystemClock
from semon.settings import Settings, StorageSettings
from semon.store.migrate import Flavour

log = logging.getLogger(__name__)

MAINTENANCE_LOCK = 0x5E3A0002
TIMESERIES_TABLES = ("elevator_status", "elevator_events", "scale_samples")
# The continuous aggregates behind the `elevator_hourly` view (0007).
HOURLY_AGGREGATES = ("elevator_hourly_status", "elevator_hourly_faults")
HOUR = timedelta(hours=1)

_TRY_LOCK = "SELECT pg_try_advisory_lock(%s)"
_UNLOCK = "SELECT pg_advisory_unlock(%s)"

# A policy whose interval already matches is left alone, so running this
# every round neither churns job ids nor resets a job's schedule.
_POLICY_MATCHES = """
SELECT 1 FROM timescaledb_information.jobs
WHERE proc_name = %(proc)s
  AND hypertable_schema = current_schema()
  AND hypertable_name = %(table)s
  AND (config ->> %(key)s)::interval = %(interval)s::interval
"""
_REMOVE_RETENTION = "SELECT remove_retention_policy(%s, if_exists => true)"
_ADD_RETENTION = "SELECT add_retention_policy(%s, %s::interval)"
_REMOVE_COMPRESSION = "SELECT remove_compression_policy(%s, if_exists => true)"
_ADD_COMPRESSION = "SELECT add_compression_policy(%s, %s::interval)"

_ENSURE_PARTITIONS = "SELECT semon_ensure_partitions(%s, %s, %s)"
_DROP_PARTITIONS = "SELECT semon_drop_partitions(%s, %s)"

_REFRESH_AGGREGATE = "CALL refresh_continuous_aggregate(%s, %s::timestamptz, %s::timestamptz)"
_REFRESH_ROLLUP = "SELECT semon_refresh_hourly(%s, %s)"
_MERGE_ROLLUP = "SELECT semon_merge_hourly()"


def _floor_hour(t: datetime) -> datetime:
    return t.replace(minute=0, second=0, microsecond=0)


async def _try_lock(conn: AsyncConnection) -> bool:
    row = await (await conn.execute(_TRY_LOCK, (MAINTENANCE_LOCK,))).fetchone()
    return bool(row and row[0])


async def apply_policies(conn: AsyncConnection, flavour: Flavour, storage: StorageSettings) -> bool:
    """Make the database's retention, compression and partitions match the
    settings. Returns False when another process holds the lock (it is doing
    the same work right now)."""
    await conn.set_autocommit(True)
    if not await _try_lock(conn):
        return False
    try:
        await _apply_policies_locked(conn, flavour, storage, datetime.now(UTC))
    finally:
        await conn.execute(_UNLOCK, (MAINTENANCE_LOCK,))
    return True


async def _apply_policies_locked(
    conn: AsyncConnection, flavour: Flavour, storage: StorageSettings, now: datetime
) -> None:
    if flavour == "timescale":
        await _timescale_policies(conn, storage)
    else:
        await _postgres_partitions(conn, storage, now)


async def _policy_matches(
    conn: AsyncConnection, proc: str, table: str, key: str, interval: timedelta
) -> bool:
    cur = await conn.execute(
        _POLICY_MATCHES, {"proc": proc, "table": table, "key": key, "interval": interval}
    )
    return await cur.fetchone() is not None


async def _timescale_policies(conn: AsyncConnection, storage: StorageSettings) -> None:
    retention = timedelta(days=storage.retention_days)
    compress = timedelta(days=storage.compress_after_days)
    for table in TIMESERIES_TABLES:
        # A changed setting takes effect by replacing the policy; TimescaleDB
        # has no "alter policy interval" call that covers both kinds.
        if not await _policy_matches(conn, "policy_retention", table, "drop_after", retention):
            await conn.execute(_REMOVE_RETENTION, (table,))
            await conn.execute(_ADD_RETENTION, (table, retention))
            log.info("retention of %s set to %s days", table, storage.retention_days)
        if not await _policy_matches(conn, "policy_compression", table, "compress_after", compress):
            await conn.execute(_REMOVE_COMPRESSION, (table,))
            await conn.execute(_ADD_COMPRESSION, (table, compress))
            log.info("compression of %s after %s days", table, storage.compress_after_days)


async def _postgres_partitions(
    conn: AsyncConnection, storage: StorageSettings, now: datetime
) -> None:
    today = now.astimezone(UTC).date()
    for table in TIMESERIES_TABLES:
        # From yesterday: a backlog of the previous day still finds its
        # partition after midnight.
        await conn.execute(
            _ENSURE_PARTITIONS,
            (
                table,
                today - timedelta(days=1),
                today + timedelta(days=storage.partitions_ahead_days),
            ),
        )
        await conn.execute(
            _DROP_PARTITIONS, (table, today - timedelta(days=storage.retention_days))
        )


async def refresh_hourly(
    conn: AsyncConnection, flavour: Flavour, since: datetime, until: datetime | None = None
) -> None:
    """Bring `elevator_hourly` up to date for the hours from ``since``.

    TimescaleDB: materialises the complete hours in [since, until) (the
    refresh policies do the same on their own; this is for a caller that
    wants it now, e.g. after a backlog). The current hour is left to
    real-time aggregation: materialising a partial hour would hide rows that
    arrive later in it until the next refresh.
    Plain PostgreSQL: recomputes every hour touching [since, until) from the
    raw rows, including the current one (a repair: the rounds of
    ``maintain_once`` merge what was inserted since the last one, 0025).
    ``until`` defaults to now.
    """
    await conn.set_autocommit(True)  # CALL refresh_continuous_aggregate refuses a transaction
    end = until or datetime.now(UTC)
    if flavour == "timescale":
        lo, hi = _floor_hour(since), _floor_hour(end)
        if hi <= lo:
            return
        for view in HOURLY_AGGREGATES:
            await conn.execute(_REFRESH_AGGREGATE, (view, lo, hi))
    else:
        if end <= since:
            return
        await conn.execute(_REFRESH_ROLLUP, (since, end))


async def maintain_once(
    conn: AsyncConnection,
    flavour: Flavour,
    storage: StorageSettings,
    *,
    since: datetime,
    now: datetime,
) -> bool:
    """One round: partitions/policies, then the hourly figures: from
    ``since`` on TimescaleDB; on plain PostgreSQL the pieces inserted since
    the last round, whatever hour they are in (``semon_merge_hourly``).
    Returns False, doing nothing, when another process holds the lock."""
    await conn.set_autocommit(True)
    if not await _try_lock(conn):
        return False
    try:
        await _apply_policies_locked(conn, flavour, storage, now)
        if flavour == "timescale":
            await refresh_hourly(conn, flavour, since, now)
        else:
            await conn.execute(_MERGE_ROLLUP)
    finally:
        await conn.execute(_UNLOCK, (MAINTENANCE_LOCK,))
    return True


async def maintenance_loop(
    settings: Settings,
    flavour: Flavour,
    *,
    interval_s: float,
    lookback: timedelta = timedelta(hours=3),
    first_lookback: timedelta = timedelta(days=2),
    clock: Clock | None = None,
    rounds_done: asyncio.Queue[datetime] | None = None,
) -> None:
    """Run `maintain_once` every ``interval_s`` until cancelled.

    On TimescaleDB each round refreshes the hourly aggregates of the last
    ``lookback`` (the first round after start ``first_lookback``, a round
    after a failed one back to the last good one). On plain PostgreSQL each
    round folds in the per-(elevator, hour) pieces that every insert
    appended (0025: statement triggers), late rows included: its work is
    what was inserted since the last round, not the hours' raw rows, so the
    round no longer shows in ingest's latency at 50,000 samples/s.
    A round connects afresh, so a database restart costs one round, and
    holds no connection between rounds (PGlite serves one at a time).
    ``rounds_done`` receives the time of each round this process did.
    """
    clock = clock or SystemClock()
    last_ok: datetime | None = None
    while True:
        now = clock.now()
        # From the last round that went through (less the lookback), never
        # further back than first_lookback: a failed round widens the next.
        since = (
            now - first_lookback
            if last_ok is None
            else max(now - first_lookback, last_ok - lookback)
        )
        try:
            async with await AsyncConnection.connect(
                settings.database_url, autocommit=True
            ) as conn:
                # A background round takes one core at most: a parallel
                # aggregate over the last hours of raw samples took every core
                # of a small machine, and the writes sharing it waited.
                await conn.execute("SET max_parallel_workers_per_gather = 0")
                did = await maintain_once(conn, flavour, settings.storage, since=since, now=now)
            last_ok = now  # or another process did this round
            if did and rounds_done is not None:
                rounds_done.put_nowait(now)
        except psycopg.Error as exc:
            # The database being away is the ingest buffer's concern; the
            # next round retries with a wider window.
            log.warning("storage maintenance round failed: %s", exc)
        await asyncio.sleep(interval_s)
