"""The `semon` command: one subcommand per process.

Each service is imported lazily inside its subcommand so that the shared
package never depends on a service at import time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path
from typing import Annotated

import typer

from semon.settings import Settings

app = typer.Typer(no_args_is_help=True, add_completion=False, help=__doc__)
db_app = typer.Typer(no_args_is_help=True, help="Schema and storage.")
registry_app = typer.Typer(no_args_is_help=True, help="Registry records.")
token_app = typer.Typer(no_args_is_help=True, help="API tokens.")
broker_app = typer.Typer(no_args_is_help=True, help="Broker credentials and ACL.")
app.add_typer(db_app, name="db")
app.add_typer(registry_app, name="registry")
app.add_typer(token_app, name="token")
app.add_typer(broker_app, name="broker")


def _settings() -> Settings:
    settings = Settings()
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    return settings


def _run(coro: object) -> None:
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(coro)  # type: ignore[arg-type]


def _need_database(settings: Settings) -> None:
    if not settings.database_url:
        typer.echo(
            "DATABASE_URL is not set (only `semon up` starts an embedded database)", err=True
        )
        raise typer.Exit(2)


@app.command()
def up(
    simulate: Annotated[bool, typer.Option(help="Feed a simulated city into the platform.")] = True,
    elevators: Annotated[int, typer.Option(help="Simulated elevators.")] = 300,
    stations: Annotated[int, typer.Option(help="Simulated filling stations.")] = 4,
    seed: Annotated[int, typer.Option(help="Seed of the simulated city.")] = 1,
) -> None:
    """Run everything in one process: embedded database and broker unless
    DATABASE_URL / MQTT_URL are set, then ingest, alerts, API (and a city)."""
    from semon.up import run_up

    _run(run_up(_settings(), simulate=simulate, elevators=elevators, stations=stations, seed=seed))


@app.command()
def ingest() -> None:
    """Subscribe to device topics and store telemetry."""
    from ingest.service import run

    settings = _settings()
    _need_database(settings)
    _run(run(settings))


@app.command()
def alerts() -> None:
    """Run the rule engines and the alert lifecycle."""
    from alerts.service import run

    settings = _settings()
    _need_database(settings)
    _run(run(settings))


@app.command()
def api() -> None:
    """Serve the HTTP API."""
    from api.service import run

    settings = _settings()
    _need_database(settings)
    _run(run(settings))


@app.command()
def simulate(
    elevators: Annotated[int, typer.Option(help="Fleet size.")] = 1000,
    stations: Annotated[int, typer.Option(help="Filling stations.")] = 10,
    seed: Annotated[int, typer.Option(help="City seed.")] = 1,
    rate: Annotated[float, typer.Option(help="Target messages per second; 0 = realistic.")] = 0.0,
    processes: Annotated[int, typer.Option(help="Publisher processes.")] = 1,
    duration: Annotated[float, typer.Option(help="Seconds to run; 0 = until stopped.")] = 0.0,
    ground_truth: Annotated[
        Path | None, typer.Option(help="Write injected incidents here.")
    ] = None,
) -> None:
    """Play a simulated city over MQTT."""
    from simulators.cli import run_simulate

    _run(
        run_simulate(
            _settings(),
            elevators=elevators,
            stations=stations,
            seed=seed,
            rate=rate,
            processes=processes,
            duration=duration,
            ground_truth=ground_truth,
        )
    )


@db_app.command("migrate")
def db_migrate() -> None:
    """Apply missing migrations and the storage policies."""
    from semon.store.commands import migrate_command

    settings = _settings()
    _need_database(settings)
    _run(migrate_command(settings))


@db_app.command("status")
def db_status() -> None:
    """Say which flavour (TimescaleDB or plain PostgreSQL) and which migrations."""
    from semon.store.commands import status_command

    settings = _settings()
    _need_database(settings)
    _run(status_command(settings))


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
    from semon.registry_import import import_command

    settings = _settings()
    _need_database(settings)
    _run(import_command(settings, file, kind))


@token_app.command("create")
def token_create(
    role: Annotated[str, typer.Option(help="admin, dispatcher, maintenance, regulator, station")],
    scope: Annotated[
        list[str] | None, typer.Option(help="District(s), a firm_id or a station_id; none = all.")
    ] = None,
    label: Annotated[str | None, typer.Option(help="Who or what holds it.")] = None,
    allow_unknown_scope: Annotated[
        bool, typer.Option(help="Issue it even if the scope names nothing in the registry.")
    ] = False,
) -> None:
    """Issue an API token; the secret is printed once."""
    from semon.tokens import create_command

    settings = _settings()
    _need_database(settings)
    _run(
        create_command(settings, role, scope or [], label, allow_unknown_scope=allow_unknown_scope)
    )


@token_app.command("revoke")
def token_revoke(token_id: str) -> None:
    """Revoke a token by its id."""
    from semon.tokens import revoke_command

    settings = _settings()
    _need_database(settings)
    _run(revoke_command(settings, token_id))


@broker_app.command("files")
def broker_files(
    out: Annotated[Path, typer.Option(help="Folder for passwd and acl files.")] = Path("mosquitto"),
) -> None:
    """Write Mosquitto password and ACL files from the registry."""
    from semon.broker_files import broker_files_command

    settings = _settings()
    _need_database(settings)
    _run(broker_files_command(settings, out))


@broker_app.command("password")
def broker_password(
    kind: Annotated[str, typer.Argument(help="elevator or station")],
    equipment_id: Annotated[str, typer.Argument(help="The terminal's elevator_id or station_id.")],
) -> None:
    """Print a terminal's MQTT password (derived from SEMON_BROKER__DEVICE_SECRET)."""
    from semon.broker_files import password_command

    password_command(_settings(), kind, equipment_id)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
