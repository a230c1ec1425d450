"""Transform stage: run the dbt project (dbt_project/) against the landed raw data.

dbt runs as a subprocess, not through dbt's in-process runner: dbtRunner keeps the DuckDB file
open and locked until the Python process exits (docs FACTS.md), which would block the gate and
publish steps that follow in the same flow. Results come from `run_results.json`, never from
parsing stdout.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from flows import interrupt
from flows.cliniko import STREAMS as CLINIKO_STREAMS
from flows.config import settings
from flows.csv_source import STREAMS as CSV_STREAMS
from flows.fhir import STREAMS as FHIR_STREAMS
from flows.land import RAW_SCHEMA

logger = logging.getLogger(__name__)

# The streams each source kind's dbt sources read (`raw/<kind>/*/<stream>/*.parquet`). A glob that
# matches no file fails the whole build, so a kind nobody configured still gets an empty file.
RAW_STREAMS: dict[str, tuple[str, ...]] = {
    "cliniko": tuple(s.name for s in CLINIKO_STREAMS),
    "csv": CSV_STREAMS,
    "fhir": tuple(s.name for s in FHIR_STREAMS),
}
PLACEHOLDER_ACCOUNT = "_none"  # not a valid source name, so it never collides with one

PROJECT_DIR = Path(__file__).resolve().parent.parent / "dbt_project"

# Statuses in run_results.json that mean the node did not succeed.
_FAILED_STATUSES = frozenset({"error", "fail", "runtime error"})


class TransformError(RuntimeError):
    """dbt failed: a node errored, a blocking test failed, or dbt itself could not run."""

    def __init__(self, message: str, result: DbtResult | None = None) -> None:
        super().__init__(message)
        self.result = result


@dataclass(frozen=True)
class NodeResult:
    unique_id: str
    name: str
    resource_type: str  # model | test | seed | unit_test | snapshot | ...
    status: str  # success | error | fail | warn | pass | skipped | ...
    message: str | None
    failures: int | None  # rows returned by a failing / warning test
    execution_time_s: float

    @property
    def failed(self) -> bool:
        return self.status in _FAILED_STATUSES


@dataclass(frozen=True)
class DbtResult:
    args: list[str]
    return_code: int
    elapsed_s: float
    nodes: list[NodeResult] = field(default_factory=list)
    target_path: Path | None = None
    log_path: Path | None = None

    @property
    def success(self) -> bool:
        return self.return_code == 0 and not self.failed_nodes

    @property
    def failed_nodes(self) -> list[NodeResult]:
        return [n for n in self.nodes if n.failed]

    @property
    def warned_nodes(self) -> list[NodeResult]:
        return [n for n in self.nodes if n.status == "warn"]

    def summary(self) -> str:
        counts: dict[str, int] = {}
        for node in self.nodes:
            counts[node.status] = counts.get(node.status, 0) + 1
        parts = ", ".join(f"{k}={v}" for k, v in sorted(counts.items()))
        return f"dbt {' '.join(self.args[:1])}: {parts or 'no nodes'} in {self.elapsed_s:.1f}s"


def _dbt_executable() -> str:
    # Prefer the dbt next to this interpreter (the project's venv), else whatever is on PATH.
    candidate = Path(sys.executable).with_name("dbt")
    if candidate.exists():
        return str(candidate)
    found = shutil.which("dbt")
    if not found:
        raise TransformError("dbt executable not found (install the project with its dependencies)")
    return found


def _describe(node: NodeResult) -> str:
    detail = (node.message or "").strip().splitlines()
    first = detail[0] if detail else node.status
    if node.resource_type == "test" and node.failures:
        return f"{node.name}: {node.failures} failing row(s) ({first})"
    return f"{node.name} [{node.resource_type}]: {first}"


def _node_names(manifest_path: Path) -> dict[str, str]:
    """unique_id -> node name from manifest.json (test unique_ids end in a hash, not a name)."""
    if not manifest_path.exists():
        return {}
    manifest: dict[str, Any] = json.loads(manifest_path.read_text())
    names: dict[str, str] = {}
    for section in ("nodes", "unit_tests", "sources"):
        for unique_id, node in (manifest.get(section) or {}).items():
            names[unique_id] = str(node.get("name", unique_id))
    return names


def parse_run_results(path: Path, manifest_path: Path | None = None) -> list[NodeResult]:
    """Read dbt's run_results.json into per-node results (names from the manifest)."""
    data: dict[str, Any] = json.loads(path.read_text())
    names = _node_names(manifest_path or path.with_name("manifest.json"))
    nodes: list[NodeResult] = []
    for entry in data.get("results", []):
        unique_id: str = entry.get("unique_id", "")
        parts = unique_id.split(".")
        nodes.append(
            NodeResult(
                unique_id=unique_id,
                name=names.get(unique_id) or (parts[2] if len(parts) > 2 else unique_id),
                resource_type=parts[0] if parts else "unknown",
                status=str(entry.get("status", "unknown")),
                message=entry.get("message"),
                failures=entry.get("failures"),
                execution_time_s=float(entry.get("execution_time") or 0.0),
            )
        )
    return nodes


def ensure_raw_layout(raw_dir: Path) -> list[Path]:
    """One empty batch per stream of every source kind that has none yet; returns those written."""
    written = []
    for kind, streams in RAW_STREAMS.items():
        for stream in streams:
            if any((raw_dir / kind).glob(f"*/{stream}/*.parquet")):
                continue
            path = raw_dir / kind / PLACEHOLDER_ACCOUNT / stream / "empty.parquet"
            path.parent.mkdir(parents=True, exist_ok=True)
            pq.write_table(RAW_SCHEMA.empty_table(), path)
            written.append(path)
    return written


