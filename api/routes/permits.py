"""The fill permit: before the valve opens, may this station fill this
cylinder with this gas? Judged by the filling alerts' own rules
(semon.domain.filling_rules.before_fill), so the permit and the alerts
never disagree; every answer is kept (api.permit_log).

Within ``permits.deadline_s`` or not at all: a database too slow to answer
gets the station a 503 "unknown, try again" with Retry-After, never a yes
without a check.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field

from api.auth import MAX_SECRET
from api.deps import SettingsDep
from api.permit_log import PermitLog
from api.schemas import Problem
from semon.domain.common import ID_PATTERN
from semon.domain.filling_rules import GASES, before_fill, registry_evidence
from semon.i18n import Reader, msg, reader_for
from semon.store.permits import PermitAnswer, PermitFacts, permit_facts
from semon.store.pool import DB_UNAVAILABLE
from semon.tokens import TokenRecord, lookup_token

router = APIRouter(prefix="/cylinders", tags=["stations"])
_bearer = HTTPBearer(auto_error=False, description="`Authorization: Bearer <token secret>`")
CylinderId = Annotated[str, Path(pattern=ID_PATTERN, examples=["CY-77"])]


class FillPermit(BaseModel):
    permit_id: str = Field(examples=["pm_5f0c6a1e2b7d4c1e9a3b8f0d2c4e6a8b"])
    allow: bool | None = Field(
        description="true: fill; false: do not fill (see reasons); null: unknown, ask again"
    )
    reasons: list[str] = Field(
        description="the filling alert kinds this fill would raise",
        examples=[["filling_overdue_cylinder", "gas_mismatch"]],
    )
    reason_texts: list[str] = Field(
        default_factory=list,
        description="the reasons in words, in the language asked for (Accept-Language)",
        examples=[["充装超期未检气瓶", "充装介质不符"]],
    )
    station_id: str
    cylinder_id: str
    gas: str
    asked_at: datetime
    registry: dict[str, Any] | None = Field(
        default=None, description="the cylinder's registry facts the answer rests on"
    )
    retry_after_s: int | None = Field(default=None, description="with allow null")
    detail: str | None = None


def _reader(request: Request, settings: SettingsDep) -> Reader:
    return reader_for(settings.i18n, request.headers.get("accept-language"))


@dataclass(frozen=True, slots=True)
class _Asked:
    """What the lookup found: the token (None: unknown or revoked) and, for a
    token that may ask, the facts the permit is judged on."""

    token: TokenRecord | None
    facts: PermitFacts | None


async def _look_up(pool: Any, secret: str, station_id: str, cylinder_id: str) -> _Asked:
    """The caller's token and the permit's facts on one connection of the
    permits' pool: two round trips, all inside the deadline."""
    if len(secret) > MAX_SECRET:
        return _Asked(None, None)
    async with pool.connection() as conn:
        token = await lookup_token(conn, secret)
        if token is None or token.role not in ("admin", "station"):
            return _Asked(token, None)
        return _Asked(token, await permit_facts(conn, station_id, cylinder_id))


# Lookups abandoned at the deadline, held until they end: the event loop
# keeps only weak references to tasks.
_ABANDONED: set[asyncio.Future[Any]] = set()


def _forget(task: asyncio.Future[Any]) -> None:
    # An abandoned lookup ends on its own (statement or pool timeout); its
    # outcome is nobody's any more.
    _ABANDONED.discard(task)
    if not task.cancelled():
        task.exception()


