"""The FHIR R4 source: the official HL7 examples served as searchset Bundles land and flow into
the marts (dbt for real); paging, incremental reads, auth and errors against a local server."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from flows.config import FhirSource
from flows.fhir import STREAMS_BY_TYPE, extract_source, make_client, parse_bundle
from flows.http import SourceError
from flows.registry import land_registry
from flows.sandbox.fhir import serving_fhir
from flows.transform import build

FIXTURES = Path(__file__).parent / "fixtures" / "fhir"
SECRET = b"test-secret"
TOKEN = "hl7-test-token"
NOW = datetime(2026, 12, 1, tzinfo=UTC)


def hl7_store() -> dict[str, list[dict]]:
    """Every resource fixture by type (the Bundles and the Questionnaire are not served)."""
    store: dict[str, list[dict]] = {t: [] for t in STREAMS_BY_TYPE}
    for path in sorted(FIXTURES.glob("*.json")):
        resource = json.loads(path.read_text())
        if resource["resourceType"] in store:
            store[resource["resourceType"]].append(resource)
    return store


def source(base_url: str, **extra: object) -> FhirSource:
    return FhirSource.model_validate(
        {
            "name": "hl7",
            "kind": "fhir",
            "base_url": base_url,
            "auth": {"kind": "bearer", "token_env": "HL7_FHIR_TOKEN"},
            "contact_email": "tests@refnet.example",
            "page_size": 2,  # every type with more than two resources is paged
            **extra,
        }
    )


@pytest.fixture(autouse=True)
def token_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HL7_FHIR_TOKEN", TOKEN)
    monkeypatch.setenv("HL7_CLIENT_SECRET", "s3cret")


def landed(home: Path, rtype: str) -> list[dict]:
    tables = [pq.read_table(p) for p in sorted((home / "raw/fhir/hl7" / rtype).glob("*.parquet"))]
    return [row for t in tables for row in t.to_pylist()]


# --- the official Bundles --------------------------------------------------------------------


def test_official_searchset_bundle_counts_only_matches() -> None:
    body = json.loads((FIXTURES / "bundle-example.json").read_text())
    page = parse_bundle(body, "MedicationRequest")
    assert [r["id"] for _, r in page.matches] == ["3123"]  # the Medication is an include
    assert page.includes == 1
    assert page.next_url and "page=2" in page.next_url
    assert page.total == 3  # reported, never used to decide anything


def test_official_warning_bundle_surfaces_its_operation_outcome() -> None:
    body = json.loads((FIXTURES / "bundle-search-warning.json").read_text())
    page = parse_bundle(body, "Observation")
    assert page.matches == [] and page.next_url is None
    assert page.outcomes == ["warning not-found: There is no matching patient for MRN 123456"]


# --- the HL7 examples end to end (dbt for real) ------------------------------------------------


@pytest.fixture(scope="module")
def hl7_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict, list[str]]:
    home = tmp_path_factory.mktemp("hl7")
    mp = pytest.MonkeyPatch()
    mp.setenv("HL7_FHIR_TOKEN", TOKEN)
    try:
        with serving_fhir(hl7_store(), token=TOKEN, include_references=True) as server:
            stats = extract_source(source(server.base_url), home, "run1", SECRET, now=NOW)
            requests = list(server.requests)
    finally:
        mp.undo()
    land_registry(None, home / "raw")
    build(raw_dir=home / "raw", warehouse=home / "warehouse.duckdb", vars={"as_of": "2017-12-31"})
    return home, {s.stream: s for s in stats}, requests


def query(home: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    try:
        con.execute("set TimeZone = 'UTC'")
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_include_entries_are_not_records_of_the_searched_type(hl7_run) -> None:
    home, stats, requests = hl7_run
    rows = landed(home, "ServiceRequest")
    assert sorted(r["id"] for r in rows) == [
        "ambulation",
        "example",
        "physical-therapy",
        "physiotherapy",
    ]
    # The server added the referenced Patients / Practitioners as include entries.
    assert stats["ServiceRequest"].includes > 0
    assert stats["ServiceRequest"].records == 4
    assert all(json.loads(r["record"])["resourceType"] == "ServiceRequest" for r in rows)
    # 4 requests at _count=2: paged by the next link (pages of 2, 2).
    assert stats["ServiceRequest"].pages == 2
    assert sum("/fhir/ServiceRequest" in r for r in requests) == 2


def test_physical_therapy_request_is_a_referral_from_its_requester(hl7_run) -> None:
    home, _, _ = hl7_run
    [(partner, method, received, kind, source_name)] = query(
        home,
        "select partner_name, attribution_method, received_at, source_kind, source_name "
        "from referrals where referral_id = 'fhir:hl7:ServiceRequest/physical-therapy'",
    )
    assert (partner, method, kind, source_name) == (
        "Ollie Ortho, MD",
        "referral_record",
        "fhir",
        "hl7",
    )
    assert received == datetime(2016, 9, 20, tzinfo=UTC)
    # A requester given by reference is the referral record too.
    [(physio_partner,)] = query(
        home,
        "select partner_name from referrals "
        "where referral_id = 'fhir:hl7:ServiceRequest/physiotherapy'",
    )
    assert physio_partner == "Dr Adam Careful"


def test_appointment_based_on_the_request_is_linked_to_it(hl7_run) -> None:
    home, _, _ = hl7_run
    [(referral, status, starts, source_name)] = query(
        home,
        "select referral_id, status, starts_at, source_name from appointments "
        "where appointment_id = 'fhir:hl7:Appointment/pt-assessment'",
    )
    assert referral == "fhir:hl7:ServiceRequest/physical-therapy"
    assert status == "fulfilled" and source_name == "hl7"
    assert starts == datetime(2016, 9, 27, 13, 0, tzinfo=UTC)  # 09:00-04:00
    [(booked, attended)] = query(
        home,
        "select is_booked, is_attended from referrals "
        "where referral_id = 'fhir:hl7:ServiceRequest/physical-therapy'",
    )
    assert booked and attended
    # The official example's basedOn names a request the server does not have: no link, no
    # invented referral; the proposed appointment (a request, no start) is not an appointment.
    ids = {r[0] for r in query(home, "select appointment_id from appointments")}
    assert "fhir:hl7:Appointment/example" in ids
    assert "fhir:hl7:Appointment/examplereq" not in ids
    assert query(
        home,
        "select referral_id from appointments "
        "where appointment_id = 'fhir:hl7:Appointment/example'",
    ) == [(None,)]


def test_questionnaire_responses_without_questionnaire_are_kept(hl7_run) -> None:
    home, _, _ = hl7_run
    rows = dict(
        (r[0], r[1:])
        for r in query(
            home,
            "select patient_form_id, completed_at, questionnaire from conformed_intakes "
            "join stg_fhir__questionnaire_responses "
            "on patient_form_id = questionnaire_response_id",
        )
    )
    assert set(rows) == {
        "QuestionnaireResponse/f201",
        "QuestionnaireResponse/3141",
        "QuestionnaireResponse/gcs",
    }
    # Offsets honoured: 00:00+01:00 and 14:15-05:00.
    assert rows["QuestionnaireResponse/f201"] == (datetime(2013, 6, 17, 23, 0, tzinfo=UTC), None)
    assert rows["QuestionnaireResponse/3141"] == (datetime(2013, 2, 19, 19, 15, tzinfo=UTC), None)
    assert rows["QuestionnaireResponse/gcs"][1] == "Questionnaire/gcs"


def test_no_patient_identity_is_landed(hl7_run) -> None:
    home, _, _ = hl7_run
    text = "\n".join(
        str(pq.read_table(p).to_pylist()) for p in (home / "raw/fhir").rglob("*.parquet")
    )
    for value in ("Chalmers", "Donald", "张无忌", "Windsor", "(03) 5555 6473", "1974-12-25"):
        assert value not in text
    patients = {r["id"]: json.loads(r["record"]) for r in landed(home, "Patient")}
    assert patients["example"]["birth_year"] == 1974
    assert len(patients["example"]["patient_key"]) == 32


# --- paging, incremental, errors (no dbt) ------------------------------------------------------


def people(n: int, offset: str = "+00:00") -> list[dict]:
    return [
        {
            "resourceType": "Patient",
            "id": f"p{i:03d}",
            "meta": {"lastUpdated": f"2026-01-{1 + i % 28:02d}T10:00:00{offset}"},
            "name": [{"family": f"Family{i}"}],
        }
        for i in range(n)
    ]


def run_patients(home: Path, server, **extra) -> object:
    src = source(server.base_url, resources=["Patient"], **extra)
    [stats] = extract_source(src, home, "run1", SECRET, now=NOW)
    return stats


def test_paging_stops_on_an_empty_page_even_with_a_next_link(tmp_path: Path) -> None:
    def hook(rtype: str, bundle: dict, offset: int) -> dict:
        if offset >= 4:  # a server that keeps linking on after the data ran out
            bundle["entry"] = []
            bundle["link"].append({"relation": "next", "url": bundle["link"][0]["url"] + "&x=1"})
        bundle["total"] = 1  # and a `total` that is wrong: never trusted
        return bundle

    with serving_fhir({"Patient": people(9)}, token=TOKEN, page_hook=hook) as server:
        stats = run_patients(tmp_path, server)
    assert stats.records == 4 and stats.pages == 3


def test_paging_refuses_a_repeated_next_link(tmp_path: Path) -> None:
    def hook(rtype: str, bundle: dict, offset: int) -> dict:
        bundle["link"] = [
            *bundle["link"][:1],
            {"relation": "next", "url": bundle["link"][0]["url"]},
        ]
        return bundle

    with serving_fhir({"Patient": people(5)}, token=TOKEN, page_hook=hook) as server:
        with pytest.raises(SourceError, match="already visited .* refusing to loop"):
            run_patients(tmp_path, server)
    # Nothing committed: the next run starts from the same place.
    assert not (tmp_path / "state").exists()


def test_a_next_link_to_another_host_is_refused_before_credentials_go_there(
    tmp_path: Path,
) -> None:
    def hook(rtype: str, bundle: dict, offset: int) -> dict:
        bundle["link"] = [
            *bundle["link"][:1],
            {"relation": "next", "url": "http://127.0.0.2:9/fhir/Patient?page=2"},
        ]
        return bundle

    with serving_fhir({"Patient": people(5)}, token=TOKEN, page_hook=hook) as server:
        with pytest.raises(SourceError, match="refusing to send the credentials there"):
            run_patients(tmp_path, server)
        assert len(server.requests) == 1
    assert not (tmp_path / "state").exists()


def test_a_resource_dated_in_the_future_does_not_freeze_the_cursor(tmp_path: Path) -> None:
    future = people(4)[3]
    future["meta"]["lastUpdated"] = "2099-01-01T00:00:00Z"

    def hook(rtype: str, bundle: dict, offset: int) -> dict:
        # A server that ignores `_lastUpdated=le` and has a record from a wrong clock.
        if offset == 0:
            bundle["entry"].append({"resource": future, "search": {"mode": "match"}})
        return bundle

    with serving_fhir({"Patient": people(2)}, token=TOKEN, page_hook=hook) as server:
        stats = run_patients(tmp_path, server)
    assert stats.records == 3  # landed, but the cursor stops at this run's upper bound
    assert stats.cursor_to == "2026-11-30T23:59:30Z"


def test_paging_stops_at_the_max_pages_guard(tmp_path: Path) -> None:
    with serving_fhir({"Patient": people(9)}, token=TOKEN) as server:
        with pytest.raises(SourceError, match="more than 3 pages"):
            run_patients(tmp_path, server, max_pages=3)


def test_incremental_reads_after_the_cursor_with_count(tmp_path: Path) -> None:
    store = {"Patient": people(5, offset="+11:00")}
    with serving_fhir(store, token=TOKEN) as server:
        first = run_patients(tmp_path, server)
        # 2026-01-05T10:00+11:00 is 2026-01-04T23:00Z: the cursor is UTC.
        assert first.records == 5 and first.cursor_to == "2026-01-04T23:00:00Z"
        server.requests.clear()
        changed = copy.deepcopy(store["Patient"][0])
        changed["meta"]["lastUpdated"] = "2026-02-01T09:00:00+01:00"
        server.store["Patient"] = [*server.store["Patient"][1:], changed]
        second = run_patients(tmp_path, server)
    # The changed record, and the newest old one again (inside the overlap window; deduplicated
    # downstream).
    assert second.records == 2 and second.cursor_to == "2026-02-01T08:00:00Z"
    rows = pq.read_table(second.files[0]).to_pylist()
    assert sorted(r["id"] for r in rows) == ["p000", "p004"]
    [request] = server.requests
    assert "_count=2" in request
    # The committed cursor less the 10-minute overlap window.
    assert "_lastUpdated=gt2026-01-04T22%3A50%3A00Z" in request
    assert "_lastUpdated=le2026-11-30T23%3A59%3A30Z" in request


def test_malformed_resources_are_quarantined_and_counted(tmp_path: Path) -> None:
    bad = people(4)
    del bad[1]["id"]
    bad[2]["meta"]["lastUpdated"] = "yesterday"
    with serving_fhir({"Patient": bad}, token=TOKEN) as server:
        stats = run_patients(tmp_path, server)
    assert stats.records == 2 and stats.quarantined == 2
    rows = pq.read_table(
        next((tmp_path / "raw/fhir/hl7/_quarantine/Patient").glob("*.parquet"))
    ).to_pylist()
    reasons = sorted(r["reason"] for r in rows)
    assert reasons[0].startswith("meta.lastUpdated 'yesterday'") and "no valid id" in reasons[1]
    assert all("Family" not in str(r) for r in rows)  # the quarantine keeps no content


def test_a_refused_token_names_the_source_and_the_servers_outcome(
    tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.setenv("HL7_FHIR_TOKEN", "wrong")
    with serving_fhir({"Patient": people(2)}, token=TOKEN) as server:
        with pytest.raises(SourceError) as err:
            run_patients(tmp_path, server)
    message = str(err.value)
    assert "FHIR source 'hl7'" in message and "HTTP 401" in message
    assert "auth.token_env" in message
    assert "Authentication required" in message  # the OperationOutcome's diagnostics


def test_an_operation_outcome_error_body_is_surfaced(tmp_path: Path) -> None:
    with serving_fhir({"Patient": people(2)}, token=TOKEN) as server:
        client = make_client(source(server.base_url))
        with pytest.raises(SourceError, match="unsupported search parameter bogus"):
            client.get_json(f"{server.base_url}/Patient", [("bogus", "1")])


def test_client_credentials_fetch_a_new_token_when_revoked(tmp_path: Path) -> None:
    revoked = []

    def hook(rtype: str, bundle: dict, offset: int) -> dict:
        if offset == 2 and not revoked:
            revoked.append(True)
            server.revoke_tokens()  # the next request gets a 401
        return bundle

    with serving_fhir(
        {"Patient": people(6)}, token=None, client=("refnet", "s3cret"), page_hook=hook
    ) as server:
        auth = {
            "kind": "client_credentials",
            "token_url": f"{server.origin}/oauth/token",
            "client_id": "refnet",
            "client_secret_env": "HL7_CLIENT_SECRET",
        }
        src = source(server.base_url, resources=["Patient"], auth=auth)
        client = make_client(src)
        [stats] = extract_source(src, tmp_path, "run1", SECRET, client=client, now=NOW)
    assert stats.records == 6
    assert client.session.auth.fetches == 2


def test_client_credentials_refused_name_the_token_endpoint(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("HL7_CLIENT_SECRET", "wrong")
    with serving_fhir({"Patient": people(1)}, token=None, client=("refnet", "s3cret")) as server:
        auth = {
            "kind": "client_credentials",
            "token_url": f"{server.origin}/oauth/token",
            "client_id": "refnet",
            "client_secret_env": "HL7_CLIENT_SECRET",
        }
        with pytest.raises(SourceError, match="refused the client credentials"):
            run_patients(tmp_path, server, auth=auth)


def test_config_errors_name_the_source_and_key(tmp_path: Path, monkeypatch) -> None:
    from flows.config import ConfigError, load_config

    path = tmp_path / "refnet.yml"
    path.write_text(
        "sources:\n"
        "  - {name: leeds-fhir, kind: fhir, base_url: 'https://fhir.example/r4',\n"
        "     contact_email: ops@clinic.example, resources: [Patient, Observation],\n"
        "     auth: {kind: bearer}}\n"
    )
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert "sources[0].fhir.auth.bearer.token_env: required key is missing" in str(err.value)
    assert "unknown resource types ['Observation']" in str(err.value)

    path.write_text(
        "sources:\n"
        "  - {name: leeds-fhir, kind: fhir, base_url: 'https://fhir.example/r4',\n"
        "     contact_email: ops@clinic.example, auth: {kind: bearer, token_env: NO_SUCH_VAR}}\n"
    )
    monkeypatch.delenv("NO_SUCH_VAR", raising=False)
    with pytest.raises(ConfigError, match="source 'leeds-fhir': environment variable NO_SUCH_VAR"):
        load_config(path).sources[0].resolve_secrets()
