"""The console's ES modules (`GET /console/js/{name}`): plain files from
api/static/js, no build step, nothing from a CDN. No auth, like the page."""

from __future__ import annotations

from pathlib import Path
from typing import Final

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse

from semon.i18n import msg

router = APIRouter(include_in_schema=False)

MODULES_DIR: Final = Path(__file__).resolve().parents[1] / "static" / "js"
# A fixed list read at start: no path from the request reaches the disk.
MODULES: Final = frozenset(p.name for p in MODULES_DIR.glob("*.js"))


@router.get("/console/js/{name}")
async def console_module(name: str) -> FileResponse:
    if name not in MODULES:
        raise HTTPException(404, msg("api.problem.not_found"))
    return FileResponse(
        MODULES_DIR / name,
        media_type="text/javascript; charset=utf-8",
        headers={"Cache-Control": "no-cache"},
    )
