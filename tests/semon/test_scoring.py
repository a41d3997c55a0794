"""The scoring sheet's arithmetic, on arrays built by hand."""

from __future__ import annotations

import numpy as np

from semon.scoring import FACTORS, GRADES, VETOES, FleetMetrics, score_fleet
from semon.settings import ScoreSettings


def fleet(n: int, **over: object) -> FleetMetrics:
    """A healthy fleet of n: new lifts, best firm and use unit, quiet terminals."""
    base: dict[str, object] = {
        "age_years": np.full(n, 2.0),
        "firm_tech_level": np.full(n, 5.0),
        "use_unit_level": np.full(n, 5.0),
        "firm_credit": np.zeros(n, dtype=np.int64),
        "faults": np.zeros(n),
        "trips": np.full(n, 10_000.0),
        "traps": np.zeros(n),
        "trap_minutes": np.zeros(n),
        "offline_share": np.zeros(n),
        "door_cycles_per_day": np.full(n, 100.0),
        "inspection_overdue": np.zeros(n, dtype=np.bool_),
        "days_since_data": np.full(n, 0.01),
        "maintenance_trap": np.zeros(n, dtype=np.bool_),
        "uninsured": np.zeros(n, dtype=np.bool_),
        "failed_in_use": np.zeros(n, dtype=np.bool_),
    }
    for k, v in over.items():
        base[k] = np.asarray(v)
    return FleetMetrics(**base)  # type: ignore[arg-type]


def test_weights_sum_to_100_and_contributions_sum_to_score() -> None:
    cfg = ScoreSettings()
    rng = np.random.default_rng(7)
    n = 2000
    m = fleet(
        n,
        age_years=rng.uniform(0, 40, n),
        firm_tech_level=rng.choice([1.0, 2.0, 3.0, 4.0, 5.0, np.nan], n),
        use_unit_level=rng.choice([1.0, 3.0, 5.0, np.nan], n),
        firm_credit=rng.integers(-1, 4, n),
        faults=rng.integers(0, 20, n).astype(float),
        trips=rng.choice([0.0, 500.0, 5000.0, np.nan], n),
        traps=rng.integers(0, 5, n).astype(float),
        trap_minutes=rng.uniform(0, 300, n),
        offline_share=rng.uniform(0, 1, n),
        door_cycles_per_day=rng.choice([np.nan, 200.0, 900.0, 3000.0], n),
        inspection_overdue=rng.random(n) < 0.2,
    )
    s = score_fleet(m, cfg)
    assert s.weights.sum() == 100.0
    assert s.contributions.shape == (len(FACTORS), n)
    np.testing.assert_allclose(100 + s.contributions.sum(axis=0), s.score, atol=1e-9)
    assert (s.score >= 0).all() and (s.score <= 100).all()
    assert (s.contributions <= 0).all()
    assert (-s.contributions <= s.weights[:, None] + 1e-9).all()


def test_perfect_lift_scores_100_grade_a_longest_interval() -> None:
    s = score_fleet(fleet(1), ScoreSettings())
    assert s.score[0] == 100.0
    assert GRADES[s.grade[0]] == "A"
    assert s.interval_days[0] == 90
    assert not s.vetoes.any()


def test_each_factor_at_its_worst_deducts_its_weight() -> None:
    cfg = ScoreSettings()
    m = fleet(
        1,
        age_years=[25.0],
        firm_tech_level=[1.0],
        use_unit_level=[1.0],
        firm_credit=[3],
        faults=[100.0],
        trips=[1000.0],
        traps=[3.0],
        trap_minutes=[500.0],
        offline_share=[0.5],
        door_cycles_per_day=[5000.0],
        inspection_overdue=[True],
    )
    s = score_fleet(m, cfg)
    np.testing.assert_allclose(s.contributions[:, 0], -s.weights)
    assert s.score[0] == 0.0
    assert GRADES[s.grade[0]] == "D"


