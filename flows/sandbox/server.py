"""A local, read-only HTTP server that speaks Cliniko's REST API over a sandbox world.

It enforces what the real API does (https://docs.api.cliniko.com/ and the OpenAPI description
in shared/data/cliniko/openapi.yaml): Basic auth with the API key as user name, a User-Agent
with a contact e-mail, `page` / `per_page` (default 50, at most 100) with absolute `links`,
`q[]=<field>:<operator><value>` filters, `sort`, archived / cancelled / deleted records hidden
unless a filter names that field (`q[]=archived_at:*`), and a per-key rate limit answered with
429 and `X-RateLimit-Reset`.
"""

from __future__ import annotations

import base64
import binascii
import collections
import contextlib
import dataclasses
import json
import math
import random
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, unquote_plus, urlsplit

from flows.sandbox.world import BASE_PLACEHOLDER, World, build_world

DEFAULT_API_KEY = "refnet-sandbox-key"
DEFAULT_PER_PAGE = 50
MAX_PER_PAGE = 100
# Cliniko leaves these out of lists and single GETs unless a `q[]` filter names the field.
HIDDEN_UNLESS_ASKED = ("archived_at", "cancelled_at", "deleted_at")
_EMAIL = re.compile(r"[^@\s()<>,;]+@[^@\s()<>,;]+\.[A-Za-z]{2,}")
_FILTER = re.compile(r"^([a-z_]+):(>=|<=|!=|!\?|~~|>|<|=|\?|~|\*)(.*)$", re.DOTALL)

# The filters each list endpoint accepts, with their type: the spec's "Available filters".
_T, _I, _B, _S, _D, _A = "date-time", "int", "boolean", "string", "date", "array"
FILTERS: dict[str, dict[str, str]] = {
    "businesses": {
        "appointment_type_ids": _A,
        "archived_at": _T,
        "created_at": _T,
        "deleted_at": _T,
        "id": _I,
        "show_in_online_bookings": _B,
        "updated_at": _T,
    },
    "practitioners": {
        "active": _B,
        "created_at": _T,
        "id": _I,
        "show_in_online_bookings": _B,
        "updated_at": _T,
        "user_id": _I,
    },
    "appointment_types": {
        "appointment_confirmation_template_ids": _A,
        "appointment_follow_up_template_ids": _A,
        "appointment_reminder_template_ids": _A,
        "archived_at": _T,
        "category": _S,
        "created_at": _T,
        "id": _I,
        "online_payments_mode": _S,
        "show_in_online_bookings": _B,
        "updated_at": _T,
    },
    "contacts": {
        "archived_at": _T,
        "company_name": _S,
        "created_at": _T,
        "deleted_at": _T,
        "email": _S,
        "first_name": _S,
        "id": _I,
        "last_name": _S,
        "occupation": _S,
        "type_code": _I,
        "updated_at": _T,
    },
    "referral_source_types": {"archived_at": _T, "created_at": _T, "id": _I, "updated_at": _T},
    "referral_sources": {
        "archived_at": _T,
        "created_at": _T,
        "id": _I,
        "referral_source_type_id": _I,
        "referrer_id": _I,
        "updated_at": _T,
    },
    "patients": {
        "accepted_privacy_policy": _B,
        "archived_at": _T,
        "created_at": _T,
        "date_of_birth": _D,
        "email": _S,
        "first_name": _S,
        "id": _I,
        "last_name": _S,
        "old_reference_id": _S,
        "preferred_first_name": _S,
        "updated_at": _T,
    },
    "patient_cases": {
        "archived_at": _T,
        "closed_at": _T,
        "created_at": _T,
        "expiry_date": _D,
        "id": _I,
        "issue_date": _D,
        "name": _S,
        "patient_id": _I,
        "referral_type": _S,
        "updated_at": _T,
    },
    "individual_appointments": {
        "appointment_type_id": _I,
        "archived_at": _T,
        "business_id": _I,
        "cancelled_at": _T,
        "created_at": _T,
        "deleted_at": _T,
        "did_not_arrive": _B,
        "ends_at": _T,
        "id": _I,
        "patient_id": _I,
        "practitioner_id": _I,
        "repeated_from_id": _I,
        "starts_at": _T,
        "updated_at": _T,
    },
    "patient_forms": {
        "archived_at": _T,
        "attendee_id": _I,
        "completed_at": _T,
        "created_at": _T,
        "id": _I,
        "patient_id": _I,
        "updated_at": _T,
    },
    "invoices": {
        "appointment_id": _I,
        "archived_at": _T,
        "attendee_id": _I,
        "business_id": _I,
        "closed_at": _T,
        "created_at": _T,
        "deleted_at": _T,
        "id": _I,
        "issue_date": _D,
        "number": _I,
        "original_invoice_id": _I,
        "patient_id": _I,
        "practitioner_id": _I,
        "status": _I,
        "updated_at": _T,
    },
    "group_appointments": {
        "appointment_type_id": _I,
        "archived_at": _T,
        "business_id": _I,
        "created_at": _T,
        "deleted_at": _T,
        "ends_at": _T,
        "id": _I,
        "patient_ids": _A,
        "practitioner_id": _I,
        "repeated_from_id": _I,
        "starts_at": _T,
        "updated_at": _T,
    },
    "attendees": {
        "appointment_id": _I,
        "archived_at": _T,
        "booking_id": _I,
        "cancelled_at": _T,
        "created_at": _T,
        "deleted_at": _T,
        "id": _I,
        "patient_case_id": _I,
        "patient_id": _I,
        "updated_at": _T,
    },
    "communications": {
        "archived_at": _T,
        "category_code": _I,
        "created_at": _T,
        "id": _I,
        "letter_id": _I,
        "patient_id": _I,
        "type_code": _I,
        "updated_at": _T,
    },
}
# Operators per filter type (docs: "Filtering Results").
_OPERATORS = {
    _T: {">=", ">", "<=", "<", "?", "!?", "*"},
    _I: {"=", "!=", ">=", ">", "<=", "<", "?", "!?"},
    _D: {"=", ">=", ">", "<=", "<", "?", "!?"},
    _S: {"=", "!=", "~", "~~", "?", "!?"},
    _B: {"=", "!="},
    _A: {"~"},
}
# Single GETs accept only the visibility filters (the spec's `/{id}` parameters).
_SINGLE_FILTERS = {"archived_at": _T, "cancelled_at": _T, "deleted_at": _T}

