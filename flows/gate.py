"""The publishing gate: Great Expectations suites over the marts, blocking or warning.

The suites in `expectations/*.json` are the single, hand-reviewed source of every check. Each
expectation carries `meta.check` (a short name the run summary and the gate report show),
`meta.severity` (`blocking` stops publishing, `warning` publishes with a visible warning) and
`meta.description` (what is checked, in plain words for the clinic's owner: the site's Data
quality page shows it, with the suite's `meta.title`; `{name}`s in it are filled in from the
parameters below and the `gate:` settings).
Values only known at run time are GX suite parameters (`{"$PARAMETER": name}`), resolved here:

- `keys__<table>__<column>` the distinct values of that column (relationships between marts)
- `min_rows__<table>`       the fewest rows allowed: the last published run's count less
                            `gate.max_row_drop` (1 when nothing was published yet)
- `max_source_age_hours`   `gate.max_source_age_hours`
- `min_known_share`        1 - `gate.max_unknown_share`

`source_freshness` is a source-level table the gate builds itself from `<home>/state/` cursors.

A suite whose `meta.needs` is `referrals` checks a mart built from referrals. When no configured
source provides referrals (a CSV-only clinic: exports carry appointments only) and that mart is
empty, its checks are *not applicable*: recorded, shown, never blocking.
"""

from __future__ import annotations

import functools
import html
import json
import math
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from flows.config import GateConfig
from flows.land import write_atomic

EXPECTATIONS_DIR = Path(__file__).resolve().parent.parent / "expectations"
SOURCE_FRESHNESS = "source_freshness"
HISTORY_RUNS = 30  # gate results of this many runs go into the published gate_results table
_PARAM = "$PARAMETER"


class GateError(Exception):
    """The gate could not run (a suite is malformed); the message names the file and key."""


@dataclass(frozen=True)
class CheckResult:
    table: str
    check: str
    column: str | None
    severity: str  # blocking | warning
    passed: bool | None  # None: not applicable (not evaluated)
    observed: str | None
    rows_affected: int | None
    expectation: str = ""
    expected: str | None = None
    applicable: bool = True
    area: str = ""  # the suite's plain title ("Referrals")
    description: str = ""  # what was checked, in plain words

    @property
    def failed(self) -> bool:
        return self.applicable and not self.passed

    @property
    def blocks(self) -> bool:
        return self.failed and self.severity == "blocking"


@dataclass(frozen=True)
class GateResult:
    checks: list[CheckResult]
    run_id: str = ""
    checked_at: str = ""

    @property
    def passed(self) -> bool:
        return not any(c.blocks for c in self.checks)

    @property
    def failures(self) -> list[CheckResult]:
        return [c for c in self.checks if c.failed]

    @property
    def not_applicable(self) -> list[CheckResult]:
        return [c for c in self.checks if not c.applicable]

    def headline(self) -> str:
        blocking = sum(c.blocks for c in self.checks)
        warned = len(self.failures) - blocking
        skipped = f", {len(self.not_applicable)} not applicable" if self.not_applicable else ""
        return (
            f"gate {'passed' if self.passed else 'BLOCKED'}: {len(self.checks)} checks, "
            f"{blocking} blocking failures, {warned} warnings{skipped}"
        )

    def summary(self) -> str:
        lines = [self.headline()]
        if self.not_applicable:
            tables = ", ".join(dict.fromkeys(c.table for c in self.not_applicable))
            lines.append(f"  not applicable ({NO_REFERRAL_SOURCE}): {tables}")
        for c in sorted(self.failures, key=lambda c: (not c.blocks, c.table, c.check)):
            col = f".{c.column}" if c.column else ""
            rows = f", {c.rows_affected} rows" if c.rows_affected is not None else ""
            want = f", expected {c.expected}" if c.expected else ""
            lines.append(
                f"  [{c.severity}] {c.table}{col}: {c.check} (observed {c.observed}{rows}{want})"
            )
        return "\n".join(lines)

    def markdown(self) -> str:
        """The results as a Markdown table (the run's Prefect artifact)."""
        lines = [f"**{self.headline()}**", "", "| table | check | severity | result | observed |"]
        lines.append("|---|---|---|---|---|")
        for c in sorted(self.checks, key=_failures_first):
            name = f"{c.check} ({c.column})" if c.column else c.check
            result = _verdict(c, fail="**FAIL**", warn="warn")
            observed = (c.observed or "").replace("|", "\\|")
            lines.append(f"| {c.table} | {name} | {c.severity} | {result} | {observed} |")
        return "\n".join(lines)

    def rows(self) -> list[dict[str, Any]]:
        """One dict per check, the shape of the published `gate_results` table."""
        return [
            {
                "run_id": self.run_id,
                "checked_at": self.checked_at,
                "table_name": c.table,
                "check_name": c.check,
                "column_name": c.column,
                "expectation": c.expectation,
                "severity": c.severity,
                "passed": c.passed,
                "observed": c.observed,
                "expected": c.expected,
                "rows_affected": c.rows_affected,
                "applicable": c.applicable,
                "area": c.area,
                "description": c.description,
            }
            for c in self.checks
        ]

    def to_json(self) -> str:
        return json.dumps([asdict(c) for c in self.checks], indent=2, default=str)


