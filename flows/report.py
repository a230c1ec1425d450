"""Build the Evidence report site (`reports/`) from a published marts file."""

from __future__ import annotations

import contextlib
import fcntl
import html
import json
import logging
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from flows import interrupt

logger = logging.getLogger(__name__)

REPORTS_DIR = Path(__file__).resolve().parent.parent / "reports"
# The duckdb connector joins `filename` onto this folder (path.join), so the path we hand it
# must be relative to it: an absolute path would be appended, not used as is.
_SOURCE_DIR = REPORTS_DIR / "sources" / "marts"
# Source queries over marts that may be absent from the marts file (see its README.md).
_OPTIONAL_DIR = REPORTS_DIR / "optional_sources"
_FILENAME_VAR = "EVIDENCE_SOURCE__marts__filename"
# DuckDB storage versions Evidence's reader (@duckdb/node-api 1.4.2) opens; 999 (Python
# duckdb 2.x default) fails with an IO Error deep in the Evidence output.
_READABLE_STORAGE_VERSIONS = range(64, 68)
_TAIL_CHARS = 4000
_GRACE_S = 10

# `build:strict` exits 0 when a page query fails and renders the error into the page, so the
# built HTML is scanned for what Evidence renders there:
#   - `slot="error"`: the error branch of QueryLoad, which wraps every chart/table/BigValue;
#   - DuckDB's error classes ("Binder Error: ...") in the text of a page;
#   - "Error in Query", Evidence's own prefix.
_HTML_ERROR_MARKERS = re.compile(
    r'slot="error"'
    r"|\b(?:Binder|Parser|Catalog|Conversion|Invalid Input|Out of Range|Not implemented"
    r"|Syntax|Internal|IO|Dependency|Constraint|Serialization|Permission|Interrupt|Fatal)"
    r" Error:"
    r"|Error in Query"
)
_DUCKDB_MESSAGE = re.compile(r"\b[A-Z][A-Za-z ]{1,30} Error: [^<]{0,500}")
# A query that no component uses leaves no trace in the HTML; Evidence only logs it during
# prerendering as `<query id> | Error in Query! <message>`.
_LOG_QUERY_ERROR = re.compile(r"^(?P<query>\S+) \| Error in Query!\s*(?P<message>.*)$", re.M)
_SCRIPT_OR_STYLE = re.compile(r"<(script|style)\b.*?</\1>", re.S | re.I)
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


class ReportBuildError(RuntimeError):
    """The report site could not be built; the message says which step and why."""


@dataclass(frozen=True)
class _StepResult:
    output: str
    seconds: float


def _tail(text: str, limit: int = _TAIL_CHARS) -> str:
    text = _ANSI.sub("", text).strip()
    return text if len(text) <= limit else "...\n" + text[-limit:]


