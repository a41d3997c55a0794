"""Who is calling: the bearer token looked up against `api_tokens` (hashed
secrets) on every request, the principal it stands for, and the role check.

``CurrentPrincipal`` answers 401 without a live token; ``require_roles``
answers 403 for a role not in its list. What a principal may *see* is the
scope's business (api/scope.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, HTTPException
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from api.deps import PoolDep
from semon.i18n import msg
from semon.tokens import Role, lookup_token

# A secret longer than this is not one we issued; refuse before hashing.
MAX_SECRET = 256


@dataclass(frozen=True)
class Principal:
    token_id: str
    role: Role
    scope: tuple[str, ...]  # empty = all (admin, or an unrestricted dispatcher/regulator)


async def authenticate(pool: AsyncConnectionPool[AsyncConnection], secret: str) -> Principal | None:
    if len(secret) > MAX_SECRET:
        return None
    async with pool.connection() as conn:
        record = await lookup_token(conn, secret)
    if record is None:
        return None
    return Principal(token_id=record.token_id, role=record.role, scope=record.scope)


_bearer = HTTPBearer(auto_error=False, description="`Authorization: Bearer <token secret>`")


async def current_principal(
    pool: PoolDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """401 without a live token. The token is looked up on every request, so a
    revocation takes effect at once."""
    if credentials is None or not credentials.credentials:
        raise HTTPException(
            401, msg("api.problem.token_missing"), headers={"WWW-Authenticate": "Bearer"}
        )
    principal = await authenticate(pool, credentials.credentials)
    if principal is None:
        raise HTTPException(
            401, msg("api.problem.token_invalid"), headers={"WWW-Authenticate": "Bearer"}
        )
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
            raise HTTPException(403, msg("api.problem.role_forbidden", role=principal.role))
        return principal

    return Depends(check)
