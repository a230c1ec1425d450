"""A tiny, hand-built Cliniko world landed in the raw format of docs/contracts.md.

`write_scenario(raw_dir)` writes immutable Parquet batches under
`<raw_dir>/cliniko/<account>/<stream>/<run_id>-<seq>.parquet` plus the three registry files
under `<raw_dir>/registry/`. tests/test_models.py builds the dbt project on it with
`as_of = AS_OF` and checks the marts against values worked out by hand from the table below.

Two accounts, three clinics in three time zones:
- `leeds`: one business, 1001 "Headingley Physio" (Europe/London).
- `harbour`: two businesses, 2001 "Harbour Sydney" (Australia/Sydney) and 2002 "Harbour Perth"
  (Australia/Perth, no DST).

Registry partners: leeds-gp (contact 101 in leeds; alias "kirkstall surgery"), oakwood-chiro
("Oakwood Chiropractic Ltd"), city-gym (referral source type "Gyms & Clubs", any subcategory),
google (type "Online" + subcategory "google"), harbour-ortho ("Dr Amelia Nguyen", contact 201 in
harbour), bondi-pilates (never refers).

Referrals (patient cases), as_of 2024-11-30 (evaluated at 2024-12-01T00:00Z):

5001 leeds: received 09-02 09:00Z; intake sent 12:00 and completed; two attended visits
     (invoiced 60 + 45). Landed in two versions: the newer one adds the case contact 101 (GP).
5002 leeds: received 09-10 10:00Z; booked 15:00; one attended visit (60), plus a *deleted*
     attended appointment that must not count. Referral source: contact 102 (an osteopath
     not in the registry).
5003 leeds: received 10-01 08:00Z; first appointment cancelled then rebooked; the rebooked one
     arrived (60), a third is unmarked but invoiced (45); a deleted and a closed invoice too.
     Referral source: a patient (word of mouth).
5004 leeds: received 2024-03-31 23:30Z (00:30 BST on 1 April); intake sent, never completed.
     Referral source: custom type "Online" / "Google".
5005 leeds: received 2024-03-31 00:30Z (00:30 GMT, still March); intake completed, never
     booked. Intake answer "Oakwod Chiropractic" (misspelt).
5006 leeds: received 10-14 09:00Z; intake completed; booked; did not arrive. Intake answer
     "Saw a flyer at the library" (matches nothing); referral source Cliniko's "Other" (no one).
5007 leeds: received 11-01 12:00Z; nothing since. Referral source: "Gyms & Clubs" /
     "City Strength".
5008 leeds: received 11-28 10:00Z; nothing yet (inside the 7-day window). Referral source:
     custom type "Local press".
5009 leeds: received 09-20 09:00Z; booked, then cancelled, never rebooked. Case contact 102
     *and* referral source contact 101 (the signals disagree).
5010 leeds: a deleted case: not a referral.
5011 leeds: received 11-25 10:00Z: patient 3002 returns; nothing yet. The referral source
     (updated during 5002) belongs to 5002, so 5011 has no signal.
6001 harbour: received 2024-10-31 14:00Z (1 Nov 01:00 in Sydney); two attended in Sydney
     (120.50 + 95). Case contact 201.
6002 harbour: received 2024-11-30 17:00Z (1 Dec 01:00 in Perth); intake at Perth completed;
     not booked yet. Intake answer "Dr. Amelia Nguyen" (exact).
6003 harbour: received 2024-09-30 15:00Z; nothing; no clinic known (two businesses).
     Referral source: a patient.
6004 harbour: received 11-10 01:00Z; an appointment with no case link, at Perth, in December.
     Referral source: custom type "Social media" / "Instagram".
5012-5014 leeds: received 07-05, 07-12 and 07-19 at 10:00Z; nothing since. Referral source
     "Gyms & Clubs" / "City Strength": city-gym had 3 referrals in the 90 days before the last
     90 and 1 (5007) in the last 90, so it is `quiet`.

Consent ("Share my progress with my referrer", landed as `shares_with_referrer`): yes for
patients 3001, 3002, 4001, 4002; *no* for 3009 (5009); unanswered for everyone else.

Registry: tiers A (30-day check-ins) leeds-gp and harbour-ortho, B (60) oakwood-chiro and
bondi-pilates (started 2024-10-15: `new`), C (90) city-gym; touchpoints leeds-gp 2024-08-01,
city-gym 2024-10-01 and a planned one on 2024-12-10 (after as_of: not counted).
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

AS_OF = date(2024, 11, 30)

API = "https://api.au1.cliniko.com/v1"

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

STREAMS = (
    "businesses",
    "practitioners",
    "appointment_types",
    "contacts",
    "referral_source_types",
    "referral_sources",
    "patients",
    "patient_cases",
    "individual_appointments",
    "patient_forms",
    "invoices",
    # Streams the scenario has no records for still get their empty file, as the extractor
    # writes on a first run, so every dbt source glob matches.
    "group_appointments",
    "attendees",
    "communications",
)

# Two nightly runs; most records land in the first, a few changed ones in the second.
RUN_1 = ("run-20241130-0200", datetime(2024, 11, 30, 2, 0, tzinfo=UTC))
RUN_2 = ("run-20241201-0200", datetime(2024, 12, 1, 2, 0, tzinfo=UTC))


def link(resource: str, record_id: str | int | None) -> dict[str, Any] | None:
    if record_id is None:
        return None
    return {"links": {"self": f"{API}/{resource}/{record_id}"}}


def business(bid: int, name: str, tz: str) -> dict[str, Any]:
    return {
        "id": str(bid),
        "business_name": name,
        "display_name": None,
        "label": name,
        "country_code": "GB" if tz.startswith("Europe") else "AU",
        "time_zone": None,
        "time_zone_identifier": tz,
        "show_in_online_bookings": True,
        "created_at": "2020-01-01T00:00:00Z",
        "updated_at": "2020-01-01T00:00:00Z",
        "archived_at": None,
        "deleted_at": None,
        "links": {"self": f"{API}/businesses/{bid}"},
    }


def contact(cid: int, **fields: Any) -> dict[str, Any]:
    # Contact ids arrive as JSON numbers here (as in Cliniko's own examples).
    return {
        "id": cid,
        "title": None,
        "first_name": None,
        "last_name": None,
        "preferred_name": "",
        "company_name": "",
        "occupation": "",
        "doctor_type": None,
        "type": "Standard",
        "type_code": 0,
        "created_at": "2023-01-01T00:00:00Z",
        "updated_at": "2023-01-01T00:00:00Z",
        "archived_at": None,
        "deleted_at": None,
        "links": {"self": f"{API}/contacts/{cid}"},
        **fields,
    }


def referral_source_type(
    tid: int, name: str, referrer_type: str | None, subcategories: list[str] | None = None
) -> dict[str, Any]:
    return {
        "id": tid,
        "name": name,
        "referrer_type": referrer_type,
        "subcategories": subcategories,
        "created_at": "2020-01-01T00:00:00Z",
        "updated_at": "2020-01-01T00:00:00Z",
        "links": {"self": f"{API}/referral_source_types/{tid}"},
    }


def referral_source(
    patient_id: int,
    type_id: int,
    *,
    referrer: tuple[str, int] | None = None,
    referrer_type: str | None = None,
    subcategory: str | None = None,
    updated_at: str | None = None,
) -> dict[str, Any]:
    # Like Cliniko's examples: no id; links.self is /patients/<id>/referral_source. Timestamps
    # only when given (the examples have none; the OpenAPI schema has them).
    timestamps = {"created_at": updated_at, "updated_at": updated_at} if updated_at else {}
    return {
        **timestamps,
        "links": {"self": f"{API}/patients/{patient_id}/referral_source"},
        "referrer": link(*referrer) if referrer else None,
        "referrer_type": referrer_type,
        "subcategory": subcategory,
        "patient": link("patients", patient_id),
        "referral_source_type": link("referral_source_types", type_id),
    }


# The consent custom field as flows/land.py lands it: True / False, None when unanswered.
CONSENT = {3001: True, 3002: True, 3009: False, 4001: True, 4002: True}


def patient(pid: int, created_at: str) -> dict[str, Any]:
    # Already pseudonymised, as landed by flows/land.py.
    return {
        "id": str(pid),
        "patient_key": f"pk-{pid}",
        "birth_year": 1980 + pid % 30,
        "postcode_district": "LS6" if pid < 4000 else None,
        "shares_with_referrer": CONSENT.get(pid),
        "created_at": created_at,
        "updated_at": created_at,
        "archived_at": "",
        "deleted_at": "",
        "links": {"self": f"{API}/patients/{pid}"},
    }


def patient_case(
    case_id: int,
    patient_id: int,
    created_at: str,
    *,
    contact_id: int | None = None,
    updated_at: str | None = None,
    deleted_at: str | None = None,
) -> dict[str, Any]:
    return {
        "id": str(case_id),
        "name": "Episode",
        "referral": contact_id is not None,
        "referral_type": None,
        "closed": False,
        "issue_date": created_at[:10],
        "expiry_date": None,
        "max_sessions": None,
        "patient": link("patients", patient_id),
        "contact": link("contacts", contact_id),
        "created_at": created_at,
        "updated_at": updated_at or created_at,
        "archived_at": None,
        "deleted_at": deleted_at,
        "links": {"self": f"{API}/patient_cases/{case_id}"},
    }


def appointment(
    aid: int,
    patient_id: int,
    case_id: int | None,
    business_id: int,
    created_at: str,
    starts_at: str,
    *,
    arrived: bool = False,
    did_not_arrive: bool = False,
    cancelled_at: str | None = None,
    deleted_at: str | None = None,
) -> dict[str, Any]:
    starts = datetime.fromisoformat(starts_at.replace("Z", "+00:00"))
    ends = starts.replace(minute=45)
    return {
        "id": aid,  # a JSON number
        "patient": link("patients", patient_id),
        "patient_case": link("patient_cases", case_id),
        "business": link("businesses", business_id),
        "practitioner": link("practitioners", 1 if business_id == 1001 else 2),
        "appointment_type": link("appointment_types", 1 if business_id == 1001 else 2),
        "starts_at": starts_at,
        "ends_at": ends.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "cancelled_at": cancelled_at,
        "cancellation_reason": 50 if cancelled_at else None,
        "cancellation_reason_description": "Other" if cancelled_at else "",
        "did_not_arrive": did_not_arrive,
        "patient_arrived": arrived,
        "invoice_status": None,
        "treatment_note_status": None,
        "created_at": created_at,
        "updated_at": cancelled_at or created_at,
        "archived_at": None,
        "deleted_at": deleted_at,
        "links": {"self": f"{API}/individual_appointments/{aid}"},
    }


def patient_form(
    fid: int,
    patient_id: int,
    business_id: int | None,
    sent_at: str,
    completed_at: str | None,
    answer: str | None,
) -> dict[str, Any]:
    return {
        "id": str(fid),
        "name": "New Patient Intake",
        "patient": link("patients", patient_id),
        "business": link("businesses", business_id),
        "heard_about_answer": answer,
        "completed_at": completed_at,
        "created_at": sent_at,
        "updated_at": completed_at or sent_at,
        "archived_at": None,
        "links": {"self": f"{API}/patient_forms/{fid}"},
    }


def invoice(
    iid: int,
    appointment_id: int,
    patient_id: int,
    business_id: int,
    total: str,
    issued_at: str,
    *,
    status: int = 20,
    closed_at: str | None = None,
    deleted_at: str | None = None,
) -> dict[str, Any]:
    return {
        "id": iid,
        "number": iid,
        "issue_date": issued_at[:10],
        "status": status,
        "status_description": {10: "Open", 20: "Paid", 30: "Closed", 40: "Open credit"}[status],
        "total_amount": total,
        "net_amount": total,
        "tax_amount": "0.0",
        "discounted_amount": "0.0",
        "closed_at": closed_at,
        "appointment": link("appointments", appointment_id),
        "patient": link("patients", patient_id),
        "business": link("businesses", business_id),
        "practitioner": link("practitioners", 1),
        "created_at": issued_at,
        "updated_at": deleted_at or closed_at or issued_at,
        "archived_at": None,
        "deleted_at": deleted_at,
        "links": {"self": f"{API}/invoices/{iid}"},
    }


def leeds_records() -> dict[str, list[dict[str, Any]]]:
    L1 = 1001
    return {
        "businesses": [business(L1, "Headingley Physio", "Europe/London")],
        "practitioners": [
            {
                "id": "1",
                "label": "Alex Physio",
                "designation": "Physiotherapist",
                "active": True,
                "created_at": "2020-01-01T00:00:00Z",
                "updated_at": "2020-01-01T00:00:00Z",
                "links": {"self": f"{API}/practitioners/1"},
            }
        ],
        "appointment_types": [
            {
                "id": "1",
                "name": "Initial Consultation",
                "category": "Physiotherapy",
                "duration_in_minutes": 45,
                "max_attendees": 1,
                "created_at": "2020-01-01T00:00:00Z",
                "updated_at": "2020-01-01T00:00:00Z",
                "links": {"self": f"{API}/appointment_types/1"},
            }
        ],
        "contacts": [
            contact(
                101,
                title="Dr",
                first_name="Sarah",
                last_name="Khan",
                company_name="Kirkstall Medical Centre",
                doctor_type="general_practitioner",
                type="Doctor",
                type_code=1,
            ),
            # Not in the registry: becomes an unregistered partner of kind allied_health.
            contact(
                102,
                first_name="Mark",
                last_name="Hughes",
                company_name="Hughes Clinic",
                occupation="Osteopath",
            ),
        ],
        "referral_source_types": [
            referral_source_type(1, "Client", "Patient"),
            referral_source_type(2, "Contact", "Contact"),
            referral_source_type(10, "Online", None, ["Google", "Facebook"]),
            referral_source_type(11, "Gyms & Clubs", None, ["City Strength"]),
            referral_source_type(12, "Local press", None),
            # Cliniko's built-in "Other": without a subcategory it names no one.
            referral_source_type(3, "Other", None),
        ],
        "referral_sources": [
            # Recorded (updated 10:05) during 5002: it belongs to 5002, not to the return (5011).
            referral_source(
                3002,
                2,
                referrer=("contacts", 102),
                referrer_type="Contact",
                updated_at="2024-09-10T10:05:00Z",
            ),
            referral_source(3003, 1, referrer=("patients", 3001), referrer_type="Patient"),
            referral_source(3004, 10, subcategory="Google"),
            referral_source(3007, 11, subcategory="City Strength"),
            referral_source(3006, 3),
            referral_source(3008, 12),
            referral_source(3009, 2, referrer=("contacts", 101), referrer_type="Contact"),
            referral_source(3011, 11, subcategory="City Strength"),
            referral_source(3012, 11, subcategory="City Strength"),
            referral_source(3013, 11, subcategory="City Strength"),
        ],
        "patients": [patient(p, "2024-01-01T00:00:00Z") for p in range(3001, 3014)],
        "patient_cases": [
            # 5001's first version (no contact yet); the newer version lands in run 2.
            patient_case(5001, 3001, "2024-09-02T09:00:00Z", updated_at="2024-09-02T09:00:00Z"),
            patient_case(5002, 3002, "2024-09-10T10:00:00Z"),
            patient_case(5003, 3003, "2024-10-01T08:00:00Z"),
            patient_case(5004, 3004, "2024-03-31T23:30:00Z"),
            patient_case(5005, 3005, "2024-03-31T00:30:00Z"),
            patient_case(5006, 3006, "2024-10-14T09:00:00Z"),
            patient_case(5007, 3007, "2024-11-01T12:00:00Z"),
            patient_case(5008, 3008, "2024-11-28T10:00:00Z"),
            patient_case(5009, 3009, "2024-09-20T09:00:00Z", contact_id=102),
            patient_case(5010, 3010, "2024-10-05T09:00:00Z", deleted_at="2024-10-05T10:00:00Z"),
            # 3002 comes back: a new episode with no signal of its own.
            patient_case(5011, 3002, "2024-11-25T10:00:00Z"),
            # city-gym's busier summer: three referrals nobody followed up.
            patient_case(5012, 3011, "2024-07-05T10:00:00Z"),
            patient_case(5013, 3012, "2024-07-12T10:00:00Z"),
            patient_case(5014, 3013, "2024-07-19T10:00:00Z"),
        ],
        "individual_appointments": [
            # 5001: two attended.
            appointment(
                7001, 3001, 5001, L1, "2024-09-03T10:00:00Z", "2024-09-06T09:00:00Z", arrived=True
            ),
            appointment(
                7002, 3001, 5001, L1, "2024-09-06T09:45:00Z", "2024-09-13T09:00:00Z", arrived=True
            ),
            # 5002: one attended; the deleted one must not count.
            appointment(
                7003, 3002, 5002, L1, "2024-09-10T15:00:00Z", "2024-09-12T10:00:00Z", arrived=True
            ),
            appointment(
                7004,
                3002,
                5002,
                L1,
                "2024-09-10T15:30:00Z",
                "2024-09-19T10:00:00Z",
                arrived=True,
                deleted_at="2024-09-11T08:00:00Z",
            ),
            # 5003: first appointment cancelled and rebooked; the third is unmarked but invoiced.
            appointment(
                7005,
                3003,
                5003,
                L1,
                "2024-10-01T09:00:00Z",
                "2024-10-04T09:00:00Z",
                cancelled_at="2024-10-03T12:00:00Z",
            ),
            appointment(
                7006, 3003, 5003, L1, "2024-10-03T12:05:00Z", "2024-10-08T09:00:00Z", arrived=True
            ),
            appointment(7007, 3003, 5003, L1, "2024-10-08T09:30:00Z", "2024-10-15T09:00:00Z"),
            # 5006: did not arrive.
            appointment(
                7008,
                3006,
                5006,
                L1,
                "2024-10-15T09:00:00Z",
                "2024-10-18T09:00:00Z",
                did_not_arrive=True,
            ),
            # 5009: booked then cancelled.
            appointment(
                7009,
                3009,
                5009,
                L1,
                "2024-09-21T09:00:00Z",
                "2024-09-25T09:00:00Z",
                cancelled_at="2024-09-24T09:00:00Z",
            ),
        ],
        "patient_forms": [
            patient_form(
                8001,
                3001,
                L1,
                "2024-09-02T12:00:00Z",
                "2024-09-03T08:00:00Z",
                "Kirkstáll Surgery!",
            ),
            patient_form(8004, 3004, None, "2024-04-01T09:00:00Z", None, None),
            patient_form(
                8005,
                3005,
                L1,
                "2024-03-31T10:30:00Z",
                "2024-04-01T10:00:00Z",
                "Oakwod Chiropractic",
            ),
            patient_form(
                8006,
                3006,
                L1,
                "2024-10-14T10:00:00Z",
                "2024-10-14T18:00:00Z",
                "Saw a flyer at the library",
            ),
        ],
        "invoices": [
            invoice(9001, 7001, 3001, L1, "60.00", "2024-09-06T10:00:00Z"),
            invoice(9002, 7002, 3001, L1, "45.00", "2024-09-13T10:00:00Z"),
            invoice(9003, 7003, 3002, L1, "60.00", "2024-09-12T11:00:00Z"),
            invoice(9004, 7006, 3003, L1, "60.00", "2024-10-08T10:00:00Z"),
            invoice(9005, 7007, 3003, L1, "45.00", "2024-10-15T10:00:00Z", status=10),
            # Excluded from revenue: deleted, and closed without payment.
            invoice(
                9006,
                7006,
                3003,
                L1,
                "60.00",
                "2024-10-08T10:05:00Z",
                deleted_at="2024-10-08T10:06:00Z",
            ),
            invoice(
                9007,
                7007,
                3003,
                L1,
                "999.00",
                "2024-10-15T10:05:00Z",
                status=30,
                closed_at="2024-10-16T10:00:00Z",
            ),
        ],
    }


def harbour_records() -> dict[str, list[dict[str, Any]]]:
    SYD, PER = 2001, 2002
    return {
        "businesses": [
            business(SYD, "Harbour Sydney", "Australia/Sydney"),
            business(PER, "Harbour Perth", "Australia/Perth"),
        ],
        "practitioners": [],
        "appointment_types": [],
        "contacts": [
            contact(
                201,
                title="Dr",
                first_name="Amelia",
                last_name="Nguyen",
                doctor_type="specialist",
                type="Doctor",
                type_code=1,
            )
        ],
        "referral_source_types": [
            referral_source_type(1, "Client", "Patient"),
            referral_source_type(20, "Social media", None, ["Instagram"]),
        ],
        "referral_sources": [
            referral_source(4003, 1, referrer=("patients", 4001), referrer_type="Patient"),
            referral_source(4004, 20, subcategory="Instagram"),
        ],
        "patients": [patient(p, "2024-01-01T00:00:00Z") for p in range(4001, 4005)],
        "patient_cases": [
            patient_case(6001, 4001, "2024-10-31T14:00:00Z", contact_id=201),
            patient_case(6002, 4002, "2024-11-30T17:00:00Z"),
            patient_case(6003, 4003, "2024-09-30T15:00:00Z"),
            patient_case(6004, 4004, "2024-11-10T01:00:00Z"),
        ],
        "individual_appointments": [
            appointment(
                7101, 4001, 6001, SYD, "2024-11-01T00:00:00Z", "2024-11-05T20:00:00Z", arrived=True
            ),
            appointment(
                7102, 4001, 6001, SYD, "2024-11-06T00:00:00Z", "2024-11-12T20:00:00Z", arrived=True
            ),
            # No patient_case link: belongs to 6004 by patient and time.
            appointment(7103, 4004, None, PER, "2024-11-10T03:00:00Z", "2024-12-03T00:00:00Z"),
        ],
        "patient_forms": [
            patient_form(
                8101,
                4002,
                PER,
                "2024-11-30T18:00:00Z",
                "2024-11-30T20:00:00Z",
                "Dr. Amelia Nguyen",
            ),
        ],
        "invoices": [
            invoice(9101, 7101, 4001, SYD, "120.50", "2024-11-05T21:00:00Z"),
            invoice(9102, 7102, 4001, SYD, "95.00", "2024-11-12T21:00:00Z"),
        ],
    }


def _record_id(stream: str, record: dict[str, Any]) -> str:
    if stream == "referral_sources":
        # No id of its own: the contract takes it from links.self (/patients/<id>/...).
        return record["links"]["self"].split("/patients/")[1].split("/")[0]
    return str(record["id"])


def _write_batch(
    raw_dir: Path,
    account: str,
    stream: str,
    records: list[dict[str, Any]],
    run: tuple[str, datetime],
    seq: int = 1,
) -> Path:
    run_id, extracted_at = run
    folder = raw_dir / "cliniko" / account / stream
    folder.mkdir(parents=True, exist_ok=True)
    rows = {
        "source_kind": ["cliniko"] * len(records),
        "account": [account] * len(records),
        "stream": [stream] * len(records),
        "id": [_record_id(stream, r) for r in records],
        "updated_at": [r.get("updated_at") for r in records],
        "extracted_at": [extracted_at] * len(records),
        "run_id": [run_id] * len(records),
        "record": [json.dumps(r, ensure_ascii=False) for r in records],
    }
    path = folder / f"{run_id}-{seq:04d}.parquet"
    pq.write_table(pa.Table.from_pydict(rows, schema=RAW_SCHEMA), path)
    return path


def _write_registry(raw_dir: Path) -> None:
    folder = raw_dir / "registry"
    folder.mkdir(parents=True, exist_ok=True)
    partners = pa.table(
        {
            "partner_id": [
                "leeds-gp",
                "oakwood-chiro",
                "city-gym",
                "google",
                "harbour-ortho",
                "bondi-pilates",
            ],
            "partner_name": [
                "Kirkstall Medical Centre",
                "Oakwood Chiropractic Ltd",
                "City Strength Gym",
                "Google search",
                "Dr Amelia Nguyen",
                "Bondi Pilates Studio",
            ],
            "partner_kind": [
                "gp",
                "allied_health",
                "fitness_sport",
                "digital",
                "consultant",
                "fitness_sport",
            ],
            "tier": ["A", "B", "C", None, "A", "B"],
            "aliases": [
                ["Kirkstall Surgery", "Kirkstall GP"],
                ["Oakwood Chiro"],
                ["City Strength", "CSG"],
                ["Google", "Internet search"],
                ["Amelia Nguyen", "Dr Nguyen"],
                [],
            ],
            "start_date": [
                date(2023, 1, 1),
                None,
                date(2024, 1, 15),
                None,
                date(2022, 6, 1),
                date(2024, 10, 15),
            ],
        },
        schema=pa.schema(
            [
                ("partner_id", pa.string()),
                ("partner_name", pa.string()),
                ("partner_kind", pa.string()),
                ("tier", pa.string()),
                ("aliases", pa.list_(pa.string())),
                ("start_date", pa.date32()),
            ]
        ),
    )
    links_schema = pa.schema(
        [
            (name, pa.string())
            for name in (
                "partner_id",
                "source",
                "link_type",
                "cliniko_contact_id",
                "fhir_reference",
                "referral_source_type",
                "subcategory",
                "referrer_type",
            )
        ]
    )
    links = pa.Table.from_pylist(
        [
            {
                "partner_id": "leeds-gp",
                "source": "leeds",
                "link_type": "contact",
                "cliniko_contact_id": "101",
            },
            {
                "partner_id": "harbour-ortho",
                "source": "harbour",
                "link_type": "contact",
                "cliniko_contact_id": "201",
            },
            {
                "partner_id": "google",
                "source": "leeds",
                "link_type": "referral_source",
                "referral_source_type": "Online",
                "subcategory": "google",
            },
            {
                "partner_id": "city-gym",
                "source": "leeds",
                "link_type": "referral_source",
                "referral_source_type": "gyms & clubs",
            },
        ],
        schema=links_schema,
    )
    touchpoints = pa.table(
        {
            "partner_id": ["leeds-gp", "city-gym", "city-gym"],
            "touchpoint_date": [date(2024, 8, 1), date(2024, 10, 1), date(2024, 12, 10)],
            "kind": ["check_in", "referral_guide_sent", "talk"],
            "note": ["Lunch and learn", None, "Planned: injury-prevention talk"],
        },
        schema=pa.schema(
            [
                ("partner_id", pa.string()),
                ("touchpoint_date", pa.date32()),
                ("kind", pa.string()),
                ("note", pa.string()),
            ]
        ),
    )
    pq.write_table(partners, folder / "partners.parquet")
    pq.write_table(links, folder / "partner_links.parquet")
    pq.write_table(touchpoints, folder / "touchpoints.parquet")


def write_scenario(raw_dir: Path) -> Path:
    """Write the scenario's raw batches and registry files under `raw_dir`; return it."""
    raw_dir = Path(raw_dir)
    for account, records in (("leeds", leeds_records()), ("harbour", harbour_records())):
        for stream in STREAMS:
            # Every stream gets a file, empty if it has no records (as the extractor does).
            _write_batch(raw_dir, account, stream, records.get(stream, []), RUN_1)

    # Run 2: a newer version of case 5001 (the contact was added at 09:30), landed twice with
    # the same updated_at (the extractor's overlap window): one version must survive.
    newer_5001 = patient_case(
        5001, 3001, "2024-09-02T09:00:00Z", contact_id=101, updated_at="2024-09-02T09:30:00Z"
    )
    _write_batch(raw_dir, "leeds", "patient_cases", [newer_5001], RUN_2, seq=1)
    _write_batch(raw_dir, "leeds", "patient_cases", [newer_5001], RUN_2, seq=2)

    _write_registry(raw_dir)
    return raw_dir
