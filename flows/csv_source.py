"""CSV export source: a clinic's spreadsheet exports, mapped, checked row by row and landed.

Each export file is read by DuckDB with every column as text, then each mapped field is cast
in SQL, so a bad value is caught on its own row. Rows that cannot be mapped (a malformed line, a
date that does not fit its format, an unknown status, a missing id) are quarantined with their
line number and reason under `raw/csv/<source>/_quarantine/`, and counted: never silently
dropped. The rest are pseudonymised like the Cliniko connector's records (only mapped fields,
a keyed `patient_key`, a birth year at most) and landed as one immutable Parquet batch per file.

A file is landed once per content and mapping (sha256 of both): an unchanged export is skipped
on the next run, a changed one (or the same one under a changed mapping) is landed again and the
newest landing wins downstream.
"""

from __future__ import annotations

import csv
import difflib
import glob
import hashlib
import io
import json
import logging
import os
import re
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pyarrow as pa

from flows.config import DEFAULT_INTAKE_QUESTION, CsvSource
from flows.csv_mapping import (
    MAX_AGE,
    AgeField,
    AppointmentMapping,
    DateField,
    ExportMapping,
    PatientMapping,
    StatusField,
    TextField,
    TimestampField,
    load_mapping,
)
from flows.http import SourceError
from flows.land import BatchWriter, Pseudonymiser, postcode_district, write_atomic

log = logging.getLogger(__name__)
SOURCE_KIND = "csv"
# What a CSV source lands (dbt's `csv` source reads each): the two export types and its clinics.
STREAMS = ("appointments", "patients", "clinics")
# Ids a spreadsheet rewrote as numbers in scientific notation (9.37e+13, 9377952927E-5). A row's
# own appointment id in it is quarantined (`_row_id`); patient ids are kept verbatim (each is
# still a distinct text, the same in both exports) and reported so the clinic can fix them.
_SCIENTIFIC = re.compile(r"^[+-]?\d+(\.\d+)?[eE][+-]?\d+$")
QUARANTINE_COLUMNS = ["source_file", "file_sha256", "line", "reason", "run_id"]


class ExportError(SourceError):
    """An export file cannot be read as mapped; the message names file, column and key."""


@dataclass
class ExportStats:
    """What one export type of one source did in a run (the run summary's stream entry)."""

    stream: str
    records: int = 0
    quarantined: int = 0
    requests: int = 0  # no API: kept so every source's streams have the same shape
    files_landed: int = 0
    files_unchanged: int = 0
    scientific_ids: int = 0
    seconds: float = 0.0
    files: list[str] = field(default_factory=list)
    quarantine_files: list[str] = field(default_factory=list)

    def line(self) -> str:
        return (
            f"{self.stream:<24} {self.records:>8} records {self.quarantined:>6} quarantined "
            f"{self.files_landed:>3} files landed {self.files_unchanged:>3} unchanged "
            f"{self.seconds:>8.1f} s"
        )


# --- the SQL that maps one export type --------------------------------------------------------


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _value(column: str) -> str:
    return f"nullif(trim({_ident(column)}), '')"


def _quoted(expr: str) -> str:
    """The offending value inside a reason, shortened (a reason is a message, not a copy)."""
    return f"'''' || left({expr}, 40) || ''''"


def _strptime(value: str, formats: list[str]) -> str:
    fmts = _lit(formats[0]) if len(formats) == 1 else "[" + ", ".join(map(_lit, formats)) + "]"
    return f"try_strptime({value}, {fmts})"


def _iso(ts: str) -> str:
    """A TIMESTAMPTZ as ISO 8601 UTC text (the session runs in UTC), like Cliniko's."""
    return (
        f"case when {ts} = date_trunc('second', {ts}) then strftime({ts}, '%Y-%m-%dT%H:%M:%SZ') "
        f"else strftime({ts}, '%Y-%m-%dT%H:%M:%S.%fZ') end"
    )


