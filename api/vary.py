"""`Vary: Accept-Language` on every answer: alert summaries, problem details
and page titles follow the request's language, so a cache between the API
and its readers must not hand one reader's language to another."""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class VaryLanguage:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                vary = [v.strip() for v in headers.get("vary", "").split(",") if v.strip()]
                if "accept-language" not in {v.lower() for v in vary}:
                    headers["vary"] = ", ".join([*vary, "Accept-Language"])
            await send(message)

        await self.app(scope, receive, send_wrapper)
