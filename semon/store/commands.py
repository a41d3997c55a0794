"""`semon db migrate` and `semon db status`."""

from __future__ import annotations

import psycopg
import typer

from semon.settings import Settings
from semon.store.maintenance import apply_policies
from semon.store.migrate import FlavourUnavailable, current_flavour, migrate, migrations_for

_TIMESCALE_VERSION = "SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'"


async def migrate_database(dsn: str, settings: Settings) -> tuple[str, list[int]]:
    """Migrate and apply the storage policies; FlavourUnavailable (nothing
    built) when the server offers TimescaleDB but cannot create it."""
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        flavour, applied = await migrate(conn, settings.storage.flavour)
        await apply_policies(conn, flavour, settings.storage)
    return flavour, applied


async def migrate_command(settings: Settings) -> None:
    try:
        flavour, applied = await migrate_database(settings.database_url, settings)
    except FlavourUnavailable as exc:
        typer.echo(f"semon db migrate: {exc}", err=True)
        raise typer.Exit(1) from None
    if applied:
        typer.echo(f"{flavour}: applied {', '.join(f'{v:04d}' for v in applied)}")
    else:
        typer.echo(f"{flavour}: up to date")


async def status_command(settings: Settings) -> None:
    async with await psycopg.AsyncConnection.connect(
        settings.database_url, autocommit=True
    ) as conn:
        flavour = await current_flavour(conn)
        if flavour is None:
            typer.echo("not migrated yet: run `semon db migrate`")
            raise typer.Exit(1)
        cur = await conn.execute("SELECT version FROM schema_migrations ORDER BY version")
        done = [r[0] for r in await cur.fetchall()]
        pending = [m.version for m in migrations_for(flavour) if m.version not in done]
        server = (await (await conn.execute("SHOW server_version")).fetchone() or ["?"])[0]
        if flavour == "timescale":
            ext = await (await conn.execute(_TIMESCALE_VERSION)).fetchone()
            label = f"TimescaleDB {ext[0] if ext else '(extension missing!)'} (hypertables)"
        else:
            label = "plain PostgreSQL (native partitions)"
        typer.echo(f"flavour: {label}")
        typer.echo(f"server: PostgreSQL {server}")
        typer.echo(f"applied: {', '.join(f'{v:04d}' for v in done)}")
        typer.echo(f"pending: {', '.join(f'{v:04d}' for v in pending) or 'none'}")
