"""Injected incidents and the ground truth they leave for scoring.

An incident is asked for (`Incident(kind, equipment_id, at, ...)`), handed to
the model of its equipment, and stamped by that model with the device times
it really began and ended. Every finished incident is one JSON line in the
ground-truth file: the alert kind it should raise (or "none" for the things
that must raise nothing: maintenance work, correct refusals), the equipment,
start and end.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from semon.domain.gov_codes import GOV_CODES
from simulators.timefmt import rfc3339

# Fault codes injected as plain `elevator_fault`s: every known code but the
# ones with an incident of their own.
FAULT_CODES: tuple[str, ...] = tuple(
    c for c in GOV_CODES if c not in ("trapped", "power_loss", "alarm_button")
)

# What each injected incident should raise on the platform.
EXPECTED_KIND: dict[str, str] = {
    "trapped": "trapped_passenger",
    "trapped_at_landing": "trapped_passenger",
    "fault": "elevator_fault",
    "power_loss": "elevator_fault",
    # A press on an ordinary ride is evidence, not an alert: the platform uses
    # it to tell "someone inside" where no presence sensor is fitted.
    "alarm_button": "none",
    "maintenance": "none",
    "silent": "terminal_offline",
    "buffered": "terminal_offline",
    "overfill": "overfill",
    "overdue_filled": "filling_overdue_cylinder",
    "scrapped_filled": "filling_scrapped_cylinder",
    "past_life_filled": "filling_scrapped_cylinder",
    "unregistered": "filling_unregistered_cylinder",
    "foreign": "filling_foreign_cylinder",
    "wrong_gas": "gas_mismatch",
    "precheck_failed_filled": "precheck_failed_but_filled",
    "no_postcheck": "postcheck_missing",
    "correct_refusal": "none",
}
# Incidents per elevator per day, by kind (0 = never): the kinds an
# elevator's model plays.
ELEVATOR_DAILY_RATES: dict[str, float] = {
    "trapped": 0.002,
    "trapped_at_landing": 0.001,
    "fault": 0.01,
    "power_loss": 0.001,
    "alarm_button": 0.003,
    "maintenance": 0.05,
    "silent": 0.001,
    "buffered": 0.0005,
}
# Share of filling attempts that carry each kind: the kinds a station's model plays.
FILLING_SHARES: dict[str, float] = {
    "overfill": 0.004,
    "overdue_filled": 0.003,
    "scrapped_filled": 0.001,
    "past_life_filled": 0.001,
    "unregistered": 0.002,
    "foreign": 0.002,
    "wrong_gas": 0.001,
    "precheck_failed_filled": 0.002,
    "no_postcheck": 0.004,
    "correct_refusal": 0.02,
}
ELEVATOR_INCIDENTS = tuple(ELEVATOR_DAILY_RATES)
STATION_INCIDENTS = tuple(FILLING_SHARES)


@dataclass
class Incident:
    kind: str
    equipment_id: str
    at: float  # requested device time, epoch seconds
    duration_s: float = 300.0
    code: str | None = None
    station_id: str | None = None
    # Stamped by the model: device times it really began and ended.
    started: float | None = None
    ended: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def expected(self) -> str:
        return EXPECTED_KIND[self.kind]

    def truth(self) -> dict[str, Any]:
        started = self.started if self.started is not None else self.at
        ended = self.ended if self.ended is not None else started
        return {
            "kind": self.expected,
            "injected": self.kind,
            "equipment_id": self.equipment_id,
            "station_id": self.station_id,
            "code": self.code,
            "start": rfc3339(started),
            "end": rfc3339(ended),
            **self.extra,
        }


class GroundTruth:
    """Appends finished incidents to a JSONL file (or keeps them in memory)."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.records: list[dict[str, Any]] = []
        self._file: TextIO | None = None
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._file = path.open("a", encoding="utf-8")

    def write(self, record: dict[str, Any]) -> None:
        self.records.append(record)
        if self._file is not None:
            self._file.write(json.dumps(record, sort_keys=True) + "\n")
            self._file.flush()

    def add(self, incident: Incident) -> None:
        self.write(incident.truth())

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


def read_ground_truth(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


@dataclass(frozen=True)
class IncidentRates:
    """How often each kind is drawn: per elevator per day, and per filling attempt."""

    per_elevator_day: dict[str, float] = field(default_factory=ELEVATOR_DAILY_RATES.copy)
    per_filling: dict[str, float] = field(default_factory=FILLING_SHARES.copy)


def draw_elevator_incident(rng: random.Random, kind: str, elevator_id: str, at: float) -> Incident:
    """An incident of `kind` with a plausible duration (and code for faults)."""
    duration = {
        "trapped": rng.uniform(240, 1200),
        "trapped_at_landing": rng.uniform(180, 900),
        "fault": rng.uniform(60, 900),
        "power_loss": rng.uniform(300, 1800),
        "alarm_button": rng.uniform(2, 4),
        "maintenance": rng.uniform(1200, 3600),
        "silent": rng.uniform(600, 1800),
        "buffered": 3600.0,
    }[kind]
    code = rng.choice(FAULT_CODES) if kind == "fault" else None
    return Incident(kind=kind, equipment_id=elevator_id, at=at, duration_s=duration, code=code)
