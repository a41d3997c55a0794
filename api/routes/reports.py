"""The regulator's monthly report (CONTRACT.md v1.1 "Reports, map,
language") as JSON, CSV or XLSX: one figure a row, composed from the same
store functions the statistics routes answer from, under the same scope, so
each figure equals its route's for the same scope and window. Headings are
catalog words (regulator.po) in the caller's language."""

from __future__ import annotations

import asyncio
import csv
import io
import re
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import Response
from openpyxl import Workbook
from openpyxl.styles import Font
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool
from pydantic import BaseModel, Field

from api.auth import require_roles
from api.deps import PoolDep, SettingsDep
from api.routes.coverage import coverage_for, coverage_moment
from api.routes.stats import hazard_stats_for
from api.scope import Scope, ScopeDep
from semon.domain.report import FIGURES
from semon.i18n import Reader, msg, reader_for
from semon.settings import Settings
from semon.store import stats as store
from semon.store.rescue_stats import rescue_figures
from semon.store.stats import Equipment, Scoped

router = APIRouter(tags=["reports"])

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
Format = Literal["json", "csv", "xlsx"]


class Figure(BaseModel):
    section: str = Field(examples=["coverage"])
    key: str = Field(examples=["elevator_insurance_rate"])
    label: str = Field(description="the heading, in the caller's language")
    value: float | int | None = Field(examples=[0.93])


class MonthlyReport(BaseModel):
    month: str = Field(examples=["2026-11"])
    district: str | None = Field(description="null: every district in scope")
    title: str
    from_: date = Field(alias="from", description="first day of the month")
    to: date = Field(description="first day of the next month (exclusive)")
    as_of: date = Field(description="the day counts and rates are judged on")
    figures: list[Figure]
    illegal_fillings_by_kind: dict[str, int]
    rescue_by_cause: dict[str, float] = Field(
        description="share of each cause among the month's rescues with one"
    )


