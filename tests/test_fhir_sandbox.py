"""The same sandbox world pulled through the Cliniko API and through FHIR gives the same marts.

Compared: every column of every row of `referrals` and `partner_performance_monthly`, after
mapping the ids that must differ by source: `cliniko:sandbox:<id>` and
`fhir:sandbox:<ResourceType>/<id>` (referrals, clinics), `cliniko-sandbox-contact-<id>` and
`fhir-sandbox-contact-practitionerrole-<id>` (unregistered referrers), the `cliniko-` /
`fhir-` prefix of other PMS-only partner slugs, the bare case id vs `ServiceRequest/<id>`, and
`source_kind` itself. Registry partner ids, names, kinds, dates, counts, rates and revenue are
compared as they are. Both runs extract for real over HTTP and build with dbt for real.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from flows import cliniko, fhir
from flows.config import ClinikoSource, FhirSource
from flows.registry import land_registry, load_registry
from flows.sandbox.fhir import fhir_registry_yaml, fhir_resources, serving_fhir
from flows.sandbox.server import running_sandbox
from flows.sandbox.world import build_world, registry_yaml
from flows.transform import build

SECRET = b"sandbox-compare-secret"
KEY = "refnet-sandbox-compare-key-uk1"
TOKEN = "refnet-sandbox-compare-token"
SCALE = 0.05

_MAPPINGS = (
    (re.compile(r"^fhir:sandbox:(?:ServiceRequest|Location|Appointment)/"), "sandbox:"),
    (re.compile(r"^cliniko:sandbox:"), "sandbox:"),
    (re.compile(r"^fhir:sandbox:"), "sandbox:"),
    (re.compile(r"^fhir-sandbox-contact-practitionerrole-"), "pms-contact-"),
    (re.compile(r"^cliniko-sandbox-contact-"), "pms-contact-"),
    (re.compile(r"^(?:fhir|cliniko)-sandbox-"), "pms-"),
    (re.compile(r"^ServiceRequest/"), ""),
)


def canonical(value: object) -> object:
    if value in ("cliniko", "fhir"):
        return "<source kind>"
    if isinstance(value, str):
        for pattern, replacement in _MAPPINGS:
            value = pattern.sub(replacement, value)
    return value


def mart(warehouse: Path, table: str) -> list[tuple]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        con.execute("set TimeZone = 'UTC'")
        rows = con.execute(f"select * from {table}").fetchall()  # noqa: S608 - fixed names
    finally:
        con.close()
    return sorted((tuple(canonical(v) for v in row) for row in rows), key=repr)


def write_registry(folder: Path, text: str) -> Path:
    path = folder / "partners.yml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def both(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, object]:
    world = build_world(seed=7, scale=SCALE)
    as_of = {"as_of": world.end_date.isoformat()}

    via_cliniko = tmp_path_factory.mktemp("via-cliniko")
    with running_sandbox(world, api_key=KEY, requests_per_minute=0) as base_url:
        source = ClinikoSource(
            name="sandbox",
            kind="cliniko",
            api_key=KEY,
            base_url=base_url,
            contact_email="tests@refnet.example",
            requests_per_minute=6000,
        )
        cliniko.extract_source(source, via_cliniko, "run1", SECRET)
    land_registry(
        load_registry(write_registry(via_cliniko, registry_yaml(world))), via_cliniko / "raw"
    )
    build(raw_dir=via_cliniko / "raw", warehouse=via_cliniko / "refnet.duckdb", vars=as_of)

    via_fhir = tmp_path_factory.mktemp("via-fhir")
    mp = pytest.MonkeyPatch()
    mp.setenv("SANDBOX_FHIR_TOKEN", TOKEN)
    try:
        with serving_fhir(fhir_resources(world), token=TOKEN) as server:
            source = FhirSource(
                name="sandbox",
                kind="fhir",
                base_url=server.base_url,
                auth={"kind": "bearer", "token_env": "SANDBOX_FHIR_TOKEN"},
                contact_email="tests@refnet.example",
                requests_per_minute=6000,
            )
            fhir.extract_source(source, via_fhir, "run1", SECRET)
    finally:
        mp.undo()
    land_registry(
        load_registry(write_registry(via_fhir, fhir_registry_yaml(world))), via_fhir / "raw"
    )
    build(raw_dir=via_fhir / "raw", warehouse=via_fhir / "refnet.duckdb", vars=as_of)
    return via_cliniko / "refnet.duckdb", via_fhir / "refnet.duckdb", world


def test_referrals_are_identical(both) -> None:
    via_cliniko, via_fhir, world = both
    left, right = mart(via_cliniko, "referrals"), mart(via_fhir, "referrals")
    assert len(left) == len(world.referrals) > 50
    assert [r for r in left if r not in right] == []
    assert left == right


def test_partner_performance_monthly_is_identical(both) -> None:
    via_cliniko, via_fhir, _ = both
    left = mart(via_cliniko, "partner_performance_monthly")
    right = mart(via_fhir, "partner_performance_monthly")
    assert len(left) > 20
    assert sum(r[4] for r in left) > 50  # referrals over all partner-months
    assert any(isinstance(v, Decimal) and v > 0 for r in left for v in r)  # revenue reached
    assert any(isinstance(v, date) for r in left for v in r)
    assert [r for r in left if r not in right] == []
    assert left == right
