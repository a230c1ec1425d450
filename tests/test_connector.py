"""The Cliniko connector against real HTTP: the sandbox (with and without faults), Cliniko's own
example pages served over loopback, crashes, and incremental re-runs."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import duckdb
import pytest
from conftest import REPO, SHARED

from flows.cliniko import (
    STREAMS,
    STREAMS_BY_NAME,
    Stream,
    extract_stream,
    record_id,
)
from flows.config import ClinikoSource
from flows.http import HttpClient, RateLimiter, SourceError, shared_limiter
from flows.land import ALLOWED, CursorStore, LandingError, Pseudonymiser
from flows.sandbox.server import Faults, serving
from flows.sandbox.world import World, build_world

EXAMPLES = SHARED / "data" / "cliniko" / "examples"
KEY = "connector-test-key-uk1"
PSEUDO = Pseudonymiser(b"test-secret", "How did you hear about us?")
SCALE = 0.1
# Example list pages whose resource refnet does not extract (nothing to land them as).
NOT_EXTRACTED = {"bookings", "invoice_items", "patient_form_templates"}


def client(**kw) -> HttpClient:
    options = {"timeout_s": 5.0, "max_attempts": 6, **kw}
    return HttpClient(
        "test", (KEY, ""), "refnet tests (tests@refnet.example)", RateLimiter(100_000), **options
    )


def extract_all(
    base_url: str, home: Path, run_id: str = "run1", http: HttpClient | None = None, **kw
) -> dict[str, object]:
    http = http or client()
    cursors = CursorStore(home / "state")
    return {
        s.name: extract_stream(
            http, base_url, "acct", s, home / "raw", cursors, PSEUDO, run_id, **kw
        )
        for s in STREAMS
    }


def latest(home: Path, stream: str) -> dict[str, tuple[str, str]]:
    """The landed records after downstream dedup: latest `updated_at` per id wins."""
    files = f"{home}/raw/cliniko/acct/{stream}/*.parquet"
    rows = duckdb.sql(f"""
        select id, updated_at, record from read_parquet('{files}')
        qualify row_number() over (
            partition by id order by updated_at desc nulls last, extracted_at desc) = 1
    """).fetchall()
    # Links name the serving sandbox's port; compare records across servers without it.
    return {r[0]: (r[1], re.sub(r"http://127\.0\.0\.1:\d+", "", r[2])) for r in rows}


def without_updated_at(landed: dict[str, tuple[str, str]]) -> dict[str, dict]:
    out = {}
    for rid, (_, text) in landed.items():
        record = json.loads(text)
        record.pop("updated_at", None)
        out[rid] = record
    return out


@pytest.fixture(scope="module")
def world() -> World:
    return build_world(scale=SCALE)


@pytest.fixture(scope="module")
def clean_home(world, tmp_path_factory) -> Path:
    """One fault-free extraction of every stream."""
    home = tmp_path_factory.mktemp("clean")
    with serving(world, api_key=KEY, requests_per_minute=0) as server:
        extract_all(server.base_url, home)
    return home


# --- every stream against the sandbox ------------------------------------------------------


@pytest.mark.parametrize("stream", [s.name for s in STREAMS])
def test_every_stream_lands_every_record_including_hidden_ones(world, clean_home, stream):
    landed = latest(clean_home, stream)
    expected = {record_id(r): r for r in world.resources[stream]}
    assert set(landed) == set(expected)
    for rid, (updated_at, text) in landed.items():
        record = json.loads(text)
        assert isinstance(record["id"], str) and record["id"] == rid
        assert updated_at == expected[rid]["updated_at"]
        allowed = set(ALLOWED[stream]) | {
            "id",
            "created_at",
            "updated_at",
            "archived_at",
            "deleted_at",
            "links",
            "patient_key",
            "birth_year",
            "postcode_district",
            "heard_about_answer",
            "shares_with_referrer",
        }
        assert set(record) <= allowed, set(record) - allowed


def test_hidden_records_are_asked_for(world, clean_home):
    appts = latest(clean_home, "individual_appointments")
    cancelled = [r for r in world.resources["individual_appointments"] if r["cancelled_at"]]
    archived = [r for r in world.resources["individual_appointments"] if r["archived_at"]]
    assert cancelled and archived
    assert {r["id"] for r in cancelled + archived} <= set(appts)
    deleted = [r for r in world.resources["invoices"] if r["deleted_at"]]
    assert {r["id"] for r in deleted} <= set(latest(clean_home, "invoices"))


def test_no_identity_or_message_content_is_landed(world, clean_home):
    blob = "\n".join(t for s in STREAMS for _, t in latest(clean_home, s.name).values())
    needles = {
        v for ident in world.patient_identities() for v in ident.values() if v and len(v) >= 5
    }
    needles |= {c["content"] for c in world.resources["communications"]}
    needles |= {c["to"] for c in world.resources["communications"]}
    assert not [n for n in needles if n in blob]
    comm = json.loads(next(iter(latest(clean_home, "communications").values()))[1])
    assert {"type", "category", "direction_code", "patient", "created_at"} <= set(comm)
    group = json.loads(next(iter(latest(clean_home, "group_appointments").values()))[1])
    assert all(isinstance(pid, str) for pid in group["patient_ids"])


def test_second_run_without_changes_fetches_only_the_overlap_window(world, clean_home, tmp_path):
    home = tmp_path / "home"
    import shutil

    shutil.copytree(clean_home, home)
    overlap = timedelta(minutes=10)
    with serving(world, api_key=KEY, requests_per_minute=0) as server:
        second = extract_all(server.base_url, home, run_id="run2", overlap=overlap)
    for name, stats in second.items():
        cursor = CursorStore(clean_home / "state").get("cliniko", "acct", name)
        since = (_ts(cursor) - overlap).strftime("%Y-%m-%dT%H:%M:%SZ")
        in_window = [r for r in world.resources[name] if r["updated_at"] > since]
        assert stats.records == len(in_window), name
        assert stats.requests == 1, name
    assert sum(s.records for s in second.values()) < 60


def test_a_read_that_finds_nothing_new_still_counts_as_fresh(world, clean_home, tmp_path):
    import shutil

    from flows.gate import source_freshness

    home = tmp_path / "home"
    shutil.copytree(clean_home, home)
    stale = "2020-01-01T00:00:00+00:00"
    for path in (home / "state").rglob("*.json"):
        body = json.loads(path.read_text())
        body["committed_at"] = body["checked_at"] = stale
        path.write_text(json.dumps(body))
    assert source_freshness(home / "state")["age_hours"].min() > 24 * 365
    cursors_before = {
        s.name: CursorStore(home / "state").get("cliniko", "acct", s.name) for s in STREAMS
    }
    # Far past the world's last edit: no stream has anything new, and every one is read.
    later = datetime(2030, 1, 1, tzinfo=UTC)
    with serving(world, api_key=KEY, requests_per_minute=0) as server:
        extract_all(server.base_url, home, run_id="run2", now=later)
    for s in STREAMS:
        body = json.loads((home / "state" / "cliniko" / "acct" / f"{s.name}.json").read_text())
        assert body["checked_run_id"] == "run2", s.name
        assert CursorStore(home / "state").get("cliniko", "acct", s.name) == cursors_before[s.name]
    (row,) = source_freshness(home / "state").itertuples()
    assert row.age_hours < 1


def _ts(text: str):
    from datetime import datetime

    return datetime.fromisoformat(text.replace("Z", "+00:00"))


# --- faults -----------------------------------------------------------------------------------


def test_faults_land_exactly_what_a_clean_run_lands(world, clean_home, tmp_path):
    home = tmp_path / "faulty"
    faults = Faults(rate=0.2, seed=3, slow_s=0.6)
    # A read timeout shorter than the slow answers, so those become timeouts and retries.
    with serving(world, api_key=KEY, requests_per_minute=0, faults=faults) as server:
        stats = extract_all(server.base_url, home, http=client(timeout_s=0.4), per_page=25)
        injected = server.fault_log.counts
    assert set(injected) >= {"429", "5xx", "slow", "truncated", "duplicate", "update"}, injected
    assert sum(s.retries for s in stats.values()) >= injected["5xx"] + injected["truncated"]
    assert sum(s.rate_limited for s in stats.values()) == injected["429"]
    for stream in STREAMS:
        assert without_updated_at(latest(home, stream.name)) == without_updated_at(
            latest(clean_home, stream.name)
        ), stream.name


def test_faulty_and_clean_extractions_give_identical_marts(world, clean_home, tmp_path):
    """20 % injected faults of every kind: the four marts are identical to a fault-free run."""
    from flows.publish import PUBLISHED_MARTS, marts_schema
    from flows.registry import land_registry, load_registry
    from flows.sandbox.world import registry_yaml
    from flows.transform import build

    faulty = tmp_path / "faulty"
    with serving(
        world, api_key=KEY, requests_per_minute=0, faults=Faults(rate=0.2, seed=11)
    ) as server:
        extract_all(server.base_url, faulty, http=client(timeout_s=0.4), per_page=50)
    registry = tmp_path / "partners.yml"
    registry.write_text(registry_yaml(world).replace("source: sandbox", "source: acct"))
    marts = []
    for home in (clean_home, faulty):
        land_registry(load_registry(registry), home / "raw")
        warehouse = home / "warehouse" / "refnet.duckdb"
        build(raw_dir=home / "raw", warehouse=warehouse, vars={"as_of": world.end_date.isoformat()})
        schema = marts_schema(warehouse)
        con = duckdb.connect(str(warehouse), read_only=True)
        try:
            marts.append(
                {
                    t: sorted(map(repr, con.sql(f"select * from {schema}.{t}").fetchall()))
                    for t in PUBLISHED_MARTS
                }
            )
        finally:
            con.close()
    assert all(marts[0][t] for t in PUBLISHED_MARTS)
    assert marts[0] == marts[1]


def test_records_edited_while_paging_are_never_skipped(world, clean_home, tmp_path):
    """Every page after the first edits a record already served: offsets shift every time."""
    faults = Faults(rate=0.5, kinds=("update",), seed=5)
    with serving(world, api_key=KEY, requests_per_minute=0, faults=faults) as server:
        stats = extract_all(server.base_url, tmp_path, per_page=40)
        assert server.fault_log.counts["update"] >= 5
    assert sum(s.requeries for s in stats.values()) >= 5
    for stream in STREAMS:
        assert set(latest(tmp_path, stream.name)) == set(latest(clean_home, stream.name))


# --- a crash mid-extraction -----------------------------------------------------------------

_CHILD = """
import sys
from pathlib import Path
sys.path.insert(0, {tests!r})
from test_connector import client, extract_all
extract_all({base_url!r}, Path({home!r}), run_id="crashed", batch_size=60, per_page=30)
"""


def test_sigkill_mid_extraction_then_rerun_lands_what_an_uninterrupted_run_lands(
    world, clean_home, tmp_path
):
    home = tmp_path / "crashed"
    faults = Faults(rate=1.0, kinds=("slow",), slow_s=0.05)  # slow enough to kill mid-way
    with serving(world, api_key=KEY, requests_per_minute=0, faults=faults) as server:
        code = _CHILD.format(tests=str(REPO / "tests"), base_url=server.base_url, home=str(home))
        child = subprocess.Popen([sys.executable, "-c", code], cwd=REPO)
        state = home / "state" / "cliniko" / "acct"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and child.poll() is None:
            if (state / "patients.json").exists():  # several streams committed, more to go
                break
            time.sleep(0.02)
        assert child.poll() is None, "the extraction finished before it could be killed"
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
        assert child.returncode == -signal.SIGKILL
        assert not (state / "communications.json").exists()
    with serving(world, api_key=KEY, requests_per_minute=0) as server:
        extract_all(server.base_url, home, run_id="rerun")
    for stream in STREAMS:
        assert latest(home, stream.name) == latest(clean_home, stream.name), stream.name
    assert not list(home.rglob("*.tmp"))


# --- Cliniko's own example pages, over loopback ----------------------------------------------

Route = Callable[[str, str], tuple[int, dict[str, str], bytes]]


@contextlib.contextmanager
def loopback(route: Route) -> Iterator[str]:
    """A tiny HTTP server; `route(path, query)` answers each GET. Yields the base URL."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

        def do_GET(self) -> None:
            url = urlsplit(self.path)
            status, headers, body = route(url.path, url.query)
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()


