"""Landing: pseudonymise records at the edge, write immutable Parquet batches, commit cursors."""

from __future__ import annotations

import array
import contextlib
import errno
import hashlib
import hmac
import itertools
import json
import os
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import fsspec
import pyarrow as pa
import pyarrow.parquet as pq
from fsspec.implementations.local import LocalFileSystem

RAW_SCHEMA = pa.schema(
    [
        ("source_kind", pa.string()),
        ("account", pa.string()),
        ("stream", pa.string()),
        ("id", pa.string()),
        ("updated_at", pa.string()),
        ("extracted_at", pa.timestamp("us", tz="UTC")),
        ("run_id", pa.string()),
        ("record", pa.string()),
    ]
)

_LINKED = "linked"  # marker: keep only `{"links": {"self": ...}}` of a nested object
_COMMON = {"id", "created_at", "updated_at", "archived_at", "deleted_at", "links"}

# Fields each stream keeps; everything else (names, contact details, notes, form content) is
# dropped before a byte is written. An allow-list, so a new field in the API stays out by default.
ALLOWED: dict[str, dict[str, str | None]] = {
    "businesses": dict.fromkeys(
        [
            "business_name",
            "display_name",
            "label",
            "time_zone",
            "time_zone_identifier",
            "country",
            "country_code",
        ]
    ),
    "practitioners": dict.fromkeys(["display_name", "designation", "active", "title"]),
    "appointment_types": dict.fromkeys(["name", "category", "duration_in_minutes"]),
    "contacts": dict.fromkeys(
        [
            "title",
            "first_name",
            "last_name",
            "preferred_name",
            "company_name",
            "type",
            "type_code",
            "doctor_type",
            "occupation",
            "provider_number",
        ]
    ),
    "referral_source_types": {"name": None, "referrer_type": None, "subcategories": None},
    "referral_sources": {
        "referrer_type": None,
        "subcategory": None,
        "referrer": _LINKED,
        "patient": _LINKED,
        "referral_source_type": _LINKED,
    },
    "patients": {
        "accepted_privacy_policy": None,
        "accepted_email_marketing": None,
        "accepted_sms_marketing": None,
        "merged_at": None,
        "merged_with_patient": _LINKED,
        "referring_doctor": _LINKED,
    },
    "patient_cases": {
        "closed": None,
        "closed_at": None,
        "issue_date": None,
        "expiry_date": None,
        "referral": None,
        "referral_type": None,
        "max_sessions": None,
        "contact": _LINKED,
        "patient": _LINKED,
    },
    "individual_appointments": {
        "starts_at": None,
        "ends_at": None,
        "cancelled_at": None,
        "cancellation_reason": None,
        "cancellation_reason_description": None,
        "did_not_arrive": None,
        "patient_arrived": None,
        "invoice_status": None,
        "online_booking_policy_accepted": None,
        "appointment_type": _LINKED,
        "business": _LINKED,
        "practitioner": _LINKED,
        "patient": _LINKED,
        "patient_case": _LINKED,
        "repeated_from": _LINKED,
    },
    "patient_forms": {
        "name": None,
        "completed_at": None,
        "edited_at": None,
        "business": _LINKED,
        "patient": _LINKED,
        "booking": _LINKED,
        "attendee": _LINKED,
    },
    "invoices": {
        "issue_date": None,
        "closed_at": None,
        "status": None,
        "status_description": None,
        "total_amount": None,
        "net_amount": None,
        "tax_amount": None,
        "discounted_amount": None,
        "number": None,
        "appointment": _LINKED,
        "attendee": _LINKED,
        "business": _LINKED,
        "patient": _LINKED,
        "practitioner": _LINKED,
    },
    "group_appointments": {
        "starts_at": None,
        "ends_at": None,
        "max_attendees": None,
        "patient_ids": None,
        "appointment_type": _LINKED,
        "business": _LINKED,
        "practitioner": _LINKED,
        "repeated_from": _LINKED,
    },
    "attendees": {
        "arrived": None,
        "cancelled_at": None,
        "cancellation_reason": None,
        "cancellation_reason_description": None,
        "invoice_status": None,
        "online_booking_policy_accepted": None,
        "booking": _LINKED,
        "patient": _LINKED,
        "patient_case": _LINKED,
    },
    # Metadata only: what kind, which way, when, for whom. Never content, subject, from or to.
    "communications": {
        "type": None,
        "type_code": None,
        "category": None,
        "category_code": None,
        "direction_code": None,
        "direction_description": None,
        "confidential": None,
        "patient": _LINKED,
        "attendee": _LINKED,
        "booking": _LINKED,
        "invoice": _LINKED,
    },
}