Predicate = Callable[[dict], bool]


class ApiError(Exception):
    """An error answered as Cliniko does: a status and a JSON body with a message."""

    def __init__(
        self,
        status: int,
        message: str,
        errors: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.errors = status, message, errors
        self.headers = headers or {}

    def body(self) -> bytes:
        payload: dict = {"message": self.message}
        if self.errors:
            payload["errors"] = self.errors
        return json.dumps(payload, separators=(",", ":")).encode()


# --- injected faults ----------------------------------------------------------------------------

FAULT_KINDS = ("429", "5xx", "slow", "truncated", "duplicate", "update")


@dataclass(frozen=True)
class Faults:
    """Faults injected into a share of list responses, so that a client's retries, rate-limit
    handling and paging are tested over real HTTP (`refnet sandbox --faults ...`).

    - `429`: a burst of `burst_429` rate-limited answers with `Retry-After` / reset headers
    - `5xx`: 500, 502 or 503
    - `slow`: the answer comes after `slow_s` seconds (past a client's read timeout, if short)
    - `truncated`: the body is cut in half, either as a complete response with a shorter
      Content-Length or by closing the connection mid-body
    - `duplicate`: the page repeats the previous page's last record (offset drift)
    - `update`: before answering a page after the first, a record already served on an earlier
      page is changed ("now" as its `updated_at`), as when the clinic edits it mid-sync
    """

    rate: float = 0.0
    kinds: tuple[str, ...] = FAULT_KINDS
    seed: int = 0
    slow_s: float = 0.6
    burst_429: int = 2
    retry_after_s: int = 1

    def __post_init__(self) -> None:
        unknown = set(self.kinds) - set(FAULT_KINDS)
        if unknown or not 0 <= self.rate <= 1:
            raise ValueError(
                f"faults: kinds must be among {', '.join(FAULT_KINDS)} "
                f"(got {', '.join(sorted(unknown)) or 'ok'}) and rate in [0, 1]"
            )

    @classmethod
    def parse(cls, kinds: str, rate: float, seed: int = 0) -> Faults:
        """`"all"` or a comma list such as `"429,5xx,truncated"`."""
        names = (
            FAULT_KINDS
            if kinds.strip() == "all"
            else tuple(k.strip() for k in kinds.split(",") if k.strip())
        )
        return cls(rate=rate, kinds=names, seed=seed)


@dataclass
class FaultLog:
    """What the server injected, for tests and benchmarks to compare against."""

    counts: collections.Counter = dataclasses.field(default_factory=collections.Counter)
    list_requests: int = 0


# --- filters -----------------------------------------------------------------------------------


def field_value(record: dict, field: str) -> object:
    """A record's value for a filter or sort field; `<name>_id` reads the `<name>` link."""
    if field in record:
        return record[field]
    if field.endswith("_id"):
        linked = record.get(field[:-3])
        if isinstance(linked, dict):
            url = (linked.get("links") or {}).get("self") or ""
            return url.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1] or None
    return None


