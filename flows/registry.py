"""The clinic's partner registry (YAML): validated, then landed for dbt as three Parquet files."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from pathlib import Path
from typing import Annotated, Literal

import pyarrow as pa
import pyarrow.parquet as pq
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from flows.config import ConfigError, invalid_file, read_yaml
from flows.land import write_atomic

PartnerKind = Literal[
    "gp",
    "consultant",
    "allied_health",
    "fitness_sport",
    "workplace_community",
    "patient",
    "digital",
    "other",
    "unknown",
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PmsLink(_Strict):
    source: str
    cliniko_contact_id: str | None = None
    # A FHIR source's referrer: `PractitionerRole/<id>`, `Practitioner/<id>` or `Organization/<id>`.
    fhir_reference: (
        Annotated[
            str,
            Field(pattern=r"^(PractitionerRole|Practitioner|Organization)/[A-Za-z0-9.-]{1,64}$"),
        ]
        | None
    ) = None
    referral_source_type: str | None = None
    subcategory: str | None = None
    referrer_type: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _ids_as_text(cls, data: object) -> object:
        # YAML reads an unquoted 18-digit id as an int: keep it exact, as text.
        if isinstance(data, dict) and isinstance(data.get("cliniko_contact_id"), int):
            data = {**data, "cliniko_contact_id": str(data["cliniko_contact_id"])}
        return data

    @model_validator(mode="after")
    def _one_kind(self) -> PmsLink:
        if self.cliniko_contact_id is not None and self.fhir_reference is not None:
            raise ValueError("give cliniko_contact_id or fhir_reference, not both")
        kinds = [
            self.cliniko_contact_id is not None or self.fhir_reference is not None,
            self.referral_source_type is not None,
            self.referrer_type is not None,
        ]
        if sum(kinds) != 1:
            raise ValueError(
                "give exactly one of cliniko_contact_id (or, for a FHIR source, fhir_reference), "
                "referral_source_type (with optional subcategory) or referrer_type"
            )
        return self

    @property
    def link_type(self) -> str:
        if self.cliniko_contact_id is not None or self.fhir_reference is not None:
            return "contact"
        return "referral_source" if self.referral_source_type is not None else "referrer_type"


class Touchpoint(_Strict):
    date: date
    kind: Literal["check_in", "talk", "referral_guide", "visit", "call", "email", "other"]
    note: str | None = None


class Partner(_Strict):
    id: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,80}$")]
    name: Annotated[str, Field(min_length=1)]
    kind: PartnerKind
    tier: Literal["A", "B", "C"] | None = None
    aliases: list[str] = []
    start_date: date | None = None
    pms: list[PmsLink] = []
    touchpoints: list[Touchpoint] = []


class Registry(_Strict):
    partners: list[Partner]

    @model_validator(mode="after")
    def _unique(self) -> Registry:
        seen: set[str] = set()
        for p in self.partners:
            if p.id in seen:
                raise ValueError(f"partner id '{p.id}' appears more than once")
            seen.add(p.id)
        return self


# Which link a source kind can match: a CSV export has no referrer records at all.
_LINKS_BY_KIND = {
    "cliniko": {"cliniko_contact_id", "referral_source_type", "referrer_type"},
    "fhir": {"fhir_reference", "referral_source_type", "referrer_type"},
    "csv": set(),
}


def _link_field(link: PmsLink) -> str:
    for name in ("cliniko_contact_id", "fhir_reference", "referral_source_type", "referrer_type"):
        if getattr(link, name) is not None:
            return name
    return "?"


def load_registry(path: Path, sources: Iterable[str] | Mapping[str, str] | None = None) -> Registry:
    """Validate a registry file; errors name the file, the entry (id or position) and the key.
    With `sources` (the configured source names, or names to kinds), a link to any other source
    is refused, and so is a link of a type that source kind never has: either would silently
    attribute nothing to the partner."""
    registry = _parse_registry(path)
    if sources is not None:
        kinds = dict(sources) if isinstance(sources, Mapping) else dict.fromkeys(sources)
        known = set(kinds)
        bad = []
        for p in registry.partners:
            for i, link in enumerate(p.pms):
                if link.source not in known:
                    bad.append(
                        f"  partner '{p.id}': pms[{i}].source: no source named '{link.source}' "
                        f"in the configuration (configured: {', '.join(sorted(known)) or 'none'})"
                    )
                    continue
                kind, field = kinds[link.source], _link_field(link)
                if kind in _LINKS_BY_KIND and field not in _LINKS_BY_KIND[kind]:
                    allowed = ", ".join(sorted(_LINKS_BY_KIND[kind])) or "none (no referrers)"
                    bad.append(
                        f"  partner '{p.id}': pms[{i}].{field}: source '{link.source}' is a "
                        f"{kind} source, which has no {field} (its links: {allowed})"
                    )
        if bad:
            raise ConfigError("\n".join([f"{path}: invalid partner registry", *bad]))
    return registry


def _parse_registry(path: Path) -> Registry:
    data = read_yaml(path, "partner registry")
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping with a 'partners' list")
    try:
        return Registry.model_validate(data)
    except ValidationError as exc:
        entries = data.get("partners") if isinstance(data.get("partners"), list) else []

        def where(loc: tuple) -> str:
            if len(loc) >= 2 and loc[0] == "partners" and isinstance(loc[1], int):
                entry = entries[loc[1]] if loc[1] < len(entries) else None
                name = entry.get("id") if isinstance(entry, dict) else None
                label = f"partner '{name}'" if name else f"partner #{loc[1] + 1}"
                return f"{label}: {'.'.join(str(p) for p in loc[2:]) or '(entry)'}"
            return ".".join(str(p) for p in loc)

        raise invalid_file(path, "partner registry", exc, where=where) from None


def land_registry(registry: Registry | None, raw_dir: Path) -> dict[str, int]:
    """Rewrite the registry files whole: the YAML is the truth, not its history."""
    partners = registry.partners if registry else []
    out = raw_dir / "registry"
    tables = {
        "partners": pa.table(
            {
                "partner_id": [p.id for p in partners],
                "partner_name": [p.name for p in partners],
                "partner_kind": [p.kind for p in partners],
                "tier": [p.tier for p in partners],
                "aliases": [list(p.aliases) for p in partners],
                "start_date": [p.start_date for p in partners],
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
        ),
        "partner_links": pa.table(
            {
                "partner_id": [p.id for p in partners for _ in p.pms],
                "source": [link.source for p in partners for link in p.pms],
                "link_type": [link.link_type for p in partners for link in p.pms],
                "cliniko_contact_id": [link.cliniko_contact_id for p in partners for link in p.pms],
                "fhir_reference": [link.fhir_reference for p in partners for link in p.pms],
                "referral_source_type": [
                    link.referral_source_type for p in partners for link in p.pms
                ],
                "subcategory": [link.subcategory for p in partners for link in p.pms],
                "referrer_type": [link.referrer_type for p in partners for link in p.pms],
            },
            schema=pa.schema(
                [
                    (c, pa.string())
                    for c in (
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
            ),
        ),
        "touchpoints": pa.table(
            {
                "partner_id": [p.id for p in partners for _ in p.touchpoints],
                "touchpoint_date": [t.date for p in partners for t in p.touchpoints],
                "kind": [t.kind for p in partners for t in p.touchpoints],
                "note": [t.note for p in partners for t in p.touchpoints],
            },
            schema=pa.schema(
                [
                    ("partner_id", pa.string()),
                    ("touchpoint_date", pa.date32()),
                    ("kind", pa.string()),
                    ("note", pa.string()),
                ]
            ),
        ),
    }
    for name, table in tables.items():
        sink = pa.BufferOutputStream()
        pq.write_table(table, sink)
        write_atomic(out / f"{name}.parquet", sink.getvalue().to_pybytes())
    return {name: t.num_rows for name, t in tables.items()}
