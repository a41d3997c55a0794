"""The API's alert reads against a real database: each list filter, the
keyset pages, the scope predicate, one equipment's open alerts and window."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import psycopg
from psycopg import sql

from semon.domain.alerts import AlertDraft
from semon.i18n import msg
from semon.store.alert_reads import alerts_for_equipment, list_alerts
from semon.store.alerts import raise_alert, resolve_condition

T0 = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)


def _draft(district: str, key: str, kind: str, elevator: str, started: datetime) -> AlertDraft:
    return AlertDraft(
        condition_key=f"{district}:{key}",
        kind=kind,
        equipment_type="elevator",
        equipment_id=elevator,
        started_at=started,
        summary=msg("alert.elevator_fault.summary", elevator_id=elevator, code="overspeed"),
        details={},
        district=district,
    )


async def test_lists_filter_page_and_scope(database_url: str) -> None:
    district = f"reads-{uuid.uuid4().hex[:8]}"
    lift_1, lift_2 = f"{district}-E1", f"{district}-E2"
    scope = sql.SQL("a.district = %(district)s")
    params = {"district": district}
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        fault_1, _ = await raise_alert(
            conn,
            _draft(district, "f1", "elevator_fault", lift_1, T0),
            now=T0 + timedelta(seconds=10),
        )
        fault_2, _ = await raise_alert(
            conn,
            _draft(district, "f2", "elevator_fault", lift_2, T0),
            now=T0 + timedelta(seconds=20),
        )
        trap_at = T0 + timedelta(minutes=1)
        trap, _ = await raise_alert(
            conn,
            _draft(district, "t1", "trapped_passenger", lift_1, trap_at),
            now=T0 + timedelta(seconds=30),
        )
        await resolve_condition(
            conn,
            f"{district}:t1",
            now=T0 + timedelta(seconds=40),
            resolution="self_released",
            ended_at=T0 + timedelta(minutes=2),
        )
        await conn.commit()

        async def page(
            scope_params: dict[str, object] = params, limit: int = 10, **filters: object
        ) -> list[dict[str, object]]:
            given = {"state": None, "kind": None, "since": None, "equipment_id": None}
            given |= {"before": None, **filters}
            return await list_alerts(conn, scope, scope_params, limit=limit, **given)  # type: ignore[arg-type]

        async def ids(**filters: object) -> list[str]:
            return [str(r["alert_id"]) for r in await page(**filters)]

        # newest change first
        assert await ids() == [trap.alert_id, fault_2.alert_id, fault_1.alert_id]
        assert await ids(kind="elevator_fault") == [fault_2.alert_id, fault_1.alert_id]
        assert await ids(state="resolved") == [trap.alert_id]
        assert await ids(equipment_id=lift_1) == [trap.alert_id, fault_1.alert_id]
        assert await ids(since=T0 + timedelta(seconds=15)) == [trap.alert_id, fault_2.alert_id]
        assert await ids(kind="elevator_fault", equipment_id=lift_2) == [fault_2.alert_id]
        # a page, then the next from its last row
        first = await page(limit=2)
        last = first[-1]
        rest = await ids(before=(last["updated_at"], last["alert_id"]))
        assert [r["alert_id"] for r in first] + rest == await ids()
        # another district's scope sees none of them
        assert await page({"district": "elsewhere"}) == []

        # one lift: its open alerts; or those overlapping a window
        async def of_lift(**window: object) -> list[str]:
            rows = await alerts_for_equipment(conn, "elevator", lift_1, scope, params, **window)  # type: ignore[arg-type]
            return [r["alert_id"] for r in rows]

        assert await of_lift() == [fault_1.alert_id, trap.alert_id]  # oldest first
        assert await of_lift(open_only=True) == [fault_1.alert_id]
        # the trap ended at T0+2min: a window from T0+3min has only the open fault
        assert await of_lift(start=T0 + timedelta(minutes=3)) == [fault_1.alert_id]
        # ... and one ending before the trap started has only the fault
        assert await of_lift(end=T0 + timedelta(seconds=30)) == [fault_1.alert_id]
        assert await of_lift(start=T0, end=T0 + timedelta(minutes=5)) == [
            fault_1.alert_id,
            trap.alert_id,
        ]
        assert await of_lift(limit=1) == [fault_1.alert_id]
