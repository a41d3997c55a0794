"""semon.i18n: choosing the language, filling stored arguments safely, times
in the platform's zone in each language's own format, and the settings."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from pydantic import ValidationError

from semon.i18n import Message, msg, negotiate, reader, reader_for, render
from semon.settings import I18nSettings, Settings

# 00:05:03 UTC is 08:05:03 in Shanghai and still the 21st; 16:30 UTC is the 22nd there.
MORNING = datetime(2026, 11, 21, 0, 5, 3, tzinfo=UTC)
EVENING = datetime(2026, 11, 21, 16, 30, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("header", "default", "expected"),
    [
        (None, "zh-CN", "zh-CN"),
        ("", "en", "en"),
        ("en-US,en;q=0.9", "zh-CN", "en"),
        ("zh-CN,zh;q=0.9,en;q=0.8", "en", "zh-CN"),
        ("zh", "en", "zh-CN"),
        ("zh-Hans-CN", "en", "zh-CN"),
        ("zh-TW", "en", "zh-CN"),  # Traditional readers get Simplified, not English
        ("zh-HK;q=0.8, en;q=0.9", "zh-CN", "en"),  # q-values, not the order written
        ("zh;q=0.5, en;q=0.5", "en", "zh-CN"),  # a tie: as written
        ("fr-FR, de;q=0.9", "zh-CN", "zh-CN"),  # nothing we speak: the default
        ("fr-FR, en;q=0.1", "zh-CN", "en"),
        ("*", "en", "en"),
        ("en;q=0, zh;q=0.1", "en", "zh-CN"),  # q=0 means "not this one"
        ("en;q=abc, zh;q=0.2", "en", "zh-CN"),  # a malformed range is ignored
        ("EN-gb", "zh-CN", "en"),
        ("en_US", "zh-CN", "en"),
    ],
)
def test_negotiate(header: str | None, default: str, expected: str) -> None:
    assert negotiate(header, default) == expected  # type: ignore[arg-type]


def test_times_are_the_platform_zone_24_hour_in_each_language_format() -> None:
    zh, en = reader("zh-CN", "Asia/Shanghai"), reader("en", "Asia/Shanghai")
    assert zh.format_datetime(MORNING) == "2026年11月21日 08:05:03"
    assert en.format_datetime(MORNING) == "Nov 21, 2026, 08:05:03"
    assert en.format_time(EVENING) == "00:30:00"  # 24-hour, the next day in Shanghai
    assert zh.format_date(EVENING) == "2026年11月22日"
    assert en.format_date(date(2026, 11, 21)) == "Nov 21, 2026"
    # another zone from the setting, and a naive time taken as UTC
    assert reader("en", "Europe/London").format_time(MORNING.replace(tzinfo=None)) == "00:05:03"


def test_stored_arguments_are_only_ever_text() -> None:
    args = {"time": "2026-11-21T00:05:03Z", "step": "{time.__class__}", "after": "{after}"}
    text = render("console.card.step", args, "en")
    assert text == "{time.__class__} Nov 21, 2026, 08:05:03 (+{after})"
    # a missing argument stays visible; odd types are shown as text
    assert render("console.card.step", {"step": ["x"]}, "zh-CN") == "['x'] {time}（+{after}）"
    assert render("console.card.since", "not a mapping", "en") == "since {time}"  # type: ignore[arg-type]
    # a time that is not a time is shown as given
    assert render("console.card.since", {"time": "yesterday"}, "en") == "since yesterday"


def test_numbers_in_the_readers_format() -> None:
    assert reader("en").t("console.span.seconds", s=12345) == "12,345 s"
    assert reader("zh-CN").t("console.span.seconds", s=1.5) == "1.5 秒"


def test_unknown_keys_fall_back() -> None:
    assert render("alert.gone.summary", {}, "en", fallback="stored summary") == "stored summary"
    assert render("alert.gone.summary", {}, "en") == "alert.gone.summary"
    assert reader("zh-CN").label("alert.kind", "overfill") == "超装"
    assert reader("en").label("alert.kind", "not_a_kind") == "not_a_kind"


def test_a_message_is_stored_as_json_and_rendered_per_reader() -> None:
    stored = msg("console.card.since", time=MORNING).to_json()
    assert stored == {"key": "console.card.since", "args": {"time": "2026-11-21T00:05:03+00:00"}}
    back = Message.from_json(stored)
    assert reader("zh-CN").render(back) == "始于 2026年11月21日 08:05:03"
    assert reader("en").render(back) == "since Nov 21, 2026, 08:05:03"
    for bad in (None, {"args": {}}, {"key": 1}, {"key": "a.b", "args": [1]}):
        with pytest.raises(ValueError):
            Message.from_json(bad)


def test_settings_default_to_chinese_and_shanghai(monkeypatch: pytest.MonkeyPatch) -> None:
    s = Settings()
    assert (s.i18n.language, s.i18n.timezone) == ("zh-CN", "Asia/Shanghai")
    assert reader_for(s.i18n).language == "zh-CN"
    assert reader_for(s.i18n, "en-US,en;q=0.9").language == "en"
    monkeypatch.setenv("SEMON_I18N__LANGUAGE", "en")
    monkeypatch.setenv("SEMON_I18N__TIMEZONE", "Asia/Urumqi")
    s = Settings()
    assert (s.i18n.language, s.i18n.timezone) == ("en", "Asia/Urumqi")
    with pytest.raises(ValidationError, match="unknown time zone"):
        I18nSettings(timezone="Mars/Olympus")
    with pytest.raises(ValidationError):
        I18nSettings(language="fr")  # type: ignore[arg-type]
