"""The caller's reader as a dependency: catalog texts (semon/i18n) in the
language of the request's Accept-Language, the platform's where it has none."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from api.deps import SettingsDep
from semon.i18n import Reader, reader_for


async def speaker(request: Request, settings: SettingsDep) -> Reader:
    return reader_for(settings.i18n, request.headers.get("accept-language"))


SpeakerDep = Annotated[Reader, Depends(speaker)]
