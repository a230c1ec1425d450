"""The sandbox's FHIR R4 face: the same synthetic world as the Cliniko API, as FHIR resources,
served as searchset Bundles (docs/contracts.md "FHIR world conventions").

`fhir_resources(world)` translates the Cliniko-shaped records one for one (ids kept, so a
referral is `ServiceRequest/<patient case id>`); `FhirServer` serves any such store with the
search features refnet uses: `_count`, `_lastUpdated` (gt / ge / lt / le, repeatable), `_sort`,
paging by `next` links, `_include` (entries in `include` mode), a bearer token or OAuth2 client
credentials (POST /oauth/token). Patients keep their invented names, contacts and birth dates
here, so the landing's allow-lists are really exercised.
"""

from __future__ import annotations

import contextlib
import json
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, parse_qsl, urlencode, urlsplit
from zoneinfo import ZoneInfo

from flows.fhir import (
    INVOICE_APPOINTMENT_EXTENSION,
    REFERRAL_SOURCE_EXTENSION,
    SHARE_WITH_REFERRER_EXTENSION,
    TIMEZONE_EXTENSION,
)
from flows.land import CONSENT_FIELD, intake_answer, referrer_consent
from flows.sandbox.server import in_thread
from flows.sandbox.world import HEARD_QUESTION, World, registry_yaml

ROLE_SYSTEM = "http://terminology.hl7.org/CodeSystem/practitioner-role"
SNOMED = "http://snomed.info/sct"
GENERAL_PRACTICE = "394814009"  # SNOMED CT: General practice (R4 practice setting value set)
HEARD_LINK_ID = "heard-about"
DEFAULT_TOKEN = "refnet-sandbox-fhir-token"
_LINK_ID = re.compile(r"/([^/]+)/([^/?#]+)/*$")


def _linked(record: dict, key: str) -> tuple[str, str] | None:
    """(resource, id) of a Cliniko link such as `{"links": {"self": ".../contacts/12"}}`."""
    link = ((record.get(key) or {}).get("links") or {}).get("self")
    match = _LINK_ID.search(link) if isinstance(link, str) else None
    return (match.group(1), match.group(2)) if match else None


def _local(value: str | None, zone: ZoneInfo) -> str | None:
    """A Cliniko UTC time as a FHIR dateTime with the clinic's offset (the same instant)."""
    if not value:
        return None
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return moment.astimezone(zone).isoformat(timespec="seconds")


def _meta(record: dict) -> dict:
    return {"lastUpdated": record.get("updated_at") or record.get("created_at"), "versionId": "1"}


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60]