def _normal_datetime(op: str, raw: str) -> tuple[str, str]:
    """The filter value as the records write it (UTC, whole seconds, `Z`); sub-second values
    are rounded towards the side that keeps the comparison exact."""
    text = raw.strip().replace(" ", "+")  # an unescaped '+' arrives as a space
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ApiError(400, f"Invalid date-time '{raw}': use e.g. 2014-08-30T18:00:00Z") from None
    moment = (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)
    if moment.microsecond:
        whole = moment.replace(microsecond=0)
        if op in (">", ">="):
            return ">=", _z(whole + timedelta(seconds=1))
        return "<=", _z(whole)
    return op, _z(moment)


def _z(moment: datetime) -> str:
    return moment.replace(tzinfo=None).isoformat(timespec="seconds") + "Z"


def _compare(op: str, value: object, wanted: object) -> bool:
    if value is None:
        return False
    return {
        "=": value == wanted,
        "!=": value != wanted,
        ">": value > wanted,
        ">=": value >= wanted,
        "<": value < wanted,
        "<=": value <= wanted,
    }[op]


def _as_int(value: object) -> int | None:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def parse_filter(resource: str, text: str, allowed: dict[str, str]) -> tuple[str, Predicate]:
    """`field:OPvalue` -> (field, predicate). Raises ApiError(400) on anything malformed."""
    match = _FILTER.match(text)
    if not match:
        raise ApiError(
            400,
            f"Invalid filter '{text}': expected field:OPERATORvalue",
            {"q": "format is [FIELD]:[OPERATOR][VALUE]"},
        )
    field, op, raw = match.groups()
    kind = allowed.get(field)
    if kind is None:
        raise ApiError(
            400,
            f"Invalid filter '{text}': {resource} cannot be filtered by '{field}'",
            {"q": f"available: {', '.join(sorted(allowed))}"},
        )
    if op not in _OPERATORS[kind]:
        raise ApiError(
            400,
            f"Invalid filter '{text}': operator '{op}' does not apply to {kind} field '{field}'",
            {"q": f"operators: {sorted(_OPERATORS[kind])}"},
        )
    return field, _predicate(field, kind, op, raw)


def _predicate(field: str, kind: str, op: str, raw: str) -> Predicate:
    get = field_value
    if op == "*":
        return lambda r: True
    if op == "?":
        return lambda r: get(r, field) not in (None, "")
    if op == "!?":
        return lambda r: get(r, field) in (None, "")
    if kind == _T:
        op, wanted = _normal_datetime(op, raw)
        return lambda r: _compare(op, get(r, field), wanted)
    if kind == _I:
        try:
            wanted_ints = [int(v) for v in raw.split(",")] if op == "=" else [int(raw)]
        except ValueError:
            raise ApiError(400, f"Invalid number '{raw}' for '{field}'") from None
        if op == "=":
            return lambda r: _as_int(get(r, field)) in wanted_ints
        return lambda r: _compare(op, _as_int(get(r, field)), wanted_ints[0])
    if kind == _B:
        if raw not in ("true", "false"):
            raise ApiError(400, f"Invalid boolean '{raw}' for '{field}': use true or false")
        flag = raw == "true"
        return lambda r: (get(r, field) is flag) == (op == "=")
    if kind == _A:
        return lambda r: raw in (get(r, field) or [])
    if kind == _D and op == "=" and "*" in raw:  # ****-05-** : any year, May
        pattern = re.compile("^" + re.escape(raw).replace(r"\*", r"\d") + "$")
        return lambda r: bool(pattern.match(str(get(r, field) or "")))
    if kind == _S and op in ("~", "~~"):
        body = re.escape(raw) if op == "~" else ".*".join(map(re.escape, raw.split("%")))
        pattern = re.compile(body if op == "~" else f"^{body}$", re.IGNORECASE)
        return lambda r: bool(pattern.search(str(get(r, field) or "")))
    return lambda r: _compare(op, get(r, field), raw)


