"""The one-off commands: `semon db`, `semon registry`, `semon token`,
`semon broker`. Each does its work through the shared package and says
what it did on the console; a refusal goes to stderr with a non-zero exit.
Their `--help` is the catalogs' (cli.po, `cli.help.*`), as in cli/main.py."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import psycopg
import typer

from cli.process import HelpGroup, help_reader, load_settings, need_database, run, speaker
from semon.broker_files import KINDS as TERMINAL_KINDS
from semon.broker_files import BrokerFilesError, device_password, write_broker_files
from semon.i18n import Message, msg
from semon.registry_import import RegistryFileError, RegistryRejected, guess_kind, import_file
from semon.settings import Settings
from semon.store.commands import migrate_database, schema_status
from semon.store.migrate import FlavourUnavailable
from semon.store.registry import KINDS as REGISTRY_KINDS
from semon.tokens import (
    ROLES,
    TokenError,
    UnknownScope,
    check_grant,
    create_token,
    revoke_token,
)

# The reader of `--help` (every help= below is a catalog text in its language).
help_words = help_reader()

db_app = typer.Typer(cls=HelpGroup, no_args_is_help=True, help=help_words.t("cli.help.db"))
registry_app = typer.Typer(
    cls=HelpGroup, no_args_is_help=True, help=help_words.t("cli.help.registry")
)
token_app = typer.Typer(cls=HelpGroup, no_args_is_help=True, help=help_words.t("cli.help.token"))
broker_app = typer.Typer(cls=HelpGroup, no_args_is_help=True, help=help_words.t("cli.help.broker"))


def _versions(versions: list[int]) -> str:
    return ", ".join(f"{v:04d}" for v in versions)


def _database_settings() -> Settings:
    settings = load_settings()
    need_database(settings)
    return settings


@db_app.command("migrate", help=help_words.t("cli.help.db.migrate"))
def db_migrate() -> None:
    """Apply missing migrations and the storage policies."""
    settings = _database_settings()
    t = speaker(settings).t

    async def migrate() -> None:
        try:
            flavour, applied = await migrate_database(settings.database_url, settings)
        except FlavourUnavailable as exc:
            reason = speaker(settings).render(exc.message)
            typer.echo(t("cli.refused", command="semon db migrate", reason=reason), err=True)
            raise typer.Exit(1) from None
        if applied:
            typer.echo(t("cli.db.applied", flavour=flavour, versions=_versions(applied)))
        else:
            typer.echo(t("cli.db.up_to_date", flavour=flavour))

    run(migrate())


@db_app.command("status", help=help_words.t("cli.help.db.status"))
def db_status() -> None:
    """Say which flavour (TimescaleDB or plain PostgreSQL) and which migrations."""
    settings = _database_settings()
    t = speaker(settings).t

    async def status() -> None:
        found = await schema_status(settings.database_url)
        if found is None:
            typer.echo(t("cli.db.not_migrated"))
            raise typer.Exit(1)
        if found.flavour == "timescale":
            version = found.timescale_version or t("cli.db.extension_missing")
            typer.echo(t("cli.db.flavour_timescale", version=version))
        else:
            typer.echo(t("cli.db.flavour_postgres"))
        typer.echo(t("cli.db.server", version=found.server_version))
        typer.echo(t("cli.db.applied_list", versions=_versions(found.applied)))
        pending = _versions(found.pending) or t("cli.db.none")
        typer.echo(t("cli.db.pending", versions=pending))

    run(status())


@registry_app.command("import", help=help_words.t("cli.help.registry.import"))
def registry_import(
    file: Annotated[Path, typer.Argument(help=help_words.t("cli.help.registry.import.file"))],
    kind: Annotated[
        str | None,
        typer.Option(
            help=help_words.t("cli.help.registry.import.kind", kinds=", ".join(REGISTRY_KINDS))
        ),
    ] = None,
) -> None:
    """Bulk-upsert registry records from a file (all-or-nothing)."""
    settings = _database_settings()
    t = speaker(settings).t

    async def import_() -> None:
        try:
            count = await import_file(settings, file, kind)
        except RegistryRejected as exc:
            typer.echo(t("cli.registry.rejected", count=len(exc.failures)), err=True)
            for index, reason in exc.reasons(speaker(settings)):
                typer.echo("  " + t("cli.registry.record", index=index, reason=reason), err=True)
            raise typer.Exit(1) from None
        except RegistryFileError as exc:
            typer.echo(t("cli.error", error=speaker(settings).render(exc.message)), err=True)
            raise typer.Exit(2) from None
        except (ValueError, OSError) as exc:
            typer.echo(t("cli.error", error=str(exc)), err=True)
            raise typer.Exit(2) from None
        what = kind or guess_kind(file)
        typer.echo(t("cli.registry.imported", count=count, kind=what, file=str(file)))

    run(import_())


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


class _BadExpiry(ValueError):
    def __init__(self, message: Message) -> None:
        super().__init__(message.key)
        self.message = message


def _expiry(text: str | None) -> datetime | None:
    """`--expires-in` as an instant: 90d, 12h, 30m, 45s or plain seconds."""
    if text is None:
        return None
    number, unit = (text[:-1], text[-1]) if text[-1:] in _UNITS else (text, "s")
    if not number.isdigit() or int(number) <= 0:
        raise _BadExpiry(msg("cli.token.expiry_not_duration", text=text))
    seconds = int(number) * _UNITS[unit]
    if seconds > 20 * 365 * 86400:
        raise _BadExpiry(msg("cli.token.expiry_too_long", text=text))
    return datetime.now(UTC) + timedelta(seconds=seconds)


@token_app.command("create", help=help_words.t("cli.help.token.create"))
def token_create(
    role: Annotated[
        str, typer.Option(help=help_words.t("cli.help.token.create.role", roles=", ".join(ROLES)))
    ],
    scope: Annotated[
        list[str] | None, typer.Option(help=help_words.t("cli.help.token.create.scope"))
    ] = None,
    label: Annotated[
        str | None, typer.Option(help=help_words.t("cli.help.token.create.label"))
    ] = None,
    allow_unknown_scope: Annotated[
        bool, typer.Option(help=help_words.t("cli.help.token.create.allow_unknown_scope"))
    ] = False,
    expires_in: Annotated[
        str | None, typer.Option(help=help_words.t("cli.help.token.create.expires_in"))
    ] = None,
) -> None:
    """Issue an API token; the secret is printed once."""
    settings = _database_settings()
    words = speaker(settings)
    items = scope or []
    try:
        expires_at = _expiry(expires_in)
    except _BadExpiry as exc:
        raise typer.BadParameter(words.render(exc.message), param_hint="'--expires-in'") from None
    try:
        check_grant(role, items)
    except TokenError as exc:
        typer.echo(words.t("cli.error", error=words.render(exc.message)), err=True)
        raise typer.Exit(2) from None

    async def create() -> None:
        try:
            async with await psycopg.AsyncConnection.connect(settings.database_url) as conn:
                token_id, secret = await create_token(
                    conn,
                    role,
                    items,
                    label,
                    allow_unknown_scope=allow_unknown_scope,
                    expires_at=expires_at,
                )
                await conn.commit()
        except UnknownScope as exc:
            reason = words.render(exc.message)
            typer.echo(words.t("cli.token.scope_unknown", reason=reason), err=True)
            raise typer.Exit(2) from None
        except TokenError as exc:  # a label or an expiry it cannot take
            typer.echo(words.t("cli.error", error=words.render(exc.message)), err=True)
            raise typer.Exit(2) from None
        # Field names as they are: scripts read these two lines.
        typer.echo(f"token_id: {token_id}")
        typer.echo(f"secret:   {secret}")
        if expires_at is not None:
            typer.echo(f"expires:  {expires_at.isoformat()}")  # read by scripts, as secret:
        typer.echo(words.t("cli.token.shown_once"))

    run(create())


@token_app.command("revoke", help=help_words.t("cli.help.token.revoke"))
def token_revoke(
    token_id: Annotated[str, typer.Argument(help=help_words.t("cli.help.token.revoke.token_id"))],
) -> None:
    """Revoke a token by its id."""
    settings = _database_settings()
    t = speaker(settings).t

    async def revoke() -> None:
        async with await psycopg.AsyncConnection.connect(settings.database_url) as conn:
            done = await revoke_token(conn, token_id)
            await conn.commit()
        if not done:
            typer.echo(t("cli.token.no_live", token_id=repr(token_id)), err=True)
            raise typer.Exit(1)
        typer.echo(t("cli.token.revoked", token_id=token_id))

    run(revoke())


@broker_app.command("files", help=help_words.t("cli.help.broker.files"))
def broker_files(
    out: Annotated[Path, typer.Option(help=help_words.t("cli.help.broker.files.out"))] = Path(
        "mosquitto"
    ),
) -> None:
    """Write Mosquitto password and ACL files from the registry."""
    settings = _database_settings()

    async def write() -> None:
        try:
            devices, services = await write_broker_files(settings, out)
        except BrokerFilesError as exc:
            typer.echo(speaker(settings).render(exc.message), err=True)
            raise typer.Exit(2) from None
        typer.echo(
            speaker(settings).t(
                "cli.broker.wrote",
                passwd=str(out / "passwd"),
                acl=str(out / "acl"),
                devices=devices,
                services=services,
            )
        )

    run(write())


@broker_app.command("password", help=help_words.t("cli.help.broker.password"))
def broker_password(
    kind: Annotated[
        str,
        typer.Argument(
            help=help_words.t("cli.help.broker.password.kind", kinds=", ".join(TERMINAL_KINDS))
        ),
    ],
    equipment_id: Annotated[
        str, typer.Argument(help=help_words.t("cli.help.broker.password.equipment_id"))
    ],
) -> None:
    """Print a terminal's MQTT password (derived from SEMON_BROKER__DEVICE_SECRET)."""
    settings = load_settings()
    try:
        typer.echo(device_password(settings.broker.device_secret, kind, equipment_id))
    except BrokerFilesError as exc:
        typer.echo(speaker(settings).render(exc.message), err=True)
        raise typer.Exit(2) from None