NO_REFERRAL_SOURCE = "no configured source provides referrals"


def _failures_first(c: CheckResult) -> tuple:
    return (not c.failed, not c.blocks, not c.applicable, c.table, c.check)


def _verdict(c: CheckResult, fail: str = "FAIL", warn: str = "warning") -> str:
    if not c.applicable:
        return "not applicable"
    return "pass" if c.passed else (fail if c.blocks else warn)


def load_suites(directory: Path = EXPECTATIONS_DIR) -> dict[str, dict]:
    suites: dict[str, dict] = {}
    for path in sorted(directory.glob("*.json")):
        try:
            spec = json.loads(path.read_text(encoding="utf-8"))
        except ValueError as exc:
            raise GateError(f"{path}: not valid JSON ({exc})") from exc
        for i, exp in enumerate(spec.get("expectations", [])):
            severity = (exp.get("meta") or {}).get("severity")
            if severity not in ("blocking", "warning"):
                raise GateError(
                    f"{path}: expectations[{i}] ({exp.get('type')}): meta.severity must be "
                    f"'blocking' or 'warning', not {severity!r}"
                )
            if not (exp.get("meta") or {}).get("description"):
                raise GateError(
                    f"{path}: expectations[{i}] ({exp.get('type')}): meta.description is "
                    "missing (what it checks, in plain words: the site shows it)"
                )
        suites[path.stem] = spec
    return suites


def source_freshness(state_dir: Path, now: datetime | None = None) -> pd.DataFrame:
    """One row per source account: its newest committed cursor and how old that is."""
    now = now or datetime.now(UTC)
    latest: dict[tuple[str, str], tuple[datetime | None, int]] = {}
    for path in sorted(state_dir.glob("*/*/*.json")):
        key = (path.parent.parent.name, path.parent.name)
        try:
            body = json.loads(path.read_text())
            # checked_at: the last complete read; older state files only have committed_at.
            committed = datetime.fromisoformat(body.get("checked_at") or body["committed_at"])
        except (ValueError, KeyError, TypeError):
            committed = None  # an unreadable cursor counts as "not known to be fresh"
        best, streams = latest.get(key, (None, 0))
        if committed is not None and (best is None or committed > best):
            best = committed
        latest[key] = (best, streams + 1)
    rows = [
        {
            "source_kind": kind,
            "account": account,
            "streams": streams,
            "last_committed_at": when,
            "age_hours": (now - when).total_seconds() / 3600 if when else None,
        }
        for (kind, account), (when, streams) in sorted(latest.items())
    ]
    columns = ["source_kind", "account", "streams", "last_committed_at", "age_hours"]
    return pd.DataFrame(rows, columns=columns)


# The landed stream that carries referrals, per source kind (CSV exports have none).
_REFERRAL_STREAMS = {"cliniko": "patient_cases", "fhir": "ServiceRequest"}


def landed_referral_sources(raw_dir: Path) -> list[str]:
    """The sources whose referrals were ever landed under `raw_dir` (when no config is given)."""
    return sorted(
        path.parent.name
        for kind, stream in _REFERRAL_STREAMS.items()
        for path in raw_dir.glob(f"{kind}/*/{stream}")
        # `_none` is the transform's empty placeholder (no source name starts with `_`).
        if path.is_dir() and not path.parent.name.startswith("_")
    )


def _parameters(spec: object) -> set[str]:
    if isinstance(spec, dict):
        if set(spec) == {_PARAM}:
            return {spec[_PARAM]}
        return set().union(*(_parameters(v) for v in spec.values())) if spec else set()
    if isinstance(spec, list):
        return set().union(*(_parameters(v) for v in spec)) if spec else set()
    return set()


