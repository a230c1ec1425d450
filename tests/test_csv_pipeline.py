"""A clinic with two sources: the nightly run (`refnet run`: Prefect, dbt, GX, Evidence) pulls a
Cliniko account (the sandbox) and a CSV export (the real Kaggle no-show file) side by side, and
the published marts hold both, each row naming its source."""

from __future__ import annotations

import csv
import json
import zipfile
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest
import yaml
from conftest import REPO, SHARED, refnet

from flows.sandbox.server import running_sandbox
from flows.sandbox.world import build_world, registry_yaml

KAGGLE_ZIP = SHARED / "data" / "appointments" / "KaggleV2-May-2016.csv.zip"
API_KEY = "csv-pipeline-test-key-uk1"
KEY_ENV = "CSV_PIPELINE_CLINIKO_KEY"
SECRET = "csv-pipeline-pseudonym-secret-8d41"


@pytest.fixture(scope="module")
def two_sources(tmp_path_factory) -> dict:
    tmp = tmp_path_factory.mktemp("two-sources")
    with zipfile.ZipFile(KAGGLE_ZIP) as z:
        z.extractall(tmp / "exports")
    export = tmp / "exports" / "KaggleV2-May-2016.csv"
    world = build_world(seed=7, scale=0.05)
    (tmp / "partners.yml").write_text(
        registry_yaml(world).replace("source: sandbox", "source: headingley")
    )
    home = tmp / "home"
    with running_sandbox(world, api_key=API_KEY, requests_per_minute=0) as base_url:
        config = {
            "sources": [
                {
                    "name": "headingley",
                    "kind": "cliniko",
                    "api_key_env": KEY_ENV,
                    "base_url": base_url,
                    "contact_email": "ops@clinic.example",
                },
                {
                    "name": "vitoria",
                    "kind": "csv",
                    "mapping": str(REPO / "examples" / "csv" / "kaggle-noshow.mapping.yml"),
                    "time_zone": "America/Sao_Paulo",
                    "files": {"appointments": str(export), "patients": str(export)},
                },
            ],
            "partners": "partners.yml",
            "as_of": world.end_date.isoformat(),
        }
        path = tmp / "refnet.yml"
        path.write_text(yaml.safe_dump(config, sort_keys=False))
        result = refnet(
            "run",
            "--config",
            str(path),
            "--home",
            str(home),
            env={KEY_ENV: API_KEY, "REFNET_PSEUDONYM_SECRET": SECRET},
            timeout=1800,
        )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    with open(export, newline="", encoding="utf-8") as fh:
        truth = list(csv.DictReader(fh))
    return {"home": home, "out": result.stdout + result.stderr, "truth": truth}


def marts(home: Path) -> duckdb.DuckDBPyConnection:
    return duckdb.connect(str(home / "published" / "marts.duckdb"), read_only=True)


def test_the_export_reaches_the_appointments_mart_beside_cliniko(two_sources):
    con = marts(two_sources["home"])
    by_source = {
        (kind, name): (n, noshow)
        for kind, name, n, noshow in con.sql(
            "select source_kind, source_name, count(*), "
            "count(*) filter (where status = 'noshow') from appointments group by all"
        ).fetchall()
    }
    # Every row names its source: both configured sources, and nothing unnamed.
    assert set(by_source) == {("csv", "vitoria"), ("cliniko", "headingley")}
    assert by_source[("csv", "vitoria")] == (110_527, 22_319)
    assert by_source[("cliniko", "headingley")][0] > 0
    clinic = con.sql(
        "select clinic_name, time_zone from clinics where clinic_id = 'csv:vitoria:vitoria'"
    ).fetchone()
    assert clinic == ("vitoria", "America/Sao_Paulo")
    con.close()


def test_no_appointment_changes_calendar_day_in_the_mart(two_sources):
    con = marts(two_sources["home"])
    days = dict(
        con.sql(
            "select appointment_id, strftime(starts_local_date, '%Y-%m-%d') from appointments "
            "where source_kind = 'csv'"
        ).fetchall()
    )
    con.close()
    moved = [
        t["AppointmentID"]
        for t in two_sources["truth"]
        if days[f"csv:vitoria:{t['AppointmentID']}"] != t["AppointmentDay"][:10]
    ]
    assert moved == []


