"""Response and request models of the HTTP API (the OpenAPI document's schemas).

Times are returned in UTC whatever the database session's time zone.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    model_validator,
)

from semon.domain.alerts import AlertMessage, stored_summary
from semon.domain.journey import Place
from semon.domain.registry import Cylinder, Elevator, Firm, Station
from semon.i18n import Message, Reader


def _utc(value: datetime) -> datetime:
    return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)


UtcDatetime = Annotated[datetime, AfterValidator(_utc)]

ALERT_EXAMPLE: dict[str, Any] = {
    "alert_id": "al_01HZX3K9TRAP",
    "kind": "trapped_passenger",
    "severity": "critical",
    "state": "acknowledged",
    "equipment_type": "elevator",
    "equipment_id": "EL-000123",
    "started_at": "2026-11-21T08:00:00Z",
    "raised_at": "2026-11-21T08:00:20.120Z",
    "updated_at": "2026-11-21T08:01:02Z",
    "summary": "Passengers trapped between floors 3 and 4 at 12 Jiefang Rd",
    "details": {"floor": 3, "door_zone": False},
    "location": {"address": "12 Jiefang Rd", "district": "yuexiu", "lat": 23.13, "lon": 113.26},
    "firm_id": "F-001",
    "use_unit": "Jiefang Mansions",
    "acknowledged_at": "2026-11-21T08:01:02Z",
    "dispatched_at": None,
    "on_site_at": None,
    "resolved_at": None,
    "resolution": None,
    "district": "yuexiu",
    "station_id": None,
}


class AlertOut(AlertMessage):
    """An alert as consoles receive it, plus the scope columns it is filed under."""

    model_config = ConfigDict(extra="allow", json_schema_extra={"examples": [ALERT_EXAMPLE]})

    started_at: UtcDatetime
    raised_at: UtcDatetime
    updated_at: UtcDatetime
    acknowledged_at: UtcDatetime | None = None
    dispatched_at: UtcDatetime | None = None
    on_site_at: UtcDatetime | None = None
    resolved_at: UtcDatetime | None = None
    ended_at: UtcDatetime | None = None
    district: str | None = None
    station_id: str | None = None
    live: bool = True

    @model_validator(mode="before")
    @classmethod
    def _summary_for_reader(cls, data: Any, info: ValidationInfo) -> Any:
        """An alert row's summary key and arguments become `summary` in the
        language of the reader in the validation context (`speaking(reader)`);
        the stored text stays where there is no reader or no key."""
        if not isinstance(data, Mapping) or not (data.keys() & {"summary_key", "summary_args"}):
            return data
        stored = stored_summary(dict(data))
        out = {k: v for k, v in data.items() if k not in ("summary_key", "summary_args")}
        speaker = (info.context or {}).get("speaker")
        if stored is not None and isinstance(speaker, Reader):
            out["summary"] = speaker.render(Message.from_json(stored), fallback=out.get("summary"))
        return out

    @classmethod
    def of(cls, message: AlertMessage, speaker: Reader) -> AlertOut:
        """A message of the store (an action's result) for one reader."""
        data = message.model_dump()
        if message.summary_message is not None:
            data["summary_key"] = message.summary_message["key"]
            data["summary_args"] = message.summary_message["args"]
        return cls.model_validate(data, context=speaking(speaker))


def speaking(speaker: Reader) -> dict[str, Any]:
    """The validation context that renders alert summaries for a reader:
    `Model.model_validate(rows, context=speaking(reader))`."""
    return {"speaker": speaker}


class AlertPage(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"items": [ALERT_EXAMPLE], "next_cursor": None}]}
    )
    items: list[AlertOut]
    next_cursor: str | None = Field(
        None, description="Pass as `cursor` for the next (older) page; null on the last page."
    )


