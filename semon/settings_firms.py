"""Settings of maintenance transparency: how a record is checked against the
terminal (``VerificationSettings``) and the firms' published deduction sheet
(``ScorecardSettings``). Imported by semon/settings.py as two sections."""

from __future__ import annotations

from pydantic import BaseModel, Field


class VerificationSettings(BaseModel):
    """A maintenance record's window against what the terminal reported
    (semon/store/verification.py explains the decision)."""

    # A visit's recorded window may be off by minutes (a technician writes the
    # times down after the work): maintenance or inspection mode this close
    # outside the window still counts as the terminal's witness.
    slack_s: float = 900.0
    # "Normal service throughout": the window is cut into buckets of this
    # size (a terminal at rest reports every 60 s; 120 s absorbs jitter) and
    # at least this share of them must hold a sample, every one `normal`.
    # Less than that is a silent terminal, not a contradiction.
    bucket_s: float = 120.0
    min_coverage: float = Field(default=0.9, ge=0, le=1)
    # Records whose window ended this long ago are no longer re-checked when
    # late samples arrive (a terminal's buffer uploads within days).
    recheck_days: int = 14
    # Samples received up to this long before a record was last checked are
    # looked at again: ingest stamps received_at before its batch commits.
    received_margin_s: float = 120.0
    # Verifications done at once by the periodic re-check; more wait a round.
    recheck_batch: int = 50_000


class ScorecardSettings(BaseModel):
    """The deduction sheet of a firm's scorecard (semon/store/scorecards.py).

    A firm starts at 100; each line deducts ``points`` per unit past its free
    allowance, at most ``cap`` points. Grades: A >= 85, B >= 70, C >= 55, D below.
    """

    # maintenance overdue: per percentage point of overdue elevators
    overdue_free_pct: float = 2.0
    overdue_points_per_pct: float = 1.0
    overdue_cap: float = 20.0
    # records the terminal contradicts: per percentage point of checked records
    contradicted_points_per_pct: float = 2.0
    contradicted_cap: float = 30.0
    # traps per 100 elevators per year beyond the free rate
    traps_free_per_100y: float = 10.0
    traps_points_per_unit: float = 0.5
    traps_cap: float = 10.0
    # each trap whose cause was the equipment or people at the firm (municipal sheets: 3)
    caused_trap_points: float = 3.0
    caused_trap_cap: float = 15.0
    # median minutes from a trapped-passenger alert to on site, beyond the free time
    arrival_free_min: float = 15.0
    arrival_points_per_min: float = 0.5
    arrival_cap: float = 10.0
    # per percentage point of inspections failed in the window
    failed_inspection_points_per_pct: float = 0.5
    failed_inspection_cap: float = 10.0
    # faults per 1,000 trips beyond the free rate
    faults_free_per_1000: float = 1.0
    faults_points_per_unit: float = 2.0
    faults_cap: float = 5.0
    grade_min_scores: tuple[float, float, float] = (85.0, 70.0, 55.0)
    # Events listed under each deduction (the count is always complete).
    events_listed: int = 50
    # Default window of a scorecard: the last this many days.
    window_days: int = 365
