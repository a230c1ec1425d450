"""FHIR R4 connector: searchset Bundles paged by their `next` link, landed incrementally.

Each resource type is one stream, read with `_lastUpdated=gt<cursor - overlap>` and
`_lastUpdated=le<just before the run>` (records edited while we page wait for the next run),
`_sort=_lastUpdated` and `_count`. Paging follows the Bundle's `next` link exactly as given and
stops on a page without one, on an empty page, on a link already visited (refused: a loop), or
at `max_pages`. `total` is never trusted to decide anything (servers may omit or estimate it).
Only `search.mode = match` entries of the searched type are records; `include` entries and
OperationOutcome entries are counted, and the outcome's issues are logged.

The stream's cursor (the newest `meta.lastUpdated` landed) is committed once its whole result is
durably written, so a crash re-reads from the last committed cursor; duplicates are removed
downstream (latest version per id wins).

Landing keeps, per resource type, only the fields in `ALLOWED` (an allow-list: names, telecom,
addresses, birth dates, narrative and free text never reach a file) plus a few derived fields
(patient_key, birth_year, the intake answer, ...). A resource that cannot be landed as it is (no
id, not the searched type, a bad `lastUpdated`) is quarantined: a row naming it and why, without
its content, in `raw/fhir/<source>/_quarantine/`, and counted in the stream's summary.
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pyarrow as pa
import pyarrow.parquet as pq
import requests
from oauthlib.oauth2 import BackendApplicationClient, InsecureTransportError, OAuth2Error
from requests_oauthlib import OAuth2Session

from flows.cliniko import StreamStats
from flows.config import BearerAuth, ClientCredentialsAuth, FhirSource
from flows.http import HttpClient, SourceError, shared_limiter
from flows.land import BatchWriter, CursorStore, Pseudonymiser, write_atomic

log = logging.getLogger(__name__)
SOURCE_KIND = "fhir"
UPPER_BOUND_MARGIN = timedelta(seconds=30)

# Extensions refnet reads. The time zone one is HL7's; the others are refnet's convention for
# facts FHIR R4 has no element for (docs/contracts.md "FHIR world conventions").
TIMEZONE_EXTENSION = "http://hl7.org/fhir/StructureDefinition/timezone"
REFERRAL_SOURCE_EXTENSION = "https://refnet.example/fhir/StructureDefinition/referral-source"
SHARE_WITH_REFERRER_EXTENSION = (
    "https://refnet.example/fhir/StructureDefinition/share-with-referrer"
)
INVOICE_APPOINTMENT_EXTENSION = "https://refnet.example/fhir/StructureDefinition/appointment"

FHIR_HINTS = {
    400: "the server rejected the search; check base_url points at the FHIR R4 base (…/fhir)",
    401: "the server refused the credentials; check the token (auth.token_env) or the OAuth2 "
    "client (auth.client_id, auth.client_secret_env) of this source",
    403: "the credentials lack permission to read this resource type; ask the server's "
    "administrator for read access (or drop the type from `resources`)",
    404: "the resource type is not served here; check base_url, or drop the type from `resources`",
    410: "the server says this search is gone; run again",
    422: "the server rejected a search parameter; check the server supports _lastUpdated and "
    "_count",
}

# --- landing allow-lists ----------------------------------------------------------------------
# How a kept field is copied: as is, only its reference(s), codes without free text, ...
ACTORS, OUTPUTS, QUALIFICATIONS = "actors", "outputs", "qualifications"
KEEP, REF, REFS, REF_OR_DISPLAY, CODE, CODES, PERIOD, NAMES, MONEY = (
    "keep",
    "ref",
    "refs",
    "ref_or_display",
    "code",
    "codes",
    "period",
    "names",
    "money",
)
_COMMON = {"id": KEEP, "meta": KEEP}

ALLOWED: dict[str, dict[str, str]] = {
    "Location": {"status": KEEP, "name": KEEP, "alias": KEEP, "managingOrganization": REF},
    "Organization": {"active": KEEP, "name": KEEP, "alias": KEEP, "type": CODES, "partOf": REF},
    # Referrers and staff: their professional identity is kept (partners are named).
    "Practitioner": {"active": KEEP, "name": NAMES, "qualification": QUALIFICATIONS},
    "PractitionerRole": {
        "active": KEEP,
        "practitioner": REF_OR_DISPLAY,
        "organization": REF_OR_DISPLAY,
        "code": CODES,
        "specialty": CODES,
    },
    "Patient": {"active": KEEP, "link": KEEP},
    "ServiceRequest": {
        "status": KEEP,
        "intent": KEEP,
        "category": CODES,
        "priority": KEEP,
        "subject": REF,
        "requester": REF_OR_DISPLAY,
        "authoredOn": KEEP,
        "basedOn": REFS,
        "replaces": REFS,
    },
    "Appointment": {
        "status": KEEP,
        "cancelationReason": CODE,
        "appointmentType": CODE,
        "start": KEEP,
        "end": KEEP,
        "created": KEEP,
        "minutesDuration": KEEP,
        "basedOn": REFS,
        "participant": ACTORS,
    },
    "QuestionnaireResponse": {
        "status": KEEP,
        "authored": KEEP,
        "questionnaire": KEEP,
        "subject": REF,
        "basedOn": REFS,
        "partOf": REFS,
    },
    "Task": {
        "status": KEEP,
        "intent": KEEP,
        "code": CODE,
        "authoredOn": KEEP,
        "lastModified": KEEP,
        "executionPeriod": PERIOD,
        "for": REF,
        "focus": REF,
        "basedOn": REFS,
        "owner": REF,
        "location": REF,
        "output": OUTPUTS,
    },
    "Invoice": {
        "status": KEEP,
        "date": KEEP,
        "subject": REF,
        "totalGross": MONEY,
        "totalNet": MONEY,
    },
}

# A reference to one of these names a patient or their relations: its display is dropped.
_PERSONAL_TYPES = ("Patient/", "RelatedPerson/")


@dataclass(frozen=True)
class ResourceStream:
    resource_type: str

    @property
    def name(self) -> str:
        return self.resource_type


STREAMS: tuple[ResourceStream, ...] = tuple(ResourceStream(t) for t in ALLOWED)
STREAMS_BY_TYPE = {s.resource_type: s for s in STREAMS}


class MalformedResource(Exception):
    """A resource refnet cannot land as it is; it is quarantined, never silently dropped."""


def _ref(value: object) -> dict | None:
    if isinstance(value, dict) and isinstance(value.get("reference"), str):
        return {"reference": value["reference"]}
    return None


def _ref_or_display(value: object) -> dict | None:
    if not isinstance(value, dict):
        return None
    ref = value.get("reference") if isinstance(value.get("reference"), str) else None
    display = value.get("display") if isinstance(value.get("display"), str) else None
    if ref and ref.startswith(_PERSONAL_TYPES):
        return {"reference": ref}
    if ref:
        return {"reference": ref, **({"display": display} if display else {})}
    # A requester given only by name (allowed for professionals; the spec's own PT example).
    return {"display": display} if display else None


def _code(value: object) -> dict | None:
    if not isinstance(value, dict):
        return None
    codings = [
        {k: c[k] for k in ("system", "code", "display") if isinstance(c.get(k), str)}
        for c in value.get("coding") or []
        if isinstance(c, dict)
    ]
    out: dict[str, Any] = {"coding": codings} if codings else {}
    if isinstance(value.get("text"), str):
        out["text"] = value["text"]
    return out or None


def _copy(kind: str, value: object) -> object:
    if kind == KEEP:
        return value
    if kind == REF:
        return _ref(value)
    if kind == REF_OR_DISPLAY:
        return _ref_or_display(value)
    if kind == REFS:
        refs = [_ref(v) for v in value] if isinstance(value, list) else []
        return [r for r in refs if r] or None
    if kind == CODE:
        return _code(value)
    if kind == CODES:
        codes = [_code(v) for v in value] if isinstance(value, list) else []
        return [c for c in codes if c] or None
    if kind == PERIOD:
        if isinstance(value, dict):
            return {k: value[k] for k in ("start", "end") if isinstance(value.get(k), str)}
        return None
    if kind == NAMES:
        names = []
        for name in value if isinstance(value, list) else []:
            if isinstance(name, dict):
                names.append(
                    {k: name[k] for k in ("use", "text", "prefix", "given", "family") if k in name}
                )
        return names or None
    if kind == QUALIFICATIONS:  # what the professional is qualified as, not their licences
        codes = (
            [_code(q.get("code")) for q in value if isinstance(q, dict)]
            if isinstance(value, list)
            else []
        )
        return [{"code": c} for c in codes if c] or None
    if kind == ACTORS:  # who takes part: references and statuses, never display names
        actors = []
        for part in value if isinstance(value, list) else []:
            actor = _ref(part.get("actor")) if isinstance(part, dict) else None
            if actor:
                actors.append({"actor": actor, "status": part.get("status")})
        return actors or None
    if kind == OUTPUTS:  # a task's outputs: only the resources it produced
        outputs = []
        for out in value if isinstance(value, list) else []:
            ref = _ref(out.get("valueReference")) if isinstance(out, dict) else None
            if ref:
                outputs.append({"valueReference": ref})
        return outputs or None
    if kind == MONEY:
        if isinstance(value, dict):
            return {k: value[k] for k in ("value", "currency") if k in value}
        return None
    raise ValueError(f"unknown copy kind {kind}")


def _extensions(resource: dict, url: str) -> list[dict]:
    return [
        e for e in resource.get("extension") or [] if isinstance(e, dict) and e.get("url") == url
    ]


def _sub_value(extension: dict, url: str) -> object:
    for sub in extension.get("extension") or []:
        if isinstance(sub, dict) and sub.get("url") == url:
            for key, value in sub.items():
                if key.startswith("value"):
                    return value
    return None


_UK_POSTCODE = re.compile(r"^([A-Z]{1,2}\d[A-Z\d]?)\s*\d[A-Z]{2}$")


def _birth_year(value: object) -> int | None:
    if isinstance(value, str) and re.match(r"^\d{4}", value):
        return int(value[:4])
    return None


def _postcode_district(resource: dict) -> str | None:
    for address in resource.get("address") or []:
        code = (address or {}).get("postalCode") if isinstance(address, dict) else None
        if isinstance(code, str):
            match = _UK_POSTCODE.match(code.strip().upper())
            if match:
                return match.group(1)
    return None


def _answer_text(answer: dict) -> str | None:
    for key in ("valueString", "valueCoding", "valueInteger", "valueDecimal", "valueBoolean"):
        value = answer.get(key)
        if isinstance(value, dict):  # a Coding
            value = value.get("display") or value.get("code")
        if value is not None and str(value).strip():
            return str(value).strip()
    return None


def questionnaire_answer(items: object, link_id: str | None, question: str) -> str | None:
    """The answer of the item with `link_id` (else whose text is `question`), searched through
    nested items; several answers are joined with "; ". Nothing else of the form is read."""
    wanted = question.strip().casefold()
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict):
            continue
        hit = (link_id is not None and item.get("linkId") == link_id) or (
            link_id is None and str(item.get("text", "")).strip().casefold() == wanted
        )
        if hit:
            answers = [_answer_text(a) for a in item.get("answer") or [] if isinstance(a, dict)]
            return "; ".join(a for a in answers if a) or None
        nested = [*(item.get("item") or [])]
        for answer in item.get("answer") or []:
            if isinstance(answer, dict):
                nested += answer.get("item") or []
        found = questionnaire_answer(nested, link_id, question)
        if found is not None:
            return found
    return None


@dataclass(frozen=True)
class FhirLanding:
    """Turns one resource into the landed (pseudonymised) record."""

    pseudonymiser: Pseudonymiser
    account: str
    intake_link_id: str | None
    time_zone: str

    def clean(self, resource: dict) -> dict:
        rtype = resource["resourceType"]
        out: dict[str, Any] = {"resourceType": rtype}
        for key, kind in {**_COMMON, **ALLOWED[rtype]}.items():
            if key in resource:
                value = _copy(kind, resource[key])
                if value is not None:
                    out[key] = value
        if isinstance(out.get("meta"), dict):
            out["meta"] = {
                k: out["meta"][k] for k in ("lastUpdated", "versionId") if k in out["meta"]
            }
        if rtype == "Patient":
            out["patient_key"] = self.pseudonymiser.patient_key(
                self.account, f"Patient/{resource['id']}"
            )
            out["birth_year"] = _birth_year(resource.get("birthDate"))
            out["postcode_district"] = _postcode_district(resource)
            consent = _extensions(resource, SHARE_WITH_REFERRER_EXTENSION)
            value = consent[0].get("valueBoolean") if consent else None
            out["shares_with_referrer"] = value if isinstance(value, bool) else None
            sources = _extensions(resource, REFERRAL_SOURCE_EXTENSION)
            if sources:
                kind = _sub_value(sources[0], "type")
                out["referral_source"] = {
                    "type_id": kind.get("code") if isinstance(kind, dict) else None,
                    "type_name": kind.get("display") if isinstance(kind, dict) else None,
                    "subcategory": _sub_value(sources[0], "subcategory"),
                    "referrer_type": _sub_value(sources[0], "referrerType"),
                    "referrer": _ref(_sub_value(sources[0], "referrer")),
                    "recorded": _sub_value(sources[0], "recorded"),
                }
        elif rtype == "QuestionnaireResponse":
            out["heard_about_answer"] = questionnaire_answer(
                resource.get("item"), self.intake_link_id, self.pseudonymiser.intake_question
            )
        elif rtype == "Location":
            zones = _extensions(resource, TIMEZONE_EXTENSION)
            zone = zones[0].get("valueCode") if zones else None
            out["time_zone"] = zone if isinstance(zone, str) and zone else self.time_zone
            address = resource.get("address")
            if isinstance(address, dict) and isinstance(address.get("country"), str):
                out["country"] = address["country"]
        elif rtype == "Invoice":
            links = _extensions(resource, INVOICE_APPOINTMENT_EXTENSION)
            if links:
                out["appointment"] = _ref(links[0].get("valueReference"))
        return out


# --- reading Bundles ----------------------------------------------------------------------------


def operation_outcome_text(body: object) -> str | None:
    """The issues of an OperationOutcome as one line (severity, code, diagnostics / details)."""
    if not isinstance(body, dict) or body.get("resourceType") != "OperationOutcome":
        return None
    parts = []
    for issue in body.get("issue") or []:
        if not isinstance(issue, dict):
            continue
        text = issue.get("diagnostics") or (issue.get("details") or {}).get("text") or ""
        parts.append(f"{issue.get('severity', '?')} {issue.get('code', '?')}: {text}".strip())
    return "; ".join(parts) or "OperationOutcome without issues"


def explain_response(resp: requests.Response) -> str | None:
    """For the HTTP client: an error body's OperationOutcome, else its first 200 characters."""
    try:
        body = resp.json()
    except ValueError:
        text = resp.text.strip()
        return text[:200] or None
    return operation_outcome_text(body) or json.dumps(body)[:200]