class StatusPoint(BaseModel):
    """One status sample, or one `date_bin` bucket of them (`samples` > 1):
    the bucket's last value of each state, its mean and max speed."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "ts": "2026-11-21T08:00:00Z",
                    "samples": 1,
                    "floor": 3,
                    "speed": 0.0,
                    "speed_max": 0.0,
                    "direction": "stopped",
                    "door": "closed",
                    "door_zone": False,
                    "occupied": True,
                    "load_kg": 150.0,
                    "mode": "normal",
                    "alarm": True,
                    "power": "mains",
                    "trips": 10234,
                    "door_cycles": 20911,
                    "run_s": 801234,
                }
            ]
        }
    )
    ts: UtcDatetime
    samples: int = Field(1, description="Samples in the bucket (1: a raw sample)")
    floor: int
    speed: float = Field(description="Car speed, m/s (a bucket's mean)")
    speed_max: float = Field(description="The highest speed in the bucket, m/s")
    direction: str
    door: str
    door_zone: bool = Field(description="The car stands level with a landing")
    occupied: bool | None = Field(None, description="Someone inside; null: no sensor")
    load_kg: float | None = Field(None, description="Load in the car, kg; null: no scale")
    mode: str
    alarm: bool = Field(description="The alarm button is pressed")
    power: str = Field(description="mains or battery")
    trips: int | None = Field(None, description="The terminal's trip counter")
    door_cycles: int | None = Field(None, description="The terminal's door-cycle counter")
    run_s: int | None = Field(None, description="The terminal's running-hours counter, seconds")


class EventOut(BaseModel):
    ts: UtcDatetime
    code: str
    gov_code: int | None = None
    detail: str | None = None
    data: dict[str, Any] | None = None


class RescueTime(BaseModel):
    """A trapped-passenger alert's timings, seconds from when it was raised."""

    alert_id: str
    state: str
    started_at: UtcDatetime
    raised_at: UtcDatetime
    to_acknowledge_s: float | None = Field(None, description="Raised to acknowledged, s")
    to_on_site_s: float | None = Field(None, description="Raised to a crew on site, s")
    to_resolved_s: float | None = Field(None, description="Raised to resolved, s")
    held_s: float | None = Field(
        None, description="How long passengers were held (condition start to end), where known."
    )
    resolution: str | None = None


# One example elevator for the OpenAPI document (registry upsert and elevator file).
ELEVATOR_EXAMPLE: dict[str, Any] = {
    "elevator_id": "EL-000123",
    "address": "12 Jiefang Rd",
    "district": "yuexiu",
    "lat": 23.13,
    "lon": 113.26,
    "use_unit": "Jiefang Mansions",
    "firm_id": "F-001",
    "installed_on": "2012-05-01",
    "floors": 18,
    "rated_speed": 1.75,
    "last_inspected_on": "2026-03-10",
    "inspection_interval_months": 12,
    "status": "in_service",
}


class InspectionStanding(BaseModel):
    """Where the equipment stands with its periodic inspection (migration 0040:
    the one definition of the base date; a fail never renews it)."""

    inspection_base_on: date | None = Field(
        None, description="latest pass or conditional inspection, else installed/manufactured"
    )
    inspection_due_on: date | None = Field(None, description="base date plus the interval")
    failed_in_use: bool = Field(
        False, description="in service with its latest inspection failed (no later pass)"
    )


class ElevatorOut(Elevator, InspectionStanding):
    updated_at: UtcDatetime | None = None


class ElevatorFile(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "elevator": ELEVATOR_EXAMPLE,
                    "firm": {
                        "firm_id": "F-001",
                        "name": "Pearl Lifts",
                        "credit_grade": "A",
                        "tech_level": 4,
                    },
                    "latest_status": None,
                    "open_alerts": [],
                }
            ]
        }
    )
    elevator: ElevatorOut
    firm: Firm | None = None
    latest_status: StatusPoint | None = None
    open_alerts: list[AlertOut]


class ElevatorHistory(BaseModel):
    elevator_id: str
    from_: UtcDatetime = Field(alias="from")
    to: UtcDatetime
    resolution_s: int | None = Field(
        None, description="Bucket width when samples are downsampled; null for raw samples."
    )
    samples: list[StatusPoint]
    samples_truncated: bool = False
    events: list[EventOut]
    alerts: list[AlertOut]
    rescues: list[RescueTime]

    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)


class CheckOut(BaseModel):
    passed: bool
    failed_items: list[str] = []


