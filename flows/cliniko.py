"""Cliniko connector: streams declared as data, paged by `links.next`, landed incrementally."""

from __future__ import annotations

import json
import logging
import re
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from flows.http import HttpClient, SourceError
from flows.land import BatchWriter, CursorStore, LandingError, Pseudonymiser

log = logging.getLogger(__name__)
SOURCE_KIND = "cliniko"


@dataclass(frozen=True)
class Stream:
    name: str
    # Cliniko hides these from list endpoints unless asked with `q[]=<field>:*`.
    hidden: tuple[str, ...] = ("archived_at",)
    sort: str | None = "updated_at:asc"


STREAMS: tuple[Stream, ...] = (
    Stream("businesses"),
    Stream("practitioners", hidden=()),
    Stream("appointment_types"),
    Stream("contacts"),
    Stream("referral_source_types"),
    Stream("referral_sources"),
    Stream("patients"),
    Stream("patient_cases"),
    Stream("individual_appointments", hidden=("archived_at", "cancelled_at")),
    Stream("patient_forms"),
    Stream("invoices"),
)


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


_ID_IN_LINK = re.compile(r"/(\d+)(?:/[a-z_]+)?/?$")


def record_id(record: dict) -> str | None:
    """Ids as text; a record without one (referral sources, some deletions) is named by its link."""
    rid = record.get("id")
    if rid not in (None, ""):
        return str(rid)
    link = (record.get("links") or {}).get("self") or ""
    match = _ID_IN_LINK.search(link)
    return match.group(1) if match else None


def _parse_ts(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _format_ts(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def extract_stream(
    client: HttpClient,
    base_url: str,
    account: str,
    stream: Stream,
    raw_dir: Path,
    cursors: CursorStore,
    pseudonymiser: Pseudonymiser,
    run_id: str,
    overlap: timedelta = timedelta(minutes=10),
    batch_size: int = 5_000,
    per_page: int = 100,
) -> StreamStats:
    """Pull one stream since its committed cursor and land it; the cursor moves only after a
    batch is durably on disk, so a crash at any point resumes without losing records."""
    stats = StreamStats(stream.name)
    started = time.monotonic()
    before = (client.stats.requests, client.stats.retries, client.stats.rate_limited)
    cursor = cursors.get(SOURCE_KIND, account, stream.name)
    stats.cursor_from = cursor
    params: list[tuple[str, str]] = [("per_page", str(per_page))]
    if stream.sort:
        params.append(("sort", stream.sort))
    params += [("q[]", f"{f}:*") for f in stream.hidden]
    if cursor:
        since = _format_ts(_parse_ts(cursor) - overlap)
        params.append(("q[]", f"updated_at:>{since}"))

    stream_dir = raw_dir / SOURCE_KIND / account / stream.name
    writer = BatchWriter(stream_dir, SOURCE_KIND, account, stream.name, run_id)
    paginator = LinksNextPaginator()
    pending: list[tuple[str, str | None, str]] = []
    newest = cursor
    ordered = True  # intermediate commits are safe only while pages arrive in updated_at order
    last_seen: str | None = None
    expected_total: int | None = None

    def flush(final: bool) -> None:
        if pending or (final and not any(stream_dir.glob("*.parquet"))):
            stats.files.append(str(writer.write(pending)))
            pending.clear()
        if newest and newest != cursor and (final or ordered):
            cursors.commit(SOURCE_KIND, account, stream.name, newest, run_id)
            stats.cursor_to = newest

    url: str | None = f"{base_url}/{stream.name}"
    query: list[tuple[str, str]] | None = params
    while url:
        body = client.get_json(url, query)
        page = paginator.pages + 1
        if not isinstance(body, dict) or not isinstance(body.get(stream.name), list):
            raise SourceError(
                f"{account}/{stream.name} page {page}: response has no '{stream.name}' list; "
                "check base_url points at the Cliniko API"
            )
        if expected_total is None and isinstance(body.get("total_entries"), int):
            expected_total = body["total_entries"]
        for index, record in enumerate(body[stream.name]):
            if not isinstance(record, dict):
                raise LandingError(
                    f"{account}/{stream.name} page {page} record {index}: not an object"
                )
            rid = record_id(record)
            if rid is None:
                raise LandingError(
                    f"{account}/{stream.name} page {page} record {index}: no id and no link to "
                    "name it by; the record cannot be landed"
                )
            record["id"] = rid
            updated = record.get("updated_at") or None
            if updated is not None:
                if last_seen and updated < last_seen:
                    ordered = False
                last_seen = updated
                if newest is None or updated > newest:
                    newest = updated
            clean = pseudonymiser.clean(stream.name, account, record)
            pending.append((rid, updated, json.dumps(clean, separators=(",", ":"))))
            stats.records += 1
        if len(pending) >= batch_size:
            flush(final=False)
        url, query = paginator.next_url(body, url), None
    flush(final=True)

    stats.pages = paginator.pages
    if expected_total is not None and stats.records < expected_total:
        log.warning(
            "%s/%s: received %d records but the API reported %d; the overlap window of the "
            "next run re-reads them",
            account,
            stream.name,
            stats.records,
            expected_total,
        )
    stats.requests = client.stats.requests - before[0]
    stats.retries = client.stats.retries - before[1]
    stats.rate_limited = client.stats.rate_limited - before[2]
    stats.seconds = round(time.monotonic() - started, 3)
    return stats
