"""Extraction benchmark: rate-limit use and peak memory (not a test; prints figures).

    .venv/bin/python bench/extract.py            # 1x at 120/min, then peak RSS of 1x and 10x
    .venv/bin/python bench/extract.py --quick    # smaller worlds, for a smoke run

1. Against a sandbox limited to 120 requests/min, a full extraction with the client set to the
   same limit: requests/min achieved (share of the allowed rate) and 429s received.
2. Peak RSS of a full extraction of a 1x and a 10x world (no rate limit), each in its own child
   process, read with `os.wait4` (the child's own `getrusage`).

The sandbox runs in its own process too, and this script never builds a world: Linux records
the parent's high-water RSS into a child's `ru_maxrss` when the child execs out of a vfork, so
a parent holding a big world would inflate the very figure we measure.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import contextlib  # noqa: E402
import re  # noqa: E402
from collections.abc import Iterator  # noqa: E402

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


@contextlib.contextmanager
def sandbox(scale: float, rate_limit: int) -> Iterator[str]:
    """`refnet sandbox` in its own process; yields its base URL."""
    proc = subprocess.Popen(
        [
            sys.executable,
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
    )
    try:
        match = re.search(r"(http://\S+/v1)", proc.stdout.readline())
        if not match:
            raise SystemExit("the sandbox did not start")
        yield match.group(1)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="0.1x and 1x worlds")
    parser.add_argument("--limit", type=int, default=120, help="sandbox requests/min")
    args = parser.parse_args()
    small, big = (0.1, 1.0) if args.quick else (1.0, 10.0)

    with sandbox(small, args.limit) as base_url:
        figures, _ = run_child(base_url, args.limit)
    per_minute = figures["requests"] / figures["seconds"] * 60
    print(
        f"rate limit  world {small:g}x: {figures['requests']} requests in "
        f"{figures['seconds']:.1f} s = {per_minute:.1f} requests/min against a "
        f"{args.limit}/min sandbox ({per_minute / args.limit:.0%} of the allowed rate); "
        f"429s received: {figures['rate_limited']}"
    )

    peaks = {}
    for scale in (small, big):
        with sandbox(scale, 0) as base_url:
            figures, peak_kib = run_child(base_url, 100_000)
        peaks[scale] = peak_kib
        print(
            f"peak RSS    world {scale:g}x: {peak_kib / 1024:.1f} MiB for "
            f"{figures['records']} records in {figures['seconds']:.1f} s"
        )
    print(
        f"peak RSS ratio {big:g}x / {small:g}x: {peaks[big] / peaks[small]:.2f} "
        "(acceptance: at most 1.5)"
    )


if __name__ == "__main__":
    main()
