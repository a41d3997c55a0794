"""Prometheus metrics of this process (any valid token)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from api.auth import CurrentPrincipal

router = APIRouter(tags=["operations"])


@router.get(
    "/metrics",
    response_class=Response,
    responses={
        200: {
            "content": {"text/plain": {"example": "semon_api_requests_total 1.0\n"}},
            "description": "Prometheus text format",
        }
    },
    summary="Prometheus metrics (any valid token)",
)
async def metrics(principal: CurrentPrincipal) -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
