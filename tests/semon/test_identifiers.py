"""Identifiers and one-line text are matched whole: Python's `$` also matches
before a trailing newline, so `E1\\n` must not pass for `E1` anywhere an id
is checked (the decoder, broker files, token scopes, every model field)."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import TypeAdapter, ValidationError

from semon.broker_files import BrokerFilesError, device_username
from semon.domain.common import Identifier, Line, is_identifier
from semon.domain.decode import Topic, parse_topic
from semon.domain.registry import District
from semon.domain.wire import EventCode, Gas
from semon.tokens import TokenError, check_grant

TRAILING = ["\n", "\r", "\r\n", "\x00", "\x85"]


@pytest.mark.parametrize("tail", TRAILING)
def test_an_identifier_is_matched_whole(tail: str) -> None:
    assert is_identifier("E1")
    assert not is_identifier("E1" + tail)
    assert not is_identifier(tail + "E1")
    assert parse_topic("se/v1/elevators/E1/status", "se/v1") == Topic("status", "E1")
    assert isinstance(parse_topic(f"se/v1/elevators/E1{tail}/status", "se/v1"), str)
    with pytest.raises(BrokerFilesError):
        device_username("elevator", "E1" + tail)
    with pytest.raises(TokenError):
        check_grant("maintenance", ["F1" + tail])
    with pytest.raises(TokenError):
        check_grant("regulator", ["district" + tail])


@pytest.mark.parametrize(
    ("field_type", "good"),
    [(Identifier, "E1"), (EventCode, "trapped"), (Gas, "lpg"), (District, "Tianhe")],
)
@pytest.mark.parametrize("tail", TRAILING)
def test_model_fields_refuse_a_trailing_control_character(
    field_type: Any, good: str, tail: str
) -> None:
    adapter: TypeAdapter[str] = TypeAdapter(field_type)
    assert adapter.validate_python(good) == good
    with pytest.raises(ValidationError):
        adapter.validate_python(good + tail)


@pytest.mark.parametrize(
    "text", ["\x01\x02", "a\tb", "line\nbreak", "\x1b[31mred", "del\x7f", "c1\x9b", "\ud800"]
)
def test_one_line_text_refuses_control_characters_and_surrogates(text: str) -> None:
    with pytest.raises(ValidationError):
        TypeAdapter(Line).validate_python(text)
    assert TypeAdapter(Line).validate_python("天河区 体育西路 1 号") == "天河区 体育西路 1 号"
