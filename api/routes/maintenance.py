"""Maintenance visits: a firm records its own, an admin anyone's.

A record may carry its window, items, technicians and the use unit's
sign-off (CONTRACT.md v1.1, "Maintenance transparency"); a record with a
window is checked against the terminal as it is filed.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, HTTPException
from pydantic import AfterValidator, BaseModel, Field, StringConstraints

from api.auth import require_roles
from api.deps import PoolDep, SettingsDep
from api.scope import ScopeDep
from semon.domain.common import Day, Line, RecordTimestamp, clean_line
from semon.domain.registry import future_dates
from semon.i18n import msg
from semon.store.maintenance_records import file_records
from semon.store.stats import elevators_in_scope
from semon.store.verification import verify_records

router = APIRouter(tags=["maintenance"])

MAX_RECORDS = 10_000
# Device clocks and people's watches: as for telemetry (CONTRACT.md), a time
# more than 5 minutes ahead of ours is in the future.
FUTURE_TOLERANCE = timedelta(minutes=5)
Id = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.\-]+$")]
ItemCode = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.\-]+$")]
Verification = Literal["terminal", "no_terminal_data", "contradicted"]


def _named(value: str) -> str:
    value = clean_line(value).strip()
    if not value:
        raise ValueError("a technician needs a name")
    return value


# The document says it too: one line (common.ONE_LINE_SCHEMA) with a character
# that is not a space.
NAME_SCHEMA = Field(
    json_schema_extra={
        "pattern": r"^[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f]"
        r"[^\u0000-\u001f\u007f-\u009f]*$"
    }
)
Name = Annotated[str, StringConstraints(max_length=200), AfterValidator(_named), NAME_SCHEMA]


class Technician(BaseModel):
    name: Name = Field(examples=["王师傅"])
    cert_no: Line | None = Field(
        default=None, description="certificate number (T-class)", examples=["TSG-T-440100123"]
    )


class MaintenanceRecord(BaseModel):
    elevator_id: Id = Field(examples=["GZ-TH-000123"])
    done_on: Day = Field(
        examples=["2026-11-20"],
        description="the day of the visit: not after today (a day's tolerance);"
        " a later date is refused with 422",
    )
    kind: Literal["routine", "quarterly", "half_year", "annual", "repair"]
    firm_id: Id = Field(examples=["firm-01"])
    started_at: RecordTimestamp | None = Field(
        default=None, description="visit start (with ended_at)", examples=["2026-11-20T09:00:00Z"]
    )
    ended_at: RecordTimestamp | None = Field(
        default=None,
        description="visit end, not before started_at",
        examples=["2026-11-20T09:40:00Z"],
    )
    items: list[ItemCode] = Field(default=[], max_length=200, examples=[["A1", "A2", "B7"]])
    technicians: list[Technician] = Field(default=[], max_length=20)
    signed_by: Line | None = Field(
        default=None, description="who signed for the use unit", examples=["李经理"]
    )
    signed_at: RecordTimestamp | None = None


class FiledRecord(BaseModel):
    record_id: int
    elevator_id: str
    done_on: date
    kind: str
    verification: Verification | None = Field(
        description="the terminal's verdict on the window; null: no window"
    )


class RecordsAccepted(BaseModel):
    received: int = Field(description="records in the request", examples=[3])
    inserted: int = Field(description="records new to the store (repeats are no-ops)", examples=[2])
    records: list[FiledRecord] = Field(default=[], description="the new records")


def _refuse_unstated(
    records: list[MaintenanceRecord], *, single: bool, now: datetime, latest: date
) -> None:
    """422 for the first thing pydantic cannot see alone (the clock, two
    fields together): one sentence naming the field (`[i].field` in a list).
    The schema cannot state these, so the answer is not a field list (that
    would say the document was wrong)."""
    latest_time = now + FUTURE_TOLERANCE
    for i, r in enumerate(records):
        at = (lambda name: name) if single else (lambda name, i=i: f"[{i}].{name}")
        # A visit dated ahead would count as done (and silence an overdue alert).
        for name, _ in future_dates(r, latest):
            value = getattr(r, name).isoformat()
            raise HTTPException(
                422,
                msg(
                    "firms.problem.day_in_future",
                    field=at(name),
                    value=value,
                    latest=latest.isoformat(),
                ),
            )
        if (r.started_at is None) != (r.ended_at is None):
            missing = "ended_at" if r.ended_at is None else "started_at"
            raise HTTPException(422, msg("firms.problem.window_incomplete", field=at(missing)))
        if r.started_at and r.ended_at and r.ended_at < r.started_at:
            raise HTTPException(422, msg("firms.problem.window_reversed", field=at("ended_at")))
        for name in ("started_at", "ended_at", "signed_at"):
            t = getattr(r, name)
            if t is not None and t > latest_time:
                raise HTTPException(422, msg("firms.problem.future_time", field=at(name)))


REFUSED: dict[int | str, dict[str, Any]] = {
    403: {"description": "a firm recording another firm's visit"},
    404: {"description": "an elevator not in scope (all-or-nothing: nothing is stored)"},
    422: {"description": "a field out of form; nothing is stored"},
}


@router.post(
    "/maintenance/records",
    response_model=RecordsAccepted,
    responses=REFUSED,
    dependencies=[require_roles("admin", "maintenance")],
)
async def post_records(
    scope: ScopeDep,
    pool: PoolDep,
    settings: SettingsDep,
    body: Annotated[
        MaintenanceRecord
        | Annotated[list[MaintenanceRecord], Field(min_length=1, max_length=MAX_RECORDS)],
        Body(description="one record or a list (1 to 10,000)"),
    ],
) -> RecordsAccepted:
    """Record maintenance visits; idempotent on (elevator_id, done_on, kind).
    Each new record with a window is checked against the terminal."""
    single = not isinstance(body, list)
    records = [body] if isinstance(body, MaintenanceRecord) else body
    if not records:
        raise HTTPException(422, msg("api.problem.no_records"))
    if len(records) > MAX_RECORDS:
        raise HTTPException(413, msg("api.problem.too_many_records", max=MAX_RECORDS))
    now = datetime.now(UTC)
    _refuse_unstated(records, single=single, now=now, latest=settings.record_dates.latest())
    if scope.firm_id is not None:
        foreign = sorted({r.firm_id for r in records} - {scope.firm_id})
        if foreign:
            raise HTTPException(
                403, msg("api.problem.foreign_visits", firms=", ".join(foreign[:5]))
            )
    where, params = scope.elevators("e")
    ids = sorted({r.elevator_id for r in records})
    async with pool.connection() as conn:
        known = await elevators_in_scope(conn, ids, scope=where, params=params)
        missing = [i for i in ids if i not in known]
        if missing:
            raise HTTPException(
                404, msg("api.problem.unknown_elevators", elevators=", ".join(missing[:20]))
            )
        async with conn.transaction():
            filed = await file_records(conn, [r.model_dump(mode="json") for r in records])
            verdicts = await verify_records(
                conn, [f["record_id"] for f in filed], settings.verification, now=now
            )
    return RecordsAccepted(
        received=len(records),
        inserted=len(filed),
        records=[
            FiledRecord(**f, verification=verdicts.get(f["record_id"]))  # type: ignore[arg-type]
            for f in filed
        ],
    )
