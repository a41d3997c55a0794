"""Dependencies every route shares: the pool, the settings, the principal, and
the scope predicates that put role and scope into each query's WHERE clause.

Scope predicates use *named* placeholders (``%(scope_…)s``): a query that
includes one passes its own parameters by name too and merges the dict.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from psycopg import AsyncConnection, sql
from psycopg_pool import AsyncConnectionPool

from semon.settings import Settings
from semon.tokens import Role

Params = dict[str, Any]


@dataclass(frozen=True)
class Principal:
    token_id: str
    role: Role
    scope: tuple[str, ...]  # empty = all (admin, or an unrestricted dispatcher/regulator)


def get_pool(request: Request) -> AsyncConnectionPool[AsyncConnection]:
    pool: AsyncConnectionPool[AsyncConnection] = request.app.state.pool
    return pool


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


PoolDep = Annotated[AsyncConnectionPool[AsyncConnection], Depends(get_pool)]
SettingsDep = Annotated[Settings, Depends(get_settings)]

_bearer = HTTPBearer(auto_error=False, description="`Authorization: Bearer <token secret>`")


async def current_principal(
    pool: PoolDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """401 without a live token. The token is looked up on every request, so a
    revocation takes effect at once."""
    from api.auth import authenticate

    if credentials is None or not credentials.credentials:
        raise HTTPException(401, "missing bearer token", headers={"WWW-Authenticate": "Bearer"})
    principal = await authenticate(pool, credentials.credentials)
    if principal is None:
        raise HTTPException(401, "invalid or revoked token", headers={"WWW-Authenticate": "Bearer"})
    return principal


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


def require_roles(*roles: Role) -> Any:
    """`Depends` that yields the principal, 403 for a role not in `roles`.

    Use as ``p: Annotated[Principal, require_roles("admin")]`` or in a
    route's ``dependencies=[...]``.
    """
    allowed = frozenset(roles)

    async def check(principal: CurrentPrincipal) -> Principal:
        if principal.role not in allowed:
            raise HTTPException(403, f"role {principal.role!r} may not use this route")
        return principal

    return Depends(check)


def _col(alias: str, column: str) -> sql.Composable:
    return sql.Identifier(alias, column) if alias else sql.Identifier(column)


_TRUE = sql.SQL("TRUE")
_FALSE = sql.SQL("FALSE")


def _in_districts(alias: str, column: str, districts: list[str]) -> tuple[sql.Composable, Params]:
    return sql.SQL("{} = ANY(%(scope_districts)s)").format(_col(alias, column)), {
        "scope_districts": districts
    }


def _equals(alias: str, column: str, param: str, value: str) -> tuple[sql.Composable, Params]:
    return sql.SQL("{} = %({})s").format(_col(alias, column), sql.SQL(param)), {param: value}


def elevator_scope_sql(principal: Principal, alias: str = "e") -> tuple[sql.Composable, Params]:
    """Predicate on an `elevators` row: dispatcher/regulator by district,
    maintenance by firm, station none, admin all."""
    role, scope = principal.role, list(principal.scope)
    if role == "admin":
        return _TRUE, {}
    if role in ("dispatcher", "regulator"):
        if not scope:
            return _TRUE, {}
        return _in_districts(alias, "district", scope)
    if role == "maintenance":
        return _equals(alias, "firm_id", "scope_firm", scope[0])
    return _FALSE, {}


def cylinder_scope_sql(principal: Principal, alias: str = "c") -> tuple[sql.Composable, Params]:
    """Predicate on a `cylinders` row: station by owner, dispatcher/regulator by
    the owner station's district, maintenance none, admin all."""
    role, scope = principal.role, list(principal.scope)
    if role == "admin":
        return _TRUE, {}
    if role == "station":
        return _equals(alias, "owner_station_id", "scope_station", scope[0])
    if role in ("dispatcher", "regulator"):
        if not scope:
            return _TRUE, {}
        return sql.SQL(
            "EXISTS (SELECT 1 FROM stations scope_s WHERE scope_s.station_id = {}"
            " AND scope_s.district = ANY(%(scope_districts)s))"
        ).format(_col(alias, "owner_station_id")), {"scope_districts": scope}
    return _FALSE, {}


def station_scope_sql(principal: Principal, alias: str = "s") -> tuple[sql.Composable, Params]:
    """Predicate on a `stations` row."""
    role, scope = principal.role, list(principal.scope)
    if role == "admin":
        return _TRUE, {}
    if role == "station":
        return _equals(alias, "station_id", "scope_station", scope[0])
    if role in ("dispatcher", "regulator"):
        if not scope:
            return _TRUE, {}
        return _in_districts(alias, "district", scope)
    return _FALSE, {}


def alert_scope_sql(principal: Principal, alias: str = "a") -> tuple[sql.Composable, Params]:
    """Predicate on an `alerts` row, read from its own scope columns."""
    role, scope = principal.role, list(principal.scope)
    if role == "admin":
        return _TRUE, {}
    if role in ("dispatcher", "regulator"):
        if not scope:
            return _TRUE, {}
        return _in_districts(alias, "district", scope)
    if role == "maintenance":
        return _equals(alias, "firm_id", "scope_firm", scope[0])
    # A station sees alerts filed under it and every alert about a cylinder it owns.
    return sql.SQL(
        "({sid} = %(scope_station)s OR ({etype} = 'cylinder' AND EXISTS (SELECT 1 FROM cylinders"
        " scope_c WHERE scope_c.cylinder_id = {eid} AND scope_c.owner_station_id"
        " = %(scope_station)s)))"
    ).format(
        sid=_col(alias, "station_id"),
        etype=_col(alias, "equipment_type"),
        eid=_col(alias, "equipment_id"),
    ), {"scope_station": scope[0]}
