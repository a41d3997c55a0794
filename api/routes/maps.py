"""The map of the lifts in scope as a GeoJSON FeatureCollection (CONTRACT.md
v1.1 "Reports, map, language"): positions, open alert kinds, overdue flags
and grade; the console draws it without any tile server."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import Response

from api.deps import PoolDep
from api.scope import ScopeDep
from semon.domain.alerts import AlertKind
from semon.i18n import msg
from semon.store.map import elevators_geojson

router = APIRouter(tags=["map"])

GEOJSON = "application/geo+json"


@router.get(
    "/map/elevators.geojson",
    response_class=Response,
    responses={
        200: {
            "content": {GEOJSON: {"schema": {"type": "object"}}},
            "description": "a FeatureCollection of Point features, [lon, lat]",
        }
    },
)
async def elevators_map(
    scope: ScopeDep,
    pool: PoolDep,
    alert_kind: Annotated[AlertKind | None, Query(description="only lifts with one open")] = None,
    overdue: Annotated[bool | None, Query(description="only lifts overdue (or not)")] = None,
) -> Response:
    """In-service lifts in scope that have a position."""
    if scope.role == "station":
        raise HTTPException(403, msg("api.problem.station_sees_no_elevators"))
    where, params = scope.elevators("e")
    async with pool.connection() as conn:
        body = await elevators_geojson(
            conn,
            today=datetime.now(UTC).date(),
            alert_kind=alert_kind,
            overdue=overdue,
            scope=where,
            params=params,
        )
    return Response(body, media_type=GEOJSON)
