"""The nightly build is incremental (staging merges new landings, the journey recomputes touched
patients); it must give exactly what a full rebuild gives on the same landed history."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from conftest import REPO

from flows.transform import build

VARS = {"as_of": "2026-11-30"}


def world(raw: Path, *args: str) -> dict:
    out = subprocess.run(
        [sys.executable, str(REPO / "bench" / "world.py"), str(raw), "--referrals", "800", *args],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def tables(con: duckdb.DuckDBPyConnection, catalog: str) -> list[tuple[str, str]]:
    return con.execute(
        "select table_schema, table_name from information_schema.tables "
        "where table_catalog = ? and table_type = 'BASE TABLE' order by all",
        [catalog],
    ).fetchall()


def differences(nightly: Path, full: Path) -> dict[str, tuple[int, int]]:
    """Per table, rows only in the nightly build and rows only in the full one."""
    con = duckdb.connect(str(nightly), read_only=True)
    con.execute(f"attach '{full}' as full_build (read_only)")
    found = {}
    for schema, table in tables(con, nightly.stem):
        # `evaluated_at` is when the row was computed, which differs by design.
        columns = [
            name
            for name, kind in con.execute(
                "select column_name, data_type from information_schema.columns "
                "where table_catalog = ? and table_schema = ? and table_name = ?",
                [nightly.stem, schema, table],
            ).fetchall()
            if name != "evaluated_at" and not kind.endswith("[]")
        ]
        cols = ", ".join(f'"{c}"' for c in columns)
        ours = f'select {cols} from "{nightly.stem}"."{schema}"."{table}"'
        theirs = f'select {cols} from full_build."{schema}"."{table}"'
        count = "select count(*) from ({} except all {})"
        only_ours = con.execute(count.format(ours, theirs)).fetchone()[0]
        only_theirs = con.execute(count.format(theirs, ours)).fetchone()[0]
        if only_ours or only_theirs:
            found[f"{schema}.{table}"] = (only_ours, only_theirs)
    con.close()
    return found


@pytest.mark.timeout(900)
def test_nightly_builds_equal_a_full_rebuild_and_an_upgrade_rebuilds(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    nightly = tmp_path / "nightly" / "refnet.duckdb"
    world(raw)
    first = build(raw_dir=raw, warehouse=nightly, vars=VARS, unit_tests=False)
    assert "--full-refresh" in first.args  # no earlier build: everything from scratch
    assert "unit_test" in first.args  # the nightly leaves dbt's unit tests to CI

    for night in (1, 2):
        delta = world(raw, "--changes", "0.05", "--night", str(night))
        assert delta["rows"]["individual_appointments"] > 0
        again = build(raw_dir=raw, warehouse=nightly, vars=VARS, unit_tests=False)
        assert "--full-refresh" not in again.args

    con = duckdb.connect(str(nightly), read_only=True)
    # The edited versions won: the second night's batch is what staging holds for its records.
    from_night_2 = con.execute(
        "select count(*) from stg_cliniko__individual_appointments where run_id = 'bench-night-2'"
    ).fetchone()[0]
    con.close()
    assert from_night_2 > 0

    manifest = json.loads((again.target_path / "manifest.json").read_text())
    staging = manifest["nodes"]["model.refnet.stg_cliniko__individual_appointments"]
    assert staging["config"]["materialized"] == "incremental"

    full = tmp_path / "full" / "refnet.duckdb"
    build(raw_dir=raw, warehouse=full, vars=VARS, unit_tests=False)
    assert differences(nightly, full) == {}

    # A warehouse built by other model code (an upgrade) is rebuilt from scratch.
    stamp = nightly.parent / "dbt" / "project.sha256"
    stamp.write_text("0" * 64 + "\n")
    upgraded = build(raw_dir=raw, warehouse=nightly, vars=VARS, unit_tests=False)
    assert "--full-refresh" in upgraded.args
    assert stamp.read_text().strip() != "0" * 64
