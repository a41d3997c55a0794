"""The background work beside the engine: the inspection/maintenance sweep
and the re-check of maintenance records against late telemetry,
the registry refresh, forgetting conditions resolved by hand, publishing rows
written elsewhere, escalation. Fleet-wide work runs on partition 0 only."""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import datetime

import psycopg
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from alerts.engine import Engine
from alerts.registry import RegistryCache
from alerts.rescue_deadlines import escalate_rescues
from alerts.sweeps import sweep
from alerts.verification import verification_ops
from semon.domain.alerts import ELEVATOR_KINDS

log = logging.getLogger(__name__)

_OPEN_ELEVATOR_ALERTS = """
SELECT condition_key, started_at, equipment_id FROM alerts
WHERE state <> 'resolved' AND kind = ANY(%s)
"""


class Periodic:
    """The tasks ``sweeps`` and ``publishing`` (in the process's TaskGroup)."""

    def __init__(
        self,
        engine: Engine,
        pool: AsyncConnectionPool[AsyncConnection],
        registry: RegistryCache,
    ) -> None:
        self.engine = engine
        self.cfg = engine.cfg
        self.clock = engine.clock
        self.writer = engine.writer
        self.pool = pool
        self.registry = registry
        self._last_sweep: datetime | None = None

    async def sweeps(self) -> None:
        """Sweep every ``sweep_interval_s`` (the rules' clock), and not while
        the last sweep's alerts are still being written: a sweep slower to
        write than its interval would grow the bulk queue forever."""
        while True:
            now = self.clock.now()
            due = (
                self._last_sweep is None
                or (now - self._last_sweep).total_seconds() >= self.cfg.sweep_interval_s
            )
            if due and self.writer.db_ok and not self.writer.bulk:
                self._last_sweep = now
                await self.sweep(now)
            await asyncio.sleep(self.cfg.tick_interval_s)

    async def sweep(self, now: datetime) -> None:
        try:
            if self.cfg.partition == 0:  # fleet-wide: one partition runs it
                async with self.pool.connection(timeout=10) as conn:
                    ops = await sweep(conn, self.cfg, now, self.engine.settings.regulator)
                    await conn.commit()
                    ops += await verification_ops(conn, self.engine.settings.verification, now)
                    await conn.commit()
                # Behind any judged change: thousands at once on a first start.
                self.writer.put_bulk(ops)
            await self.registry.maybe_refresh()
            await self.sync_open()
        except (psycopg.Error, TimeoutError, OSError) as exc:
            log.warning("sweep failed: %s", exc)

    async def sync_open(self) -> None:
        """Forget conditions someone resolved by hand (the API), so a new
        episode raises a new alert. Skipped while writes are queued."""
        if self.writer.outbox or self.writer.paging or not self.writer.queue.empty():
            return
        async with self.pool.connection(timeout=5) as conn:
            cur = await conn.execute(_OPEN_ELEVATOR_ALERTS, (list(ELEVATOR_KINDS),))
            rows = await cur.fetchall()
            await conn.commit()
        if self.writer.outbox or self.writer.paging or not self.writer.queue.empty():
            return
        mine = self.engine.mine
        self.engine.rules.open = {str(k): v for k, v, eid in rows if mine(eid)}

    async def publishing(self) -> None:
        """Publish rows nobody published yet; page again what nobody acknowledged."""
        last_escalation = 0.0
        while True:
            await asyncio.sleep(self.cfg.publish_poll_s)
            if self.cfg.partition != 0:
                await self.writer.publish_pending(own_only=True)
                continue
            await self.writer.publish_pending()
            if time.monotonic() - last_escalation >= min(1.0, self.cfg.escalate_after_s):
                last_escalation = time.monotonic()
                await self.writer.escalate_due()
                await escalate_rescues(self.writer)