@dataclass
class _Sql:
    """Per canonical field its value expression, plus one reason expression per check."""

    values: dict[str, str] = field(default_factory=dict)
    parsed: dict[str, str] = field(default_factory=dict)  # timestamps as TIMESTAMPTZ
    reasons: list[str] = field(default_factory=list)
    columns: dict[str, str] = field(default_factory=dict)  # mapping key -> export column

    def where(self, key: str, column: str) -> str:
        return f"{column} ({key})"


def _text(sql: _Sql, key: str, spec: TextField, required: bool) -> None:
    sql.columns[f"{key}.column"] = spec.column
    value = _value(spec.column)
    sql.values[key] = value
    if required:
        sql.reasons.append(
            f"case when {value} is null then {_lit(sql.where(key, spec.column) + ': empty')} end"
        )


def _row_id(sql: _Sql, key: str, spec: TextField) -> None:
    """The export's own id of a row, which must tell it apart from every other row of the file:
    a spreadsheet that read a long id as a number writes `1.23457E+11` (or rounds it to 15
    digits), and distinct rows would merge into one downstream. All of them are quarantined."""
    _text(sql, key, spec, required=True)
    value = sql.values[key]
    rows = f"count(*) over (partition by {value})"
    also = f"case when {rows} > 1 then ' and on ' || {rows} || ' rows of this file' else '' end"
    start = f"{_lit(sql.where(key, spec.column) + ': ')} || {_quoted(value)}"
    what_to_do = _lit("; ids mangled by a spreadsheet: export as text")
    sql.reasons.append(
        f"case when {value} is null then null "
        f"when regexp_full_match({value}, {_lit(_SCIENTIFIC.pattern)}) then {start} || "
        f"' is in scientific notation' || {also} || {what_to_do} "
        f"when {rows} > 1 then {start} || ' is on ' || {rows} || ' rows of this file' || "
        f"{what_to_do} end"
    )


def _timestamp(sql: _Sql, key: str, spec: TimestampField, source_zone: str) -> None:
    sql.columns[f"{key}.column"] = spec.column
    raw = _value(spec.column)
    if spec.has_offset:
        # DuckDB's %z wants digits; `Z` (UTC) is how ISO 8601 exports usually write it.
        parsed = _strptime(f"regexp_replace({raw}, '[Zz]$', '+00:00')", spec.format)
    else:
        parsed = _strptime(raw, spec.format)
    if not spec.has_offset:
        # Wall-clock text: the instant it names in the zone it was written in.
        parsed = f"timezone({_lit(spec.time_zone or source_zone)}, {parsed})"
    sql.values[key] = _iso(parsed)
    sql.parsed[key] = parsed
    formats = " or ".join(spec.format)
    sql.reasons.append(
        f"case when {raw} is not null and {parsed} is null then "
        f"{_lit(sql.where(key, spec.column) + ': ')} || {_quoted(raw)} || "
        f"{_lit(' does not match ' + formats)} end"
    )


def _date_parts(sql: _Sql, key: str, spec: DateField) -> tuple[str, str]:
    """(raw text, parsed naive timestamp) of a date column, with its checks added."""
    sql.columns[f"{key}.column"] = spec.column
    raw = _value(spec.column)
    parsed = _strptime(raw, spec.format)
    where = sql.where(key, spec.column)
    formats = " or ".join(spec.format)
    sql.reasons.append(
        f"case when {raw} is not null and {parsed} is null then {_lit(where + ': ')} || "
        f"{_quoted(raw)} || {_lit(' does not match ' + formats)} "
        f"when {parsed} <> date_trunc('day', {parsed}) then {_lit(where + ': ')} || "
        f"{_quoted(raw)} || {_lit(' has a time of day; map the column as a timestamp')} end"
    )
    return raw, parsed


