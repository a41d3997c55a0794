"""Keeping the time-series in shape: partitions ahead, retention, policies.

Runs after migrations and then periodically; several processes may run it
at once (each step is idempotent and takes an advisory lock).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from psycopg import AsyncConnection

from semon.settings import StorageSettings
from semon.store.migrate import Flavour

MAINTENANCE_LOCK = 0x5E3A0002
TIMESERIES_TABLES = ("elevator_status", "elevator_events", "scale_samples")


async def apply_policies(conn: AsyncConnection, flavour: Flavour, storage: StorageSettings) -> None:
    """Make the database's retention and compression match the settings."""
    await conn.set_autocommit(True)
    got = await (await conn.execute("SELECT pg_try_advisory_lock(%s)", (MAINTENANCE_LOCK,))).fetchone()
    if not got or not got[0]:
        return  # another process is doing it right now
    try:
        if flavour == "timescale":
            await _timescale_policies(conn, storage)
        else:
            await _postgres_partitions(conn, storage)
    finally:
        await conn.execute("SELECT pg_advisory_unlock(%s)", (MAINTENANCE_LOCK,))


async def _timescale_policies(conn: AsyncConnection, storage: StorageSettings) -> None:
    retention = timedelta(days=storage.retention_days)
    compress = timedelta(days=storage.compress_after_days)
    for table in TIMESERIES_TABLES:
        # Re-adding is how a changed setting takes effect.
        await conn.execute("SELECT remove_retention_policy(%s, if_exists => true)", (table,))
        await conn.execute("SELECT add_retention_policy(%s, %s::interval)", (table, retention))
        await conn.execute("SELECT remove_compression_policy(%s, if_exists => true)", (table,))
        await conn.execute("SELECT add_compression_policy(%s, %s::interval)", (table, compress))


async def _postgres_partitions(conn: AsyncConnection, storage: StorageSettings) -> None:
    today = datetime.now(UTC).date()
    for table in TIMESERIES_TABLES:
        await conn.execute(
            "SELECT semon_ensure_partitions(%s, %s, %s)",
            (table, today - timedelta(days=1), today + timedelta(days=storage.partitions_ahead_days)),
        )
        await conn.execute(
            "SELECT semon_drop_partitions(%s, %s)",
            (table, today - timedelta(days=storage.retention_days)),
        )