_KEEP = "keep"
# Per stream, what happens to each kept field (one dict look-up per field on the hot path).
_PLANS: dict[str, dict[str, str]] = {
    stream: {
        **{k: _LINKED if v == _LINKED else _KEEP for k, v in fields.items()},
        **dict.fromkeys(_COMMON, _KEEP),
    }
    for stream, fields in ALLOWED.items()
}

# The Cliniko patient custom field (radio buttons Yes / No) that records whether the patient agrees
# that their progress is shared with the partner who referred them. Absent or unanswered means no.
CONSENT_FIELD = "Share my progress with my referrer"

_UK_POSTCODE = re.compile(r"^([A-Z]{1,2}\d[A-Z\d]?)\s*\d[A-Z]{2}$")


class LandingError(Exception):
    """A record could not be landed as it is; the message names stream, page and record."""


# A full disk (or a used-up quota) is not a transient error: a retry only fills it again.
DISK_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})


class DiskFullError(Exception):
    """No room left for a file refnet writes; nothing half-written was kept. Not an OSError,
    so nothing retries it as a transient I/O error."""

    def __init__(self, path: Path) -> None:
        super().__init__(f"disk full at {path}, free space and re-run; nothing landed was lost")
        self.path = path


def is_disk_full(exc: BaseException) -> bool:
    return isinstance(exc, OSError) and exc.errno in DISK_FULL_ERRNOS


@dataclass(frozen=True)
class Pseudonymiser:
    secret: bytes
    intake_question: str
    consent_field: str = CONSENT_FIELD

    def patient_key(self, account: str, patient_id: str) -> str:
        msg = f"{account}:{patient_id}".encode()
        return hmac.new(self.secret, msg, hashlib.sha256).hexdigest()[:32]

    def patient_keys(self, account: str, patient_ids: Iterable[str]) -> list[str]:
        """`patient_key` of many ids at once (a bulk export): the keyed state is built once."""
        keyed = hmac.new(self.secret, digestmod=hashlib.sha256)
        out = []
        for patient_id in patient_ids:
            h = keyed.copy()
            h.update(f"{account}:{patient_id}".encode())
            out.append(h.hexdigest()[:32])
        return out

    def clean(self, stream: str, account: str, record: dict) -> dict:
        plan = _PLANS[stream]
        out: dict = {}
        for key, value in record.items():
            mode = plan.get(key)
            if mode is _KEEP:
                out[key] = value
            elif mode is _LINKED:
                out[key] = _link_only(value)
        if stream == "patients":
            out["patient_key"] = self.patient_key(account, str(record["id"]))
            out["birth_year"] = _birth_year(record.get("date_of_birth"))
            out["postcode_district"] = postcode_district(record.get("post_code"))
            # Only the consent answer leaves custom_fields (other fields may hold anything).
            out["shares_with_referrer"] = referrer_consent(
                record.get("custom_fields"), self.consent_field
            )
        elif stream == "patient_forms":
            out["heard_about_answer"] = intake_answer(record.get("content"), self.intake_question)
        elif stream == "group_appointments" and isinstance(out.get("patient_ids"), list):
            out["patient_ids"] = [str(v) for v in out["patient_ids"]]  # ids are text
        return out


def _link_only(value: object) -> object:
    if isinstance(value, dict):
        self_link = (value.get("links") or {}).get("self")
        return {"links": {"self": self_link}} if self_link else None
    return None


def _birth_year(dob: object) -> int | None:
    if isinstance(dob, str) and re.match(r"^\d{4}-\d{2}-\d{2}", dob):
        return int(dob[:4])
    return None


def postcode_district(post_code: object) -> str | None:
    if not isinstance(post_code, str):
        return None
    match = _UK_POSTCODE.match(post_code.strip().upper())
    return match.group(1) if match else None


