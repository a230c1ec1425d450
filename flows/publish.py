"""Publishing: marts to `published/marts.duckdb` and the site to `site/`, both or neither."""

from __future__ import annotations

import logging
import os
import shutil
import struct
from collections.abc import Callable
from pathlib import Path

import duckdb

from flows.gate import write_history_table
from flows.land import _fsync_dir, sql_string

log = logging.getLogger(__name__)

PUBLISHED_MARTS = (
    "referrals",
    "partners",
    "partner_performance_monthly",
    "funnel_monthly",
    "clinics",
    "appointments",
    "partner_health",
    "network_summary",
    "partner_feedback",
    "unmatched_intake_answers",
)
KEEP_SITES = 3


class PublishError(Exception):
    """Publishing failed; the previous marts and site are still the live ones."""


def storage_version(path: Path) -> int:
    """DuckDB's storage version: the little-endian uint32 at byte 12 of the file."""
    with open(path, "rb") as fh:
        header = fh.read(16)
    return struct.unpack("<I", header[12:16])[0]


def marts_schema(database: Path, tables: tuple[str, ...] = PUBLISHED_MARTS) -> str:
    """The schema dbt built the marts in (dbt-duckdb prefixes custom schemas)."""
    con = duckdb.connect(str(database), read_only=True)
    try:
        rows = con.execute(
            "select table_schema, count(*) from information_schema.tables "
            "where table_name in (select unnest($1::varchar[])) group by 1 order by 2 desc",
            [list(tables)],
        ).fetchall()
    finally:
        con.close()
    if not rows or rows[0][1] != len(tables):
        found = rows[0][1] if rows else 0
        raise PublishError(f"{database}: found {found} of the {len(tables)} marts to publish")
    return rows[0][0]


def copy_marts(
    warehouse: Path,
    schema: str,
    target: Path,
    tables: tuple[str, ...] = PUBLISHED_MARTS,
    gate_history: list[dict] | None = None,
) -> dict[str, int]:
    """Copy the marts (and the gate's results) into a fresh file; returns rows per table."""
    if target.exists():
        target.unlink()
    con = duckdb.connect(str(target))
    counts: dict[str, int] = {}
    try:
        con.execute(f"attach {sql_string(str(warehouse))} as wh (read_only)")
        for table in tables:
            con.execute(f'create table main."{table}" as select * from wh."{schema}"."{table}"')
            counts[table] = con.execute(f'select count(*) from main."{table}"').fetchone()[0]
        con.execute("detach wh")
        if gate_history is not None:
            counts["gate_results"] = write_history_table(con, gate_history)
        con.execute("checkpoint")
    finally:
        con.close()
    return counts


def swap_symlink(link: Path, target: Path) -> None:
    """Point `link` at `target` in one atomic rename (readers see the old or the new site)."""
    tmp = link.with_name(f".{link.name}.new")
    if tmp.is_symlink() or tmp.exists():
        tmp.unlink()
    tmp.symlink_to(target.relative_to(link.parent))
    os.replace(tmp, link)
    _fsync_dir(link.parent)


def publish(
    home: Path,
    warehouse: Path,
    run_id: str,
    build_site: Callable[[Path, Path], Path],
    gate_history: list[dict] | None = None,
    gate_report: Path | None = None,
    before_swap: Callable[[Path, dict[str, int]], None] | None = None,
) -> dict[str, int]:
    """Copy marts to a staging file, build the site from it, then swap both into place.

    `gate_history` becomes the published `gate_results` table; `gate_report` (the gate's
    offline HTML page) is copied into the site as `gate-report.html` before the swap.
    `before_swap(staged, counts)` may add tables (run history, with this run's mart row counts)
    to the staged file before it goes live.
    """
    published = home / "published"
    sites = home / "sites"
    published.mkdir(parents=True, exist_ok=True)
    sites.mkdir(parents=True, exist_ok=True)
    live_site = home / "site"
    if live_site.exists() and not live_site.is_symlink():
        raise PublishError(f"{live_site} is a folder, not refnet's link; move it aside and re-run")

    staged = published / f".marts-{run_id}.duckdb"
    site_dir = sites / run_id
    try:
        counts = copy_marts(warehouse, marts_schema(warehouse), staged, gate_history=gate_history)
        build_site(staged, site_dir)
        if gate_report is not None:
            shutil.copyfile(gate_report, site_dir / "gate-report.html")
        if before_swap is not None:
            before_swap(staged, counts)
        os.replace(staged, published / "marts.duckdb")
        _fsync_dir(published)
        swap_symlink(live_site, site_dir)
    except BaseException:
        staged.unlink(missing_ok=True)
        if site_dir.exists() and (not live_site.is_symlink() or live_site.resolve() != site_dir):
            shutil.rmtree(site_dir, ignore_errors=True)
        raise
    _prune_sites(sites, keep=live_site.resolve())
    return counts


def _prune_sites(sites: Path, keep: Path) -> None:
    old = sorted((p for p in sites.iterdir() if p.is_dir() and p != keep), reverse=True)
    for path in old[KEEP_SITES - 1 :]:
        shutil.rmtree(path, ignore_errors=True)