# --- tables -------------------------------------------------------------------------------------


@dataclass
class _Table:
    """One resource, pre-serialised: a page is a join of ready-made JSON byte strings."""

    name: str
    records: list[dict]  # default order: by id (ids grow with created_at, Cliniko's default)
    blobs: list[bytes]
    by_key: dict[str, int]  # id, or patient id for referral sources
    sortable: frozenset[str]


def _build_tables(world: World, base_url: str) -> dict[str, _Table]:
    tables = {}
    for name, records in world.resources.items():
        blobs = [
            json.dumps(r, separators=(",", ":"), ensure_ascii=False)
            .replace(BASE_PLACEHOLDER, base_url)
            .encode()
            for r in records
        ]
        keys = [r.get("id") or field_value(r, "patient_id") for r in records]
        sortable = frozenset(
            k
            for r in records
            for k, v in r.items()
            if v is None or isinstance(v, str | int | float | bool)
        )
        # A copy of the list: an injected `update` fault replaces records in the table only.
        tables[name] = _Table(
            name, list(records), blobs, {str(k): i for i, k in enumerate(keys)}, sortable
        )
    return tables


def _sort_key(field: str) -> Callable[[dict], tuple]:
    def key(record: dict) -> tuple:
        value = record.get(field)
        return (value is None, value if value is not None else "")

    return key


# --- rate limit ---------------------------------------------------------------------------------


