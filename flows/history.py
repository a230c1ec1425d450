"""Run history: every run's JSON record, and the `run_history` table in the published marts.

Where history lives, and why two places:
- `<home>/runs/<run_id>.json` is written at the end of **every** run (published, blocked or
  failed). A run that did not publish must not touch `published/marts.duckdb` (the last good
  file stays exactly as it was), so this is the only place a failed run can be recorded the
  moment it ends. `refnet status` reads these files.
- `run_history` in `published/marts.duckdb` is rebuilt by each publishing run, inside the staged
  copy before its atomic rename, from the JSON records, the previous published file's
  `run_history` (so rows survive if old JSON files are removed) and the publishing run itself.
  Analysts therefore see failed and blocked runs in the warehouse once the next run publishes.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime
from pathlib import Path

import duckdb

from flows.land import sql_string

log = logging.getLogger(__name__)

HISTORY_TABLE = "run_history"
STAGE_ORDER = ("extract", "registry", "transform", "gate", "publish")

# One row per run. Stages, streams and marts are lists of structs: `unnest(stages)` gives one
# row per run and stage.
_COLUMNS = """
    run_id varchar primary key,
    started_at timestamptz not null,
    finished_at timestamptz,
    duration_seconds double,
    status varchar not null,
    published boolean not null,
    failed_stage varchar,
    gate_passed boolean,
    gate_summary varchar,
    error varchar,
    records bigint,
    stages struct(stage varchar, status varchar, seconds double)[],
    streams struct(account varchar, stream varchar, records bigint, requests bigint)[],
    marts struct(mart varchar, "rows" bigint)[]
"""


def load_run_records(home: Path) -> dict[str, dict]:
    """run_id -> the run's JSON record, for every readable file in `<home>/runs/`."""
    out: dict[str, dict] = {}
    for path in sorted((home / "runs").glob("*.json")):
        try:
            record = json.loads(path.read_text())
        except ValueError:
            log.warning("skipping unreadable run record %s", path)
            continue
        if isinstance(record, dict) and record.get("run_id"):
            out[record["run_id"]] = record
    return out


def _seconds(start: str | None, end: str | None) -> float | None:
    if not start or not end:
        return None
    return round((datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds(), 2)


def _gate_passed(record: dict) -> bool | None:
    gate = record.get("gate")
    if not gate:
        return None
    return gate.startswith("gate passed")


def history_row(record: dict) -> tuple:
    """A run record (RunSummary as a dict) as a `run_history` row."""
    stages = [
        {"stage": name, "status": info.get("status"), "seconds": info.get("seconds")}
        for name, info in record.get("stages", {}).items()
    ]
    streams = [
        {
            "account": account,
            "stream": s.get("stream"),
            "records": s.get("records"),
            "requests": s.get("requests"),
        }
        for account, items in record.get("streams", {}).items()
        for s in items
    ]
    marts = [{"mart": k, "rows": v} for k, v in (record.get("marts") or {}).items()]
    return (
        record["run_id"],
        record["started_at"],
        record.get("finished_at"),
        _seconds(record["started_at"], record.get("finished_at")),
        record.get("status", "unknown"),
        bool(record.get("published")),
        record.get("failed_stage"),
        _gate_passed(record),
        record.get("gate"),
        record.get("error"),
        sum(s["records"] or 0 for s in streams) if streams else None,
        stages,
        streams,
        marts,
    )


def _carry_over(con: duckdb.DuckDBPyConnection, previous: Path) -> None:
    """Keep rows of the live file's history that no JSON record holds any more."""
    con.execute(f"attach {sql_string(str(previous))} as prev (read_only)")
    try:
        con.execute(
            f"insert into {HISTORY_TABLE} by name select * from prev.{HISTORY_TABLE} "
            f"where run_id not in (select run_id from {HISTORY_TABLE})"
        )
    except duckdb.Error as exc:
        # Old files without the table (or with another shape) lose nothing that JSON lacks.
        log.warning("previous run_history not carried over: %s", str(exc).splitlines()[0])
    finally:
        con.execute("detach prev")


def write_history(database: Path, home: Path, current: dict, previous: Path | None) -> int:
    """(Re)write `run_history` in `database` (a staged, not yet published copy); returns rows.

    `previous` is the live published file, read only for rows no JSON record has any more.
    """
    records = load_run_records(home)
    records[current["run_id"]] = current
    con = duckdb.connect(str(database))
    try:
        con.execute(f"drop table if exists {HISTORY_TABLE}")
        con.execute(f"create table {HISTORY_TABLE} ({_COLUMNS})")
        con.executemany(
            f"insert into {HISTORY_TABLE} values ({', '.join('?' * 14)})",
            [history_row(r) for r in records.values()],
        )
        if previous is not None and previous.is_file():
            # A reader holding the live file does not block a second read-only open.
            _carry_over(con, previous)
        count = con.execute(f"select count(*) from {HISTORY_TABLE}").fetchone()[0]
        con.execute("checkpoint")
    finally:
        con.close()
    return count
