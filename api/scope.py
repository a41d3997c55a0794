"""What a principal may see, as predicates for each query's WHERE clause.

A route receives its caller's `Scope` by dependency (``scope: ScopeDep``) and
hands a predicate to the store: an object outside the scope is simply not
found, so it answers 404 exactly like a missing one.

Each predicate is ``(SQL, params)`` on one table's rows under an alias, with
*named* placeholders (``%(scope_…)s``): a query that includes one passes its
own parameters by name too and merges the dict.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends
from psycopg import sql

from api.auth import CurrentPrincipal
from semon.tokens import Role

Params = dict[str, Any]
Predicate = tuple[sql.Composable, Params]

_TRUE = sql.SQL("TRUE")
_FALSE = sql.SQL("FALSE")


def _col(alias: str, column: str) -> sql.Composable:
    return sql.Identifier(alias, column) if alias else sql.Identifier(column)


def _in_districts(alias: str, column: str, districts: list[str]) -> Predicate:
    return sql.SQL("{} = ANY(%(scope_districts)s)").format(_col(alias, column)), {
        "scope_districts": districts
    }


def _equals(alias: str, column: str, param: str, value: str) -> Predicate:
    return sql.SQL("{} = %({})s").format(_col(alias, column), sql.SQL(param)), {param: value}


@dataclass(frozen=True)
class Scope:
    """A role and what it is limited to: districts (dispatcher, regulator;
    none = all), one firm (maintenance), one station (station), one use unit
    (use_unit: the owner of the equipment); admin sees all."""

    role: Role
    items: tuple[str, ...]

    @property
    def firm_id(self) -> str | None:
        """The firm a maintenance principal is limited to."""
        return self.items[0] if self.role == "maintenance" else None

    @property
    def use_unit(self) -> str | None:
        """The use unit a use_unit principal is limited to."""
        return self.items[0] if self.role == "use_unit" else None

    def elevators(self, alias: str = "e") -> Predicate:
        """On an `elevators` row: dispatcher/regulator by district,
        maintenance by firm, use unit by owner, station none, admin all."""
        return self._own_columns(alias, use_unit=True) or (_FALSE, {})

    def cylinders(self, alias: str = "c") -> Predicate:
        """On a `cylinders` row: station by owner, dispatcher/regulator by the
        owner station's district, maintenance none, admin all."""
        role, items = self.role, list(self.items)
        if role == "admin":
            return _TRUE, {}
        if role == "station":
            return _equals(alias, "owner_station_id", "scope_station", items[0])
        if role in ("dispatcher", "regulator"):
            if not items:
                return _TRUE, {}
            return sql.SQL(
                "EXISTS (SELECT 1 FROM stations scope_s WHERE scope_s.station_id = {}"
                " AND scope_s.district = ANY(%(scope_districts)s))"
            ).format(_col(alias, "owner_station_id")), {"scope_districts": items}
        return _FALSE, {}

    def rescues(self, alias: str = "r") -> Predicate:
        """On a `rescues` row, read from its own scope columns: dispatcher and
        regulator by district, maintenance by firm, station none, admin all."""
        return self._own_columns(alias, use_unit=False) or (_FALSE, {})

    def _own_columns(self, alias: str, *, use_unit: bool) -> Predicate | None:
        """The predicate on a row that carries its own scope columns
        (district, firm_id, use_unit); None for a station, whose rule each
        kind of row states itself."""
        role, items = self.role, list(self.items)
        if role == "admin":
            return _TRUE, {}
        if role in ("dispatcher", "regulator"):
            if not items:
                return _TRUE, {}
            return _in_districts(alias, "district", items)
        if role == "maintenance":
            return _equals(alias, "firm_id", "scope_firm", items[0])
        if role == "use_unit":
            if not use_unit:
                return _FALSE, {}
            return _equals(alias, "use_unit", "scope_use_unit", items[0])
        return None

    def alerts(self, alias: str = "a") -> Predicate:
        """On an `alerts` row, read from its own scope columns."""
        own = self._own_columns(alias, use_unit=True)
        if own is not None:
            return own
        items = list(self.items)
        # A station sees alerts filed under it and every alert about a cylinder it owns.
        return sql.SQL(
            "({sid} = %(scope_station)s OR ({etype} = 'cylinder' AND EXISTS (SELECT 1 FROM"
            " cylinders scope_c WHERE scope_c.cylinder_id = {eid} AND scope_c.owner_station_id"
            " = %(scope_station)s)))"
        ).format(
            sid=_col(alias, "station_id"),
            etype=_col(alias, "equipment_type"),
            eid=_col(alias, "equipment_id"),
        ), {"scope_station": items[0]}

    def hazards(self, alias: str = "h") -> Predicate:
        """On a `hazards` row, from the scope columns copied when it was found."""
        own = self._own_columns(alias, use_unit=True)
        if own is not None:
            return own
        return _equals(alias, "station_id", "scope_station", self.items[0])


async def current_scope(principal: CurrentPrincipal) -> Scope:
    """The caller's scope (401 without a live token, like the principal)."""
    return Scope(role=principal.role, items=principal.scope)


ScopeDep = Annotated[Scope, Depends(current_scope)]