def _date(sql: _Sql, key: str, spec: DateField) -> None:
    # The day as written, never through a time zone: no appointment moves to another day.
    _, parsed = _date_parts(sql, key, spec)
    sql.values[key] = f"strftime(cast({parsed} as date), '%Y-%m-%d')"


def _status(sql: _Sql, key: str, spec: StatusField) -> None:
    sql.columns[f"{key}.column"] = spec.column
    raw = _value(spec.column)
    folded = f"lower({raw})"
    whens = " ".join(
        f"when {_lit(k.strip().casefold())} then {_lit(v)}" for k, v in spec.values.items()
    )
    value = f"case {folded} {whens} end"
    sql.values[key] = value
    where = sql.where(key, spec.column)
    known = ", ".join(spec.values)
    sql.reasons.append(
        f"case when {raw} is null then {_lit(where + ': empty')} "
        f"when {value} is null then {_lit(where + ': ')} || {_quoted(raw)} || "
        f"{_lit(f' is not a mapped status value ({known})')} end"
    )


def _birth_year_from_age(sql: _Sql, spec: AgeField) -> None:
    sql.columns["age.column"] = spec.column
    raw = _value(spec.column)
    age = f"try_cast({raw} as integer)"
    _, on = _date_parts(sql, "age.recorded_on", spec.recorded_on)
    where = sql.where("age", spec.column)
    sql.values["birth_year"] = f"year({on}) - {age}"
    sql.reasons.append(
        f"case when {raw} is null then null "
        f"when {age} is null then {_lit(where + ': ')} || {_quoted(raw)} || "
        f"{_lit(' is not a whole number of years')} "
        f"when {age} < 0 or {age} > {MAX_AGE} then {_lit(where + ': ')} || {_quoted(raw)} || "
        f"{_lit(f' is not an age (0 to {MAX_AGE})')} "
        f"when {on} is null then {_lit(where + ': an age without the day it was recorded on')} "
        "end"
    )


def _birth_year_from_date(sql: _Sql, spec: DateField) -> None:
    _, parsed = _date_parts(sql, "date_of_birth", spec)
    sql.values["birth_year"] = f"year({parsed})"  # the year only: a full birth date identifies


def build_sql(mapping: AppointmentMapping | PatientMapping, source_zone: str) -> _Sql:
    """The value and reason expressions of one export type's mapping."""
    sql = _Sql()
    if isinstance(mapping, AppointmentMapping):
        _row_id(sql, "appointment_id", mapping.appointment_id)
        _text(sql, "patient_id", mapping.patient_id, required=True)
        _status(sql, "status", mapping.status)
        for key in ("starts_at", "ends_at", "booked_at", "cancelled_at", "updated_at"):
            spec = getattr(mapping, key)
            if spec is not None:
                _timestamp(sql, key, spec, source_zone)
        if mapping.starts_on is not None:
            _date(sql, "starts_on", mapping.starts_on)
        # A row needs a start: one of the mapped start columns filled.
        starts = [getattr(mapping, k) for k in ("starts_at", "starts_on")]
        empty = " and ".join(f"{_value(s.column)} is null" for s in starts if s is not None)
        columns = " / ".join(s.column for s in starts if s is not None)
        sql.reasons.append(f"case when {empty} then {_lit(f'{columns} (start): empty')} end")
        if "starts_at" in sql.parsed and "ends_at" in sql.parsed:
            where = f"{mapping.ends_at.column} (ends_at)"
            sql.reasons.append(
                f"case when {sql.parsed['ends_at']} < {sql.parsed['starts_at']} then "
                f"{_lit(f'{where}: ends before {mapping.starts_at.column} (starts_at)')} end"
            )
        for key in (
            "cancellation_reason",
            "practitioner_id",
            "clinic_id",
            "appointment_type",
            "referral_id",
        ):
            spec = getattr(mapping, key)
            if spec is not None:
                _text(sql, key, spec, required=False)
    else:
        _text(sql, "patient_id", mapping.patient_id, required=True)
        if mapping.age is not None:
            _birth_year_from_age(sql, mapping.age)
        if mapping.date_of_birth is not None:
            _birth_year_from_date(sql, mapping.date_of_birth)
        if mapping.postcode is not None:
            _text(sql, "postcode", mapping.postcode, required=False)
        for key in ("created_at", "updated_at"):
            spec = getattr(mapping, key)
            if spec is not None:
                _timestamp(sql, key, spec, source_zone)
    return sql


