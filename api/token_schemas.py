"""What `POST /tokens` takes (one model per kind of grant) and what the
token routes answer."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from api.query_time import QueryTime
from api.schemas import UtcDatetime
from semon.domain.common import Identifier, Line
from semon.domain.registry import District


class _TokenRequest(BaseModel):
    label: Line | None = None
    # The same RFC 3339 rule as times in query strings (api.query_time).
    expires_at: QueryTime | None = Field(
        default=None,
        description="When the token stops working (RFC 3339 with an offset, in the"
        " future); null: never. An expired token answers 401 like a revoked one.",
        examples=["2027-01-01T00:00:00+08:00"],
    )
    allow_unknown_scope: bool = Field(
        default=False,
        strict=True,  # true or false, not 0 or "yes"
        description="Issue the token even when its scope names no firm, station or"
        " district in the registry (otherwise 422).",
    )


# One model per kind of grant, told apart by `role`, so the document says what
# each role's scope is (semon.tokens.check_grant applies the same rules).
class AdminTokenRequest(_TokenRequest):
    """Everything; no scope."""

    role: Literal["admin"]
    scope: Annotated[list[Identifier], Field(max_length=0)] = []


class SingleScopeTokenRequest(_TokenRequest):
    """One firm (`maintenance`) or one filling station (`station`)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"role": "maintenance", "scope": ["F-001"], "label": "Pearl Lifts console"}
            ]
        }
    )
    role: Literal["maintenance", "station"]
    scope: Annotated[list[Identifier], Field(min_length=1, max_length=1)]


class UseUnitTokenRequest(_TokenRequest):
    """One use unit (`use_unit`), named as the registry writes it."""

    role: Literal["use_unit"]
    scope: Annotated[list[Annotated[Line, Field(min_length=1)]], Field(min_length=1, max_length=1)]


class DistrictTokenRequest(_TokenRequest):
    """A set of districts (`dispatcher`, `regulator`); none: all of them."""

    role: Literal["dispatcher", "regulator"]
    scope: Annotated[list[District], Field(max_length=1000)] = []


TokenRequest = Annotated[
    AdminTokenRequest | SingleScopeTokenRequest | UseUnitTokenRequest | DistrictTokenRequest,
    Field(discriminator="role"),
]


class TokenIssued(BaseModel):
    token_id: str
    secret: str = Field(description="Shown once: send as `Authorization: Bearer <secret>`.")
    role: str
    scope: list[str]
    label: str | None = None
    expires_at: UtcDatetime | None = None


class TokenInfo(BaseModel):
    token_id: str
    role: str
    scope: list[str]
    label: str | None = None
    created_at: UtcDatetime
    revoked_at: UtcDatetime | None = None
    expires_at: UtcDatetime | None = None