@dataclass
class BundlePage:
    matches: list[tuple[int, object]]  # (entry index, resource) of the searched type
    includes: int
    outcomes: list[str]
    next_url: str | None
    total: int | None
    malformed: list[tuple[int, str, str | None]]  # (entry index, reason, id)


def parse_bundle(body: object, resource_type: str) -> BundlePage:
    """One searchset page. Entries in `include` mode, or of another type, are not records of
    the searched type; `outcome` entries are OperationOutcomes (warnings, usually)."""
    if isinstance(body, dict) and body.get("resourceType") == "OperationOutcome":
        raise SourceError(
            f"the server answered with an OperationOutcome: {operation_outcome_text(body)}"
        )
    if not isinstance(body, dict) or body.get("resourceType") != "Bundle":
        found = body.get("resourceType") if isinstance(body, dict) else type(body).__name__
        raise SourceError(
            f"expected a searchset Bundle, got {found!r}; check base_url points at a FHIR R4 base"
        )
    if body.get("type") != "searchset":
        raise SourceError(f"expected a searchset Bundle, got Bundle.type {body.get('type')!r}")
    page = BundlePage([], 0, [], None, None, [])
    total = body.get("total")
    page.total = total if isinstance(total, int) and not isinstance(total, bool) else None
    for link in body.get("link") or []:
        if isinstance(link, dict) and link.get("relation") == "next":
            url = link.get("url")
            if not isinstance(url, str) or not url:
                raise SourceError(f"the Bundle's next link is not a URL ({url!r})")
            page.next_url = url
    for index, entry in enumerate(body.get("entry") or []):
        if not isinstance(entry, dict):
            page.malformed.append((index, "entry is not a JSON object", None))
            continue
        resource = entry.get("resource")
        mode = (
            (entry.get("search") or {}).get("mode")
            if isinstance(entry.get("search"), dict)
            else None
        )
        rtype = resource.get("resourceType") if isinstance(resource, dict) else None
        if mode == "outcome" or rtype == "OperationOutcome":
            page.outcomes.append(operation_outcome_text(resource) or "unreadable OperationOutcome")
        elif mode == "include":
            page.includes += 1
        elif not isinstance(resource, dict):
            page.malformed.append((index, "entry has no resource", None))
        elif rtype != resource_type:
            if mode == "match":
                rid = resource.get("id")
                page.malformed.append(
                    (index, f"a match entry of type {rtype!r}, not {resource_type}", rid)
                )
            else:  # no mode given: an included resource of another type
                page.includes += 1
        else:
            page.matches.append((index, resource))
    return page