# --- reading one file --------------------------------------------------------------------------


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _header(path: Path, mapping: ExportMapping) -> list[str]:
    encoding = "utf-8-sig" if mapping.csv.encoding == "utf-8" else mapping.csv.encoding
    try:
        with open(path, encoding=encoding, newline="") as fh:
            row = next(csv.reader(fh, delimiter=mapping.csv.delimiter, quotechar=mapping.csv.quote))
    except csv.Error:
        raise ExportError(_UNBALANCED_HEADER.format(path=path)) from None
    except StopIteration:
        raise ExportError(f"{path}: the file is empty (no header line)") from None
    except UnicodeDecodeError:
        raise ExportError(
            f"{path}: not {mapping.csv.encoding} text; set csv.encoding in {mapping.path} "
            "(utf-8, utf-16 or latin-1) or re-save the export as UTF-8"
        ) from None
    if any("\n" in c or "\r" in c for c in row):
        # A quote left open in the header swallowed data lines into it: never quote them.
        raise ExportError(_UNBALANCED_HEADER.format(path=path))
    names = [c.strip() for c in row]
    # Spreadsheets save trailing empty columns as ",,": nothing can be mapped to them.
    while names and names[-1] == "":
        names.pop()
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ExportError(
            f"{path}: the header names a column twice ({', '.join(dupes)}); a mapping could not "
            "tell them apart"
        )
    return names


_UNBALANCED_HEADER = (
    "{path}: the header line has a quote that is never closed, so it runs into the data lines; "
    "fix the first line of the export (or set csv.quote in the mapping) and run again"
)


def _shown(name: str, limit: int = 40) -> str:
    return name if len(name) <= limit else name[:limit] + "…"


def _check_columns(path: Path, header: list[str], sql: _Sql, export_type: str, mapping_path):
    for key, column in sql.columns.items():
        if column in header:
            continue
        close = difflib.get_close_matches(column, header, n=1)
        hint = f" Did you mean '{close[0]}'?" if close else ""
        raise ExportError(
            f"{path}: no column '{column}' (mapping key {export_type}.{key} in {mapping_path}). "
            f"The file's columns are: {', '.join(_shown(h) for h in header[:60])}.{hint}"
        )


APPOINTMENT_FIELDS = (
    "appointment_id",
    "patient_id",
    "patient_key",
    "status",
    "starts_at",
    "starts_on",
    "ends_at",
    "booked_at",
    "cancelled_at",
    "cancellation_reason",
    "practitioner_id",
    "clinic_id",
    "appointment_type",
    "referral_id",
    "updated_at",
    "time_zone",
)
PATIENT_FIELDS = (
    "patient_id",
    "patient_key",
    "birth_year",
    "postcode_district",
    "created_at",
    "updated_at",
)
# Where each landed row came from, so a clinic can find it in its own export.
PROVENANCE_FIELDS = ("source_file", "file_sha256", "line")
# The landed id of each export type.
ID_FIELD = {"appointments": "appointment_id", "patients": "patient_id"}


