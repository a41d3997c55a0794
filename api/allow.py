"""A 405's `Allow` header lists every method the path has.

Starlette answers a method a path does not take with the methods of the
first route that matched the path only; where one path has a route per
method (`GET /tokens`, `POST /tokens`) the header then names one of them.
"""

from __future__ import annotations

from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class AllowHeader:
    """ASGI middleware: on a 405, `Allow` is the union over the path's routes."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def fixing_send(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] == 405:
                methods = _methods(scope)
                if methods:
                    headers = [(k, v) for k, v in message["headers"] if k.lower() != b"allow"]
                    headers.append((b"allow", ", ".join(sorted(methods)).encode()))
                    message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, fixing_send)


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
