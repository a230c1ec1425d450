"""`python -m flows.sandbox` and `refnet sandbox`: serve the world until Ctrl-C or SIGTERM."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from datetime import date
from pathlib import Path
from types import FrameType

from flows.sandbox.server import DEFAULT_API_KEY, FAULT_KINDS, Faults, make_server
from flows.sandbox.world import build_world, registry_yaml


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="refnet sandbox",
        description="Serve a synthetic, deterministic Cliniko-compatible API (two clinics, "
        "18 months of referrals) for refnet's demo and tests.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default %(default)s)")
    parser.add_argument(
        "--port",
        type=int,
        default=8765,
        help="port to bind; 0 picks a free one (default %(default)s)",
    )
    parser.add_argument("--seed", type=int, default=7, help="world seed (default %(default)s)")
    parser.add_argument(
        "--scale",
        type=float,
        default=1.0,
        help="world size; 1.0 is about 1,500 referrals (default %(default)s)",
    )
    parser.add_argument(
        "--end-date",
        type=date.fromisoformat,
        default=date(2026, 11, 30),
        help="last day of the world's history (default %(default)s)",
    )
    parser.add_argument(
        "--rate-limit",
        type=int,
        default=200,
        metavar="N",
        help="requests per minute per API key, 0 for none (default %(default)s)",
    )
    parser.add_argument(
        "--api-key",
        default=DEFAULT_API_KEY,
        help="the API key clients must send (default %(default)s)",
    )
    parser.add_argument(
        "--faults",
        default="",
        metavar="KINDS",
        help="inject faults into list responses: 'all' or a comma list of "
        f"{', '.join(FAULT_KINDS)} (default: none)",
    )
    parser.add_argument(
        "--fault-rate",
        type=float,
        default=0.2,
        metavar="P",
        help="share of list requests that get a fault (default %(default)s)",
    )
    parser.add_argument(
        "--fault-seed", type=int, default=0, help="seed of the fault dice (default %(default)s)"
    )
    parser.add_argument(
        "--write-registry",
        type=Path,
        metavar="FILE",
        help="also write the world's partner registry (YAML) to FILE",
    )
    return parser


def _stop(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt  # serve_forever unwinds as it does on Ctrl-C


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.scale <= 0 or args.rate_limit < 0:
        print("refnet sandbox: --scale must be > 0 and --rate-limit >= 0", file=sys.stderr)
        return 2
    faults = None
    if args.faults:
        try:
            faults = Faults.parse(args.faults, args.fault_rate, args.fault_seed)
        except ValueError as exc:
            print(f"refnet sandbox: --{exc}", file=sys.stderr)
            return 2
    world = build_world(seed=args.seed, scale=args.scale, end_date=args.end_date)
    if args.write_registry:
        args.write_registry.write_text(registry_yaml(world), encoding="utf-8")
    try:
        server = make_server(world, args.host, args.port, args.api_key, args.rate_limit, faults)
    except OSError as exc:
        print(f"refnet sandbox: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _stop)
    limit = f"{args.rate_limit} requests/min" if args.rate_limit else "no rate limit"
    if faults:
        limit += f"; faults {','.join(faults.kinds)} on {faults.rate:.0%} of list requests"
    print(f"refnet sandbox serving {server.base_url}", flush=True)
    print(f"API key: {args.api_key} (Basic auth user name, empty password)", flush=True)
    print(
        f"world: seed {args.seed}, scale {args.scale:g}, {len(world.referrals)} referrals to "
        f"{world.end_date}; {limit}. Ctrl-C stops.",
        flush=True,
    )
    if args.write_registry:
        print(f"partner registry written to {args.write_registry}", flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    print("refnet sandbox stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
