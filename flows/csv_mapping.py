"""The mapping file of a CSV source: which export column holds which canonical field.

A clinic without an API exports spreadsheets (appointments, patients). The mapping names, per
export type, the column behind each canonical field, how its dates are written, and what its
status values mean. Only mapped fields are ever landed: the mapping is the allow-list.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from flows.config import ConfigError, iana_zone, invalid_file, read_yaml

STATUSES = ("booked", "arrived", "fulfilled", "cancelled", "noshow")
EXPORT_TYPES = ("appointments", "patients")
# Ages outside this range are typing errors (the real export has -1), not patients.
MAX_AGE = 130


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


Formats = Annotated[list[str], Field(min_length=1)]


def _formats(v: object) -> object:
    return [v] if isinstance(v, str) else v


def _check_formats(formats: list[str]) -> list[str]:
    import duckdb

    # Its own connection: sources load their mappings in parallel threads, and DuckDB's default
    # connection is not safe to share between them.
    con = duckdb.connect()
    try:
        for fmt in formats:
            if "%" not in fmt:
                raise ValueError(f"'{fmt}' has no strptime directive (e.g. '%Y-%m-%d')")
            try:
                con.execute("select try_strptime('2000-01-01', $fmt)", {"fmt": fmt}).fetchall()
            except duckdb.Error as exc:
                raise ValueError(f"'{fmt}' is not a strptime format: {exc}") from None
    finally:
        con.close()
    return formats


class TextField(_Strict):
    """A column copied as text (ids are text, so `00123` and `9.37e+13` stay as written)."""

    column: Annotated[str, Field(min_length=1)]


class TimestampField(_Strict):
    """A moment. `format` is one strptime format or a list (the first that fits wins)."""

    column: Annotated[str, Field(min_length=1)]
    format: Formats
    # The zone the times are written in when the format has no %z; default: the source's
    # time_zone. With %z the text's offset counts (`+01:00`, `-0500` or `Z`).
    time_zone: str | None = None

    _as_list = field_validator("format", mode="before")(_formats)

    @field_validator("format")
    @classmethod
    def _valid(cls, v: list[str]) -> list[str]:
        _check_formats(v)
        if len({"%z" in f for f in v}) > 1:
            raise ValueError("either every format has %z (an offset in the text) or none does")
        return v

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, v: str | None) -> str | None:
        return _check_zone(v)

    @property
    def has_offset(self) -> bool:
        return "%z" in self.format[0]


class DateField(_Strict):
    """A calendar day, kept as written: no time zone ever moves it to another day."""

    column: Annotated[str, Field(min_length=1)]
    format: Formats = ["%Y-%m-%d"]

    _as_list = field_validator("format", mode="before")(_formats)

    @field_validator("format")
    @classmethod
    def _valid(cls, v: list[str]) -> list[str]:
        _check_formats(v)
        if any("%z" in f for f in v):
            raise ValueError(
                "a date has no offset: write it literally (e.g. '%Y-%m-%dT00:00:00Z'), so the "
                "day stays the day written"
            )
        return v


class StatusField(_Strict):
    """The column holding the appointment's outcome and what each of its values means."""

    column: Annotated[str, Field(min_length=1)]
    # Export value -> canonical status; matched ignoring case and surrounding spaces.
    values: Annotated[dict[str, Literal[STATUSES]], Field(min_length=1)]

    @field_validator("values")
    @classmethod
    def _distinct(cls, v: dict[str, str]) -> dict[str, str]:
        folded = [k.strip().casefold() for k in v]
        dupes = sorted({k for k in folded if folded.count(k) > 1})
        if dupes:
            raise ValueError(f"values differ only in case or spaces: {', '.join(dupes)}")
        return v


class AgeField(_Strict):
    """An age in whole years; only a birth year (the year of `recorded_on` minus the age) lands."""

    column: Annotated[str, Field(min_length=1)]
    recorded_on: DateField


class AppointmentMapping(_Strict):
    appointment_id: TextField
    patient_id: TextField
    status: StatusField
    starts_at: TimestampField | None = None
    # When the export has the day only (no time): the appointment's local calendar day.
    starts_on: DateField | None = None
    ends_at: TimestampField | None = None
    booked_at: TimestampField | None = None
    cancelled_at: TimestampField | None = None
    updated_at: TimestampField | None = None
    cancellation_reason: TextField | None = None
    practitioner_id: TextField | None = None
    clinic_id: TextField | None = None
    appointment_type: TextField | None = None
    referral_id: TextField | None = None

    @model_validator(mode="after")
    def _has_start(self) -> AppointmentMapping:
        if self.starts_at is None and self.starts_on is None:
            raise ValueError("map starts_at (a date and time) or starts_on (a day), or both")
        return self


class PatientMapping(_Strict):
    patient_id: TextField
    # Identifying in full: only the year lands.
    date_of_birth: DateField | None = None
    age: AgeField | None = None
    # Only the UK postcode district (outward code) lands.
    postcode: TextField | None = None
    created_at: TimestampField | None = None
    updated_at: TimestampField | None = None

    @model_validator(mode="after")
    def _one_birth_year(self) -> PatientMapping:
        if self.date_of_birth is not None and self.age is not None:
            raise ValueError("map date_of_birth or age, not both (each gives the birth year)")
        return self


class CsvDialect(_Strict):
    delimiter: Annotated[str, Field(min_length=1, max_length=1)] = ","
    quote: Annotated[str, Field(min_length=1, max_length=1)] = '"'
    # The encodings DuckDB's CSV reader decodes itself.
    encoding: Literal["utf-8", "utf-16", "latin-1"] = "utf-8"


class ExportMapping(_Strict):
    csv: CsvDialect = CsvDialect()
    appointments: AppointmentMapping | None = None
    patients: PatientMapping | None = None
    path: Path | None = Field(default=None, exclude=True)

    @model_validator(mode="after")
    def _something(self) -> ExportMapping:
        if self.appointments is None and self.patients is None:
            raise ValueError("map at least one export type: appointments or patients")
        return self

    def section(self, export_type: str) -> AppointmentMapping | PatientMapping | None:
        return getattr(self, export_type)


def _check_zone(v: str | None) -> str | None:
    # The same check as the source's zone: host aliases such as `localtime` fail in the warehouse.
    return v if v is None else iana_zone(v)


def _location(loc: tuple) -> str:
    where = ".".join(str(p) for p in loc if not re.fullmatch(r"function-\w+", str(p)))
    return where or "(top level)"


def load_mapping(path: Path) -> ExportMapping:
    """Read and validate a mapping file; errors name the file and the key."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"mapping file not found: {path}")
    data = read_yaml(path, "CSV mapping")
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping with 'appointments' and/or 'patients'")
    try:
        mapping = ExportMapping.model_validate(data)
    except ValidationError as exc:
        raise invalid_file(path, "CSV mapping", exc, where=_location) from None
    return mapping.model_copy(update={"path": path.resolve()})
