"""The one-off commands: `semon db`, `semon registry`, `semon token`,
`semon broker`. Each does its work through the shared package and says
what it did on the console; a refusal goes to stderr with a non-zero exit."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import psycopg
import typer

from cli.process import load_settings, need_database, run
from semon.broker_files import BrokerFilesError, device_password, write_broker_files
from semon.registry_import import RegistryRejected, guess_kind, import_file
from semon.settings import Settings
from semon.store.commands import migrate_database, schema_status
from semon.store.migrate import FlavourUnavailable
from semon.tokens import TokenError, UnknownScope, check_grant, create_token, revoke_token

db_app = typer.Typer(no_args_is_help=True, help="Schema and storage.")
registry_app = typer.Typer(no_args_is_help=True, help="Registry records.")
token_app = typer.Typer(no_args_is_help=True, help="API tokens.")
broker_app = typer.Typer(no_args_is_help=True, help="Broker credentials and ACL.")


def _versions(versions: list[int]) -> str:
    return ", ".join(f"{v:04d}" for v in versions)


def _database_settings() -> Settings:
    settings = load_settings()
    need_database(settings)
    return settings


@db_app.command("migrate")
def db_migrate() -> None:
    """Apply missing migrations and the storage policies."""
    settings = _database_settings()

    async def migrate() -> None:
        try:
            flavour, applied = await migrate_database(settings.database_url, settings)
        except FlavourUnavailable as exc:
            typer.echo(f"semon db migrate: {exc}", err=True)
            raise typer.Exit(1) from None
        done = f"applied {_versions(applied)}" if applied else "up to date"
        typer.echo(f"{flavour}: {done}")

    run(migrate())


@db_app.command("status")
def db_status() -> None:
    """Say which flavour (TimescaleDB or plain PostgreSQL) and which migrations."""
    settings = _database_settings()

    async def status() -> None:
        found = await schema_status(settings.database_url)
        if found is None:
            typer.echo("not migrated yet: run `semon db migrate`")
            raise typer.Exit(1)
        if found.flavour == "timescale":
            ext = found.timescale_version or "(extension missing!)"
            label = f"TimescaleDB {ext} (hypertables)"
        else:
            label = "plain PostgreSQL (native partitions)"
        typer.echo(f"flavour: {label}")
        typer.echo(f"server: PostgreSQL {found.server_version}")
        typer.echo(f"applied: {_versions(found.applied)}")
        typer.echo(f"pending: {_versions(found.pending) or 'none'}")

    run(status())


@registry_app.command("import")
def registry_import(
    file: Annotated[Path, typer.Argument(help="CSV or JSON file of records.")],
    kind: Annotated[
        str | None,
        typer.Option(
            help="elevators, cylinders, firms, stations, inspections, maintenance; "
            "guessed from the file name when omitted."
        ),
    ] = None,
) -> None:
    """Bulk-upsert registry records from a file (all-or-nothing)."""
    settings = _database_settings()

    async def import_() -> None:
        try:
            count = await import_file(settings, file, kind)
        except RegistryRejected as exc:
            typer.echo(f"rejected, nothing imported: {len(exc.failures)} bad record(s)", err=True)
            for index, reason in exc.failures:
                typer.echo(f"  record {index}: {reason}", err=True)
            raise typer.Exit(1) from None
        except (ValueError, OSError) as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from None
        typer.echo(f"imported {count} {kind or guess_kind(file)} record(s) from {file}")

    run(import_())


@token_app.command("create")
def token_create(
    role: Annotated[
        str, typer.Option(help="admin, dispatcher, maintenance, regulator, station, use_unit")
    ],
    scope: Annotated[
        list[str] | None, typer.Option(help="District(s), a firm_id or a station_id; none = all.")
    ] = None,
    label: Annotated[str | None, typer.Option(help="Who or what holds it.")] = None,
    allow_unknown_scope: Annotated[
        bool, typer.Option(help="Issue it even if the scope names nothing in the registry.")
    ] = False,
) -> None:
    """Issue an API token; the secret is printed once."""
    settings = _database_settings()
    items = scope or []
    try:
        check_grant(role, items)
    except TokenError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None

    async def create() -> None:
        try:
            async with await psycopg.AsyncConnection.connect(settings.database_url) as conn:
                token_id, secret = await create_token(
                    conn, role, items, label, allow_unknown_scope=allow_unknown_scope
                )
                await conn.commit()
        except UnknownScope as exc:
            typer.echo(f"error: {exc} (--allow-unknown-scope issues it anyway)", err=True)
            raise typer.Exit(2) from None
        typer.echo(f"token_id: {token_id}")
        typer.echo(f"secret:   {secret}")
        typer.echo("(the secret is shown once; send it as `Authorization: Bearer <secret>`)")

    run(create())


@token_app.command("revoke")
def token_revoke(token_id: str) -> None:
    """Revoke a token by its id."""
    settings = _database_settings()

    async def revoke() -> None:
        async with await psycopg.AsyncConnection.connect(settings.database_url) as conn:
            done = await revoke_token(conn, token_id)
            await conn.commit()
        if not done:
            typer.echo(f"no live token {token_id!r}", err=True)
            raise typer.Exit(1)
        typer.echo(f"revoked {token_id}")

    run(revoke())


@broker_app.command("files")
def broker_files(
    out: Annotated[Path, typer.Option(help="Folder for passwd and acl files.")] = Path("mosquitto"),
) -> None:
    """Write Mosquitto password and ACL files from the registry."""
    settings = _database_settings()

    async def write() -> None:
        try:
            devices, services = await write_broker_files(settings, out)
        except BrokerFilesError as exc:
            typer.echo(str(exc), err=True)
            raise typer.Exit(2) from None
        typer.echo(
            f"wrote {out / 'passwd'} and {out / 'acl'}: {devices} terminals,"
            f" {services} service users (reload Mosquitto with SIGHUP to apply)"
        )

    run(write())


@broker_app.command("password")
def broker_password(
    kind: Annotated[str, typer.Argument(help="elevator or station")],
    equipment_id: Annotated[str, typer.Argument(help="The terminal's elevator_id or station_id.")],
) -> None:
    """Print a terminal's MQTT password (derived from SEMON_BROKER__DEVICE_SECRET)."""
    settings = load_settings()
    try:
        typer.echo(device_password(settings.broker.device_secret, kind, equipment_id))
    except BrokerFilesError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
