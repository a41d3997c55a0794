"""Error mapping: a database that is slow or away answers 503 with a JSON
body (never 500); a refused registry batch answers 422 naming the records."""

from __future__ import annotations

import logging

import psycopg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from semon.registry_import import RegistryRejected
from semon.store.pool import DB_UNAVAILABLE

log = logging.getLogger(__name__)

# Clients should back off about this long before retrying a 503.
RETRY_AFTER_S = "2"


async def _database_unavailable(request: Request, exc: Exception) -> JSONResponse:
    log.warning("database unavailable for %s %s: %s", request.method, request.url.path, exc)
    reason = (
        "query timed out"
        if isinstance(exc, psycopg.errors.QueryCanceled)
        else ("database unavailable")
    )
    return JSONResponse(
        {"detail": f"{reason}; retry later"},
        status_code=503,
        headers={"Retry-After": RETRY_AFTER_S},
    )


async def _registry_rejected(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RegistryRejected)
    return JSONResponse(
        {
            "detail": str(exc),
            "failures": [{"index": i, "reason": r} for i, r in exc.failures],
        },
        status_code=422,
    )


async def _validation_failed(request: Request, exc: Exception) -> JSONResponse:
    """FastAPI's usual body plus `failures` naming rows of a bulk body by index."""
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    failures: dict[int, list[str]] = {}
    for err in errors:
        loc = err.get("loc", ())
        if len(loc) >= 2 and loc[0] == "body" and isinstance(loc[1], int):
            field = ".".join(str(p) for p in loc[2:]) or "record"
            failures.setdefault(loc[1], []).append(f"{field}: {err.get('msg')}")
    body: dict[str, object] = {
        "detail": [
            {k: v for k, v in e.items() if k in ("loc", "msg", "type")} for e in errors[:200]
        ]
    }
    if failures:
        body["failures"] = [
            {"index": i, "reason": "; ".join(r)} for i, r in sorted(failures.items())[:200]
        ]
    return JSONResponse(body, status_code=422)


def install(app: FastAPI) -> None:
    for exc_type in DB_UNAVAILABLE:
        app.add_exception_handler(exc_type, _database_unavailable)
    app.add_exception_handler(RegistryRejected, _registry_rejected)
    app.add_exception_handler(RequestValidationError, _validation_failed)