def _previous_counts(published: Path | None) -> dict[str, int]:
    if published is None or not published.is_file():
        return {}
    con = duckdb.connect(str(published), read_only=True)
    try:
        tables = [r[0] for r in con.sql("select table_name from duckdb_tables()").fetchall()]
        return {t: con.sql(f'select count(*) from main."{t}"').fetchone()[0] for t in tables}
    finally:
        con.close()


def _resolve(
    name: str,
    con: duckdb.DuckDBPyConnection,
    schema: str,
    settings: GateConfig,
    previous: dict[str, int],
) -> Any:
    if name.startswith("keys__"):
        table, _, column = name.removeprefix("keys__").partition("__")
        try:
            values = con.sql(
                f'select distinct "{column}" from "{schema}"."{table}" where "{column}" is not null'
            ).fetchall()
        except duckdb.Error:
            return []  # an unreadable parent fails its own table_readable check; nothing matches
        return [v[0] for v in values]
    if name.startswith("min_rows__"):
        before = previous.get(name.removeprefix("min_rows__"))
        if not before:
            return 1
        return max(1, math.ceil(before * (1 - settings.max_row_drop)))
    if name == "max_source_age_hours":
        return settings.max_source_age_hours
    if name == "min_known_share":
        return 1 - settings.max_unknown_share
    raise GateError(f"unknown suite parameter {name!r} (see flows/gate.py for the known ones)")


def _show(value: object) -> str:
    # GX hands back numpy values (np.datetime64 pairs for column-pair checks): print them plainly.
    if isinstance(value, tuple | list):
        return "(" + ", ".join(_show(v) for v in value) + ")"
    if hasattr(value, "dtype") and str(getattr(value, "dtype", "")).startswith("datetime64"):
        return str(pd.Timestamp(value))
    return str(value)


def _observed(result: dict) -> str | None:
    if "observed_value" in result:
        return str(result["observed_value"])
    if result.get("unexpected_count"):
        examples = ", ".join(_show(v) for v in (result.get("partial_unexpected_list") or [])[:3])
        share = result.get("unexpected_percent") or 0.0
        return f"{share:.2f}% unexpected (e.g. {examples})"
    if "unexpected_count" in result:
        return "0 unexpected"
    return None


_EXPECTED_KEYS = ("min_value", "max_value", "mostly", "value_set")


def _expected(kwargs: dict, params: dict[str, Any]) -> str | None:
    parts = []
    for key in _EXPECTED_KEYS:
        if key not in kwargs or kwargs[key] is None:
            continue
        value = kwargs[key]
        if isinstance(value, dict) and _PARAM in value:
            name = value[_PARAM]
            value = params.get(name)
            if name.startswith("keys__"):
                parts.append(f"in {name.removeprefix('keys__').replace('__', '.')}")
                continue
        if isinstance(value, float):
            value = round(value, 4)
        parts.append(f"{key}={value}")
    return ", ".join(parts) or None


def run_gate(
    database: Path,
    schema: str,
    suites: dict[str, dict] | None = None,
    *,
    settings: GateConfig | None = None,
    state_dir: Path | None = None,
    published: Path | None = None,
    run_id: str = "",
    referral_sources: Sequence[str] | None = None,
) -> GateResult:
    """Validate every suite's table in `database`; a missing or unreadable table blocks.

    `published` is the last published marts file (the baseline of the volume checks);
    `state_dir` holds the cursors the source-freshness suite reads. `referral_sources` names
    the configured sources that provide referrals; an empty list makes the checks of an empty
    referral mart not applicable (None: unknown, so referrals are expected).
    """
    suites = suites if suites is not None else load_suites()
    settings = settings or GateConfig()
    checked_at = datetime.now(UTC).isoformat(timespec="seconds")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import great_expectations as gx
        from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    datasource = context.data_sources.add_pandas("marts")
    previous = _previous_counts(published)
    checks: list[CheckResult] = []
    con = duckdb.connect(str(database), read_only=True)
    try:
        for name, spec in suites.items():
            table = spec.get("meta", {}).get("table", name)
            try:
                if table == SOURCE_FRESHNESS:
                    frame = source_freshness(state_dir or Path("/nonexistent"))
                else:
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
                        expectation="(read the table)",
                    )
                )
                continue
            params = {p: _resolve(p, con, schema, settings, previous) for p in _parameters(spec)}
            area = spec.get("meta", {}).get("title", table)
            # Descriptions may quote the suite's parameters and the gate settings.
            words = {**settings.model_dump(), **params}
            describe = functools.partial(_description, suite=name, params=words)
            needs = spec.get("meta", {}).get("needs")
            if needs == "referrals" and referral_sources is not None and not referral_sources:
                # Rows left by a source no longer configured are still checked as usual.
                if frame.empty:
                    checks.extend(
                        _not_applicable(table, e, area, describe(e["meta"]))
                        for e in spec["expectations"]
                    )
                    continue
            try:
                suite = context.suites.add(
                    gx.ExpectationSuite(name=name, expectations=spec["expectations"])
                )
            except Exception as exc:
                raise GateError(f"expectations/{name}.json: {exc}") from exc
            batch = datasource.add_dataframe_asset(name=table).add_batch_definition_whole_dataframe(
                "whole"
            )
            validation = context.validation_definitions.add(
                gx.ValidationDefinition(name=name, data=batch, suite=suite)
            )
            outcome = validation.run(
                batch_parameters={"dataframe": frame}, expectation_parameters=params
            )
            checks.extend(
                _check(table, r, params, area, describe(r.expectation_config.meta or {}))
                for r in outcome.results
            )
    finally:
        con.close()
    return GateResult(checks, run_id=run_id, checked_at=checked_at)


