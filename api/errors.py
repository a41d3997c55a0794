"""Error answers as problem details (RFC 9457 members `type`, `title`,
`status`, `detail`) in the reader's language (Accept-Language, else the
platform's): a database that is slow or away answers 503 (never 500); a
refused registry batch 422 naming the records; a request that does not
validate 422 with FastAPI's `detail` list, each `msg` in the reader's
language (`loc`, the field names, as they are); anything unexpected 500
with an `error_id` that finds its traceback in the log.

A route raises `HTTPException(status, msg("api.problem.<what>", **args))`:
the catalog message is rendered here, per request. A plain string detail is
passed through (Starlette's own "Not Found" becomes the status's title).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any, Final

import psycopg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.deps import get_reader
from semon.i18n import Message, Reader, msg, validation_message
from semon.registry_import import RegistryRejected
from semon.store.pool import DB_UNAVAILABLE

log = logging.getLogger(__name__)

# Clients should back off about this long before retrying a 503.
RETRY_AFTER_S = "2"

# Each status's title; a status not here gets its English reason phrase.
TITLES: Final[Mapping[int, Message]] = {
    400: msg("api.problem.title.bad_request"),
    401: msg("api.problem.title.unauthorized"),
    403: msg("api.problem.title.forbidden"),
    404: msg("api.problem.title.not_found"),
    405: msg("api.problem.title.method_not_allowed"),
    409: msg("api.problem.title.conflict"),
    413: msg("api.problem.title.too_large"),
    415: msg("api.problem.title.unsupported_media_type"),
    422: msg("api.problem.title.unprocessable"),
    429: msg("api.problem.title.too_many_requests"),
    500: msg("api.problem.title.internal_error"),
    503: msg("api.problem.title.unavailable"),
}

# How many errors a 422 lists (a bulk body can have thousands).
MAX_ERRORS: Final = 200


def title(speaker: Reader, status: int) -> str:
    found = TITLES.get(status)
    if found is not None:
        return speaker.render(found)
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return str(status)


def problem(
    speaker: Reader,
    status: int,
    detail: object,
    *,
    headers: Mapping[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    """A problem details answer; `detail` a catalog message, text, or a list."""
    if isinstance(detail, Message):
        detail = speaker.render(detail)
    body = {
        "type": "about:blank",
        "title": title(speaker, status),
        "status": status,
        "detail": detail,
        **extra,
    }
    return JSONResponse(body, status_code=status, headers=dict(headers or {}))


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code in (204, 304):  # no body allowed
        return Response(status_code=exc.status_code, headers=exc.headers)
    speaker = get_reader(request)
    detail: object = exc.detail
    if isinstance(detail, str) and detail == _phrase(exc.status_code):
        detail = title(speaker, exc.status_code)  # Starlette's own "Not Found" and the like
    return problem(speaker, exc.status_code, detail, headers=exc.headers)


def _phrase(status: int) -> str | None:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return None


async def _database_unavailable(request: Request, exc: Exception) -> JSONResponse:
    log.warning("database unavailable for %s %s: %s", request.method, request.url.path, exc)
    reason = (
        msg("api.problem.query_timed_out")
        if isinstance(exc, psycopg.errors.QueryCanceled)
        else msg("api.problem.database_unavailable")
    )
    return problem(get_reader(request), 503, reason, headers={"Retry-After": RETRY_AFTER_S})


async def _registry_rejected(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RegistryRejected)
    speaker = get_reader(request)
    return problem(
        speaker,
        422,
        msg("api.problem.registry_rejected", count=len(exc.failures)),
        failures=[{"index": i, "reason": r} for i, r in exc.reasons(speaker)],
    )


async def _validation_failed(request: Request, exc: Exception) -> JSONResponse:
    """FastAPI's usual `detail` list, each message in the reader's language,
    plus `failures` naming rows of a bulk body by index."""
    assert isinstance(exc, RequestValidationError)
    speaker = get_reader(request)
    errors = exc.errors()
    failures: dict[int, list[str]] = {}
    detail: list[dict[str, Any]] = []
    for n, err in enumerate(errors):
        loc = err.get("loc", ())
        text = validation_message(speaker, err)
        if len(loc) >= 2 and loc[0] == "body" and isinstance(loc[1], int):
            field = ".".join(str(p) for p in loc[2:]) or "record"
            failures.setdefault(loc[1], []).append(f"{field}: {text}")
        if n < MAX_ERRORS:
            detail.append({"loc": loc, "msg": text, "type": err.get("type")})
    extra: dict[str, Any] = {}
    if failures:
        extra["failures"] = [
            {"index": i, "reason": "; ".join(r)} for i, r in sorted(failures.items())[:MAX_ERRORS]
        ]
    return problem(speaker, 422, detail, **extra)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    """A defect, not the caller's fault: the traceback goes to the log under
    an id the answer gives, so a user's report finds it (the server then
    re-raises it to its own error log)."""
    error_id = uuid.uuid4().hex[:12]
    log.error(
        "unexpected error %s in %s %s", error_id, request.method, request.url.path, exc_info=exc
    )
    return problem(
        get_reader(request),
        500,
        msg("api.problem.unexpected", error_id=error_id),
        error_id=error_id,
    )


def install(app: FastAPI) -> None:
    for exc_type in DB_UNAVAILABLE:
        app.add_exception_handler(exc_type, _database_unavailable)
    app.add_exception_handler(RegistryRejected, _registry_rejected)
    app.add_exception_handler(RequestValidationError, _validation_failed)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    # Starlette's outermost middleware answers with this in place of its
    # plain-text "Internal Server Error".
    app.add_exception_handler(Exception, _unexpected)
