"""Registry bulk upserts (admin): all-or-nothing, idempotent, up to 10,000
records a request."""

# No `from __future__ import annotations`: the handlers below are built per
# kind and their annotations must be real objects, not names.

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Body
from pydantic import BaseModel

from api.auth import Principal, require_roles
from api.deps import PoolDep, SettingsDep
from api.schemas import CYLINDER_EXAMPLE, ELEVATOR_EXAMPLE, Rejected, UpsertResult
from semon.domain.registry import Cylinder, Elevator, Firm, Inspection, RescueOrg, Station
from semon.registry_import import upsert_models

router = APIRouter(tags=["registry"])
Admin = Annotated[Principal, require_roles("admin")]
MAX_RECORDS = 10_000

_RESPONSES: dict[int | str, dict[str, Any]] = {
    422: {"model": Rejected, "description": "Nothing written; `failures` names each bad record"}
}


def _route(kind: str, model: type[BaseModel], path: str, example: dict[str, Any]) -> None:
    Records = Annotated[
        list[model],  # type: ignore[valid-type]
        Body(min_length=1, max_length=MAX_RECORDS, examples=[[example]]),
    ]

    async def upsert(
        records: Records, pool: PoolDep, admin: Admin, settings: SettingsDep
    ) -> UpsertResult:
        async with pool.connection() as conn:
            count = await upsert_models(conn, kind, records, latest=settings.record_dates.latest())
        return UpsertResult(kind=kind, upserted=count)

    handler: Callable[..., Awaitable[UpsertResult]] = upsert
    handler.__name__ = f"upsert_{kind}"
    router.add_api_route(
        path,
        handler,
        methods=["POST"],
        response_model=UpsertResult,
        responses=_RESPONSES,
        summary=f"Bulk upsert {kind} (all or nothing, at most {MAX_RECORDS} records)",
        operation_id=f"upsert_{kind}",
    )


_route(
    "elevators",
    Elevator,
    "/registry/elevators",
    ELEVATOR_EXAMPLE,
)
_route(
    "cylinders",
    Cylinder,
    "/registry/cylinders",
    CYLINDER_EXAMPLE,
)
_route(
    "firms",
    Firm,
    "/registry/firms",
    {"firm_id": "F-001", "name": "Pearl Lifts", "credit_grade": "A", "tech_level": 4},
)
_route(
    "stations",
    Station,
    "/registry/stations",
    {"station_id": "ST-1", "name": "East LPG", "district": "tianhe", "license_no": "L-9"},
)
_route(
    "rescue_orgs",
    RescueOrg,
    "/registry/rescue-orgs",
    {"org_id": "RO-TH", "name": "Tianhe Rescue Station", "district": "tianhe", "phone": "020-1"},
)
_route(
    "inspections",
    Inspection,
    "/inspections",
    {
        "equipment_type": "elevator",
        "equipment_id": "EL-000123",
        "inspected_on": "2026-03-10",
        "result": "pass",
        "inspector": "GZ-SEI 17",
    },
)
