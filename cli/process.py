"""What every subcommand does first: settings from the environment, logging,
the database check; the operator's reader (messages from the catalogs,
cli.po, in the `i18n.language` setting), and the reader of `--help`; and how
it runs its coroutine."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Coroutine
from functools import cache
from typing import Any

import typer
from typer.core import TyperGroup

from semon.i18n import DEFAULT_LANGUAGE, Reader, negotiate, reader, reader_for
from semon.settings import Settings


def load_settings() -> Settings:
    settings = Settings()
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    return settings


def speaker(settings: Settings) -> Reader:
    """Who reads the console: the platform's language and time zone (there is
    no request to ask)."""
    return reader_for(settings.i18n)


# The `i18n.language` setting as the environment gives it (Settings reads
# names without regard to case, so does help_reader).
LANGUAGE_VARIABLE = "SEMON_I18N__LANGUAGE"


def help_reader() -> Reader:
    """Who reads `--help`: the `i18n.language` setting, read straight from the
    environment. The help texts are written where the commands are declared,
    at import, and `semon --help` must answer at once with no configuration
    at all: building Settings would read (and could refuse) every other
    setting. A value that is not a language we speak gives the default; the
    command itself refuses it when it loads its settings."""
    wanted = next(
        (value for name, value in os.environ.items() if name.upper() == LANGUAGE_VARIABLE), None
    )
    return reader(negotiate(wanted, DEFAULT_LANGUAGE))


class HelpGroup(TyperGroup):
    """The `semon` command and its groups (`cls=` of every Typer app): before
    any help is shown, its texts are made to fold (fold_help_text). Only then:
    the other runs do not import Typer's help renderer at all."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        # ctx: Typer's own (vendored) click Context, not a public type
        if "--help" in args or (not args and self.no_args_is_help):
            fold_help_text()
        return super().parse_args(ctx, args)


@cache
def fold_help_text() -> None:
    """Rich wraps text at spaces only, and Typer's help tables cut a line that
    does not fit with "…": a Chinese sentence is one run without spaces, so
    in an 80-column terminal an option's help lost its end. Help texts fold
    instead: a run longer than its column breaks anywhere, as Chinese may
    (English still wraps at spaces). Typer has no setting for it; its
    function that makes every help text is wrapped (tests/cli/
    test_help_language.py sees the whole text at 80 columns, or fails)."""
    try:
        from rich.text import Text
        from typer import rich_utils
    except ImportError:  # Typer without Rich: Click's plain help, which wraps anywhere
        return

    make = rich_utils._make_rich_text

    def folding(*, text: str, style: str = "", markup_mode: rich_utils.MarkupModeStrict) -> Any:
        made = make(text=text, style=style, markup_mode=markup_mode)
        if isinstance(made, Text):
            made.overflow = "fold"
        return made

    rich_utils._make_rich_text = folding


def need_database(settings: Settings) -> None:
    if not settings.database_url:
        typer.echo(speaker(settings).t("cli.need_database"), err=True)
        raise typer.Exit(2)


def run(coro: Coroutine[Any, Any, object]) -> None:
    """Run a command's coroutine; a database or broker that cannot be reached
    is one line on stderr and exit status 1, not a traceback."""
    from cli.failures import failure_line
    from semon.i18n import reader_for

    try:
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(coro)
    except Exception as exc:
        settings = Settings()
        line = failure_line(exc, reader_for(settings.i18n), settings.database_url)
        if line is None:
            raise
        typer.echo(line, err=True)
        raise typer.Exit(1) from None
