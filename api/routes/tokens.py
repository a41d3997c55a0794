"""Token issue and revocation (admin)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path
from fastapi.responses import Response

from api.auth import Principal, require_roles
from api.deps import PoolDep, ReaderDep
from api.schemas import Problem
from api.token_schemas import TokenInfo, TokenIssued, TokenRequest
from semon.i18n import msg
from semon.tokens import TokenError, UnknownScope, create_token, list_tokens, revoke_token

router = APIRouter(prefix="/tokens", tags=["access"])
Admin = Annotated[Principal, require_roles("admin")]
TokenId = Annotated[str, Path(pattern=r"^[A-Za-z0-9_]{1,64}$", examples=["tok_1a2b3c4d5e6f7a8b"])]


@router.post(
    "",
    response_model=TokenIssued,
    status_code=201,
    summary="Issue a token; the secret is in this answer only",
)
async def issue_token(
    body: TokenRequest, pool: PoolDep, admin: Admin, speaker: ReaderDep
) -> TokenIssued:
    async with pool.connection() as conn:
        try:
            token_id, secret = await create_token(
                conn,
                body.role,
                body.scope,
                body.label,
                allow_unknown_scope=body.allow_unknown_scope,
                expires_at=body.expires_at,
            )
        except UnknownScope as exc:
            reason = speaker.render(exc.message)
            raise HTTPException(422, msg("api.problem.scope_unknown", reason=reason)) from None
        except TokenError as exc:
            raise HTTPException(422, exc.message) from None
    return TokenIssued(
        token_id=token_id,
        secret=secret,
        role=body.role,
        scope=body.scope,
        label=body.label,
        expires_at=body.expires_at,
    )


@router.get("", response_model=list[TokenInfo], summary="Every token (never the secrets)")
async def get_tokens(pool: PoolDep, admin: Admin) -> list[TokenInfo]:
    async with pool.connection() as conn:
        rows = await list_tokens(conn)
    keys = ("token_id", "role", "scope", "label", "created_at", "revoked_at", "expires_at")
    return [TokenInfo.model_validate(dict(zip(keys, row, strict=True))) for row in rows]


@router.delete(
    "/{token_id}",
    status_code=204,
    response_class=Response,
    responses={404: {"model": Problem, "description": "No live token with this id"}},
    summary="Revoke a token",
)
async def delete_token(token_id: TokenId, pool: PoolDep, admin: Admin) -> Response:
    async with pool.connection() as conn:
        if not await revoke_token(conn, token_id):
            raise HTTPException(404, msg("api.problem.token_not_found"))
    return Response(status_code=204)
