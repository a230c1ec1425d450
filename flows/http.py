"""One HTTP client for every connector: rate limit, retries with backoff, clear errors."""

from __future__ import annotations

import email.utils
import hashlib
import json
import logging
import random
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import orjson
import requests
from tenacity import (
    RetryCallState,
    retry,
    retry_if_exception_type,
    stop_after_attempt,
)

log = logging.getLogger(__name__)
# orjson turns integers wider than 64 bits into floats; a body with a run of 20 digits is parsed
# by the standard library instead, so no value is ever rounded. (One C pass: digits -> "0".)
_DIGITS_AS_ZERO = bytes(0x30 if 0x30 <= i <= 0x39 else 0x2E for i in range(256))
_WIDE_RUN = b"0" * 20


def parse_json(content: bytes) -> object:
    """Decode a JSON body: orjson (several times faster), the standard library where orjson
    would lose precision or refuses what the standard library accepts. Duplicate keys: the
    last wins in both, as in JavaScript's JSON.parse."""
    if _WIDE_RUN not in content.translate(_DIGITS_AS_ZERO):
        try:
            return orjson.loads(content)
        except orjson.JSONDecodeError:
            pass  # the standard library gives the error message (or accepts e.g. NaN)
    return json.loads(content)


def dump_json(value: object) -> bytes:
    """Compact UTF-8 JSON; the standard library for what orjson cannot encode (wide ints)."""
    try:
        return orjson.dumps(value)
    except TypeError:  # orjson.JSONEncodeError is a TypeError
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


# What to check, per status the API answers that retrying will not fix.
FATAL_HINTS = {
    400: "the request was rejected; check the User-Agent contact email and the source's base_url",
    401: "the API key was refused; check the key in the source's api_key_env variable",
    403: "the API key lacks permission for this resource; check the Cliniko user's role",
    404: "the resource does not exist; check base_url (shard) and the API version",
    422: "the API rejected a filter or parameter; this is a refnet bug, please report it",
}


class SourceError(Exception):
    """A source failed in a way retrying will not fix; the message says what to check."""


class RetriableError(Exception):
    """A transient failure (429, 5xx, timeout, connection reset)."""

    def __init__(self, message: str, wait_s: float | None = None) -> None:
        super().__init__(message)
        self.wait_s = wait_s


class RateLimiter:
    """Sliding-window limiter shared by every stream that uses one API key.

    The window is a second longer than the server's minute: the server counts arrivals, we
    count departures, and a request that dawdles on the way must not make 201 in its minute.
    """

    def __init__(self, requests_per_minute: int, window_s: float = 61.0) -> None:
        self.limit = requests_per_minute
        self.window_s = window_s
        self._sent: deque[float] = deque()
        self._lock = threading.Lock()

    def acquire(self) -> float:
        """Block until a request may be sent; returns the seconds waited."""
        waited = 0.0
        while True:
            with self._lock:
                now = time.monotonic()
                while self._sent and now - self._sent[0] >= self.window_s:
                    self._sent.popleft()
                if len(self._sent) < self.limit:
                    self._sent.append(now)
                    return waited
                pause = self.window_s - (now - self._sent[0]) + 0.001
            time.sleep(pause)
            waited += pause

    def hold_until(self, resume_at_monotonic: float) -> None:
        """After a 429, make every caller of this key wait until the server's reset time."""
        with self._lock:
            # Fill the window so the next acquire sleeps until the reset.
            fake = resume_at_monotonic - self.window_s
            self._sent = deque([fake] * self.limit)


_LIMITERS: dict[tuple[str, int], RateLimiter] = {}
_LIMITERS_LOCK = threading.Lock()


def shared_limiter(api_key: str, requests_per_minute: int) -> RateLimiter:
    """One limiter per API key in this process, whichever source or stream uses the key."""
    digest = hashlib.sha256(api_key.encode()).hexdigest()  # never keep the key itself
    with _LIMITERS_LOCK:
        return _LIMITERS.setdefault((digest, requests_per_minute), RateLimiter(requests_per_minute))


def _retry_after_seconds(resp: requests.Response) -> float | None:
    """Seconds to wait from `X-RateLimit-Reset` (epoch seconds) or `Retry-After` (seconds or
    an HTTP-date); None when neither is usable."""
    reset = resp.headers.get("X-RateLimit-Reset")
    if reset:
        try:
            return max(0.0, float(reset) - time.time())
        except ValueError:
            pass
    after = resp.headers.get("Retry-After")
    if after:
        try:
            return max(0.0, float(after))
        except ValueError:
            try:
                parsed = email.utils.parsedate_to_datetime(after)
            except (TypeError, ValueError):
                return None
            return max(0.0, parsed.timestamp() - time.time())
    return None


