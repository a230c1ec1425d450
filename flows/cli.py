"""The `refnet` command line."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

EXIT_OK, EXIT_FAILED, EXIT_CONFIG = 0, 1, 2

app = typer.Typer(
    help="refnet: which referral partners bring patients through the door.\n\n"
    "Exit status of every command: 0 success; 1 the run did not publish (a source failed, "
    "the gate blocked, a stage failed, or another run holds the data directory); "
    "2 invalid configuration or usage.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
config_app = typer.Typer(help="Configuration commands.", no_args_is_help=True)
partners_app = typer.Typer(help="Partner registry commands.", no_args_is_help=True)
app.add_typer(config_app, name="config")
app.add_typer(partners_app, name="partners")

HomeOpt = Annotated[
    Path | None,
    typer.Option("--home", help="Data directory (default: $REFNET_HOME, else ./.refnet)."),
]


def _quiet_tools(home: Path) -> None:
    """Telemetry off and generous start-up limits, before Prefect or dbt is imported."""
    os.environ.setdefault("PREFECT_HOME", str(home / "prefect"))
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    # A loaded 2-core box needs minutes, not Prefect's default 20 s, to start its server.
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "300")
    os.environ.setdefault("PREFECT_LOGGING_EXTRA_LOGGERS", "flows")
    os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "False")
    os.environ.setdefault("DO_NOT_TRACK", "1")


def _fail(message: str, code: int) -> None:
    typer.echo(message, err=True)
    raise typer.Exit(code)


def _prepare_home(home: Path) -> None:
    """Create the data directory up front: Prefect cannot start without a writable home."""
    try:
        (home / "prefect").mkdir(parents=True, exist_ok=True)
        probe = home / ".write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        _fail(
            f"cannot write to the data directory {home}: {exc.strerror}; "
            "choose another --home or fix its permissions",
            EXIT_CONFIG,
        )


def _run_nightly(config_path: Path, home: Path, demo: bool) -> None:
    _quiet_tools(home)
    _prepare_home(home)
    from flows import interrupt, progress
    from flows.lock import RunLocked, run_lock
    from flows.nightly import RunFailed, run_nightly

    try:
        # Taken before Prefect starts, so a second run fails at once and touches nothing.
        with run_lock(home), progress.shown_on_tty(), interrupt.stop_on_signals():
            state = run_nightly(config_path, home, demo=demo, return_state=True)
    except RunLocked as exc:
        _fail(str(exc), EXIT_FAILED)
    if state.is_completed():
        summary = state.result()
        typer.echo(_summary_text(summary))
        typer.echo(summary["site"])
        return
    try:
        state.result()
    except (RunFailed, RunLocked) as exc:
        _fail(str(exc), EXIT_FAILED)
    except Exception as exc:
        _fail(f"refnet run failed: {type(exc).__name__}: {exc}", EXIT_FAILED)
    _fail(f"refnet run ended in state {state.type.value}", EXIT_FAILED)


def _summary_text(summary: dict) -> str:
    from flows.nightly import RunSummary

    return RunSummary(**summary).text()


@app.command()
def run(
    config: Annotated[Path, typer.Option("--config", "-c", help="The run configuration (YAML).")],
    home: HomeOpt = None,
) -> None:
    """Run the nightly pipeline once: extract, transform, gate, publish.

    Exit status: 0 published; 1 a source failed, the gate blocked or a stage failed (the
    previous report stays up); 2 the configuration is invalid.
    """
    from flows.config import ConfigError, load_config, resolve_home

    home_dir = resolve_home(home)
    _quiet_tools(home_dir)  # before load_config: validating a cron imports Prefect
    try:
        cfg = load_config(config)
        # Fail in a second, not after minutes of extraction: keys and registry first.
        for source in cfg.sources:
            source.resolve_secrets()
        if cfg.partners_path():
            from flows.registry import load_registry

            load_registry(cfg.partners_path(), {s.name: s.kind for s in cfg.sources})
        _prepare_home(home_dir)  # importing flows.nightly imports Prefect, which needs it
        # Checked before Prefect starts, so a missing secret fails in a second, not a minute.
        from flows.nightly import pseudonym_secret

        pseudonym_secret(demo=False)
    except ConfigError as exc:
        _fail(str(exc), EXIT_CONFIG)
    _run_nightly(config, home_dir, demo=False)


@app.command()
def demo(
    home: HomeOpt = None,
    seed: Annotated[int, typer.Option(help="Seed of the sandbox's synthetic world.")] = 7,
    scale: Annotated[float, typer.Option(help="Size of the world (1.0 ≈ 1,500 referrals).")] = 1.0,
) -> None:
    """Start the bundled sandbox on a free port, write a config for it and run the pipeline."""
    from flows.config import resolve_home
    from flows.demo import demo_session

    home_dir = resolve_home(home)
    _quiet_tools(home_dir)
    _prepare_home(home_dir)  # before the sandbox starts and its config is written there
    with demo_session(home_dir, seed=seed, scale=scale) as config_path:
        _run_nightly(config_path, home_dir, demo=True)


@app.command()
def publish(
    config: Annotated[
        Path | None,
        typer.Option("--config", "-c", help="The run configuration (its gate: settings)."),
    ] = None,
    home: HomeOpt = None,
) -> None:
    """Gate the warehouse as the last run left it, and publish it only if the gate passes.

    For re-publishing after changing a gate setting; no extraction, no dbt. Exit status as
    for `run`.
    """
    from flows.config import ConfigError, GateConfig, load_config, resolve_home

    home_dir = resolve_home(home)
    try:
        cfg = load_config(config) if config else None
    except ConfigError as exc:
        _fail(str(exc), EXIT_CONFIG)
    _quiet_tools(home_dir)
    if not (home_dir / "warehouse" / "refnet.duckdb").is_file():
        _fail(f"no warehouse in {home_dir}; run `refnet run` first", EXIT_FAILED)
    _prepare_home(home_dir)  # before Prefect is imported: it wants a writable home too
    from flows.lock import RunLocked
    from flows.nightly import RunFailed, republish

    try:
        summary = republish(
            cfg.gate if cfg else GateConfig(),
            home_dir,
            referral_sources=cfg.referral_sources() if cfg else None,
        )
    except (RunFailed, RunLocked) as exc:
        _fail(str(exc), EXIT_FAILED)
    typer.echo(_summary_text(summary))
    typer.echo(summary["site"])


@app.command(
    context_settings={
        "allow_extra_args": True,
        "ignore_unknown_options": True,
        "help_option_names": [],
    }
)
def sandbox(ctx: typer.Context) -> None:
    """Serve the synthetic Cliniko-compatible API (see `refnet sandbox --help`)."""
    from flows.sandbox.__main__ import main as sandbox_main

    sys.exit(sandbox_main(ctx.args))


@app.command()
def resync(
    config: Annotated[Path, typer.Option("--config", "-c", help="The run configuration (YAML).")],
    source: Annotated[
        str | None, typer.Option("--source", help="Only this source (default: all).")
    ] = None,
    home: HomeOpt = None,
) -> None:
    """Full re-sync: forget the incremental cursors and read every record again.

    For a CSV source: forget which export files were landed and land every file again.

    For when a clinic asks for one (e.g. after a bulk import or a restore on their side). The
    landed history stays; newer versions win downstream. The next `refnet run` publishes.
    """
    import logging

    from flows.config import ConfigError, load_config, resolve_home
    from flows.extract import extract_source, reset_cursors
    from flows.http import SourceError
    from flows.land import DiskFullError, LandingError, new_run_id
    from flows.lock import RunLocked, run_lock

    try:
        cfg = load_config(config)
    except ConfigError as exc:
        _fail(str(exc), EXIT_CONFIG)
    chosen = [s for s in cfg.sources if source is None or s.name == source]
    if not chosen:
        names = ", ".join(s.name for s in cfg.sources)
        _fail(f"{config}: no source named '{source}' (sources: {names})", EXIT_CONFIG)
    home_dir = resolve_home(home)
    _quiet_tools(home_dir)
    _prepare_home(home_dir)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    run_id = new_run_id()
    try:
        from flows.nightly import pseudonym_secret

        secret = pseudonym_secret(demo=False)
        with run_lock(home_dir):
            for src in chosen:
                reset_cursors(home_dir, src)
                results = extract_source(src, home_dir, run_id, secret)
                total = sum(r.records for r in results)
                typer.echo(f"{src.name}: re-synced {total} records in {len(results)} streams")
    except ConfigError as exc:
        _fail(str(exc), EXIT_CONFIG)
    except (SourceError, LandingError, DiskFullError, RunLocked) as exc:
        _fail(f"refnet resync failed: {exc}\nRun it again; the next run resumes.", EXIT_FAILED)


@app.command()
def serve(
    config: Annotated[Path, typer.Option("--config", "-c", help="The run configuration (YAML).")],
    home: HomeOpt = None,
    cron: Annotated[
        str | None, typer.Option(help="Cron schedule (default: the config's schedule.cron).")
    ] = None,
    timezone: Annotated[
        str | None, typer.Option(help="IANA time zone of the cron (default: schedule.timezone).")
    ] = None,
    interval: Annotated[
        int | None, typer.Option(min=10, help="Run every N seconds instead of on a cron.")
    ] = None,
    server_port: Annotated[
        int,
        typer.Option(help="Port of the local Prefect server (when PREFECT_API_URL is unset)."),
    ] = 4200,
) -> None:
    """Serve the nightly run as a Prefect deployment on its schedule until SIGTERM or Ctrl-C.

    Uses the Prefect server at $PREFECT_API_URL, else starts a local one (UI on --server-port).
    SIGTERM cancels a run in progress (nothing half-written is published; its cursors resume),
    pauses the schedule, and exits 0.
    """
    from flows.config import ConfigError, Schedule, load_config, resolve_home

    home_dir = resolve_home(home)
    _quiet_tools(home_dir)  # before load_config: validating a cron imports Prefect
    try:
        cfg = load_config(config)
        # Re-validated through the config model so flags get the same checks as the file.
        schedule = Schedule(
            cron=cron or cfg.schedule.cron, timezone=timezone or cfg.schedule.timezone
        )
    except ConfigError as exc:
        _fail(str(exc), EXIT_CONFIG)
    except ValueError as exc:
        _fail(f"invalid schedule: {exc}", EXIT_CONFIG)
    from flows.serve import ServeError
    from flows.serve import serve as serve_deployment

    try:
        serve_deployment(config, home_dir, schedule.cron, schedule.timezone, interval, server_port)
    except ServeError as exc:
        _fail(f"refnet serve: {exc}", EXIT_FAILED)


@app.command()
def status(
    home: HomeOpt = None,
    limit: Annotated[int, typer.Option(help="How many runs to list.")] = 10,
) -> None:
    """List the last runs (stages, rows per stream, marts) and each source's freshness."""
    from flows.config import resolve_home
    from flows.status import status_text

    typer.echo(status_text(resolve_home(home), limit))


