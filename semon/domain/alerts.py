"""Alerts as consoles receive them (CONTRACT.md, "Platform to consoles"): the
kinds (severity, which rules raise them), states and actions, the message; and
``AlertDraft``, what a rule wants raised, with the ids and messages made from it.

A draft's summary is a catalog message, `msg("alert.<kind>.summary", ...)`
(semon/i18n; texts in semon/locale/*/LC_MESSAGES/alerts.po or the feature's
own domain file): stored as key and arguments with the alert, shown in the
platform's language on MQTT and in each reader's language by the API.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

from semon.domain.common import Line, Text

if TYPE_CHECKING:
    # Only for types: semon.i18n's vocabulary reads the kinds from this module.
    from semon.i18n import Message, Reader

AlertKind = Literal[
    "trapped_passenger",
    "elevator_fault",
    "terminal_offline",
    "inspection_overdue",
    "inspection_due_soon",
    "inspection_failed_in_use",
    "hazard_overdue",
    "insurance_expiring",
    "insurance_lapsed",
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
    "maintenance_unverified",
    "filled_after_deny",
]
Severity = Literal["critical", "major", "minor", "info"]
AlertState = Literal["open", "acknowledged", "dispatched", "on_site", "resolved"]
EquipmentType = Literal["elevator", "cylinder", "station"]
Resolution = Literal["rescued", "self_released", "false_alarm", "repaired", "inspected", "other"]
Action = Literal["ack", "dispatch", "arrive", "resolve"]

RaisedBy = Literal["elevator", "sweep", "filling", "verification"]

# Each kind's severity, and which rules raise it: the elevator engine, the
# clock-driven sweep (inspections, maintenance), the filling rules, the check
# of maintenance records against the terminal (alerts/verification.py).
KINDS: dict[AlertKind, tuple[Severity, RaisedBy]] = {
    "trapped_passenger": ("critical", "elevator"),
    "elevator_fault": ("major", "elevator"),
    "terminal_offline": ("minor", "elevator"),
    "inspection_overdue": ("major", "sweep"),
    "inspection_due_soon": ("info", "sweep"),
    "inspection_failed_in_use": ("major", "sweep"),
    # major for a serious hazard; a general one's draft says minor (severity)
    "hazard_overdue": ("major", "sweep"),
    "insurance_expiring": ("info", "sweep"),
    "insurance_lapsed": ("minor", "sweep"),
    "alarm_test_missed": ("major", "elevator"),
    "maintenance_overdue": ("minor", "sweep"),
    "overfill": ("critical", "filling"),
    "filling_overdue_cylinder": ("critical", "filling"),
    "filling_scrapped_cylinder": ("critical", "filling"),
    "filling_unregistered_cylinder": ("major", "filling"),
    "filling_foreign_cylinder": ("major", "filling"),
    "gas_mismatch": ("critical", "filling"),
    "precheck_failed_but_filled": ("major", "filling"),
    "postcheck_missing": ("minor", "filling"),
    "maintenance_unverified": ("minor", "verification"),
    # A station filled a cylinder its fill permit was denied for (v1.1 Stations).
    "filled_after_deny": ("critical", "filling"),
}
SEVERITY: dict[str, Severity] = {kind: severity for kind, (severity, _) in KINDS.items()}


def _raised_by(rules: RaisedBy) -> tuple[str, ...]:
    return tuple(kind for kind, (_, by) in KINDS.items() if by == rules)


ELEVATOR_KINDS = _raised_by("elevator")
SWEEP_KINDS = _raised_by("sweep")
FILLING_KINDS = _raised_by("filling")  # the illegal or unsafe fillings of the statistics
VERIFICATION_KINDS = _raised_by("verification")

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
    # The summary's catalog key and arguments ({"key", "args"}), when the row
    # has them: the API renders `summary` from it in the reader's language.
    # Private, so never published or dumped.
    _summary_message: dict[str, Any] | None = PrivateAttr(default=None)

    @property
    def summary_message(self) -> dict[str, Any] | None:
        return self._summary_message


class ActionBody(BaseModel):
    """Who moved an alert along, and why: one line for the person, a note of
    bounded length; neither may hold what PostgreSQL text cannot (NUL, a lone
    surrogate), so a bad one is a 422 naming the field, never a 500."""

    by: Line = Field(min_length=1, examples=["dispatcher 7"])
    note: Text | None = None
    resolution: Resolution | None = None


class ResolveBody(ActionBody):
    """Resolving says how it ended."""

    resolution: Resolution


@dataclass
class AlertDraft:
    """What a rule wants raised; registry context is filled in by the caller."""

    condition_key: str
    kind: str
    equipment_type: str
    equipment_id: str
    started_at: datetime
    summary: Message  # msg("alert.<kind>.summary", **args)
    details: dict[str, Any] = field(default_factory=dict)
    district: str | None = None
    firm_id: str | None = None
    use_unit: str | None = None
    station_id: str | None = None
    location: dict[str, Any] | None = None
    ended_at: datetime | None = None
    live: bool = True
    alert_id: str | None = None
    # Where one kind's severity depends on the condition (hazard_overdue:
    # major for serious, minor for general); None: the kind's own.
    severity: Severity | None = None


def new_alert_id() -> str:
    return "al_" + uuid.uuid4().hex


def late_alert_id(condition_key: str, started_at: datetime) -> str:
    """Deterministic id for an episode found inside a late backlog, so a replay
    of the same backlog records it once."""
    return (
        "al_late_" + uuid.uuid5(uuid.NAMESPACE_URL, f"{condition_key}@{started_at.isoformat()}").hex
    )


_MESSAGE_EXTRA = ("live", "escalations", "station_id", "ended_at")


def summary_text(summary: Message, speaker: Reader | None = None) -> str:
    """A draft's summary as text in the speaker's language; without one, the
    platform's default reader (zh-CN, Asia/Shanghai)."""
    if speaker is None:
        from semon.i18n import reader  # at call time: semon.i18n imports this module

        speaker = reader()
    return speaker.render(summary)


