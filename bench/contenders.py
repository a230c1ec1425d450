"""One extraction contender, run in its own process by bench/run.py (which reads its peak RSS).

    .venv/bin/python bench/contenders.py CONTENDER BASE_URL WORKDIR [REQUESTS_PER_MINUTE]

Contenders, all reading every list endpoint refnet reads, 100 records a page, following
`links.next`, with the same filters (hidden records included):
- `floor`: download every page and parse its JSON (orjson), nothing else: the physical limit.
- `refnet`: refnet's connector, pseudonymising and landing Parquet batches with cursors.
- `dlt`: dlt's `rest_api` source into DuckDB, dlt's defaults.
- `dlt-parquet`: the same with dlt's Parquet loader file format.
Prints one JSON line: records, requests, seconds (imports and set-up excluded), 429s.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

KEY = "bench-key-uk1"
AGENT = "refnet bench (bench@refnet.example)"


def _stream_params(stream) -> list[tuple[str, str]]:
    return [("per_page", "100"), ("sort", stream.sort)] + [("q[]", f"{f}:*") for f in stream.hidden]


def floor(base_url: str, workdir: Path, rpm: int) -> dict:
    import orjson
    import requests

    from flows.cliniko import STREAMS

    session = requests.Session()
    session.auth = (KEY, "")
    session.headers.update({"User-Agent": AGENT, "Accept": "application/json"})
    started = time.monotonic()
    records = requests_made = 0
    for stream in STREAMS:
        url, params = f"{base_url}/{stream.name}", _stream_params(stream)
        while url:
            body = orjson.loads(session.get(url, params=params, timeout=30).content)
            requests_made += 1
            records += len(body[stream.name])
            url, params = body["links"].get("next"), None
    return {"records": records, "requests": requests_made, "seconds": time.monotonic() - started}


class _TimedLimiter:
    """The client's limiter, noting when each request left (for the sustained rate)."""

    def __init__(self, limiter) -> None:
        self.limiter, self.sent = limiter, []

    def acquire(self) -> float:
        waited = self.limiter.acquire()
        self.sent.append(time.monotonic())
        return waited

    def hold_until(self, moment: float) -> None:
        self.limiter.hold_until(moment)


def refnet(base_url: str, workdir: Path, rpm: int) -> dict:
    from flows.cliniko import STREAMS, extract_stream
    from flows.http import HttpClient, RateLimiter
    from flows.land import CursorStore, Pseudonymiser

    limiter = _TimedLimiter(RateLimiter(rpm or 1_000_000))
    http = HttpClient("bench", (KEY, ""), AGENT, limiter)  # type: ignore[arg-type]
    cursors = CursorStore(workdir / "state")
    pseudonymiser = Pseudonymiser(b"bench-secret", "How did you hear about us?")
    started = time.monotonic()
    records = sum(
        extract_stream(
            http, base_url, "bench", s, workdir / "raw", cursors, pseudonymiser, "bench"
        ).records
        for s in STREAMS
    )
    seconds = time.monotonic() - started
    return {
        "records": records,
        "requests": http.stats.requests,
        "rate_limited": http.stats.rate_limited,
        "seconds": seconds,
        "sent": [round(t - started, 3) for t in limiter.sent],
    }


def _dlt(base_url: str, workdir: Path, file_format: str | None) -> dict:
    os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")
    os.environ["DLT_DATA_DIR"] = str(workdir / "dlt-data")
    import dlt
    from dlt.sources.rest_api import rest_api_source

    from flows.cliniko import STREAMS

    resources = [
        {
            "name": s.name,
            "endpoint": {
                "path": s.name,
                "data_selector": s.name,
                "params": {
                    "per_page": 100,
                    "sort": s.sort,
                    **({"q[]": [f"{f}:*" for f in s.hidden]} if s.hidden else {}),
                },
            },
        }
        for s in STREAMS
    ]
    source = rest_api_source(
        {
            "client": {
                "base_url": base_url + "/",
                "auth": {"type": "http_basic", "username": KEY, "password": ""},
                "headers": {"User-Agent": AGENT, "Accept": "application/json"},
                "paginator": {"type": "json_link", "next_url_path": "links.next"},
            },
            "resource_defaults": {"write_disposition": "append"},
            "resources": resources,
        }
    )
    pipeline = dlt.pipeline(
        pipeline_name="bench",
        pipelines_dir=str(workdir / "dlt-pipelines"),
        destination=dlt.destinations.duckdb(str(workdir / "dlt.duckdb")),
        dataset_name="cliniko",
    )
    started = time.monotonic()
    if file_format:
        pipeline.run(source, loader_file_format=file_format)
    else:
        pipeline.run(source)
    seconds = time.monotonic() - started
    import duckdb

    con = duckdb.connect(str(workdir / "dlt.duckdb"), read_only=True)
    records = sum(
        con.execute(f'select count(*) from cliniko."{s.name}"').fetchone()[0]
        for s in STREAMS
        if con.execute(
            "select count(*) from information_schema.tables where table_schema = 'cliniko' "
            "and table_name = ?",
            [s.name],
        ).fetchone()[0]
    )
    return {"records": records, "seconds": seconds}


def dlt_default(base_url: str, workdir: Path, rpm: int) -> dict:
    return _dlt(base_url, workdir, None)


def dlt_parquet(base_url: str, workdir: Path, rpm: int) -> dict:
    return _dlt(base_url, workdir, "parquet")


CONTENDERS = {
    "floor": floor,
    "refnet": refnet,
    "dlt": dlt_default,
    "dlt-parquet": dlt_parquet,
}


def main() -> None:
    name, base_url, workdir = sys.argv[1], sys.argv[2], Path(sys.argv[3])
    rpm = int(sys.argv[4]) if len(sys.argv) > 4 else 0
    workdir.mkdir(parents=True, exist_ok=True)
    print(json.dumps(CONTENDERS[name](base_url, workdir, rpm)), flush=True)


if __name__ == "__main__":
    main()
