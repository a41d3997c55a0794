"""Alerts as consoles receive them (CONTRACT.md, "Platform to consoles")."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

AlertKind = Literal[
    "trapped_passenger",
    "elevator_fault",
    "terminal_offline",
    "inspection_overdue",
    "inspection_due_soon",
    "alarm_test_missed",
    "maintenance_overdue",
    "overfill",
    "filling_overdue_cylinder",
    "filling_scrapped_cylinder",
    "filling_unregistered_cylinder",
    "filling_foreign_cylinder",
    "gas_mismatch",
    "precheck_failed_but_filled",
    "postcheck_missing",
]
Severity = Literal["critical", "major", "minor", "info"]
AlertState = Literal["open", "acknowledged", "dispatched", "on_site", "resolved"]
EquipmentType = Literal["elevator", "cylinder", "station"]
Resolution = Literal["rescued", "self_released", "false_alarm", "repaired", "inspected", "other"]
Action = Literal["ack", "dispatch", "arrive", "resolve"]

SEVERITY: dict[str, Severity] = {
    "trapped_passenger": "critical",
    "elevator_fault": "major",
    "terminal_offline": "minor",
    "inspection_overdue": "major",
    "inspection_due_soon": "info",
    "alarm_test_missed": "major",
    "maintenance_overdue": "minor",
    "overfill": "critical",
    "filling_overdue_cylinder": "critical",
    "filling_scrapped_cylinder": "critical",
    "filling_unregistered_cylinder": "major",
    "filling_foreign_cylinder": "major",
    "gas_mismatch": "critical",
    "precheck_failed_but_filled": "major",
    "postcheck_missing": "minor",
}

# Which state each action leads to, and from which states it is legal.
# `resolve` is legal from any state but resolved (a false alarm is closed
# straight from open); the others move strictly forward, skipping allowed
# (a firm that arrives before anyone pressed "dispatch" is still on site).
ACTION_TARGET: dict[Action, AlertState] = {
    "ack": "acknowledged",
    "dispatch": "dispatched",
    "arrive": "on_site",
    "resolve": "resolved",
}
_ORDER: dict[AlertState, int] = {
    "open": 0,
    "acknowledged": 1,
    "dispatched": 2,
    "on_site": 3,
    "resolved": 4,
}


def transition_allowed(current: AlertState, action: Action) -> bool:
    if current == "resolved":
        return False
    return _ORDER[ACTION_TARGET[action]] > _ORDER[current]


class Location(BaseModel):
    address: str | None = None
    district: str | None = None
    lat: float | None = None
    lon: float | None = None


class AlertMessage(BaseModel):
    """The payload of `se/v1/alerts/{kind}/{equipment_id}` and of each SSE event."""

    model_config = ConfigDict(extra="allow")

    alert_id: str
    kind: AlertKind
    severity: Severity
    state: AlertState
    equipment_type: EquipmentType
    equipment_id: str
    started_at: datetime
    raised_at: datetime
    updated_at: datetime
    summary: str
    details: dict[str, Any]
    location: Location | None = None
    firm_id: str | None = None
    use_unit: str | None = None
    acknowledged_at: datetime | None = None
    dispatched_at: datetime | None = None
    on_site_at: datetime | None = None
    resolved_at: datetime | None = None
    resolution: Resolution | None = None


class ActionBody(BaseModel):
    by: str
    note: str | None = None
    resolution: Resolution | None = None