@app.command()
def export(
    out: Annotated[Path, typer.Argument(help="Folder to write the marts into.")],
    home: HomeOpt = None,
    format: Annotated[str, typer.Option("--format", help="parquet or csv.")] = "parquet",
) -> None:
    """Write the published marts as Parquet or CSV files (for spreadsheets and other tools)."""
    import duckdb

    from flows.config import resolve_home
    from flows.publish import PUBLISHED_MARTS

    if format not in ("parquet", "csv"):
        _fail("--format must be parquet or csv", EXIT_CONFIG)
    marts = resolve_home(home) / "published" / "marts.duckdb"
    if not marts.is_file():
        _fail(f"no published marts at {marts}; run `refnet run` or `refnet demo` first", 1)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        _fail(f"cannot create {out}: {exc.strerror}", EXIT_CONFIG)
    con = duckdb.connect(str(marts), read_only=True)
    try:
        for table in PUBLISHED_MARTS:
            target = out / f"{table}.{format}"
            relation = con.table(table)
            if format == "parquet":
                relation.write_parquet(str(target))
            else:
                relation.write_csv(str(target), header=True)
            typer.echo(str(target))
    except (duckdb.Error, OSError) as exc:
        _fail(f"export to {out} failed: {exc}", EXIT_FAILED)
    finally:
        con.close()


