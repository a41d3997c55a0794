"""A cylinder's trace: record, inspections, fillings (paged) and the
deliveries between them in one timeline, where it is now, alerts."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query
from psycopg import sql

from api.deps import PoolDep, ReaderDep, SettingsDep
from api.paging import PageCursor, PageRequest
from api.schemas import CylinderTrace, Problem, speaking
from api.scope import ScopeDep
from semon.domain.common import ID_PATTERN
from semon.domain.journey import whereabouts
from semon.i18n import msg
from semon.store.alert_reads import alerts_for_equipment
from semon.store.cylinder_trace import (
    fetch_cylinder,
    fetch_deliveries,
    fetch_fillings,
    fetch_inspections,
    fetch_last_moves,
)

# Deliveries shown with one page of fillings, at most (a page's span of time
# holds a handful in practice; a cylinder that never gets filled could have more).
MAX_DELIVERIES = 5000

router = APIRouter(prefix="/cylinders", tags=["cylinders"])
CylinderId = Annotated[str, Path(pattern=ID_PATTERN, examples=["CY-77"])]


@router.get(
    "/{cylinder_id}/trace",
    response_model=CylinderTrace,
    responses={404: {"model": Problem, "description": "No such cylinder in your scope"}},
    summary="Registry record, inspections, fillings (paged) and deliveries in time order, "
    "where it is now, alerts",
)
async def get_trace(
    cylinder_id: CylinderId,
    scope: ScopeDep,
    pool: PoolDep,
    settings: SettingsDep,
    speaker: ReaderDep,
    limit: Annotated[int | None, Query(ge=1, description="Fillings per page")] = None,
    cursor: PageCursor = None,
) -> CylinderTrace:
    page = PageRequest.of(settings, limit, cursor)
    after = page.after
    where, params = scope.cylinders("c")
    async with pool.connection() as conn:
        row = await fetch_cylinder(conn, cylinder_id, where, params)
        if row is None:
            raise HTTPException(404, msg("api.problem.cylinder_not_found"))
        inspections = await fetch_inspections(conn, "cylinder", cylinder_id)
        fillings = await fetch_fillings(conn, cylinder_id, after, page.size + 1)
        fillings, next_cursor = page.cut(fillings, lambda f: (f["ended_at"], f["filling_id"]))
        # The deliveries in this page's span: after the cursor's time, up to
        # the page's last filling (the last page: up to now).
        until = fillings[-1]["ended_at"] if next_cursor else None
        deliveries = await fetch_deliveries(
            conn, cylinder_id, after[0] if after else None, until, MAX_DELIVERIES
        )
        last_filling, last_delivery = await fetch_last_moves(conn, cylinder_id)
        # The cylinder is in scope, so all its alerts are shown, whichever
        # station or district they were filed under.
        alerts = await alerts_for_equipment(conn, "cylinder", cylinder_id, sql.SQL("TRUE"), {})
    owner = row.pop("owner_station")
    timeline = sorted(
        [
            {
                "at": f["ended_at"],
                "type": "filling",
                "id": f["filling_id"],
                "station_id": f["station_id"],
                "what": f["result"],
            }
            for f in fillings
        ]
        + [
            {
                "at": d["ts"],
                "type": "delivery",
                "id": d["delivery_id"],
                "station_id": d["station_id"],
                "what": d["direction"],
                "customer": d["customer"],
            }
            for d in deliveries
        ],
        # A filling and a delivery at the same instant: filled, then loaded.
        key=lambda e: (e["at"], e["type"] == "delivery", e["id"]),
    )
    return CylinderTrace.model_validate(
        {
            "cylinder": row,
            "owner_station": owner,
            "inspections": inspections,
            "fillings": fillings,
            "deliveries": deliveries,
            "timeline": timeline,
            "whereabouts": whereabouts(last_filling, last_delivery),
            "alerts": alerts,
            "next_cursor": next_cursor,
        },
        context=speaking(speaker),
    )