def _origin(url: str) -> str:
    parts = urlsplit(url)
    port = parts.port or {"http": 80, "https": 443}.get(parts.scheme.lower())
    return f"{parts.scheme.lower()}://{(parts.hostname or '').lower()}:{port}"


class BundlePaginator:
    """Follows the Bundle's `next` link; stops on an empty page, refuses to loop, caps pages."""

    def __init__(self, max_pages: int, base_url: str | None = None) -> None:
        self.max_pages = max_pages
        self.pages = 0
        self._seen: set[str] = set()
        self._origin = _origin(base_url) if base_url else None

    def next_url(self, page: BundlePage, url: str) -> str | None:
        self.pages += 1
        self._seen.add(url)
        if page.next_url is None:
            return None
        if not page.matches and not page.includes and not page.malformed:
            # An empty page that still links on: some servers do; nothing more will come.
            return None
        if self._origin and _origin(page.next_url) != self._origin:
            # The credentials go with every request: never to a host the config did not name.
            raise SourceError(
                f"the server's next link points at {_origin(page.next_url)}, not at "
                f"{self._origin} (base_url); refusing to send the credentials there. Fix the "
                "server's public base URL setting, or set base_url to the address it links to"
            )
        if page.next_url in self._seen:
            raise SourceError(
                f"the server returned a next link already visited ({page.next_url}); refusing "
                "to loop"
            )
        if self.pages >= self.max_pages:
            raise SourceError(
                f"more than {self.max_pages} pages; raise max_pages in the source if that is real"
            )
        return page.next_url