class ParsedExport:
    """One export file read by DuckDB (every column as text) and mapped, row by row.

    `line` is the row's number as a spreadsheet shows it (the header is line 1)."""

    def __init__(
        self, path: Path, export_type: str, mapping: ExportMapping, source_zone: str
    ) -> None:
        self.path, self.export_type, self.zone = path, export_type, source_zone
        section = mapping.section(export_type)
        header = _header(path, mapping)
        sql = build_sql(section, source_zone)
        _check_columns(path, header, sql, export_type, mapping.path)
        self.fields = list(sql.values)
        self.con = duckdb.connect()
        try:
            self._read(path, header, sql, mapping)
        except duckdb.Error as exc:
            self.con.close()
            raise ExportError(
                f"{path}: cannot be read as CSV ({type(exc).__name__}: {exc})"
            ) from None

    def _read(self, path: Path, header: list[str], sql: _Sql, mapping: ExportMapping) -> None:
        con = self.con
        con.execute("set TimeZone = 'UTC'")
        # DuckDB reads a path as a glob: `exports [May]/a.csv` would be `exports M/a.csv`.
        columns = "{" + ", ".join(f"{_lit(c)}: 'VARCHAR'" for c in header) + "}"
        con.execute(
            "create table export as select * from read_csv("
            f"{_lit(glob.escape(str(path)))}, header = true, auto_detect = false, "
            f"columns = {columns}, "
            f"delim = {_lit(mapping.csv.delimiter)}, quote = {_lit(mapping.csv.quote)}, "
            f"escape = {_lit(mapping.csv.quote)}, encoding = {_lit(mapping.csv.encoding)}, "
            "store_rejects = true, rejects_limit = 0)"
        )
        # Malformed lines (wrong number of fields, a quote left open, bad bytes) never reach
        # `export`; DuckDB records each with its line.
        rejected = con.execute(
            "select line, arg_min(error_type || coalesce(': ' || error_message, ''), column_idx) "
            "from reject_errors group by line order by line"
        ).fetchall()
        good = con.execute("select count(*) from export").fetchone()[0]
        runaway = con.execute(
            "select min(line) from reject_errors "
            "where error_type in ('UNQUOTED VALUE', 'LINE SIZE OVER MAXIMUM')"
        ).fetchone()[0]
        if runaway is not None:
            # A quote opened and never closed makes the rest of the file one value: rows would
            # vanish without a reject each. Refuse the file rather than land part of it.
            missing = _data_lines(path) - good - len(rejected)
            if missing > 0:
                raise ExportError(
                    f"{path}: line {runaway} opens a quote that is not closed, so the "
                    f"{missing} lines after it were read as one value; nothing of this file was "
                    f"landed. Fix line {runaway} of the export (or csv.quote in {mapping.path}) "
                    "and run again"
                )
        # Rows come back in file order; each takes the next line no rejected row holds.
        taken = {int(line) for line, _ in rejected}
        if taken:
            lines = pa.table({"ordinal": range(good), "line": _good_lines(good, taken)})
            con.register("good_lines", lines)
            line_sql = "(select line from good_lines where good_lines.ordinal = export.rowid)"
        else:
            line_sql = "cast(export.rowid + 2 as bigint)"
        reasons = "[" + ", ".join(sql.reasons) + "]"
        values = ", ".join(f"{expr} as {_ident(key)}" for key, expr in sql.values.items())
        con.execute(
            f"create table mapped as select {line_sql} as line, {values}, "
            f"nullif(array_to_string(list_filter({reasons}, r -> r is not null), '; '), '') "
            "as reasons "
            "from export"
        )
        self.total = good + len(taken)
        self.quarantine: list[tuple[int, str]] = sorted(
            [(int(line), f"malformed line: {why}") for line, why in rejected]
            + con.execute("select line, reasons from mapped where reasons is not null").fetchall()
        )
        self.clinic_ids: set[str] = set()
        if "clinic_id" in self.fields:
            self.clinic_ids = {
                r[0]
                for r in con.execute(
                    "select distinct clinic_id from mapped "
                    "where reasons is null and clinic_id is not null"
                ).fetchall()
            }
        self.scientific_ids = con.execute(
            "select count(*) filter (where regexp_full_match(patient_id, $re)) "
            "from mapped where reasons is null",
            {"re": _SCIENTIFIC.pattern},
        ).fetchone()[0]

    def records(self, account: str, pseudonymiser: Pseudonymiser, provenance: dict) -> pa.Table:
        """(id, updated_at, record) of the good rows, records as landed: canonical fields only,
        the patient identity replaced by its keyed hash, in file order."""
        con = self.con
        ids = [
            r[0]
            for r in con.execute(
                "select distinct patient_id from mapped where reasons is null"
            ).fetchall()
        ]
        con.register(
            "patient_keys",
            pa.table({"patient_id": ids, "patient_key": pseudonymiser.patient_keys(account, ids)}),
        )
        if self.export_type == "appointments":
            fields, extra = APPOINTMENT_FIELDS, {"time_zone": _lit(self.zone)}
        else:
            fields, extra = PATIENT_FIELDS, {}
        present = set(self.fields) | {"patient_key"} | set(extra)
        parts = []
        for name in fields:
            if name == "patient_key":
                expr = "patient_keys.patient_key"
            elif name == "postcode_district":
                expr = "postcode_district(mapped.postcode)" if "postcode" in present else "null"
            elif name in extra:
                expr = extra[name]
            elif name in present:
                expr = f"mapped.{_ident(name)}"
            else:
                expr = "null"
            parts.append(f"{name} := {expr}")
        parts += [f"{k} := {_lit(v)}" for k, v in provenance.items()] + ["line := mapped.line"]
        if "postcode" in self.fields:
            con.create_function(
                "postcode_district",
                postcode_district,
                ["VARCHAR"],
                "VARCHAR",
                null_handling="special",
            )
        updated = "mapped.updated_at" if "updated_at" in self.fields else "null::varchar"
        return con.execute(
            f"select mapped.{ID_FIELD[self.export_type]} as id, {updated} as updated_at, "
            f"to_json(struct_pack({', '.join(parts)}))::varchar as record "
            "from mapped left join patient_keys using (patient_id) "
            "where mapped.reasons is null order by mapped.line"
        ).fetch_arrow_table()

    def close(self) -> None:
        self.con.close()