def _kill_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _run(cmd: list[str], *, env: dict[str, str], timeout_s: int, what: str) -> _StepResult:
    """Run one npm step in reports/ in its own process group, under a hard timeout.

    npm/npx children survive a plain timeout of their parent, so the whole group is killed;
    output goes to a file rather than a pipe so a straggler holding the pipe cannot block us.
    """
    logger.info("report: %s (timeout %ss)", what, timeout_s)
    started = time.monotonic()
    with tempfile.TemporaryFile(mode="w+", encoding="utf-8", errors="replace") as out:
        proc = subprocess.Popen(
            cmd,
            cwd=REPORTS_DIR,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        timed_out = False
        try:
            with interrupt.tracked_group(proc.pid):
                proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            timed_out = True
            _kill_group(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=_GRACE_S)
            except subprocess.TimeoutExpired:
                _kill_group(proc.pid, signal.SIGKILL)
                proc.wait()
        finally:
            # Whatever the outcome, leave no Evidence/vite worker of this group behind.
            _kill_group(proc.pid, signal.SIGKILL)
        out.seek(0)
        output = out.read()
    seconds = time.monotonic() - started
    if timed_out:
        raise ReportBuildError(
            f"{what} timed out after {timeout_s}s (process group killed); "
            f"output tail:\n{_tail(output)}"
        )
    if proc.returncode != 0:
        raise ReportBuildError(
            f"{what} failed with exit code {proc.returncode} after {seconds:.0f}s; "
            f"output tail:\n{_tail(output)}"
        )
    logger.info("report: %s ok in %.1fs", what, seconds)
    return _StepResult(output=_ANSI.sub("", output), seconds=seconds)


def _npm() -> str:
    npm = shutil.which("npm")
    if npm is None:
        raise ReportBuildError("npm not found on PATH; the report needs Node 20 and npm")
    return npm


def _base_env() -> dict[str, str]:
    env = dict(os.environ)
    # No colour codes in logs and error messages; telemetry stays off (the committed
    # evidence.settings.json is what Evidence obeys, the variable is only a fallback).
    env.update({"NO_COLOR": "1", "FORCE_COLOR": "0", "SEND_ANONYMOUS_USAGE_STATS": "no"})
    return env


def ensure_node_modules(timeout_s: int = 900) -> None:
    """Run `npm install` in reports/ if node_modules is missing or older than the lock file.

    `npm install`, not `npm ci`: the registry mirror lacks some optional packages that `ci`
    insists on. The lock file pins every version; the postinstall step patches universal-sql.
    """
    lock = REPORTS_DIR / "package-lock.json"
    stamp = REPORTS_DIR / "node_modules" / ".package-lock.json"  # npm rewrites it per install
    if not lock.is_file():
        raise ReportBuildError(f"{lock} is missing; the report's dependencies are unpinned")
    if stamp.is_file() and stamp.stat().st_mtime >= lock.stat().st_mtime:
        return
    _run(
        [_npm(), "install", "--no-audit", "--no-fund"],
        env=_base_env(),
        timeout_s=timeout_s,
        what="npm install",
    )
    # npm leaves the stamp untouched when nothing changed; touch it so we do not reinstall.
    if stamp.is_file():
        stamp.touch()


def _check_telemetry_off() -> None:
    settings = REPORTS_DIR / "evidence.settings.json"
    try:
        value = json.loads(settings.read_text(encoding="utf-8")).get("send_anonymous_usage_stats")
    except (OSError, ValueError) as e:
        raise ReportBuildError(f"{settings} unreadable ({e}); it must turn telemetry off") from e
    if value != "no":
        raise ReportBuildError(f'{settings} must say "send_anonymous_usage_stats": "no"')


def _check_marts_file(marts_path: Path) -> None:
    if not marts_path.is_file():
        raise ReportBuildError(f"marts file not found: {marts_path}")
    with marts_path.open("rb") as f:
        header = f.read(16)
    if len(header) < 16 or header[8:12] != b"DUCK":
        raise ReportBuildError(f"{marts_path} is not a DuckDB database file")
    version = int.from_bytes(header[12:16], "little")
    if version not in _READABLE_STORAGE_VERSIONS:
        raise ReportBuildError(
            f"{marts_path} has DuckDB storage version {version}, which Evidence's reader cannot "
            "open; write it with Python duckdb 1.4.x/1.5.x or ATTACH ... (STORAGE_VERSION 'v1.4.0')"
        )


def _sync_optional_sources(marts_path: Path) -> list[str]:
    """Copy each optional source's real query, or its zero-row stand-in, into sources/marts.

    Returns the optional tables that are absent (their pages say so instead of failing).
    """
    import duckdb

    con = duckdb.connect(str(marts_path), read_only=True)
    try:
        present = {r[0] for r in con.sql("select table_name from duckdb_tables()").fetchall()}
    finally:
        con.close()
    absent = []
    for query in sorted(_OPTIONAL_DIR.glob("*.sql")):
        if query.name.endswith(".absent.sql"):
            continue
        table = query.stem
        chosen = query if table in present else query.with_name(f"{table}.absent.sql")
        if table not in present:
            absent.append(table)
        shutil.copyfile(chosen, _SOURCE_DIR / query.name)
    if absent:
        logger.info("report: marts not in %s, their pages show none: %s", marts_path, absent)
    return absent


def _page_name(build_dir: Path, page: Path) -> str:
    rel = page.relative_to(build_dir).as_posix()
    return "/" + rel.removesuffix("index.html")


def _query_errors(build_dir: Path, output: str) -> list[str]:
    """Query errors rendered into built pages or logged by the build, as 'page: message'."""
    pages = {
        _page_name(build_dir, p): p.read_text(encoding="utf-8", errors="replace")
        for p in sorted(build_dir.rglob("*.html"))
    }
    shown: dict[str, list[str]] = {}
    for name, text in pages.items():
        # Scripts hold the page's SQL (and Evidence's own code), not what the page shows.
        body = _SCRIPT_OR_STYLE.sub("", text)
        if _HTML_ERROR_MARKERS.search(body):
            messages = {
                re.sub(r"\s+", " ", html.unescape(m.group(0))).strip()
                for m in _DUCKDB_MESSAGE.finditer(body)
            }
            shown[name] = sorted(messages) or ["Evidence rendered a query error"]
    errors = [f"{name}: {'; '.join(messages)}" for name, messages in shown.items()]

    # Queries no component uses fail silently in the HTML; the build log names them.
    for query, message in dict.fromkeys(
        (m.group("query"), m.group("message").strip()) for m in _LOG_QUERY_ERROR.finditer(output)
    ):
        needles = (f'\\"id\\":\\"{query}\\"', f'"id":"{query}"')
        where = [name for name, text in pages.items() if any(n in text for n in needles)]
        if where and all(any(message in m for m in shown.get(name, [])) for name in where):
            continue  # already reported from the page itself
        errors.append(f"{', '.join(where) or '(page unknown)'}: query '{query}': {message}")
    return errors


@contextlib.contextmanager
def _exclusive_build(wait_s: float = 1800, lock_path: Path | None = None) -> Iterator[None]:
    """One build at a time: two would share reports/build and .evidence/template.

    Another home's run (a second clinic on the same checkout) may be building: wait for it.
    """
    lock_path = lock_path or REPORTS_DIR / ".evidence" / "build.lock"
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + wait_s
    with lock_path.open("w") as lock:
        waiting = False
        while True:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise ReportBuildError(
                        f"another refnet run on this checkout has been building its report for "
                        f"over {wait_s:.0f} s (it holds {lock_path}); let it finish or stop it"
                    ) from None
                if not waiting:
                    logger.info("waiting for another run's report build to finish")
                    waiting = True
                time.sleep(2)
        yield


def build_site(marts_path: Path, out_dir: Path, timeout_s: int = 600) -> Path:
    """Build the report from `marts_path` and copy the static site to `out_dir` (must not exist).

    Each npm step gets `timeout_s` seconds. Raises ReportBuildError on a failed or hung step,
    and on query errors rendered into (or logged for) any page.
    """
    marts_path = Path(marts_path).resolve()
    out_dir = Path(out_dir)
    if out_dir.exists():
        raise ReportBuildError(f"output folder already exists: {out_dir}")
    _check_telemetry_off()
    _check_marts_file(marts_path)
    with _exclusive_build():
        return _build_locked(marts_path, out_dir, timeout_s)


def _build_locked(marts_path: Path, out_dir: Path, timeout_s: int) -> Path:
    # A cold install takes ~70 s; give it room even when the caller's step timeout is short.
    ensure_node_modules(timeout_s=max(timeout_s, 900))

    env = _base_env()
    env[_FILENAME_VAR] = os.path.relpath(marts_path, _SOURCE_DIR.resolve())
    npm = _npm()
    _sync_optional_sources(marts_path)

    # --strict fails on SQL errors in source queries (e.g. a mart lost a column).
    _run(
        [npm, "run", "sources", "--", "--strict"],
        env=env,
        timeout_s=timeout_s,
        what="evidence sources --strict",
    )

    # Evidence never cleans ./build, and a failed build leaves the old one: start empty.
    build_dir = REPORTS_DIR / "build"
    shutil.rmtree(build_dir, ignore_errors=True)
    result = _run(
        [npm, "run", "build:strict"], env=env, timeout_s=timeout_s, what="evidence build:strict"
    )
    if not (build_dir / "index.html").is_file():
        raise ReportBuildError(f"build wrote no index.html; output tail:\n{_tail(result.output)}")

    errors = _query_errors(build_dir, result.output)
    if errors:
        shown = errors[:20] + ([f"... and {len(errors) - 20} more"] if len(errors) > 20 else [])
        raise ReportBuildError("query errors in the report:\n" + "\n".join(shown))

    # Copy next to the target, then rename, so out_dir never holds half a site.
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        staging.chmod(0o755)  # mkdtemp makes it private; the site is served by someone else
        shutil.copytree(build_dir, staging, dirs_exist_ok=True, symlinks=True)
        staging.rename(out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    logger.info("report: site for %s written to %s", marts_path, out_dir)
    return out_dir
