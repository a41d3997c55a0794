"""A 405's `Allow` header lists every method the path has.

Starlette answers a method a path does not take with the methods of the
first route that matched the path only; where one path has a route per
method (`GET /tokens`, `POST /tokens`) the header then names one of them.
"""

from __future__ import annotations

from starlette.routing import Match
from starlette.types import Message, Scope

from api.answer_start import AnswerStartMiddleware


class AllowHeader(AnswerStartMiddleware):
    """ASGI middleware: on a 405, `Allow` is the union over the path's routes."""

    def at_start(self, scope: Scope, message: Message) -> Message:
        if message["status"] != 405:
            return message
        methods = _methods(scope)
        if not methods:
            return message
        headers = [(k, v) for k, v in message["headers"] if k.lower() != b"allow"]
        headers.append((b"allow", ", ".join(sorted(methods)).encode()))
        return {**message, "headers": headers}


# The methods a route of this API may take.
_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def _methods(scope: Scope) -> set[str]:
    # Routers nest (included routers are routes of their own), so ask the
    # top level, method by method, whether the path fully matches.
    routes = scope["app"].router.routes
    found = {
        method
        for method in _METHODS
        if any(route.matches({**scope, "method": method})[0] == Match.FULL for route in routes)
    }
    return found
