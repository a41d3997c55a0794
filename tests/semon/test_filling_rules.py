"""The filling rules as pure functions: each condition alone, and a permit's
conditions as the first part of a record's."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from semon.domain.filling_rules import BEFORE_FILL_KINDS, after_fill, before_fill

DAY = date(2026, 12, 6)


def cylinder(**overrides: Any) -> dict[str, Any]:
    """A registry row as read with its base date (here: the registry's last
    inspection, else manufacture, as semon_inspection_base gives without
    inspections on record)."""
    row = {
        "gas": "lpg",
        "manufactured_on": date(2024, 1, 10),
        "last_inspected_on": None,
        "inspection_interval_years": 4,
        "design_life_years": 8,
        "owner_station_id": "st-1",
        "status": "in_service",
        "max_fill_kg": 15.0,
    }
    row = {**row, **overrides}
    row["inspection_base_on"] = row["last_inspected_on"] or row["manufactured_on"]
    return row


CASES: dict[str, tuple[dict[str, Any] | None, str]] = {
    "filling_unregistered_cylinder": (None, "lpg"),
    "filling_scrapped_cylinder": (cylinder(status="scrapped"), "lpg"),
    "filling_overdue_cylinder": (
        cylinder(manufactured_on=date(2020, 1, 1), last_inspected_on=date(2021, 1, 1)),
        "lpg",
    ),
    "filling_foreign_cylinder": (cylinder(owner_station_id="st-2"), "lpg"),
    "gas_mismatch": (cylinder(gas="oxygen"), "lpg"),
}


@pytest.mark.parametrize("kind", BEFORE_FILL_KINDS)
def test_each_condition_alone(kind: str) -> None:
    row, gas = CASES[kind]
    assert [b.kind for b in before_fill("st-1", gas, row, DAY)] == [kind]


def test_end_of_life_counts_as_scrapped() -> None:
    row = cylinder(manufactured_on=date(2014, 1, 1), last_inspected_on=date(2025, 1, 1))
    assert [b.kind for b in before_fill("st-1", "lpg", row, DAY)] == ["filling_scrapped_cylinder"]
    # The day it reaches its design life, not the day after.
    assert before_fill("st-1", "lpg", row, date(2021, 12, 31)) == []
    assert [b.kind for b in before_fill("st-1", "lpg", row, date(2022, 1, 1))] == [
        "filling_scrapped_cylinder"
    ]


def test_a_good_cylinder_breaks_nothing() -> None:
    assert before_fill("st-1", "lpg", cylinder(), DAY) == []
    assert (
        after_fill(
            "st-1",
            "lpg",
            cylinder(),
            DAY,
            net_kg=15.0,
            precheck_passed=True,
            postcheck_done=True,
            overfill_raised=False,
        )
        == []
    )


def test_record_adds_overfill_and_checks_after_the_permit_conditions() -> None:
    row = cylinder(gas="oxygen")
    kinds = [
        b.kind
        for b in after_fill(
            "st-1",
            "lpg",
            row,
            DAY,
            net_kg=15.5,
            precheck_passed=False,
            postcheck_done=False,
            overfill_raised=False,
        )
    ]
    assert kinds == ["gas_mismatch", "overfill", "precheck_failed_but_filled", "postcheck_missing"]
    raised = after_fill(
        "st-1",
        "oxygen",
        row,
        DAY,
        net_kg=15.5,
        precheck_passed=True,
        postcheck_done=True,
        overfill_raised=True,
    )
    assert raised == []  # the live scale's overfill is the same alert