def test_age_bands_and_unknowns_count_as_average() -> None:
    cfg = ScoreSettings()
    ages = [0.0, 4.99, 5.0, 14.9, 15.0, 19.99, 20.0, 60.0]
    s = score_fleet(fleet(len(ages), age_years=ages), cfg)
    expected = -cfg.weight_age * np.array([0, 0, 0.3, 0.3, 0.65, 0.65, 1, 1])
    np.testing.assert_allclose(s.contributions[FACTORS.index("age_years")], expected)

    u = score_fleet(
        fleet(2, use_unit_level=[np.nan, 3.0], firm_tech_level=[np.nan, 3.0], firm_credit=[-1, 1]),
        cfg,
    )
    np.testing.assert_array_equal(u.contributions[:, 0], u.contributions[:, 1])
    assert np.isnan(u.values[FACTORS.index("use_unit_level"), 0])


def test_grade_boundaries_and_intervals() -> None:
    cfg = ScoreSettings()
    # tech level deducts 15 * (5 - level) / 4: scores 100, 96.25, 92.5, 88.75, 85
    # then age 20+ (15 points) on top to reach the lower grades
    m = fleet(
        5,
        firm_tech_level=[5.0, 5.0, 1.0, 1.0, 1.0],
        age_years=[2.0, 25.0, 2.0, 25.0, 25.0],
        use_unit_level=[5.0, 5.0, 5.0, 5.0, 1.0],
    )
    s = score_fleet(m, cfg)
    np.testing.assert_allclose(s.score, [100.0, 85.0, 85.0, 70.0, 60.0])
    assert [GRADES[g] for g in s.grade] == ["A", "A", "A", "B", "C"]
    assert s.interval_days.tolist() == [90, 90, 90, 60, 30]
    just_below = score_fleet(fleet(1, firm_tech_level=[1.0], age_years=[25.0], faults=[1.0]), cfg)
    assert GRADES[just_below.grade[0]] == "C" and just_below.score[0] < 70


def test_vetoes_force_the_default_interval() -> None:
    cfg = ScoreSettings()
    m = fleet(
        8,
        inspection_overdue=[True, False, False, False, False, False, False, False],
        days_since_data=[0.0, 3.5, np.inf, 0.0, 0.0, 0.0, 0.0, 0.0],
        firm_credit=[0, 0, 0, 2, 0, 0, 0, 0],
        maintenance_trap=[False, False, False, False, True, False, False, False],
        uninsured=[False, False, False, False, False, True, False, False],
        failed_in_use=[False, False, False, False, False, False, True, False],
    )
    s = score_fleet(m, cfg)
    assert s.interval_days.tolist()[:7] == [15] * 7
    assert s.interval_days[7] > 15  # the healthy one is granted its grade's interval
    assert s.vetoes[VETOES.index("uninsured")].tolist() == [0, 0, 0, 0, 0, 1, 0, 0]
    assert s.vetoes[VETOES.index("inspection_failed_in_use")].tolist() == [0, 0, 0, 0, 0, 0, 1, 0]
    assert s.vetoes[VETOES.index("inspection_overdue")].tolist() == [1, 0, 0, 0, 0, 0, 0, 0]
    assert s.vetoes[VETOES.index("no_terminal_data")].tolist() == [0, 1, 1, 0, 0, 0, 0, 0]
    assert s.vetoes[VETOES.index("firm_credit_c_or_d")].tolist() == [0, 0, 0, 1, 0, 0, 0, 0]
    assert s.vetoes[VETOES.index("maintenance_trap_90d")].tolist() == [0, 0, 0, 0, 1, 0, 0, 0]
    # the score itself still reflects only the sheet: a data veto costs no points
    assert s.score[1] == 100.0 and GRADES[s.grade[1]] == "A"


def test_fault_rate_without_trips() -> None:
    cfg = ScoreSettings()
    s = score_fleet(fleet(3, faults=[0.0, 2.0, 1.0], trips=[0.0, 0.0, 400.0]), cfg)
    k = FACTORS.index("faults_per_1000_trips")
    assert s.contributions[k].tolist() == [0.0, -cfg.weight_faults, -5.0]  # 2.5/1000 = half
    assert s.values[k, 0] == 0.0 and np.isnan(s.values[k, 1]) and s.values[k, 2] == 2.5


def test_settings_change_the_sheet() -> None:
    cfg = ScoreSettings(grade_intervals_days=(60, 30, 15, 15), default_interval_days=10)
    s = score_fleet(fleet(2, inspection_overdue=[False, True]), cfg)
    assert s.interval_days.tolist() == [60, 10]