def _column(kwargs: dict) -> str | None:
    return (
        kwargs.get("column")
        or ",".join(
            kwargs.get("column_list")
            or [c for c in (kwargs.get("column_A"), kwargs.get("column_B")) if c]
        )
        or None
    )


def _description(meta: dict, suite: str, params: dict[str, Any]) -> str:
    try:
        return meta.get("description", "").format_map(params)
    except (KeyError, ValueError) as exc:
        raise GateError(
            f"expectations/{suite}.json: check {meta.get('check')!r}: meta.description names "
            f"an unknown parameter or format ({exc}); see flows/gate.py for the known ones"
        ) from None


def _not_applicable(table: str, exp: dict, area: str, description: str) -> CheckResult:
    meta = exp.get("meta") or {}
    return CheckResult(
        table=table,
        check=meta.get("check", exp["type"]),
        column=_column(exp.get("kwargs") or {}),
        severity=meta["severity"],
        passed=None,
        observed=f"not applicable: {NO_REFERRAL_SOURCE}",
        rows_affected=None,
        expectation=exp["type"],
        applicable=False,
        area=area,
        description=description,
    )


def _check(table: str, r: Any, params: dict[str, Any], area: str, description: str) -> CheckResult:
    cfg = r.expectation_config
    kwargs = cfg.kwargs
    meta = cfg.meta or {}
    column = _column(kwargs)
    result = r.result or {}
    raised = (r.exception_info or {}).get("raised_exception")
    observed = _observed(result)
    if raised:  # GX could not evaluate it (e.g. the column is missing): that is a failure
        message = (r.exception_info or {}).get("exception_message") or "error"
        observed = f"could not evaluate: {str(message).splitlines()[0][:200]}"
    return CheckResult(
        table=table,
        check=meta.get("check", cfg.type),
        column=column,
        severity=meta["severity"],
        passed=bool(r.success) and not raised,
        observed=observed,
        rows_affected=result.get("unexpected_count"),
        expectation=cfg.type,
        expected=_expected(kwargs, params),
        area=area,
        description=description,
    )


# ---- persisted results ---------------------------------------------------------------------


def results_paths(runs_dir: Path, run_id: str) -> tuple[Path, Path]:
    """Where a run's gate results live: `<runs>/gate/<run_id>.json` and `.html`.

    A subfolder, so `runs/*.json` stays one run summary per file (`refnet status` reads it).
    """
    return runs_dir / "gate" / f"{run_id}.json", runs_dir / "gate" / f"{run_id}.html"


def write_results(result: GateResult, runs_dir: Path) -> tuple[Path, Path]:
    """The run's results as JSON (kept for every run, blocked or not) and an offline HTML page."""
    data = json.dumps(result.rows(), indent=2, default=str).encode()
    json_path, html_path = results_paths(runs_dir, result.run_id)
    write_atomic(json_path, data)
    write_atomic(html_path, render_html(result).encode())
    return json_path, html_path


