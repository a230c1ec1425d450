"""Extraction benchmark: rate-limit use and peak memory (not a test; prints figures).

    .venv/bin/python bench/extract.py            # 1x at 120/min, then peak RSS of 1x and 10x
    .venv/bin/python bench/extract.py --quick    # smaller worlds, for a smoke run

1. Against a sandbox limited to 120 requests/min, a full extraction with the client set to the
   same limit: requests/min achieved (share of the allowed rate) and 429s received.
2. Peak RSS of a full extraction of a 1x and a 10x world (no rate limit), each in its own child
   process, read with `os.wait4` (the child's own `getrusage`).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from flows.sandbox.server import serving  # noqa: E402
from flows.sandbox.world import build_world  # noqa: E402

KEY = "bench-key-uk1"
CHILD = f"""
import json, sys, time
from pathlib import Path
from flows.cliniko import STREAMS, extract_stream
from flows.http import HttpClient, RateLimiter
from flows.land import CursorStore, Pseudonymiser
base_url, home, rpm = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3])
http = HttpClient("bench", ({KEY!r}, ""), "refnet bench (bench@refnet.example)", RateLimiter(rpm))
cursors, pseudo = CursorStore(home / "state"), Pseudonymiser(b"bench", "How did you hear about us?")
started = time.monotonic()
records = sum(extract_stream(http, base_url, "bench", s, home / "raw", cursors, pseudo, "b").records
              for s in STREAMS)
print(json.dumps({{"records": records, "requests": http.stats.requests,
                  "rate_limited": http.stats.rate_limited,
                  "seconds": time.monotonic() - started}}))
"""


def run_child(base_url: str, rpm: int) -> tuple[dict, int]:
    """(the child's figures, its peak RSS in KiB)."""
    with tempfile.TemporaryDirectory() as home:
        proc = subprocess.Popen(
            [sys.executable, "-c", CHILD, base_url, home, str(rpm)],
            stdout=subprocess.PIPE,
            cwd=REPO,
        )
        out = proc.stdout.read()
        _, status, usage = os.wait4(proc.pid, 0)
        if status != 0:
            raise SystemExit(f"extraction child failed (status {status})")
        return json.loads(out), usage.ru_maxrss  # KiB on Linux


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="0.1x and 1x worlds")
    parser.add_argument("--limit", type=int, default=120, help="sandbox requests/min")
    args = parser.parse_args()
    small, big = (0.1, 1.0) if args.quick else (1.0, 10.0)

    world = build_world(scale=small)
    with serving(world, api_key=KEY, requests_per_minute=args.limit) as server:
        figures, _ = run_child(server.base_url, args.limit)
    per_minute = figures["requests"] / figures["seconds"] * 60
    print(
        f"rate limit  world {small:g}x: {figures['requests']} requests in "
        f"{figures['seconds']:.1f} s = {per_minute:.1f} requests/min against a "
        f"{args.limit}/min sandbox ({per_minute / args.limit:.0%} of the allowed rate); "
        f"429s received: {figures['rate_limited']}"
    )

    peaks = {}
    for scale in (small, big):
        started = time.monotonic()
        world = build_world(scale=scale)
        built = time.monotonic() - started
        with serving(world, api_key=KEY, requests_per_minute=0) as server:
            figures, peak_kib = run_child(server.base_url, 100_000)
        del world
        peaks[scale] = peak_kib
        print(
            f"peak RSS    world {scale:g}x: {peak_kib / 1024:.1f} MiB for "
            f"{figures['records']} records in {figures['seconds']:.1f} s "
            f"(world built in {built:.0f} s)"
        )
    print(
        f"peak RSS ratio {big:g}x / {small:g}x: {peaks[big] / peaks[small]:.2f} "
        "(acceptance: at most 1.5)"
    )


if __name__ == "__main__":
    main()
