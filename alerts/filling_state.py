"""Scale samples and filling records judged against the registry cache, with
the state that takes: each running filling's limit, the overfills already
raised, and the fillings recovery judged from the database."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from alerts.fillings import filled_after_deny_draft, filling_drafts, overfill_draft
from alerts.keys import filling_key
from alerts.metrics import UNJUDGED
from alerts.ops import Op, Raise
from alerts.registry import RegistryCache, RegistryUnavailable
from semon.domain.alerts import AlertDraft
from semon.domain.wire import Filling, ScaleSample
from semon.store.permits import last_answer
from semon.store.pool import DB_UNAVAILABLE

log = logging.getLogger(__name__)

_OVERFILL_EXISTS = "SELECT 1 FROM alerts WHERE condition_key = %s LIMIT 1"


class FillingState:
    """The filling rules' state; ``on_scale`` and ``on_filling`` judge a message."""

    def __init__(
        self,
        pool: AsyncConnectionPool[AsyncConnection],
        registry: RegistryCache,
        *,
        timeout_s: float,
        deny_window_s: float = 3600.0,
    ) -> None:
        self.pool = pool
        self.registry = registry
        self.timeout_s = timeout_s
        self.deny_window = timedelta(seconds=deny_window_s)
        self.limits: dict[str, float | None] = {}  # filling_id -> max fill (None: unknown)
        self.overfilled: set[str] = set()  # fillings whose overfill is raised
        # Fillings recovery judged from the database (their messages may come
        # again from the broker's session): one outage's worth at most.
        self.replayed: set[str] = set()

    async def on_scale(self, station_id: str, s: ScaleSample) -> list[Op]:
        if s.filling_id in self.overfilled or s.filling_id in self.replayed:
            return []  # raised already, or the filling is over (its record judged on start)
        if s.filling_id not in self.limits:
            try:
                cylinder = await self.registry.cylinder(s.cylinder_id)
            except RegistryUnavailable:
                # the next sample asks again (the cache cannot learn it meanwhile)
                UNJUDGED.labels("scale_cylinder_not_cached").inc()
                log.debug("scale sample of %s not judged: cylinder not cached", s.filling_id)
                return []
            self.limits[s.filling_id] = float(cylinder["max_fill_kg"]) if cylinder else None
        limit = self.limits[s.filling_id]
        if limit is not None and s.net_kg > limit:
            self.overfilled.add(s.filling_id)
            station = await self.registry.station(station_id)
            return [Raise(overfill_draft(station_id, s, limit, station))]
        return []

    async def on_filling(self, station_id: str, f: Filling) -> list[Op]:
        if f.filling_id in self.replayed:
            return []  # judged on start from `fillings`: the broker's copy
        drafts = await self.judge(station_id, f)
        # stored from the outbox if the database is down
        return [Raise(d) for d in drafts] if drafts is not None else []

    async def judge(self, station_id: str, f: Filling) -> list[AlertDraft] | None:
        """The record's alerts; None when it cannot be judged."""
        fid = f.filling_id
        try:
            # Fresh from the database; while it is down, as last cached.
            cylinder = await self.registry.cylinder(f.cylinder_id)
        except RegistryUnavailable:
            # Nothing to judge against; ingest keeps the record.
            UNJUDGED.labels("filling_cylinder_not_cached").inc()
            log.error(
                "filling %s not judged: database unreachable and cylinder %s never cached",
                fid,
                f.cylinder_id,
            )
            return None
        from_cache = self.registry.down
        raised = fid in self.overfilled or await self._overfill_stored(fid)
        station = await self.registry.station(station_id)
        drafts = filling_drafts(station_id, f, cylinder, station, overfill_raised=raised)
        if f.result == "filled":
            denied = await self._denied_before(station_id, f)
            if denied is not None:
                drafts.append(filled_after_deny_draft(station_id, f, denied, station))
        for d in drafts:
            if from_cache:  # say so: the registry may have changed since
                d.details["registry_source"] = "cache (database unreachable)"
        self.limits.pop(fid, None)
        self.overfilled.discard(fid)
        return drafts

    async def _denied_before(self, station_id: str, f: Filling) -> dict[str, Any] | None:
        """The permit this station was denied for the cylinder, if its last
        answer in the window before the fill was a deny. While the database is
        down the answers are out of reach: not raised (counted)."""
        if self.registry.down:
            UNJUDGED.labels("filled_after_deny_db_down").inc()
            return None
        try:
            async with self.pool.connection(timeout=self.timeout_s) as conn:
                row = await last_answer(
                    conn, station_id, f.cylinder_id, f.started_at - self.deny_window, f.ended_at
                )
        except DB_UNAVAILABLE as exc:
            self.registry.failed(exc)
            UNJUDGED.labels("filled_after_deny_db_down").inc()
            return None
        return row if row is not None and row["allow"] is False else None

    async def _overfill_stored(self, fid: str) -> bool:
        """An overfill alert of this filling raised before a restart (memory
        knows the ones raised since). While the database is down: memory only."""
        if self.registry.down:
            return False
        try:
            async with self.pool.connection(timeout=self.timeout_s) as conn:
                cur = await conn.execute(_OVERFILL_EXISTS, (filling_key("overfill", fid),))
                return await cur.fetchone() is not None
        except DB_UNAVAILABLE as exc:
            self.registry.failed(exc)
            return False
