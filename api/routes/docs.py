"""API docs that work without the internet: `/docs` (Swagger UI) and
`/redoc` (ReDoc) load their scripts and styles from `/docs/assets/`, served
from the files the fastapi-offline package ships (Swagger UI's and ReDoc's
own dist files), never from a CDN. The pages' titles follow Accept-Language;
Swagger UI and ReDoc themselves have English controls."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Any, Final

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


@dataclass(frozen=True)
class DocsPage:
    """One docs page: FastAPI's maker, its title in a reader's language (given
    the app's title), the maker's asset options with the file each names
    (served here), its other options."""

    make: Callable[..., HTMLResponse]
    title: Callable[[Reader, str], str]
    assets: dict[str, str]
    options: dict[str, Any]

    def page(self, request: Request) -> HTMLResponse:
        """The page for a request: its root path, its reader's language."""
        root = request.scope.get("root_path", "")
        page = self.make(
            openapi_url=f"{root}{request.app.openapi_url}",
            title=self.title(_reader(request), request.app.title),
            **{option: f"{root}{PREFIX}/{name}" for option, name in self.assets.items()},
            **self.options,
        )
        page.headers["Content-Security-Policy"] = CSP
        return page


SWAGGER_UI: Final = DocsPage(
    make=get_swagger_ui_html,
    title=lambda say, app_title: say.t("api.docs.swagger_title", title=app_title),
    assets={
        "swagger_js_url": "swagger-ui-bundle.js",
        "swagger_css_url": "swagger-ui.css",
        "swagger_favicon_url": "favicon.png",
    },
    # No online validator badge: it would call validator.swagger.io.
    options={
        "oauth2_redirect_url": None,
        "swagger_ui_parameters": {"validatorUrl": None, "persistAuthorization": False},
    },
)
REDOC: Final = DocsPage(
    make=get_redoc_html,
    title=lambda say, app_title: say.t("api.docs.redoc_title", title=app_title),
    assets={"redoc_js_url": "redoc.standalone.js", "redoc_favicon_url": "favicon.png"},
    options={"with_google_fonts": False},
)


@router.get("/docs")
async def swagger_ui(request: Request) -> HTMLResponse:
    return SWAGGER_UI.page(request)


@router.get("/redoc")
async def redoc(request: Request) -> HTMLResponse:
    return REDOC.page(request)


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
