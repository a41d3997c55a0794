"""The console's language pack: `GET /console/i18n/{language}.json` with the
`console.*` texts and the contract's vocabularies from the platform's
catalogs (semon/i18n), and the time zone times are shown in. `auto` picks
the language from Accept-Language and the platform's default. No auth: these
are the page's own words, like the page."""

from __future__ import annotations

from typing import Final

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse

from semon.i18n import LANGUAGES, VOCABULARIES, Language, catalogs, msg, negotiate
from semon.settings import Settings

router = APIRouter(include_in_schema=False)

PREFIXES: Final = ("console.", *(f"{group}." for group in VOCABULARIES))


@router.get("/console/i18n/{language}.json")
async def console_language(language: str, request: Request) -> JSONResponse:
    settings: Settings = request.app.state.settings
    accept = request.headers.get("accept-language")
    chosen: Language
    if language == "auto":
        chosen = negotiate(accept, settings.i18n.language)
    elif language in LANGUAGES:
        chosen = "zh-CN" if language == "zh-CN" else "en"
    else:
        raise HTTPException(
            404,
            msg("api.problem.unknown_language", language=language, known=", ".join(LANGUAGES)),
        )
    return JSONResponse(
        {
            "language": chosen,
            "timezone": settings.i18n.timezone,
            "messages": catalogs().texts(chosen, PREFIXES),
        },
        headers={"Cache-Control": "no-cache", "Vary": "Accept-Language"},
    )
