"""Build the dbt project for real on the hand-built scenario and check the marts.

Every expected value below is worked out by hand from tests/scenario.py (its docstring table),
with as_of = 2024-11-30, i.e. the funnel judged at 2024-12-01T00:00Z. Windows: contact 7 days
from received, intake 14 from contacted, booking 30 from received, continue 42 from the first
attended appointment.
"""

from __future__ import annotations

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

from flows.transform import DbtResult, TransformError, build, docs_generate, run_dbt

VARS = {"as_of": AS_OF.isoformat()}

L1 = "cliniko:leeds:1001"  # Headingley Physio, Europe/London
SYD = "cliniko:harbour:2001"  # Harbour Sydney, Australia/Sydney
PER = "cliniko:harbour:2002"  # Harbour Perth, Australia/Perth
UNASSIGNED = "cliniko:harbour:unassigned"
CONTACT_102 = "cliniko-leeds-contact-102"
OTHER_12 = "cliniko-leeds-referral-source-type-12"
INSTAGRAM = "cliniko-harbour-referral-source-type-20-instagram"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, DbtResult]:
    home = tmp_path_factory.mktemp("home")
    raw_dir = write_scenario(home / "raw")
    warehouse = home / "warehouse" / "refnet.duckdb"
    result = build(raw_dir=raw_dir, warehouse=warehouse, vars=VARS)
    return warehouse, result


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
    } <= unit_tests
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
}


def test_referrals_speed_and_revenue(db: duckdb.DuckDBPyConnection) -> None:
    actual = by_key(rows(db, "select * from referrals"), "referral_id")
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
        "city-gym": ("fitness_sport", True, 1),
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
    "dna_rate cancellation_rate revenue"
).split()


def test_partner_performance_monthly(db: duckdb.DuckDBPyConnection) -> None:
    actual = {
        (r["partner_id"], r["month"]): tuple(r[c] for c in PERFORMANCE_COLUMNS)
        for r in rows(db, "select * from partner_performance_monthly")
    }
    zero = Decimal("0.00")
    expected = {
        # 5001: 2 appointments, both attended; seen after 4 days
        ("leeds-gp", date(2024, 9, 1)): (1, 1, 1, 1.0, 1.0, 4.0, 0.0, 0.0, Decimal("105.00")),
        # 5002 (1 attended, seen after 2 days) + 5009 (1 cancelled): 2 appointments
        (CONTACT_102, date(2024, 9, 1)): (2, 2, 1, 1.0, 0.5, 2.0, 0.0, 0.5, Decimal("60.00")),
        # 5003: 3 appointments, 1 cancelled, 2 attended
        ("word-of-mouth", date(2024, 10, 1)): (
            1,
            1,
            1,
            1.0,
            1.0,
            7.04,
            0.0,
            0.3333,
            Decimal("105.00"),
        ),
        ("word-of-mouth", date(2024, 9, 1)): (1, 0, 0, 0.0, 0.0, None, None, None, zero),
        ("google", date(2024, 4, 1)): (1, 0, 0, 0.0, 0.0, None, None, None, zero),
        ("oakwood-chiro", date(2024, 3, 1)): (1, 0, 0, 0.0, 0.0, None, None, None, zero),
        # 5006: its only appointment was a DNA
        ("unknown", date(2024, 10, 1)): (1, 1, 0, 1.0, 0.0, None, 1.0, 0.0, zero),
        ("city-gym", date(2024, 11, 1)): (1, 0, 0, 0.0, 0.0, None, None, None, zero),
        ("unknown", date(2024, 11, 1)): (1, 0, 0, 0.0, 0.0, None, None, None, zero),
        (OTHER_12, date(2024, 11, 1)): (1, 0, 0, 0.0, 0.0, None, None, None, zero),
        ("harbour-ortho", date(2024, 11, 1)): (
            1,
            1,
            1,
            1.0,
            1.0,
            5.25,
            0.0,
            0.0,
            Decimal("215.50"),
        ),
        ("harbour-ortho", date(2024, 12, 1)): (1, 0, 0, 0.0, 0.0, None, None, None, zero),
        # 6004: one pending appointment: nothing due yet, nothing cancelled
        (INSTAGRAM, date(2024, 11, 1)): (1, 1, 0, 1.0, 0.0, None, None, 0.0, zero),
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


def test_unmatched_answers_are_listed(db: duckdb.DuckDBPyConnection) -> None:
    unmatched = rows(db, "select * from int_intake_answers_unmatched")
    assert [
        (r["account"], r["heard_about_answer_normalised"], r["referrals"], r["unknown_referrals"])
        for r in unmatched
    ] == [("leeds", "saw a flyer at the library", 1, 1)]


def test_docs_generate(built: tuple[Path, DbtResult]) -> None:
    warehouse, _ = built
    raw_dir = warehouse.parent.parent / "raw"
    result = docs_generate(raw_dir=raw_dir, warehouse=warehouse, vars=VARS)
    assert result.success
    assert (result.target_path / "catalog.json").exists()


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