def _data_lines(path: Path) -> int:
    """Physical lines after the header (a last line without a newline counts)."""
    lines, last = 0, b"\n"
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            lines += chunk.count(b"\n")
            last = chunk[-1:]
    return lines + (last != b"\n") - 1


def _good_lines(count: int, rejected: set[int]) -> list[int]:
    lines, line = [], 2
    while len(lines) < count:
        if line not in rejected:
            lines.append(line)
        line += 1
    return lines


class FileManifest:
    """Which export files a stream has landed, by content: `state/csv/<account>/<stream>.json`.

    Its `committed_at` (the last time a file was landed) is what the gate's freshness check
    reads: a clinic that stops sending exports makes its source stale."""

    def __init__(self, state_dir: Path, account: str, stream: str) -> None:
        self.path = state_dir / SOURCE_KIND / account / f"{stream}.json"
        self.files: dict[str, dict] = {}
        self.committed_at: str | None = None
        if self.path.exists():
            try:
                body = json.loads(self.path.read_text())
                self.files = dict(body["files"])
                self.committed_at = body.get("committed_at")
            except (ValueError, KeyError, TypeError) as exc:
                raise ExportError(
                    f"landing state {self.path} is unreadable ({exc}); delete it to land every "
                    "export file again (duplicates are removed downstream)"
                ) from None

    def landed(self, key: str) -> dict | None:
        return self.files.get(key)

    def commit(self, key: str, entry: dict, run_id: str) -> None:
        self.files[key] = entry
        self.committed_at = datetime.now(UTC).isoformat()
        body = {"committed_at": self.committed_at, "run_id": run_id, "files": self.files}
        write_atomic(self.path, json.dumps(body, indent=1).encode())