@config_app.command("check")
def config_check(config: Annotated[Path, typer.Argument(help="The run configuration (YAML).")]):
    """Validate a configuration file and the partner registry it names."""
    from flows.config import ConfigError, load_config
    from flows.registry import load_registry

    try:
        cfg = load_config(config)
        for source in cfg.sources:
            source.resolve_secrets()
        if cfg.partners_path():
            load_registry(cfg.partners_path(), {s.name: s.kind for s in cfg.sources})
        alerts = cfg.alerts
        refs = {
            "alerts.webhook": alerts.webhook if alerts else None,
            "alerts.smtp.password": alerts.smtp.password if alerts and alerts.smtp else None,
        }
        for key, ref in refs.items():
            if ref is not None and ref.env:  # blocks need the Prefect API: checked at run time
                try:
                    ref.resolve()
                except ConfigError as exc:
                    raise ConfigError(f"{config}: {key}: {exc}") from None
    except ConfigError as exc:
        _fail(str(exc), EXIT_CONFIG)
    receivers = [k for k in ("webhook", "smtp") if alerts and getattr(alerts, k)]
    typer.echo(
        f"{config}: ok ({len(cfg.sources)} sources; schedule '{cfg.schedule.cron}' "
        f"{cfg.schedule.timezone}; alerts: {', '.join(receivers) or 'none'})"
    )
    if not cfg.referral_sources():
        typer.echo(
            "note: no source provides referrals (CSV exports carry appointments only), so the "
            "site shows appointments and its referral pages say so; add the clinic's Cliniko "
            "or FHIR source to see referral partners"
        )


@partners_app.command("validate")
def partners_validate(path: Annotated[Path, typer.Argument(help="Partner registry (YAML).")]):
    """Validate a partner registry file."""
    from flows.config import ConfigError
    from flows.registry import load_registry

    try:
        registry = load_registry(path)
    except ConfigError as exc:
        _fail(str(exc), EXIT_CONFIG)
    typer.echo(f"{path}: ok ({len(registry.partners)} partners)")


def main() -> None:
    from flows.config import ConfigError

    try:
        app()
    except ConfigError as exc:  # e.g. a bad REFNET_ variable met outside a command's own checks
        typer.echo(f"refnet: {exc}", err=True)
        sys.exit(EXIT_CONFIG)
