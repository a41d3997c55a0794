"""Maintenance visits: a firm records its own, an admin anyone's."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Body, HTTPException
from pydantic import BaseModel, Field

from api.auth import require_roles
from api.deps import PoolDep
from api.scope import ScopeDep
from semon.domain.common import Day
from semon.i18n import msg
from semon.store.stats import add_maintenance_records, elevators_in_scope

router = APIRouter(tags=["maintenance"])

MAX_RECORDS = 10_000
Id = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.\-]+$")]


class MaintenanceRecord(BaseModel):
    elevator_id: Id = Field(examples=["GZ-TH-000123"])
    done_on: Day = Field(examples=["2026-11-20"])
    kind: Literal["routine", "quarterly", "half_year", "annual", "repair"]
    firm_id: Id = Field(examples=["firm-01"])


class RecordsAccepted(BaseModel):
    received: int = Field(description="records in the request", examples=[3])
    inserted: int = Field(description="records new to the store (repeats are no-ops)", examples=[2])


@router.post(
    "/maintenance/records",
    response_model=RecordsAccepted,
    responses={
        403: {"description": "a firm recording another firm's visit"},
        404: {"description": "an elevator not in scope (all-or-nothing: nothing is stored)"},
    },
    dependencies=[require_roles("admin", "maintenance")],
)
async def post_records(
    scope: ScopeDep,
    pool: PoolDep,
    body: Annotated[
        MaintenanceRecord
        | Annotated[list[MaintenanceRecord], Field(min_length=1, max_length=MAX_RECORDS)],
        Body(description="one record or a list (1 to 10,000)"),
    ],
) -> RecordsAccepted:
    """Record maintenance visits; idempotent on (elevator_id, done_on, kind)."""
    records = body if isinstance(body, list) else [body]
    if not records:
        raise HTTPException(422, msg("api.problem.no_records"))
    if len(records) > MAX_RECORDS:
        raise HTTPException(413, msg("api.problem.too_many_records", max=MAX_RECORDS))
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
        inserted = await add_maintenance_records(
            conn, [(r.elevator_id, r.done_on, r.kind, r.firm_id) for r in records]
        )
    return RecordsAccepted(received=len(records), inserted=inserted)
