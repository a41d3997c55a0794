"""Bearer-token authentication against `api_tokens` (hashed secrets)."""

from __future__ import annotations

from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from api.deps import Principal
from semon.tokens import lookup_token

# A secret longer than this is not one we issued; refuse before hashing.
_MAX_SECRET = 256


async def authenticate(pool: AsyncConnectionPool[AsyncConnection], secret: str) -> Principal | None:
    if len(secret) > _MAX_SECRET:
        return None
    async with pool.connection() as conn:
        record = await lookup_token(conn, secret)
    if record is None:
        return None
    return Principal(token_id=record.token_id, role=record.role, scope=record.scope)
