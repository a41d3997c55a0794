"""Pydantic's validation errors in the reader's language (semon/i18n/validation.py):
by error type, the error's ctx as placeholders; pydantic's own text where
the type is not in the catalogs or the error lacks the context its text needs."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel, Field, ValidationError

from semon.i18n import VALIDATION, catalogs, reader, validation_message


class Record(BaseModel):
    floors: int = Field(ge=1, le=200)
    name: str = Field(max_length=4)


def errors(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    with pytest.raises(ValidationError) as caught:
        Record.model_validate(data)
    return {str(e["loc"][0]): dict(e) for e in caught.value.errors()}


def test_by_type_with_its_context() -> None:
    found = errors({"floors": 0, "name": "too long"})
    zh, en = reader("zh-CN"), reader("en")
    assert validation_message(zh, found["floors"]) == "应大于或等于 1"
    assert validation_message(en, found["floors"]) == "Input should be greater than or equal to 1"
    assert validation_message(zh, found["name"]) == "至多应有 4 个字符"
    missing = errors({})
    assert validation_message(zh, missing["floors"]) == "缺少此字段"


def test_pydantic_text_where_the_catalog_cannot_say_it() -> None:
    zh = reader("zh-CN")
    unknown = {"type": "url_scheme", "msg": "URL scheme should be 'http'", "ctx": {}}
    assert validation_message(zh, unknown) == "URL scheme should be 'http'"
    # a value_error raised by hand, without the `error` its text needs
    bare = {"type": "value_error", "msg": "NUL", "loc": ("query", "q")}
    assert validation_message(zh, bare) == "NUL"


def test_every_type_has_both_texts() -> None:
    for kind, message in VALIDATION.items():
        assert catalogs().entry("zh-CN", message.key), kind
        assert catalogs().entry("en", message.key), kind