@dataclass
class RequestStats:
    requests: int = 0
    retries: int = 0
    rate_limited: int = 0
    throttle_wait_s: float = 0.0


@dataclass
class HttpClient:
    """A `requests` session bound to one API account."""

    source: str
    auth: tuple[str, str] | requests.auth.AuthBase | None
    user_agent: str
    limiter: RateLimiter
    timeout_s: float = 30.0
    max_attempts: int = 6
    max_wait_s: float = 120.0
    stats: RequestStats = field(default_factory=RequestStats)
    # What to check per fatal status (each API words its own), the Accept header, and a
    # reader of an error body's explanation (e.g. a FHIR OperationOutcome) for the message.
    hints: dict[int, str] = field(default_factory=lambda: dict(FATAL_HINTS))
    accept: str = "application/json"
    explain: Callable[[requests.Response], str | None] | None = None

    def __post_init__(self) -> None:
        self.session = requests.Session()
        self.session.auth = self.auth
        self.session.headers.update({"User-Agent": self.user_agent, "Accept": self.accept})

    def _explained(self, resp: requests.Response) -> str:
        detail = None
        if self.explain is not None:
            try:
                detail = self.explain(resp)
            except Exception:  # an unreadable error body must not hide the status
                detail = None
        return f" (server said: {detail})" if detail else ""

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, RetriableError) and exc.wait_s is not None:
            return exc.wait_s
        # Exponential backoff with full jitter.
        return random.uniform(0, min(30.0, 0.5 * 2**state.attempt_number))

    def get_json(self, url: str, params: list[tuple[str, str]] | None = None) -> dict:
        """GET a URL and decode its JSON, retrying only what is worth retrying."""

        def before_sleep(state: RetryCallState) -> None:
            self.stats.retries += 1
            log.warning("%s: retrying %s after: %s", self.source, url, state.outcome.exception())

        fetch = retry(
            retry=retry_if_exception_type(RetriableError),
            stop=stop_after_attempt(self.max_attempts),
            wait=self._wait,
            before_sleep=before_sleep,
            reraise=True,
        )(self._get_once)
        try:
            return fetch(url, params)
        except RetriableError as exc:
            raise SourceError(
                f"{self.source}: {url} still failing after {self.max_attempts} attempts: {exc}. "
                "If the API is down or overloaded, the next run resumes from the last cursor."
            ) from exc

    def _get_once(self, url: str, params: list[tuple[str, str]] | None) -> dict:
        self.stats.throttle_wait_s += self.limiter.acquire()
        self.stats.requests += 1
        try:
            resp = self.session.get(url, params=params, timeout=self.timeout_s)
        except (
            requests.ConnectionError,
            requests.Timeout,
            # The connection died mid-body (a reset, a proxy restart): worth another go.
            requests.exceptions.ChunkedEncodingError,
            requests.exceptions.ContentDecodingError,
        ) as exc:
            raise RetriableError(f"{type(exc).__name__}: {exc}") from exc
        if resp.status_code == 429:
            self.stats.rate_limited += 1
            wait_s = _retry_after_seconds(resp)
            if wait_s is not None and wait_s > self.max_wait_s:
                raise SourceError(
                    f"{self.source}: rate limited and asked to wait {wait_s:.0f} s, more than the "
                    f"{self.max_wait_s:.0f} s cap; lower requests_per_minute or run later"
                )
            if wait_s is not None:
                self.limiter.hold_until(time.monotonic() + wait_s)
                wait_s = 0.0  # the limiter now does the waiting, for every stream of this key
            raise RetriableError("429 Too Many Requests", wait_s)
        if resp.status_code >= 500:
            wait_s = _retry_after_seconds(resp)
            raise RetriableError(
                f"HTTP {resp.status_code}{self._explained(resp)}",
                min(wait_s, self.max_wait_s) if wait_s else None,
            )
        if resp.status_code >= 400:
            hint = self.hints.get(resp.status_code, "unexpected client error")
            raise SourceError(
                f"{self.source}: HTTP {resp.status_code} from {resp.url}: {hint}"
                f"{self._explained(resp)}"
            )
        try:
            return parse_json(resp.content)
        except ValueError as exc:
            # A cut-off body is usually transient (proxy or server restart): retry it. If it
            # persists, the message says where the JSON broke.
            raise RetriableError(
                f"the response is not valid JSON ({exc}; {len(resp.content)} bytes)"
            ) from exc
