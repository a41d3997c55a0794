"""The filling station model: scan, precheck, a rising scale, one record; each incident."""

from __future__ import annotations

import itertools
import random
from datetime import UTC, date, datetime
from typing import Any

from semon.domain.wire import Filling, ScaleSample
from simulators.city import generate_city
from simulators.device import Outgoing
from simulators.incidents import STATION_INCIDENTS, Incident
from simulators.station import StationModel

CITY = generate_city(11, elevators=30, stations=3, reference_day=date(2026, 11, 23))
START = datetime(2026, 11, 23, 0, 0, tzinfo=UTC).timestamp()  # 08:00 local


def station(index: int = 0, **kw: Any) -> StationModel:
    return StationModel(
        CITY.stations[index], cylinders=CITY.cylinders, start=START, rng=random.Random(index), **kw
    )


def run(model: StationModel, seconds: float) -> list[Outgoing]:
    out: list[Outgoing] = []
    t = model.t
    while t < START + seconds:
        t += 60
        out += model.step(t)
    return out


def fillings(out: list[Outgoing]) -> list[dict[str, Any]]:
    return [o.payload for o in out if o.topic.endswith("/filling")]


def test_ordinary_fills_rise_to_the_target_and_stay_legal() -> None:
    model = station()
    out = run(model, 4 * 3600)
    records = fillings(out)
    assert len(records) >= 10
    cylinders = {c.cylinder_id: c for c in CITY.cylinders}
    for record in records:
        f = Filling.model_validate(record)
        cyl = cylinders[f.cylinder_id]
        assert cyl.owner_station_id == model.id and cyl.category == "good" and cyl.gas == f.gas
        assert f.result == "filled" and f.precheck.passed and f.postcheck and f.postcheck.passed
        assert 0 < f.net_kg <= cyl.max_fill_kg
        scale = [
            ScaleSample.model_validate(o.payload)
            for o in out
            if o.topic.endswith("/scale") and o.payload["filling_id"] == f.filling_id
        ]
        masses = [s.net_kg for s in scale]
        assert len(masses) > 10 and masses == sorted(masses)
        assert abs(masses[-1] - f.net_kg) < 0.01
        gaps = {round((b.ts - a.ts).total_seconds(), 3) for a, b in itertools.pairwise(scale)}
        assert max(gaps) <= 0.5
        assert f.started_at <= scale[0].ts and scale[-1].ts <= f.ended_at


def test_each_incident_leaves_its_mark() -> None:
    cylinders = {c.cylinder_id: c for c in CITY.cylinders}
    model = station(0)  # an LPG station: wrong gas is DME, foreign cylinders from ST02
    incidents = [
        Incident(kind=k, equipment_id=model.id, station_id=model.id, at=START + 600 * (i + 1))
        for i, k in enumerate(STATION_INCIDENTS)
    ]
    for incident in incidents:
        model.inject(incident)
    out = run(model, 600 * (len(incidents) + 2))
    by_id = {r["filling_id"]: r for r in fillings(out)}
    assert len(model.finished) == len(incidents)
    for incident in incidents:
        assert "skipped" not in incident.extra, incident.kind
        record = by_id[incident.extra["filling_id"]]
        cyl = cylinders.get(record["cylinder_id"])
        kind = incident.kind
        truth = incident.truth()
        assert truth["equipment_id"] == record["cylinder_id"] and truth["station_id"] == model.id
        if kind == "correct_refusal":
            assert record["result"] == "refused" and record["net_kg"] == 0.0
            assert not record["precheck"]["passed"]
            assert not [
                o
                for o in out
                if o.payload.get("filling_id") == record["filling_id"]
                and o.topic.endswith("/scale")
            ]
            assert truth["kind"] == "none"
            continue
        assert record["result"] == "filled"
        if kind == "overfill":
            assert cyl is not None and record["net_kg"] > cyl.max_fill_kg
        elif kind == "unregistered":
            assert cyl is None
        elif kind == "foreign":
            assert cyl is not None and cyl.owner_station_id != model.id
        elif kind == "wrong_gas":
            assert cyl is not None and cyl.gas != record["gas"]
        elif kind == "precheck_failed_filled":
            assert not record["precheck"]["passed"]
        elif kind == "no_postcheck":
            assert record["postcheck"] is None
        else:
            category = {
                "overdue_filled": "overdue",
                "scrapped_filled": "scrapped",
                "past_life_filled": "past_life",
            }[kind]
            assert cyl is not None and cyl.category == category


def test_closed_at_night() -> None:
    model = StationModel(
        CITY.stations[0], cylinders=CITY.cylinders, start=START + 12 * 3600, rng=random.Random(1)
    )  # 20:00 local
    assert not fillings(run(model, 12 * 3600 + 10 * 3600))
