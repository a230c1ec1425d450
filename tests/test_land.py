"""Landing: what reaches disk, and what never does."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest
from conftest import SHARED

from flows.cliniko import record_id
from flows.land import ALLOWED, BatchWriter, CursorStore, Pseudonymiser, intake_answer

EXAMPLES = SHARED / "data" / "cliniko" / "examples"
PSEUDO = Pseudonymiser(b"k", "How did you hear about us?")


def test_patient_example_keeps_no_identity():
    patient = json.loads((EXAMPLES / "patients.json").read_text())["patients"][0]
    clean = PSEUDO.clean("patients", "acct", patient)
    text = json.dumps(clean)
    for field in ("first_name", "last_name", "email", "date_of_birth", "address_1", "notes"):
        value = patient.get(field)
        if isinstance(value, str) and len(value) > 3:
            assert value not in text, field
    assert len(clean["patient_key"]) == 32
    if patient.get("date_of_birth"):
        assert clean["birth_year"] == int(patient["date_of_birth"][:4])


def test_patient_key_is_keyed_and_stable():
    a = Pseudonymiser(b"one", "q").patient_key("acct", "42")
    assert a == Pseudonymiser(b"one", "q").patient_key("acct", "42")
    assert a != Pseudonymiser(b"two", "q").patient_key("acct", "42")
    assert a != Pseudonymiser(b"one", "q").patient_key("other", "42")


def test_form_content_is_reduced_to_the_configured_answer():
    form = json.loads((EXAMPLES / "patient_forms.json").read_text())["patient_forms"][0]
    form["content"]["sections"].append(
        {
            "name": "About",
            "questions": [
                {"name": "How did you hear about us?", "type": "text", "answer": " Pure Gym "},
                {"name": "Your full name", "type": "text", "answer": "Secret Person"},
            ],
        }
    )
    clean = PSEUDO.clean("patient_forms", "acct", form)
    assert clean["heard_about_answer"] == "Pure Gym"
    assert "content" not in clean and "url" not in clean
    assert "Secret Person" not in json.dumps(clean)


def test_checkbox_answers_are_joined():
    content = {
        "sections": [
            {
                "questions": [
                    {
                        "name": "how did you hear about us?",
                        "answers": [
                            {"value": "Google", "selected": True},
                            {"value": "GP"},
                            {"value": "Gym", "selected": True},
                        ],
                    }
                ]
            }
        ]
    }
    assert intake_answer(content, "How did you hear about us?") == "Google; Gym"


def test_every_stream_has_an_allow_list():
    from flows.cliniko import STREAMS

    assert {s.name for s in STREAMS} <= set(ALLOWED)


@pytest.mark.parametrize(
    "record, expected",
    [
        ({"id": 1}, "1"),
        ({"id": "564393784322819470"}, "564393784322819470"),
        ({"links": {"self": "https://api.au1.cliniko.com/v1/patients/123/referral_source"}}, "123"),
        ({"links": {"self": "https://api.au1.cliniko.com/v1/individual_appointments/9"}}, "9"),
        ({"id": "", "links": {}}, None),
    ],
)
def test_record_ids_are_text(record, expected):
    assert record_id(record) == expected


def test_batches_are_readable_parquet(tmp_path: Path):
    writer = BatchWriter(tmp_path / "s", "cliniko", "acct", "patients", "run1")
    path = writer.write([("1", "2026-01-01T00:00:00Z", '{"id":"1"}')])
    row = duckdb.sql(f"select id, account, record from read_parquet('{path}')").fetchone()
    assert row == ("1", "acct", '{"id":"1"}')
    assert not list((tmp_path / "s").glob(".*tmp"))


def test_cursor_store_round_trip_and_corruption(tmp_path: Path):
    store = CursorStore(tmp_path)
    assert store.get("cliniko", "a", "patients") is None
    store.commit("cliniko", "a", "patients", "2026-01-01T00:00:00Z", "run1")
    assert store.get("cliniko", "a", "patients") == "2026-01-01T00:00:00Z"
    (tmp_path / "cliniko" / "a" / "patients.json").write_text("{not json")
    with pytest.raises(Exception, match="delete it to re-sync"):
        store.get("cliniko", "a", "patients")


def _consent_fields(selected: str | None, other_text: str = "Mrs Jane Example") -> dict:
    def option(name: str) -> dict:
        return {"name": name, "token": f"t-{name}", "selected": name == selected}

    return {
        "sections": [
            {
                "name": "Consent",
                "token": "s1",
                "fields": [
                    {"name": "Next of kin", "type": "text", "token": "f0", "value": other_text},
                    {
                        "name": "Share my progress with my referrer",
                        "type": "radiobuttons",
                        "token": "f1",
                        "options": [option("Yes"), option("No")],
                    },
                ],
            }
        ]
    }


@pytest.mark.parametrize(
    ("custom_fields", "expected"),
    [
        (_consent_fields("Yes"), True),
        (_consent_fields("No"), False),
        (_consent_fields(None), None),  # asked, not answered
        (None, None),  # the clinic has no such field
    ],
)
def test_consent_custom_field_lands_as_a_boolean_and_nothing_else(custom_fields, expected):
    patient = json.loads((EXAMPLES / "patients.json").read_text())["patients"][0]
    patient["custom_fields"] = custom_fields
    clean = PSEUDO.clean("patients", "acct", patient)
    assert clean["shares_with_referrer"] is expected
    assert "custom_fields" not in clean
    assert "Jane Example" not in json.dumps(clean)