def stored_summary(row: dict[str, Any]) -> dict[str, Any] | None:
    """The summary's key and arguments of an ``alerts`` row, if it has them."""
    key = row.get("summary_key")
    if not isinstance(key, str):
        return None
    args = row.get("summary_args")
    return {"key": key, "args": args if isinstance(args, dict) else {}}


def message_from_row(row: dict[str, Any]) -> AlertMessage:
    """The message of an ``alerts`` row."""
    data = {k: row.get(k) for k in AlertMessage.model_fields}
    for k in _MESSAGE_EXTRA:
        data[k] = row.get(k)
    data["details"] = row.get("details") or {}
    out = AlertMessage.model_validate(data)
    out._summary_message = stored_summary(row)
    return out


def message_json(msg: AlertMessage, action: str) -> dict[str, Any]:
    """The message as published, with the action that made it as ``event``."""
    out: dict[str, Any] = orjson.loads(orjson.dumps(msg.model_dump(mode="json")))
    out["event"] = action
    return out


def draft_message(
    d: AlertDraft,
    alert_id: str,
    *,
    now: datetime,
    state: str = "open",
    speaker: Reader | None = None,
) -> AlertMessage:
    """The message of a draft that is not (yet) in the database: the outbox
    publishes trapped-passenger alerts from this while the database is down.
    The summary is in the speaker's language (the platform's, for MQTT)."""
    stored = d.summary.to_json()
    return message_from_row(
        {
            "alert_id": alert_id,
            "kind": d.kind,
            "severity": d.severity or SEVERITY[d.kind],
            "state": state,
            "equipment_type": d.equipment_type,
            "equipment_id": d.equipment_id,
            "started_at": d.started_at,
            "raised_at": now,
            "updated_at": now,
            "summary": summary_text(d.summary, speaker),
            "summary_key": stored["key"],
            "summary_args": stored["args"],
            "details": d.details,
            "location": d.location,
            "firm_id": d.firm_id,
            "use_unit": d.use_unit,
            "station_id": d.station_id,
            "live": d.live,
            "escalations": 0,
            "ended_at": d.ended_at,
        }
    )