def example_pages() -> dict[str, tuple[str, Path]]:
    pages = {}
    for path in sorted(EXAMPLES.glob("[!_]*.json")):
        body = json.loads(path.read_text())
        name = path.name.split("__")[0].removesuffix(".json")
        if isinstance(body.get(name), list):
            pages[path.name] = (name, path)
    return pages


def test_every_example_list_page_is_covered():
    names = {name for name, _ in example_pages().values()}
    assert names - NOT_EXTRACTED <= set(STREAMS_BY_NAME)
    assert names & NOT_EXTRACTED == NOT_EXTRACTED  # update the list if the examples change


def extract_page(stream: Stream, text: str, tmp_path: Path, **kw):
    def route(path: str, query: str) -> tuple[int, dict, bytes]:
        return 200, {}, text.replace("https://api.au1.cliniko.com/v1", base).encode()

    with loopback(route) as base:
        return extract_stream(
            client(**kw),
            base,
            "acct",
            stream,
            tmp_path / "raw",
            CursorStore(tmp_path / "state"),
            PSEUDO,
            "run1",
        )


@pytest.mark.parametrize(
    "example", sorted(n for n, (s, _) in example_pages().items() if s not in NOT_EXTRACTED)
)
def test_example_page_lands(example, tmp_path):
    """Each example is served as the whole stream: its links point at the loopback server, it
    has no next page and total_entries counts its records."""
    name, path = example_pages()[example]
    body = json.loads(path.read_text())
    body["links"].pop("next", None)
    body["total_entries"] = len(body[name])
    stats = extract_page(STREAMS_BY_NAME[name], json.dumps(body), tmp_path)
    landed = latest(tmp_path, name)
    assert stats.records == len(body[name]) == len(landed)
    for record in body[name]:
        rid = record_id(record)
        assert rid in landed and isinstance(rid, str)
        clean = json.loads(landed[rid][1])
        for field in ("notes", "first_name", "email", "address_1", "content", "invoice_to"):
            if name != "contacts":
                assert field not in clean
        if "deleted_at" in record and "updated_at" not in record:  # a deletion: only a link
            assert landed[rid][0] == record["deleted_at"]