def _matching_files(pattern: str) -> list[Path]:
    # An existing file is itself, even when its name has glob characters ("Appointments [March]").
    if Path(pattern).is_file():
        return [Path(pattern)]
    if glob.has_magic(pattern):
        # Likewise the deepest folder that exists as written: `exports [May]/*.csv` is that folder.
        folder = next(p for p in Path(pattern).parents if p.is_dir())
        rest = str(Path(pattern).relative_to(folder))
        found = [
            Path(p)
            for p in glob.glob(os.path.join(glob.escape(str(folder)), rest))
            if Path(p).is_file()
        ]
        # Oldest export first: a later landing wins in staging, and names sort "-10" before "-9".
        return sorted(found, key=lambda p: (p.stat().st_mtime_ns, p.name))
    return []


def _write_quarantine(path: Path, rows: list[tuple[int, str]], provenance: dict, run_id: str):
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(QUARANTINE_COLUMNS)
    for line, reason in rows:
        writer.writerow(
            [provenance["source_file"], provenance["file_sha256"], line, reason, run_id]
        )
    write_atomic(path, buf.getvalue().encode())


def _mapping_key(mapping: ExportMapping, source: CsvSource, export_type: str) -> str:
    """What the landed rows depend on besides the file: the mapping section and the zone."""
    section = mapping.section(export_type)
    text = json.dumps(
        {"csv": mapping.csv.model_dump(), "map": section.model_dump(), "tz": source.time_zone},
        sort_keys=True,
    )
    return hashlib.sha256(text.encode()).hexdigest()


def land_export(
    source: CsvSource,
    export_type: str,
    pattern: str,
    mapping: ExportMapping,
    home: Path,
    run_id: str,
    pseudonymiser: Pseudonymiser,
    clinic_ids: set[str] | None = None,
) -> ExportStats:
    """Land every new or changed file of one export type; unchanged files are skipped.
    `clinic_ids` collects the clinic ids the landed appointments name."""
    stats = ExportStats(export_type)
    started = time.monotonic()
    account = source.name
    stream_dir = home / "raw" / SOURCE_KIND / account / export_type
    # Beside the landed batches, as for FHIR; a CSV file, for whoever fixes the export.
    quarantine_dir = home / "raw" / SOURCE_KIND / account / "_quarantine" / export_type
    manifest = FileManifest(home / "state", account, export_type)
    files = _matching_files(pattern)
    if not files and not manifest.files:
        raise ExportError(
            f"source '{account}': files.{export_type}: nothing matches {pattern}; put the export "
            "there or correct the path (relative paths start at the configuration file)"
        )
    if not files:
        log.warning("%s/%s: no file matches %s; nothing new", account, export_type, pattern)
    mapping_key = _mapping_key(mapping, source, export_type)
    writer = BatchWriter(stream_dir, SOURCE_KIND, account, export_type, run_id)
    for seq, path in enumerate(files, start=1):
        sha = file_sha256(path)
        seen = manifest.landed(sha)
        if seen is not None and seen.get("mapping_sha256") == mapping_key:
            stats.files_unchanged += 1
            continue
        parsed = ParsedExport(path, export_type, mapping, source.time_zone)
        try:
            bad = len(parsed.quarantine)
            if parsed.total and bad / parsed.total > source.max_quarantined_share:
                examples = "; ".join(f"line {n}: {why}" for n, why in parsed.quarantine[:3])
                raise ExportError(
                    f"{path}: {bad} of {parsed.total} rows cannot be mapped (more than "
                    f"{source.max_quarantined_share:.0%}), so the mapping {mapping.path} does "
                    f"not fit this export; nothing of it was landed. First problems: {examples}"
                )
            provenance = {"source_file": path.name, "file_sha256": sha}
            table = parsed.records(account, pseudonymiser, provenance)
        finally:
            parsed.close()
        raw_file = writer.write_columns(
            table.column("id"), table.column("updated_at"), table.column("record")
        )
        stats.scientific_ids += parsed.scientific_ids
        if clinic_ids is not None:
            clinic_ids |= parsed.clinic_ids
        entry = {
            "path": str(path),
            "mapping_sha256": mapping_key,
            "run_id": run_id,
            "rows": parsed.total,
            "landed": table.num_rows,
            "quarantined": bad,
            "raw_file": str(raw_file),
        }
        if bad:
            qfile = quarantine_dir / f"{run_id}-{seq:05d}.csv"
            _write_quarantine(qfile, parsed.quarantine, provenance, run_id)
            entry["quarantine_file"] = str(qfile)
            stats.quarantine_files.append(str(qfile))
            log.warning(
                "%s/%s: %s: %d of %d rows quarantined (first: line %d: %s); see %s",
                account,
                export_type,
                path.name,
                bad,
                parsed.total,
                parsed.quarantine[0][0],
                parsed.quarantine[0][1],
                qfile,
            )
        # Only after the batch (and its quarantine) are on disk: the file counts as landed.
        manifest.commit(sha, entry, run_id)
        stats.files.append(str(raw_file))
        stats.files_landed += 1
        stats.records += table.num_rows
        stats.quarantined += bad
    if stats.scientific_ids:
        log.warning(
            "%s/%s: %d patient ids look like numbers a spreadsheet rewrote in scientific notation "
            "(e.g. 9.37e+13); kept verbatim as text. Export ids as text to get the originals.",
            account,
            export_type,
            stats.scientific_ids,
        )
    stats.seconds = round(time.monotonic() - started, 3)
    return stats


