"""Keeps every fill-permit answer without making the station wait for it: the
route hands the answer over and returns; a background task writes what came
in, one statement per batch, every ``flush_interval_s``.

The price: answers of the last interval are lost if the API process dies
(a kill -9), and while the database is away they are held in memory (at
most ``buffer_max``, the oldest dropped beyond that and counted). A permit
is advice before a fill; the filling record itself is what ingest keeps
with at-least-once delivery.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import AsyncIterator

import psycopg
from fastapi import FastAPI
from prometheus_client import Counter
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from semon.settings import PermitSettings, Settings
from semon.store.permits import PermitAnswer, insert_permits
from semon.store.pool import DB_UNAVAILABLE, open_pool

log = logging.getLogger(__name__)

ANSWERS = Counter(
    "semon_api_fill_permits_total", "Fill-permit answers given", ["answer"]
)  # answer: allow, deny, unknown
DROPPED = Counter(
    "semon_api_fill_permits_dropped_total", "Permit answers dropped unkept (buffer full)"
)


class PermitLog:
    def __init__(self, pool: AsyncConnectionPool[AsyncConnection], cfg: PermitSettings) -> None:
        self._pool = pool
        self._cfg = cfg
        self._held: deque[PermitAnswer] = deque()
        self._wake = asyncio.Event()
        self._closing = False

    def add(self, answer: PermitAnswer) -> None:
        ANSWERS.labels(
            "unknown" if answer.allow is None else ("allow" if answer.allow else "deny")
        ).inc()
        if len(self._held) >= self._cfg.buffer_max:
            self._held.popleft()
            DROPPED.inc()
        self._held.append(answer)
        self._wake.set()

    @property
    def held(self) -> int:
        return len(self._held)

    async def flush(self) -> None:
        """Write what is held now; on a database error put it back for the next
        try (ahead of what came meanwhile, within ``buffer_max``)."""
        if not self._held:
            return
        batch, self._held = list(self._held), deque()
        try:
            async with self._pool.connection() as conn:  # autocommit: one statement
                await insert_permits(conn, batch)
        except BaseException:
            room = self._cfg.buffer_max - len(self._held)
            keep = batch[len(batch) - room :] if room < len(batch) else batch
            DROPPED.inc(len(batch) - len(keep))
            self._held.extendleft(reversed(keep))
            raise

    async def run(self) -> None:
        delay = self._cfg.flush_interval_s
        while not self._closing:
            await self._wake.wait()
            await asyncio.sleep(delay)  # gather a batch
            self._wake.clear()
            try:
                await self.flush()
                delay = self._cfg.flush_interval_s
            except DB_UNAVAILABLE as exc:
                self._wake.set()  # still held: try again, backing off
                delay = min(max(delay * 2, 0.1), 5.0)
                log.warning("%d permit answers not kept yet: %s", len(self._held), exc)
            except psycopg.Error:
                # Refused by the database (not away): retrying cannot help, and
                # the writer must live on for the answers still coming.
                n = len(self._held)
                self._held.clear()
                DROPPED.inc(n)
                log.exception("the database refused %d permit answers; dropped", n)

    async def close(self) -> None:
        """Stop, writing what is held (bounded by the pool's own timeouts)."""
        self._closing = True
        self._wake.set()
        with contextlib.suppress(*DB_UNAVAILABLE):
            await self.flush()


@contextlib.asynccontextmanager
async def permits_running(app: FastAPI, settings: Settings) -> AsyncIterator[None]:
    """The permits' own pool (``app.state.permit_pool``) and answer log
    (``app.state.permit_log``) for the app's lifetime. Autocommit and
    unchecked: a permit's lookup is one round trip (a pooled connection that
    broke fails its query, the station hears "unknown, try again" and the
    pool replaces it)."""
    cfg = settings.permits
    async with open_pool(
        settings.database_url,
        min_size=1,
        max_size=cfg.pool_max,
        name="permits",
        timeout=settings.api.pool_timeout_s,
        statement_timeout_ms=cfg.statement_timeout_ms,
        check=False,
        autocommit=True,
    ) as pool:
        log = PermitLog(pool, cfg)
        app.state.permit_pool = pool
        app.state.permit_log = log
        writer = asyncio.create_task(log.run(), name="permit-log")
        try:
            yield
        finally:
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await writer
            await log.close()
