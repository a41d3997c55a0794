"""Paging: the page size and cursor query parameters (`PageDep` reads both),
cutting a page from the rows read, and opaque page cursors (base64url of a
(timestamp, id) pair)."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Query

from api.deps import SettingsDep
from semon.i18n import msg
from semon.settings import Settings

# What a cursor is made of (unpadded base64url); anything else is not one of ours.
CURSOR_PATTERN = r"^[A-Za-z0-9_-]+$"

# `?limit=` and `?cursor=` of a paged list: `limit: PageLimit = None`.
PageLimit = Annotated[int | None, Query(ge=1, description="Page size (capped by the server)")]
PageCursor = Annotated[
    str | None, Query(max_length=400, pattern=CURSOR_PATTERN, description="From `next_cursor`")
]


def page_size(settings: Settings, limit: int | None) -> int:
    """The asked page size, else the default, at most the server's cap."""
    return min(limit or settings.api.page_size_default, settings.api.page_size_max)


def encode_cursor(ts: datetime, ident: str) -> str:
    raw = json.dumps([ts.isoformat(), ident], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> tuple[datetime, str] | None:
    """The pair, or 422 for a cursor this API did not hand out."""
    if cursor is None:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        ts_text, ident = json.loads(raw)
        ts = datetime.fromisoformat(ts_text)
        if ts.tzinfo is None or not isinstance(ident, str):
            raise ValueError("bad cursor")
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        raise HTTPException(422, msg("api.problem.cursor_invalid")) from None
    return ts, ident


Row = dict[str, Any]


@dataclass(frozen=True)
class PageRequest:
    """One page asked for: at most ``size`` rows, those after the cursor's
    pair (`after`). Read ``size + 1`` rows, then `cut`."""

    size: int
    cursor: str | None

    @classmethod
    def of(cls, settings: Settings, limit: int | None, cursor: str | None) -> PageRequest:
        return cls(page_size(settings, limit), cursor)

    @property
    def after(self) -> tuple[datetime, str] | None:
        """The cursor's pair (None: from the start); 422 for a cursor this API
        did not hand out, when first asked (a route may answer 404 before)."""
        return decode_cursor(self.cursor)

    def cut(
        self, rows: list[Row], key: Callable[[Row], tuple[datetime, str]]
    ) -> tuple[list[Row], str | None]:
        """The page's rows and the cursor after them (``key``: a row's pair,
        in the order the rows were read); None on the last page."""
        if len(rows) <= self.size:
            return rows, None
        rows = rows[: self.size]
        return rows, encode_cursor(*key(rows[-1]))


async def page_request(
    settings: SettingsDep, limit: PageLimit = None, cursor: PageCursor = None
) -> PageRequest:
    return PageRequest.of(settings, limit, cursor)


# A paged list's `?limit=` and `?cursor=`, read: ``page: PageDep``.
PageDep = Annotated[PageRequest, Depends(page_request)]
