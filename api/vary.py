"""`Vary: Accept-Language` on every answer: alert summaries, problem details
and page titles follow the request's language, so a cache between the API
and its readers must not hand one reader's language to another."""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import Message, Scope

from api.answer_start import AnswerStartMiddleware


class VaryLanguage(AnswerStartMiddleware):
    def at_start(self, scope: Scope, message: Message) -> Message:
        headers = MutableHeaders(scope=message)
        vary = [v.strip() for v in headers.get("vary", "").split(",") if v.strip()]
        if "accept-language" not in {v.lower() for v in vary}:
            headers["vary"] = ", ".join([*vary, "Accept-Language"])
        return message