@router.get(
    "/{cylinder_id}/fill-permit",
    response_model=FillPermit,
    responses={
        401: {"model": Problem, "description": "Missing, unknown or revoked token"},
        403: {"model": Problem, "description": "Not a station or admin; or another station"},
        422: {"description": "Unknown station, or a gas outside the list"},
        503: {"model": FillPermit, "description": "Unknown, try again (database too slow)"},
    },
    summary="May this station fill this cylinder now: allow or deny with every reason",
)
async def get_fill_permit(
    request: Request,
    cylinder_id: CylinderId,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    settings: SettingsDep,
    station_id: Annotated[str, Query(pattern=ID_PATTERN, description="the asking station")],
    gas: Annotated[
        str,
        Query(
            max_length=32,
            description="the medium to fill, lower case: " + ", ".join(GASES),
            # Checked in the handler, after the token (401 first); the
            # document names the list all the same.
            json_schema_extra={"enum": list(GASES)},
        ),
    ],
) -> Any:
    """Authenticated here rather than by the shared dependency: the token
    lookup is part of what must finish within the deadline (on a frozen
    database it is the first thing to hang), and on the permits' pool it
    shares one connection with the permit's own read."""
    if credentials is None or not credentials.credentials:
        raise HTTPException(
            401, msg("api.problem.token_missing"), headers={"WWW-Authenticate": "Bearer"}
        )
    reader = _reader(request, settings)
    cfg = settings.permits
    log: PermitLog = request.app.state.permit_log
    asked_at = datetime.now(UTC)
    permit_id = "pm_" + uuid.uuid4().hex
    lookup = asyncio.ensure_future(
        _look_up(request.app.state.permit_pool, credentials.credentials, station_id, cylinder_id)
    )
    # Waited for, not cancelled at the deadline: cancelling a query on a
    # frozen server can itself hang; the task finishes or fails on its own.
    done, _ = await asyncio.wait({lookup}, timeout=cfg.deadline_s)
    asked: _Asked | None = None
    if done:
        with contextlib.suppress(*DB_UNAVAILABLE):
            asked = lookup.result()
    else:
        _ABANDONED.add(lookup)
        lookup.add_done_callback(_forget)
    token = asked.token if asked is not None else None
    if asked is not None:
        if token is None:
            raise HTTPException(
                401, msg("api.problem.token_invalid"), headers={"WWW-Authenticate": "Bearer"}
            )
        if token.role not in ("admin", "station"):
            raise HTTPException(403, msg("api.problem.role_forbidden", role=token.role))
        if token.role == "station" and station_id != token.scope[0]:
            raise HTTPException(403, msg("stations.permit.other_station", station_id=station_id))
    if gas not in GASES:
        # After the token (a stranger learns nothing); one sentence naming the field.
        raise HTTPException(
            422, msg("stations.permit.unknown_gas", gas=gas, known=", ".join(GASES))
        )
    facts = asked.facts if asked is not None else None
    if facts is None:
        answer = PermitAnswer(
            permit_id,
            station_id,
            cylinder_id,
            gas,
            None,
            (),
            asked_at,
            token.token_id if token else None,  # not known when the lookup did not finish
        )
        log.add(answer)
        body = FillPermit(
            permit_id=permit_id,
            allow=None,
            reasons=[],
            station_id=station_id,
            cylinder_id=cylinder_id,
            gas=gas,
            asked_at=asked_at,
            retry_after_s=cfg.retry_after_s,
            detail=reader.t("stations.permit.unknown"),
        )
        return JSONResponse(
            body.model_dump(mode="json"),
            status_code=503,
            headers={"Retry-After": str(cfg.retry_after_s)},
        )
    if not facts.station_known:
        # A refusal by the data, not the schema: one sentence naming the field.
        raise HTTPException(422, msg("stations.permit.unknown_station", station_id=station_id))
    breaches = before_fill(station_id, gas, facts.cylinder, asked_at.date())
    reasons = tuple(b.kind for b in breaches)
    log.add(
        PermitAnswer(
            permit_id,
            station_id,
            cylinder_id,
            gas,
            not reasons,
            reasons,
            asked_at,
            token.token_id if token else None,
        )
    )
    return FillPermit(
        permit_id=permit_id,
        allow=not reasons,
        reasons=list(reasons),
        reason_texts=[reader.label("alert.kind", r) for r in reasons],
        station_id=station_id,
        cylinder_id=cylinder_id,
        gas=gas,
        asked_at=asked_at,
        registry=None if facts.cylinder is None else registry_evidence(facts.cylinder),
    )
