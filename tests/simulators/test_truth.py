"""Ground truth files and the scorer."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

from simulators.city import generate_city
from simulators.incidents import EXPECTED_KIND, GroundTruth, Incident, IncidentRates
from simulators.truth import registry_truth, score
from simulators.world import World, WorldOptions

START = datetime(2026, 11, 22, 16, 0, tzinfo=UTC).timestamp()


def test_injected_incidents_land_in_the_ground_truth_file(tmp_path: Path) -> None:
    city = generate_city(4, elevators=150, stations=3, reference_day=date(2026, 11, 22))
    path = tmp_path / "truth.jsonl"
    truth = GroundTruth(path)
    rates = IncidentRates(
        per_elevator_day={k: 0.05 for k in IncidentRates().per_elevator_day},
        per_filling={k: 0.05 for k in IncidentRates().per_filling},
    )
    world = World(
        city,
        start=START,
        seed=4,
        options=WorldOptions(moving_interval_s=5.0, rates=rates),
        truth=truth,
    )
    t = START
    while t < START + 86400:
        t += 600
        world.step(t, batch=True)
    truth.close()
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert len(lines) >= 30
    assert {r["injected"] for r in lines} >= {"trapped", "fault", "maintenance", "overfill"}
    for r in lines:
        assert r["kind"] == EXPECTED_KIND[r["injected"]]
        assert r["equipment_id"] and r["start"] <= r["end"]
        start = datetime.fromisoformat(r["start"]).timestamp()
        assert START <= start <= START + 86400 + 3600
        if r["injected"] in ("overfill", "foreign", "unregistered", "wrong_gas"):
            assert r["station_id"] and r["filling_id"]
    # Maintenance work becomes a visit the firm reports.
    maintained = {r["equipment_id"] for r in lines if r["injected"] == "maintenance"}
    assert maintained and maintained <= {v["elevator_id"] for v in world.visits}


def test_registry_truth_follows_the_city() -> None:
    city = generate_city(9, elevators=400, stations=2, reference_day=date(2026, 11, 22))
    truth = registry_truth(city, date(2026, 11, 22), date(2026, 11, 23), cylinders=True)
    kinds = {t["kind"] for t in truth}
    # conditional inspections open hazards, long overdue by the city's day
    assert kinds == {
        "inspection_overdue",
        "inspection_due_soon",
        "maintenance_overdue",
        "hazard_overdue",
    }
    overdue = [
        t for t in truth if t["kind"] == "inspection_overdue" and t["equipment_id"][0] == "E"
    ]
    assert 0.04 * 400 <= len(overdue) <= 0.11 * 400


def test_scorer_counts_found_duplicated_and_false() -> None:
    incident = Incident(
        kind="trapped",
        equipment_id="E1",
        at=START,
        duration_s=300,
        started=START,
        ended=START + 300,
    )
    fault = Incident(
        kind="fault", equipment_id="E2", at=START, code="overspeed", started=START, ended=START + 60
    )
    truth = [
        incident.truth(),
        fault.truth(),
        {
            "kind": "none",
            "injected": "maintenance",
            "equipment_id": "E3",
            "start": incident.truth()["start"],
            "end": incident.truth()["end"],
        },
    ]
    at = datetime.fromtimestamp(START + 20, UTC)
    alerts = [
        {"kind": "trapped_passenger", "equipment_id": "E1", "started_at": at, "details": {}},
        {
            "kind": "elevator_fault",
            "equipment_id": "E2",
            "started_at": at,
            "details": {"code": "overspeed"},
        },
        {"kind": "elevator_fault", "equipment_id": "E3", "started_at": at, "details": {}},
    ]
    result = score(truth, alerts)
    assert (result.recall, result.found, result.expected) == (1.0, 2, 2)
    assert result.precision == 2 / 3 and len(result.false_alerts) == 1
    # A second alert for the same incident is a duplicate, a wrong code a miss.
    twice = score(truth[:1], alerts[:1] * 2)
    assert len(twice.duplicated) == 1 and twice.precision == 0.5
    wrong = [dict(alerts[1], details={"code": "overrun_top"})]
    assert score(truth[1:2], wrong).recall == 0.0
    # Far outside the window is not this incident.
    late = [dict(alerts[0], started_at=datetime.fromtimestamp(START + 7200, UTC))]
    assert score(truth[:1], late).missed
