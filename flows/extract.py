"""One entry point for every source kind: pick the connector the source's `kind` names."""

from __future__ import annotations

from pathlib import Path

from flows.cliniko import StreamStats
from flows.config import ClinikoSource, CsvSource, FhirSource


def extract_source(
    source: ClinikoSource | FhirSource | CsvSource, home: Path, run_id: str, secret: bytes
) -> list[StreamStats]:
    """Land every stream of one source; the cursors move only after their data is on disk."""
    if isinstance(source, CsvSource):
        from flows import csv_source

        return csv_source.extract_csv_source(source, home, run_id, secret)
    if isinstance(source, FhirSource):
        from flows import fhir

        return list(fhir.extract_source(source, home, run_id, secret))
    from flows import cliniko

    return cliniko.extract_source(source, home, run_id, secret)


def reset_cursors(home: Path, source: ClinikoSource | FhirSource | CsvSource) -> None:
    """Forget a source's cursors: its next extraction reads every record again (a CSV source
    forgets which export files it landed, and lands them all again)."""
    if isinstance(source, CsvSource):
        from flows import csv_source

        csv_source.forget_landed(home, source.name)
    elif isinstance(source, FhirSource):
        from flows import fhir

        fhir.reset_cursors(home, source.name)
    else:
        from flows import cliniko

        cliniko.reset_cursors(home, source.name)
