"""Registry context for alerts (location, firm, use unit, station), cached:
elevators and stations loaded whole and refreshed by ``updated_at``,
cylinders read fresh (a filling is judged against the registry as it is now)
and kept in a bounded LRU. While the database is down (``down``, until the
probe finds it back) the cache answers alone and the judging path never
waits for the database.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg import AsyncConnection
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from semon.domain.alerts import AlertDraft
from semon.store.pool import DB_UNAVAILABLE

log = logging.getLogger(__name__)

# The columns the filling rules read: a cached cylinder keeps only these.
_CYLINDER_FIELDS = (
    "cylinder_id",
    "gas",
    "manufactured_on",
    "max_fill_kg",
    "design_life_years",
    "inspection_interval_years",
    "last_inspected_on",
    "owner_station_id",
    "status",
)


class RegistryUnavailable(LookupError):
    """The database is unreachable and the cache never held this record."""


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
# The filling rules judge the base date of migration 0040 (a fail never renews it).
_CYLINDER = f"""
SELECT {", ".join("c." + f for f in _CYLINDER_FIELDS)},
       semon_inspection_base(c.last_inspected_on, c.inspection_passed_on,
                             c.inspection_failed_on, c.manufactured_on) AS inspection_base_on
FROM cylinders c WHERE c.cylinder_id = %s
"""

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class RegistryCache:
    def __init__(
        self,
        pool: AsyncConnectionPool[AsyncConnection],
        *,
        refresh_s: float,
        timeout_s: float = 1.0,
        cylinders_max: int = 50_000,
    ) -> None:
        self.pool = pool
        self.refresh_s = refresh_s
        self.timeout_s = timeout_s
        self.cylinders_max = cylinders_max
        self.elevators: dict[str, dict[str, Any]] = {}
        self.stations: dict[str, dict[str, Any]] = {}
        # cylinder_id -> its registry record, or None: known not to be registered
        self.cylinders: OrderedDict[str, dict[str, Any] | None] = OrderedDict()
        self.down = False  # the database did not answer; the cache answers alone
        self._went_down = asyncio.Event()
        self._since = EPOCH
        self._station_since = EPOCH
        self._refreshed = float("-inf")
        self._missed: dict[str, float] = {}

    # -- database health -----------------------------------------------------

    def failed(self, exc: BaseException) -> None:
        """A read found the database unreachable: answer from the cache until it is back."""
        if not self.down:
            log.warning("registry: database unreachable (%s), answering from the cache", exc)
        self.down = True
        self._went_down.set()

    async def probe(self) -> None:
        """Background task: once the database is found down, ask it every
        second until it answers, then let reads go to it again."""
        while True:
            await self._went_down.wait()
            try:
                async with self.pool.connection(timeout=2) as conn:
                    await conn.execute("SELECT 1")
            except DB_UNAVAILABLE:
                await asyncio.sleep(1.0)
                continue
            log.info("registry: database reachable again")
            self._went_down.clear()
            self.down = False

    # -- elevators and stations ----------------------------------------------

    async def refresh(self, *, one_elevator: str = "", one_station: str = "") -> None:
        # A one-off read sits in the judging or writing path: it waits briefly.
        one = bool(one_elevator or one_station)
        async with (
            self.pool.connection(timeout=self.timeout_s if one else 5) as conn,
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
        if station_id not in self.stations and not self.down and self._may_ask(station_id):
            try:
                await self.refresh(one_station=station_id)
            except DB_UNAVAILABLE as exc:
                self.failed(exc)
            except psycopg.Error as exc:
                log.debug("station lookup failed: %s", exc)
        return self.stations.get(station_id)

    # -- cylinders -------------------------------------------------------------

    async def cylinder(self, cylinder_id: str) -> dict[str, Any] | None:
        """The cylinder's record (None: not registered), read fresh while the
        database answers, from the cache while it does not (then ``down`` is
        true). Raises RegistryUnavailable when neither can answer."""
        if not self.down:
            try:
                async with (
                    self.pool.connection(timeout=self.timeout_s) as conn,
                    conn.cursor(row_factory=dict_row) as cur,
                ):
                    await cur.execute(_CYLINDER, (cylinder_id,))
                    row = await cur.fetchone()
            except DB_UNAVAILABLE as exc:
                self.failed(exc)
            else:
                self._remember(cylinder_id, row)
                return row
        if cylinder_id not in self.cylinders:
            raise RegistryUnavailable(cylinder_id)
        self.cylinders.move_to_end(cylinder_id)
        return self.cylinders[cylinder_id]

    def _remember(self, cylinder_id: str, row: dict[str, Any] | None) -> None:
        self.cylinders[cylinder_id] = row
        self.cylinders.move_to_end(cylinder_id)
        while len(self.cylinders) > self.cylinders_max:
            self.cylinders.popitem(last=False)

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
            if e is None and db_ok and not self.down and self._may_ask(d.equipment_id):
                try:
                    await self.refresh(one_elevator=d.equipment_id)
                except DB_UNAVAILABLE as exc:
                    self.failed(exc)
                except psycopg.Error as exc:
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
