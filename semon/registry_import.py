"""Bulk registry upserts shared by the API and `semon registry import`.

A batch is validated whole first and written in one transaction: either every
record lands or none does, and a refusal names each failing record by its
index (0-based, in the order given; for a CSV file, the data row number).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import psycopg
from psycopg import AsyncConnection
from pydantic import BaseModel, ValidationError

from semon.domain.registry import future_dates
from semon.i18n import Message, Reader, msg, reader, validation_message
from semon.settings import RecordDateSettings, Settings
from semon.store.registry import (
    KINDS,
    SPECS,
    dedupe,
    missing_ids,
    rescue_codes_taken,
    upsert_rows,
)

# Failures reported at most; past this the message says how many more.
MAX_REPORTED = 200


class RegistryFileError(ValueError):
    """A file or kind that cannot be imported at all; `message` is the catalog
    message, str() the English."""

    def __init__(self, message: Message) -> None:
        self.message = message
        super().__init__(reader("en").render(message))


@dataclass(frozen=True)
class Failure:
    """What is wrong with one record: a catalog message, or a pydantic error
    (translated by its type), and the field it is about."""

    index: int
    field: str | None = None
    message: Message | None = None
    error: Mapping[str, Any] | None = None

    def text(self, speaker: Reader) -> str:
        if self.error is not None:
            what = validation_message(speaker, self.error)
        else:
            what = speaker.render(self.message) if self.message is not None else ""
        return f"{self.field}: {what}" if self.field else what


class RegistryRejected(ValueError):
    """The batch was refused as a whole. `reasons(reader)` lists (index,
    reason) in the reader's language, one entry per record; `failures` is
    the same in English (str() too, for logs)."""

    def __init__(self, problems: list[Failure]) -> None:
        self.problems = problems
        self.failures = self.reasons(reader("en"))
        shown = "; ".join(f"#{i}: {r}" for i, r in self.failures[:5])
        more = f" (and {len(self.failures) - 5} more)" if len(self.failures) > 5 else ""
        super().__init__(f"{len(self.failures)} record(s) rejected: {shown}{more}")

    def reasons(self, speaker: Reader) -> list[tuple[int, str]]:
        by_index: dict[int, list[str]] = {}
        for problem in self.problems:
            by_index.setdefault(problem.index, []).append(problem.text(speaker))
        return [(i, "; ".join(texts)) for i, texts in by_index.items()][:MAX_REPORTED]


def _errors(index: int, exc: ValidationError) -> list[Failure]:
    return [
        Failure(index, ".".join(str(p) for p in err["loc"]) or "record", error=dict(err))
        for err in exc.errors()[:5]
    ]


def validate_records(kind: str, records: Sequence[Any]) -> list[BaseModel]:
    """Every record as its model, or RegistryRejected naming the bad ones."""
    if kind not in SPECS:
        raise RegistryFileError(
            msg("registry.kind_unknown", kind=repr(kind), kinds=", ".join(KINDS))
        )
    model = SPECS[kind].model
    good: list[BaseModel] = []
    failures: list[Failure] = []
    for index, record in enumerate(records):
        if not isinstance(record, dict):
            failures.append(Failure(index, message=msg("registry.reason.not_object")))
            continue
        try:
            good.append(model.model_validate(record))
        except ValidationError as exc:
            failures.extend(_errors(index, exc))
    if failures:
        raise RegistryRejected(failures)
    return good


async def _check_references(conn: AsyncConnection, kind: str, rows: Sequence[BaseModel]) -> None:
    """Inspections and maintenance visits must name known equipment: a typo in
    an id would otherwise record a visit nobody can ever see."""
    if kind not in ("inspections", "maintenance"):
        return
    failures: list[Failure] = []
    if kind == "maintenance":
        wanted = {"elevator": [getattr(r, "elevator_id") for r in rows]}  # noqa: B009
    else:
        wanted = {
            t: [getattr(r, "equipment_id") for r in rows if getattr(r, "equipment_type") == t]  # noqa: B009
            for t in ("elevator", "cylinder")
        }
    missing: dict[str, set[str]] = {}
    for equipment, ids in wanted.items():
        if ids:
            missing[equipment] = await missing_ids(conn, equipment, sorted(set(ids)))
    for index, r in enumerate(rows):
        equipment = "elevator" if kind == "maintenance" else getattr(r, "equipment_type")  # noqa: B009
        ident = getattr(r, "elevator_id" if kind == "maintenance" else "equipment_id")
        if ident in missing.get(equipment, set()):
            failures.append(
                Failure(
                    index,
                    message=msg(
                        "registry.reason.unknown_equipment", equipment=equipment, id=repr(ident)
                    ),
                )
            )
    if failures:
        raise RegistryRejected(failures)


async def _check_rescue_codes(conn: AsyncConnection, kind: str, rows: Sequence[BaseModel]) -> None:
    """A rescue code names one car: refuse a code given twice in the batch or
    held by another elevator (naming the records), rather than fail the write."""
    if kind != "elevators":
        return
    failures: list[Failure] = []
    first: dict[str, str] = {}
    coded = [
        (i, str(getattr(r, "elevator_id")), str(getattr(r, "rescue_code")))  # noqa: B009
        for i, r in enumerate(rows)
        if getattr(r, "rescue_code", None)
    ]
    for index, eid, code in coded:
        if first.setdefault(code, eid) != eid:
            failures.append(
                Failure(index, "rescue_code", msg("registry.reason.code_twice", code=repr(code)))
            )
    if coded:
        taken = await rescue_codes_taken(conn, [c[1] for c in coded], [c[2] for c in coded])
        failures += [
            Failure(i, "rescue_code", msg("registry.reason.code_taken", code=repr(code)))
            for i, _eid, code in coded
            if code in taken
        ]
    if failures:
        raise RegistryRejected(sorted(failures, key=lambda f: f.index))


def _check_text(rows: Sequence[BaseModel]) -> None:
    """PostgreSQL text holds no NUL and only valid UTF-8 (JSON can carry lone
    surrogates): refuse such records by index rather than fail the write."""
    failures: list[Failure] = []
    for index, row in enumerate(rows):
        for name, value in row:
            if not isinstance(value, str):
                continue
            if "\x00" in value:
                failures.append(Failure(index, name, msg("registry.reason.nul")))
                break
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                failures.append(Failure(index, name, msg("registry.reason.not_utf8")))
                break
    if failures:
        raise RegistryRejected(failures)


def _check_dates(rows: Sequence[BaseModel], latest: date) -> None:
    """No record of something done may be dated after ``latest``."""
    failures = [
        Failure(index, name, reason)
        for index, row in enumerate(rows)
        for name, reason in future_dates(row, latest)
    ]
    if failures:
        raise RegistryRejected(failures)


async def upsert_models(
    conn: AsyncConnection, kind: str, rows: Sequence[BaseModel], *, latest: date | None = None
) -> int:
    """Write already-validated records, all or nothing; returns how many were
    given. ``latest``: the latest date a record may carry (default: today and
    the default tolerance, RecordDateSettings)."""
    if not rows:
        return 0
    _check_text(rows)
    _check_dates(rows, latest or RecordDateSettings().latest())
    spec = SPECS[kind]
    async with conn.transaction():
        await _check_references(conn, kind, rows)
        await _check_rescue_codes(conn, kind, rows)
        unique = dedupe(spec, rows)
        # Inspections reach the equipment's base date through the triggers
        # of migration 0040 (a fail never renews it), not from here.
        await upsert_rows(conn, kind, unique)
    return len(rows)


async def upsert_records(
    conn: AsyncConnection, kind: str, records: list[dict[str, Any]], *, latest: date | None = None
) -> int:
    """Validate and write records of `kind`, all or nothing.

    Raises RegistryRejected(failures) when any record is invalid, dated in
    the future or names unknown equipment; nothing is written then.
    """
    rows = validate_records(kind, records)
    return await upsert_models(conn, kind, rows, latest=latest)


def guess_kind(path: Path) -> str:
    stem = path.name.lower()
    for kind in KINDS:
        if kind in stem:
            return kind
    if "maint" in stem:
        return "maintenance"
    raise RegistryFileError(
        msg("registry.kind_unguessable", file=path.name, kinds=", ".join(KINDS))
    )


def read_records(path: Path) -> list[dict[str, Any]]:
    """Records from a JSON array (or {"records": [...]}) or a CSV file with a
    header row; empty CSV cells mean "not given"."""
    text = path.read_text(encoding="utf-8-sig")
    if path.suffix.lower() == ".json" or text.lstrip().startswith(("[", "{")):
        data = json.loads(text)
        if isinstance(data, dict) and isinstance(data.get("records"), list):
            data = data["records"]
        if not isinstance(data, list):
            raise RegistryFileError(msg("registry.json_not_array"))
        return data
    reader = csv.DictReader(io.StringIO(text))
    return [{k.strip(): v for k, v in row.items() if k and v not in (None, "")} for row in reader]


async def import_file(settings: Settings, path: Path, kind: str | None = None) -> int:
    """Import one file in one transaction; returns the number of records."""
    kind = kind or guess_kind(path)
    return (await import_files(settings, [(path, kind)]))[kind]


async def import_files(settings: Settings, files: Sequence[tuple[Path, str]]) -> dict[str, int]:
    """Import several files (in reference order) in one transaction, all or
    nothing: no reader ever sees half a registry (the alerts sweep would page
    every elevator whose maintenance records are not in yet). Records per kind."""
    for _path, kind in files:
        if kind not in SPECS:
            raise RegistryFileError(
                msg("registry.kind_unknown", kind=repr(kind), kinds=", ".join(KINDS))
            )
    counts: dict[str, int] = {}
    async with (
        await psycopg.AsyncConnection.connect(settings.database_url) as conn,
        # The outer block: a kind's own transaction block becomes a savepoint.
        conn.transaction(),
    ):
        for path, kind in files:
            counts[kind] = await upsert_records(
                conn, kind, read_records(path), latest=settings.record_dates.latest()
            )
    return counts