def load_history(runs_dir: Path, limit: int = HISTORY_RUNS) -> list[dict[str, Any]]:
    """The gate results of the last `limit` runs (newest first), from `<runs>/gate/*.json`.

    Results written before checks had plain words get them from today's suites.
    """
    rows: list[dict[str, Any]] = []
    for path in sorted((runs_dir / "gate").glob("*.json"), reverse=True)[:limit]:
        try:
            rows.extend(json.loads(path.read_text(encoding="utf-8")))
        except ValueError:
            continue  # written atomically, so a broken file is foreign: skip, do not guess
    if any(not row.get("description") for row in rows):
        _add_plain_words(rows, load_suites())
    return rows


def _add_plain_words(rows: list[dict[str, Any]], suites: dict[str, dict]) -> None:
    titles, words = {}, {}
    for spec in suites.values():
        table = spec.get("meta", {}).get("table")
        titles[table] = spec.get("meta", {}).get("title", table)
        for exp in spec["expectations"]:
            key = (table, exp["meta"]["check"], _column(exp.get("kwargs") or {}))
            words[key] = exp["meta"]["description"]
    for row in rows:
        if row.get("description"):
            continue
        table = row.get("table_name")
        row["area"] = titles.get(table) or str(table).replace("_", " ").capitalize()
        found = words.get((table, row.get("check_name"), row.get("column_name")), "")
        # A description quoting a setting is not filled in: that run's settings are unknown.
        row["description"] = (
            found
            if found and "{" not in found
            else f"A check of {row['area'].lower()} (that night's gate report names it)"
        )


GATE_RESULTS_COLUMNS = {
    "run_id": "varchar",
    "checked_at": "timestamptz",
    "table_name": "varchar",
    "check_name": "varchar",
    "column_name": "varchar",
    "expectation": "varchar",
    "severity": "varchar",
    "passed": "boolean",
    "observed": "varchar",
    "expected": "varchar",
    "rows_affected": "bigint",
    "applicable": "boolean",
    "area": "varchar",
    "description": "varchar",
}


def write_history_table(con: duckdb.DuckDBPyConnection, rows: list[dict[str, Any]]) -> int:
    """Create `main.gate_results` in `con` from history rows; returns the row count."""
    cols = ", ".join(f'"{c}" {t}' for c, t in GATE_RESULTS_COLUMNS.items())
    con.execute(f"create or replace table main.gate_results ({cols})")
    if rows:
        names = list(GATE_RESULTS_COLUMNS)
        marks = ", ".join("?" for _ in names)
        con.executemany(
            f"insert into main.gate_results values ({marks})",
            # Results written before `applicable` existed were all evaluated.
            [[row.get(n, True if n == "applicable" else None) for n in names] for row in rows],
        )
    return con.execute("select count(*) from main.gate_results").fetchone()[0]


_CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222}
h1{font-size:1.4em} table{border-collapse:collapse;width:100%}
th,td{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f3f3f3} tr.fail td{background:#fde2e1} tr.warn td{background:#fff4d6}
tr.na td{color:#666}
.pass{color:#1a7f37} .fail{color:#b42318} .warn{color:#9a6700} code{font-size:.95em}
"""


def render_html(result: GateResult) -> str:
    """A self-contained page (no scripts, no CDN): readable offline, printable."""
    status = "passed" if result.passed else "blocked"
    body = []
    for c in sorted(result.checks, key=_failures_first):
        css = "na" if not c.applicable else "" if c.passed else ("fail" if c.blocks else "warn")
        verdict = _verdict(c)
        cells = [
            c.table,
            c.check,
            c.column or "",
            c.severity,
            verdict,
            c.observed or "",
            "" if c.rows_affected is None else str(c.rows_affected),
            c.expected or "",
            c.expectation,
            c.description,
        ]
        tds = "".join(f"<td>{html.escape(v)}</td>" for v in cells)
        body.append(f'<tr class="{css}">{tds}</tr>')
    heads = "table check column severity result observed rows expected expectation what".split()
    head = "".join(f"<th>{h}</th>" for h in heads)
    title = f"refnet quality gate, run {html.escape(result.run_id)}"
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
        f"<style>{_CSS}</style></head><body><h1>{title}</h1>"
        f'<p class="{"pass" if result.passed else "fail"}"><strong>'
        f"{html.escape(result.headline())}</strong> (checked {html.escape(result.checked_at)} "
        f"UTC; the site was {'updated' if result.passed else 'left as it was'}: {status})</p>"
        f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
        "</body></html>\n"
    )
