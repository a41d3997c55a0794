"""The FastAPI application: lifespan (pool, bootstrap token, alert listener)
and every router."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI

from api import errors
from api.allow import AllowHeader
from api.deadline import RequestDeadline
from api.limits import RequestLimits, document_query_text
from api.metrics_mw import LOOP_LAG, RequestMetrics
from api.notify import AlertWaker
from api.permit_log import permits_running
from api.routes import (
    alerts,
    console,
    console_i18n,
    console_modules,
    coverage,
    cylinders,
    docs,
    elevators,
    firms,
    hazards,
    health,
    lift_file,
    maintenance,
    maps,
    metrics,
    permits,
    registry,
    reports,
    rescues,
    scores,
    stats,
    tokens,
)
from api.schemas import Problem, Rejected
from api.vary import VaryLanguage
from semon.loop_lag import watch_loop_lag
from semon.settings import Settings
from semon.store.pool import open_pool
from semon.tokens import ensure_admin_token

log = logging.getLogger(__name__)

DESCRIPTION = """
semon's HTTP API: registry, traceability, alerts, scores and statistics.

Every route but `/healthz` needs `Authorization: Bearer <token>`. A token has a
role (`admin`, `dispatcher`, `maintenance`, `regulator`, `station`) and a
scope; an object outside the scope answers 404 exactly like a missing one, a
missing or bad token 401, a role without the right 403. A database that is
slow or away answers 503 with `Retry-After`.

Times in query strings (`from`, `to`, `since`) are RFC 3339 date-times with
an offset (`2026-11-21T08:00:00+08:00`, `2026-11-21T00:00:00Z`); a time
without one, or in another ISO 8601 form, is refused with 422 naming the
parameter. Times in answers are UTC.
"""

# Answers any authenticated route may give, documented once for all of them.
COMMON_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": Problem, "description": "A body that cannot be read (not UTF-8 JSON)"},
    401: {"model": Problem, "description": "Missing, unknown or revoked token"},
    403: {"model": Problem, "description": "The token's role may not use this route"},
    413: {"model": Problem, "description": "Body larger than the limit (16 MiB by default)"},
    422: {
        "model": Rejected,
        "description": "Invalid parameters or body: `detail` lists each field"
        " (`loc`, `msg`, `type`); or a request the schema allows but the data"
        " refuses (a window too long, an unknown elevator, a cursor not handed"
        " out): `detail` is then one sentence",
    },
    503: {"model": Problem, "description": "Database unavailable or query timed out; retry"},
}


def create_app(settings: Settings) -> FastAPI:
    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with open_pool(
            settings.database_url,
            min_size=settings.storage.pool_min,
            max_size=settings.storage.pool_max,
            name="api",
            timeout=settings.api.pool_timeout_s,
            statement_timeout_ms=settings.api.statement_timeout_ms,
        ) as pool:
            if settings.api.bootstrap_admin_token:
                async with pool.connection() as conn:
                    token_id = await ensure_admin_token(conn, settings.api.bootstrap_admin_token)
                log.info("bootstrap admin token present as %s", token_id)
            waker = AlertWaker()
            app.state.pool = pool
            app.state.settings = settings
            app.state.alert_waker = waker
            # Streams read and send their batches a few at a time (api/routes/alerts.py).
            app.state.stream_turns = asyncio.Semaphore(
                min(settings.api.stream_turns, max(1, settings.storage.pool_max - 1))
            )
            listener = asyncio.create_task(waker.listen(settings.database_url), name="alert-listen")
            lag = asyncio.create_task(watch_loop_lag(LOOP_LAG), name="api-loop-lag")
            try:
                async with permits_running(app, settings):
                    yield
            finally:
                for task in (listener, lag):
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task

    app = FastAPI(
        title="semon",
        version="1",
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # served by api.routes.docs from installed files, no CDN
        redoc_url=None,
    )
    errors.install(app)
    build_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = document_query_text(build_openapi())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    app.add_middleware(AllowHeader)
    app.add_middleware(RequestDeadline, deadline_s=settings.api.request_deadline_s)
    app.add_middleware(RequestLimits, settings=settings.api)
    app.add_middleware(RequestMetrics)
    app.add_middleware(VaryLanguage)
    # The open routes: liveness, and the console page (it asks for a token
    # and sends it with every call it makes).
    app.include_router(health.router)
    app.include_router(console.router)
    for pages in (console_i18n, console_modules, docs):  # no auth: page texts, modules, docs
        app.include_router(pages.router)
    for module in (
        metrics,
        tokens,
        registry,
        elevators,
        cylinders,
        permits,
        alerts,
        scores,
        stats,
        coverage,
        maintenance,
        lift_file,
        firms,
        rescues,
        hazards,
        reports,
        maps,
    ):
        app.include_router(module.router, responses=COMMON_RESPONSES)
    return app
