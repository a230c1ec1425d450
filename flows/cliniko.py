"""Cliniko connector: streams declared as data, paged by `links.next`, landed incrementally.

Each stream is read with `sort=updated_at:asc` between two bounds: above the committed cursor
(minus an overlap window) and at or below a moment just before the run started. The upper
bound is what makes offset paging safe: a record edited while we page gets a new `updated_at`
past the bound and *leaves* the result, so `total_entries` drops on the next page and we know
the offsets shifted. We then re-query from the last page we know was consistent, instead of
silently skipping the record that slid onto an already-read page.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from flows.config import ClinikoSource
from flows.http import HttpClient, SourceError, dump_json, shared_limiter
from flows.land import BatchWriter, CursorStore, LandingError, Pseudonymiser, join, list_files

log = logging.getLogger(__name__)
SOURCE_KIND = "cliniko"
# Records changed in the last moments before a run are left to the next one: their
# `updated_at` may still move while we page (and client and server clocks differ slightly).
UPPER_BOUND_MARGIN = timedelta(seconds=30)


@dataclass(frozen=True)
class Stream:
    """One list endpoint. `hidden`: fields Cliniko hides records by unless a `q[]=<field>:*`
    filter names them (archived, cancelled, deleted)."""

    name: str
    hidden: tuple[str, ...] = ("archived_at",)
    sort: str = "updated_at:asc"


STREAMS: tuple[Stream, ...] = (
    Stream("businesses", hidden=("archived_at", "deleted_at")),
    Stream("practitioners", hidden=()),
    Stream("appointment_types"),
    Stream("contacts", hidden=("archived_at", "deleted_at")),
    Stream("referral_source_types"),
    Stream("referral_sources"),
    Stream("patients"),
    Stream("patient_cases"),
    Stream("individual_appointments", hidden=("archived_at", "cancelled_at", "deleted_at")),
    Stream("group_appointments", hidden=("archived_at", "deleted_at")),
    Stream("attendees", hidden=("archived_at", "cancelled_at", "deleted_at")),
    Stream("patient_forms"),
    Stream("invoices", hidden=("archived_at", "deleted_at")),
    Stream("communications"),
)
STREAMS_BY_NAME = {s.name: s for s in STREAMS}


class LinksNextPaginator:
    """Follows `links.next` exactly as given; refuses to loop and stops at a page cap."""

    def __init__(self, max_pages: int = 100_000) -> None:
        self.max_pages = max_pages
        self.pages = 0
        self._seen: set[str] = set()

    def next_url(self, body: dict, url: str) -> str | None:
        self.pages += 1
        self._seen.add(url)
        nxt = (body.get("links") or {}).get("next")
        if not nxt:
            return None
        if not isinstance(nxt, str):
            raise SourceError(f"links.next is not a URL ({nxt!r})")
        if nxt in self._seen:
            raise SourceError(
                f"the API returned a next link already visited ({nxt}); refusing to loop"
            )
        if self.pages >= self.max_pages:
            raise SourceError(f"more than {self.max_pages} pages; raise max_pages if that is real")
        return nxt


@dataclass
class StreamStats:
    stream: str
    records: int = 0
    pages: int = 0
    requests: int = 0
    retries: int = 0
    rate_limited: int = 0
    seconds: float = 0.0
    files: list[str] = field(default_factory=list)
    cursor_from: str | None = None
    cursor_to: str | None = None
    duplicates: int = 0  # records repeated across pages (landed again; deduplicated downstream)
    requeries: int = 0  # times the result shifted under us and we re-queried

    def line(self) -> str:
        rate = self.records / self.seconds if self.seconds else 0.0
        return (
            f"{self.stream:<24} {self.records:>8} records {self.requests:>6} requests "
            f"{self.retries:>4} retries {self.rate_limited:>4} x 429 {self.seconds:>8.1f} s "
            f"{rate:>8.0f} rec/s"
        )


_ID_IN_LINK = re.compile(r"/(\d+)(?:/[a-z_]+)?/?$")


def record_id(record: dict) -> str | None:
    """Ids as text; a record without one (referral sources, some deletions) is named by its link."""
    rid = record.get("id")
    if rid not in (None, ""):
        return str(rid)
    link = (record.get("links") or {}).get("self") or ""
    match = _ID_IN_LINK.search(link) if isinstance(link, str) else None
    return match.group(1) if match else None


def record_version(record: dict) -> str | None:
    """The moment this version of the record was written: `updated_at`, else (a deletion that
    carries only its link) `deleted_at`. `""` counts as missing."""
    for key in ("updated_at", "deleted_at"):
        value = record.get(key)
        if isinstance(value, str) and value.strip():
            return value
    return None


def _parse_ts(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _format_ts(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class _Landing:
    """Pending rows of one stream and the cursor they justify, flushed as immutable batches."""

    def __init__(
        self, writer: BatchWriter, cursors: CursorStore, account: str, stream: str, run_id: str
    ) -> None:
        self.writer, self.cursors = writer, cursors
        self.account, self.stream, self.run_id = account, stream, run_id
        self.pending: list[tuple[str, str | None, bytes]] = []
        self.files: list[str] = []
        self.confirmed: str | None = None  # newest updated_at over pages known consistent

    def add(self, rows: Iterable[tuple[str, str | None, bytes]], newest: str | None) -> None:
        self.pending.extend(rows)
        if newest and (self.confirmed is None or newest > self.confirmed):
            self.confirmed = newest

    def flush(self, commit: bool, first_run: bool) -> str | None:
        """Write pending rows durably, then (only then) move the cursor."""
        if self.pending or (first_run and not self.files):
            self.files.append(str(self.writer.write(self.pending)))
            self.pending.clear()
        if commit and self.confirmed:
            self.cursors.commit(SOURCE_KIND, self.account, self.stream, self.confirmed, self.run_id)
            return self.confirmed
        return None


def extract_stream(
    client: HttpClient,
    base_url: str,
    account: str,
    stream: Stream,
    raw_dir: Path | str,
    cursors: CursorStore,
    pseudonymiser: Pseudonymiser,
    run_id: str,
    overlap: timedelta = timedelta(minutes=10),
    batch_size: int = 5_000,
    per_page: int = 100,
    max_pages: int = 100_000,
    max_requeries: int = 20,
    now: datetime | None = None,
    progress_every_s: float = 10.0,
) -> StreamStats:
    """Pull one stream since its committed cursor and land it; the cursor moves only after a
    batch is durably on disk, so a crash at any point resumes without losing records."""
    stats = StreamStats(stream.name)
    started = time.monotonic()
    before = (client.stats.requests, client.stats.retries, client.stats.rate_limited)
    cursor = cursors.get(SOURCE_KIND, account, stream.name)
    stats.cursor_from = cursor
    upper = _format_ts((now or datetime.now(UTC)) - UPPER_BOUND_MARGIN)
    lower: tuple[str, str] | None = None
    if cursor:
        lower = (">", _format_ts(_parse_ts(cursor) - overlap))
    initial_lower = lower
    where = f"{account}/{stream.name}"

    stream_dir = join(raw_dir, SOURCE_KIND, account, stream.name)
    first_run = cursor is None and not list_files(stream_dir)
    landing = _Landing(
        BatchWriter(stream_dir, SOURCE_KIND, account, stream.name, run_id),
        cursors,
        account,
        stream.name,
        run_id,
    )
    ordered = True  # intermediate commits are safe only while pages arrive in updated_at order
    last_seen: str | None = None
    page_no = 0
    short_passes = 0
    last_progress = started
    prefetch = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"refnet-{stream.name}")
    with prefetch:
        while True:  # one query per pass; a pass ends early when the result shifts under us
            params: list[tuple[str, str]] = [("per_page", str(per_page)), ("sort", stream.sort)]
            params += [("q[]", f"{f}:*") for f in stream.hidden]
            if lower:
                params.append(("q[]", f"updated_at:{lower[0]}{lower[1]}"))
            params.append(("q[]", f"updated_at:<={upper}"))
            paginator = LinksNextPaginator(max_pages)
            url: str | None = f"{base_url}/{stream.name}"
            query: list[tuple[str, str]] | None = params
            expected: int | None = None
            received = 0
            previous_ids: set[str] = set()
            shifted = False
            whole_pass = False
            # One page ahead: the next page downloads while this one is pseudonymised and landed.
            ahead: Future | None = prefetch.submit(client.get_json, url, query)
            while ahead is not None:
                page_no += 1
                try:
                    body = ahead.result()
                except SourceError as exc:
                    raise SourceError(f"{where} page {page_no}: {exc}") from exc
                ahead = None
                records, total = _page_records(body, stream.name, where, page_no)
                if expected is None:
                    expected = total
                elif total is not None and total != expected:
                    # Something in the result was edited, archived or deleted since the last
                    # page: offsets moved. Drop this page and re-query from what is confirmed.
                    log.info(
                        "%s page %d: total_entries went from %d to %d while paging; re-querying "
                        "from %s",
                        where,
                        page_no,
                        expected,
                        total,
                        landing.confirmed or "the start",
                    )
                    shifted = True
                    break
                try:
                    next_url = paginator.next_url(body, url)
                except SourceError as exc:
                    raise SourceError(f"{where} page {page_no}: {exc}") from exc
                if next_url:
                    ahead = prefetch.submit(client.get_json, next_url, None)
                rows, page_ids, page_newest = [], set(), None
                for index, record in enumerate(records):
                    rid, version = _check_record(record, where, page_no, index)
                    if rid in previous_ids or rid in page_ids:
                        stats.duplicates += 1
                    else:
                        received += 1
                    page_ids.add(rid)
                    if version is not None:
                        if last_seen and version < last_seen:
                            ordered = False
                        last_seen = version
                        if page_newest is None or version > page_newest:
                            page_newest = version
                    record["id"] = rid
                    try:
                        clean = pseudonymiser.clean(stream.name, account, record)
                    except Exception as exc:  # a shape the allow-list code did not expect
                        raise LandingError(
                            f"{where} page {page_no} record {index} (id {rid}): cannot be "
                            f"pseudonymised ({type(exc).__name__}: {exc})"
                        ) from exc
                    rows.append((rid, version, dump_json(clean)))
                previous_ids = page_ids
                landing.add(rows, page_newest)
                stats.records += len(rows)
                if len(landing.pending) >= batch_size:
                    stats.cursor_to = landing.flush(commit=ordered, first_run=first_run) or (
                        stats.cursor_to
                    )
                now_s = time.monotonic()
                if now_s - last_progress >= progress_every_s:
                    last_progress = now_s
                    log.info(
                        "%s: %d records so far, %.0f records/s",
                        where,
                        stats.records,
                        stats.records / (now_s - started),
                    )
                url = next_url
            stats.pages += paginator.pages
            if not shifted and expected is not None and received < expected:
                # Fewer distinct records than the API counted, with no sign of a shift: read the
                # pass again once; a second shortfall is a failure, never a silent drop.
                short_passes += 1
                if short_passes > 1:
                    raise SourceError(
                        f"{where}: received {received} distinct records of the {expected} the API "
                        "reported, twice; the API is dropping records from pages. Nothing after "
                        "the last committed cursor was lost; retry later or report it to Cliniko."
                    )
                shifted = True
                whole_pass = True  # missing records may be anywhere: read the whole pass again
            if not shifted:
                if expected is not None and received > expected:
                    log.warning(
                        "%s: received %d distinct records, more than the %d reported; all landed",
                        where,
                        received,
                        expected,
                    )
                break
            stats.requeries += 1
            if stats.requeries > max_requeries:
                raise SourceError(
                    f"{where}: the result kept changing while paging ({max_requeries} re-queries); "
                    "the clinic is busy editing records. Run again later (nothing was lost)."
                )
            if whole_pass:
                lower = initial_lower
            elif ordered and landing.confirmed:
                lower = (">=", landing.confirmed)
            else:
                lower = initial_lower
    stats.cursor_to = landing.flush(commit=True, first_run=first_run) or stats.cursor_to
    cursors.mark_checked(SOURCE_KIND, account, stream.name, run_id)
    stats.files = landing.files
    stats.requests = client.stats.requests - before[0]
    stats.retries = client.stats.retries - before[1]
    stats.rate_limited = client.stats.rate_limited - before[2]
    stats.seconds = round(time.monotonic() - started, 3)
    return stats


def _page_records(body: object, name: str, where: str, page_no: int) -> tuple[list, int | None]:
    if not isinstance(body, dict) or not isinstance(body.get(name), list):
        keys = ", ".join(sorted(body)[:5]) if isinstance(body, dict) else type(body).__name__
        raise SourceError(
            f"{where} page {page_no}: response has no '{name}' list (found: {keys}); "
            "check that base_url points at the Cliniko API (…/v1)"
        )
    total = body.get("total_entries")
    if total is not None and (not isinstance(total, int) or isinstance(total, bool)):
        raise SourceError(f"{where} page {page_no}: total_entries is not a number ({total!r})")
    return body[name], total


def _check_record(record: object, where: str, page_no: int, index: int) -> tuple[str, str | None]:
    """The record's id (text) and version time (None if it has none), or a LandingError
    naming stream, page and record."""
    if not isinstance(record, dict):
        raise LandingError(
            f"{where} page {page_no} record {index}: not a JSON object ({type(record).__name__})"
        )
    rid = record_id(record)
    if rid is None:
        raise LandingError(
            f"{where} page {page_no} record {index}: no id and no link to name it by; the "
            "record cannot be landed (report the payload to Cliniko)"
        )
    version = record_version(record)
    if version is None:
        # Cliniko's older examples omit it (referral sources). Landed with a null version: it
        # loses to any dated version downstream and never moves the cursor.
        return rid, None
    try:
        _parse_ts(version)
    except ValueError:
        raise LandingError(
            f"{where} page {page_no} record {index} (id {rid}): updated_at {version!r} is "
            "not an ISO 8601 time"
        ) from None
    return rid, version


def summary_table(results: Iterable[StreamStats]) -> str:
    """The end-of-extraction summary: one line per stream."""
    return "\n".join(s.line() for s in results)


def extract_source(
    source: ClinikoSource,
    home: Path,
    run_id: str,
    secret: bytes,
    streams: Iterable[Stream] = STREAMS,
    client: HttpClient | None = None,
    **options: object,
) -> list[StreamStats]:
    """Every stream of one Cliniko account, through one client whose rate limit is shared by
    all streams (and all sources) of the same API key. Logs a summary line per stream."""
    api_key = source.resolve_api_key()
    base_url = source.resolve_base_url(api_key)
    client = client or HttpClient(
        source=source.name,
        auth=(api_key, ""),
        user_agent=f"refnet ({source.contact_email})",
        limiter=shared_limiter(api_key, source.requests_per_minute),
    )
    pseudonymiser = Pseudonymiser(secret, source.intake_question)
    cursors = CursorStore(home / "state")
    results = []
    for stream in streams:
        stats = extract_stream(
            client,
            base_url,
            source.name,
            stream,
            home / "raw",
            cursors,
            pseudonymiser,
            run_id,
            **options,  # type: ignore[arg-type]
        )
        log.info("%s/%s", source.name, stats.line())
        results.append(stats)
    log.info("%s: extraction summary\n%s", source.name, summary_table(results))
    return results


def reset_cursors(home: Path, account: str) -> None:
    """Forget a source's cursors: its next extraction reads every record again."""
    CursorStore(home / "state").reset(SOURCE_KIND, account)
