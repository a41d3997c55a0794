"""The lift's file, readable: its maintenance records (with the terminal's
verdict) and its inspections, newest first, paged; and its eligibility for
on-demand maintenance. Scoped like every elevator read: out of scope is 404."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Annotated, Any, Literal, TypeVar

from fastapi import APIRouter, Depends, HTTPException, Path
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool
from pydantic import BaseModel, Field

from api.auth import require_roles
from api.deps import PoolDep, ReaderDep, SettingsDep
from api.paging import PageDep, PageRequest
from api.routes.maintenance import Technician, Verification
from api.scope import Scope, ScopeDep
from semon.domain.common import ID_PATTERN
from semon.i18n import msg
from semon.store.elevator_file import fetch_elevator
from semon.store.eligibility import eligibility
from semon.store.maintenance_records import inspections_page, records_page

NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such elevator in your scope"}
}
# Every route here reads one elevator's file, so each may answer 404.
router = APIRouter(prefix="/elevators", tags=["elevators"], responses=NOT_FOUND)
ElevatorId = Annotated[str, Path(pattern=ID_PATTERN, examples=["EL-000123"])]


class MaintenanceRecordOut(BaseModel):
    record_id: int
    elevator_id: str
    done_on: date
    kind: str = Field(description="routine, quarterly, half_year, annual or repair")
    firm_id: str
    started_at: datetime | None = Field(None, description="The visit's window, where filed")
    ended_at: datetime | None = None
    items: list[str] = Field([], description="The items of the maintenance sheet done")
    technicians: list[Technician] = Field([], description="Who was on site, with certificates")
    signed_by: str | None = None
    signed_at: datetime | None = None
    verification: Verification | None = Field(
        default=None, description="the terminal's verdict on the window; null: no window"
    )
    verified_at: datetime | None = None
    verification_evidence: dict[str, Any] | None = Field(
        default=None,
        description="what the verdict rests on: samples in the window, normal ones, "
        "maintenance/inspection ones (with slack), coverage",
    )
    recorded_at: datetime


class MaintenancePage(BaseModel):
    items: list[MaintenanceRecordOut]
    next_cursor: str | None = Field(None, description="Pass as `cursor` for the next (older) page")


class InspectionOut(BaseModel):
    inspection_id: int
    equipment_type: str
    equipment_id: str
    inspected_on: date
    result: Literal["pass", "fail", "conditional"]
    inspector: str
    recorded_at: datetime


class InspectionPage(BaseModel):
    items: list[InspectionOut]
    next_cursor: str | None = Field(None, description="Pass as `cursor` for the next (older) page")


def _after(pair: tuple[datetime, str] | None) -> tuple[date, int] | None:
    """A cursor's pair as the file's order: (day, id)."""
    if pair is None:
        return None
    if not pair[1].isdigit():
        raise HTTPException(422, msg("firms.problem.invalid_cursor"))
    return pair[0].date(), int(pair[1])


async def _in_scope(conn: Any, scope: Scope, elevator_id: str) -> None:
    where, params = scope.elevators("e")
    if await fetch_elevator(conn, elevator_id, where, params) is None:
        raise HTTPException(404, msg("firms.problem.elevator_not_found", elevator_id=elevator_id))


PageModel = TypeVar("PageModel", bound=BaseModel)
Read = Callable[..., Awaitable[list[dict[str, Any]]]]


@dataclass(frozen=True)
class FileRequest:
    """A request for one page of the lift's file (whose, for whom, how many,
    after what), made by the dependency below from the route's parameters."""

    elevator_id: str
    scope: Scope
    pool: AsyncConnectionPool[AsyncConnection]
    rows: PageRequest

    async def page(self, model: type[PageModel], read: Read, keys: tuple[str, str]) -> PageModel:
        """One page, newest first, and the cursor after it (``keys``: the
        row's day and id, which order the file)."""
        async with self.pool.connection() as conn:
            await _in_scope(conn, self.scope, self.elevator_id)
            after = _after(self.rows.after)
            rows = await read(conn, self.elevator_id, after=after, limit=self.rows.size + 1)
        day, ident = keys
        rows, next_cursor = self.rows.cut(
            rows, lambda r: (datetime.combine(r[day], time(), UTC), str(r[ident]))
        )
        return model.model_validate({"items": rows, "next_cursor": next_cursor})


async def file_request(
    elevator_id: ElevatorId, scope: ScopeDep, pool: PoolDep, rows: PageDep
) -> FileRequest:
    return FileRequest(elevator_id, scope, pool, rows)


FileRequestDep = Annotated[FileRequest, Depends(file_request)]


@router.get(
    "/{elevator_id}/maintenance",
    summary="The elevator's maintenance records with the terminal's verdicts, newest first",
)
async def get_maintenance(file: FileRequestDep) -> MaintenancePage:
    return await file.page(MaintenancePage, records_page, ("done_on", "record_id"))


@router.get(
    "/{elevator_id}/inspections", summary="The elevator's periodic inspections, newest first"
)
async def get_inspections(file: FileRequestDep) -> InspectionPage:
    return await file.page(InspectionPage, inspections_page, ("inspected_on", "inspection_id"))


class Condition(BaseModel):
    name: str = Field(examples=["terminal_connected"])
    label: str = Field(default="", description="the condition in the reader's language")
    passed: bool
    veto: str = Field(description="the score's veto this condition's failure is")
    evidence: dict[str, Any] = Field(description="what the condition was judged on")


class Eligibility(BaseModel):
    elevator_id: str
    eligible: bool = Field(description="every condition passed")
    interval_days: int = Field(description="the maintenance interval granted", examples=[60])
    score: float
    grade: str = Field(pattern="^[ABCD]$")
    conditions: list[Condition]
    computed_at: datetime


@router.get(
    "/{elevator_id}/eligibility",
    response_model=Eligibility,
    summary="Each on-demand maintenance condition with its evidence, and the interval granted",
    dependencies=[require_roles("admin", "maintenance", "regulator")],
)
async def get_eligibility(
    elevator_id: ElevatorId, scope: ScopeDep, pool: PoolDep, settings: SettingsDep, say: ReaderDep
) -> Eligibility:
    """Computed now by the score's own sheet (semon/scoring.py): a condition
    fails exactly when the score carries its veto, which forces 15 days."""
    async with pool.connection() as conn:
        await _in_scope(conn, scope, elevator_id)
        out = await eligibility(conn, settings, elevator_id, now=datetime.now(UTC))
    if out is None:
        raise HTTPException(404, msg("firms.problem.elevator_not_found", elevator_id=elevator_id))
    for c in out["conditions"]:
        c["label"] = say.label("eligibility.condition", c["name"])
    return Eligibility.model_validate(out)
