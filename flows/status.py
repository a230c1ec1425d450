"""What the last runs did, and how fresh each source is."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path


def load_runs(home: Path, limit: int = 10) -> list[dict]:
    runs = []
    for path in sorted((home / "runs").glob("*.json"), reverse=True)[:limit]:
        try:
            runs.append(json.loads(path.read_text()))
        except ValueError:
            continue  # a run killed mid-write leaves no file (atomic), so this is foreign
    return runs


def source_freshness(home: Path) -> dict[str, str]:
    """Per account, the time its last stream cursor was committed."""
    out: dict[str, str] = {}
    for path in (home / "state").glob("*/*/*.json"):
        try:
            body = json.loads(path.read_text())
            committed = body.get("checked_at") or body.get("committed_at")
        except ValueError:
            continue
        account = f"{path.parent.parent.name}/{path.parent.name}"
        if committed and committed > out.get(account, ""):
            out[account] = committed
    return out


def _age(iso: str) -> str:
    delta = datetime.now(UTC) - datetime.fromisoformat(iso)
    hours = delta.total_seconds() / 3600
    return f"{hours:.1f} h ago" if hours < 48 else f"{hours / 24:.1f} days ago"


def status_text(home: Path, limit: int = 10) -> str:
    runs = load_runs(home, limit)
    if not runs:
        return f"no runs yet in {home}"
    lines = [f"last {len(runs)} runs in {home}:"]
    for run in runs:
        published = "published" if run.get("published") else "not published"
        stage = f" at {run['failed_stage']}" if run.get("failed_stage") else ""
        lines.append(
            f"{run['run_id']}  {run['status'] + stage:<20} started {run['started_at'][:19]}"
            f"  ({published})"
        )
        for name, stage in run.get("stages", {}).items():
            lines.append(f"    {name:<10} {stage['status']:<7} {stage['seconds']:>7.1f} s")
        for account, streams in run.get("streams", {}).items():
            counts = ", ".join(f"{s['stream']} {s['records']}" for s in streams)
            lines.append(f"    {account}: {counts}")
        if run.get("marts"):
            lines.append("    marts: " + ", ".join(f"{k} {v}" for k, v in run["marts"].items()))
        if run.get("gate"):
            lines.append(f"    {run['gate'].splitlines()[0]}")
        if run.get("error"):
            lines.append(f"    why: {run['error']}")
    fresh = source_freshness(home)
    if fresh:
        lines.append("source freshness (last committed extraction):")
        for account, when in sorted(fresh.items()):
            lines.append(f"    {account:<24} {when[:19]}  ({_age(when)})")
    return "\n".join(lines)
