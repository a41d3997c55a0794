"""Dependencies every route shares: the connection pool and the settings the
app was built with (both kept on `app.state` by the lifespan), and the
request's reader (its Accept-Language, else the platform's language)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from semon.i18n import Reader, reader_for
from semon.settings import Settings


def get_pool(request: Request) -> AsyncConnectionPool[AsyncConnection]:
    pool: AsyncConnectionPool[AsyncConnection] = request.app.state.pool
    return pool


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


PoolDep = Annotated[AsyncConnectionPool[AsyncConnection], Depends(get_pool)]
SettingsDep = Annotated[Settings, Depends(get_settings)]


def get_reader(request: Request) -> Reader:
    return reader_for(get_settings(request).i18n, request.headers.get("accept-language"))


ReaderDep = Annotated[Reader, Depends(get_reader)]
