"""The quality gate: known-bad data is caught, named, and never replaces the published report.

One real demo run (conftest's `demo_home`) publishes once; each bad-data test seeds its fault
into a copy of that home's warehouse or state and runs `refnet publish`, the gate-and-publish
path every `refnet run` ends with (no extraction or dbt, so each case costs seconds).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest
from conftest import csv_only_config, refnet

from flows.config import GateConfig
from flows.gate import landed_referral_sources, load_history, load_suites, run_gate
from flows.publish import PUBLISHED_MARTS


def tree_fingerprint(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            digest.update(str(path.relative_to(folder)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


@pytest.fixture(scope="session")
def gate_home(demo_home: Path, tmp_path_factory) -> Path:
    """A private copy of the published demo home, with pristine copies to restore from."""
    home = tmp_path_factory.mktemp("gate") / "home"
    shutil.copytree(
        demo_home, home, symlinks=True, ignore=shutil.ignore_patterns("prefect", "run.lock")
    )
    shutil.copyfile(home / "warehouse" / "refnet.duckdb", home / "pristine.duckdb")
    shutil.copytree(home / "state", home / "pristine-state")
    return home


@pytest.fixture
def seeded_home(gate_home: Path) -> Path:
    shutil.copyfile(gate_home / "pristine.duckdb", gate_home / "warehouse" / "refnet.duckdb")
    shutil.rmtree(gate_home / "state")
    shutil.copytree(gate_home / "pristine-state", gate_home / "state")
    return gate_home


def _sql(home: Path, *statements: str) -> None:
    con = duckdb.connect(str(home / "warehouse" / "refnet.duckdb"))
    try:
        for statement in statements:
            con.execute(statement)
    finally:
        con.close()


def _age_cursors(home: Path, days: int) -> None:
    old = (datetime.now(UTC) - timedelta(days=days)).isoformat()
    for path in (home / "state").rglob("*.json"):
        body = json.loads(path.read_text())
        body["committed_at"] = body["checked_at"] = old
        path.write_text(json.dumps(body))


SEEDS = {
    "empty_mart": (
        lambda h: _sql(h, "delete from main.funnel_monthly"),
        "funnel_monthly",
        "not_empty",
    ),
    "duplicate_key": (
        lambda h: _sql(
            h,
            "create or replace table main.partners as select * from main.partners "
            "union all (select * from main.partners order by partner_id limit 1)",
        ),
        "partners.partner_id",
        "partner_id_unique",
    ),
    "broken_relationship": (
        lambda h: _sql(
            h,
            "update main.referrals set partner_id = 'no-such-partner' where referral_id in "
            "(select referral_id from main.referrals order by referral_id limit 3)",
        ),
        "referrals.partner_id",
        "partner_id_in_partners",
    ),
    "attended_before_booked": (
        lambda h: _sql(
            h,
            "update main.referrals set first_attended_at = first_booked_at - interval 2 day "
            "where referral_id in (select referral_id from main.referrals "
            "where first_attended_at is not null order by referral_id limit 2)",
        ),
        "referrals.first_attended_at,first_booked_at",
        "attended_not_before_booked",
    ),
    "stale_source": (
        lambda h: _age_cursors(h, days=10),
        "source_freshness.age_hours",
        "source_fresh",
    ),
    "volume_collapse": (
        lambda h: _sql(
            h,
            "delete from main.referrals where referral_id not in "
            "(select referral_id from main.referrals order by referral_id limit 20)",
        ),
        "referrals",
        "volume_vs_last_published",
    ),
}


@pytest.mark.parametrize("kind", sorted(SEEDS))
def test_bad_data_blocks_publishing_and_keeps_the_last_good_report(seeded_home: Path, kind):
    seed, where, check = SEEDS[kind]
    marts = seeded_home / "published" / "marts.duckdb"
    site = seeded_home / "site"
    marts_bytes = marts.read_bytes()
    site_target = os.readlink(site)
    site_print = tree_fingerprint(site.resolve())
    runs_before = set((seeded_home / "runs" / "gate").glob("*.json"))

    seed(seeded_home)
    result = refnet("publish", "--home", str(seeded_home))

    assert result.returncode == 1, result.stdout[-2000:] + result.stderr[-2000:]
    assert "gate BLOCKED" in result.stderr
    failed = [line for line in result.stderr.splitlines() if "[blocking]" in line]
    assert any(f"{where}: {check} " in line for line in failed), result.stderr[-3000:]
    assert marts.read_bytes() == marts_bytes
    assert os.readlink(site) == site_target
    assert tree_fingerprint(site.resolve()) == site_print
    # The blocked run's results are kept (and published with the next good run).
    (new,) = set((seeded_home / "runs" / "gate").glob("*.json")) - runs_before
    rows = json.loads(new.read_text())
    assert any(r["check_name"] == check and r["passed"] is False for r in rows)
    assert new.with_suffix(".html").is_file()


def test_gate_fails_on_empty_and_unreadable_tables(demo_home: Path, tmp_path: Path):
    # Known-bad data straight into run_gate: a column check alone would pass an empty table.
    db = tmp_path / "bad.duckdb"
    con = duckdb.connect(str(db))
    con.execute(f"attach '{demo_home / 'published' / 'marts.duckdb'}' as pub (read_only)")
    for table in PUBLISHED_MARTS:
        con.execute(f"create table main.{table} as select * from pub.main.{table}")
    con.execute("delete from main.partner_performance_monthly")
    con.execute("drop table main.funnel_monthly")
    con.execute("detach pub")
    con.close()

    result = run_gate(db, "main", load_suites(), settings=GateConfig(), state_dir=tmp_path)

    assert not result.passed
    blocked = {(c.table, c.check) for c in result.checks if c.blocks}
    assert ("partner_performance_monthly", "not_empty") in blocked
    assert ("funnel_monthly", "table_readable") in blocked
    # No cursor at all: nothing is known to be fresh.
    assert ("source_freshness", "source_extracted") in blocked


def test_unknown_share_over_the_ceiling_warns_without_blocking(demo_home: Path, tmp_path: Path):
    marts = demo_home / "published" / "marts.duckdb"
    suites = {"referrals": load_suites()["referrals"]}
    strict = run_gate(marts, "main", suites, settings=GateConfig(max_unknown_share=0.0))
    (check,) = [c for c in strict.checks if c.check == "unknown_share_under_ceiling"]
    assert not check.passed and check.severity == "warning" and check.rows_affected > 0
    assert strict.passed  # a warning publishes
    lenient = run_gate(marts, "main", suites, settings=GateConfig(max_unknown_share=1.0))
    assert all(c.passed for c in lenient.checks if c.check == "unknown_share_under_ceiling")


# What an owner reading the Data quality page must never see: the checks' machinery.
TECHNICAL = re.compile(r"_|\bexpect|min_value|max_value|value_set|mostly|\bnull\b|column|mart\b")


def test_every_check_is_named_and_marked_blocking_or_warning():
    suites = load_suites()
    assert set(PUBLISHED_MARTS) <= set(suites)
    for name, spec in suites.items():
        assert spec["meta"]["title"] and not TECHNICAL.search(spec["meta"]["title"]), name
        for exp in spec["expectations"]:
            assert exp["meta"]["severity"] in ("blocking", "warning"), (name, exp)
            assert exp["meta"].get("check"), (name, exp)
            # Said in plain words (its {parameters} are filled in at run time).
            text = re.sub(r"\{[a-z_]+(:[^}]*)?\}", "N", exp["meta"]["description"])
            assert not TECHNICAL.search(text), (name, exp["meta"])
        types = [e["type"] for e in spec["expectations"]]
        assert "expect_table_row_count_to_be_between" in types, f"{name} passes when empty"


def test_published_run_carries_its_gate_results(demo_home: Path):
    con = duckdb.connect(str(demo_home / "published" / "marts.duckdb"), read_only=True)
    try:
        runs = con.sql("select distinct run_id from gate_results").fetchall()
        failed_blocking = con.sql(
            "select count(*) from gate_results where run_id = (select max(run_id) "
            "from gate_results) and not passed and severity = 'blocking'"
        ).fetchone()[0]
        checks = con.sql(
            "select count(*) from gate_results where run_id = (select max(run_id) "
            "from gate_results)"
        ).fetchone()[0]
    finally:
        con.close()
    assert runs and failed_blocking == 0 and checks > 40
    report = (demo_home / "site" / "gate-report.html").read_text()
    assert "gate passed" in report and "<script" not in report and "http" not in report


REFERRAL_MARTS = {
    "referrals",
    "funnel_monthly",
    "partner_performance_monthly",
    "network_summary",
    "partner_feedback",
    "unmatched_intake_answers",
}


def test_csv_only_clinic_publishes_with_referral_checks_not_applicable(csv_only_home: dict):
    home = csv_only_home["home"]
    assert "gate passed" in csv_only_home["out"]
    assert "not applicable (no configured source provides referrals)" in csv_only_home["out"]
    con = duckdb.connect(str(home / "published" / "marts.duckdb"), read_only=True)
    try:
        latest = con.sql(
            "select table_name, check_name, applicable, passed, observed from gate_results "
            "where run_id = (select max(run_id) from gate_results)"
        ).fetchall()
        appointments = con.sql("select count(*) from appointments").fetchone()[0]
        referrals = con.sql("select count(*) from referrals").fetchone()[0]
    finally:
        con.close()
    assert (appointments, referrals) == (64, 0)
    skipped = {t for t, _, applicable, _, _ in latest if not applicable}
    assert skipped == REFERRAL_MARTS
    for table, check, applicable, passed, observed in latest:
        if applicable:  # everything else was evaluated, and passed
            assert passed is True, (table, check, observed)
        else:  # never claimed as passed: not evaluated at all
            assert passed is None and observed.startswith("not applicable"), (table, check)
    report = next((home / "site").resolve().glob("gate-report.html")).read_text()
    assert "not applicable" in report


def test_a_referral_source_in_the_config_makes_empty_referral_marts_block(
    csv_only_home: dict, tmp_path: Path
):
    """The same warehouse, gated with a configuration that has a referral source: blocked."""
    home = tmp_path / "home"
    shutil.copytree(
        csv_only_home["home"], home, symlinks=True, ignore=shutil.ignore_patterns("prefect")
    )
    cliniko = {
        "name": "leeds",
        "kind": "cliniko",
        "api_key_env": "CSV_ONLY_TEST_UNUSED_KEY",
        "contact_email": "ops@clinic.example",
    }
    marts = home / "published" / "marts.duckdb"
    before = marts.read_bytes()

    result = refnet(
        "publish", "--config", str(csv_only_config(tmp_path, (cliniko,))), "--home", str(home)
    )

    assert result.returncode == 1, result.stdout[-2000:] + result.stderr[-2000:]
    blocked = [line.strip() for line in result.stderr.splitlines() if "[blocking]" in line]
    assert any(line.startswith("[blocking] referrals: not_empty ") for line in blocked)
    assert "not applicable" not in result.stderr
    assert marts.read_bytes() == before


def test_without_a_config_the_landed_sources_say_whether_referrals_are_expected(tmp_path: Path):
    raw = tmp_path / "raw"
    for folder in (
        "cliniko/_none/patient_cases",  # the transform's placeholder, not a source
        "cliniko/leeds/patient_cases",
        "fhir/harbour/ServiceRequest",
        "fhir/appointments-only/Appointment",
        "csv/vitoria/appointments",
    ):
        (raw / folder).mkdir(parents=True)
    assert landed_referral_sources(raw) == ["harbour", "leeds"]
    assert landed_referral_sources(tmp_path / "nothing-landed") == []


def test_results_kept_from_before_plain_words_get_them_from_the_suites(tmp_path: Path):
    old = [
        {
            "run_id": "r1",
            "table_name": "referrals",
            "check_name": "referral_id_unique",
            "column_name": "referral_id",
            "severity": "blocking",
            "passed": False,
        },
        # a setting in its description (unknown for that run), and a check since renamed
        {
            "run_id": "r1",
            "table_name": "source_freshness",
            "check_name": "source_fresh",
            "column_name": "age_hours",
            "severity": "blocking",
            "passed": True,
        },
        {
            "run_id": "r1",
            "table_name": "clinics",
            "check_name": "clinic_id_be_unique",
            "column_name": "clinic_id",
            "severity": "blocking",
            "passed": True,
        },
    ]
    (tmp_path / "gate").mkdir()
    (tmp_path / "gate" / "r1.json").write_text(json.dumps(old))
    rows = load_history(tmp_path)
    assert [(r["area"], r["description"]) for r in rows] == [
        ("Referrals", "No referral is counted twice."),
        ("Data sources", "A check of data sources (that night's gate report names it)"),
        ("Clinics", "A check of clinics (that night's gate report names it)"),
    ]