@pytest.mark.parametrize("example", sorted(p.name for p in EXAMPLES.glob("*.invalid")))
def test_invalid_example_fails_with_a_clear_message(example, tmp_path):
    name = example.split("__")[0].removesuffix(".json.invalid")
    stream = STREAMS_BY_NAME.get(name, Stream(name))
    text = (EXAMPLES / example).read_text()
    with pytest.raises(SourceError) as err:
        extract_page(stream, text, tmp_path, max_attempts=2)
    message = str(err.value)
    assert f"acct/{name} page 1" in message and "not valid JSON" in message
    assert "line" in message and "still failing after 2 attempts" in message
    assert not (tmp_path / "state").exists(), "no cursor moves on a failed page"


def test_example_page_that_claims_more_records_fails_after_a_reread(tmp_path):
    """attendees.json says 2037 records and links to page 2; page 2 is empty here."""
    text = (EXAMPLES / "attendees.json").read_text()
    asked: list[str] = []

    def route(path: str, query: str) -> tuple[int, dict, bytes]:
        asked.append(query)
        body = json.loads(text.replace("https://api.au1.cliniko.com/v1", base))
        if "page=2" in query:
            body["attendees"], body["links"] = [], {"self": body["links"]["next"]}
        return 200, {}, json.dumps(body).encode()

    with loopback(route) as base, pytest.raises(SourceError, match="received 1 distinct"):
        extract_stream(
            client(),
            base,
            "acct",
            STREAMS_BY_NAME["attendees"],
            tmp_path / "raw",
            CursorStore(tmp_path / "state"),
            PSEUDO,
            "run1",
        )
    # links.next followed exactly as given, and the whole pass read twice before failing.
    assert len(asked) == 4 and asked[1] == asked[3] == "page=2" and asked[0] == asked[2]


