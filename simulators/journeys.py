"""Stations at the valve and on the road: each attempt asks the platform for
a fill permit (HTTP), fills what it is allowed, sometimes fills anyway what
it was refused, and sends the filled cylinders out to customers, some of
which come back (MQTT deliveries).

Runs in real time against a live platform (the permit is a question asked
now): device times follow the wall clock, a small step apart so that a
cylinder's events keep their order. The ground truth it returns says what
the platform must answer (allow or deny, from the cylinder's condition in
the city), what it must raise (filled_after_deny and the deny's reasons for
each fill made anyway) and where each cylinder must be at the end.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from simulators.city import City, CylinderSpec
from simulators.publisher import Publisher

# What the filling rules deny for each condition the city gives a cylinder.
# (A suspended cylinder is not one of the contract's filling conditions.)
DENIED_FOR: dict[str, str] = {
    "overdue": "filling_overdue_cylinder",
    "scrapped": "filling_scrapped_cylinder",
    "past_life": "filling_scrapped_cylinder",
}
CUSTOMERS = ("Noodle shop", "Tea house", "Canteen No. 3", "Hotpot corner", "Bakery")


@dataclass
class JourneyOptions:
    bad_share: float = 0.35  # attempts on an own cylinder in a condition that denies
    foreign_share: float = 0.1  # attempts on another station's good cylinder
    fill_anyway: float = 0.4  # denied, filled all the same
    return_share: float = 0.3  # each attempt: one cylinder out comes back
    deliver_every: int = 2  # filled cylinders gathered into one delivery
    step_s: float = 0.2  # device time between a cylinder's successive events
    max_retries: int = 5  # a permit answered "unknown, try again"
    # Real seconds from the permit to a fill's record (a real fill takes a
    # minute; the platform keeps the permit's answer within its flush interval).
    fill_s: float = 0.3


@dataclass
class Truth:
    """What the platform must have answered, raised and traced."""

    permits: list[dict[str, Any]] = field(default_factory=list)
    # One per fill made against a deny: filling_id, cylinder, station, the kinds due.
    filled_after_deny: list[dict[str, Any]] = field(default_factory=list)
    # Fillings that must raise nothing (allowed, clean checks).
    clean_fillings: list[str] = field(default_factory=list)
    refused_fillings: list[str] = field(default_factory=list)
    # cylinder_id -> {"state", "station_id", "customer"?}
    whereabouts: dict[str, dict[str, Any]] = field(default_factory=dict)
    deliveries: int = 0


class StationJourneys:
    def __init__(
        self,
        city: City,
        *,
        api_url: str,
        headers_for: Callable[[str], dict[str, str]],
        publisher: Publisher,
        rng: random.Random,
        options: JourneyOptions | None = None,
    ) -> None:
        self.city = city
        self.api_url = api_url.rstrip("/")
        self.headers_for = headers_for
        self.publisher = publisher
        self.rng = rng
        self.opt = options or JourneyOptions()
        self.truth = Truth()
        self._t = datetime.now(UTC)
        self._seq = 0
        self._loaded: dict[str, list[str]] = {}  # station -> filled cylinders waiting to go out
        self._out: list[tuple[str, str, str]] = []  # (cylinder, station, customer) with customers
        # Filled and not back yet (loaded or with a customer): not filled again.
        self._busy: set[str] = set()

    def _now(self) -> datetime:
        """Device time: the wall clock, never behind the previous event."""
        self._t = max(datetime.now(UTC), self._t + timedelta(seconds=self.opt.step_s))
        return self._t

    def _id(self, prefix: str) -> str:
        self._seq += 1
        return f"{prefix}-{self.rng.getrandbits(32):08x}-{self._seq:05d}"

    def _pick(self, station: str) -> tuple[CylinderSpec, str | None]:
        """A cylinder for this attempt and the kind of deny it is due (None: allow)."""
        own = [
            c
            for c in self.city.cylinders
            if c.owner_station_id == station and c.cylinder_id not in self._busy
        ]
        roll = self.rng.random()
        bad = [c for c in own if c.category in DENIED_FOR]
        if roll < self.opt.bad_share and bad:
            c = self.rng.choice(bad)
            return c, DENIED_FOR[c.category]
        gases = {c.gas for c in own}
        foreign = [
            c
            for c in self.city.cylinders
            if c.owner_station_id != station
            and c.category == "good"
            and c.gas in gases
            and c.cylinder_id not in self._busy
        ]
        if roll < self.opt.bad_share + self.opt.foreign_share and foreign:
            return self.rng.choice(foreign), "filling_foreign_cylinder"
        good = [c for c in own if c.category == "good"]
        return self.rng.choice(good), None

    async def _permit(self, client: httpx.AsyncClient, station: str, c: CylinderSpec) -> Any:
        for _ in range(self.opt.max_retries):
            r = await client.get(
                f"{self.api_url}/cylinders/{c.cylinder_id}/fill-permit",
                params={"station_id": station, "gas": c.gas},
                headers=self.headers_for(station),
            )
            if r.status_code == 503:  # unknown: do not fill, ask again shortly
                await asyncio.sleep(float(r.headers.get("retry-after", "1")))
                continue
            r.raise_for_status()
            return r.json()
        return None

    async def attempt(self, client: httpx.AsyncClient, station: str) -> None:
        c, due = self._pick(station)
        answer = await self._permit(client, station, c)
        if answer is None:
            return  # never answered: the station does not fill
        self.truth.permits.append(
            {
                "permit_id": answer["permit_id"],
                "cylinder_id": c.cylinder_id,
                "station_id": station,
                "expected_allow": due is None,
                "expected_reason": due,
                "allow": answer["allow"],
                "reasons": answer["reasons"],
            }
        )
        fill = bool(answer["allow"]) or self.rng.random() < self.opt.fill_anyway
        fid = self._id(station)
        if fill:
            await asyncio.sleep(self.opt.fill_s)
        started = self._now()
        ended = self._now()
        check = {"passed": True, "failed_items": []}
        record: dict[str, Any] = {
            "filling_id": fid,
            "cylinder_id": c.cylinder_id,
            "gas": c.gas,
            "operator_id": "op-journey",
            "started_at": started.isoformat(),
            "ended_at": ended.isoformat(),
            "result": "filled" if fill else "refused",
            "net_kg": round(c.max_fill_kg * 0.95, 3) if fill else 0.0,
            "tare_kg": c.tare_kg,
            "precheck": check,
            "postcheck": check if fill else None,
        }
        await self.publisher.publish(f"stations/{station}/filling", record)
        if not fill:
            self.truth.refused_fillings.append(fid)
            return
        if answer["allow"]:
            self.truth.clean_fillings.append(fid)
        else:
            self.truth.filled_after_deny.append(
                {
                    "filling_id": fid,
                    "cylinder_id": c.cylinder_id,
                    "station_id": station,
                    "kinds": sorted({*answer["reasons"], "filled_after_deny"}),
                }
            )
        self.truth.whereabouts[c.cylinder_id] = {"state": "at_station", "station_id": station}
        loaded = self._loaded.setdefault(station, [])
        loaded.append(c.cylinder_id)
        self._busy.add(c.cylinder_id)
        if len(loaded) >= self.opt.deliver_every:
            await self._deliver_out(station)
        if self._out and self.rng.random() < self.opt.return_share:
            await self._take_back(self._out.pop(self.rng.randrange(len(self._out))))

    async def _deliver_out(self, station: str) -> None:
        cylinders = self._loaded.pop(station, [])
        if not cylinders:
            return
        customer = self.rng.choice(CUSTOMERS)
        await self.publisher.publish(
            f"stations/{station}/delivery",
            {
                "delivery_id": self._id("dl"),
                "ts": self._now().isoformat(),
                "direction": "out",
                "cylinder_ids": cylinders,
                "customer": customer,
                "address": f"{customer}, {self.rng.randint(1, 300)} Harbour Road",
            },
        )
        self.truth.deliveries += 1
        for cid in cylinders:
            self._out.append((cid, station, customer))
            self.truth.whereabouts[cid] = {
                "state": "with_customer",
                "station_id": station,
                "customer": customer,
            }

    async def _take_back(self, out: tuple[str, str, str]) -> None:
        cid, station, customer = out
        await self.publisher.publish(
            f"stations/{station}/delivery",
            {
                "delivery_id": self._id("dl"),
                "ts": self._now().isoformat(),
                "direction": "return",
                "cylinder_ids": [cid],
                "customer": customer,
            },
        )
        self.truth.deliveries += 1
        self._busy.discard(cid)
        self.truth.whereabouts[cid] = {"state": "at_station", "station_id": station}

    async def run(self, attempts: int) -> Truth:
        """``attempts`` permit questions spread over the city's stations."""
        stations = [s.station_id for s in self.city.stations]
        async with httpx.AsyncClient(timeout=30) as client:
            for i in range(attempts):
                await self.attempt(client, stations[i % len(stations)])
        for station in stations:  # what is loaded goes out
            await self._deliver_out(station)
        await self.publisher.drain()
        return self.truth
