"""Registry records (CONTRACT.md, "Registry records") and recorded visits."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, Field

from semon.domain.common import Identifier, Line, RecordModel, clean_line
from semon.i18n import Message, msg

Latitude = Annotated[float, Field(ge=-90, le=90)]
Longitude = Annotated[float, Field(ge=-180, le=180)]
Grade = Literal["A", "B", "C", "D"]
District = Annotated[str, Field(min_length=1, max_length=64), AfterValidator(clean_line)]
# Registry text is one line a person reads: no control characters (common.Line).
Phone = Annotated[str, Field(max_length=40), AfterValidator(clean_line)]

ElevatorStatus = Literal["in_service", "suspended", "retired"]
CylinderStatus = Literal["in_service", "scrapped", "suspended"]


class Elevator(RecordModel):
    elevator_id: Identifier
    address: Line
    district: District
    lat: Latitude | None = None
    lon: Longitude | None = None
    use_unit: Line
    # The use unit's management level, 1 (poor) .. 5 (excellent); the "3+2"
    # model scores it. Unknown counts as average.
    use_unit_level: Annotated[int, Field(ge=1, le=5)] | None = None
    firm_id: Identifier | None = None
    installed_on: date
    floors: Annotated[int, Field(ge=1, le=300)] | None = None
    rated_speed: Annotated[float, Field(gt=0, le=30)] | None = None
    last_inspected_on: date | None = None
    inspection_interval_months: Annotated[int, Field(ge=1, le=120)] = 12
    status: ElevatorStatus = "in_service"
    # Contact a dispatcher reads out: the use unit's on-site phone.
    contact_phone: Phone | None = None
    # The short code posted in the car (unique), so a caller can name the lift.
    rescue_code: Annotated[str, Field(pattern=r"^[A-Za-z0-9\-]{1,32}$")] | None = None


class Cylinder(RecordModel):
    cylinder_id: Identifier
    serial_no: Line | None = None
    gas: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_\-]{0,31}$")]
    manufactured_on: date
    max_fill_kg: Annotated[float, Field(gt=0, le=100_000)]
    design_life_years: Annotated[int, Field(ge=1, le=100)]
    inspection_interval_years: Annotated[int, Field(ge=1, le=20)]
    last_inspected_on: date | None = None
    owner_station_id: Identifier | None = None
    status: CylinderStatus = "in_service"


class Firm(RecordModel):
    firm_id: Identifier
    name: Line
    credit_grade: Grade
    tech_level: Annotated[int, Field(ge=1, le=5)]
    phone: Phone | None = None


class Station(RecordModel):
    station_id: Identifier
    name: Line
    district: District
    license_no: Line | None = None
    address: Line | None = None


class Inspection(RecordModel):
    equipment_type: Literal["elevator", "cylinder"]
    equipment_id: Identifier
    inspected_on: date
    result: Literal["pass", "fail", "conditional"]
    inspector: Line


MaintenanceKind = Literal["routine", "quarterly", "half_year", "annual", "repair"]


class MaintenanceRecord(RecordModel):
    elevator_id: Identifier
    done_on: date
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
    out = []
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
