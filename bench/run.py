"""`make bench`: refnet measured against its alternatives, in the same run, on this machine.

    .venv/bin/python bench/run.py              # the whole benchmark (writes bench/results/)
    .venv/bin/python bench/run.py --quick      # tiny sizes, a smoke run of the harness
    .venv/bin/python bench/run.py --only extraction,rate_limit

Sections (each figure: value, baseline, ratio, target):
1. extraction: records/s and peak RSS of refnet's connector vs dlt's `rest_api` source into
   DuckDB (defaults, and dlt's Parquet loader) vs the download-and-parse floor, per world size.
2. rate_limit: requests/min achieved against the sandbox's limit, and 429s received.
3. transform: `dbt build` vs the same compiled model SQL run directly in DuckDB, per size.
4. incremental: nightly `dbt build` after 0.1 %, 1 %, 10 % of records changed vs a full rebuild.
5. end_to_end: a one-clinic nightly run per stage vs the start-up floors of Prefect, dbt, GX and
   Evidence.

Every contender runs in its own child process; peak RSS is that child's own `ru_maxrss`
(`os.wait4`). This process stays small and builds nothing itself, because Linux copies the
parent's high-water RSS into a child that execs out of a vfork.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BENCH = REPO / "bench"
PY = sys.executable
DBT = str(Path(PY).with_name("dbt"))
KEY = "bench-key-uk1"
AS_OF = "2026-11-30"  # bench/world.py's last day
ENV = {
    **os.environ,
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",
    "DBT_SEND_ANONYMOUS_USAGE_STATS": "False",
    "DO_NOT_TRACK": "1",
    "RUNTIME__DLTHUB_TELEMETRY": "false",
}


@dataclass
class Figure:
    section: str
    name: str
    value: float | None
    unit: str
    baseline: float | None = None
    baseline_name: str = ""
    ratio: float | None = None  # value / baseline
    target: str = ""
    met: bool | None = None
    note: str = ""


@dataclass
class Child:
    out: str
    seconds: float
    peak_mb: float


def child(
    cmd: list[str],
    *,
    env: dict | None = None,
    cwd: Path = REPO,
    timeout: float = 1800,
    log: Path | None = None,
) -> Child:
    """Run one contender; its stdout, wall seconds and peak RSS (MiB, its own getrusage)."""
    started = time.monotonic()
    err = open(log, "w") if log else subprocess.DEVNULL  # noqa: SIM115
    proc = subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=err,
        cwd=cwd,
        env=env or ENV,
        text=True,
        start_new_session=True,
    )
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        raise SystemExit(f"bench: {' '.join(cmd[:3])} timed out after {timeout:.0f} s") from None
    finally:
        if log:
            err.close()
    # communicate() reaped it; its rusage is in the children's totals only, so read it there.
    seconds = time.monotonic() - started
    peak_kib = _peak_of(proc.pid)
    if proc.returncode != 0:
        tail = log.read_text()[-3000:] if log and log.exists() else ""
        raise SystemExit(f"bench: {' '.join(cmd[:4])} failed ({proc.returncode})\n{tail}")
    return Child(out, seconds, peak_kib / 1024)


_PEAKS: dict[int, int] = {}


def _peak_of(pid: int) -> int:
    return _PEAKS.pop(pid, 0)


def _install_wait4() -> None:
    """Popen reaps children with waitpid; wrap it so each child's ru_maxrss is kept."""
    original = subprocess.Popen._try_wait  # type: ignore[attr-defined]

    def try_wait(self, wait_flags):
        try:
            pid, status, usage = os.wait4(self.pid, wait_flags)
        except ChildProcessError:
            return original(self, wait_flags)
        if pid:
            _PEAKS[pid] = usage.ru_maxrss
        return pid, status

    subprocess.Popen._try_wait = try_wait  # type: ignore[attr-defined]


_install_wait4()


@contextlib.contextmanager
def sandbox(scale: float, rate_limit: int) -> Iterator[str]:
    """The sandbox API in its own process; yields its base URL."""
    proc = subprocess.Popen(
        [
            PY,
            "-m",
            "flows.sandbox",
            "--port",
            "0",
            "--scale",
            str(scale),
            "--rate-limit",
            str(rate_limit),
            "--api-key",
            KEY,
        ],
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO,
        env=ENV,
    )
    try:
        match = re.search(r"(http://\S+/v1)", proc.stdout.readline())
        if not match:
            raise SystemExit("bench: the sandbox did not start")
        yield match.group(1)
    finally:
        proc.terminate()
        proc.wait(timeout=60)


