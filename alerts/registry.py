"""Registry context for alerts (location, firm, use unit, station), cached.

Loaded whole at start and refreshed by ``updated_at``; a miss asks the
database for that one piece of equipment. While the database is down the
cache answers alone, so a trapped-passenger alert still carries its address.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg import AsyncConnection
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from semon.store.alerts import AlertDraft

log = logging.getLogger(__name__)

_ELEVATORS = """
SELECT e.elevator_id, e.address, e.district, e.lat, e.lon, e.use_unit, e.firm_id,
       e.contact_phone, f.name AS firm_name, f.phone AS firm_phone,
       greatest(e.updated_at, f.updated_at) AS changed
FROM elevators e LEFT JOIN firms f ON f.firm_id = e.firm_id
WHERE e.updated_at > %(since)s OR f.updated_at > %(since)s OR %(one)s::text = e.elevator_id
"""
_STATIONS = """
SELECT station_id, name, district, address, updated_at AS changed FROM stations
WHERE updated_at > %s OR station_id = %s
"""
_CYLINDER = "SELECT * FROM cylinders WHERE cylinder_id = %s"

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class RegistryCache:
    def __init__(self, pool: AsyncConnectionPool[AsyncConnection], *, refresh_s: float) -> None:
        self.pool = pool
        self.refresh_s = refresh_s
        self.elevators: dict[str, dict[str, Any]] = {}
        self.stations: dict[str, dict[str, Any]] = {}
        self._since = EPOCH
        self._station_since = EPOCH
        self._refreshed = float("-inf")
        self._missed: dict[str, float] = {}

    async def refresh(self, *, one_elevator: str = "", one_station: str = "") -> None:
        async with (
            self.pool.connection(timeout=5) as conn,
            conn.cursor(row_factory=dict_row) as cur,
        ):
            await cur.execute(_ELEVATORS, {"since": self._since, "one": one_elevator})
            for r in await cur.fetchall():
                self.elevators[r["elevator_id"]] = r
                if r["changed"] and r["changed"] > self._since and not one_elevator:
                    self._since = r["changed"]
            await cur.execute(_STATIONS, (self._station_since, one_station))
            for r in await cur.fetchall():
                self.stations[r["station_id"]] = r
                if r["changed"] > self._station_since and not one_station:
                    self._station_since = r["changed"]
        if not one_elevator and not one_station:
            self._refreshed = time.monotonic()

    async def maybe_refresh(self) -> None:
        if time.monotonic() - self._refreshed >= self.refresh_s:
            try:
                await self.refresh()
            except (psycopg.Error, TimeoutError) as exc:
                log.warning("registry refresh failed: %s", exc)
                self._refreshed = time.monotonic()

    async def station(self, station_id: str) -> dict[str, Any] | None:
        if station_id not in self.stations and self._may_ask(station_id):
            try:
                await self.refresh(one_station=station_id)
            except (psycopg.Error, TimeoutError) as exc:
                log.debug("station lookup failed: %s", exc)
        return self.stations.get(station_id)

    async def cylinder(self, cylinder_id: str) -> dict[str, Any] | None:
        """Read fresh: a filling is judged against the registry as it is now."""
        async with (
            self.pool.connection(timeout=5) as conn,
            conn.cursor(row_factory=dict_row) as cur,
        ):
            await cur.execute(_CYLINDER, (cylinder_id,))
            return await cur.fetchone()

    def _may_ask(self, key: str) -> bool:
        # A miss is asked once a refresh period, not on every message.
        now = time.monotonic()
        if now - self._missed.get(key, float("-inf")) < self.refresh_s:
            return False
        self._missed[key] = now
        return True

    async def fill(self, d: AlertDraft, *, db_ok: bool = True) -> None:
        """Copy the scope columns and contacts dispatch needs into the draft."""
        if d.equipment_type == "elevator":
            e = self.elevators.get(d.equipment_id)
            if e is None and db_ok and self._may_ask(d.equipment_id):
                try:
                    await self.refresh(one_elevator=d.equipment_id)
                except (psycopg.Error, TimeoutError) as exc:
                    log.debug("elevator lookup failed: %s", exc)
                e = self.elevators.get(d.equipment_id)
            if e is None:
                d.details.setdefault("registered", False)
                return
            d.district, d.firm_id, d.use_unit = e["district"], e["firm_id"], e["use_unit"]
            d.location = {
                "address": e["address"],
                "district": e["district"],
                "lat": e["lat"],
                "lon": e["lon"],
            }
            d.details.setdefault(
                "firm", {"firm_id": e["firm_id"], "name": e["firm_name"], "phone": e["firm_phone"]}
            )
            if e["contact_phone"]:
                d.details.setdefault("contact_phone", e["contact_phone"])
        elif d.station_id:
            s = self.stations.get(d.station_id)
            if s is not None:
                d.district = d.district or s["district"]
                d.location = {
                    "address": s["address"],
                    "district": s["district"],
                    "lat": None,
                    "lon": None,
                }
