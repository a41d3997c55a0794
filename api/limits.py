"""What every request must be before any route sees it: a body no larger than
``settings.api.max_body_bytes`` (413), and query parameters that are text a
database can hold (422 naming the parameter).

Both are checks a route would otherwise have to repeat: PostgreSQL text
cannot hold NUL (a NUL in `?firm_id=` reached the query and answered 500),
and a body without a bound is read into memory whole before validation says
anything about it.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import unquote_to_bytes

from fastapi import HTTPException
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.types import Message as AsgiMessage

from api.errors import problem
from semon.i18n import Message, Reader, msg, reader_for
from semon.settings import ApiSettings, Settings

# C0 and C1 controls: no query parameter of this API (ids, times, states,
# cursors) holds one, and a NUL cannot be stored or compared in PostgreSQL.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")
# The same rule as a schema `pattern` for free-text query parameters, so the
# OpenAPI document says what the check above refuses.
TEXT_PATTERN = r"^[^\x00-\x1f\x7f-\x9f]*$"


def query_problem(query_string: bytes) -> tuple[str, Message] | None:
    """The first bad parameter and what is wrong with it, if any."""
    for pair in query_string.split(b"&"):
        if not pair:
            continue
        raw_name, _, raw_value = pair.partition(b"=")
        name_bytes = unquote_to_bytes(raw_name.replace(b"+", b" "))
        value_bytes = unquote_to_bytes(raw_value.replace(b"+", b" "))
        name = name_bytes.decode("utf-8", errors="replace")
        for part in (name_bytes, value_bytes):
            try:
                text = part.decode("utf-8")
            except UnicodeDecodeError:
                return name, msg("api.problem.query_not_utf8")
            found = _CONTROL.search(text)
            if found is not None:
                return name, msg("api.problem.query_control", code=f"U+{ord(found.group()):04X}")
    return None


def reader_of(scope: Scope) -> Reader:
    settings: Settings = scope["app"].state.settings
    accept = None
    for key, value in scope.get("headers", ()):
        if key == b"accept-language":
            accept = value.decode("latin-1")
    return reader_for(settings.i18n, accept)


class RequestLimits:
    """ASGI middleware: the body size limit and the query text check."""

    def __init__(self, app: ASGIApp, settings: ApiSettings) -> None:
        self.app = app
        self.max_body = settings.max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        bad = query_problem(scope.get("query_string", b""))
        if bad is not None:
            name, wrong = bad
            speaker = reader_of(scope)
            detail = [{"loc": ["query", name], "msg": speaker.render(wrong), "type": "value_error"}]
            await problem(speaker, 422, detail)(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_body:
            speaker = reader_of(scope)
            too_large = msg("api.problem.body_too_large", limit=self.max_body)
            await problem(speaker, 413, too_large)(scope, receive, send)
            return
        seen = 0
        limit = self.max_body

        async def limited_receive() -> AsgiMessage:
            # Chunked bodies say no length: count what arrives. FastAPI turns
            # any other error while reading a body into a 400; an HTTPException
            # passes through as itself.
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise HTTPException(413, msg("api.problem.body_too_large", limit=limit))
            return message

        await self.app(scope, limited_receive, send)


def _content_length(scope: Scope) -> int | None:
    for key, value in scope.get("headers", ()):
        if key == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


# What RequestLimits refuses in a query parameter, as a JSON Schema pattern.
QUERY_TEXT_PATTERN = r"^[^\u0000-\u001f\u007f-\u009f]*$"


def document_query_text(openapi: dict[str, Any]) -> dict[str, Any]:
    """Say in the OpenAPI document what RequestLimits refuses: every string
    query parameter without a pattern, enum or format of its own gets
    QUERY_TEXT_PATTERN, so a client (or a fuzzer) knows before sending."""
    for operations in openapi.get("paths", {}).values():
        for operation in operations.values():
            for parameter in operation.get("parameters", []) if isinstance(operation, dict) else []:
                if parameter.get("in") == "query":
                    _pattern_strings(parameter.get("schema", {}))
    return openapi


def _pattern_strings(schema: dict[str, Any]) -> None:
    for option in schema.get("anyOf", []):
        _pattern_strings(option)
    if schema.get("type") == "string" and not {"pattern", "enum", "format", "const"} & set(schema):
        schema["pattern"] = QUERY_TEXT_PATTERN