class SlidingWindowLimiter:
    """At most `limit` requests per key in any `window_s` seconds; 0 disables it."""

    def __init__(
        self, limit: int, window_s: float = 60.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limit, self.window_s, self._clock = limit, window_s, clock
        self._seen: dict[str, collections.deque[float]] = {}
        self._lock = threading.Lock()

    def admit(self, key: str) -> tuple[bool, int, float]:
        """(allowed, remaining after this request, seconds until the next one is allowed)."""
        with self._lock:
            now = self._clock()
            seen = self._seen.setdefault(key, collections.deque())
            while seen and now - seen[0] >= self.window_s:
                seen.popleft()
            if len(seen) >= self.limit:
                return False, 0, seen[0] + self.window_s - now
            seen.append(now)
            return True, self.limit - len(seen), 0.0


# --- the server ---------------------------------------------------------------------------------


class SandboxServer(ThreadingHTTPServer):
    """A ThreadingHTTPServer with the world's tables and the API's rules attached."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self,
        world: World,
        host: str,
        port: int,
        api_key: str,
        requests_per_minute: int,
        faults: Faults | None = None,
    ) -> None:
        super().__init__((host, port), _Handler)
        self.faults = faults or Faults()
        self.fault_log = FaultLog()
        self._fault_rng = random.Random(self.faults.seed)
        self._fault_lock = threading.Lock()
        self._burst_left = 0
        link_host = "127.0.0.1" if host in ("", "0.0.0.0") else host
        self.origin = f"http://{link_host}:{self.server_address[1]}"
        self.base_url = f"{self.origin}/v1"
        self.api_key = api_key
        self.limiter = SlidingWindowLimiter(requests_per_minute) if requests_per_minute else None
        self.tables = _build_tables(world, self.base_url)
        self._cache: collections.OrderedDict[tuple, list[int]] = collections.OrderedDict()
        self._cache_lock = threading.Lock()

    def draw_fault(self, path: str) -> str | None:
        """The fault (if any) for a list request; 429s come in bursts."""
        parts = [p for p in urlsplit(path).path.split("/") if p]
        if len(parts) != 2 or parts[1] not in self.tables:
            return None
        with self._fault_lock:
            self.fault_log.list_requests += 1
            if self._burst_left > 0:
                self._burst_left -= 1
                return "429"
            if not self.faults.kinds or self._fault_rng.random() >= self.faults.rate:
                return None
            kind = self._fault_rng.choice(self.faults.kinds)
            if kind == "429":
                self._burst_left = self.faults.burst_429 - 1
            return kind

    def fault_choice(self, n: int) -> int:
        with self._fault_lock:
            return self._fault_rng.randrange(n)

    def note_fault(self, kind: str) -> None:
        with self._fault_lock:
            self.fault_log.counts[kind] += 1

    def touch(self, table: _Table, row: int) -> None:
        """Change one record as a clinic user would while a client pages: new `updated_at`."""
        now = datetime.now(UTC).replace(microsecond=0)
        record = {**table.records[row], "updated_at": _z(now)}
        table.records[row] = record
        table.blobs[row] = (
            json.dumps(record, separators=(",", ":"), ensure_ascii=False)
            .replace(BASE_PLACEHOLDER, self.base_url)
            .encode()
        )
        with self._cache_lock:
            for key in [k for k in self._cache if k[0] == table.name]:
                del self._cache[key]

    def selection(
        self, table: _Table, filters: tuple[str, ...], sort: str | None, order: str | None
    ) -> list[int]:
        """Row numbers matching the filters, in the requested order (cached: paging through
        a result re-runs the same query once per page)."""
        key = (table.name, filters, sort, order)
        with self._cache_lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
        rows = _select(table, filters, sort, order)
        with self._cache_lock:
            self._cache[key] = rows
            while len(self._cache) > 256:
                self._cache.popitem(last=False)
        return rows


def _visibility(
    resource: str, filters: tuple[str, ...], allowed: dict[str, str]
) -> list[Predicate]:
    predicates, named = [], set()
    for text in filters:
        field, predicate = parse_filter(resource, text, allowed)
        named.add(field)
        predicates.append(predicate)
    for field in HIDDEN_UNLESS_ASKED:
        if field not in named:
            predicates.append(lambda r, f=field: r.get(f) in (None, ""))
    return predicates


def _select(
    table: _Table, filters: tuple[str, ...], sort: str | None, order: str | None
) -> list[int]:
    predicates = _visibility(table.name, filters, FILTERS[table.name])
    rows = [i for i, r in enumerate(table.records) if all(p(r) for p in predicates)]
    if order not in (None, "asc", "desc"):
        raise ApiError(400, f"Invalid order '{order}': use asc or desc")
    for field, direction in reversed(_sort_fields(table, sort, order or "asc")):
        # Stable sorts, last key first; rows start in id order, so ties stay by id.
        key = _sort_key(field)
        rows.sort(key=lambda i, k=key: k(table.records[i]), reverse=direction == "desc")
    return rows


def _sort_fields(table: _Table, sort: str | None, default: str) -> list[tuple[str, str]]:
    fields = []
    for part in (sort or "").split(","):
        if not part.strip():
            continue
        field, _, direction = part.strip().partition(":")
        direction = direction or default
        if field not in table.sortable or direction not in ("asc", "desc"):
            raise ApiError(
                400,
                f"Invalid sort '{part}' for {table.name}",
                {"sort": "use a field name, optionally :asc or :desc"},
            )
        fields.append((field, direction))
    if not fields and default == "desc":
        fields.append(("id", "desc"))
    return fields


class _Handler(BaseHTTPRequestHandler):
    server: SandboxServer
    protocol_version = "HTTP/1.1"  # keep-alive: a paging client reuses its connection
    disable_nagle_algorithm = True  # headers and body are separate writes: no 40 ms stalls
    server_version = "refnet-sandbox/1"

    def log_message(self, format: str, *args: object) -> None:
        pass  # quiet: thousands of requests per run

    def do_GET(self) -> None:
        extra: dict[str, str] = {}
        fault = None
        try:
            extra = self._admit()
            fault = self.server.draw_fault(self.path)
            self._inject(fault)
            status, body = 200, self._route(fault)
        except ApiError as err:
            status, body = err.status, err.body()
            extra.update(err.headers)
        if fault == "truncated" and status == 200:
            self._send_truncated(body, extra)
            return
        self._send(status, body, extra)

    def _inject(self, fault: str | None) -> None:
        server, faults = self.server, self.server.faults
        if fault == "429":
            server.note_fault("429")
            reset = math.ceil(time.time() + faults.retry_after_s)
            raise ApiError(
                429,
                "Rate limit exceeded (injected)",
                headers={"Retry-After": str(faults.retry_after_s), "X-RateLimit-Reset": str(reset)},
            )
        if fault == "5xx":
            server.note_fault("5xx")
            status = (500, 502, 503)[server.fault_choice(3)]
            raise ApiError(status, f"Injected server error {status}")
        if fault == "slow":
            server.note_fault("slow")
            time.sleep(faults.slow_s)

    def _send_truncated(self, body: bytes, headers: dict[str, str]) -> None:
        self.server.note_fault("truncated")
        half = body[: len(body) // 2]
        if self.server.fault_choice(2):
            self._send(200, half, headers)  # a whole response whose JSON stops mid-way
            return
        self.send_response(200)  # the connection dies mid-body
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(half)
        self.wfile.flush()
        self.close_connection = True

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        self._send(405, ApiError(405, "The sandbox is read-only").body(), {"Allow": "GET"})

    do_PUT = do_PATCH = do_DELETE = do_POST

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        # Malformed requests and unknown methods get JSON too, never the stdlib's HTML page.
        self.close_connection = True
        body = ApiError(code, message or HTTPStatus(code).phrase).body()
        self.send_response(code, message)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        if getattr(self, "command", None) != "HEAD":
            self.wfile.write(body)

    def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    # --- checks, in the order the real API applies them -----------------------------------

    def _admit(self) -> dict[str, str]:
        self._authenticate()
        agent = self.headers.get("User-Agent") or ""
        if not _EMAIL.search(agent):
            raise ApiError(
                400,
                "Send a User-Agent naming your application and a contact "
                "e-mail, e.g. 'Really helpful app (devs@helpfulapp.com)'",
            )
        limiter = self.server.limiter
        if limiter is None:
            return {}
        allowed, remaining, wait_s = limiter.admit(self.server.api_key)
        headers = {"X-RateLimit-Limit": str(limiter.limit), "X-RateLimit-Remaining": str(remaining)}
        if not allowed:
            reset = math.ceil(time.time() + wait_s)
            headers.update(
                {"X-RateLimit-Reset": str(reset), "Retry-After": str(max(1, math.ceil(wait_s)))}
            )
            raise ApiError(
                429,
                f"Rate limit of {limiter.limit} requests per minute exceeded; "
                "retry after X-RateLimit-Reset",
                headers=headers,
            )
        return headers

    def _authenticate(self) -> None:
        scheme, _, token = (self.headers.get("Authorization") or "").partition(" ")
        try:
            user, sep, password = base64.b64decode(token, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            user, sep, password = "", "", ""
        if scheme.lower() != "basic" or not sep or password or user != self.server.api_key:
            raise ApiError(
                401,
                "Unauthorized: send the API key as the Basic auth user name with an empty password",
                headers={"WWW-Authenticate": 'Basic realm="Cliniko API"'},
            )

    # --- routing ------------------------------------------------------------------------------

    def _route(self, fault: str | None = None) -> bytes:
        url = urlsplit(self.path)
        parts = [p for p in url.path.split("/") if p]
        params = parse_qsl(url.query, keep_blank_values=True)
        tables = self.server.tables
        if len(parts) >= 2 and parts[0] == "v1" and parts[1] in tables:
            if len(parts) == 2:
                return self._list(tables[parts[1]], url.path, url.query, params, fault)
            if len(parts) == 3 and parts[1] != "referral_sources":
                return self._single(tables[parts[1]], parts[2], params)
        if len(parts) == 4 and parts[:2] == ["v1", "patients"] and parts[3] == "referral_source":
            return self._single(tables["referral_sources"], parts[2], params)
        raise ApiError(404, f"Not found: {url.path}")

    def _single(self, table: _Table, key: str, params: list[tuple[str, str]]) -> bytes:
        filters = tuple(v for k, v in params if k == "q[]")
        allowed = {f: t for f, t in _SINGLE_FILTERS.items() if f in FILTERS[table.name]}
        predicates = _visibility(table.name, filters, allowed)
        row = table.by_key.get(key)
        if row is None or not all(p(table.records[row]) for p in predicates):
            raise ApiError(404, f"{table.name} {key} not found")
        return table.blobs[row]

    def _list(
        self,
        table: _Table,
        path: str,
        query: str,
        params: list[tuple[str, str]],
        fault: str | None = None,
    ) -> bytes:
        page, per_page = _paging(params)
        filters = tuple(v for k, v in params if k == "q[]")
        sort = next((v for k, v in params if k == "sort"), None)
        order = next((v for k, v in params if k == "order"), None)
        rows = self.server.selection(table, filters, sort, order)
        first = (page - 1) * per_page
        if fault == "update" and 0 < first <= len(rows):
            self.server.note_fault("update")
            self.server.touch(table, rows[self.server.fault_choice(first)])
            rows = self.server.selection(table, filters, sort, order)
        chunk = rows[first : first + per_page]
        if fault == "duplicate" and 0 < first <= len(rows) and chunk:
            self.server.note_fault("duplicate")
            chunk = [rows[first - 1], *chunk]
        links = {"self": self._page_url(path, query, page)}
        if first + per_page < len(rows):
            links["next"] = self._page_url(path, query, page + 1)
        if page > 1:
            links["previous"] = self._page_url(path, query, page - 1)
        return b"".join(
            (
                b'{"',
                table.name.encode(),
                b'":[',
                b",".join(table.blobs[i] for i in chunk),
                b'],"total_entries":',
                str(len(rows)).encode(),
                b',"links":',
                json.dumps(links, separators=(",", ":")).encode(),
                b"}",
            )
        )

    def _page_url(self, path: str, query: str, page: int) -> str:
        # Keep every parameter as the client sent it (repeated q[] included); swap the page.
        kept = [p for p in query.split("&") if p and unquote_plus(p.split("=", 1)[0]) != "page"]
        return f"{self.server.origin}{path}?{'&'.join([*kept, f'page={page}'])}"


def _paging(params: list[tuple[str, str]]) -> tuple[int, int]:
    values = dict(params)
    try:
        page = int(values.get("page") or 1)
        per_page = int(values.get("per_page") or DEFAULT_PER_PAGE)
    except ValueError:
        raise ApiError(400, "page and per_page must be whole numbers") from None
    if not 1 <= per_page <= MAX_PER_PAGE:
        raise ApiError(
            400,
            f"per_page must be between 1 and {MAX_PER_PAGE}",
            {"per_page": f"must be between 1 and {MAX_PER_PAGE}"},
        )
    if page < 1:
        raise ApiError(400, "page must be 1 or more", {"page": "must be 1 or more"})
    return page, per_page


def make_server(
    world: World,
    host: str = "127.0.0.1",
    port: int = 0,
    api_key: str = DEFAULT_API_KEY,
    requests_per_minute: int = 200,
    faults: Faults | None = None,
) -> SandboxServer:
    """Bind (port 0: any free port) and prepare a server; call `serve_forever()` to run it."""
    if requests_per_minute < 0:
        raise ValueError("requests_per_minute must be 0 (no limit) or more")
    return SandboxServer(world, host, port, api_key, requests_per_minute, faults)


@contextlib.contextmanager
def serving(
    world: World,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    api_key: str = DEFAULT_API_KEY,
    requests_per_minute: int = 200,
    faults: Faults | None = None,
) -> Iterator[SandboxServer]:
    """Serve `world` in a thread and yield the server (its `base_url`, `fault_log`)."""
    server = make_server(world, host, port, api_key, requests_per_minute, faults)
    with in_thread(server, "refnet-sandbox"):
        yield server


@contextlib.contextmanager
def in_thread(server: ThreadingHTTPServer, name: str) -> Iterator[None]:
    """Run an HTTP server in a daemon thread for the block; closed and joined after it."""
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, name=name, daemon=True
    )
    thread.start()
    try:
        yield
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@contextlib.contextmanager
def running_sandbox(
    world: World | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    api_key: str = DEFAULT_API_KEY,
    requests_per_minute: int = 200,
    seed: int = 7,
    scale: float = 1.0,
    faults: Faults | None = None,
) -> Iterator[str]:
    """Serve `world` (else a fresh one from seed and scale) in a thread; yields the base URL,
    e.g. http://127.0.0.1:51234/v1. The server stops when the block ends."""
    with serving(
        world or build_world(seed=seed, scale=scale),
        host=host,
        port=port,
        api_key=api_key,
        requests_per_minute=requests_per_minute,
        faults=faults,
    ) as server:
        yield server.base_url