def referrer_consent(custom_fields: object, field_name: str) -> bool | None:
    """True / False for the consent custom field's selected Yes / No option, else None."""
    if not isinstance(custom_fields, dict):
        return None
    wanted = field_name.strip().casefold()
    for section in custom_fields.get("sections") or []:
        for item in (section or {}).get("fields") or []:
            if str((item or {}).get("name", "")).strip().casefold() != wanted:
                continue
            picked = [
                str(o.get("name", "")).strip().casefold()
                for o in item.get("options") or []
                if (o or {}).get("selected")
            ]
            if picked == ["yes"]:
                return True
            if picked == ["no"]:
                return False
            return None
    return None


def intake_answer(content: object, question: str) -> str | None:
    """The answer to the clinic's "how did you hear about us" question, and nothing else."""
    if not isinstance(content, dict):
        return None
    wanted = question.strip().casefold()
    for section in content.get("sections") or []:
        for q in (section or {}).get("questions") or []:
            if str((q or {}).get("name", "")).strip().casefold() != wanted:
                continue
            if isinstance(q.get("answer"), str):
                return q["answer"].strip() or None
            picked = [a.get("value") for a in q.get("answers") or [] if a.get("selected")]
            return "; ".join(str(v) for v in picked if v) or None
    return None


def new_run_id(now: datetime | None = None) -> str:
    now = now or datetime.now(UTC)
    return f"{now:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:6]}"


def sql_string(text: str) -> str:
    """`text` as a SQL string literal (a home may be `/srv/o'brien`)."""
    return "'" + text.replace("'", "''") + "'"


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def is_url(location: str | Path) -> bool:
    """A `protocol://` location (fsspec), as opposed to a plain local path."""
    return isinstance(location, str) and "://" in location


def local_path(location: str | Path) -> Path | None:
    """The local folder a location names (a path or a `file://` URL), else None."""
    if not is_url(location):
        return Path(location)
    fs, path = fsspec.core.url_to_fs(str(location))
    return Path(path) if isinstance(fs, LocalFileSystem) else None


def join(location: str | Path, *parts: str) -> str | Path:
    """`location / part / ...` for a local path or an fsspec URL alike."""
    if not is_url(location):
        return Path(location).joinpath(*parts)
    return "/".join([str(location).rstrip("/"), *parts])


def write_file(location: str | Path, data: bytes) -> str | Path:
    """Write a whole file at a local path or any fsspec URL, so that it exists whole or not at
    all: locally by rename (and fsync), on object stores by their single PUT."""
    local = local_path(location)
    if local is not None:
        write_atomic(local, data)
        return local if not is_url(location) else location
    fs, path = fsspec.core.url_to_fs(str(location))
    fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
    fs.pipe_file(path, data)
    return location


def list_files(folder: str | Path, pattern: str = "*.parquet") -> list[str]:
    """Files matching `pattern` in a local folder or an fsspec folder."""
    local = local_path(folder)
    if local is not None:
        return sorted(str(p) for p in local.glob(pattern))
    fs, path = fsspec.core.url_to_fs(str(folder))
    return sorted(fs.glob(f"{path.rstrip('/')}/{pattern}"))


