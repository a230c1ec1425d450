"""The sandbox: a deterministic synthetic world, served over real HTTP like Cliniko's API."""

from __future__ import annotations

import collections
import re
import signal
import statistics
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import requests
import yaml
from openapi_schema_validator import OAS30Validator, oas30_format_checker

from flows.registry import load_registry
from flows.sandbox.catalogue import CLINICS, PARTNER_KINDS, SUBKINDS
from flows.sandbox.server import FILTERS, HIDDEN_UNLESS_ASKED, running_sandbox
from flows.sandbox.world import (
    BASE_PLACEHOLDER,
    HEARD_QUESTION,
    RESOURCES,
    World,
    build_world,
    registry_yaml,
)

SPEC = Path(__file__).resolve().parents[2] / "shared/data/cliniko/openapi.yaml"
KEY = "test-key-uk1"
AGENT = "refnet tests (tests@refnet.example)"
SCHEMAS = {
    "businesses": "Business",
    "practitioners": "Practitioner",
    "appointment_types": "AppointmentType",
    "contacts": "Contact",
    "referral_source_types": "ReferralSourceType",
    "referral_sources": "ReferralSource",
    "patients": "Patient",
    "patient_cases": "PatientCase",
    "individual_appointments": "IndividualAppointment",
    "patient_forms": "PatientForm",
    "invoices": "Invoice",
    "group_appointments": "GroupAppointment",
    "attendees": "Attendee",
    "communications": "Communication",
}
_TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
_UK_POSTCODE = re.compile(r"^[A-Z]{1,2}\d[A-Z\d]? \d[ABD-HJLNP-UW-Z]{2}$")


# --- fixtures and helpers ------------------------------------------------------------------


@pytest.fixture(scope="module")
def worlds() -> dict[float, World]:
    return {0.1: build_world(scale=0.1), 1.0: build_world(scale=1.0)}


@pytest.fixture(scope="module")
def world(worlds) -> World:
    return worlds[0.1]


@pytest.fixture(scope="module")
def api(world):
    """(base URL, authenticated session) of a sandbox without a rate limit."""
    with running_sandbox(world, api_key=KEY, requests_per_minute=0) as base_url:
        session = requests.Session()
        session.auth = (KEY, "")
        session.headers["User-Agent"] = AGENT
        yield base_url, session
        session.close()


