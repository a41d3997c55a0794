"""Request counts and durations by route template (never by raw path, which
would carry device ids into label values)."""

from __future__ import annotations

import time

from prometheus_client import Counter, Histogram
from starlette.types import Message, Scope

from api.answer_start import AnswerStartMiddleware, StartHook
from semon.loop_lag import BUCKETS as LOOP_LAG_BUCKETS
from semon.loop_lag import HELP as LOOP_LAG_HELP

REQUESTS = Counter(
    "semon_api_requests_total", "HTTP requests answered", ["method", "route", "status"]
)
DURATION = Histogram(
    "semon_api_request_seconds", "Time to the response headers", ["method", "route"]
)
LOOP_LAG = Histogram("semon_api_event_loop_lag_seconds", LOOP_LAG_HELP, buckets=LOOP_LAG_BUCKETS)


class RequestMetrics(AnswerStartMiddleware):
    def for_request(self, scope: Scope) -> StartHook:
        start = time.perf_counter()

        def count(message: Message) -> Message:
            route = getattr(scope.get("route"), "path", "unmatched")
            DURATION.labels(scope["method"], route).observe(time.perf_counter() - start)
            REQUESTS.labels(scope["method"], route, str(int(message["status"]))).inc()
            return message

        return count