def write_atomic(path: Path, data: bytes) -> None:
    """Write a file so that it either exists whole or not at all, even across a power cut."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):  # a full disk leaves no partial file behind
            tmp.unlink(missing_ok=True)
        if is_disk_full(exc):
            raise DiskFullError(path) from exc
        raise
    _fsync_dir(path.parent)


def _utf8(value: str | bytes) -> bytes:
    return value if isinstance(value, bytes) else value.encode()


def _string_array(values: list[str | bytes | None]) -> pa.Array:
    """A string column built straight from its bytes. `pa.array(list)` would import pandas on
    first use (pyarrow probes every list for pandas types): ~50 MB and a second per process."""
    data = [b"" if v is None else _utf8(v) for v in values]
    offsets = array.array("i", itertools.accumulate(map(len, data), initial=0))
    validity = None
    if any(v is None for v in values):
        bits = bytearray((len(values) + 7) // 8)
        for i, v in enumerate(values):
            if v is not None:
                bits[i >> 3] |= 1 << (i & 7)
        validity = pa.py_buffer(bits)
    buffers = [validity, pa.py_buffer(offsets), pa.py_buffer(b"".join(data))]
    return pa.Array.from_buffers(pa.string(), len(values), buffers)


def _constant_string(value: str, n: int) -> pa.Array:
    raw = value.encode()
    if raw:
        offsets = array.array("i", range(0, (n + 1) * len(raw), len(raw)))
    else:
        offsets = array.array("i", [0]) * (n + 1)
    buffers = [None, pa.py_buffer(offsets), pa.py_buffer(raw * n)]
    return pa.Array.from_buffers(pa.string(), n, buffers)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _constant_timestamp(moment: datetime, n: int) -> pa.Array:
    values = array.array("q", [(moment - _EPOCH) // timedelta(microseconds=1)]) * n
    kind = RAW_SCHEMA.field("extracted_at").type
    return pa.Array.from_buffers(kind, n, [None, pa.py_buffer(values)])


def _text_column(values) -> pa.Array | pa.ChunkedArray:
    """A list built from its bytes; an Arrow column (a CSV export's, from DuckDB) kept as it
    is, cast only if it is not plain `string` (e.g. large_string)."""
    if isinstance(values, list):
        return _string_array(values)
    if values.type != pa.string():
        values = values.cast(pa.string())
    return values


@dataclass
class BatchWriter:
    """Writes one stream's records as immutable, numbered Parquet files, in a local folder or
    at any fsspec URL (`s3://bucket/raw/...`, `memory://...`)."""

    stream_dir: Path | str
    source_kind: str
    account: str
    stream: str
    run_id: str
    seq: int = 0

    def write(self, rows: Iterable[tuple[str, str | None, str | bytes]]) -> Path | str:
        """rows: (id, updated_at, record JSON as text or UTF-8 bytes). Returns the durable file."""
        rows = list(rows)
        return self.write_columns([r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows])

    def table(self, ids, updated_at, records) -> pa.Table:
        """The batch as a RAW_SCHEMA table, from three equally long columns (lists or Arrow)."""
        n = len(ids)
        columns = [
            _constant_string(self.source_kind, n),
            _constant_string(self.account, n),
            _constant_string(self.stream, n),
            _text_column(ids),
            _text_column(updated_at),
            _constant_timestamp(datetime.now(UTC), n),
            _constant_string(self.run_id, n),
            _text_column(records),
        ]
        return pa.Table.from_arrays(columns, schema=RAW_SCHEMA)

    def write_columns(self, ids, updated_at, records) -> Path | str:
        """The same batch from three equally long columns (lists or Arrow arrays)."""
        table = self.table(ids, updated_at, records)
        self.seq += 1
        path = join(self.stream_dir, f"{self.run_id}-{self.seq:05d}.parquet")
        sink = pa.BufferOutputStream()
        pq.write_table(table, sink, compression="zstd")
        return write_file(path, sink.getvalue().to_pybytes())


class CursorStore:
    """The committed incremental cursor of each stream, one small JSON file per stream."""

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir

    def _path(self, source_kind: str, account: str, stream: str) -> Path:
        return self.state_dir / source_kind / account / f"{stream}.json"

    def get(self, source_kind: str, account: str, stream: str) -> str | None:
        path = self._path(source_kind, account, stream)
        if not path.exists():
            return None
        try:
            return json.loads(path.read_text())["updated_at"]
        except (ValueError, KeyError) as exc:
            raise LandingError(
                f"cursor file {path} is unreadable ({exc}); delete it to re-sync that stream"
            ) from exc

    def commit(self, source_kind: str, account: str, stream: str, updated_at: str, run_id: str):
        body = {
            "updated_at": updated_at,
            "run_id": run_id,
            "committed_at": datetime.now(UTC).isoformat(),
        }
        write_atomic(self._path(source_kind, account, stream), json.dumps(body).encode())

    def mark_checked(self, source_kind: str, account: str, stream: str, run_id: str) -> None:
        """Record a complete, successful pass over the stream, even one that found nothing new:
        freshness is about when the source was last read, not when it last changed."""
        path = self._path(source_kind, account, stream)
        body = {"updated_at": None}
        if path.exists():
            body = json.loads(path.read_text())
        body.update(checked_at=datetime.now(UTC).isoformat(), checked_run_id=run_id)
        write_atomic(path, json.dumps(body).encode())

    def reset(self, source_kind: str, account: str) -> None:
        folder = self.state_dir / source_kind / account
        for path in folder.glob("*.json"):
            path.unlink()
