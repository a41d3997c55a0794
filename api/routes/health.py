"""Liveness that touches the database (no auth)."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import PoolDep
from api.schemas import Health, Problem

router = APIRouter(tags=["operations"])


@router.get(
    "/healthz",
    response_model=Health,
    responses={503: {"model": Problem, "description": "Database unreachable"}},
    summary="Liveness: the API runs and its database answers",
)
async def healthz(pool: PoolDep) -> Health:
    async with pool.connection() as conn:
        await conn.execute("SELECT 1")
    return Health(status="ok", database="ok")
