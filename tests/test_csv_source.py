"""The CSV export source: the real Kaggle no-show export through the shipped example mapping,
and small invented exports for every way a file or a row can be wrong."""

from __future__ import annotations

import csv
import json
import re
import zipfile
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest
from conftest import REPO, SHARED, refnet

from flows.config import ConfigError, load_config
from flows.csv_source import (
    APPOINTMENT_FIELDS,
    PATIENT_FIELDS,
    PROVENANCE_FIELDS,
    QUARANTINE_COLUMNS,
    ExportError,
    extract_csv_source,
)
from flows.land import Pseudonymiser
from flows.nightly import RunSummary

SECRET = b"csv-test-secret"
KAGGLE_ZIP = SHARED / "data" / "appointments" / "KaggleV2-May-2016.csv.zip"
EXAMPLE_MAPPING = REPO / "examples" / "csv" / "kaggle-noshow.mapping.yml"
SCIENTIFIC = re.compile(r"^\d+(\.\d+)?[eE][+-]?\d+$")


def landed(home: Path, stream: str) -> list[dict]:
    rows = duckdb.sql(
        f"select id, record from read_parquet('{home}/raw/csv/*/{stream}/*.parquet')"
    ).fetchall()
    return [{"_id": rid, **json.loads(record)} for rid, record in rows]


def quarantined(home: Path, stream: str) -> list[dict]:
    out = []
    for path in sorted((home / "raw" / "csv").glob(f"*/_quarantine/{stream}/*.csv")):
        with open(path, newline="") as fh:
            reader = csv.DictReader(fh)
            assert reader.fieldnames == QUARANTINE_COLUMNS
            out.extend(reader)
    return out


def config_file(tmp: Path, files: dict[str, str], mapping: Path, **extra) -> Path:
    source = {
        "name": "clinic",
        "kind": "csv",
        "mapping": str(mapping),
        "time_zone": "Europe/London",
        "files": files,
        **extra,
    }
    path = tmp / "refnet.yml"
    path.write_text(json.dumps({"sources": [source]}))  # JSON is YAML
    return path


def run(config: Path, home: Path, run_id: str = "run-1"):
    source = load_config(config).sources[0]
    return {s.stream: s for s in extract_csv_source(source, home, run_id, SECRET)}


# --- the real export ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def kaggle(tmp_path_factory):
    """The real export, unzipped to a temporary folder (never into the repository), landed once
    through the shipped example mapping with the clinic in São Paulo's zone (UTC-3)."""
    tmp = tmp_path_factory.mktemp("kaggle")
    with zipfile.ZipFile(KAGGLE_ZIP) as z:
        z.extractall(tmp / "exports")
    export = tmp / "exports" / "KaggleV2-May-2016.csv"
    config = config_file(
        tmp,
        {"appointments": str(export), "patients": str(export)},
        EXAMPLE_MAPPING,
    )
    config.write_text(config.read_text().replace("Europe/London", "America/Sao_Paulo"))
    home = tmp / "home"
    stats = run(config, home)
    with open(export, newline="", encoding="utf-8") as fh:
        truth = list(csv.DictReader(fh))
    return {"home": home, "stats": stats, "truth": truth, "config": config, "export": export}


def test_kaggle_appointments_land_with_their_known_facts(kaggle):
    rows = landed(kaggle["home"], "appointments")
    stats = kaggle["stats"]["appointments"]
    assert stats.records == len(rows) == 110_527
    assert stats.quarantined == 0 and quarantined(kaggle["home"], "appointments") == []
    assert len({r["appointment_id"] for r in rows}) == 110_527
    assert len({r["patient_key"] for r in rows}) == 62_299
    noshow = sum(r["status"] == "noshow" for r in rows)
    assert noshow == 22_319
    assert round(100 * noshow / len(rows), 2) == 20.19
    assert {r["status"] for r in rows} == {"noshow", "fulfilled"}
    # "In seconds": on 2 shared cores the whole file maps and lands well under half a minute.
    assert stats.seconds < 30, stats.seconds


