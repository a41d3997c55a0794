"""The permit answer log keeps what it could not write while the database
was away, writes it once the database is back, and drops only the oldest
beyond its bound (counted)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import psycopg
import pytest
from prometheus_client import REGISTRY

from api.permit_log import PermitLog
from semon.settings import PermitSettings
from semon.store.permits import PermitAnswer
from semon.store.pool import DB_UNAVAILABLE, open_pool
from tests.alerts.helpers import private_postgres


def _dropped() -> float:
    return REGISTRY.get_sample_value("semon_api_fill_permits_dropped_total") or 0.0


def _answer(i: int) -> PermitAnswer:
    return PermitAnswer(
        f"pm_{i}",
        "ST-1",
        f"CY-{i}",
        "lpg",
        i % 2 == 0,
        () if i % 2 == 0 else ("gas_mismatch",),
        datetime.now(UTC),
        "tok-1",
    )


async def test_held_through_an_outage_and_bounded() -> None:
    async with private_postgres() as (pg, dsn):
        cfg = PermitSettings(buffer_max=3)
        async with open_pool(dsn, name="t", timeout=2, check=False, autocommit=True) as pool:
            log = PermitLog(pool, cfg)
            log.add(_answer(0))
            await log.flush()
            await asyncio.to_thread(pg.stop)
            for i in (1, 2):
                log.add(_answer(i))
            with pytest.raises(DB_UNAVAILABLE):
                await log.flush()
            assert log.held == 2  # put back
            dropped = _dropped()
            for i in (3, 4):
                log.add(_answer(i))
            assert log.held == 3 and _dropped() == dropped + 1  # answer 1 went
            await asyncio.to_thread(pg.start)
            for _ in range(50):  # the pool replaces its broken connections
                try:
                    await log.flush()
                    break
                except DB_UNAVAILABLE:
                    await asyncio.sleep(0.1)
            assert log.held == 0
        with psycopg.connect(dsn) as conn:
            rows = conn.execute(
                "SELECT permit_id, allow, reasons FROM fill_permits ORDER BY permit_id"
            ).fetchall()
    assert rows == [
        ("pm_0", True, []),
        ("pm_2", True, []),
        ("pm_3", False, ["gas_mismatch"]),
        ("pm_4", True, []),
    ]
