"""The nightly flow: extract -> transform -> gate -> publish. The body only wires stages."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NONE
from prefect.exceptions import TerminationSignal

from flows import interrupt, progress
from flows.alerts import redact, secret_values, send_alerts
from flows.config import (
    ClinikoSource,
    Config,
    ConfigError,
    CsvSource,
    FhirSource,
    GateConfig,
    load_config,
    resolve_home,
    settings,
)
from flows.extract import extract_source
from flows.gate import (
    GateResult,
    landed_referral_sources,
    load_history,
    results_paths,
    run_gate,
    write_results,
)
from flows.history import write_history
from flows.land import is_disk_full, new_run_id, write_atomic
from flows.lock import run_lock
from flows.publish import marts_schema, publish
from flows.registry import land_registry, load_registry

DEMO_SECRET = "refnet-demo-secret-not-for-real-data"
log = logging.getLogger(__name__)


STAGES = ("extract", "registry", "transform", "gate", "publish")


class RunFailed(Exception):
    """The run did not publish; the message is the one-paragraph summary of why."""


class _RunVerdictFilter(logging.Filter):
    """Drops Prefect's engine log of a RunFailed: the run's own summary says why, once, without
    a traceback (the flow run's state still carries it to the Prefect UI)."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, RunFailed)


for _logger in ("prefect.flow_runs", "prefect.task_runs"):
    logging.getLogger(_logger).addFilter(_RunVerdictFilter())


@dataclass
class RunSummary:
    run_id: str
    home: str
    started_at: str
    finished_at: str | None = None
    status: str = "running"  # published | failed | blocked | interrupted
    stages: dict[str, dict] = field(default_factory=dict)
    streams: dict[str, list[dict]] = field(default_factory=dict)
    marts: dict[str, int] = field(default_factory=dict)
    gate: str | None = None
    gate_report: str | None = None
    published: bool = False
    failed_stage: str | None = None
    site: str | None = None
    error: str | None = None
    runner: str = "threads"  # where the extraction tasks ran: threads | dask

    def stage(self, name: str, status: str, seconds: float, **extra) -> None:
        self.stages[name] = {"status": status, "seconds": round(seconds, 2), **extra}
        if status == "failed" and self.failed_stage is None:
            self.failed_stage = name

    def text(self) -> str:
        """The human summary printed at the end of a run and sent with alerts."""
        head = self.status
        if self.failed_stage:
            head = f"{self.status} at stage {self.failed_stage}"
        lines = [f"refnet run {self.run_id}: {head}"]
        if self.published:
            lines.append("  published: yes (marts and site replaced)")
        elif self.status != "running":
            lines.append("  published: no (the previous marts and site stay live)")
        for name, info in self.stages.items():
            lines.append(f"  {name:<10} {info['status']:<8} {info['seconds']:>7.1f} s")
        if self.finished_at:
            total = datetime.fromisoformat(self.finished_at) - datetime.fromisoformat(
                self.started_at
            )
            lines.append(f"  {'total':<10} {'':<8} {total.total_seconds():>7.1f} s")
        for account, streams in self.streams.items():
            total_records = sum(s["records"] for s in streams)
            lines.append(f"  source {account}: {total_records} records in {len(streams)} streams")
            lines.append("    " + ", ".join(_stream_counts(s) for s in streams))
        if self.marts:
            lines.append("  marts: " + ", ".join(f"{k} {v}" for k, v in self.marts.items()))
        if self.gate:
            lines.append("  " + self.gate.replace("\n", "\n  "))
        if self.gate_report:
            lines.append(f"  gate report: {self.gate_report}")
        if self.published:
            lines.append(f"  site: {self.site}")
        if self.error:
            lines.append(f"  why: {self.error}")
        return "\n".join(lines)


def _stream_counts(stream: dict) -> str:
    text = f"{stream['stream']} {stream['records']}"
    if stream.get("quarantined"):  # CSV rows that could not be mapped, kept aside with reasons
        text += f" ({stream['quarantined']} quarantined)"
    return text


def pseudonym_secret(demo: bool) -> bytes:
    secret = settings().pseudonym_secret
    if secret is not None and secret.get_secret_value():
        return secret.get_secret_value().encode()
    if demo:
        return DEMO_SECRET.encode()
    raise ConfigError(
        "REFNET_PSEUDONYM_SECRET is not set: it keys the hash that replaces patient ids. "
        "Set it to a long random value and keep it stable (changing it re-keys every patient)."
    )


def _is_io_error(task, task_run, state) -> bool:
    # Retry only transient I/O; a refused key or a bad payload will fail the same way again.
    try:
        state.result()
    except OSError as exc:  # TimeoutError included; a full disk stays full
        return not is_disk_full(exc)
    except Exception:
        return False
    return False


@task(
    retries=2,
    retry_delay_seconds=[5, 30],
    retry_condition_fn=_is_io_error,
    cache_policy=NONE,
    timeout_seconds=4 * 3600,
)
def extract_account(
    source: ClinikoSource | FhirSource | CsvSource, home: Path, run_id: str, secret: bytes
) -> list[dict]:
    results = extract_source(source, home, run_id, secret)
    total = sum(s.records for s in results)
    progress.current().advance("extract", f"{source.name}: {total} records")
    return [asdict(s) for s in results]


@task(cache_policy=NONE, timeout_seconds=300)
def land_partner_registry(config: Config, home: Path) -> dict[str, int]:
    path = config.partners_path()
    kinds = {s.name: s.kind for s in config.sources}
    return land_registry(load_registry(path, kinds) if path else None, home / "raw")


@task(cache_policy=NONE, timeout_seconds=3600)
def transform(home: Path, as_of: date) -> dict:
    from flows.transform import build

    result = build(
        raw_dir=home / "raw",
        warehouse=home / "warehouse" / "refnet.duckdb",
        vars={"as_of": as_of.isoformat()},
        unit_tests=False,
    )
    return {"nodes": len(result.nodes), "seconds": round(result.elapsed_s, 1)}


@task(cache_policy=NONE, timeout_seconds=1800)
def gate(home: Path, settings: GateConfig, run_id: str, referral_sources: list[str]) -> GateResult:
    """Run the suites on the warehouse; results are kept under runs/ whatever the outcome."""
    warehouse = home / "warehouse" / "refnet.duckdb"
    result = run_gate(
        warehouse,
        marts_schema(warehouse),
        settings=settings,
        state_dir=home / "state",
        published=home / "published" / "marts.duckdb",
        run_id=run_id,
        referral_sources=referral_sources,
    )
    write_results(result, home / "runs")
    return result


@task(cache_policy=NONE, timeout_seconds=1800)
def publish_all(home: Path, run_id: str, record: dict) -> dict[str, int]:
    """Publish marts and site; the staged marts get `run_history`, this run included."""
    from flows.report import build_site

    start = time.monotonic()
    live = home / "published" / "marts.duckdb"

    def add_history(staged: Path, counts: dict[str, int]) -> None:
        # This run as it will be recorded: published, its publish stage timed to the swap.
        now = {
            **record,
            "marts": counts,
            "status": "published",
            "published": True,
            "finished_at": datetime.now(UTC).isoformat(),
            "stages": {
                **record["stages"],
                "publish": {"status": "ok", "seconds": round(time.monotonic() - start, 2)},
            },
        }
        write_history(staged, home, now, previous=live)

    return publish(
        home,
        home / "warehouse" / "refnet.duckdb",
        run_id,
        build_site,
        gate_history=load_history(home / "runs"),
        gate_report=results_paths(home / "runs", run_id)[1],
        before_swap=add_history,
    )


def _write_record(home: Path, summary: RunSummary) -> str | None:
    """Write the run's record; on failure (a full disk) say why instead of raising, so the
    run's own outcome and its alert still go out."""
    path = home / "runs" / f"{summary.run_id}.json"
    try:
        write_atomic(path, json.dumps(asdict(summary), indent=2, default=str).encode())
    except Exception as exc:
        log.error("run record %s not written: %s", path, exc)
        return f"run record not written: {exc}"
    return None


def _timed(summary: RunSummary, name: str, fn, *args, **kwargs):
    start = time.monotonic()
    progress.current().start_stage(name)
    try:
        value = fn(*args, **kwargs)
    except BaseException as exc:  # a timeout or a cancellation also names the stage
        summary.stage(name, "failed", time.monotonic() - start)
        summary.error = f"{name} failed: {exc}"
        progress.current().end_stage(name, ok=False)
        raise
    summary.stage(name, "ok", time.monotonic() - start)
    progress.current().end_stage(name, ok=True)
    return value


def runner_kind(config: Config) -> str:
    """The configured runner; REFNET_RUNNER overrides the file."""
    return settings().runner or config.runner.kind


def task_runner(config: Config):
    """The Prefect task runner the extraction tasks are submitted to, from configuration."""
    if runner_kind(config) == "dask":
        from prefect_dask import DaskTaskRunner

        if config.runner.address:
            return DaskTaskRunner(address=config.runner.address)
        return DaskTaskRunner(
            cluster_class="distributed.LocalCluster",
            cluster_kwargs={
                "n_workers": config.runner.workers,
                "threads_per_worker": 1,
                "dashboard_address": None,  # no web server to bind on a shared box
            },
        )
    from prefect.task_runners import ThreadPoolTaskRunner

    return ThreadPoolTaskRunner(max_workers=config.runner.max_concurrent)


@contextlib.contextmanager
def _api_shared_with_workers() -> Iterator[None]:
    """Worker processes (a local Dask cluster, started on first submit) inherit the environment:
    point them at this run's Prefect API, or each one starts a temporary server of its own."""
    from prefect.client.orchestration import get_client

    if "PREFECT_API_URL" in os.environ:
        yield
        return
    with get_client(sync_client=True) as client:  # the temporary server's URL, if one started
        url = str(client.api_url).rstrip("/")
    if not url.startswith("http"):
        yield
        return
    os.environ["PREFECT_API_URL"] = url
    try:
        yield
    finally:
        os.environ.pop("PREFECT_API_URL", None)


def run_nightly(config_path: Path, home: Path, demo: bool = False, **options):
    """The nightly flow with the task runner its configuration names."""
    config = load_config(Path(config_path))
    flow_ = nightly.with_options(task_runner=task_runner(config))
    return flow_(config_path=str(config_path), home=str(home), demo=demo, **options)


@flow(name="nightly", timeout_seconds=6 * 3600, log_prints=True)
def nightly(config_path: str, home: str | None = None, demo: bool = False) -> dict:
    """One nightly run. Raises RunFailed (the flow run fails) unless it published."""
    config = load_config(Path(config_path))
    home_dir = resolve_home(Path(home) if home else None)
    with run_lock(home_dir):
        return _nightly(config, home_dir, demo)


def _gate_and_publish(
    summary: RunSummary,
    settings: GateConfig,
    home: Path,
    gate_fn,
    publish_fn,
    in_flow: bool,
    referral_sources: list[str],
) -> None:
    """The end of every run: gate the warehouse, then publish only if no blocking check failed."""
    result = _timed(summary, "gate", gate_fn, home, settings, summary.run_id, referral_sources)
    summary.gate = result.summary()
    summary.gate_report = str(results_paths(home / "runs", summary.run_id)[1])
    if in_flow:
        try:
            create_markdown_artifact(
                markdown=result.markdown(),
                key="gate-results",
                description="refnet quality gate: every check, its severity and what it saw",
            )
        except Exception:  # the artifact is a convenience; never fail a run for it
            pass
    if not result.passed:
        summary.status = "blocked"
        summary.failed_stage = "gate"
        summary.error = "the quality gate blocked publishing; the last good report stays up"
        raise RunFailed(summary.error)
    summary.marts = _timed(summary, "publish", publish_fn, home, summary.run_id, asdict(summary))
    summary.published = True
    summary.status = "published"
    summary.site = str(home / "site" / "index.html")


def republish(
    settings: GateConfig, home_dir: Path, referral_sources: list[str] | None = None
) -> dict:
    """Gate the warehouse as the last transform left it and publish it if the gate passes.

    The same gate and publish steps as the nightly run, without extraction, dbt or Prefect:
    for re-publishing after a gate setting changed, and the cheap path the gate tests use.
    `referral_sources` come from the configuration; without one, from what `raw/` holds.
    """
    if referral_sources is None:
        referral_sources = landed_referral_sources(home_dir / "raw")
    with run_lock(home_dir):
        run_id = new_run_id()
        summary = RunSummary(
            run_id=run_id, home=str(home_dir), started_at=datetime.now(UTC).isoformat()
        )
        try:
            _gate_and_publish(
                summary,
                settings,
                home_dir,
                gate.fn,
                publish_all.fn,
                in_flow=False,
                referral_sources=referral_sources,
            )
        except Exception as exc:
            if summary.status == "running":
                summary.status = "failed"
            summary.error = summary.error or f"{type(exc).__name__}: {exc}"
            raise RunFailed(summary.text()) from exc
        finally:
            summary.finished_at = datetime.now(UTC).isoformat()
            _write_record(home_dir, summary)
        return asdict(summary)


def _nightly(config: Config, home_dir: Path, demo: bool) -> dict:
    run_id = new_run_id()
    summary = RunSummary(
        run_id=run_id,
        home=str(home_dir),
        started_at=datetime.now(UTC).isoformat(),
        runner=runner_kind(config),
    )
    secrets: list[str] = []

    def record_stop(signal_name: str) -> None:
        _mark_interrupted(summary, signal_name)
        _write_record(home_dir, summary)

    with interrupt.on_stop(record_stop):
        return _run_stages(config, home_dir, demo, run_id, summary, secrets)


def _mark_interrupted(summary: RunSummary, signal_name: str) -> None:
    stage = next((s for s in STAGES if summary.stages.get(s, {}).get("status") != "ok"), "publish")
    summary.status = "interrupted"
    summary.error = f"stopped by {signal_name} during {stage}; nothing was published"
    summary.finished_at = datetime.now(UTC).isoformat()


def _run_stages(
    config: Config, home_dir: Path, demo: bool, run_id: str, summary: RunSummary, secrets: list
) -> dict:
    try:
        secret = pseudonym_secret(demo)
        secrets = secret_values(config, [secret.decode()])
        start = time.monotonic()
        progress.current().start_stage("extract", total=len(config.sources))
        failed = []
        with _api_shared_with_workers():
            futures = {
                s.name: extract_account.submit(s, home_dir, run_id, secret) for s in config.sources
            }
            for name, future in futures.items():
                try:
                    summary.streams[name] = future.result()
                except Exception as exc:
                    failed.append(f"source '{name}': {exc}")
        summary.stage("extract", "failed" if failed else "ok", time.monotonic() - start)
        progress.current().end_stage("extract", ok=not failed)
        if failed:
            summary.error = "extraction failed, nothing published: " + "; ".join(failed)
            raise RunFailed(summary.error)
        _timed(summary, "registry", land_partner_registry, config, home_dir)
        _timed(summary, "transform", transform, home_dir, config.as_of or datetime.now(UTC).date())
        _gate_and_publish(
            summary,
            config.gate,
            home_dir,
            gate,
            publish_all,
            in_flow=True,
            referral_sources=config.referral_sources(),
        )
    except BaseException as exc:  # a flow timeout or Ctrl-C is recorded and alerted too
        if isinstance(exc, KeyboardInterrupt | TerminationSignal) and summary.status == "running":
            # Prefect turns SIGTERM into TerminationSignal inside a flow run.
            _mark_interrupted(summary, signal.Signals(getattr(exc, "signal", signal.SIGINT)).name)
        if summary.status == "running":
            summary.status = "failed"
        summary.error = summary.error or f"{type(exc).__name__}: {exc}"
        summary.finished_at = datetime.now(UTC).isoformat()
        if not isinstance(exc, Exception):
            raise
        raise RunFailed(redact(summary.text(), secrets)) from exc
    finally:
        summary.finished_at = datetime.now(UTC).isoformat()
        # Exception texts can quote a key or URL: nothing leaves this run unscrubbed.
        summary.error = redact(summary.error, secrets)
        summary.gate = redact(summary.gate, secrets)
        text = summary.text()
        not_recorded = _write_record(home_dir, summary)
        if not_recorded:
            text += f"\n  {not_recorded}"
        try:
            create_markdown_artifact(
                markdown=f"```\n{text}\n```",
                key="nightly-summary",
                description="refnet nightly run summary",
            )
        except Exception:  # the artifact is a convenience; never fail a run for it
            pass
        sent = send_alerts(config.alerts, asdict(summary), text, secrets)
        if sent:
            get_run_logger().info("alert sent (%s) for run %s", ", ".join(sent), run_id)
    return asdict(summary)
