"""What a registry record's dates say (CONTRACT.md): when its next
inspection is due, whether it is past its design life; and the calendar
arithmetic behind them."""

from __future__ import annotations

import calendar
from datetime import date, timedelta
from typing import Any


def add_years(day: date, years: float) -> date:
    return day + timedelta(days=round(years * 365.25))


def add_months(day: date, months: int) -> date:
    """The same day `months` later, or the month's last where it has none."""
    year, month = divmod(day.month - 1 + months, 12)
    year, month = day.year + year, month + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def inspection_due(record: dict[str, Any], equipment: str) -> date:
    """Base date plus interval (CONTRACT.md: last inspection, else install/manufacture)."""
    if equipment == "elevator":
        base = date.fromisoformat(record.get("last_inspected_on") or record["installed_on"])
        return add_months(base, int(record.get("inspection_interval_months", 12)))
    base = date.fromisoformat(record.get("last_inspected_on") or record["manufactured_on"])
    return add_years(base, int(record["inspection_interval_years"]))


def past_design_life(record: dict[str, Any], on: date) -> bool:
    end = add_years(date.fromisoformat(record["manufactured_on"]), int(record["design_life_years"]))
    return end < on
