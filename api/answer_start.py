"""The base of a pure ASGI middleware that sees the start of each HTTP answer
(its status and headers) and may change it, the body untouched: streamed
answers (the alert stream) stream on, as they would not under Starlette's
`BaseHTTPMiddleware`."""

from __future__ import annotations

from collections.abc import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

StartHook = Callable[[Message], Message]


class AnswerStartMiddleware:
    """Subclasses say what to do with an answer's `http.response.start`
    message: `at_start` for a change that needs only the request, or
    `for_request` where one request's hook keeps state of its own."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        hook = self.for_request(scope)

        async def hooked_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = hook(message)
            await send(message)

        await self.app(scope, receive, hooked_send)

    def for_request(self, scope: Scope) -> StartHook:
        """Called as the request comes in: what its answer's start goes through."""
        return lambda message: self.at_start(scope, message)

    def at_start(self, scope: Scope, message: Message) -> Message:
        """The start message as it is sent (``message`` itself, or a changed copy)."""
        return message
