"""Alert summaries come from the catalogs: a draft carries a key and
arguments, stored with the alert; MQTT carries the text in the platform's
language (the `i18n.language` setting), times in its time zone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import get_args

import pytest

from alerts.drafts import fault_draft, offline_draft
from semon.domain.alerts import AlertKind, summary_text
from semon.domain.wire import ElevatorEvent
from semon.i18n import CatalogError, catalogs, load_catalogs, msg, reader, render
from semon.settings import Settings
from tests.alerts.helpers import (
    alerts_for,
    alerts_process,
    console,
    device,
    start_clock,
    tune,
    uid,
)
from tests.semon.test_catalogs import write_po
from tests.support.catalog_check import problems

ZH, EN = reader("zh-CN"), reader("en")


def test_every_kind_has_a_summary_in_both_languages() -> None:
    """A new kind cannot land with summaries written in code."""
    known = catalogs().keys()
    for kind in get_args(AlertKind):
        keys = [k for k in known if k.startswith(f"alert.{kind}.summary")]
        assert keys, f"no alert.{kind}.summary text in the catalogs"
        for key in keys:
            assert catalogs().entry("zh-CN", key) and catalogs().entry("en", key), key


def test_times_in_summaries_are_the_platform_time_zone_24_hour() -> None:
    last = datetime(2026, 11, 21, 14, 5, 3, tzinfo=UTC)  # 22:05:03 in Shanghai
    d = offline_draft("EL-7", last, expected_interval_s=10, silent_after=timedelta(minutes=3))
    assert summary_text(d.summary, ZH) == (
        "电梯 EL-7 的终端自 2026年11月21日 22:05:03 起无数据：调度看不到这台电梯"
    )
    assert summary_text(d.summary, EN) == (
        "Terminal of elevator EL-7 silent since Nov 21, 2026, 22:05:03: dispatch cannot see it"
    )
    assert summary_text(d.summary) == summary_text(d.summary, ZH)  # the default: zh-CN
    # Stored (ISO text) and rendered later: the same words.
    stored = d.summary.to_json()
    assert render(stored["key"], stored["args"], "en") == summary_text(d.summary, EN)


def test_event_codes_are_words_of_the_readers_language() -> None:
    ts = datetime(2026, 11, 21, tzinfo=UTC)
    known = fault_draft("EL-1", ElevatorEvent(ts=ts, code="overspeed", detail="governor"))
    assert summary_text(known.summary, ZH) == "电梯 EL-1 故障：超速（governor）"
    assert summary_text(known.summary, EN) == "Elevator EL-1 fault: overspeed (governor)"
    # A code no catalog knows is shown as sent, never dropped.
    odd = fault_draft("EL-1", ElevatorEvent(ts=ts, code="brake_wear"))
    assert summary_text(odd.summary, EN) == "Elevator EL-1 fault: brake_wear"
    assert ZH.render(msg("alert.elevator_fault.summary", elevator_id="EL-1", code=None)) == (
        "电梯 EL-1 故障：—"
    )


def test_a_label_placeholder_must_name_a_group(tmp_path: Path) -> None:
    write_po(tmp_path, "zh_CN", "demo", [("demo.bad", "故障 {code:label:}")])
    write_po(tmp_path, "en", "demo", [("demo.bad", "fault {code:label:elevator.event}")])
    with pytest.raises(CatalogError, match="label:<vocabulary group>"):
        load_catalogs(tmp_path)


async def test_mqtt_speaks_the_platform_language(settings: Settings, database_url: str) -> None:
    tune(settings)
    settings.i18n.language = "en"
    clock = start_clock()
    t0 = clock.now()
    stuck, faulty = uid("stuck"), uid("faulty")
    async with console(settings) as con, device(settings) as dev, alerts_process(settings, clock):
        dev.event(stuck, t0, "trapped")
        dev.event(faulty, t0, "power_loss")
        [page] = await con.wait(lambda m: m["equipment_id"] == stuck)
        clock.set(t0 + timedelta(seconds=5.5))  # the fault outlasts its debounce
        [fault] = await con.wait(lambda m: m["equipment_id"] == faulty)
    assert page["summary"] == (
        f"Passengers trapped in elevator {stuck} (floor unknown): "
        "the terminal reports a trapped passenger"
    )
    assert fault["summary"] == f"Elevator {faulty} fault: power loss"
    assert "summary_key" not in page and "summary_args" not in page  # the contract's message
    [row] = await alerts_for(database_url, faulty)
    assert row["summary"] == fault["summary"]
    assert row["summary_key"] == "alert.elevator_fault.summary"
    assert row["summary_args"] == {"elevator_id": faulty, "code": "power_loss"}
    # The same stored alert, for a Chinese reader.
    assert render(row["summary_key"], row["summary_args"], "zh-CN") == f"电梯 {faulty} 故障：停电"


def test_the_catalog_check_refuses_a_label_of_no_group(tmp_path: Path) -> None:
    for directory, text in (("zh_CN", "故障 {code:label:nowhere}"), ("en", "{code:label:nowhere}")):
        write_po(tmp_path, directory, "demo", [("demo.fault", text)])
    found = problems(load_catalogs(tmp_path), {"demo.fault": ["demo.py:1"]}, vocabulary=set())
    assert found == ["demo.fault: {code:label:nowhere} names no vocabulary group"]
