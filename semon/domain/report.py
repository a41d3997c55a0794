"""The monthly regulator's report (CONTRACT.md v1.1 "Reports, map,
language"): its sections and figures, in the order a person reads them.

Each figure's heading is the vocabulary word ``report.figure.<key>`` and each
section's ``report.section.<key>`` (semon/i18n/vocabulary.py), in the
regulator's catalog (regulator.po). The values come from the statistics
store functions, so every figure equals its statistics route's.
"""

from __future__ import annotations

from typing import Final

# (section, figure key) in reading order.
FIGURES: Final[tuple[tuple[str, str], ...]] = (
    ("equipment", "elevators_in_service"),
    ("equipment", "cylinders_in_service"),
    ("coverage", "elevator_insurance_rate"),
    ("coverage", "elevator_iot_rate"),
    ("coverage", "cylinder_tag_rate"),
    ("coverage", "cylinder_insurance_rate"),
    ("rescue", "traps"),
    ("rescue", "ack_median_s"),
    ("rescue", "on_site_median_s"),
    ("rescue", "resolved_median_s"),
    ("rescue", "on_site_within_30min_share"),
    ("rescue", "false_alarm_share"),
    ("rescue", "rescues"),
    ("rescue", "dispatched_within_5min"),
    ("rescue", "open_to_dispatch_median_s"),
    ("rescue", "dispatch_to_on_site_median_s"),
    ("rescue", "on_site_to_freed_median_s"),
    ("rescue", "on_site_within_30min"),
    ("rescue", "people_freed"),
    ("rescue", "injured"),
    ("rescue", "escalations"),
    ("inspection", "elevator_overdue_rate"),
    ("inspection", "elevator_failed_in_use_rate"),
    ("inspection", "cylinder_overdue_rate"),
    ("inspection", "cylinder_failed_in_use_rate"),
    ("inspection", "maintenance_overdue_rate"),
    ("fillings", "illegal_fillings"),
    ("hazards", "hazards_found"),
    ("hazards", "hazards_rectified"),
    ("hazards", "hazards_overdue"),
    ("hazards", "serious_rectification_rate"),
    ("hazards", "self_check_rate"),
)
FIGURE_KEYS: Final[tuple[str, ...]] = tuple(k for _, k in FIGURES)
SECTIONS: Final[tuple[str, ...]] = tuple(dict.fromkeys(s for s, _ in FIGURES))