# --- bad payloads -----------------------------------------------------------------------------


def _page(name: str, records_json: str, total: int | None = None, nxt: str | None = None) -> str:
    links = {"self": "x"} | ({"next": nxt} if nxt else {})
    count = total if total is not None else records_json.count('"links"')
    return f'{{"{name}":[{records_json}],"total_entries":{count},"links":{json.dumps(links)}}}'


def _serve(text_for: Callable[[str, str], str], stream: str, tmp_path: Path, **kw):
    def route(path: str, query: str) -> tuple[int, dict, bytes]:
        return 200, {}, text_for(base, query).encode()

    with loopback(route) as base:
        return extract_stream(
            client(**kw),
            base,
            "acct",
            STREAMS_BY_NAME[stream],
            tmp_path / "raw",
            CursorStore(tmp_path / "state"),
            PSEUDO,
            "r",
        )


def test_duplicate_keys_numbers_as_ids_empty_strings_and_unknown_fields(tmp_path):
    record = (
        '{"id":42,"updated_at":"2026-01-01T00:00:00Z","cancelled_at":null,'
        '"did_not_arrive":false,"did_not_arrive":true,"cancellation_reason_description":"",'
        '"brand_new_field":"Jane Doe","patient":{"links":{"self":"http://h/v1/patients/7"}},'
        '"links":{"self":"http://h/v1/individual_appointments/42"}}'
    )
    stats = _serve(
        lambda b, q: _page("individual_appointments", record, total=1),
        "individual_appointments",
        tmp_path,
    )
    assert stats.records == 1
    ((rid, (updated_at, text)),) = latest(tmp_path, "individual_appointments").items()
    landed = json.loads(text)
    assert rid == "42" and landed["id"] == "42"
    assert landed["did_not_arrive"] is True  # the last of two equal keys wins, as in JavaScript
    assert landed["cancellation_reason_description"] == ""  # kept; staging reads "" as null
    assert "brand_new_field" not in landed and "Jane Doe" not in text


