"""API docs that work without the internet: `/docs` (Swagger UI) and
`/redoc` (ReDoc) load their scripts and styles from `/docs/assets/`, served
from the files the fastapi-offline package ships (Swagger UI's and ReDoc's
own dist files), never from a CDN. The pages' titles follow Accept-Language;
Swagger UI and ReDoc themselves have English controls."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path
from typing import Final

from fastapi import APIRouter, HTTPException, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse

from semon.i18n import Reader, msg, reader_for
from semon.settings import Settings

router = APIRouter(include_in_schema=False)

ASSETS_DIR: Final = Path(str(files("fastapi_offline").joinpath("static")))
ASSETS: Final = {
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
    "redoc.standalone.js": "text/javascript; charset=utf-8",
    "favicon.png": "image/png",
}
PREFIX: Final = "/docs/assets"
# The pages may load nothing from elsewhere: ReDoc's sidebar shows Redocly's
# logo from their CDN, which the browser now never asks for. Inline scripts
# and styles are the pages' own (FastAPI's launcher, styled components).
CSP: Final = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; "
    "style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; "
    "worker-src 'self' blob:; connect-src 'self'"
)


def _reader(request: Request) -> Reader:
    settings: Settings = request.app.state.settings
    return reader_for(settings.i18n, request.headers.get("accept-language"))


def _openapi_url(request: Request) -> str:
    return f"{request.scope.get('root_path', '')}{request.app.openapi_url}"


@router.get("/docs")
async def swagger_ui(request: Request) -> HTMLResponse:
    root = request.scope.get("root_path", "")
    page = get_swagger_ui_html(
        openapi_url=_openapi_url(request),
        title=_reader(request).t("api.docs.swagger_title", title=request.app.title),
        swagger_js_url=f"{root}{PREFIX}/swagger-ui-bundle.js",
        swagger_css_url=f"{root}{PREFIX}/swagger-ui.css",
        swagger_favicon_url=f"{root}{PREFIX}/favicon.png",
        oauth2_redirect_url=None,
        # No online validator badge: it would call validator.swagger.io.
        swagger_ui_parameters={"validatorUrl": None, "persistAuthorization": False},
    )
    page.headers["Content-Security-Policy"] = CSP
    return page


@router.get("/redoc")
async def redoc(request: Request) -> HTMLResponse:
    root = request.scope.get("root_path", "")
    page = get_redoc_html(
        openapi_url=_openapi_url(request),
        title=_reader(request).t("api.docs.redoc_title", title=request.app.title),
        redoc_js_url=f"{root}{PREFIX}/redoc.standalone.js",
        redoc_favicon_url=f"{root}{PREFIX}/favicon.png",
        with_google_fonts=False,
    )
    page.headers["Content-Security-Policy"] = CSP
    return page


@router.get(PREFIX + "/{name}")
async def docs_asset(name: str) -> FileResponse:
    if name not in ASSETS:  # a fixed list: no path from the request reaches the disk
        raise HTTPException(404, msg("api.problem.not_found"))
    # The files change only with the installed package: let browsers keep them a day.
    return FileResponse(
        ASSETS_DIR / name,
        media_type=ASSETS[name],
        headers={"Cache-Control": "public, max-age=86400"},
    )
