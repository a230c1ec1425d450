from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
REFNET = str(Path(sys.executable).with_name("refnet"))
TEST_SCALE = "0.15"
CSV_SAMPLE = SHARED / "data" / "appointments" / "KaggleV2-May-2016.sample.csv"


def mart_fingerprint(path: Path) -> dict[str, str]:
    """A digest per published mart (order-insensitive), to prove two runs agree."""
    from flows.publish import PUBLISHED_MARTS

    con = duckdb.connect(str(path), read_only=True)
    try:
        out = {}
        for table in PUBLISHED_MARTS:
            rows = con.sql(f"select * from {table}").fetchall()
            out[table] = hashlib.sha256(repr(sorted(map(repr, rows))).encode()).hexdigest()
        return out
    finally:
        con.close()


def refnet(*args: str, env: dict | None = None, timeout: int = 1800) -> subprocess.CompletedProcess:
    """Run the real `refnet` command, as a user would."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [REFNET, *args], capture_output=True, text=True, env=full_env, timeout=timeout, cwd=REPO
    )


@pytest.fixture(scope="session")
def demo_home(tmp_path_factory) -> Path:
    """One real demo run (sandbox, Prefect, dbt, GX, Evidence) shared by the pipeline tests."""
    home = tmp_path_factory.mktemp("demo-home")
    result = refnet("demo", "--home", str(home), "--scale", TEST_SCALE)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    (home / "first-run.out").write_text(result.stdout)
    return home


CSV_ONLY_SECRET = "csv-only-test-pseudonym-secret-5b2e"


def csv_only_config(folder: Path, extra_sources: tuple[dict, ...] = ()) -> Path:
    """A clinic's config: a CSV export (the Kaggle file's 64-row sample), plus `extra_sources`."""
    config = {
        "sources": [
            {
                "name": "vitoria",
                "kind": "csv",
                "mapping": str(REPO / "examples" / "csv" / "kaggle-noshow.mapping.yml"),
                "time_zone": "America/Sao_Paulo",
                "files": {"appointments": str(CSV_SAMPLE), "patients": str(CSV_SAMPLE)},
            },
            *extra_sources,
        ],
    }
    path = folder / "refnet.yml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


@pytest.fixture(scope="session")
def csv_only_home(tmp_path_factory) -> dict:
    """One real `refnet run` of a CSV-only clinic (no referral source), published."""
    tmp = tmp_path_factory.mktemp("csv-only")
    config = csv_only_config(tmp)
    home = tmp / "home"
    result = refnet(
        "run",
        "--config",
        str(config),
        "--home",
        str(home),
        env={"REFNET_PSEUDONYM_SECRET": CSV_ONLY_SECRET},
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return {"home": home, "config": config, "out": result.stdout + result.stderr}


@pytest.hookimpl(tryfirst=True)  # before xdist reads the groups
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Under `pytest -n` (make test), every test of the shared demo runs on one worker, so the
    # demo is built once; the rest spread over the other workers. Same for the CSV-only run.
    for item in items:
        fixtures = getattr(item, "fixturenames", ())
        if "demo_home" in fixtures:
            item.add_marker(pytest.mark.xdist_group("demo"))
        elif "csv_only_home" in fixtures:
            item.add_marker(pytest.mark.xdist_group("csv-only"))
