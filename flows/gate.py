"""The publishing gate: Great Expectations suites over the marts, blocking or warning."""

from __future__ import annotations

import json
import logging
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

import duckdb

log = logging.getLogger(__name__)
EXPECTATIONS_DIR = Path(__file__).resolve().parent.parent / "expectations"


@dataclass(frozen=True)
class CheckResult:
    table: str
    check: str
    column: str | None
    severity: str  # blocking | warning
    passed: bool
    observed: str | None
    rows_affected: int | None

    @property
    def blocks(self) -> bool:
        return not self.passed and self.severity == "blocking"


@dataclass(frozen=True)
class GateResult:
    checks: list[CheckResult]

    @property
    def passed(self) -> bool:
        return not any(c.blocks for c in self.checks)

    @property
    def failures(self) -> list[CheckResult]:
        return [c for c in self.checks if not c.passed]

    def summary(self) -> str:
        blocking = [c for c in self.checks if c.blocks]
        warned = [c for c in self.failures if not c.blocks]
        head = (
            f"gate {'passed' if self.passed else 'BLOCKED'}: {len(self.checks)} checks, "
            f"{len(blocking)} blocking failures, {len(warned)} warnings"
        )
        lines = [head]
        for c in blocking + warned:
            col = f".{c.column}" if c.column else ""
            rows = f", {c.rows_affected} rows" if c.rows_affected is not None else ""
            lines.append(
                f"  [{c.severity}] {c.table}{col}: {c.check} (observed {c.observed}{rows})"
            )
        return "\n".join(lines)

    def to_json(self) -> str:
        return json.dumps([asdict(c) for c in self.checks], indent=2, default=str)


def load_suites(directory: Path = EXPECTATIONS_DIR) -> dict[str, dict]:
    return {p.stem: json.loads(p.read_text()) for p in sorted(directory.glob("*.json"))}


def _observed(result: dict) -> str | None:
    if "observed_value" in result:
        return str(result["observed_value"])
    if "unexpected_percent" in result and result["unexpected_percent"] is not None:
        return f"{result['unexpected_percent']:.2f}% unexpected"
    return None


def run_gate(database: Path, schema: str, suites: dict[str, dict] | None = None) -> GateResult:
    """Validate every suite's table in `database`; a missing or unreadable table blocks."""
    suites = suites if suites is not None else load_suites()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import great_expectations as gx
        from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    datasource = context.data_sources.add_pandas("marts")
    checks: list[CheckResult] = []
    con = duckdb.connect(str(database), read_only=True)
    try:
        for name, spec in suites.items():
            table = spec.get("meta", {}).get("table", name)
            try:
                frame = con.sql(f'select * from "{schema}"."{table}"').df()
            except duckdb.Error as exc:
                checks.append(
                    CheckResult(
                        table,
                        "table_readable",
                        None,
                        "blocking",
                        False,
                        str(exc).splitlines()[0],
                        None,
                    )
                )
                continue
            suite = context.suites.add(
                gx.ExpectationSuite(name=name, expectations=spec["expectations"])
            )
            batch = datasource.add_dataframe_asset(name=table).add_batch_definition_whole_dataframe(
                "whole"
            )
            validation = context.validation_definitions.add(
                gx.ValidationDefinition(name=name, data=batch, suite=suite)
            )
            outcome = validation.run(batch_parameters={"dataframe": frame})
            for r in outcome.results:
                cfg = r.expectation_config
                kwargs = cfg.kwargs
                column = (
                    kwargs.get("column")
                    or ",".join(
                        kwargs.get("column_list")
                        or [c for c in (kwargs.get("column_A"), kwargs.get("column_B")) if c]
                    )
                    or None
                )
                result = r.result or {}
                checks.append(
                    CheckResult(
                        table=table,
                        check=cfg.type,
                        column=column,
                        severity=(cfg.meta or {}).get("severity", "blocking"),
                        passed=bool(r.success),
                        observed=_observed(result),
                        rows_affected=result.get("unexpected_count"),
                    )
                )
    finally:
        con.close()
    return GateResult(checks)
