"""Scale-out: raw landing on fsspec paths, and the nightly flow on a Dask cluster."""

from __future__ import annotations

import json
import time
from pathlib import Path

import fsspec
import pyarrow.parquet as pq
import pytest
from conftest import TEST_SCALE, mart_fingerprint, refnet

from flows.cliniko import STREAMS_BY_NAME, extract_stream
from flows.config import ConfigError, load_config
from flows.http import HttpClient, RateLimiter
from flows.land import RAW_SCHEMA, CursorStore, Pseudonymiser
from flows.sandbox.server import DEFAULT_API_KEY, running_sandbox


def _land(base_url: str, raw: str | Path, state: Path) -> dict[str, int]:
    client = HttpClient(
        "t", (DEFAULT_API_KEY, ""), "refnet test (t@refnet.example)", RateLimiter(10_000)
    )
    pseudonymiser = Pseudonymiser(b"secret", "How did you hear about us?")
    return {
        name: extract_stream(
            client,
            base_url,
            "acct",
            STREAMS_BY_NAME[name],
            raw,
            CursorStore(state),
            pseudonymiser,
            "run1",
            batch_size=50,
        ).records
        for name in ("patients", "individual_appointments")
    }


def _read(fs, paths: list[str]) -> list[tuple]:
    rows = []
    for path in paths:
        with fs.open(path, "rb") as fh:
            table = pq.read_table(fh)
        assert table.schema.equals(RAW_SCHEMA)
        rows += [(r["stream"], r["id"], r["record"]) for r in table.to_pylist()]
    return sorted(rows)


def test_raw_landing_works_on_fsspec_urls_as_on_a_local_folder(tmp_path: Path):
    with running_sandbox(scale=0.05, requests_per_minute=0) as base_url:
        local = _land(base_url, tmp_path / "raw", tmp_path / "s1")
        in_memory = _land(base_url, "memory://refnet-test/raw", tmp_path / "s2")
        as_url = _land(base_url, f"file://{tmp_path}/raw-url", tmp_path / "s3")
    assert local == in_memory == as_url
    assert local["individual_appointments"] > 100  # several batches of 50
    memory = fsspec.filesystem("memory")
    files = memory.glob("/refnet-test/raw/cliniko/acct/*/*.parquet")
    assert len(files) > 2
    local_fs = fsspec.filesystem("file")
    expected = _read(local_fs, sorted(map(str, (tmp_path / "raw").rglob("*.parquet"))))
    assert _read(memory, files) == expected
    assert _read(local_fs, sorted(map(str, (tmp_path / "raw-url").rglob("*.parquet")))) == expected
    memory.rm("/refnet-test", recursive=True)


def test_runner_config_is_checked(tmp_path: Path):
    path = tmp_path / "refnet.yml"
    base = "sources: [{name: a, kind: cliniko, api_key: k, contact_email: a@b.example}]\n"
    path.write_text(base + "runner: {kind: dask, address: localhost:8786}\n")
    with pytest.raises(ConfigError, match=r"runner\.address: must be a Dask scheduler address"):
        load_config(path)
    path.write_text(base + "runner: {kind: ray}\n")
    with pytest.raises(ConfigError, match=r"runner\.kind"):
        load_config(path)
    path.write_text(base + "runner: {kind: dask, workers: 3}\n")
    assert load_config(path).runner.workers == 3


@pytest.mark.parametrize(
    "command, variable, value, message",
    [
        ("run", "REFNET_RUNNER", "ray", "Input should be 'threads' or 'dask'"),
        ("status", "REFNET_RUNNER", "ray", "Input should be 'threads' or 'dask'"),
        ("run", "REFNET_DUCKDB_MEMORY_LIMIT", "banana", "must be an amount of memory DuckDB"),
    ],
)
def test_a_bad_environment_value_is_named(tmp_path: Path, command, variable, value, message):
    path = tmp_path / "refnet.yml"
    path.write_text("sources: [{name: a, kind: cliniko, api_key: k, contact_email: a@b.example}]\n")
    # Without --home, status reads the home from the environment's settings too.
    args = ["--config", str(path), "--home", str(tmp_path / "h")] if command == "run" else []
    result = refnet(command, *args, env={variable: value})
    assert result.returncode == 2, result.stderr[-2000:]
    assert f"{variable}: {message}" in result.stderr
    assert "Traceback" not in result.stderr


def test_nightly_on_a_dask_cluster_publishes_the_same_marts(tmp_path: Path, demo_home: Path):
    """The demo world through a Dask LocalCluster publishes what the default runner did.

    One run: the session's demo (threads) is the reference. The demo pins as_of to the world's
    end, so its marts stay the same whatever other tests run on demo_home meanwhile."""
    home = tmp_path / "dask"
    started = time.monotonic()
    result = refnet(
        "demo", "--home", str(home), "--scale", TEST_SCALE, env={"REFNET_RUNNER": "dask"}
    )
    seconds = time.monotonic() - started
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    (record,) = [json.loads(p.read_text()) for p in (home / "runs").glob("*.json")]
    assert record["runner"] == "dask"
    assert record["published"] is True
    dask = mart_fingerprint(home / "published" / "marts.duckdb")
    assert dask == mart_fingerprint(demo_home / "published" / "marts.duckdb")
    print(f"demo at scale {TEST_SCALE} on Dask: {seconds:.0f} s")
