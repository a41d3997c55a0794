"""What one status sample says about a car: the trapped threshold it puts
the car under (standing occupied at a landing, between floors, on battery)
or that the terminal's own trapped event puts it under (due at once), and
whether a sample ends a fault (running normally, mains power back)."""

from __future__ import annotations

from datetime import datetime

from alerts.drafts import AT_LANDING, OFF_LANDING, ON_BATTERY, REPORTED
from alerts.elevator_state import Elevator
from semon.domain.wire import ElevatorEvent, StatusSample
from semon.settings import AlertSettings

MOVING_SPEED = 0.05  # m/s: below this a car is standing (sensor noise at rest)
TECHNICIAN_MODES = ("inspection", "maintenance")


def trapped_condition(
    cfg: AlertSettings, car: Elevator, s: StatusSample
) -> tuple[float, str] | None:
    """The trapped threshold that applies to this sample and why, or None."""
    if s["mode"] in TECHNICIAN_MODES:
        return None  # a technician is in the car or on the roof
    if s["direction"] != "stopped" and s["speed"] >= MOVING_SPEED:
        return None
    alarm_recent = (
        car.alarm_at is not None
        and abs((s["ts"] - car.alarm_at).total_seconds()) <= cfg.alarm_memory_s
    )
    people = s["occupied"] is True or (s["occupied"] is None and (s["alarm"] or alarm_recent))
    if not s["door_zone"]:
        if people:
            return cfg.trapped_off_landing_s, OFF_LANDING
        if s["power"] == "battery" and s["occupied"] is not False:
            return cfg.trapped_on_battery_s, ON_BATTERY
        return None
    if s["door"] == "closed" and people:
        return cfg.trapped_at_landing_s, AT_LANDING
    return None


def ends_fault(code: str, s: StatusSample) -> bool:
    if code == "power_loss":
        return s["power"] == "mains"
    return s["mode"] == "normal" and s["direction"] != "stopped" and s["speed"] >= MOVING_SPEED


def fault_end_why(code: str) -> str:
    return "running normally" if code != "power_loss" else "mains power back"


def trapped_reported(car: Elevator, ev: ElevatorEvent) -> datetime:
    """The terminal's own detection: an episode due at once (threshold 0).
    Returns when it began."""
    if car.episode_start is None or ev.ts < car.episode_start:
        car.episode_start = ev.ts
    car.episode_threshold_s, car.episode_reason = 0.0, REPORTED
    car.threshold_since = ev.ts
    return car.episode_start