def _ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 3) if a is not None and b else None


# --- 1. extraction ------------------------------------------------------------------------------


def extraction(work: Path, scales: list[float], dlt_default_max: float, reps: int) -> list[Figure]:
    figures, peaks = [], {}
    for scale in scales:
        contenders = ["floor", "refnet", "dlt-parquet"]
        if scale <= dlt_default_max:
            contenders.append("dlt")
        runs: dict[str, list[dict]] = {c: [] for c in contenders}
        with sandbox(scale, 0) as base_url:
            for rep in range(reps):
                # Alternate the order between repetitions so no contender always goes first.
                for name in contenders if rep % 2 == 0 else contenders[::-1]:
                    folder = work / f"x{scale:g}-{name}-{rep}"
                    result = child(
                        [PY, str(BENCH / "contenders.py"), name, base_url, str(folder)],
                        log=work / f"x{scale:g}-{name}-{rep}.log",
                    )
                    shutil.rmtree(folder, ignore_errors=True)
                    got = json.loads(result.out.strip().splitlines()[-1])
                    got["peak_mb"] = result.peak_mb
                    got["rate"] = got["records"] / got["seconds"]
                    runs[name].append(got)
        best = {c: max(r, key=lambda g: g["rate"]) for c, r in runs.items()}
        records = best["refnet"]["records"]
        for name, got in best.items():
            if got["records"] != records:
                raise SystemExit(
                    f"bench: {name} read {got['records']} records at {scale:g}x, refnet {records}"
                )
        fastest_dlt = max((c for c in best if c.startswith("dlt")), key=lambda c: best[c]["rate"])
        ours = best["refnet"]
        tag = f"world {scale:g}x ({records} records)"
        ratio_dlt = _ratio(ours["rate"], best[fastest_dlt]["rate"])
        figures.append(
            Figure(
                "extraction",
                f"refnet records/s vs dlt ({fastest_dlt}), {tag}",
                round(ours["rate"]),
                "records/s",
                round(best[fastest_dlt]["rate"]),
                fastest_dlt,
                ratio_dlt,
                ">= 3x",
                ratio_dlt is not None and ratio_dlt >= 3,
            )
        )
        ratio_floor = _ratio(ours["rate"], best["floor"]["rate"])
        figures.append(
            Figure(
                "extraction",
                f"refnet records/s vs floor, {tag}",
                round(ours["rate"]),
                "records/s",
                round(best["floor"]["rate"]),
                "floor (download + parse)",
                ratio_floor,
                ">= 0.5x",
                ratio_floor is not None and ratio_floor >= 0.5,
            )
        )
        figures.append(
            Figure(
                "extraction",
                f"refnet peak RSS, {tag}",
                round(ours["peak_mb"]),
                "MiB",
                round(best[fastest_dlt]["peak_mb"]),
                fastest_dlt,
                _ratio(ours["peak_mb"], best[fastest_dlt]["peak_mb"]),
                "<= 200 MiB",
                ours["peak_mb"] <= 200,
            )
        )
        for name in best:
            if name != "refnet":
                figures.append(
                    Figure(
                        "extraction",
                        f"{name} records/s and peak RSS, {tag}",
                        round(best[name]["rate"]),
                        "records/s",
                        note=f"peak RSS {best[name]['peak_mb']:.0f} MiB",
                    )
                )
        peaks[scale] = ours["peak_mb"]
    if len(peaks) > 1:
        small, big = min(peaks), max(peaks)
        flat = _ratio(peaks[big], peaks[small])
        figures.append(
            Figure(
                "extraction",
                f"refnet peak RSS at {big:g}x vs {small:g}x",
                round(peaks[big]),
                "MiB",
                round(peaks[small]),
                f"{small:g}x world",
                flat,
                "flat (<= 1.25x)",
                flat is not None and flat <= 1.25,
            )
        )
    return figures


# --- 2. rate limit ------------------------------------------------------------------------------