def run_dbt(
    args: list[str],
    *,
    raw_dir: Path,
    warehouse: Path,
    vars: dict[str, Any] | None = None,
    timeout_s: int = 900,
) -> DbtResult:
    """Run one dbt command on the project and return its parsed results.

    `raw_dir` is the landing root (holds `cliniko/` and `registry/`); `warehouse` the DuckDB file
    dbt builds. dbt's target/ and logs/ go next to the warehouse so the repository stays clean
    and two homes never share artefacts. Raises TransformError if dbt fails or times out.
    """
    raw_dir = Path(raw_dir).resolve()
    warehouse = Path(warehouse).resolve()
    warehouse.parent.mkdir(parents=True, exist_ok=True)
    ensure_raw_layout(raw_dir)
    target_path = warehouse.parent / "dbt" / "target"
    log_path = warehouse.parent / "dbt" / "logs"
    run_results = target_path / "run_results.json"
    # A stale run_results.json from an earlier command must never be mistaken for this one's.
    run_results.unlink(missing_ok=True)

    command = [
        _dbt_executable(),
        *args,
        "--project-dir",
        str(PROJECT_DIR),
        "--profiles-dir",
        str(PROJECT_DIR),
        "--target-path",
        str(target_path),
        "--log-path",
        str(log_path),
    ]
    if vars:
        command += ["--vars", json.dumps(vars, default=str)]

    limit = settings().duckdb_memory_limit  # from the environment or .env, checked
    env = {
        **os.environ,
        **({"REFNET_DUCKDB_MEMORY_LIMIT": limit} if limit else {}),
        "REFNET_RAW_DIR": str(raw_dir),
        "REFNET_WAREHOUSE": str(warehouse),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "False",
        "DBT_USE_COLORS": "False",
        "DO_NOT_TRACK": "1",
    }

    logger.info("running dbt %s (warehouse %s)", " ".join(args), warehouse)
    started = time.monotonic()
    # Its own process group: a Ctrl-C is handled by refnet, which kills dbt (flows/interrupt.py).
    proc = subprocess.Popen(
        command,
        cwd=PROJECT_DIR,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    with interrupt.tracked_group(proc.pid):
        try:
            stdout, stderr = proc.communicate(timeout=timeout_s)
        except subprocess.TimeoutExpired as exc:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            raise TransformError(f"dbt {' '.join(args)} timed out after {timeout_s}s") from exc
    elapsed = time.monotonic() - started

    nodes = parse_run_results(run_results) if run_results.exists() else []
    result = DbtResult(
        args=list(args),
        return_code=proc.returncode,
        elapsed_s=elapsed,
        nodes=nodes,
        target_path=target_path,
        log_path=log_path,
    )
    for node in result.warned_nodes:
        logger.warning("dbt warning: %s", _describe(node))

    if result.failed_nodes:
        details = "; ".join(_describe(n) for n in result.failed_nodes)
        raise TransformError(
            f"dbt {' '.join(args)} failed: {len(result.failed_nodes)} node(s): {details}", result
        )
    if proc.returncode != 0:
        # No failing node recorded: dbt could not start (bad project, profile, missing files).
        # Only then is its own output the best explanation we have.
        tail = "\n".join((stdout + stderr).strip().splitlines()[-20:])
        raise TransformError(f"dbt {' '.join(args)} exited with {proc.returncode}:\n{tail}", result)

    logger.info(result.summary())
    return result


def build(
    *,
    raw_dir: Path,
    warehouse: Path,
    vars: dict[str, Any] | None = None,
    select: list[str] | None = None,
    timeout_s: int = 900,
    unit_tests: bool = True,
) -> DbtResult:
    """`dbt build`: seeds, models, data tests (and unit tests unless `unit_tests=False`) in DAG
    order. Incremental models are rebuilt in full when the project changed since the warehouse's
    last build: rows built by other model code must not survive an upgrade."""
    args = ["build"]
    if select:
        args += ["--select", *select]
    if not unit_tests:
        # They test model logic on fixed inputs, not the data: CI runs them, a nightly need not.
        args += ["--exclude-resource-type", "unit_test"]
    stamp = Path(warehouse).resolve().parent / "dbt" / "project.sha256"
    fingerprint = project_fingerprint()
    built_by = stamp.read_text().strip() if stamp.exists() else None
    if built_by != fingerprint:
        if built_by is not None:
            logger.info("the dbt project changed since the last build: rebuilding in full")
        args.append("--full-refresh")
    result = run_dbt(args, raw_dir=raw_dir, warehouse=warehouse, vars=vars, timeout_s=timeout_s)
    stamp.write_text(fingerprint + "\n")
    return result


def project_fingerprint() -> str:
    """A hash of every file that shapes what the models build (SQL, YAML, seeds)."""
    digest = hashlib.sha256()
    for path in sorted(PROJECT_DIR.rglob("*")):
        parts = path.relative_to(PROJECT_DIR).parts
        if not path.is_file() or parts[0] in {"target", "logs", "dbt_packages"}:
            continue
        if path.suffix in {".sql", ".yml", ".yaml", ".csv"}:
            digest.update("/".join(parts).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def docs_generate(
    *, raw_dir: Path, warehouse: Path, vars: dict[str, Any] | None = None, timeout_s: int = 900
) -> DbtResult:
    """`dbt docs generate` (catalog of the built warehouse) into the warehouse's dbt target."""
    return run_dbt(
        ["docs", "generate"], raw_dir=raw_dir, warehouse=warehouse, vars=vars, timeout_s=timeout_s
    )
