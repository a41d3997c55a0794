"""The lines of a firm's scorecard and the units of their figures: the
words of the published deduction sheet (semon/store/scorecards.py), shown
translated through the vocabularies (``scorecard.deduction``,
``scorecard.unit``)."""

from __future__ import annotations

from typing import Final

DEDUCTIONS: Final = (
    "maintenance_overdue",
    "contradicted_records",
    "traps",
    "caused_traps",
    "median_arrival",
    "failed_inspections",
    "faults_per_1000_trips",
)
UNITS: Final = (
    "percent_of_lifts",
    "percent_of_checked_records",
    "per_100_lifts_a_year",
    "traps",
    "minutes",
    "percent_of_inspections",
    "per_1000_trips",
)