def fhir_resources(world: World) -> dict[str, list[dict]]:
    """The world's records as FHIR R4 resources, by resource type."""
    res = world.resources
    out: dict[str, list[dict]] = {t: [] for t in _TYPES}
    zones = {b["id"]: ZoneInfo(b["time_zone_identifier"]) for b in res["businesses"]}
    default_zone = ZoneInfo("Europe/London")
    type_names = {t["id"]: t["name"] for t in res["referral_source_types"]}

    for b in res["businesses"]:
        out["Location"].append(
            {
                "resourceType": "Location",
                "id": b["id"],
                "meta": _meta(b),
                "status": "inactive" if b.get("archived_at") else "active",
                "name": b.get("display_name") or b.get("business_name") or b.get("label"),
                "telecom": [{"system": "phone", "value": b.get("contact_information")}],
                "address": {
                    "line": [b.get("address_1")],
                    "city": b.get("city"),
                    "postalCode": b.get("post_code"),
                    "country": b.get("country_code"),
                },
                "extension": [{"url": TIMEZONE_EXTENSION, "valueCode": b["time_zone_identifier"]}],
            }
        )
    for p in res["practitioners"]:
        out["Practitioner"].append(
            {
                "resourceType": "Practitioner",
                "id": p["id"],
                "meta": _meta(p),
                "active": bool(p.get("active")),
                "name": [
                    {
                        "prefix": [p["title"]] if p.get("title") else [],
                        "given": [p["first_name"]],
                        "family": p["last_name"],
                    }
                ],
                "qualification": [{"code": {"text": p.get("designation")}}],
            }
        )
    organizations: dict[str, dict] = {}
    for c in res["contacts"]:
        org_ref = None
        if c.get("company_name"):
            org_id = "org-" + _slug(c["company_name"])
            org_ref = {"reference": f"Organization/{org_id}", "display": c["company_name"]}
            organizations.setdefault(
                org_id,
                {
                    "resourceType": "Organization",
                    "id": org_id,
                    "meta": _meta(c),
                    "active": True,
                    "name": c["company_name"],
                },
            )
        person = bool(c.get("first_name") or c.get("last_name"))
        if person:
            out["Practitioner"].append(
                {
                    "resourceType": "Practitioner",
                    "id": c["id"],
                    "meta": _meta(c),
                    "active": not c.get("archived_at"),
                    "name": [
                        {
                            "prefix": [c["title"]] if c.get("title") else [],
                            "given": [c["first_name"]] if c.get("first_name") else [],
                            "family": c.get("last_name"),
                        }
                    ],
                    "telecom": [{"system": "email", "value": c.get("email")}],
                }
            )
        code: dict = {"text": c.get("occupation")} if c.get("occupation") else {}
        if c.get("type") == "Doctor":
            code["coding"] = [{"system": ROLE_SYSTEM, "code": "doctor", "display": "Doctor"}]
        specialty = []
        if c.get("doctor_type") == "general_practitioner":
            specialty = [
                {
                    "coding": [
                        {"system": SNOMED, "code": GENERAL_PRACTICE, "display": "General practice"}
                    ]
                }
            ]
        elif c.get("doctor_type") == "specialist":
            specialty = [{"text": c.get("occupation") or "Specialist"}]
        role = {
            "resourceType": "PractitionerRole",
            "id": c["id"],
            "meta": _meta(c),
            "active": not c.get("archived_at"),
            **({"practitioner": {"reference": f"Practitioner/{c['id']}"}} if person else {}),
            **({"organization": org_ref} if org_ref else {}),
            **({"code": [code]} if code else {}),
            **({"specialty": specialty} if specialty else {}),
        }
        out["PractitionerRole"].append(role)
    out["Organization"] = sorted(organizations.values(), key=lambda o: o["id"])

    sources = {}
    for s in res["referral_sources"]:
        patient = _linked(s, "patient")
        if patient and not s.get("deleted_at"):
            sources[patient[1]] = s
    for p in res["patients"]:
        ext = []
        consent = referrer_consent(p.get("custom_fields"), CONSENT_FIELD)
        if consent is not None:
            ext.append({"url": SHARE_WITH_REFERRER_EXTENSION, "valueBoolean": consent})
        source = sources.get(p["id"])
        if source is not None:
            subs: list[dict] = []
            kind = _linked(source, "referral_source_type")
            if kind:
                subs.append(
                    {
                        "url": "type",
                        "valueCoding": {"code": kind[1], "display": type_names.get(kind[1])},
                    }
                )
            if source.get("subcategory"):
                subs.append({"url": "subcategory", "valueString": source["subcategory"]})
            if source.get("referrer_type"):
                subs.append({"url": "referrerType", "valueCode": source["referrer_type"]})
            referrer = _linked(source, "referrer")
            if referrer:
                rtype = "PractitionerRole" if referrer[0] == "contacts" else "Patient"
                subs.append(
                    {"url": "referrer", "valueReference": {"reference": f"{rtype}/{referrer[1]}"}}
                )
            if source.get("updated_at"):
                subs.append({"url": "recorded", "valueDateTime": source["updated_at"]})
            ext.append({"url": REFERRAL_SOURCE_EXTENSION, "extension": subs})
        out["Patient"].append(
            {
                "resourceType": "Patient",
                "id": p["id"],
                "meta": _meta(p),
                "active": not p.get("archived_at"),
                "name": [{"given": [p.get("first_name")], "family": p.get("last_name")}],
                "telecom": [{"system": "email", "value": p.get("email")}],
                "birthDate": p.get("date_of_birth"),
                "address": [
                    {
                        "line": [p.get("address_1")],
                        "city": p.get("city"),
                        "postalCode": p.get("post_code"),
                    }
                ],
                **({"extension": ext} if ext else {}),
            }
        )
    for case in res["patient_cases"]:
        patient, contact = _linked(case, "patient"), _linked(case, "contact")
        status = (
            "entered-in-error"
            if case.get("deleted_at")
            else ("completed" if case.get("closed_at") or case.get("closed") else "active")
        )
        out["ServiceRequest"].append(
            {
                "resourceType": "ServiceRequest",
                "id": case["id"],
                "meta": _meta(case),
                "status": status,
                "intent": "order",
                "category": [{"text": "Referral"}],
                "subject": {"reference": f"Patient/{patient[1]}"} if patient else None,
                **(
                    {"requester": {"reference": f"PractitionerRole/{contact[1]}"}}
                    if contact
                    else {}
                ),
                "authoredOn": _local(case["created_at"], default_zone),
                "note": [{"text": case.get("notes")}] if case.get("notes") else [],
            }
        )
    for a in res["individual_appointments"]:
        business = _linked(a, "business")
        zone = zones.get(business[1], default_zone) if business else default_zone
        if a.get("archived_at") or a.get("deleted_at"):
            status = "entered-in-error"
        elif a.get("cancelled_at"):
            status = "cancelled"
        elif a.get("did_not_arrive"):
            status = "noshow"
        elif a.get("patient_arrived"):
            ended = datetime.fromisoformat(a["ends_at"].replace("Z", "+00:00")) <= world.as_of
            status = "fulfilled" if ended else "arrived"
        else:
            status = "booked"
        participants = []
        for key, rtype in (
            ("patient", "Patient"),
            ("practitioner", "Practitioner"),
            ("business", "Location"),
        ):
            linked = _linked(a, key)
            if linked:
                participants.append(
                    {
                        "actor": {
                            "reference": f"{rtype}/{linked[1]}",
                            **({"display": a.get("patient_name")} if key == "patient" else {}),
                        },
                        "status": "accepted",
                    }
                )
        case, kind = _linked(a, "patient_case"), _linked(a, "appointment_type")
        out["Appointment"].append(
            {
                "resourceType": "Appointment",
                "id": a["id"],
                "meta": _meta(a),
                "status": status,
                **(
                    {"cancelationReason": {"text": a["cancellation_reason_description"]}}
                    if a.get("cancellation_reason_description")
                    else {}
                ),
                **({"appointmentType": {"coding": [{"code": kind[1]}]}} if kind else {}),
                "start": _local(a["starts_at"], zone),
                "end": _local(a["ends_at"], zone),
                "created": _local(a["created_at"], zone),
                **({"basedOn": [{"reference": f"ServiceRequest/{case[1]}"}]} if case else {}),
                "participant": participants,
                "comment": a.get("notes"),
            }
        )
    for f in res["patient_forms"]:
        patient, business = _linked(f, "patient"), _linked(f, "business")
        answer = intake_answer(f.get("content"), HEARD_QUESTION)
        items = [
            {
                "linkId": _slug(q.get("name", "")) or "q",
                "text": q.get("name"),
                **({"answer": [{"valueString": str(q["answer"])}]} if q.get("answer") else {}),
            }
            for s in (f.get("content") or {}).get("sections") or []
            for q in s.get("questions") or []
            if q.get("name") != HEARD_QUESTION
        ]
        heard = {"linkId": HEARD_LINK_ID, "text": HEARD_QUESTION}
        if answer:
            heard["answer"] = [{"valueString": answer}]
        completed = f.get("completed_at")
        qr_id = f["id"]
        out["QuestionnaireResponse"].append(
            {
                "resourceType": "QuestionnaireResponse",
                "id": qr_id,
                "meta": _meta(f),
                "status": "entered-in-error"
                if f.get("deleted_at")
                else ("completed" if completed else "in-progress"),
                "authored": completed or f["created_at"],
                "subject": {"reference": f"Patient/{patient[1]}"} if patient else None,
                "item": [*items, heard],
            }
        )
        out["Task"].append(
            {
                "resourceType": "Task",
                "id": f"form-{f['id']}",
                "meta": _meta(f),
                "status": "completed" if completed else "requested",
                "intent": "order",
                "code": {"text": f.get("name")},
                "for": {"reference": f"Patient/{patient[1]}"} if patient else None,
                "authoredOn": f["created_at"],
                **({"location": {"reference": f"Location/{business[1]}"}} if business else {}),
                "output": [
                    {
                        "type": {"text": "QuestionnaireResponse"},
                        "valueReference": {"reference": f"QuestionnaireResponse/{qr_id}"},
                    }
                ],
            }
        )
    for i in res["invoices"]:
        patient, appointment = _linked(i, "patient"), _linked(i, "appointment")
        code, closed = i.get("status"), i.get("closed_at")
        if i.get("deleted_at"):
            status = "entered-in-error"
        elif code == 30 or (closed and code != 20):
            status = "cancelled"
        else:
            status = "balanced" if code == 20 else "issued"
        out["Invoice"].append(
            {
                "resourceType": "Invoice",
                "id": i["id"],
                "meta": _meta(i),
                "status": status,
                "date": i.get("issue_date"),
                "subject": {"reference": f"Patient/{patient[1]}"} if patient else None,
                "totalGross": {"value": float(i["total_amount"]), "currency": "GBP"}
                if i.get("total_amount") is not None
                else None,
                **(
                    {
                        "extension": [
                            {
                                "url": INVOICE_APPOINTMENT_EXTENSION,
                                "valueReference": {"reference": f"Appointment/{appointment[1]}"},
                            }
                        ]
                    }
                    if appointment
                    else {}
                ),
            }
        )
    return out


