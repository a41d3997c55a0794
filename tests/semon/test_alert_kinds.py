"""The kind table is the one list of alert kinds (severity, which rules raise
it): it must name every kind the contract's AlertKind allows, and no other."""

from __future__ import annotations

from typing import get_args

from semon.domain.alerts import KINDS, AlertKind


def test_kind_table_names_every_contract_kind() -> None:
    assert set(KINDS) == set(get_args(AlertKind))