def extract_csv_source(
    source: CsvSource, home: Path, run_id: str, secret: bytes
) -> list[ExportStats]:
    """Every configured export type of one CSV source."""
    mapping = load_mapping(source.mapping)
    pseudonymiser = Pseudonymiser(secret, DEFAULT_INTAKE_QUESTION)
    results, clinic_ids = [], set()
    for export_type, pattern in source.files.items():
        stats = land_export(
            source, export_type, pattern, mapping, home, run_id, pseudonymiser, clinic_ids
        )
        log.info("%s/%s", source.name, stats.line())
        results.append(stats)
    results.append(land_clinics(source, home, run_id, clinic_ids))
    return results


def default_clinic_id(source: CsvSource) -> str:
    """The clinic of appointments whose export names none: the source itself."""
    return source.name


def land_clinics(source: CsvSource, home: Path, run_id: str, seen: set[str]) -> ExportStats:
    """The source's clinics with its time zone, landed when they change (a new clinic id in an
    export, another zone or name in the config): the warehouse's local dates use this zone."""
    started = time.monotonic()
    stats = ExportStats("clinics")
    stream_dir = home / "raw" / SOURCE_KIND / source.name / "clinics"
    landed: dict[str, dict] = {}
    if any(stream_dir.glob("*.parquet")):
        rows = duckdb.execute(
            "select record from read_parquet($glob) order by extracted_at, run_id",
            {"glob": f"{glob.escape(str(stream_dir))}/*.parquet"},
        ).fetchall()
        for (record,) in rows:
            clinic = json.loads(record)
            landed[clinic["clinic_id"]] = clinic
    names = {default_clinic_id(source): source.clinic_name or source.name}
    wanted = {
        cid: {"clinic_id": cid, "clinic_name": names.get(cid, cid), "time_zone": source.time_zone}
        for cid in sorted(set(landed) | seen | set(names))
    }
    if wanted != landed:
        records = [
            json.dumps(c, separators=(",", ":"), ensure_ascii=False) for c in wanted.values()
        ]
        writer = BatchWriter(stream_dir, SOURCE_KIND, source.name, "clinics", run_id)
        stats.files.append(str(writer.write_columns(list(wanted), [None] * len(wanted), records)))
        stats.records = len(records)
    stats.seconds = round(time.monotonic() - started, 3)
    return stats


def forget_landed(home: Path, account: str) -> None:
    """Forget which files a source landed: the next extraction lands every file again."""
    for path in (home / "state" / SOURCE_KIND / account).glob("*.json"):
        path.unlink()