def month_window(month: str) -> tuple[date, date]:
    m = _MONTH.fullmatch(month)
    if not m or not 1 <= int(m.group(2)) <= 12 or int(m.group(1)) < 1900:
        raise HTTPException(422, msg("regulator.problem.month"))
    start = date(int(m.group(1)), int(m.group(2)), 1)
    end = date(start.year + start.month // 12, start.month % 12 + 1, 1)
    return start, end


def narrowed(scope: Scope, district: str | None) -> Scope:
    """The caller's scope, narrowed to one district where asked (404 when the
    district is outside it, as if it did not exist)."""
    if district is None:
        return scope
    if scope.items and district not in scope.items:
        raise HTTPException(404, msg("regulator.problem.district_out_of_scope"))
    return Scope(role="regulator", items=(district,))


def as_of_day(end: date) -> date:
    """The month's end (the first of the next), or today for the month running."""
    return min(end, datetime.now(UTC).date())


# Each figure: "result.field", the statistics result it is read from
# (compose's calls) and the field of that result's overall figures.
_READ: dict[str, str] = {
    "elevators_in_service": "lifts.total",
    "cylinders_in_service": "cylinders.total",
    "elevator_insurance_rate": "lift_insurance.rate",
    "elevator_iot_rate": "lift_iot.rate",
    "cylinder_tag_rate": "cylinder_tag.rate",
    "cylinder_insurance_rate": "cylinder_insurance.rate",
    # the trapped-passenger alerts started in the month
    "traps": "alerts.count",
    "ack_median_s": "alerts.ack_median_s",
    "on_site_median_s": "alerts.on_site_median_s",
    "resolved_median_s": "alerts.resolved_median_s",
    "on_site_within_30min_share": "alerts.on_site_within_30min_share",
    "false_alarm_share": "alerts.false_alarm_share",
    # the work order's figures (the rescues opened in the month)
    "rescues": "orders.rescues",
    "dispatched_within_5min": "orders.dispatched_within_5min",
    "open_to_dispatch_median_s": "orders.open_to_dispatch_median_s",
    "dispatch_to_on_site_median_s": "orders.dispatch_to_on_site_median_s",
    "on_site_to_freed_median_s": "orders.on_site_to_freed_median_s",
    "on_site_within_30min": "orders.on_site_within_30min",
    "people_freed": "orders.people_freed",
    "injured": "orders.injured",
    "escalations": "orders.escalations",
    "elevator_overdue_rate": "lifts.rate",
    "elevator_failed_in_use_rate": "lifts.failed_in_use_rate",
    "cylinder_overdue_rate": "cylinders.rate",
    "cylinder_failed_in_use_rate": "cylinders.failed_in_use_rate",
    "maintenance_overdue_rate": "maintenance.rate",
    "illegal_fillings": "illegal.total",
    "hazards_found": "hazards.found",
    "hazards_rectified": "hazards.rectified",
    "hazards_overdue": "hazards.overdue",
    "serious_rectification_rate": "hazards.serious_rectification_rate",
    "self_check_rate": "hazards.self_check_rate",
}


def _midnight(d: date) -> datetime:
    return datetime(d.year, d.month, d.day, tzinfo=UTC)


async def compose(
    pool: AsyncConnectionPool[AsyncConnection],
    scope: Scope,
    settings: Settings,
    start: date,
    end: date,
) -> dict[str, Any]:
    """Every figure of the report, by key, from the statistics store functions.

    The store calls are independent: each runs on a pooled connection of its
    own, concurrently, so the report costs about its slowest figures rather
    than their sum."""
    as_of = as_of_day(end)
    moment = coverage_moment(as_of)
    lifts, alerts = scope.elevators("e"), scope.alerts("a")
    r_where, r_params = scope.rescues("r")

    async def on_own_connection(call: Callable[[AsyncConnection], Awaitable[Any]]) -> Any:
        async with pool.connection() as conn:
            return await call(conn)

    def cover(metric: str, equipment: str) -> Callable[[AsyncConnection], Awaitable[Any]]:
        return lambda conn: coverage_for(conn, scope, metric, equipment, "district", moment)

    def overdue(equipment: Equipment, rows: Scoped) -> Callable[[AsyncConnection], Awaitable[Any]]:
        return lambda conn: store.overdue_inspections(
            conn, equipment=equipment, group_by="district", at=as_of, scope=rows
        )

    calls: dict[str, Callable[[AsyncConnection], Awaitable[Any]]] = {
        "lifts": overdue("elevator", lifts),
        "cylinders": overdue("cylinder", scope.cylinders("c")),
        "lift_insurance": cover("insurance", "elevator"),
        "lift_iot": cover("iot", "elevator"),
        "cylinder_tag": cover("tag", "cylinder"),
        "cylinder_insurance": cover("insurance", "cylinder"),
        "alerts": lambda conn: store.rescue(
            conn,
            group_by="district",
            since=_midnight(start),
            until=_midnight(end),
            scope=alerts[0],
            params=alerts[1],
        ),
        "maintenance": lambda conn: store.maintenance_overdue(
            conn,
            group_by="district",
            at=as_of,
            default_days=settings.alerts.default_maintenance_interval_days,
            scope=lifts,
        ),
        "illegal": lambda conn: store.illegal_fillings(
            conn, since=_midnight(start), until=_midnight(end), scope=alerts
        ),
        "hazards": lambda conn: hazard_stats_for(conn, scope, "district", start, end),
        "orders": lambda conn: rescue_figures(
            conn,
            group_by="district",
            since=_midnight(start),
            until=_midnight(end),
            scope=r_where,
            params=r_params,
        ),
    }
    results = await asyncio.gather(*(on_own_connection(c) for c in calls.values()))
    done = dict(zip(calls, results, strict=True))
    illegal, (_, orders) = done.pop("illegal"), done.pop("orders")
    overall = {name: result["overall"] for name, result in done.items()}
    overall |= {"illegal": illegal, "orders": orders}  # their figures at the top
    values: dict[str, Any] = {}
    for key, source in _READ.items():
        result, field = source.split(".")
        values[key] = overall[result][field]
    return {
        "as_of": as_of,
        "values": values,
        "illegal_by_kind": illegal["by_kind"],
        "rescue_by_cause": orders["by_cause"],
    }


def _choose_format(request: Request, asked: Format | None) -> Format:
    if asked is not None:
        return asked
    accept = request.headers.get("accept", "")
    if XLSX in accept:
        return "xlsx"
    if "text/csv" in accept:
        return "csv"
    return "json"


def _rows(report: MonthlyReport, t: Reader) -> list[list[Any]]:
    rows: list[list[Any]] = [
        [t.label("report.section", f.section), f.label, f.value] for f in report.figures
    ]
    fillings = t.label("report.section", "fillings")
    rows += [
        [fillings, t.label("alert.kind", kind), n]
        for kind, n in report.illegal_fillings_by_kind.items()
    ]
    rescue = t.label("report.section", "rescue")
    rows += [
        [rescue, t.label("rescue.cause", cause), share]
        for cause, share in report.rescue_by_cause.items()
    ]
    return rows


def _header(t: Reader) -> list[str]:
    return [t.t("report.column.section"), t.t("report.column.figure"), t.t("report.column.value")]


def _csv(report: MonthlyReport, t: Reader) -> bytes:
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow([report.title])
    w.writerow([t.t("report.as_of", day=report.as_of.isoformat())])
    w.writerow(_header(t))
    w.writerows(_rows(report, t))
    # BOM: spreadsheet programs read the Chinese headings as UTF-8 only with it
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def _xlsx(report: MonthlyReport, t: Reader) -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.title = report.month
    ws.append([report.title])
    ws["A1"].font = Font(bold=True, size=14)
    ws.append([t.t("report.as_of", day=report.as_of.isoformat())])
    ws.append(_header(t))
    for cell in ws[3]:
        cell.font = Font(bold=True)
    for row in _rows(report, t):
        ws.append(row)
    ws.column_dimensions["A"].width = 22
    ws.column_dimensions["B"].width = 44
    ws.column_dimensions["C"].width = 14
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


@router.get(
    "/reports/monthly",
    response_model=MonthlyReport,
    responses={
        200: {
            "content": {"text/csv": {}, XLSX: {}},
            "description": "JSON, or CSV / XLSX by `format` or `Accept`",
        },
        404: {"description": "district not in scope"},
    },
    dependencies=[require_roles("admin", "regulator")],
)
async def monthly(
    request: Request,
    scope: ScopeDep,
    pool: PoolDep,
    settings: SettingsDep,
    month: Annotated[
        str,
        Query(
            description="YYYY-MM",
            examples=["2026-11"],
            # What month_window accepts, said in the document (checked there,
            # with the catalog's message).
            json_schema_extra={"pattern": r"^(19|[2-9][0-9])[0-9]{2}-(0[1-9]|1[0-2])$"},
        ),
    ],
    district: Annotated[
        str | None, Query(min_length=1, max_length=64, pattern=r"^[^\x00-\x1f\x7f-\x9f]+$")
    ] = None,
    format: Format | None = None,  # the contract's parameter name
) -> Any:
    """The month's figures for the districts in scope (or one of them)."""
    start, end = month_window(month)
    fmt = _choose_format(request, format)
    within = narrowed(scope, district)
    composed = await compose(pool, within, settings, start, end)
    t = reader_for(settings.i18n, request.headers.get("accept-language"))
    title = t.t("report.title", month=month)
    named = district or ", ".join(scope.items)
    if named:
        title += " · " + t.t("report.scope.district", district=named)
    else:
        title += " · " + t.t("report.scope.all")
    report = MonthlyReport.model_validate(
        {
            "month": month,
            "district": district,
            "title": title,
            "from": start,
            "to": end,
            "as_of": composed["as_of"],
            "figures": [
                {
                    "section": section,
                    "key": key,
                    "label": t.label("report.figure", key),
                    "value": composed["values"][key],
                }
                for section, key in FIGURES
            ],
            "illegal_fillings_by_kind": composed["illegal_by_kind"],
            "rescue_by_cause": composed["rescue_by_cause"],
        }
    )
    filename = f"semon-report-{month}"  # ASCII: a district's name may not be
    if fmt == "csv":
        return Response(
            _csv(report, t),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{filename}.csv"'},
        )
    if fmt == "xlsx":
        return Response(
            _xlsx(report, t),
            media_type=XLSX,
            headers={"Content-Disposition": f'attachment; filename="{filename}.xlsx"'},
        )
    return report