@pytest.mark.parametrize(
    "record, needle",
    [
        ('{"updated_at":"2026-01-01T00:00:00Z","links":{}}', "record 0: no id and no link"),
        ('"just text"', "record 0: not a JSON object"),
        ('{"id":"6","updated_at":"yesterday","links":{}}', "updated_at 'yesterday'"),
    ],
)
def test_unusable_records_fail_naming_stream_page_and_record(record, needle, tmp_path):
    with pytest.raises(LandingError, match="acct/patients page 1 ") as err:
        _serve(lambda b, q: _page("patients", record, total=1), "patients", tmp_path)
    assert needle in str(err.value)
    assert not (tmp_path / "state").exists()


def test_a_record_without_updated_at_is_landed_with_a_null_version(tmp_path):
    record = '{"id":"5","links":{"self":"http://h/v1/patients/5"}}'
    stats = _serve(lambda b, q: _page("patients", record, total=1), "patients", tmp_path)
    assert stats.records == 1 and stats.cursor_to is None
    assert latest(tmp_path, "patients")["5"][0] is None


def test_a_repeated_next_link_is_refused(tmp_path):
    def text_for(base: str, query: str) -> str:
        rec = '{"id":"%s","updated_at":"2026-01-01T00:00:00Z","links":{}}' % (
            "2" if "page=2" in query else "1"
        )
        return _page("contacts", rec, total=3, nxt=f"{base}/contacts?page=2")

    with pytest.raises(SourceError, match="page 2: .*already visited.*refusing to loop"):
        _serve(text_for, "contacts", tmp_path)


def test_a_non_cliniko_body_says_to_check_base_url(tmp_path):
    with pytest.raises(SourceError, match="no 'contacts' list.*check that base_url"):
        _serve(lambda b, q: '{"message":"hello"}', "contacts", tmp_path)


# --- HTTP errors, rate limits, access ----------------------------------------------------------


