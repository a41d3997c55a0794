"""The `semon` command: one subcommand per process, and the one-off commands.

What `--help` says comes from the catalogs (cli.po, `cli.help.*`) in the
`i18n.language` setting (help_reader): these docstrings are for developers."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from cli.admin import broker_app, db_app, registry_app, token_app
from cli.failures import check_database
from cli.process import HelpGroup, help_reader, load_settings, need_database, run

if TYPE_CHECKING:
    from semon.settings import Settings

# Each service is imported inside its own subcommand, not up here: every
# container runs one process, and importing the others' stacks too (FastAPI
# and uvicorn, numpy, amqtt, the simulators) would cost each start time and
# memory for nothing, and slow `semon --help` and the one-off commands down.
# Bounds of the simulated city's options: a negative fleet used to run as an
# empty one, silently; far past these the simulator only exhausts the machine.
MAX_ELEVATORS = 1_000_000
MAX_STATIONS = 100_000

# The reader of `--help` (every help= below is a catalog text in its language).
help_words = help_reader()

app = typer.Typer(
    cls=HelpGroup, no_args_is_help=True, add_completion=False, help=help_words.t("cli.help.semon")
)
app.add_typer(db_app, name="db")
app.add_typer(registry_app, name="registry")
app.add_typer(token_app, name="token")
app.add_typer(broker_app, name="broker")


# The simulated city's options, shared by `up` and `simulate` (defaults apart).
CityElevators = Annotated[
    int, typer.Option(min=1, max=MAX_ELEVATORS, help=help_words.t("cli.help.city.elevators"))
]
CityStations = Annotated[
    int, typer.Option(min=0, max=MAX_STATIONS, help=help_words.t("cli.help.city.stations"))
]
CitySeed = Annotated[int, typer.Option(min=0, help=help_words.t("cli.help.city.seed"))]


@app.command(help=help_words.t("cli.help.up"))
def up(
    simulate: Annotated[bool, typer.Option(help=help_words.t("cli.help.up.simulate"))] = True,
    elevators: CityElevators = 300,
    stations: CityStations = 4,
    seed: CitySeed = 1,
) -> None:
    """Run everything in one process: embedded database and broker unless
    DATABASE_URL / MQTT_URL are set, then ingest, alerts, API (and a city)."""
    from cli.up import run_up

    settings = load_settings()
    run(run_up(settings, simulate=simulate, elevators=elevators, stations=stations, seed=seed))


@app.command(help=help_words.t("cli.help.ingest"))
def ingest() -> None:
    """Subscribe to device topics and store telemetry."""
    from ingest.service import run as run_ingest

    _serve(run_ingest, connect_first=False)


@app.command(help=help_words.t("cli.help.alerts"))
def alerts() -> None:
    """Run the rule engines and the alert lifecycle."""
    from alerts.service import run as run_alerts

    _serve(run_alerts)


@app.command(help=help_words.t("cli.help.api"))
def api() -> None:
    """Serve the HTTP API."""
    from api.service import run as run_api

    _serve(run_api)


def _serve(
    service: Callable[[Settings], Coroutine[Any, Any, None]], *, connect_first: bool = True
) -> None:
    """Run one service until it stops. Each needs a database URL; with
    `connect_first` one that cannot be reached is a one-line failure at start
    (ingest has none: it waits for the database, its writes retry)."""
    settings = load_settings()
    need_database(settings)
    if connect_first:
        run(check_database(settings.database_url))
    run(service(settings))


@app.command(help=help_words.t("cli.help.simulate"))
def simulate(
    elevators: CityElevators = 1000,
    stations: CityStations = 10,
    seed: CitySeed = 1,
    rate: Annotated[float, typer.Option(min=0, help=help_words.t("cli.help.simulate.rate"))] = 0.0,
    processes: Annotated[
        int, typer.Option(min=1, max=64, help=help_words.t("cli.help.simulate.processes"))
    ] = 1,
    duration: Annotated[
        float, typer.Option(min=0, help=help_words.t("cli.help.simulate.duration"))
    ] = 0.0,
    ground_truth: Annotated[
        Path | None, typer.Option(help=help_words.t("cli.help.simulate.ground_truth"))
    ] = None,
) -> None:
    """Play a simulated city over MQTT."""
    from simulators.cli import SimulateOptions, run_simulate

    options = SimulateOptions(elevators, stations, seed, rate, processes, duration, ground_truth)
    run(run_simulate(load_settings(), options))


def main() -> None:
    app()


if __name__ == "__main__":
    main()