def rate_limit(work: Path, scale: float, limit: int) -> list[Figure]:
    with sandbox(scale, limit) as base_url:
        folder = work / "rate"
        result = child(
            [PY, str(BENCH / "contenders.py"), "refnet", base_url, str(folder), str(limit)],
            log=work / "rate.log",
        )
        shutil.rmtree(folder, ignore_errors=True)
    got = json.loads(result.out.strip().splitlines()[-1])
    sent, n = got["sent"], got["requests"]
    span = sent[-1] - sent[0]
    # A client that used the whole allowance would send the first `limit` at once and each
    # further `limit` a minute later: this many minutes from its first request to its last.
    ideal = ((n - 1) // limit) * 60.0
    share = ideal / span if span > 0 and ideal > 0 else None
    note = (
        f"{n} requests in {got['seconds']:.0f} s; a client using the whole allowance needs "
        f"{ideal:.0f} s from its first request to its last, refnet took {span:.0f} s"
    )
    return [
        Figure(
            "rate_limit",
            f"requests/min achieved vs the sandbox's {limit}/min",
            round(share * limit, 1) if share else None,
            "requests/min",
            limit,
            "the limit",
            _ratio(share * limit if share else None, limit),
            ">= 0.9x",
            share is not None and share >= 0.9,
            note,
        ),
        Figure(
            "rate_limit",
            "429s received (one API key)",
            got["rate_limited"],
            "429s",
            target="<= 1",
            met=got["rate_limited"] <= 1,
        ),
    ]


# --- 3. transforms and 4. incremental -------------------------------------------------------------


def _dbt(args: list[str], raw: Path, warehouse: Path, log: Path) -> tuple[Child, dict]:
    target = warehouse.parent / "target"
    env = {
        **ENV,
        "REFNET_RAW_DIR": str(raw),
        "REFNET_WAREHOUSE": str(warehouse),
        "DBT_USE_COLORS": "False",
    }
    cmd = [
        DBT,
        *args,
        # As the nightly runs it (flows/transform.build): unit tests are CI's, not the data's.
        "--exclude-resource-type",
        "unit_test",
        "--project-dir",
        str(REPO / "dbt_project"),
        "--profiles-dir",
        str(REPO / "dbt_project"),
        "--target-path",
        str(target),
        "--log-path",
        str(warehouse.parent / "logs"),
        "--vars",
        json.dumps({"as_of": AS_OF}),
    ]
    result = child(cmd, env=env, cwd=REPO / "dbt_project", log=log)
    run_results = json.loads((target / "run_results.json").read_text())
    failed = [
        r["unique_id"]
        for r in run_results["results"]
        if r["status"] in ("error", "fail", "runtime error")
    ]
    if failed:
        raise SystemExit(f"bench: dbt {args[0]} failed: {', '.join(failed[:5])}")
    models = sum(
        r["execution_time"] for r in run_results["results"] if r["unique_id"].startswith("model.")
    )
    return result, {"models_s": models, "nodes": len(run_results["results"])}


def _world(
    raw: Path, clinics: int, referrals: int, log: Path, changes: float | None = None, night: int = 0
) -> dict:
    cmd = [
        PY,
        str(BENCH / "world.py"),
        str(raw),
        "--clinics",
        str(clinics),
        "--referrals",
        str(referrals),
    ]
    if changes is not None:
        cmd += ["--changes", str(changes), "--night", str(night)]
    return json.loads(child(cmd, log=log).out.strip().splitlines()[-1])


def transform(work: Path, clinics: list[int], referrals: int) -> tuple[list[Figure], dict]:
    figures, built = [], {}
    for n in clinics:
        home = work / f"t{n}"
        world = _world(home / "raw", n, referrals, work / f"t{n}-world.log")
        rows = world["rows"]
        tag = (
            f"{n} clinic{'s' if n > 1 else ''} ({rows['patient_cases']} referrals, "
            f"{rows['individual_appointments']} appointments)"
        )
        dbt, info = _dbt(
            ["build"], home / "raw", home / "warehouse" / "refnet.duckdb", work / f"t{n}-build.log"
        )
        raw_dir = home / "rawsql"
        raw_dir.mkdir(parents=True, exist_ok=True)
        raw = child(
            [
                PY,
                str(BENCH / "rawsql.py"),
                str(home / "warehouse" / "target"),
                str(raw_dir / "refnet.duckdb"),
            ],
            log=work / f"t{n}-rawsql.log",
        )
        shutil.rmtree(raw_dir, ignore_errors=True)
        ratio = _ratio(dbt.seconds, raw.seconds)
        figures.append(
            Figure(
                "transform",
                f"dbt build, {tag}",
                round(dbt.seconds, 1),
                "s",
                round(raw.seconds, 1),
                "compiled model SQL run directly in DuckDB",
                ratio,
                "<= 2x" if n == max(clinics) else "",
                (ratio is not None and ratio <= 2) if n == max(clinics) else None,
                f"{info['nodes']} nodes (models, seeds, data tests); models alone "
                f"{info['models_s']:.1f} s of node time",
            )
        )
        figures.append(
            Figure(
                "transform",
                f"dbt build peak RSS, {tag}",
                round(dbt.peak_mb),
                "MiB",
                round(raw.peak_mb),
                "DuckDB running the same SQL",
                _ratio(dbt.peak_mb, raw.peak_mb),
                "<= 2048 MiB",
                dbt.peak_mb <= 2048,
            )
        )
        built[n] = home
    return figures, built


def incremental(
    work: Path, home: Path, clinics: int, referrals: int, shares: list[float]
) -> list[Figure]:
    figures, timings = [], {}
    warehouse = home / "warehouse" / "refnet.duckdb"
    for night, share in enumerate(shares, start=1):
        delta = _world(home / "raw", clinics, referrals, work / f"i{night}-world.log", share, night)
        result, _ = _dbt(["build"], home / "raw", warehouse, work / f"i{night}-build.log")
        timings[share] = (result.seconds, sum(delta["rows"].values()))
    full, _ = _dbt(["build", "--full-refresh"], home / "raw", warehouse, work / "i-full.log")
    for share, (seconds, changed) in timings.items():
        ratio = _ratio(seconds, full.seconds)
        figures.append(
            Figure(
                "incremental",
                f"nightly dbt build, {share:.1%} of records changed ({changed} records)",
                round(seconds, 1),
                "s",
                round(full.seconds, 1),
                "dbt build --full-refresh",
                ratio,
                "<= 0.25x" if share == 0.01 else "",
                (ratio <= 0.25) if share == 0.01 and ratio else None,
            )
        )
    return figures


# --- 5. end to end ------------------------------------------------------------------------------

PREFECT_FLOOR = """
from prefect import flow, task
@task
def one():
    return 1
@flow
def floor():
    return one()
floor()
"""
GX_FLOOR = """
import great_expectations as gx, pandas as pd
ctx = gx.get_context(mode="ephemeral")
batch = (ctx.data_sources.add_pandas("p").add_dataframe_asset("a")
         .add_batch_definition_whole_dataframe("b"))
df = pd.DataFrame({"x": [1]})
r = batch.get_batch(batch_parameters={"dataframe": df}).validate(
    gx.expectations.ExpectColumnValuesToNotBeNull(column="x"))
assert r.success
"""


def _dbt_floor(work: Path) -> Child:
    """`dbt build` of a one-model project on DuckDB: dbt's own start-up and bookkeeping."""
    project = work / "dbt-floor"
    (project / "models").mkdir(parents=True, exist_ok=True)
    (project / "dbt_project.yml").write_text(
        "name: floor\nversion: '1.0.0'\nconfig-version: 2\nprofile: floor\n"
        "flags: {send_anonymous_usage_stats: false, use_colors: false}\n"
    )
    (project / "profiles.yml").write_text(
        f"floor:\n  target: d\n  outputs:\n    d:\n      type: duckdb\n"
        f"      path: {project / 'floor.duckdb'}\n"
    )
    (project / "models" / "one.sql").write_text("select 1 as x\n")
    return child(
        [DBT, "build", "--project-dir", str(project), "--profiles-dir", str(project)],
        cwd=project,
        log=work / "dbt-floor.log",
    )


def _evidence_floor(work: Path) -> Child | None:
    """`evidence build` of a one-page site without queries, with the project's packages."""
    site = work / "evidence-floor"
    reports = REPO / "reports"
    if not (reports / "node_modules").exists():
        return None
    site.mkdir(parents=True, exist_ok=True)
    for name in ("package.json", "evidence.config.yaml", "evidence.settings.json"):
        shutil.copy(reports / name, site / name)
    if (reports / "scripts").exists():
        shutil.copytree(reports / "scripts", site / "scripts", dirs_exist_ok=True)
    (site / "node_modules").symlink_to(reports / "node_modules")
    (site / "pages").mkdir(exist_ok=True)
    (site / "pages" / "index.md").write_text("# floor\n\nNo queries.\n")
    (site / "sources").mkdir(exist_ok=True)
    npm = shutil.which("npm") or "npm"
    env = {**ENV, "EVIDENCE_SEND_ANONYMOUS_USAGE_STATS": "no"}
    try:
        return child(
            [npm, "run", "build"], cwd=site, env=env, timeout=900, log=work / "evidence.log"
        )
    except SystemExit as exc:
        print(f"bench: the Evidence floor could not be measured: {str(exc)[:300]}", file=sys.stderr)
        return None


def _floor(measure) -> float | None:
    try:
        return measure().seconds
    except SystemExit as exc:
        print(f"bench: a start-up floor could not be measured: {str(exc)[:300]}", file=sys.stderr)
        return None


def end_to_end(work: Path) -> list[Figure]:
    home = work / "e2e"
    prefect_home = work / "prefect-floor"
    floors = {
        "Prefect": _floor(
            lambda: child(
                [PY, "-c", PREFECT_FLOOR],
                env={**ENV, "PREFECT_HOME": str(prefect_home)},
                log=work / "prefect-floor.log",
            )
        ),
        "dbt": _floor(lambda: _dbt_floor(work)),
        "GX": _floor(lambda: child([PY, "-c", GX_FLOOR], log=work / "gx-floor.log")),
    }
    evidence = _evidence_floor(work)
    floors["Evidence"] = evidence.seconds if evidence else None
    refnet = str(Path(PY).with_name("refnet"))
    run = child([refnet, "demo", "--home", str(home)], log=work / "e2e.log", timeout=1800)
    record = json.loads(sorted((home / "runs").glob("*.json"))[-1].read_text())
    stages = {k: v["seconds"] for k, v in record["stages"].items()}
    figures = [
        Figure("end_to_end", f"stage {name}", seconds, "s") for name, seconds in stages.items()
    ]
    figures += [
        Figure(
            "end_to_end",
            f"start-up floor: {name}",
            round(s, 1) if s else None,
            "s",
            note="" if s else "not measured",
        )
        for name, s in floors.items()
    ]
    known = [s for s in floors.values() if s]
    total = sum(known)
    ratio = _ratio(run.seconds, total)
    figures.append(
        Figure(
            "end_to_end",
            "one-clinic nightly run (refnet demo), wall",
            round(run.seconds, 1),
            "s",
            round(total, 1),
            "sum of start-up floors (" + ", ".join(k for k, v in floors.items() if v) + ")",
            ratio,
            "<= 1.5x",
            ratio is not None and ratio <= 1.5,
            f"peak RSS {run.peak_mb:.0f} MiB",
        )
    )
    return figures


# --- report -------------------------------------------------------------------------------------


def markdown(figures: list[Figure], meta: dict) -> str:
    lines = [
        f"# refnet benchmark, {meta['date']}",
        "",
        f"{meta['machine']}; load average {meta['load_before']} before, {meta['load_after']} "
        f"after; {meta['seconds']:.0f} s in all. Command: `{meta['command']}`.",
        "",
        "Seconds per section: "
        + ", ".join(f"{k} {v}" for k, v in meta.get("section_seconds", {}).items())
        + ".",
        "",
        "| section | figure | value | baseline | ratio | target | met |",
        "|---|---|---|---|---|---|---|",
    ]
    for failure in meta.get("failures", []):
        lines.insert(4, f"**Section failed** — {failure}\n")
    for f in figures:
        value = "n/a" if f.value is None else f"{f.value:g} {f.unit}"
        base = "" if f.baseline is None else f"{f.baseline:g} ({f.baseline_name})"
        ratio = "" if f.ratio is None else f"{f.ratio:.2f}x"
        met = {True: "yes", False: "**no**", None: ""}[f.met]
        name = f.name + (f" — {f.note}" if f.note else "")
        lines.append(f"| {f.section} | {name} | {value} | {base} | {ratio} | {f.target} | {met} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a smoke run")
    parser.add_argument("--only", default="", help="comma list of sections to run")
    parser.add_argument("--scales", default="", help="extraction world sizes, e.g. 1,3,9")
    parser.add_argument("--clinics", default="", help="transform world sizes, e.g. 1,10,50")
    parser.add_argument("--reps", type=int, default=1, help="extraction repetitions")
    parser.add_argument("--out", type=Path, default=BENCH / "results")
    args = parser.parse_args()
    sections = set(filter(None, args.only.split(","))) or {
        "extraction",
        "rate_limit",
        "transform",
        "incremental",
        "end_to_end",
    }
    quick = args.quick
    scales = [float(s) for s in args.scales.split(",") if s] or (
        [0.2, 0.5] if quick else [0.5, 1.5, 3.0]
    )
    # 50 clinics (~1 M referrals) takes most of an hour here: make bench-scale.
    clinics = [int(c) for c in args.clinics.split(",") if c] or ([1] if quick else [1, 10])
    referrals = 500 if quick else 20_000
    started = time.monotonic()
    meta = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{os.cpu_count()} cores, {platform.machine()}, Python "
        f"{platform.python_version()}, {_memory()}",
        "load_before": ", ".join(f"{x:.1f}" for x in os.getloadavg()),
        "command": " ".join(["bench/run.py", *sys.argv[1:]]),
        "section_seconds": {},
    }
    figures: list[Figure] = []
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    work = Path(tempfile.mkdtemp(prefix="refnet-bench-"))
    failures = []

    def save() -> str:
        meta["load_after"] = ", ".join(f"{x:.1f}" for x in os.getloadavg())
        meta["seconds"] = time.monotonic() - started
        meta["failures"] = failures
        table = markdown(figures, meta)
        (args.out / f"{stamp}.json").write_text(
            json.dumps({"meta": meta, "figures": [asdict(f) for f in figures]}, indent=2)
        )
        (args.out / f"{stamp}.md").write_text(table)
        return table

    def section(name: str, fn, *fn_args):
        """Run one section; a failure is recorded (with its logs kept) and the rest go on."""
        begun = time.monotonic()
        try:
            result = fn(*fn_args)
        except (Exception, SystemExit) as exc:
            meta["section_seconds"][name] = round(time.monotonic() - begun)
            failures.append(f"{name}: {str(exc)[:500]}")
            print(f"bench: {name} failed: {exc}", file=sys.stderr, flush=True)
            return None
        meta["section_seconds"][name] = round(time.monotonic() - begun)
        took = meta["section_seconds"][name]
        print(f"bench: {name} done in {took} s", file=sys.stderr, flush=True)
        return result

    built: dict = {}
    if "extraction" in sections:
        figures += section("extraction", extraction, work, scales, scales[0], args.reps) or []
        save()
    if "rate_limit" in sections:
        figures += (
            section("rate_limit", rate_limit, work, 0.2 if quick else 2.0, 60 if quick else 200)
            or []
        )
        save()
    if "transform" in sections or "incremental" in sections:
        new, built = section("transform", transform, work, clinics, referrals) or ([], {})
        figures += new if "transform" in sections else []
        save()
    if "incremental" in sections and built:
        # The largest world up to 10 clinics: a clinic group, where a nightly's cost matters.
        n = max((c for c in built if c <= 10), default=min(built))
        figures += (
            section("incremental", incremental, work, built[n], n, referrals, [0.001, 0.01, 0.1])
            or []
        )
        save()
    if "end_to_end" in sections:
        figures += section("end_to_end", end_to_end, work) or []
    table = save()
    print(table)
    if failures:
        print("failed sections (logs kept in " + str(work) + "):\n  " + "\n  ".join(failures))
    else:
        shutil.rmtree(work, ignore_errors=True)
    print(f"written: {args.out / stamp}.json and .md")
    if failures:
        raise SystemExit(1)


def _memory() -> str:
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return f"{int(line.split()[1]) / 1024 / 1024:.0f} GiB RAM"
    return "memory unknown"


if __name__ == "__main__":
    main()