@pytest.mark.parametrize(
    "status, hint",
    [
        (400, "User-Agent"),
        (401, "API key was refused"),
        (403, "permission"),
        (404, "base_url"),
        (422, "filter"),
    ],
)
def test_client_errors_are_not_retried_and_say_what_to_check(status, hint, tmp_path):
    calls = []

    def route(path: str, query: str) -> tuple[int, dict, bytes]:
        calls.append(path)
        return status, {}, b'{"message":"no"}'

    http = client()
    with loopback(route) as base, pytest.raises(SourceError, match=hint):
        extract_stream(
            http,
            base,
            "acct",
            STREAMS_BY_NAME["patients"],
            tmp_path / "raw",
            CursorStore(tmp_path / "state"),
            PSEUDO,
            "r",
        )
    assert len(calls) == 1 and http.stats.retries == 0


def test_a_wrong_key_against_the_sandbox_is_refused_once(world, tmp_path):
    with serving(world, api_key="the-right-key", requests_per_minute=0) as server:
        http = client()
        with pytest.raises(SourceError, match="HTTP 401.*api_key_env"):
            extract_all(server.base_url, tmp_path, http=http)
    assert http.stats.requests == 1


@pytest.mark.parametrize(
    "headers",
    [
        {"Retry-After": "3600"},
        {"X-RateLimit-Reset": str(int(time.time()) + 3600)},
        {"Retry-After": "Wed, 21 Oct 2099 07:28:00 GMT"},
    ],
)
def test_a_429_asking_for_too_long_a_wait_fails_clearly(headers, tmp_path):
    def route(path: str, query: str) -> tuple[int, dict, bytes]:
        return 429, headers, b'{"message":"slow down"}'

    with loopback(route) as base, pytest.raises(SourceError, match="cap; lower requests_per"):
        extract_stream(
            client(),
            base,
            "acct",
            STREAMS_BY_NAME["patients"],
            tmp_path / "raw",
            CursorStore(tmp_path / "state"),
            PSEUDO,
            "r",
        )


def test_a_429_is_waited_out_from_its_headers(tmp_path):
    answers = iter([(429, {"Retry-After": "1"}), (429, {"X-RateLimit-Reset": "0"})])
    page = _page("patients", '{"id":"1","updated_at":"2026-01-01T00:00:00Z","links":{}}')

    def route(path: str, query: str) -> tuple[int, dict, bytes]:
        status, headers = next(answers, (200, {}))
        return status, headers, page.encode() if status == 200 else b"{}"

    http = client()
    started = time.monotonic()
    with loopback(route) as base:
        stats = extract_stream(
            http,
            base,
            "acct",
            STREAMS_BY_NAME["patients"],
            tmp_path / "raw",
            CursorStore(tmp_path / "state"),
            PSEUDO,
            "r",
        )
    assert stats.records == 1 and stats.rate_limited == 2 and stats.requests == 3
    assert time.monotonic() - started >= 0.9  # Retry-After: 1 was honoured


def test_one_limiter_per_api_key():
    assert shared_limiter("k-uk1", 200) is shared_limiter("k-uk1", 200)
    assert shared_limiter("k-uk1", 200) is not shared_limiter("other-uk1", 200)


@pytest.mark.parametrize(
    "key, url",
    [
        ("abc-uk1", "https://api.uk1.cliniko.com/v1"),
        ("abc-au2", "https://api.au2.cliniko.com/v1"),
        ("abc", "https://api.au1.cliniko.com/v1"),
    ],
)
def test_shard_comes_from_the_key_suffix(key, url):
    source = ClinikoSource(name="a", kind="cliniko", contact_email="a@b.example")
    assert source.resolve_base_url(key) == url


def test_requests_carry_the_contact_and_accept_json(tmp_path):
    seen = {}

    class Capture(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

        def do_GET(self) -> None:
            seen.update(self.headers)
            body = _page("businesses", "").encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Capture)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}/v1"
        extract_stream(
            client(),
            base,
            "acct",
            STREAMS_BY_NAME["businesses"],
            tmp_path / "raw",
            CursorStore(tmp_path / "state"),
            PSEUDO,
            "r",
        )
    finally:
        server.shutdown()
        server.server_close()
    assert seen["User-Agent"] == "refnet tests (tests@refnet.example)"
    assert seen["Accept"] == "application/json"
    assert seen["Authorization"].startswith("Basic ")