def test_run_summary_counts_the_quarantined_row(two_sources):
    (record,) = [json.loads(p.read_text()) for p in (two_sources["home"] / "runs").glob("*.json")]
    streams = {s["stream"]: s for s in record["streams"]["vitoria"]}
    assert streams["appointments"]["records"] == 110_527
    assert (streams["patients"]["records"], streams["patients"]["quarantined"]) == (110_526, 1)
    assert "patients 110526 (1 quarantined)" in two_sources["out"]


def test_no_export_patient_id_reaches_a_published_mart(two_sources):
    ids = {t["PatientId"] for t in two_sources["truth"]}
    con = marts(two_sources["home"])
    con.register("export_ids", pa.table({"id": sorted(ids)}))
    columns = con.sql(
        "select table_name, column_name from information_schema.columns "
        "where table_catalog <> 'temp' and table_schema = 'main' and data_type = 'VARCHAR'"
    ).fetchall()
    hits = {
        f"{t}.{c}": n
        for t, c in columns
        if (
            n := con.sql(
                f'select count(*) from "{t}" where "{c}" in (select id from export_ids)'
            ).fetchone()[0]
        )
    }
    con.close()
    assert len(columns) > 50 and hits == {}


def test_a_home_and_exports_with_quotes_and_brackets_in_their_paths(tmp_path: Path):
    """`--home "/srv/o'brien clinic [2]"`: no path reaches DuckDB as SQL or as a glob. A CSV
    source alone, run to publication (an appointments-only site), then publishing's copy and
    the export on that warehouse."""
    from test_csv_source import GOOD, HEADER, MAPPING

    from flows.history import write_history
    from flows.publish import copy_marts, marts_schema

    exports = tmp_path / "exports [May]"
    exports.mkdir()
    (exports / "appointments-05.csv").write_text(HEADER + "".join(GOOD))
    # What `exports [May]` matches as a glob: another folder's file.
    decoy = tmp_path / "exports M"
    decoy.mkdir()
    (decoy / "appointments-05.csv").write_text(HEADER + GOOD[0].replace("A1", "DECOY"))
    (tmp_path / "mapping.yml").write_text(MAPPING)
    config = tmp_path / "refnet.yml"
    source = {
        "name": "obrien",
        "kind": "csv",
        "mapping": "mapping.yml",
        "time_zone": "Europe/London",
        "files": {"appointments": "exports [May]/appointments-*.csv"},
    }
    config.write_text(yaml.safe_dump({"sources": [source], "as_of": "2026-04-30"}))
    home = tmp_path / "o'brien clinic [2]"
    result = refnet(
        "run",
        "--config",
        str(config),
        "--home",
        str(home),
        env={"REFNET_PSEUDONYM_SECRET": SECRET},
    )
    out = result.stdout + result.stderr
    assert result.returncode == 0, out[-3000:]
    (record,) = [json.loads(p.read_text()) for p in (home / "runs").glob("*.json")]
    assert record["stages"]["transform"]["status"] == "ok", out[-3000:]
    assert record["status"] == "published", out[-3000:]
    assert (home / "site" / "index.html").is_file()
    warehouse = home / "warehouse" / "refnet.duckdb"
    schema = marts_schema(warehouse)
    con = duckdb.connect(str(warehouse), read_only=True)
    ids = con.sql(f"select appointment_id from {schema}.appointments order by 1").fetchall()
    con.close()
    assert ids == [("csv:obrien:A1",), ("csv:obrien:A2",), ("csv:obrien:A3",)]

    published = home / "published" / "marts.duckdb"
    copied = home / "published" / "copy [1].duckdb"
    assert copy_marts(warehouse, schema, copied, gate_history=[])["appointments"] == 3
    staged = home / "published" / "staged [new].duckdb"
    copy_marts(warehouse, schema, staged)
    assert write_history(staged, home, {**record, "run_id": "now"}, previous=published) == 2
    out_dir = tmp_path / "o'brien export [1]"
    exported = refnet("export", str(out_dir), "--home", str(home), "--format", "csv")
    assert exported.returncode == 0, exported.stderr
    assert len((out_dir / "appointments.csv").read_text().splitlines()) == 4