_TYPES = (
    "Location",
    "Organization",
    "Practitioner",
    "PractitionerRole",
    "Patient",
    "ServiceRequest",
    "Appointment",
    "Task",
    "QuestionnaireResponse",
    "Invoice",
)


def fhir_registry_yaml(world: World) -> str:
    """The world's registry with its contact links written for a FHIR source."""
    return re.sub(
        r'cliniko_contact_id: "(\d+)"',
        r'fhir_reference: "PractitionerRole/\1"',
        registry_yaml(world),
    )


# --- the server -------------------------------------------------------------------------------


def _instant(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)


def _last_updated(resource: dict) -> datetime | None:
    value = (resource.get("meta") or {}).get("lastUpdated")
    try:
        return _instant(value) if value else None
    except ValueError:  # served as it is: a misbehaving server is what tests want
        return None


def _outcome(code: str, text: str, severity: str = "error") -> dict:
    return {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": severity, "code": code, "diagnostics": text}],
    }


class FhirServer(ThreadingHTTPServer):
    """Serves a store `{resource type: [resources]}` under `/fhir`."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self,
        store: dict[str, list[dict]],
        host: str = "127.0.0.1",
        port: int = 0,
        token: str | None = DEFAULT_TOKEN,
        client: tuple[str, str] | None = None,
        token_lifetime_s: int = 3600,
        include_references: bool = False,
        page_hook: Callable[[str, dict, int], dict] | None = None,
    ) -> None:
        super().__init__((host, port), _FhirHandler)
        self.store = {
            t: sorted(
                rs,
                key=lambda r: (
                    _last_updated(r) or datetime.min.replace(tzinfo=UTC),
                    str(r.get("id")),
                ),
            )
            for t, rs in store.items()
        }
        self.token, self.client, self.token_lifetime_s = token, client, token_lifetime_s
        self.issued: dict[str, float] = {}  # OAuth2 access token -> expiry (epoch seconds)
        self.include_references = include_references
        self.page_hook = page_hook
        self.requests: list[str] = []
        self.lock = threading.Lock()
        self.origin = f"http://{host}:{self.server_address[1]}"
        self.base_url = f"{self.origin}/fhir"

    def revoke_tokens(self) -> None:
        with self.lock:
            self.issued.clear()


class _FhirHandler(BaseHTTPRequestHandler):
    server: FhirServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _send(self, status: int, body: dict, content_type: str = "application/fhir+json") -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        if status == 401:
            self.send_header("WWW-Authenticate", "Bearer")
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        form = parse_qs(self.rfile.read(length).decode())
        if urlsplit(self.path).path != "/oauth/token" or self.server.client is None:
            self._send(404, _outcome("not-found", "no such endpoint"))
            return
        client_id = (form.get("client_id") or [""])[0]
        secret = (form.get("client_secret") or [""])[0]
        if (form.get("grant_type") or [""])[0] != "client_credentials" or (
            client_id,
            secret,
        ) != self.server.client:
            self._send(
                401,
                {"error": "invalid_client", "error_description": "unknown client"},
                "application/json",
            )
            return
        token = secrets.token_hex(16)
        with self.server.lock:
            self.server.issued[token] = time.time() + self.server.token_lifetime_s
        self._send(
            200,
            {
                "access_token": token,
                "token_type": "Bearer",
                "expires_in": self.server.token_lifetime_s,
            },
            "application/json",
        )

    def _authorised(self) -> bool:
        server = self.server
        scheme, _, token = (self.headers.get("Authorization") or "").partition(" ")
        if server.token is None and server.client is None:
            return True
        if scheme.lower() != "bearer":
            return False
        if server.token is not None and token == server.token:
            return True
        with server.lock:
            return server.issued.get(token, 0) > time.time()

    def do_GET(self) -> None:
        with self.server.lock:
            self.server.requests.append(self.path)
        if not self._authorised():
            self._send(401, _outcome("login", "Authentication required: send a valid Bearer token"))
            return
        url = urlsplit(self.path)
        parts = [p for p in url.path.split("/") if p]
        if len(parts) != 2 or parts[0] != "fhir" or parts[1] not in self.server.store:
            self._send(404, _outcome("not-supported", f"Resource type not supported: {url.path}"))
            return
        try:
            bundle = self._search(parts[1], parse_qsl(url.query, keep_blank_values=True))
        except ValueError as exc:
            self._send(400, _outcome("invalid", str(exc)))
            return
        self._send(200, bundle)

    def _search(self, rtype: str, params: list[tuple[str, str]]) -> dict:
        count, offset = 50, 0
        tests: list[Callable[[datetime], bool]] = []
        for key, value in params:
            if key == "_count":
                count = max(1, min(int(value), 1000))
            elif key == "_offset":
                offset = int(value)
            elif key == "_lastUpdated":
                op, moment = value[:2], _instant(value[2:])
                checks = {
                    "gt": lambda m, t=moment: m > t,
                    "ge": lambda m, t=moment: m >= t,
                    "lt": lambda m, t=moment: m < t,
                    "le": lambda m, t=moment: m <= t,
                }
                if op not in checks:
                    raise ValueError(f"unsupported _lastUpdated prefix in {value!r}")
                tests.append(checks[op])
            elif key not in ("_sort", "_include"):
                raise ValueError(f"unsupported search parameter {key}")
        # A resource without meta.lastUpdated matches any _lastUpdated (as served examples do).
        matches = [
            r
            for r in self.server.store[rtype]
            if all(t(lu) for t in tests for lu in [_last_updated(r)] if lu is not None)
        ]
        page = matches[offset : offset + count]
        base = f"{self.server.base_url}/{rtype}"
        kept = [(k, v) for k, v in params if k != "_offset"]
        links = [{"relation": "self", "url": f"{base}?{urlencode([*kept, ('_offset', offset)])}"}]
        if offset + count < len(matches):
            links.append(
                {
                    "relation": "next",
                    "url": f"{base}?{urlencode([*kept, ('_offset', offset + count)])}",
                }
            )
        entries = [
            {"fullUrl": f"{base}/{r.get('id')}", "resource": r, "search": {"mode": "match"}}
            for r in page
        ]
        if self.server.include_references or any(k == "_include" for k, _ in params):
            entries += self._includes(page)
        bundle = {
            "resourceType": "Bundle",
            "type": "searchset",
            "total": len(matches),
            "link": links,
            "entry": entries,
        }
        if self.server.page_hook is not None:
            bundle = self.server.page_hook(rtype, bundle, offset)
        return bundle

    def _includes(self, page: list[dict]) -> list[dict]:
        refs = set()
        for r in page:
            for ref in re.findall(r'"reference": "([A-Za-z]+/[A-Za-z0-9.-]+)"', json.dumps(r)):
                refs.add(ref)
        out = []
        for ref in sorted(refs):
            rtype, rid = ref.split("/", 1)
            for r in self.server.store.get(rtype, []):
                if r.get("id") == rid:
                    out.append(
                        {
                            "fullUrl": f"{self.server.base_url}/{ref}",
                            "resource": r,
                            "search": {"mode": "include"},
                        }
                    )
        return out


@contextlib.contextmanager
def serving_fhir(store: dict[str, list[dict]], **options: object) -> Iterator[FhirServer]:
    """Serve a FHIR store in a thread for the length of the block."""
    server = FhirServer(store, **options)  # type: ignore[arg-type]
    with in_thread(server, "refnet-fhir-sandbox"):
        yield server