# --- auth -------------------------------------------------------------------------------------


class BearerToken(requests.auth.AuthBase):
    def __init__(self, token: str) -> None:
        self._header = f"Bearer {token}"

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = self._header
        return request


_LOOPBACK = ("127.0.0.1", "localhost", "::1")


class ClientCredentialsToken(requests.auth.AuthBase):
    """OAuth2 client credentials through requests-oauthlib: a token is fetched before the first
    request, again shortly before it expires, and again (once per request) when the server
    answers 401 because it was revoked early."""

    EARLY_S = 30.0

    def __init__(
        self, source: str, token_url: str, client_id: str, secret: str, scope: str | None
    ) -> None:
        self.source, self.token_url, self.client_id = source, token_url, client_id
        self._secret, self._scope = secret, scope
        self._token: dict | None = None
        self._lock = threading.Lock()
        self.fetches = 0

    def _fetch(self) -> dict:
        if urlsplit(self.token_url).hostname in _LOOPBACK:
            # oauthlib insists on https; plain http is allowed to this machine only (test
            # servers, a local proxy), never across a network.
            os.environ.setdefault("OAUTHLIB_INSECURE_TRANSPORT", "1")
        session = OAuth2Session(client=BackendApplicationClient(client_id=self.client_id))
        try:
            token = session.fetch_token(
                token_url=self.token_url,
                client_id=self.client_id,
                client_secret=self._secret,
                scope=self._scope.split() if self._scope else None,
                include_client_id=True,
                timeout=30,
            )
        except InsecureTransportError:
            raise SourceError(
                f"{self.source}: auth.token_url {self.token_url} must use https"
            ) from None
        except OAuth2Error as exc:
            raise SourceError(
                f"{self.source}: the token endpoint {self.token_url} refused the client "
                f"credentials ({exc.error}: {exc.description or 'no description'}); check "
                "auth.client_id and the secret in auth.client_secret_env"
            ) from None
        except (requests.RequestException, ValueError) as exc:
            raise SourceError(
                f"{self.source}: cannot get a token from {self.token_url} ({exc}); check "
                "auth.token_url"
            ) from None
        self.fetches += 1
        return dict(token)

    def _current(self, force: bool = False) -> str:
        with self._lock:
            expires_at = (self._token or {}).get("expires_at")
            stale = expires_at is not None and time.time() >= float(expires_at) - self.EARLY_S
            if force or self._token is None or stale:
                self._token = self._fetch()
            return str(self._token["access_token"])

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self._current()}"
        request.register_hook("response", self._retry_on_401)
        return request

    def _retry_on_401(self, response: requests.Response, **kwargs: Any) -> requests.Response:
        if response.status_code != 401 or getattr(response.request, "_refnet_retried", False):
            return response
        response.content  # noqa: B018 - read the body so the connection can be reused
        retry = response.request.copy()
        retry._refnet_retried = True  # type: ignore[attr-defined]
        retry.headers["Authorization"] = f"Bearer {self._current(force=True)}"
        again = response.connection.send(retry, **kwargs)
        again.history.append(response)
        again.request = retry
        return again


