"""Build the dbt project for real on the hand-built scenario and check the marts.

Every expected value below is worked out by hand from tests/scenario.py (its docstring table),
with as_of = 2024-11-30, i.e. the funnel judged at 2024-12-01T00:00Z. Windows: contact 7 days
from received, intake 14 from contacted, booking 30 from received, continue 42 from the first
attended appointment.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pyarrow.parquet as pq
import pytest
from scenario import AS_OF, write_scenario

from flows.publish import PUBLISHED_MARTS
from flows.transform import DbtResult, TransformError, build, docs_generate, run_dbt

# feedback_min_count 2 (default 5) so the dozen-referral world has both suppressed and shown rows.
VARS = {"as_of": AS_OF.isoformat(), "feedback_min_count": 2}

L1 = "cliniko:leeds:1001"  # Headingley Physio, Europe/London
SYD = "cliniko:harbour:2001"  # Harbour Sydney, Australia/Sydney
PER = "cliniko:harbour:2002"  # Harbour Perth, Australia/Perth
UNASSIGNED = "cliniko:harbour:unassigned"
CONTACT_102 = "cliniko-leeds-contact-102"
OTHER_12 = "cliniko-leeds-referral-source-type-12"
INSTAGRAM = "cliniko-harbour-referral-source-type-20-instagram"


def build_scenario(home: Path, tz: str) -> tuple[Path, DbtResult]:
    """Write the scenario under `home` and build it with dbt (a subprocess) under time zone `tz`."""
    raw_dir = write_scenario(home / "raw")
    warehouse = home / "warehouse" / "refnet.duckdb"
    with pytest.MonkeyPatch.context() as patch:
        # run_dbt passes os.environ on: the dbt process runs in this zone.
        patch.setenv("TZ", tz)
        result = build(raw_dir=raw_dir, warehouse=warehouse, vars=VARS)
    return warehouse, result


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, DbtResult]:
    return build_scenario(tmp_path_factory.mktemp("home"), "UTC")


@pytest.fixture
def db(built: tuple[Path, DbtResult]) -> Iterator[duckdb.DuckDBPyConnection]:
    warehouse, _ = built
    # Opening read-only works only because dbt ran as a subprocess and has exited. Closed after
    # each test: while it is open, another dbt process cannot open the file (docs generate).
    con = duckdb.connect(str(warehouse), read_only=True)
    con.execute("set TimeZone = 'UTC'")
    yield con
    con.close()


def rows(con: duckdb.DuckDBPyConnection, sql: str) -> list[dict[str, Any]]:
    cursor = con.execute(sql)
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def by_key(records: list[dict[str, Any]], *key: str) -> dict[Any, dict[str, Any]]:
    return {(r[key[0]] if len(key) == 1 else tuple(r[k] for k in key)): r for r in records}


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_build_succeeds_and_reports_nodes(built: tuple[Path, DbtResult]) -> None:
    warehouse, result = built
    assert result.success
    kinds = {n.resource_type for n in result.nodes}
    assert {"model", "test", "seed", "unit_test"} <= kinds
    unit_tests = {n.name for n in result.nodes if n.resource_type == "unit_test"}
    assert {
        "test_drop_off_ladder",
        "test_received_month_is_clinic_local_across_dst",
        "test_attribution_precedence",
        "test_referral_source_resolution",
        "test_partner_health_status_ladder_and_checkin",
        "test_network_summary_shares_and_concentration",
        "test_partner_feedback_consent_and_suppression",
        "test_partner_performance_monthly_speed_and_rates",
        "test_journey_incremental_recomputes_touched_patients",
        "test_appointment_status_ladder_and_first_appointment",
        "test_unmatched_answer_suggestions",
    } <= unit_tests
    assert all(n.status == "pass" for n in result.nodes if n.resource_type == "unit_test")
    # 6003, whose clinic cannot be known, is counted under the unassigned clinic: no warnings.
    assert [n.name for n in result.warned_nodes] == []
    # dbt's artefacts live beside the warehouse, not in the repository.
    assert result.target_path is not None
    assert result.target_path.is_relative_to(warehouse.parent)
    assert (result.target_path / "run_results.json").exists()


# referral -> (drop_off, attribution_method, partner_id, received_month, clinic_id)
EXPECTED_REFERRALS = {
    # two attended: continued
    "cliniko:leeds:5001": (None, "referral_record", "leeds-gp", date(2024, 9, 1), L1),
    # one attended on 09-12, nothing within 42 days (the deleted visit does not count)
    "cliniko:leeds:5002": ("single_visit", "referral_source", CONTACT_102, date(2024, 9, 1), L1),
    # cancelled + rebooked (arrived) + unmarked-but-invoiced: two attended
    "cliniko:leeds:5003": (None, "referral_source", "word-of-mouth", date(2024, 10, 1), L1),
    # 2024-03-31 23:30Z is 00:30 BST on 1 April; intake sent, never completed
    "cliniko:leeds:5004": (
        "intake_not_completed",
        "referral_source",
        "google",
        date(2024, 4, 1),
        L1,
    ),
    # 2024-03-31 00:30Z is 00:30 GMT, still March; "Oakwod Chiropractic" fuzzy-matches
    "cliniko:leeds:5005": ("not_booked", "intake_answer", "oakwood-chiro", date(2024, 3, 1), L1),
    # "Saw a flyer at the library" matches nothing
    "cliniko:leeds:5006": ("did_not_attend", "unknown", "unknown", date(2024, 10, 1), L1),
    # received 11-01: contact window closed 11-08
    "cliniko:leeds:5007": ("not_contacted", "referral_source", "city-gym", date(2024, 11, 1), L1),
    # received 11-28: contact window open until 12-05
    "cliniko:leeds:5008": ("in_progress", "referral_source", OTHER_12, date(2024, 11, 1), L1),
    # case contact 102 beats referral source contact 101
    "cliniko:leeds:5009": ("cancelled", "referral_record", CONTACT_102, date(2024, 9, 1), L1),
    # 3002 returns on 11-25: its referral source belongs to 5002; contact window open to 12-02
    "cliniko:leeds:5011": ("in_progress", "unknown", "unknown", date(2024, 11, 1), L1),
    # 2024-10-31 14:00Z is 1 Nov 01:00 in Sydney (AEDT)
    "cliniko:harbour:6001": (None, "referral_record", "harbour-ortho", date(2024, 11, 1), SYD),
    # 2024-11-30 17:00Z is 1 Dec 01:00 in Perth; clinic from the intake form; booking window open
    "cliniko:harbour:6002": (
        "in_progress",
        "intake_answer",
        "harbour-ortho",
        date(2024, 12, 1),
        PER,
    ),
    # no clinic (two businesses, nothing links one) -> unassigned, UTC month: September
    "cliniko:harbour:6003": (
        "not_contacted",
        "referral_source",
        "word-of-mouth",
        date(2024, 9, 1),
        UNASSIGNED,
    ),
    # appointment without a case link, in December at Perth: pending
    "cliniko:harbour:6004": ("in_progress", "referral_source", INSTAGRAM, date(2024, 11, 1), PER),
    # city-gym's summer referrals, never followed up
    "cliniko:leeds:5012": ("not_contacted", "referral_source", "city-gym", date(2024, 7, 1), L1),
    "cliniko:leeds:5013": ("not_contacted", "referral_source", "city-gym", date(2024, 7, 1), L1),
    "cliniko:leeds:5014": ("not_contacted", "referral_source", "city-gym", date(2024, 7, 1), L1),
}


def test_referrals_drop_off_attribution_month_clinic(db: duckdb.DuckDBPyConnection) -> None:
    actual = by_key(rows(db, "select * from referrals"), "referral_id")
    # 5010 is a deleted case: not a referral.
    assert set(actual) == set(EXPECTED_REFERRALS)
    for referral_id, (drop_off, method, partner_id, month, clinic_id) in EXPECTED_REFERRALS.items():
        row = actual[referral_id]
        got = (
            row["drop_off"],
            row["attribution_method"],
            row["partner_id"],
            row["received_month"],
            row["clinic_id"],
        )
        assert got == (drop_off, method, partner_id, month, clinic_id), referral_id


# referral -> (hours_to_contact, days_to_book, days_to_first_appointment, attended, revenue)
EXPECTED_SPEED = {
    # contacted by the intake form 3h after; booked 09-03 10:00 (25h); seen 09-06 09:00 (4 days)
    "cliniko:leeds:5001": (3.0, 1.04, 4.0, 2, Decimal("105.00")),
    "cliniko:leeds:5002": (5.0, 0.21, 2.0, 1, Decimal("60.00")),
    # booked 1h after (the cancelled booking); seen at the rebooked 10-08 09:00 (7d 1h);
    # the deleted (60) and closed-unpaid (999) invoices are not revenue
    "cliniko:leeds:5003": (1.0, 0.04, 7.04, 2, Decimal("105.00")),
    "cliniko:leeds:5004": (9.5, None, None, 0, Decimal("0.00")),
    "cliniko:leeds:5005": (10.0, None, None, 0, Decimal("0.00")),
    "cliniko:leeds:5006": (1.0, 1.0, None, 0, Decimal("0.00")),
    "cliniko:leeds:5007": (None, None, None, 0, Decimal("0.00")),
    "cliniko:leeds:5008": (None, None, None, 0, Decimal("0.00")),
    "cliniko:leeds:5009": (24.0, 1.0, None, 0, Decimal("0.00")),
    "cliniko:leeds:5011": (None, None, None, 0, Decimal("0.00")),
    "cliniko:harbour:6001": (10.0, 0.42, 5.25, 2, Decimal("215.50")),
    "cliniko:harbour:6002": (1.0, None, None, 0, Decimal("0.00")),
    "cliniko:harbour:6003": (None, None, None, 0, Decimal("0.00")),
    "cliniko:harbour:6004": (2.0, 0.08, None, 0, Decimal("0.00")),
    "cliniko:leeds:5012": (None, None, None, 0, Decimal("0.00")),
    "cliniko:leeds:5013": (None, None, None, 0, Decimal("0.00")),
    "cliniko:leeds:5014": (None, None, None, 0, Decimal("0.00")),
}


def test_referrals_speed_and_revenue(db: duckdb.DuckDBPyConnection) -> None:
    actual = by_key(rows(db, "select * from referrals"), "referral_id")
    assert set(EXPECTED_SPEED) == set(actual)
    for referral_id, expected in EXPECTED_SPEED.items():
        row = actual[referral_id]
        got = (
            row["hours_to_contact"],
            row["days_to_book"],
            row["days_to_first_appointment"],
            row["attended_appointments"],
            row["revenue"],
        )
        assert got == expected, referral_id


def test_cancelled_then_rebooked_counts_once(db: duckdb.DuckDBPyConnection) -> None:
    (row,) = rows(db, "select * from referrals where referral_id = 'cliniko:leeds:5003'")
    assert row["is_booked"] is True
    assert row["first_booked_at"] == utc(2024, 10, 1, 9, 0)  # the original booking
    assert row["first_appointment_at"] == utc(2024, 10, 8, 9, 0)  # the rebooked one
    assert row["first_appointment_status"] == "fulfilled"
    assert (row["appointments"], row["cancelled_appointments"]) == (3, 1)


def test_latest_version_wins(db: duckdb.DuckDBPyConnection) -> None:
    # Case 5001 landed three times: an old version and the newer one twice.
    cases = rows(db, "select * from stg_cliniko__patient_cases where patient_case_id = '5001'")
    assert len(cases) == 1
    assert cases[0]["contact_id"] == "101"
    assert cases[0]["updated_at"] == utc(2024, 9, 2, 9, 30)
    assert cases[0]["run_id"] == "run-20241201-0200"
    # JSON-number ids arrive as text.
    (contact,) = rows(db, "select * from stg_cliniko__contacts where contact_id = '102'")
    assert contact["contact_name"] == "Mark Hughes"


def test_partners(db: duckdb.DuckDBPyConnection) -> None:
    actual = by_key(rows(db, "select * from partners"), "partner_id")
    # partner -> (kind, is_registered, referrals)
    expected = {
        "leeds-gp": ("gp", True, 1),
        "oakwood-chiro": ("allied_health", True, 1),
        "city-gym": ("fitness_sport", True, 4),
        "google": ("digital", True, 1),
        "harbour-ortho": ("consultant", True, 2),
        "bondi-pilates": ("fitness_sport", True, 0),
        # unregistered contact: kind from its occupation "Osteopath"
        CONTACT_102: ("allied_health", False, 2),
        OTHER_12: ("other", False, 1),
        INSTAGRAM: ("other", False, 1),
        "word-of-mouth": ("patient", False, 2),
        # 5006 (Cliniko's "Other" names no one) and 5011 (a return with no signal)
        "unknown": ("unknown", False, 2),
    }
    assert {
        pid: (r["partner_kind"], r["is_registered"], r["referrals"]) for pid, r in actual.items()
    } == expected
    assert actual[CONTACT_102]["partner_name"] == "Mark Hughes"
    assert actual[INSTAGRAM]["partner_name"] == "Social media: Instagram"
    assert actual["harbour-ortho"]["first_referral_at"] == utc(2024, 10, 31, 14, 0)
    assert actual["harbour-ortho"]["last_referral_at"] == utc(2024, 11, 30, 17, 0)
    assert actual["bondi-pilates"]["first_referral_at"] is None


FUNNEL_COLUMNS = (
    "received contacted intake_completed booked attended continued not_contacted "
    "intake_not_completed not_booked cancelled did_not_attend single_visit in_progress"
).split()


def funnel(**counts: int) -> tuple[int, ...]:
    return tuple(counts.get(c, 0) for c in FUNNEL_COLUMNS)


def test_funnel_monthly(db: duckdb.DuckDBPyConnection) -> None:
    actual = {
        (r["clinic_id"], r["partner_kind"], r["month"]): tuple(r[c] for c in FUNNEL_COLUMNS)
        for r in rows(db, "select * from funnel_monthly")
    }
    expected = {
        (L1, "gp", date(2024, 9, 1)): funnel(
            received=1, contacted=1, intake_completed=1, booked=1, attended=1, continued=1
        ),
        # 5002 (single visit) and 5009 (cancelled), both from contact 102
        (L1, "allied_health", date(2024, 9, 1)): funnel(
            received=2, contacted=2, booked=2, attended=1, single_visit=1, cancelled=1
        ),
        # 5003: the cancelled-then-rebooked first appointment is one booking
        (L1, "patient", date(2024, 10, 1)): funnel(
            received=1, contacted=1, booked=1, attended=1, continued=1
        ),
        (L1, "digital", date(2024, 4, 1)): funnel(received=1, contacted=1, intake_not_completed=1),
        (L1, "allied_health", date(2024, 3, 1)): funnel(
            received=1, contacted=1, intake_completed=1, not_booked=1
        ),
        (L1, "unknown", date(2024, 10, 1)): funnel(
            received=1, contacted=1, intake_completed=1, booked=1, did_not_attend=1
        ),
        (L1, "fitness_sport", date(2024, 11, 1)): funnel(received=1, not_contacted=1),
        (L1, "fitness_sport", date(2024, 7, 1)): funnel(received=3, not_contacted=3),
        (L1, "other", date(2024, 11, 1)): funnel(received=1, in_progress=1),
        (L1, "unknown", date(2024, 11, 1)): funnel(received=1, in_progress=1),
        (SYD, "consultant", date(2024, 11, 1)): funnel(
            received=1, contacted=1, booked=1, attended=1, continued=1
        ),
        (PER, "consultant", date(2024, 12, 1)): funnel(
            received=1, contacted=1, intake_completed=1, in_progress=1
        ),
        (PER, "other", date(2024, 11, 1)): funnel(received=1, contacted=1, booked=1, in_progress=1),
        (UNASSIGNED, "patient", date(2024, 9, 1)): funnel(received=1, not_contacted=1),
    }
    assert actual == expected
    names = {r["clinic_id"]: r["clinic_name"] for r in rows(db, "select * from funnel_monthly")}
    assert names == {
        L1: "Headingley Physio",
        SYD: "Harbour Sydney",
        PER: "Harbour Perth",
        UNASSIGNED: "Unassigned clinic",
    }


PERFORMANCE_COLUMNS = (
    "referrals booked attended booked_rate attended_rate median_days_to_first_appointment "
    "p90_days_to_first_appointment dna_rate cancellation_rate revenue"
).split()


def test_partner_performance_monthly(db: duckdb.DuckDBPyConnection) -> None:
    actual = {
        (r["partner_id"], r["month"]): tuple(r[c] for c in PERFORMANCE_COLUMNS)
        for r in rows(db, "select * from partner_performance_monthly")
    }
    zero = Decimal("0.00")
    none = (None, None, None, None)  # median, p90, DNA and cancellation rates
    expected = {
        # 5001: 2 appointments, both attended; seen after 4 days (one attended: p90 = median)
        ("leeds-gp", date(2024, 9, 1)): (1, 1, 1, 1.0, 1.0, 4.0, 4.0, 0.0, 0.0, Decimal("105.00")),
        # 5002 (1 attended, seen after 2 days) + 5009 (1 cancelled): 2 appointments
        (CONTACT_102, date(2024, 9, 1)): (2, 2, 1, 1.0, 0.5, 2.0, 2.0, 0.0, 0.5, Decimal("60.00")),
        # 5003: 3 appointments, 1 cancelled, 2 attended
        ("word-of-mouth", date(2024, 10, 1)): (
            *(1, 1, 1, 1.0, 1.0),
            *(7.04, 7.04, 0.0, 0.3333),
            Decimal("105.00"),
        ),
        ("word-of-mouth", date(2024, 9, 1)): (1, 0, 0, 0.0, 0.0, *none, zero),
        ("google", date(2024, 4, 1)): (1, 0, 0, 0.0, 0.0, *none, zero),
        ("oakwood-chiro", date(2024, 3, 1)): (1, 0, 0, 0.0, 0.0, *none, zero),
        # 5006: its only appointment was a DNA
        ("unknown", date(2024, 10, 1)): (1, 1, 0, 1.0, 0.0, None, None, 1.0, 0.0, zero),
        ("city-gym", date(2024, 11, 1)): (1, 0, 0, 0.0, 0.0, *none, zero),
        ("city-gym", date(2024, 7, 1)): (3, 0, 0, 0.0, 0.0, *none, zero),
        ("unknown", date(2024, 11, 1)): (1, 0, 0, 0.0, 0.0, *none, zero),
        (OTHER_12, date(2024, 11, 1)): (1, 0, 0, 0.0, 0.0, *none, zero),
        ("harbour-ortho", date(2024, 11, 1)): (
            *(1, 1, 1, 1.0, 1.0),
            *(5.25, 5.25, 0.0, 0.0),
            Decimal("215.50"),
        ),
        ("harbour-ortho", date(2024, 12, 1)): (1, 0, 0, 0.0, 0.0, *none, zero),
        # 6004: one pending appointment: nothing due yet, nothing cancelled
        (INSTAGRAM, date(2024, 11, 1)): (1, 1, 0, 1.0, 0.0, None, None, None, 0.0, zero),
    }
    assert actual == expected


def test_signals_are_kept_for_review(db: duckdb.DuckDBPyConnection) -> None:
    actual = by_key(rows(db, "select * from int_referrals_attributed"), "referral_id")
    # 5009: the case names contact 102, the referral source names contact 101 (leeds-gp).
    r = actual["cliniko:leeds:5009"]
    assert (r["referral_record_partner_id"], r["referral_source_partner_id"]) == (
        CONTACT_102,
        "leeds-gp",
    )
    assert r["has_conflicting_signals"] is True
    # 5002's referral source is not carried over to the same patient's return (5011).
    assert actual["cliniko:leeds:5002"]["referral_source_partner_id"] == CONTACT_102
    assert actual["cliniko:leeds:5011"]["referral_source_partner_id"] is None
    # Cliniko's "Other" type without a subcategory is no signal.
    assert actual["cliniko:leeds:5006"]["referral_source_partner_id"] is None
    # 5001: "Kirkstáll Surgery!" is the alias "Kirkstall Surgery" once normalised; it agrees.
    r = actual["cliniko:leeds:5001"]
    assert r["intake_answer_partner_id"] == "leeds-gp"
    assert r["is_intake_answer_exact_match"] is True
    assert r["has_conflicting_signals"] is False
    # 5005: the misspelling is a fuzzy (low-confidence) match.
    r = actual["cliniko:leeds:5005"]
    assert (r["attribution_confidence"], r["is_intake_answer_exact_match"]) == ("low", False)
    assert r["intake_answer_similarity"] >= 0.88


def test_unmatched_answers_are_published(db: duckdb.DuckDBPyConnection) -> None:
    unmatched = rows(db, "select * from unmatched_intake_answers")
    assert [
        (
            r["unmatched_answer_id"],
            r["answer_normalised"],
            r["example_answer"],
            r["referrals"],
            r["unknown_referrals"],
            r["first_received_at"],
        )
        for r in unmatched
    ] == [
        (
            "cliniko:leeds:saw a flyer at the library",
            "saw a flyer at the library",
            "Saw a flyer at the library",
            1,
            1,
            utc(2024, 10, 14, 9, 0),
        )
    ]
    # The nearest registry name (Kirkstall Medical Centre) is too far to be worth suggesting.
    assert not unmatched[0]["is_non_answer"]
    assert (unmatched[0]["suggested_partner_id"], unmatched[0]["suggested_similarity"]) == (
        None,
        None,
    )
    (similarity,) = db.execute(
        "select intake_answer_similarity from int_referrals_attributed "
        "where referral_id = 'cliniko:leeds:5006'"
    ).fetchone()
    assert 0 < similarity < 0.8


def test_clinics(db: duckdb.DuckDBPyConnection) -> None:
    actual = {
        r["clinic_id"]: (
            r["clinic_name"],
            r["time_zone"],
            r["is_unassigned"],
            r["referrals"],
            r["first_referral_at"],
            r["last_referral_at"],
        )
        for r in rows(db, "select * from clinics")
    }
    assert actual == {
        L1: (
            "Headingley Physio",
            "Europe/London",
            False,
            13,
            utc(2024, 3, 31, 0, 30),
            utc(2024, 11, 28, 10, 0),
        ),
        SYD: (
            "Harbour Sydney",
            "Australia/Sydney",
            False,
            1,
            utc(2024, 10, 31, 14),
            utc(2024, 10, 31, 14),
        ),
        PER: (
            "Harbour Perth",
            "Australia/Perth",
            False,
            2,
            utc(2024, 11, 10, 1),
            utc(2024, 11, 30, 17),
        ),
        # harbour has two zones: its unassigned referral's dates fall back to UTC
        UNASSIGNED: (
            "Unassigned clinic",
            "UTC",
            True,
            1,
            utc(2024, 9, 30, 15),
            utc(2024, 9, 30, 15),
        ),
    }


def test_appointments(db: duckdb.DuckDBPyConnection) -> None:
    actual = {
        r["appointment_id"]: (
            r["referral_id"],
            r["clinic_id"],
            r["partner_id"],
            r["status"],
            r["is_first_appointment"],
            r["appointment_sequence"],
            r["revenue"],
        )
        for r in rows(db, "select * from appointments")
    }
    d = Decimal
    assert actual == {
        "cliniko:leeds:7001": (
            "cliniko:leeds:5001",
            L1,
            "leeds-gp",
            "fulfilled",
            True,
            1,
            d("60.00"),
        ),
        "cliniko:leeds:7002": (
            "cliniko:leeds:5001",
            L1,
            "leeds-gp",
            "fulfilled",
            False,
            2,
            d("45.00"),
        ),
        # 7004, deleted, is not an appointment
        "cliniko:leeds:7003": (
            "cliniko:leeds:5002",
            L1,
            CONTACT_102,
            "fulfilled",
            True,
            1,
            d("60.00"),
        ),
        # cancelled then rebooked: the rebooked one is the first appointment
        "cliniko:leeds:7005": (
            "cliniko:leeds:5003",
            L1,
            "word-of-mouth",
            "cancelled",
            False,
            1,
            d("0.00"),
        ),
        "cliniko:leeds:7006": (
            "cliniko:leeds:5003",
            L1,
            "word-of-mouth",
            "fulfilled",
            True,
            2,
            d("60.00"),
        ),
        # unmarked but invoiced (the closed-unpaid 999 invoice is no revenue)
        "cliniko:leeds:7007": (
            "cliniko:leeds:5003",
            L1,
            "word-of-mouth",
            "fulfilled",
            False,
            3,
            d("45.00"),
        ),
        "cliniko:leeds:7008": ("cliniko:leeds:5006", L1, "unknown", "noshow", True, 1, d("0.00")),
        "cliniko:leeds:7009": (
            "cliniko:leeds:5009",
            L1,
            CONTACT_102,
            "cancelled",
            True,
            1,
            d("0.00"),
        ),
        "cliniko:harbour:7101": (
            "cliniko:harbour:6001",
            SYD,
            "harbour-ortho",
            "fulfilled",
            True,
            1,
            d("120.50"),
        ),
        "cliniko:harbour:7102": (
            "cliniko:harbour:6001",
            SYD,
            "harbour-ortho",
            "fulfilled",
            False,
            2,
            d("95.00"),
        ),
        # no case link: inferred; in the future on as_of: pending
        "cliniko:harbour:7103": (
            "cliniko:harbour:6004",
            PER,
            INSTAGRAM,
            "booked",
            True,
            1,
            d("0.00"),
        ),
    }
    (inferred,) = rows(
        db, "select * from appointments where appointment_id = 'cliniko:harbour:7103'"
    )
    assert (inferred["is_patient_case_inferred"], inferred["is_pending"]) == (True, True)
    # 2024-12-03 00:00Z is 08:00 in Perth: same day; 7101 at 20:00Z on 11-05 is the 6th in Sydney.
    assert inferred["starts_local_date"] == date(2024, 12, 3)
    (sydney,) = rows(db, "select * from appointments where appointment_id = 'cliniko:harbour:7101'")
    assert sydney["starts_local_date"] == date(2024, 11, 6)


def test_consent_reaches_referrals(db: duckdb.DuckDBPyConnection) -> None:
    shared = {
        r["referral_id"]
        for r in rows(db, "select referral_id from referrals where is_shared_with_referrer")
    }
    # 3002's consent covers both its episodes; 3009 refused; nobody else answered.
    assert shared == {
        "cliniko:leeds:5001",
        "cliniko:leeds:5002",
        "cliniko:leeds:5011",
        "cliniko:harbour:6001",
        "cliniko:harbour:6002",
    }


HEALTH_COLUMNS = (
    "status last_referral_at last_touchpoint_at checkin_due_date is_checkin_due "
    "referrals_last_90d referrals_prior_90d referral_trend"
).split()


def test_partner_health(db: duckdb.DuckDBPyConnection) -> None:
    # as_of 2024-11-30: the last 90 days are [09-02, 12-01), the 90 before [06-04, 09-02); "new"
    # means the relationship (start date, else first referral) began after 2024-09-01.
    actual = {
        r["partner_id"]: tuple(r[c] for c in HEALTH_COLUMNS)
        for r in rows(db, "select * from partner_health")
    }
    expected = {
        # A: due 30 days after the 08-01 check-in
        "leeds-gp": (
            "active",
            utc(2024, 9, 2, 9),
            date(2024, 8, 1),
            date(2024, 8, 31),
            True,
            1,
            0,
            1,
        ),
        "oakwood-chiro": ("dormant", utc(2024, 3, 31, 0, 30), None, None, False, 0, 0, 0),
        # 3 in the summer, 1 since: quiet. C: due 90 days after 10-01; the 12-10 talk is planned.
        "city-gym": (
            "quiet",
            utc(2024, 11, 1, 12),
            date(2024, 10, 1),
            date(2024, 12, 30),
            False,
            1,
            3,
            -2,
        ),
        # untiered: no check-in cadence
        "google": ("dormant", utc(2024, 3, 31, 23, 30), None, None, False, 0, 0, 0),
        # A, never visited: due 30 days after its 2022-06-01 start
        "harbour-ortho": ("active", utc(2024, 11, 30, 17), None, date(2022, 7, 1), True, 2, 0, 2),
        # started 2024-10-15, B: due 60 days later
        "bondi-pilates": ("new", None, None, date(2024, 12, 14), False, 0, 0, 0),
        CONTACT_102: ("new", utc(2024, 9, 20, 9), None, None, False, 2, 0, 2),
        OTHER_12: ("new", utc(2024, 11, 28, 10), None, None, False, 1, 0, 1),
        INSTAGRAM: ("new", utc(2024, 11, 10, 1), None, None, False, 1, 0, 1),
        "word-of-mouth": ("new", utc(2024, 10, 1, 8), None, None, False, 2, 0, 2),
    }
    assert actual == expected


NETWORK_COLUMNS = (
    "clinic_name referrals unknown_referrals unknown_share active_partners top_5_partner_share "
    "concentration_index"
).split()


def test_network_summary(db: duckdb.DuckDBPyConnection) -> None:
    actual = {
        (r["clinic_id"], r["quarter"]): tuple(r[c] for c in NETWORK_COLUMNS)
        for r in rows(db, "select * from network_summary")
    }
    hp = "Headingley Physio"
    assert actual == {
        # 5005: 00:30 GMT on 31 March
        (L1, date(2024, 1, 1)): (hp, 1, 0, 0.0, 1, 1.0, 1.0),
        # 5004: 23:30Z on 31 March is 1 April in London
        (L1, date(2024, 4, 1)): (hp, 1, 0, 0.0, 1, 1.0, 1.0),
        # city-gym 3, contact 102 2, leeds-gp 1: HHI (9 + 4 + 1) / 36
        (L1, date(2024, 7, 1)): (hp, 6, 0, 0.0, 3, 1.0, 0.3889),
        # 5006 and 5011 unknown; word of mouth, city-gym, local press one each
        (L1, date(2024, 10, 1)): (hp, 5, 2, 0.4, 3, 1.0, 0.3333),
        (SYD, date(2024, 10, 1)): ("Harbour Sydney", 1, 0, 0.0, 1, 1.0, 1.0),
        # 6002 is 1 December in Perth (still Q4); 6004
        (PER, date(2024, 10, 1)): ("Harbour Perth", 2, 0, 0.0, 2, 1.0, 0.5),
        (UNASSIGNED, date(2024, 7, 1)): ("Unassigned clinic", 1, 0, 0.0, 1, 1.0, 1.0),
    }


def test_partner_feedback(db: duckdb.DuckDBPyConnection) -> None:
    actual = {
        (r["partner_id"], r["period_label"]): (
            r["is_suppressed"],
            r["referrals"],
            r["seen"],
            r["median_days_to_first_appointment"],
        )
        for r in rows(db, "select * from partner_feedback")
    }
    hidden = (True, None, None, None)
    assert actual == {
        # 6001 (seen after 5.25 days) and 6002 (not yet), both consented: shown (min 2)
        ("harbour-ortho", "2024-Q4"): (False, 2, 1, 5.25),
        # 5002 consented, 5009's patient refused: 1 < 2, so hidden (counting the refusal would
        # have shown it)
        (CONTACT_102, "2024-Q3"): hidden,
        ("leeds-gp", "2024-Q3"): hidden,
        ("oakwood-chiro", "2024-Q1"): hidden,
        ("city-gym", "2024-Q3"): hidden,
        ("city-gym", "2024-Q4"): hidden,
        (OTHER_12, "2024-Q4"): hidden,
        (INSTAGRAM, "2024-Q4"): hidden,
        # no rows for word of mouth, google (digital) or unknown: nobody to send them to
    }


def test_every_mart_column_is_described(built: tuple[Path, DbtResult]) -> None:
    warehouse, _ = built
    raw_dir = warehouse.parent.parent / "raw"
    result = docs_generate(raw_dir=raw_dir, warehouse=warehouse, vars=VARS)
    assert result.success
    assert result.target_path is not None
    catalog = json.loads((result.target_path / "catalog.json").read_text())
    manifest = json.loads((result.target_path / "manifest.json").read_text())
    for mart in PUBLISHED_MARTS:
        unique_id = f"model.refnet.{mart}"
        built_columns = {c.lower() for c in catalog["nodes"][unique_id]["columns"]}
        documented = manifest["nodes"][unique_id]["columns"]
        assert manifest["nodes"][unique_id]["description"].strip(), mart
        assert built_columns == set(documented), mart
        undescribed = [c for c, spec in documented.items() if not spec["description"].strip()]
        assert undescribed == [], mart


def mart_contents(warehouse: Path) -> dict[str, list[tuple]]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        con.execute("set TimeZone = 'UTC'")
        return {
            mart: sorted(con.execute(f'select * from "{mart}"').fetchall(), key=repr)
            for mart in PUBLISHED_MARTS
        }
    finally:
        con.close()


def test_same_marts_whatever_the_machine_time_zone(
    built: tuple[Path, DbtResult], tmp_path_factory: pytest.TempPathFactory
) -> None:
    warehouse, _ = built
    sydney_warehouse, result = build_scenario(tmp_path_factory.mktemp("sydney"), "Australia/Sydney")
    assert result.success
    utc_marts = mart_contents(warehouse)
    sydney_marts = mart_contents(sydney_warehouse)
    for mart in PUBLISHED_MARTS:
        assert utc_marts[mart], mart
        assert sydney_marts[mart] == utc_marts[mart], mart


def test_failing_test_raises_with_names_and_counts(tmp_path: Path) -> None:
    raw_dir = write_scenario(tmp_path / "raw")
    # Corrupt the registry: an unknown partner kind and a duplicated partner id.
    partners_file = raw_dir / "registry" / "partners.parquet"
    table = pq.read_table(partners_file)
    kinds = table.column("partner_kind").to_pylist()
    kinds[0] = "wizard"
    ids = table.column("partner_id").to_pylist()
    ids[1] = ids[2]
    table = table.set_column(table.schema.get_field_index("partner_kind"), "partner_kind", [kinds])
    table = table.set_column(table.schema.get_field_index("partner_id"), "partner_id", [ids])
    pq.write_table(table, partners_file)

    with pytest.raises(TransformError) as raised:
        # Only the registry model and its own tests (cautious: not the tests it shares).
        run_dbt(
            ["build", "--select", "stg_registry__partners", "--indirect-selection", "cautious"],
            raw_dir=raw_dir,
            warehouse=tmp_path / "warehouse" / "refnet.duckdb",
            vars=VARS,
        )
    message = str(raised.value)
    assert "failed: 2 node(s)" in message
    assert "accepted_values_stg_registry__partners_partner_kind" in message
    assert "unique_stg_registry__partners_partner_id: 1 failing row(s)" in message
    result = raised.value.result
    assert result is not None
    failed = {n.name: n.failures for n in result.failed_nodes}
    assert failed["unique_stg_registry__partners_partner_id"] == 1
    shutil.rmtree(tmp_path / "warehouse", ignore_errors=True)
