"""The on-demand maintenance conditions (CONTRACT.md v1.1, SAMR's 2020
pilots) and the score veto each one's failure is: one table, read by the
score (semon/scoring.py) and by a lift's eligibility, and shown translated
through the ``eligibility.condition`` vocabulary."""

from __future__ import annotations

from typing import Final

ELIGIBILITY: Final[tuple[tuple[str, str], ...]] = (
    ("firm_not_graded_c_or_d", "firm_credit_c_or_d"),
    ("inspection_in_date", "inspection_overdue"),
    ("inspection_not_failed", "inspection_failed_in_use"),
    ("terminal_connected", "no_terminal_data"),
    ("insured", "uninsured"),
    ("no_maintenance_trap_90d", "maintenance_trap_90d"),
)
CONDITIONS: Final = tuple(name for name, _ in ELIGIBILITY)
