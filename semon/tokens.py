"""API tokens: issued, looked up and revoked; only a SHA-256 of each secret is kept.

The secret is shown once, at creation. A leaked database therefore yields no
usable token, and a lookup is one indexed equality on the hash.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, get_args

from psycopg import AsyncConnection

from semon.domain.common import clean_line, is_identifier
from semon.i18n import Message, msg, reader

Role = Literal["admin", "dispatcher", "maintenance", "regulator", "station", "use_unit"]
ROLES: tuple[Role, ...] = get_args(Role)

# Roles whose scope is exactly one object (a firm, a station, a use unit); the
# others take a set of districts, empty meaning all.
SINGLE_SCOPE: frozenset[str] = frozenset({"maintenance", "station", "use_unit"})
# Single-scope roles whose object is named by registry text, not an identifier
# (a use unit is the owner's name as the registry writes it).
_TEXT_SCOPE: frozenset[str] = frozenset({"use_unit"})


class TokenError(ValueError):
    """A token request that cannot be honoured (bad role or scope). `message`
    is the catalog message (shown in the reader's language by the API and
    the CLI); str() is the English text, for logs."""

    def __init__(self, message: Message) -> None:
        self.message = message
        super().__init__(reader("en").render(message))


class UnknownScope(TokenError):
    """The scope names no firm, station or district the registry knows."""

    def __init__(self, what: str, missing: list[str]) -> None:
        self.missing = missing
        names = ", ".join(repr(m) for m in missing[:5]) + (" …" if len(missing) > 5 else "")
        if what == "firm":
            message = msg("token.scope_unknown.firm", names=names)
        elif what == "station":
            message = msg("token.scope_unknown.station", names=names)
        elif what == "use unit":
            message = msg("token.scope_unknown.use_unit", names=names)
        else:
            message = msg("token.scope_unknown.district", names=names)
        super().__init__(message)


@dataclass(frozen=True)
class TokenRecord:
    token_id: str
    role: Role
    scope: tuple[str, ...]
    label: str | None
    expires_at: datetime | None = None


def hash_secret(secret: str) -> bytes:
    return hashlib.sha256(secret.encode("utf-8")).digest()


def check_grant(role: str, scope: list[str]) -> Role:
    """The role, if this role/scope pair makes sense; TokenError otherwise."""
    if role not in ROLES:
        raise TokenError(msg("token.role_unknown", role=repr(role), roles=", ".join(ROLES)))
    if role == "admin" and scope:
        raise TokenError(msg("token.admin_scope"))
    if role in SINGLE_SCOPE and len(scope) != 1:
        raise TokenError(msg("token.single_scope", role=role))
    for item in scope:
        _check_scope_item(role, item)
    return role


def _check_scope_item(role: str, item: str) -> None:
    # A firm or station id is an identifier, matched whole; a district is a
    # registry text field (registry.District), so the same rules hold.
    if role in SINGLE_SCOPE and role not in _TEXT_SCOPE:
        if not is_identifier(item):
            raise TokenError(msg("token.scope_not_id", item=repr(item), role=role))
        return
    try:
        clean_line(item)
    except ValueError as exc:
        raise TokenError(msg("token.scope_bad_text", item=repr(item), error=str(exc))) from None
    if role in _TEXT_SCOPE:
        if not 1 <= len(item) <= 200:
            raise TokenError(msg("token.scope_not_use_unit", item=repr(item)))
        return
    if not 1 <= len(item) <= 64:
        raise TokenError(msg("token.scope_not_district", item=repr(item)))


# What a scope item of each role must name. A firm or a station counts as
# known when a registry row names it (an elevator's firm_id, a cylinder's
# owner) even before its own record is loaded, as the scoped queries see it.
_KNOWN: dict[str, tuple[str, str]] = {
    "maintenance": (
        "firm",
        "EXISTS (SELECT 1 FROM firms WHERE firm_id = s)"
        " OR EXISTS (SELECT 1 FROM elevators WHERE firm_id = s)",
    ),
    "station": (
        "station",
        "EXISTS (SELECT 1 FROM stations WHERE station_id = s)"
        " OR EXISTS (SELECT 1 FROM cylinders WHERE owner_station_id = s)",
    ),
    "dispatcher": (
        "district",
        "EXISTS (SELECT 1 FROM elevators WHERE district = s)"
        " OR EXISTS (SELECT 1 FROM stations WHERE district = s)",
    ),
}
_KNOWN["regulator"] = _KNOWN["dispatcher"]
_KNOWN["use_unit"] = ("use unit", "EXISTS (SELECT 1 FROM elevators WHERE use_unit = s)")


async def unknown_scope(conn: AsyncConnection, role: str, scope: list[str]) -> list[str]:
    """The scope items that name nothing in the registry, in the order given."""
    if role not in _KNOWN or not scope:
        return []
    cur = await conn.execute(
        f"SELECT s FROM unnest(%s::text[]) WITH ORDINALITY AS u(s, n)"
        f" WHERE NOT ({_KNOWN[role][1]}) ORDER BY n",
        (scope,),
    )
    return [row[0] for row in await cur.fetchall()]


async def check_scope_known(conn: AsyncConnection, role: str, scope: list[str]) -> None:
    """UnknownScope when an item names nothing in the registry.

    A typo in a scope would otherwise issue a token that sees nothing and
    says nothing: every scoped route answers an empty list or 404, exactly
    as for a firm with no elevators. Issuing one on purpose (a firm before
    its registry is loaded, a token that may only read /metrics) takes
    ``allow_unknown_scope``."""
    missing = await unknown_scope(conn, role, scope)
    if missing:
        raise UnknownScope(_KNOWN[role][0], missing)


_INSERT = """
INSERT INTO api_tokens (token_id, token_hash, role, scope, label, expires_at)
VALUES (%s, %s, %s, %s, %s, %s)
"""


async def create_token(
    conn: AsyncConnection,
    role: str,
    scope: list[str],
    label: str | None,
    *,
    allow_unknown_scope: bool = False,
    expires_at: datetime | None = None,
) -> tuple[str, str]:
    """Store a new token; returns (token_id, secret). The caller commits.

    TokenError for a grant that makes no sense or an expiry not in the
    future, UnknownScope for a scope that names nothing in the registry
    unless ``allow_unknown_scope``. ``expires_at`` None: never expires."""
    checked = check_grant(role, scope)
    if label is not None:
        # One line a person reads in the token list (the API's TokenRequest
        # checks the same; the CLI comes here directly).
        try:
            clean_line(label)
        except ValueError as exc:
            raise TokenError(msg("token.label_bad_text", error=str(exc))) from None
        if len(label) > 200:
            raise TokenError(msg("token.label_too_long"))
    if expires_at is not None:
        if expires_at.tzinfo is None:
            raise TokenError(msg("token.expiry_naive"))
        cur = await conn.execute("SELECT %s::timestamptz > now()", (expires_at,))
        row = await cur.fetchone()
        if not (row and row[0]):
            raise TokenError(msg("token.expiry_past"))
    if not allow_unknown_scope:
        await check_scope_known(conn, checked, scope)
    token_id = "tok_" + secrets.token_hex(8)
    secret = "semon_" + secrets.token_urlsafe(32)
    await conn.execute(_INSERT, (token_id, hash_secret(secret), checked, scope, label, expires_at))
    return token_id, secret


_ENSURE = """
INSERT INTO api_tokens (token_id, token_hash, role, scope, label)
VALUES (%s, %s, 'admin', '{}', 'bootstrap admin')
ON CONFLICT (token_hash) DO UPDATE SET revoked_at = NULL, role = 'admin', scope = '{}'
RETURNING token_id
"""


async def ensure_admin_token(conn: AsyncConnection, secret: str) -> str:
    """Make sure `secret` is a live admin token (the bootstrap setting)."""
    digest = hash_secret(secret)
    token_id = "tok_boot_" + digest[:6].hex()
    cur = await conn.execute(_ENSURE, (token_id, digest))
    row = await cur.fetchone()
    assert row is not None
    return str(row[0])


# An expired token is refused like a revoked one (401), on the database's clock.
_LOOKUP = """
SELECT token_id, role, scope, label, expires_at FROM api_tokens
WHERE token_hash = %s AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now())
"""


async def lookup_token(conn: AsyncConnection, secret: str) -> TokenRecord | None:
    cur = await conn.execute(_LOOKUP, (hash_secret(secret),))
    row = await cur.fetchone()
    if row is None:
        return None
    return TokenRecord(
        token_id=row[0], role=row[1], scope=tuple(row[2]), label=row[3], expires_at=row[4]
    )


_REVOKE = """
UPDATE api_tokens SET revoked_at = now() WHERE token_id = %s AND revoked_at IS NULL
"""


async def revoke_token(conn: AsyncConnection, token_id: str) -> bool:
    """True when a live token was revoked now."""
    cur = await conn.execute(_REVOKE, (token_id,))
    return cur.rowcount == 1


_LIST = """
SELECT token_id, role, scope, label, created_at, revoked_at, expires_at FROM api_tokens
ORDER BY created_at, token_id
"""


async def list_tokens(conn: AsyncConnection) -> list[tuple[object, ...]]:
    cur = await conn.execute(_LIST)
    return list(await cur.fetchall())
