"""Vocabularies: the contract's closed word lists that people see translated.

Each group's words are keyed `<group>.<value>` (`alert.kind.overfill`) and
shown with `Reader.label(group, value)` in Python or `label(group, value)` in
the console. The catalog test takes these keys as used and fails when a value
has no word in either language, so a new alert kind without a translation
cannot land. A feature team with a list of its own (rescue states, hazard
levels) adds one line here and the words in its own domain file.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final, get_args

from semon.domain.alerts import AlertKind, AlertState, EquipmentType, Resolution, Severity
from semon.domain.eligibility import CONDITIONS
from semon.domain.gov_codes import KNOWN_EVENT_CODES
from semon.domain.report import FIGURE_KEYS, SECTIONS
from semon.domain.rescue import CauseCategory, RescueState
from semon.domain.scorecard import DEDUCTIONS, UNITS
from semon.store.registry import KINDS as REGISTRY_KINDS

VOCABULARIES: Final[Mapping[str, tuple[str, ...]]] = {
    "alert.kind": get_args(AlertKind),
    "alert.severity": get_args(Severity),
    "alert.state": get_args(AlertState),
    "alert.resolution": get_args(Resolution),
    "equipment.type": get_args(EquipmentType),
    # Elevator event codes (faults among them): shown in fault summaries.
    "elevator.event": tuple(sorted(KNOWN_EVENT_CODES)),
    # What a registry file holds (`semon registry import`).
    "registry.kind": REGISTRY_KINDS,
    "scorecard.deduction": DEDUCTIONS,
    "scorecard.unit": UNITS,
    "eligibility.condition": CONDITIONS,
    "rescue.state": get_args(RescueState),
    "rescue.cause": get_args(CauseCategory),
    "report.figure": FIGURE_KEYS,
    "report.section": SECTIONS,
}


def vocabulary_keys() -> set[str]:
    return {f"{group}.{value}" for group, values in VOCABULARIES.items() for value in values}
