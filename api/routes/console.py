"""The dispatch console's static page (no auth: the page asks for a token and
sends it with every API call it makes)."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse

from semon.i18n import msg

router = APIRouter(include_in_schema=False)

STATIC = Path(__file__).resolve().parents[1] / "static"
FILES = {
    "console.css": "text/css; charset=utf-8",
    "console.js": "text/javascript; charset=utf-8",
}


@router.get("/console")
async def console_page() -> FileResponse:
    return FileResponse(
        STATIC / "console.html",
        media_type="text/html; charset=utf-8",
        headers={"Cache-Control": "no-cache"},
    )


@router.get("/console/{name}")
async def console_asset(name: str) -> FileResponse:
    if name not in FILES:  # a fixed list: no path from the request reaches the disk
        raise HTTPException(404, msg("api.problem.not_found"))
    return FileResponse(
        STATIC / name, media_type=FILES[name], headers={"Cache-Control": "no-cache"}
    )
