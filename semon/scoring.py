"""On-demand maintenance scores: a transparent deductive sheet, vectorised.

Guangzhou's "3+2" model names the factors (elevator age, the firm's technical
level, the use unit's management, plus the firm's credit grade and what the
monitoring terminal saw) but publishes no formula, so this is ours. Every
elevator starts at 100; each factor deducts at most its weight (the weights
sum to 100), so a score is exactly ``100 + sum(contributions)`` and a firm
can read why. Defaults (``ScoreSettings``):

| factor | value | weight | full deduction at |
|---|---|---|---|
| ``age_years`` | years in service | 15 | bands < 5: 0, 5-14: 30 %, 15-19: 65 %, >= 20: all |
| ``firm_tech_level`` | firms.tech_level 1-5 (unknown: 3) | 15 | level 1 (linear, 5 deducts 0) |
| ``use_unit_level`` | elevators.use_unit_level 1-5 (unknown: 3) | 10 | level 1 (linear) |
| ``firm_credit_grade`` | A-D (unknown: B) | 15 | A 0, B 1/3, C 2/3, D all |
| ``faults_per_1000_trips`` | elevator_fault alerts, 30 days / trips | 10 | 5 per 1,000 trips |
| ``traps_12m`` | trapped_passenger alerts, last 12 months | 10 | 3 |
| ``trap_minutes_12m`` | their summed duration in minutes | 5 | 120 min |
| ``offline_share`` | share of the last 30 days under terminal_offline | 5 | 20 % |
| ``door_cycles_per_day`` | door cycles a day, last 48 h | 5 | free to 300, full at 1,500 |
| ``inspection_overdue`` | 1 when the periodic inspection is overdue | 10 | 1 |

Trips and door cycles come from the last 48 hours of hourly figures
(``elevator_hourly``, 0007), trips scaled to 30 days; offline time from the
``terminal_offline`` alerts. Grades: A >= 85, B >= 70, C >= 55, D below; intervals A 90, B 60, C 30,
D 15 days (15 days is the statutory default of TSG T5002). Vetoes force 15
days whatever the score: an overdue inspection, no terminal data for more
than 3 days (or never), a firm graded C or D, a trapped-passenger alert in
the last 90 days attributable to maintenance (resolved ``repaired`` or with
``details.cause = "maintenance"``), no liability insurance in force
(``insured_until`` null or past), or a latest inspection that failed
(failed in use, migration 0040).

The vetoes are the on-demand conditions of SAMR's pilots read the other way
round: ``ELIGIBILITY`` (semon/domain/eligibility.py) names each condition
and its veto, and
``GET /elevators/{id}/eligibility`` reports them from this same computation,
so the conditions a lift is told it fails are exactly the vetoes on its score.

Unknown inputs (NaN) count as average rather than as worst: a missing
registry field is a data problem for the registry, not evidence against the
lift; a terminal that sends nothing is caught by the no-data veto instead.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from semon.domain.eligibility import ELIGIBILITY as ELIGIBILITY  # re-exported: one table
from semon.settings import ScoreSettings

F64 = npt.NDArray[np.float64]
Bools = npt.NDArray[np.bool_]
Ints = npt.NDArray[np.int64]

FACTORS: tuple[str, ...] = (
    "age_years",
    "firm_tech_level",
    "use_unit_level",
    "firm_credit_grade",
    "faults_per_1000_trips",
    "traps_12m",
    "trap_minutes_12m",
    "offline_share",
    "door_cycles_per_day",
    "inspection_overdue",
)
VETOES: tuple[str, ...] = (
    "inspection_overdue",
    "no_terminal_data",
    "firm_credit_c_or_d",
    "maintenance_trap_90d",
    "uninsured",
    "inspection_failed_in_use",
)
GRADES: tuple[str, ...] = ("A", "B", "C", "D")


@dataclass(frozen=True)
class FleetMetrics:
    """What the database knows of each elevator, one array entry per elevator.

    ``firm_credit`` is 0-3 for A-D and -1 when unknown; NaN marks other unknowns;
    ``days_since_data`` is +inf for a terminal never heard from.
    """

    age_years: F64
    firm_tech_level: F64
    use_unit_level: F64
    firm_credit: Ints
    faults: F64
    trips: F64
    traps: F64
    trap_minutes: F64
    offline_share: F64
    door_cycles_per_day: F64
    inspection_overdue: Bools
    days_since_data: F64
    maintenance_trap: Bools
    # None: all False (a registry without these records)
    uninsured: Bools | None = None  # no liability insurance in force today (v1.1 "Coverage")
    failed_in_use: Bools | None = None  # in service with its latest inspection failed


@dataclass(frozen=True)
class FleetScores:
    values: F64  # (len(FACTORS), n) factor values as reported (NaN: unknown)
    weights: F64  # (len(FACTORS),)
    contributions: F64  # (len(FACTORS), n), <= 0, rounded to 2 decimals
    score: F64  # (n,) = 100 + contributions.sum(axis=0)
    grade: Ints  # (n,) index into GRADES
    interval_days: Ints  # (n,)
    vetoes: Bools  # (len(VETOES), n)


def weights_of(cfg: ScoreSettings) -> F64:
    return np.array(
        [
            cfg.weight_age,
            cfg.weight_firm_tech,
            cfg.weight_use_unit,
            cfg.weight_firm_credit,
            cfg.weight_faults,
            cfg.weight_traps,
            cfg.weight_trap_minutes,
            cfg.weight_offline,
            cfg.weight_door_load,
            cfg.weight_inspection_overdue,
        ],
        dtype=np.float64,
    )


def _ramp(x: F64, free: float, full: float) -> F64:
    """0 at or below ``free``, 1 at or above ``full``, linear between; NaN -> 0."""
    share = (np.nan_to_num(x, nan=free) - free) / max(full - free, 1e-9)
    return np.clip(share, 0.0, 1.0)


def age_band_share(age_years: F64, cfg: ScoreSettings) -> F64:
    band = np.digitize(np.nan_to_num(age_years, nan=0.0), [5.0, 15.0, 20.0])
    return np.asarray(cfg.age_band_shares, dtype=np.float64)[band]


def faults_per_1000(faults: F64, trips: F64) -> F64:
    """Faults per 1,000 trips; with no trips counted, any fault is a full rate
    (a lift that faults without running is not a healthy one) and none is 0."""
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = 1000.0 * faults / trips
    no_trips = ~(np.nan_to_num(trips, nan=0.0) > 0)
    return np.where(no_trips, np.where(faults > 0, np.inf, 0.0), rate)


def grade_of(score: F64, cfg: ScoreSettings) -> Ints:
    a, b, c = cfg.grade_min_scores
    # digitize over descending thresholds: >= a -> 0 (A), >= b -> 1, >= c -> 2, else 3
    return np.asarray(3 - np.digitize(score, [c, b, a], right=False), dtype=np.int64)


def score_fleet(m: FleetMetrics, cfg: ScoreSettings) -> FleetScores:
    """Score every elevator at once; no Python loop over elevators."""
    w = weights_of(cfg)
    tech = np.where(np.isnan(m.firm_tech_level), 3.0, m.firm_tech_level)
    unit = np.where(np.isnan(m.use_unit_level), 3.0, m.use_unit_level)
    credit = np.where(m.firm_credit < 0, 1, m.firm_credit).astype(np.float64)
    rate = faults_per_1000(m.faults, m.trips)
    overdue = m.inspection_overdue.astype(np.float64)
    shares = np.vstack(
        [
            age_band_share(m.age_years, cfg),
            np.clip((5.0 - tech) / 4.0, 0.0, 1.0),
            np.clip((5.0 - unit) / 4.0, 0.0, 1.0),
            credit / 3.0,
            _ramp(rate, 0.0, cfg.faults_per_1000_trips_full),
            _ramp(m.traps, 0.0, cfg.traps_full),
            _ramp(m.trap_minutes, 0.0, cfg.trap_minutes_full),
            _ramp(m.offline_share, 0.0, cfg.offline_share_full),
            _ramp(
                m.door_cycles_per_day, cfg.door_cycles_per_day_free, cfg.door_cycles_per_day_full
            ),
            overdue,
        ]
    )
    # Rounded before summing so the published contributions add up exactly.
    contributions = np.round(-shares * w[:, None], 2) + 0.0  # + 0.0 turns -0.0 into 0.0
    score = np.round(100.0 + contributions.sum(axis=0), 2)
    values = np.vstack(
        [
            m.age_years,
            m.firm_tech_level,
            m.use_unit_level,
            np.where(m.firm_credit < 0, np.nan, m.firm_credit).astype(np.float64),
            np.where(np.isinf(rate), np.nan, rate),
            m.traps,
            m.trap_minutes,
            m.offline_share,
            m.door_cycles_per_day,
            overdue,
        ]
    )
    none = np.zeros(len(m.age_years), dtype=np.bool_)
    vetoes = np.vstack(
        [
            m.inspection_overdue,
            ~(m.days_since_data <= cfg.veto_no_data_days),
            m.firm_credit >= 2,
            m.maintenance_trap,
            none if m.uninsured is None else m.uninsured,
            none if m.failed_in_use is None else m.failed_in_use,
        ]
    )
    grade = grade_of(score, cfg)
    interval = np.asarray(cfg.grade_intervals_days, dtype=np.int64)[grade]
    interval = np.where(vetoes.any(axis=0), cfg.default_interval_days, interval)
    return FleetScores(
        values=values,
        weights=w,
        contributions=contributions,
        score=score,
        grade=grade,
        interval_days=interval.astype(np.int64),
        vetoes=vetoes,
    )
