from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from flows.config import ConfigError
from flows.registry import land_registry, load_registry

GOOD = """
partners:
  - id: gp-kirkstall
    name: Kirkstall Health Centre
    kind: gp
    tier: A
    aliases: [kirkstall surgery]
    pms:
      - {source: headingley, cliniko_contact_id: 123456789012345678}
    touchpoints:
      - {date: 2026-09-14, kind: check_in}
  - id: gym-pure
    name: PureGym Headingley
    kind: fitness_sport
    pms:
      - {source: headingley, referral_source_type: Gym, subcategory: PureGym Headingley}
"""


def test_registry_lands_three_tables(tmp_path: Path):
    path = tmp_path / "p.yml"
    path.write_text(GOOD)
    counts = land_registry(load_registry(path), tmp_path / "raw")
    assert counts == {"partners": 2, "partner_links": 2, "touchpoints": 1}
    link = duckdb.sql(
        "select cliniko_contact_id from "
        f"read_parquet('{tmp_path}/raw/registry/partner_links.parquet')"
        " where partner_id = 'gp-kirkstall'"
    ).fetchone()
    assert link == ("123456789012345678",)


def test_no_registry_lands_empty_tables(tmp_path: Path):
    assert land_registry(None, tmp_path) == {"partners": 0, "partner_links": 0, "touchpoints": 0}
    assert (tmp_path / "registry" / "partners.parquet").is_file()


@pytest.mark.parametrize(
    "change, needle",
    [
        (("kind: gp", "kind: doctor"), "partner 'gp-kirkstall': kind"),
        (("tier: A", "teir: A"), "partner 'gp-kirkstall': teir: unknown key"),
        (("id: gym-pure", "id: gp-kirkstall"), "appears more than once"),
        (("kind: check_in", "kind: coffee"), "touchpoints.0.kind"),
        (("subcategory: PureGym Headingley", "cliniko_contact_id: '1'"), "exactly one of"),
    ],
)
def test_registry_errors_name_file_entry_and_key(tmp_path: Path, change, needle):
    path = tmp_path / "partners.yml"
    path.write_text(GOOD.replace(*change))
    with pytest.raises(ConfigError) as err:
        load_registry(path)
    assert str(path) in str(err.value)
    assert needle in str(err.value)


def test_a_link_to_a_source_that_is_not_configured_is_refused(tmp_path: Path):
    path = tmp_path / "partners.yml"
    path.write_text(GOOD)
    assert load_registry(path, ["headingley"]).partners
    with pytest.raises(ConfigError) as err:
        load_registry(path, ["headingly"])
    assert "pms[0].source: no source named 'headingley'" in str(err.value)
    assert "configured: headingly" in str(err.value)


def test_a_link_a_source_kind_never_has_is_refused(tmp_path: Path):
    path = tmp_path / "partners.yml"
    path.write_text(GOOD)
    assert load_registry(path, {"headingley": "cliniko"}).partners
    with pytest.raises(ConfigError) as err:
        load_registry(path, {"headingley": "csv"})
    assert "pms[0].cliniko_contact_id: source 'headingley' is a csv source" in str(err.value)
    fhir = GOOD.replace("cliniko_contact_id: 123456789012345678", "fhir_reference: Practitioner/9")
    path.write_text(fhir)
    with pytest.raises(ConfigError) as err:
        load_registry(path, {"headingley": "cliniko"})
    assert "pms[0].fhir_reference: source 'headingley' is a cliniko source" in str(err.value)
    both = GOOD.replace(
        "cliniko_contact_id: 123456789012345678",
        "cliniko_contact_id: 123456789012345678, fhir_reference: Practitioner/9",
    )
    path.write_text(both)
    with pytest.raises(ConfigError, match="not both"):
        load_registry(path)