def make_auth(source: FhirSource) -> requests.auth.AuthBase | None:
    auth = source.auth
    if isinstance(auth, BearerAuth):
        return BearerToken(source.resolve_secrets()[0])
    if isinstance(auth, ClientCredentialsAuth):
        secret = source.resolve_secrets()[0]
        return ClientCredentialsToken(
            f"FHIR source '{source.name}'", auth.token_url, auth.client_id, secret, auth.scope
        )
    return None


def make_client(source: FhirSource) -> HttpClient:
    key = source.base_url + "|" + "|".join(source.resolve_secrets())
    return HttpClient(
        source=f"FHIR source '{source.name}'",
        auth=make_auth(source),
        user_agent=f"refnet ({source.contact_email})",
        limiter=shared_limiter(key, source.requests_per_minute),
        hints=FHIR_HINTS,
        accept="application/fhir+json",
        explain=explain_response,
    )


# --- extraction -------------------------------------------------------------------------------


@dataclass
class FhirStreamStats(StreamStats):
    includes: int = 0  # include-mode entries seen (not records of this type)
    quarantined: int = 0
    warnings: list[str] = field(default_factory=list)


def _parse_instant(value: object) -> datetime | None:
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip().replace("Z", "+00:00")
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        raise ValueError("no time zone offset")
    return parsed.astimezone(UTC)


