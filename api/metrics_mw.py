"""Request counts and durations by route template (never by raw path, which
would carry device ids into label values)."""

from __future__ import annotations

import time

from prometheus_client import Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

REQUESTS = Counter(
    "semon_api_requests_total", "HTTP requests answered", ["method", "route", "status"]
)
DURATION = Histogram(
    "semon_api_request_seconds", "Time to the response headers", ["method", "route"]
)


class RequestMetrics:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                route = scope.get("route")
                path = getattr(route, "path", "unmatched")
                DURATION.labels(scope["method"], path).observe(time.perf_counter() - start)
                REQUESTS.labels(scope["method"], path, str(status)).inc()
            await send(message)

        await self.app(scope, receive, send_wrapper)
