"""Registry records (CONTRACT.md, "Registry records") and recorded visits."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import AfterValidator, BaseModel, Field

from semon.domain.common import (
    ONE_LINE_SCHEMA,
    Day,
    Identifier,
    Line,
    NotBool,
    RecordModel,
    clean_line,
)

if TYPE_CHECKING:
    from semon.i18n import Message

Latitude = Annotated[float, Field(ge=-90, le=90), NotBool]
Longitude = Annotated[float, Field(ge=-180, le=180), NotBool]
Grade = Literal["A", "B", "C", "D"]
District = Annotated[
    str, Field(min_length=1, max_length=64), AfterValidator(clean_line), ONE_LINE_SCHEMA
]
# Registry text is one line a person reads: no control characters (common.Line).
Phone = Annotated[str, Field(max_length=40), AfterValidator(clean_line), ONE_LINE_SCHEMA]

ElevatorStatus = Literal["in_service", "suspended", "retired"]
CylinderStatus = Literal["in_service", "scrapped", "suspended"]
CylinderTag = Literal["qr", "rfid", "none"]


class Elevator(RecordModel):
    elevator_id: Identifier
    address: Line
    district: District
    lat: Latitude | None = None
    lon: Longitude | None = None
    use_unit: Line
    # The use unit's management level, 1 (poor) .. 5 (excellent); the "3+2"
    # model scores it. Unknown counts as average.
    use_unit_level: Annotated[int, Field(ge=1, le=5), NotBool] | None = None
    firm_id: Identifier | None = None
    installed_on: Day
    floors: Annotated[int, Field(ge=1, le=300), NotBool] | None = None
    rated_speed: Annotated[float, Field(gt=0, le=30), NotBool] | None = None
    last_inspected_on: Day | None = None
    inspection_interval_months: Annotated[int, Field(ge=1, le=120), NotBool] = 12
    status: ElevatorStatus = "in_service"
    # Contact a dispatcher reads out: the use unit's on-site phone.
    contact_phone: Phone | None = None
    # The short code posted in the car (unique), so a caller can name the lift.
    rescue_code: Annotated[str, Field(pattern=r"^[A-Za-z0-9\-]{1,32}$")] | None = None
    # Liability insurance (CONTRACT.md v1.1 "Coverage"); null until = uninsured.
    insurer: Line | None = None
    insurance_policy: Line | None = None
    insured_until: Day | None = None


class Cylinder(RecordModel):
    cylinder_id: Identifier
    serial_no: Line | None = None
    gas: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_\-]{0,31}$")]
    manufactured_on: Day
    max_fill_kg: Annotated[float, Field(gt=0, le=100_000), NotBool]
    design_life_years: Annotated[int, Field(ge=1, le=100), NotBool]
    inspection_interval_years: Annotated[int, Field(ge=1, le=20), NotBool]
    last_inspected_on: Day | None = None
    owner_station_id: Identifier | None = None
    status: CylinderStatus = "in_service"
    # The electronic tag a station scans (v1.1 "Coverage"), and insurance.
    tag: CylinderTag = "none"
    insured_until: Day | None = None


class Firm(RecordModel):
    firm_id: Identifier
    name: Line
    credit_grade: Grade
    tech_level: Annotated[int, Field(ge=1, le=5), NotBool]
    phone: Phone | None = None


class Station(RecordModel):
    station_id: Identifier
    name: Line
    district: District
    license_no: Line | None = Field(None, description="The filling licence (充装许可证) number")
    address: Line | None = None


class Inspection(RecordModel):
    equipment_type: Literal["elevator", "cylinder"]
    equipment_id: Identifier
    inspected_on: Day
    result: Literal["pass", "fail", "conditional"]
    inspector: Line


MaintenanceKind = Literal["routine", "quarterly", "half_year", "annual", "repair"]


class MaintenanceRecord(RecordModel):
    elevator_id: Identifier
    done_on: Day
    kind: MaintenanceKind
    firm_id: Identifier


class RescueOrg(RecordModel):
    """Tier 2 of a rescue: a rescue organisation of the district."""

    org_id: Identifier
    name: Line
    district: District
    phone: Phone


# Dates of things that happened: a record dated after today is a typo or a
# lie (a visit dated 2099 silenced an overdue alert; installed 9999-01-01 gave
# an age of -7,971 years). Dates that lie ahead (an insurance's end) are not here.
PAST_DATE_FIELDS = (
    "installed_on",
    "manufactured_on",
    "last_inspected_on",
    "inspected_on",
    "done_on",
)


def future_dates(record: BaseModel, latest: date) -> list[tuple[str, Message]]:
    """(field, reason) of each date of the record that is after ``latest``."""
    # Here, not at the top: semon.i18n's vocabularies import the registry.
    from semon.i18n import msg

    out: list[tuple[str, Message]] = []
    for name in PAST_DATE_FIELDS:
        value = getattr(record, name, None)
        if isinstance(value, date) and value > latest:
            out.append(
                (
                    name,
                    msg(
                        "registry.reason.date_in_future",
                        value=value.isoformat(),
                        latest=latest.isoformat(),
                    ),
                )
            )
    return out