class FillingOut(BaseModel):
    filling_id: str
    station_id: str
    station_name: str | None = None
    station_district: str | None = None
    cylinder_id: str
    gas: str
    operator_id: str
    started_at: UtcDatetime
    ended_at: UtcDatetime
    result: Literal["filled", "refused"]
    net_kg: float
    tare_kg: float | None = None
    pressure_mpa: float | None = None
    temperature_c: float | None = None
    precheck: CheckOut
    postcheck: CheckOut | None = None


class DeliveryOut(BaseModel):
    delivery_id: str
    station_id: str
    station_name: str | None = None
    ts: UtcDatetime
    direction: Literal["out", "return"]
    customer: str | None = None
    address: str | None = None
    district: str | None = None


class TimelineEntry(BaseModel):
    """A filling or a delivery, in one list in time order."""

    at: UtcDatetime = Field(description="a filling's ended_at, a delivery's ts")
    type: Literal["filling", "delivery"]
    id: str = Field(description="filling_id or delivery_id")
    station_id: str
    what: str = Field(
        description="a filling's result (filled, refused) or a delivery's direction (out, return)"
    )
    customer: str | None = None


class Whereabouts(BaseModel):
    state: Place = Field(description="at_station, with_customer, or unknown (never moved)")
    since: UtcDatetime | None = None
    station_id: str | None = Field(
        default=None, description="where it is, or the station that delivered it"
    )
    customer: str | None = None
    address: str | None = None
    district: str | None = None
    delivery_id: str | None = None


class InspectionOut(BaseModel):
    inspected_on: date
    result: Literal["pass", "fail", "conditional"]
    inspector: str
    recorded_at: UtcDatetime


# One example cylinder for the OpenAPI document (registry upsert and cylinder trace).
CYLINDER_EXAMPLE: dict[str, Any] = {
    "cylinder_id": "CY-77",
    "serial_no": "SN77",
    "gas": "lpg",
    "manufactured_on": "2018-01-01",
    "max_fill_kg": 14.5,
    "design_life_years": 15,
    "inspection_interval_years": 4,
    "last_inspected_on": "2024-01-01",
    "owner_station_id": "ST-1",
    "status": "in_service",
}


class CylinderOut(Cylinder, InspectionStanding):
    updated_at: UtcDatetime | None = None


class CylinderTrace(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "cylinder": CYLINDER_EXAMPLE,
                    "owner_station": None,
                    "inspections": [],
                    "fillings": [],
                    "alerts": [],
                    "next_cursor": None,
                }
            ]
        }
    )
    cylinder: CylinderOut
    owner_station: Station | None = None
    inspections: list[InspectionOut]
    fillings: list[FillingOut] = Field(description="One page, oldest first.")
    deliveries: list[DeliveryOut] = Field(
        default_factory=list,
        description="Deliveries out and returns in this page's span of time, oldest first.",
    )
    timeline: list[TimelineEntry] = Field(
        default_factory=list, description="This page's fillings and deliveries in time order."
    )
    whereabouts: Whereabouts = Field(
        default_factory=lambda: Whereabouts(state="unknown"),
        description="Where the cylinder is now: at a station or with a customer, since when.",
    )
    alerts: list[AlertOut]
    next_cursor: str | None = Field(None, description="Pass as `cursor` for the next fillings.")


class UpsertResult(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"kind": "elevators", "upserted": 2}]}
    )
    kind: str
    upserted: int


class Failure(BaseModel):
    index: int
    reason: str


class Rejected(BaseModel):
    """A refused bulk request: nothing was written."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "detail": "1 record(s) rejected: #3: district: Field required",
                    "failures": [{"index": 3, "reason": "district: Field required"}],
                }
            ]
        }
    )
    detail: Any
    failures: list[Failure] = []


class Problem(BaseModel):
    """An error answer (RFC 9457 members), `title` and `detail` in the
    reader's language (Accept-Language)."""

    type: str = "about:blank"
    title: str | None = None
    status: int | None = None
    detail: str


class Health(BaseModel):
    status: Literal["ok"]
    database: Literal["ok"]