def test_kaggle_scientific_notation_patient_ids_are_kept_verbatim_as_text(kaggle):
    """Decision: the 5 PatientIds a spreadsheet wrote in scientific notation are preserved as
    text, exactly as written (each is still a distinct id), not quarantined."""
    odd = {
        t["AppointmentID"]: t["PatientId"]
        for t in kaggle["truth"]
        if SCIENTIFIC.match(t["PatientId"])
    }
    assert len(odd) == 5
    by_id = {r["appointment_id"]: r for r in landed(kaggle["home"], "appointments")}
    keys = Pseudonymiser(SECRET, "").patient_key
    for appointment_id, patient_id in odd.items():
        assert by_id[appointment_id]["patient_id"] == patient_id  # e.g. '9377952927E-5'
        assert by_id[appointment_id]["patient_key"] == keys("clinic", patient_id)
    assert kaggle["stats"]["appointments"].scientific_ids == 5


def test_kaggle_no_appointment_moves_to_another_calendar_day(kaggle):
    """AppointmentDay is a date written as midnight UTC; the clinic's zone (UTC-3) would move
    every one of them to the day before if it were treated as a moment."""
    by_id = {r["appointment_id"]: r for r in landed(kaggle["home"], "appointments")}
    moved = [
        t["AppointmentID"]
        for t in kaggle["truth"]
        if by_id[t["AppointmentID"]]["starts_on"] != t["AppointmentDay"][:10]
    ]
    assert moved == []
    # Booking times are moments: the same instant as written (UTC), whatever the clinic zone.
    for t in kaggle["truth"][:2000]:
        written = datetime.strptime(t["ScheduledDay"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        got = datetime.fromisoformat(by_id[t["AppointmentID"]]["booked_at"])
        assert got == written
    assert {r["time_zone"] for r in by_id.values()} == {"America/Sao_Paulo"}


def test_kaggle_lands_only_mapped_fields(kaggle):
    """The mapping is the allow-list: no neighbourhood, gender, age or health condition lands."""
    rows = landed(kaggle["home"], "appointments")
    patients = landed(kaggle["home"], "patients")
    assert {k for r in rows for k in r} == {"_id", *APPOINTMENT_FIELDS, *PROVENANCE_FIELDS}
    assert {k for r in patients for k in r} == {"_id", *PATIENT_FIELDS, *PROVENANCE_FIELDS}
    neighbourhoods = {t["Neighbourhood"] for t in kaggle["truth"]}
    texts = {v for r in rows + patients for v in r.values() if isinstance(v, str)}
    assert not texts & neighbourhoods
    raw = b"".join(p.read_bytes() for p in (kaggle["home"] / "raw").rglob("*.parquet"))
    assert b"JARDIM DA PENHA" not in raw  # the most common neighbourhood, in no byte


def test_kaggle_patients_give_birth_years_and_quarantine_the_impossible_age(kaggle):
    patients = landed(kaggle["home"], "patients")
    stats = kaggle["stats"]["patients"]
    bad_lines = [i for i, t in enumerate(kaggle["truth"], start=2) if int(t["Age"]) < 0]
    assert len(bad_lines) == 1  # the export's Age -1
    assert stats.quarantined == 1 and stats.records == 110_526 == len(patients)
    (q,) = quarantined(kaggle["home"], "patients")
    assert int(q["line"]) == bad_lines[0]
    assert "Age" in q["reason"] and "'-1'" in q["reason"]
    assert q["file_sha256"] == ("9132d3e7d0246617df9041d3764f20ad6f08e7b0d9f0997fa254fc5e52eda27d")
    quarantined_patient = kaggle["truth"][bad_lines[0] - 2]["PatientId"]
    ids = {p["patient_id"] for p in patients}
    assert quarantined_patient not in ids and len(ids | {quarantined_patient}) == 62_299
    line = {p["line"]: p for p in patients}
    for n, t in list(enumerate(kaggle["truth"], start=2))[:500]:
        assert line[n]["birth_year"] == int(t["AppointmentDay"][:4]) - int(t["Age"])


def test_kaggle_unchanged_export_is_not_landed_twice(kaggle, tmp_path):
    before = sorted((kaggle["home"] / "raw").rglob("*.parquet"))
    again = run(kaggle["config"], kaggle["home"], "run-2")
    assert again["appointments"].files_unchanged == 1 and again["appointments"].records == 0
    assert again["patients"].files_unchanged == 1 and again["patients"].records == 0
    assert sorted((kaggle["home"] / "raw").rglob("*.parquet")) == before


# --- invented exports --------------------------------------------------------------------------

MAPPING = """
appointments:
  appointment_id: {column: Appt}
  patient_id: {column: Patient}
  status:
    column: Outcome
    values: {Attended: fulfilled, DNA: noshow, Cancelled: cancelled, Booked: booked}
  starts_at: {column: Start, format: ["%d/%m/%Y %H:%M", "%Y-%m-%d %H:%M"]}
  booked_at: {column: Booked, format: "%Y-%m-%dT%H:%M:%S%z"}
  cancellation_reason: {column: Why}
patients:
  patient_id: {column: Patient}
  date_of_birth: {column: DOB, format: "%d/%m/%Y"}
  postcode: {column: Postcode}
"""
HEADER = "Appt,Patient,Outcome,Start,Booked,Why,Name\n"
GOOD = [
    "A1,P1,Attended,29/03/2026 09:00,2026-03-01T10:00:00+00:00,,Ann Example\n",
    "A2,P2,DNA,2026-01-15 14:30,2026-01-02T08:00:00-05:00,,Bob Example\n",
    "A3,P1,Cancelled,30/03/2026 09:00,2026-03-02T10:00:00+01:00,Unwell,Ann Example\n",
]


@pytest.fixture
def clinic(tmp_path):
    (tmp_path / "mapping.yml").write_text(MAPPING)

    def make(body: str, files=None, mapping_text: str | None = None, **extra) -> Path:
        (tmp_path / "export.csv").write_text(body)
        if mapping_text is not None:
            (tmp_path / "mapping.yml").write_text(mapping_text)
        return config_file(
            tmp_path,
            files or {"appointments": "export.csv"},
            Path("mapping.yml"),  # relative: resolved against the configuration file
            **extra,
        )

    return make


def test_rows_are_mapped_with_zones_formats_and_statuses(clinic, tmp_path):
    stats = run(clinic(HEADER + "".join(GOOD)), tmp_path / "home")["appointments"]
    assert (stats.records, stats.quarantined) == (3, 0)
    rows = {r["appointment_id"]: r for r in landed(tmp_path / "home", "appointments")}
    # Wall-clock times in the clinic's zone: 29 March 2026 is already BST (UTC+1), 15 Jan is GMT.
    assert rows["A1"]["starts_at"] == "2026-03-29T08:00:00Z"
    assert rows["A2"]["starts_at"] == "2026-01-15T14:30:00Z"
    # Offsets in the text are honoured.
    assert rows["A2"]["booked_at"] == "2026-01-02T13:00:00Z"
    assert rows["A3"]["booked_at"] == "2026-03-02T09:00:00Z"
    assert [rows[k]["status"] for k in ("A1", "A2", "A3")] == ["fulfilled", "noshow", "cancelled"]
    assert rows["A3"]["cancellation_reason"] == "Unwell"
    assert rows["A1"]["patient_key"] == rows["A3"]["patient_key"] != rows["A2"]["patient_key"]
    assert [rows[k]["line"] for k in ("A1", "A2", "A3")] == [2, 3, 4]
    raw = b"".join(p.read_bytes() for p in (tmp_path / "home" / "raw").rglob("*.parquet"))
    assert b"Example" not in raw  # an unmapped column (names) never lands


def test_missing_mapped_column_names_column_file_and_mapping_key(clinic, tmp_path):
    body = (HEADER + "".join(GOOD)).replace("Outcome", "Result", 1)
    config = clinic(body)
    with pytest.raises(ExportError) as err:
        run(config, tmp_path / "home")
    message = str(err.value)
    assert "no column 'Outcome'" in message
    assert str(tmp_path / "export.csv") in message
    assert "appointments.status.column" in message and "mapping.yml" in message
    assert "Result" in message  # the columns the file does have
    assert not (tmp_path / "home" / "raw").exists()
    assert not (tmp_path / "home" / "state").exists()


def test_bad_date_bad_status_and_malformed_lines_are_quarantined_with_line_numbers(
    clinic, tmp_path
):
    rows = [
        GOOD[0],
        "A2,P2,DNA,31/02/2026 14:30,2026-01-02T08:00:00-05:00,,Bob Example\n",  # line 3
        "A3,P3,Maybe,30/03/2026 09:00,2026-03-02T10:00:00+01:00,,Cy Example\n",  # line 4
        "A4,P4,Attended,30/03/2026 09:00,2026-03-02T10:00:00Z,,Di Example,extra\n",  # line 5
        ',P5,Attended,30/03/2026 09:00,2026-03-02T10:00:00+01:00,"two\nlines",Ed Example\n',
        "A6,P6,Booked,01/04/2026 09:00,2026-03-02T10:00:00+01:00,,Flo Example\n",  # line 7
        GOOD[2].replace("A3", "A7"),  # line 8
    ]
    stats = run(clinic(HEADER + "".join(rows), max_quarantined_share=0.9), tmp_path / "home")
    stats = stats["appointments"]
    assert (stats.records, stats.quarantined) == (3, 4)
    assert sorted(r["appointment_id"] for r in landed(tmp_path / "home", "appointments")) == [
        "A1",
        "A6",
        "A7",
    ]
    assert {r["appointment_id"]: r["line"] for r in landed(tmp_path / "home", "appointments")}[
        "A7"
    ] == 8  # a value spanning two text lines is one spreadsheet row
    reasons = {int(q["line"]): q["reason"] for q in quarantined(tmp_path / "home", "appointments")}
    assert sorted(reasons) == [3, 4, 5, 6]
    assert "Start (starts_at): '31/02/2026 14:30' does not match" in reasons[3]
    assert "Outcome (status): 'Maybe' is not a mapped status value" in reasons[4]
    assert "Attended, DNA, Cancelled, Booked" in reasons[4]
    assert reasons[5].startswith("malformed line: TOO MANY COLUMNS")
    assert "Appt (appointment_id): empty" in reasons[6]
    for text in reasons.values():
        assert "Example" not in text  # reasons quote mapped values only, never other columns
    summary = RunSummary(run_id="r", home="h", started_at=datetime.now(UTC).isoformat())
    summary.streams["clinic"] = [{"stream": "appointments", "records": 3, "quarantined": 4}]
    assert "appointments 3 (4 quarantined)" in summary.text()


def test_appointment_ids_a_spreadsheet_mangled_are_quarantined_not_merged(clinic, tmp_path):
    """Excel writes a long id column as `1.23457E+11` (or rounds it to 15 digits): three
    appointments then read as one. None lands, each is quarantined with what to do."""
    rows = [
        *GOOD,
        "1.23457E+11,P4,Attended,01/04/2026 09:00,,,Di Example\n",  # line 5
        "1.23457E+11,P5,DNA,02/04/2026 09:00,,,Ed Example\n",
        "1.23457E+11,P6,Attended,03/04/2026 09:00,,,Flo Example\n",
        "123456789012345000,P7,Attended,04/04/2026 09:00,,,Gus Example\n",  # line 8
        "9.1E+3,P8,Booked,05/04/2026 09:00,,,Hal Example\n",
        "123456789012345000,P9,Cancelled,06/04/2026 09:00,,,Ivy Example\n",  # line 10
    ]
    config = clinic(HEADER + "".join(rows), max_quarantined_share=0.9)
    stats = run(config, tmp_path / "home")["appointments"]
    assert (stats.records, stats.quarantined) == (3, 6)  # every row accounted for
    assert sorted(r["appointment_id"] for r in landed(tmp_path / "home", "appointments")) == [
        "A1",
        "A2",
        "A3",
    ]
    reasons = {int(q["line"]): q["reason"] for q in quarantined(tmp_path / "home", "appointments")}
    assert sorted(reasons) == [5, 6, 7, 8, 9, 10]
    for reason in reasons.values():
        assert reason.startswith("Appt (appointment_id): ")
        assert "ids mangled by a spreadsheet: export as text" in reason
    assert "'1.23457E+11' is in scientific notation and on 3 rows of this file" in reasons[5]
    assert "'9.1E+3' is in scientific notation;" in reasons[9]
    assert "'123456789012345000' is on 2 rows of this file;" in reasons[10]
    summary = RunSummary(run_id="r", home="h", started_at=datetime.now(UTC).isoformat())
    summary.streams["clinic"] = [asdict(stats)]
    assert "appointments 3 (6 quarantined)" in summary.text()


def test_a_file_mostly_unmappable_is_refused_whole(clinic, tmp_path):
    body = HEADER + "".join(g.replace("Attended", "Came").replace("DNA", "Absent") for g in GOOD)
    with pytest.raises(ExportError) as err:
        run(clinic(body), tmp_path / "home")
    assert "2 of 3 rows cannot be mapped" in str(err.value)
    assert "line 2: Outcome (status): 'Came'" in str(err.value)
    assert not list((tmp_path / "home").rglob("*.parquet"))
    assert not list((tmp_path / "home").rglob("*.json"))  # not marked landed: fix and rerun


def test_date_columns_keep_the_day_and_refuse_a_time_of_day(clinic, tmp_path):
    mapping = MAPPING.replace(
        'starts_at: {column: Start, format: ["%d/%m/%Y %H:%M", "%Y-%m-%d %H:%M"]}',
        'starts_on: {column: Start, format: "%Y-%m-%dT%H:%M:%SZ"}',
    )
    rows = [
        "A1,P1,Attended,2026-03-29T00:00:00Z,2026-03-01T10:00:00Z,,x\n",
        "A2,P2,Attended,2026-03-29T23:30:00Z,2026-03-01T10:00:00Z,,x\n",
        "A3,P3,Attended,2026-01-01T00:00:00Z,2026-03-01T10:00:00Z,,x\n",
    ]
    config = clinic(HEADER + "".join(rows), mapping_text=mapping, time_zone="Pacific/Kiritimati")
    run(config, tmp_path / "home")
    rows_out = {r["appointment_id"]: r for r in landed(tmp_path / "home", "appointments")}
    assert rows_out["A1"]["starts_on"] == "2026-03-29" and rows_out["A1"]["starts_at"] is None
    assert rows_out["A3"]["starts_on"] == "2026-01-01"
    (q,) = quarantined(tmp_path / "home", "appointments")
    assert q["line"] == "3" and "has a time of day" in q["reason"]


def test_patients_land_a_birth_year_and_postcode_district_only(clinic, tmp_path):
    body = (
        "Patient,DOB,Postcode,Name\n"
        "P1,14/07/1961,LS6 3HN,Ann Example\n"
        "P2,,not a postcode,Bob Example\n"
        "P3,31/13/1990,LS1 1AA,Cy Example\n"
    )
    config = clinic(body, files={"patients": "export.csv"}, max_quarantined_share=0.9)
    stats = run(config, tmp_path / "home")["patients"]
    assert (stats.records, stats.quarantined) == (2, 1)
    rows = {r["patient_id"]: r for r in landed(tmp_path / "home", "patients")}
    assert rows["P1"]["birth_year"] == 1961 and rows["P1"]["postcode_district"] == "LS6"
    assert rows["P2"]["birth_year"] is None and rows["P2"]["postcode_district"] is None
    assert rows["P1"]["patient_key"] == Pseudonymiser(SECRET, "").patient_key("clinic", "P1")
    raw = b"".join(p.read_bytes() for p in (tmp_path / "home" / "raw").rglob("*.parquet"))
    assert b"14/07/1961" not in raw and b"1961-07-14" not in raw and b"3HN" not in raw
    (q,) = quarantined(tmp_path / "home", "patients")
    assert q["line"] == "4" and "DOB (date_of_birth): '31/13/1990'" in q["reason"]


def test_changed_file_or_mapping_lands_again_unchanged_does_not(clinic, tmp_path):
    home = tmp_path / "home"
    config = clinic(HEADER + "".join(GOOD[:2]))
    assert run(config, home, "run-1")["appointments"].records == 2
    assert run(config, home, "run-2")["appointments"].files_unchanged == 1
    config = clinic(HEADER + "".join(GOOD))  # the clinic's next export: one more row
    third = run(config, home, "run-3")["appointments"]
    assert (third.files_landed, third.records) == (1, 3)
    config = clinic(
        HEADER + "".join(GOOD), mapping_text=MAPPING.replace("DNA: noshow", "DNA: cancelled")
    )
    fourth = run(config, home, "run-4")["appointments"]
    assert (fourth.files_landed, fourth.records) == (1, 3)  # same file, new meaning
    state = json.loads((home / "state" / "csv" / "clinic" / "appointments.json").read_text())
    assert datetime.fromisoformat(state["committed_at"])  # what the gate's freshness reads
    assert len(state["files"]) == 2  # by content: the first and the second export


def test_glob_lands_each_matching_file(clinic, tmp_path):
    exports = tmp_path / "exports"
    exports.mkdir()
    (exports / "2026-01.csv").write_text(HEADER + GOOD[1])
    (exports / "2026-03.csv").write_text(HEADER + GOOD[0] + GOOD[2])
    config = clinic("", files={"appointments": "exports/*.csv"})
    stats = run(config, tmp_path / "home")["appointments"]
    assert (stats.files_landed, stats.records) == (2, 3)
    files = {r["source_file"] for r in landed(tmp_path / "home", "appointments")}
    assert files == {"2026-01.csv", "2026-03.csv"}


def test_nothing_to_read_is_an_error_naming_the_pattern(clinic, tmp_path):
    config = clinic("", files={"appointments": "exports/*.csv"})
    with pytest.raises(ExportError, match=r"files.appointments: nothing matches .*exports/\*.csv"):
        run(config, tmp_path / "home")


@pytest.mark.parametrize(
    "change, message",
    [
        (("fulfilled", "attended"), "appointments.status.values.Attended"),
        (('"%Y-%m-%dT%H:%M:%S%z"', '"%Y-%m-%dT%H:%M:%S%Q"'), "appointments.booked_at.format"),
        (("starts_at: {column: Start", "startz_at: {column: Start"), "startz_at: unknown key"),
        (("patient_id: {column: Patient}\n  status", "status"), "appointments.patient_id"),
    ],
)
def test_bad_mapping_is_refused_with_the_key_named(clinic, tmp_path, change, message):
    config = clinic(HEADER, mapping_text=MAPPING.replace(*change))
    with pytest.raises(ConfigError) as err:
        load_config(config)
    assert message in str(err.value) and "mapping.yml" in str(err.value)


@pytest.mark.parametrize("zone", ["localtime", "posixrules", "right/UTC"])
def test_a_host_zone_alias_in_the_mapping_fails_config_check_not_the_run(clinic, tmp_path, zone):
    """Python reads these host aliases, the warehouse does not: checked as the source's zone."""
    mapping = MAPPING.replace(
        'format: ["%d/%m/%Y %H:%M", "%Y-%m-%d %H:%M"]}',
        f'format: ["%d/%m/%Y %H:%M", "%Y-%m-%d %H:%M"], time_zone: {zone}}}',
    )
    assert f"time_zone: {zone}" in mapping
    config = clinic(HEADER, mapping_text=mapping)
    result = refnet("config", "check", str(config))
    assert result.returncode == 2, result.stdout
    assert f"appointments.starts_at.time_zone: '{zone}' is not an IANA time zone" in result.stderr
    assert "mapping.yml" in result.stderr


def test_bad_source_config_is_refused_with_the_key_named(clinic, tmp_path):
    with pytest.raises(ConfigError, match=r"sources\[0\].csv.time_zone: 'Mars/Base'"):
        load_config(clinic(HEADER, time_zone="Mars/Base"))
    mapping = MAPPING.split("patients:")[0]
    with pytest.raises(ConfigError, match="files.patients is given but the mapping"):
        load_config(clinic(HEADER, files={"patients": "export.csv"}, mapping_text=mapping))


def test_example_config_passes_config_check():
    result = refnet("config", "check", str(REPO / "examples" / "csv" / "refnet.yml"))
    assert result.returncode == 0, result.stderr
    assert "1 sources" in result.stdout
    # Said up front: this configuration publishes an appointments-only site.
    assert "no source provides referrals" in result.stdout


def test_a_quote_left_open_refuses_the_file_instead_of_landing_part_of_it(clinic, tmp_path):
    rows = [GOOD[0].replace("A1", f"A{i}") for i in range(1, 300)]
    rows[100] = rows[100].replace(",,Ann", ',"never closed,Ann')  # line 102
    with pytest.raises(ExportError) as err:
        run(clinic(HEADER + "".join(rows)), tmp_path / "home")
    message = str(err.value)
    assert "line 102 opens a quote that is not closed" in message
    assert "nothing of this file was landed" in message
    assert "Example" not in message
    assert not list((tmp_path / "home").rglob("*.parquet"))
    assert not (tmp_path / "home" / "state").exists() or not any(
        (tmp_path / "home" / "state").rglob("appointments.json")
    )


def test_a_broken_header_is_named_without_quoting_any_row(clinic, tmp_path):
    body = '"' + HEADER + "".join(GOOD)
    with pytest.raises(ExportError) as err:
        run(clinic(body), tmp_path / "home")
    assert "the header line has a quote that is never closed" in str(err.value)
    assert "Example" not in str(err.value) and "P1" not in str(err.value)


def test_trailing_empty_columns_of_a_spreadsheet_are_ignored(clinic, tmp_path):
    body = "".join(line.rstrip("\n") + ",,\n" for line in [HEADER, *GOOD])
    stats = run(clinic(body), tmp_path / "home")["appointments"]
    assert (stats.records, stats.quarantined) == (3, 0)


def test_sources_load_their_mappings_in_parallel_threads(tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    from flows.csv_mapping import load_mapping

    paths = []
    for i in range(4):
        path = tmp_path / f"m{i}.yml"
        path.write_text(MAPPING)
        paths.append(path)
    with ThreadPoolExecutor(4) as pool:
        loaded = list(pool.map(load_mapping, paths * 10))
    assert len(loaded) == 40 and all(m.appointments is not None for m in loaded)


def test_exports_land_oldest_first_and_a_bracketed_name_is_a_file(tmp_path: Path):
    """ "-10" sorts before "-9" by name: the order is the files' age, so the newest lands last
    (and wins in staging). A real file whose name has glob characters is that file."""
    import os

    from flows.csv_source import _matching_files

    september, october = tmp_path / "appts-2026-9.csv", tmp_path / "appts-2026-10.csv"
    for i, path in enumerate((september, october)):
        path.write_text("id\n1\n")
        os.utime(path, (1_700_000_000 + i * 86_400,) * 2)
    assert _matching_files(str(tmp_path / "appts-*.csv")) == [september, october]
    march = tmp_path / "Appointments [March].csv"
    march.write_text("id\n1\n")
    assert _matching_files(str(march)) == [march]