def _format_instant(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ").replace(".000000Z", "Z")


QUARANTINE_SCHEMA = pa.schema(
    [
        ("source_kind", pa.string()),
        ("account", pa.string()),
        ("stream", pa.string()),
        ("id", pa.string()),
        ("reason", pa.string()),
        ("location", pa.string()),
        ("extracted_at", pa.timestamp("us", tz="UTC")),
        ("run_id", pa.string()),
    ]
)


def write_quarantine(
    raw_dir: Path, account: str, stream: str, run_id: str, rows: list[tuple[str | None, str, str]]
) -> Path:
    """Rows (id, reason, where) of resources that could not be landed; no content is kept."""
    now = datetime.now(UTC)
    table = pa.table(
        {
            "source_kind": [SOURCE_KIND] * len(rows),
            "account": [account] * len(rows),
            "stream": [stream] * len(rows),
            "id": [r[0] for r in rows],
            "reason": [r[1] for r in rows],
            "location": [r[2] for r in rows],
            "extracted_at": [now] * len(rows),
            "run_id": [run_id] * len(rows),
        },
        schema=QUARANTINE_SCHEMA,
    )
    path = raw_dir / SOURCE_KIND / account / "_quarantine" / stream / f"{run_id}.parquet"
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, compression="zstd")
    write_atomic(path, sink.getvalue().to_pybytes())
    return path