def ts(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def link_id(record: dict, name: str) -> str:
    return record[name]["links"]["self"].rsplit("/", 1)[1]


def visible(record: dict) -> bool:
    return not any(record.get(f) for f in ("archived_at", "cancelled_at", "deleted_at"))


def fetch_all(session: requests.Session, url: str, params: list | None = None) -> tuple[list, int]:
    records, total, seen_urls = [], None, set()
    while url:
        assert url not in seen_urls, "links.next repeated a page"
        seen_urls.add(url)
        resp = session.get(url, params=params)
        assert resp.status_code == 200, resp.text
        body, params = resp.json(), None
        name = next(k for k in body if k not in ("total_entries", "links"))
        records += body[name]
        total = body["total_entries"] if total is None else total
        url = body["links"].get("next")
    return records, total


def partner_stats(world: World) -> dict[str, dict]:
    """Per true partner: referrals, booked share, days to book, DNA rate, recent volume —
    computed from the records with the dbt models' definitions."""
    appts: dict[str, list[dict]] = collections.defaultdict(list)
    for appt in world.resources["individual_appointments"]:
        if not appt["archived_at"]:
            appts[link_id(appt, "patient_case")].append(appt)
    invoiced = {
        link_id(i, "appointment") for i in world.resources["invoices"] if not i["deleted_at"]
    }
    stats: dict[str, dict] = {}
    for ref in world.referrals:
        s = stats.setdefault(
            ref.partner_id or "unknown",
            {"n": 0, "booked": 0, "days": [], "attended": 0, "dna": 0, "received": []},
        )
        received = ts(ref.received_at)
        s["n"] += 1
        s["received"].append(received)
        case_appts = appts.get(ref.case_id, [])
        if case_appts:
            s["booked"] += 1
            first_booked = min(ts(a["created_at"]) for a in case_appts)
            s["days"].append((first_booked - received).total_seconds() / 86400)
        for a in case_appts:
            if a["cancelled_at"]:
                continue
            if a["did_not_arrive"]:
                s["dna"] += 1
            elif a["patient_arrived"] or (
                a["id"] in invoiced and ts(a["starts_at"]) <= world.as_of
            ):
                s["attended"] += 1
    return stats


def nullable_enums_admit_null(node):
    """The spec marks many enums `nullable: true` without listing null, and Cliniko returns
    null for them (its own examples do); read them as nullable. E-mail patterns are written
    upper-case only and meant case-insensitively."""
    if isinstance(node, list):
        return [nullable_enums_admit_null(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: nullable_enums_admit_null(v) for k, v in node.items()}
    if out.get("nullable") and isinstance(out.get("enum"), list) and None not in out["enum"]:
        out["enum"] = [*out["enum"], None]
    if isinstance(out.get("pattern"), str) and "@" in out["pattern"]:
        out["pattern"] = "(?i)" + out["pattern"]
    return out


@pytest.fixture(scope="module")
def spec() -> dict:
    if not SPEC.is_file():
        pytest.skip(f"Cliniko OpenAPI description not found at {SPEC}")
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # the C loader is 5x faster
    raw = yaml.load(SPEC.read_text(encoding="utf-8"), Loader=loader)
    return {"paths": raw["paths"], "components": nullable_enums_admit_null(raw["components"])}


def validator(spec: dict, schema: dict) -> OAS30Validator:
    return OAS30Validator(
        {**schema, "components": spec["components"]}, format_checker=oas30_format_checker
    )


# --- the world ------------------------------------------------------------------------------


def test_same_seed_and_scale_give_identical_bytes(world):
    assert build_world(seed=7, scale=0.1).to_json() == world.to_json()


def test_the_full_size_world_is_deterministic_too(worlds):
    # Equal records and registry give equal canonical JSON; comparing them skips
    # serialising 17 MB twice.
    again = build_world(seed=7, scale=1.0)
    assert again.resources == worlds[1.0].resources
    assert registry_yaml(again) == registry_yaml(worlds[1.0])


def test_another_seed_gives_another_world(world):
    assert build_world(seed=8, scale=0.1).to_json() != world.to_json()


def test_sizes_follow_scale(worlds):
    big, small = worlds[1.0], worlds[0.1]
    assert 1400 <= len(big.referrals) <= 1600
    assert len(big.resources["patient_cases"]) == len(big.referrals)
    assert len(small.referrals) < len(big.referrals) / 5
    assert all(small.counts()[r] > 0 for r in RESOURCES)


def test_partners_cover_every_kind_and_behaviour(worlds):
    for world in worlds.values():
        registered = [p for p in world.partners if p.registered]
        assert len(registered) >= 30
        assert {p.kind for p in registered} == set(PARTNER_KINDS)
        for kind, subkinds in SUBKINDS.items():
            assert {p.spec.subkind for p in registered if p.kind == kind} == set(subkinds)
        behaviours = collections.Counter(p.behaviour for p in registered)
        assert behaviours["strong_converter"] >= 2 and behaviours["slow_booker"] >= 1
        assert behaviours["high_dna"] >= 1
        assert behaviours["going_quiet"] == 1 and behaviours["new"] == 1
        assert all(p.referrals > 0 for p in world.partners), "every partner refers someone"


def test_registry_is_valid_and_leaves_some_contacts_out(world, tmp_path):
    path = tmp_path / "partners.yml"
    path.write_text(registry_yaml(world))
    registry = load_registry(path)  # the pipeline's own, strict parser
    registered = {p.id for p in world.partners if p.registered}
    assert {p.id for p in registry.partners} == registered
    linked = {
        link.cliniko_contact_id
        for p in registry.partners
        for link in p.pms
        if link.cliniko_contact_id
    }
    contact_ids = {c["id"] for c in world.resources["contacts"]}
    assert linked <= contact_ids
    referring = {link_id(c, "contact") for c in world.resources["patient_cases"] if "contact" in c}
    assert 2 <= len(referring - linked) <= 3, "a few referring contacts are unregistered"
    assert all(link.source == "sandbox" for p in registry.partners for link in p.pms)
    types = {t["name"]: t for t in world.resources["referral_source_types"]}
    for link in (lk for p in registry.partners for lk in p.pms if lk.referral_source_type):
        assert link.referral_source_type in types
        if link.subcategory:
            assert link.subcategory in types[link.referral_source_type]["subcategories"]


@pytest.mark.parametrize("scale", [0.1, 1.0])
def test_partner_behaviours_show_in_the_records(worlds, scale):
    world = worlds[scale]
    stats = partner_stats(world)
    by_behaviour = collections.defaultdict(list)
    for partner in world.partners:
        by_behaviour[partner.behaviour].append(partner.id)
    ordinary_booked = sum(stats[p]["booked"] for p in by_behaviour["ordinary"]) / sum(
        stats[p]["n"] for p in by_behaviour["ordinary"]
    )
    for pid in by_behaviour["strong_converter"]:
        assert stats[pid]["booked"] / stats[pid]["n"] > ordinary_booked, pid
    for pid in by_behaviour["slow_booker"]:
        assert statistics.median(stats[pid]["days"]) >= 14, pid
    for pid in by_behaviour["high_dna"]:
        s = stats[pid]
        assert s["dna"] / (s["dna"] + s["attended"]) >= 0.30, pid
    recent = world.as_of - timedelta(days=120)
    (quiet,) = by_behaviour["going_quiet"]
    before = [r for r in stats[quiet]["received"] if r < recent]
    after = [r for r in stats[quiet]["received"] if r >= recent]
    usual_per_120_days = len(before) / ((recent - ts(f"{world.start_date}T00:00:00Z")).days / 120)
    assert len(before) >= 5 and len(after) <= 0.2 * usual_per_120_days
    (new,) = by_behaviour["new"]
    assert min(stats[new]["received"]) >= world.as_of - timedelta(days=62)


def test_records_follow_cliniko_conventions(world):
    for name, records in world.resources.items():
        for record in records:
            for key, value in record.items():
                if key.endswith("_at") and value is not None:
                    assert _TIMESTAMP.match(value), (name, key, value)
            assert record["updated_at"] >= record["created_at"]
            assert ts(record["updated_at"]) <= world.as_of
            assert record["links"]["self"].startswith(f"{BASE_PLACEHOLDER}/")
            if name == "referral_sources":
                assert "id" not in record
                assert re.search(r"/patients/\d{18}/referral_source$", record["links"]["self"])
            else:
                assert re.fullmatch(r"\d{18}", record["id"])
                assert record["links"]["self"].endswith(f"/{name}/{record['id']}")


def test_referrals_bookings_and_invoices_hang_together(worlds):
    world = worlds[1.0]
    cases = {c["id"]: c for c in world.resources["patient_cases"]}
    appts = world.resources["individual_appointments"]
    by_case = collections.defaultdict(list)
    for appt in appts:
        assert link_id(appt, "patient_case") in cases
        assert ts(appt["created_at"]) < ts(appt["starts_at"]) < ts(appt["ends_at"])
        assert ts(cases[link_id(appt, "patient_case")]["created_at"]) <= ts(appt["created_at"])
        if appt["cancelled_at"]:
            assert appt["cancellation_reason"] in (10, 20, 30, 40, 50, 60)
            assert not appt["patient_arrived"] and not appt["did_not_arrive"]
        by_case[link_id(appt, "patient_case")].append(appt)
    assert any(ts(a["starts_at"]) > world.as_of for a in appts), "future appointments exist"
    assert sum(bool(a["archived_at"]) for a in appts) >= 5
    rebooked = [
        c
        for c, aa in by_case.items()
        if any(a["cancelled_at"] for a in aa)
        and any(not a["cancelled_at"] and not a["archived_at"] for a in aa)
    ]
    assert len(rebooked) >= 20, "cancellations followed by rebookings"
    explicit = [c for c in cases.values() if c["referral"] and "contact" in c]
    assert len(explicit) > 100
    by_id = {a["id"]: a for a in appts}
    for invoice in world.resources["invoices"]:
        appt = by_id[link_id(invoice, "appointment")]
        assert not appt["cancelled_at"] and not appt["did_not_arrive"]
        assert re.fullmatch(r"\d+\.\d\d", invoice["total_amount"])
        assert invoice["status_description"] in ("Open", "Paid", "Closed")


def test_appointments_are_in_clinic_hours_and_some_on_clock_changes(worlds):
    world = worlds[1.0]
    businesses = {b["id"]: b for b in world.resources["businesses"]}
    hours = {c.business_name: {d: (o, e) for d, o, e in c.hours} for c in CLINICS}
    on_change_days = collections.Counter()
    for appt in world.resources["individual_appointments"]:
        business = businesses[link_id(appt, "business")]
        tz = ZoneInfo(business["time_zone_identifier"])
        start, end = ts(appt["starts_at"]).astimezone(tz), ts(appt["ends_at"]).astimezone(tz)
        opens, closes = hours[business["business_name"]][start.weekday()]
        assert opens <= start.hour * 60 + start.minute and end.hour * 60 + end.minute <= closes
        day = start.date()
        midnight = datetime(day.year, day.month, day.day, tzinfo=tz)
        if midnight.utcoffset() != (midnight + timedelta(days=1)).utcoffset():
            on_change_days[(business["business_name"], day)] += 1
    # 2025-10-26, 2026-03-29, 2026-10-25 in London; 2025-10-05, 2026-04-05, 2026-10-04 Sydney.
    assert len(on_change_days) >= 6, on_change_days


def test_intake_forms_ask_how_patients_heard(worlds):
    world = worlds[1.0]
    identities = {pid: ident for pid, ident in world.identities}
    answers = []
    for form in world.resources["patient_forms"]:
        questions = {q["name"]: q for s in form["content"]["sections"] for q in s["questions"]}
        assert HEARD_QUESTION in questions and form["name"] == "New Patient Intake"
        if form["completed_at"]:
            ident = identities[link_id(form, "patient")]
            assert questions["Full name"]["answer"] == ident.full_name
            assert questions["Date of birth"]["answer"] == ident.date_of_birth
            answers.append(questions[HEARD_QUESTION].get("answer"))
        else:
            assert "answer" not in questions[HEARD_QUESTION]
    texts = {a for a in answers if a}
    canonical = {p.spec.name.lower() for p in world.partners}
    assert len(texts) > 100
    assert {"googel", "kirkstal surgery"} & {t.lower() for t in texts}
    assert sum(t.lower() not in canonical for t in texts) > 50, "variants, typos, vague answers"


def test_patient_identities_are_invented_and_distinct_from_professional_text(world):
    idents = world.patient_identities()
    assert len(idents) == len(world.resources["patients"])
    assert all(i["email"].endswith("@example.org") for i in idents)
    uk = [i for pid, i in world.identities if i.country_code == "GB"]
    assert uk and all(_UK_POSTCODE.match(i.post_code) for i in uk)
    # Text the pipeline is allowed to publish must never contain a patient value (the
    # end-to-end leakage test greps every output for them).
    public = [
        yaml.safe_dump(world.resources[r], allow_unicode=True)
        for r in (
            "businesses",
            "practitioners",
            "appointment_types",
            "contacts",
            "referral_source_types",
        )
    ]
    public.append(registry_yaml(world))
    public += [r.heard_about_answer or "" for r in world.referrals]
    blob = "\n".join(public)
    needles = {v for i in idents for v in i.values() if v and len(v) >= 5}
    assert not [n for n in needles if n in blob]


# --- the HTTP API ---------------------------------------------------------------------------


def test_paging_follows_links_to_total_entries(api, world):
    base_url, session = api
    params = [
        ("per_page", "37"),
        ("sort", "updated_at:asc"),
        ("q[]", "cancelled_at:*"),
        ("q[]", "archived_at:*"),
    ]
    records, total = fetch_all(session, f"{base_url}/individual_appointments", params)
    ids = [r["id"] for r in records]
    assert len(ids) == len(set(ids)) == total
    assert total == sum(not a["deleted_at"] for a in world.resources["individual_appointments"])
    keys = [(r["updated_at"], r["id"]) for r in records]
    assert keys == sorted(keys)
    body = session.get(f"{base_url}/individual_appointments", params=params).json()
    assert body["links"]["next"].count("q%5B%5D=") == 2 and "page=2" in body["links"]["next"]
    assert "previous" not in body["links"]
    last_page = -(-total // 37)
    tail = session.get(
        f"{base_url}/individual_appointments", params=[*params, ("page", str(last_page))]
    ).json()
    assert "next" not in tail["links"] and f"page={last_page - 1}" in tail["links"]["previous"]


def test_per_page_defaults_to_50_and_stops_at_100(api):
    base_url, session = api
    body = session.get(f"{base_url}/individual_appointments").json()
    assert len(body["individual_appointments"]) == 50
    assert (
        len(
            session.get(f"{base_url}/individual_appointments?per_page=100").json()[
                "individual_appointments"
            ]
        )
        == 100
    )
    for bad in ("101", "0", "ten"):
        resp = session.get(f"{base_url}/patients", params={"per_page": bad})
        assert resp.status_code == 400 and "per_page" in resp.json()["message"]


def test_api_key_is_required_as_basic_user_name(api):
    base_url, _ = api
    headers = {"User-Agent": AGENT}
    for auth in (None, ("wrong-key", ""), (KEY, "a-password")):
        resp = requests.get(f"{base_url}/patients", auth=auth, headers=headers)
        assert resp.status_code == 401
        assert resp.headers["Content-Type"].startswith("application/json")
        assert resp.json()["message"]
    assert requests.get(f"{base_url}/patients", auth=(KEY, ""), headers=headers).ok


def test_user_agent_must_carry_a_contact_email(api):
    base_url, _ = api
    for agent in ("python-requests", "refnet", ""):
        resp = requests.get(f"{base_url}/patients", auth=(KEY, ""), headers={"User-Agent": agent})
        assert resp.status_code == 400 and "User-Agent" in resp.json()["message"]


def test_cancelled_and_archived_are_hidden_unless_asked(api, world):
    base_url, session = api
    url = f"{base_url}/individual_appointments"
    appts = world.resources["individual_appointments"]

    def total(*filters: str) -> int:
        resp = session.get(url, params=[("per_page", "1"), *(("q[]", f) for f in filters)])
        return resp.json()["total_entries"]

    assert total() == sum(visible(a) for a in appts)
    assert total("cancelled_at:*") == sum(not a["archived_at"] for a in appts)
    assert total("cancelled_at:*", "archived_at:*") == len(appts)
    assert total("cancelled_at:?") == sum(
        bool(a["cancelled_at"]) and not a["archived_at"] for a in appts
    )
    archived = next(p for p in world.resources["patients"] if p["archived_at"])
    assert session.get(f"{base_url}/patients/{archived['id']}").status_code == 404
    resp = session.get(f"{base_url}/patients/{archived['id']}", params={"q[]": "archived_at:*"})
    assert resp.status_code == 200 and resp.json()["id"] == archived["id"]
    patients, _ = fetch_all(session, f"{base_url}/patients?per_page=100")
    assert archived["id"] not in {p["id"] for p in patients}


@pytest.mark.parametrize("op", [">", ">=", "<", "<="])
def test_updated_at_filter(api, world, op):
    base_url, session = api
    cases = world.resources["patient_cases"]
    pivot = sorted(c["updated_at"] for c in cases)[len(cases) // 2]
    compare = {">": str.__gt__, ">=": str.__ge__, "<": str.__lt__, "<=": str.__le__}[op]
    expected = {c["id"] for c in cases if compare(c["updated_at"], pivot)}
    params = [("per_page", "100"), ("q[]", f"updated_at:{op}{pivot}"), ("q[]", "archived_at:*")]
    records, total = fetch_all(session, f"{base_url}/patient_cases", params)
    assert {r["id"] for r in records} == expected and total == len(expected)


def test_created_at_range_and_descending_sort(api, world):
    base_url, session = api
    lo, hi = "2026-01-01T00:00:00Z", "2026-03-01T00:00:00Z"
    params = [
        ("per_page", "100"),
        ("sort", "created_at:desc"),
        ("q[]", f"created_at:>={lo}"),
        ("q[]", f"created_at:<{hi}"),
    ]
    records, _ = fetch_all(session, f"{base_url}/patients", params)
    expected = [
        p
        for p in world.resources["patients"]
        if lo <= p["created_at"] < hi and not p["archived_at"]
    ]
    assert len(records) == len(expected) > 0
    assert [r["created_at"] for r in records] == sorted(
        (p["created_at"] for p in expected), reverse=True
    )


def test_bad_filters_and_sorts_are_rejected(api):
    base_url, session = api
    for params in (
        {"q[]": "colour:=red"},
        {"q[]": "updated_at:>yesterday"},
        {"q[]": "updated_at"},
        {"sort": "nonsense"},
        {"sort": "id:sideways"},
    ):
        resp = session.get(f"{base_url}/individual_appointments", params=params)
        assert resp.status_code == 400, params
        assert resp.json()["message"]


def test_unknown_paths_and_ids_are_404(api, world):
    base_url, session = api
    patient_id = world.resources["patients"][0]["id"]
    for path in (
        "/nothing",
        "/patients/123456789012345678",
        "/referral_sources/1",
        "/patients/123/referral_source",
        f"/patients/{patient_id}/nothing",
    ):
        resp = session.get(base_url + path)
        assert resp.status_code == 404 and resp.json()["message"], path
    assert session.get(base_url.removesuffix("/v1") + "/patients").status_code == 404


def test_referral_source_is_served_under_its_patient(api, world):
    base_url, session = api
    source = world.resources["referral_sources"][0]
    path = source["links"]["self"].removeprefix(BASE_PLACEHOLDER)
    resp = session.get(base_url + path)
    assert resp.status_code == 200
    assert resp.json()["links"]["self"] == base_url + path


def test_rate_limit_answers_429_with_reset(world):
    with running_sandbox(world, api_key=KEY, requests_per_minute=3) as base_url:
        session = requests.Session()
        session.auth, session.headers["User-Agent"] = (KEY, ""), AGENT
        remaining = [
            session.get(f"{base_url}/businesses").headers["X-RateLimit-Remaining"] for _ in range(3)
        ]
        assert remaining == ["2", "1", "0"]
        before = time.time()
        resp = session.get(f"{base_url}/businesses")
        assert resp.status_code == 429 and resp.json()["message"]
        reset = int(resp.headers["X-RateLimit-Reset"])
        assert before - 1 <= reset <= before + 61
        assert resp.headers["X-RateLimit-Limit"] == "3"
        assert resp.headers["X-RateLimit-Remaining"] == "0"


@pytest.mark.parametrize("resource", RESOURCES)
def test_responses_match_the_openapi_description(api, spec, resource):
    base_url, session = api
    schema_name = SCHEMAS[resource]
    list_schema = spec["paths"][f"/{resource}"]["get"]["responses"]["200"]["content"][
        "application/json"
    ]["schema"]
    show_all = [f"{f}:*" for f in HIDDEN_UNLESS_ASKED if f in FILTERS[resource]]
    params = [("per_page", "100"), *(("q[]", f) for f in show_all)]
    resp = session.get(f"{base_url}/{resource}", params=params)
    assert resp.status_code == 200, resp.text
    assert resp.headers["Content-Type"].startswith("application/json")
    body = resp.json()
    errors = list(validator(spec, list_schema).iter_errors(body))
    assert not errors, errors[:3]
    schemas = spec["components"]["schemas"]
    variants = [
        schemas[v["$ref"].rsplit("/", 1)[1]] for v in schemas[schema_name].get("anyOf", [])
    ] or [schemas[schema_name]]
    declared = {k for v in variants for k in v["properties"]}  # anyOf: any variant's fields
    undeclared = {k for r in body[resource] for k in r} - declared
    assert not undeclared, f"fields the spec does not know: {undeclared}"
    single_path = (
        "/patients/{patient_id}/referral_source"
        if resource == "referral_sources"
        else f"/{resource}/{{id}}"
    )
    single_schema = spec["paths"][single_path]["get"]["responses"]["200"]["content"][
        "application/json"
    ]["schema"]
    one = session.get(body[resource][0]["links"]["self"], params=params[1:])
    assert one.status_code == 200
    assert not list(validator(spec, single_schema).iter_errors(one.json()))


def test_cli_serves_writes_the_registry_and_stops_on_sigterm(tmp_path):
    registry = tmp_path / "partners.yml"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "flows.sandbox",
            "--port",
            "0",
            "--scale",
            "0.05",
            "--rate-limit",
            "0",
            "--api-key",
            KEY,
            "--write-registry",
            str(registry),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[1],
    )
    try:
        first = proc.stdout.readline()
        base_url = re.search(r"(http://\S+/v1)", first).group(1)
        resp = requests.get(
            f"{base_url}/businesses", auth=(KEY, ""), headers={"User-Agent": AGENT}, timeout=10
        )
        assert resp.status_code == 200 and resp.json()["total_entries"] == 2
        assert len(load_registry(registry).partners) >= 30
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=10)
    assert proc.returncode == 0, err
    assert "stopped" in out