def _checked(resource: dict, resource_type: str) -> tuple[str, str | None]:
    rid = resource.get("id")
    if not isinstance(rid, str) or not re.match(r"^[A-Za-z0-9\-.]{1,64}$", rid):
        raise MalformedResource(f"no valid id ({rid!r})")
    meta = resource.get("meta")
    try:
        version = _parse_instant(meta.get("lastUpdated") if isinstance(meta, dict) else None)
    except ValueError as exc:
        raise MalformedResource(
            f"meta.lastUpdated {meta.get('lastUpdated')!r} is not a FHIR instant ({exc})"
        ) from None
    return rid, _format_instant(version) if version else None


def extract_stream(
    client: HttpClient,
    base_url: str,
    account: str,
    stream: ResourceStream,
    raw_dir: Path,
    cursors: CursorStore,
    landing: FhirLanding,
    run_id: str,
    page_size: int = 100,
    max_pages: int = 100_000,
    overlap: timedelta = timedelta(minutes=10),
    batch_size: int = 5_000,
    now: datetime | None = None,
) -> FhirStreamStats:
    """Pull one resource type since its committed cursor and land it."""
    rtype = stream.resource_type
    stats = FhirStreamStats(rtype)
    started = time.monotonic()
    before = (client.stats.requests, client.stats.retries, client.stats.rate_limited)
    where = f"{account}/{rtype}"
    cursor = cursors.get(SOURCE_KIND, account, rtype)
    stats.cursor_from = cursor
    upper = _format_instant((now or datetime.now(UTC)) - UPPER_BOUND_MARGIN)
    params: list[tuple[str, str]] = [("_count", str(page_size)), ("_sort", "_lastUpdated")]
    if cursor:
        lower = _parse_instant(cursor) - overlap  # type: ignore[operator]
        params.append(("_lastUpdated", f"gt{_format_instant(lower)}"))
    params.append(("_lastUpdated", f"le{upper}"))

    stream_dir = raw_dir / SOURCE_KIND / account / rtype
    first_run = cursor is None and not any(stream_dir.glob("*.parquet"))
    writer = BatchWriter(stream_dir, SOURCE_KIND, account, rtype, run_id)
    pending: list[tuple[str, str | None, str]] = []
    quarantine: list[tuple[str | None, str, str]] = []
    newest: str | None = None
    seen_ids: set[str] = set()
    paginator = BundlePaginator(max_pages, base_url)
    url: str | None = f"{base_url}/{rtype}"
    query: list[tuple[str, str]] | None = params
    page_no = 0
    while url:
        page_no += 1
        try:
            body = client.get_json(url, query)
            page = parse_bundle(body, rtype)
        except SourceError as exc:
            raise SourceError(f"{where} page {page_no}: {exc}") from exc
        stats.includes += page.includes
        for text in page.outcomes:
            log.warning("%s page %d: the server warns: %s", where, page_no, text)
            stats.warnings.append(text)
        for index, reason, rid in page.malformed:
            quarantine.append((rid, reason, f"page {page_no} entry {index}"))
        for index, resource in page.matches:
            try:
                rid, version = _checked(resource, rtype)  # type: ignore[arg-type]
                clean = landing.clean(resource)  # type: ignore[arg-type]
            except Exception as exc:  # MalformedResource, or a shape the allow-list did not expect
                rid_raw = resource.get("id") if isinstance(resource, dict) else None
                reason = (
                    str(exc)
                    if isinstance(exc, MalformedResource)
                    else f"cannot be pseudonymised ({type(exc).__name__}: {exc})"
                )
                quarantine.append(
                    (str(rid_raw) if rid_raw else None, reason, f"page {page_no} entry {index}")
                )
                continue
            if rid in seen_ids:
                stats.duplicates += 1
            seen_ids.add(rid)
            if version and (newest is None or version > newest):
                newest = version
            pending.append(
                (rid, version, json.dumps(clean, separators=(",", ":"), ensure_ascii=False))
            )
            stats.records += 1
        if len(pending) >= batch_size:
            stats.files.append(str(writer.write(pending)))
            pending = []
        try:
            url, query = paginator.next_url(page, url), None
        except SourceError as exc:
            raise SourceError(f"{where} page {page_no}: {exc}") from exc
    stats.pages = paginator.pages
    if pending or (first_run and not stats.files):
        stats.files.append(str(writer.write(pending)))
    if quarantine:
        write_quarantine(raw_dir, account, rtype, run_id, quarantine)
        stats.quarantined = len(quarantine)
        log.warning(
            "%s: %d resource(s) quarantined (see raw/fhir/%s/_quarantine/%s/): %s",
            where,
            len(quarantine),
            account,
            rtype,
            "; ".join(f"{q[0] or '?'}: {q[1]}" for q in quarantine[:5]),
        )
    # Only now, with every file durable, does the cursor move.
    if newest and _parse_instant(newest) > _parse_instant(upper):
        # A resource dated in the future (a wrong server clock) would freeze the cursor there.
        log.warning(
            "%s: a resource has meta.lastUpdated %s, after this run's upper bound; the cursor "
            "stops at %s so later edits are still read",
            where,
            newest,
            upper,
        )
        newest = upper
    if newest and (cursor is None or newest > cursor):
        cursors.commit(SOURCE_KIND, account, rtype, newest, run_id)
        stats.cursor_to = newest
    cursors.mark_checked(SOURCE_KIND, account, rtype, run_id)
    stats.requests = client.stats.requests - before[0]
    stats.retries = client.stats.retries - before[1]
    stats.rate_limited = client.stats.rate_limited - before[2]
    stats.seconds = round(time.monotonic() - started, 3)
    return stats


def extract_source(
    source: FhirSource,
    home: Path,
    run_id: str,
    secret: bytes,
    streams: Iterable[ResourceStream] | None = None,
    client: HttpClient | None = None,
    **options: object,
) -> list[FhirStreamStats]:
    """Every configured resource type of one FHIR server, through one rate-limited client."""
    if streams is None:
        wanted = source.resources or list(STREAMS_BY_TYPE)
        streams = [STREAMS_BY_TYPE[t] for t in wanted]
    client = client or make_client(source)
    landing = FhirLanding(
        Pseudonymiser(secret, source.intake_question),
        source.name,
        source.intake_link_id,
        source.time_zone,
    )
    cursors = CursorStore(home / "state")
    results = []
    for stream in streams:
        stats = extract_stream(
            client,
            source.base_url,
            source.name,
            stream,
            home / "raw",
            cursors,
            landing,
            run_id,
            page_size=source.page_size,
            max_pages=source.max_pages,
            **options,  # type: ignore[arg-type]
        )
        log.info("%s/%s", source.name, stats.line())
        results.append(stats)
    return results


def reset_cursors(home: Path, account: str) -> None:
    CursorStore(home / "state").reset(SOURCE_KIND, account)
