"""`refnet serve`: a Prefect deployment of `nightly` on a schedule, served from this process.

Scheduling needs a real Prefect API (the temporary server of a plain `refnet run` has no
scheduler). With `PREFECT_API_URL` set, that server is used (a team's server, or
`prefect server start` in another terminal); otherwise refnet starts a local one for the
lifetime of `refnet serve`, with its UI, and stops it on exit.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import requests

log = logging.getLogger(__name__)

DEPLOYMENT_NAME = "refnet-nightly"
SERVER_START_TIMEOUT_S = 180


class ServeError(Exception):
    """`refnet serve` cannot start; the message says what to do."""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _healthy(api_url: str) -> bool:
    try:
        return requests.get(f"{api_url}/health", timeout=2).ok
    except requests.RequestException:
        return False


@contextlib.contextmanager
def prefect_api(home: Path, port: int) -> Iterator[str]:
    """The Prefect API URL to serve against: `$PREFECT_API_URL`, else a local server we start."""
    existing = os.environ.get("PREFECT_API_URL")
    if existing:
        if not _healthy(existing):
            raise ServeError(
                f"PREFECT_API_URL={existing} does not answer; start that server "
                "(`prefect server start`) or unset PREFECT_API_URL to let refnet start one"
            )
        yield existing
        return
    port = port or _free_port()
    api_url = f"http://127.0.0.1:{port}/api"
    if _healthy(api_url):
        raise ServeError(f"port {port} is already serving a Prefect API; pass --server-port")
    logs = home / "prefect" / "server.log"
    logs.parent.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PREFECT_HOME": str(home / "prefect")}
    with open(logs, "ab") as out:
        # Its own session: a Ctrl-C in the terminal reaches us, and we stop the server in order.
        server = subprocess.Popen(
            [
                str(Path(sys.executable).with_name("prefect")),
                "server",
                "start",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + SERVER_START_TIMEOUT_S
        while not _healthy(api_url):
            if server.poll() is not None:
                raise ServeError(f"the Prefect server exited ({server.returncode}); see {logs}")
            if time.monotonic() > deadline:
                raise ServeError(f"the Prefect server did not start in time; see {logs}")
            time.sleep(1)
        os.environ["PREFECT_API_URL"] = api_url
        print(f"Prefect server and UI: http://127.0.0.1:{port} (log {logs})", flush=True)
        yield api_url
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait()


def serve(
    config_path: Path,
    home: Path,
    cron: str,
    timezone: str,
    interval: int | None = None,
    server_port: int = 4200,
) -> None:
    """Register the deployment and run its scheduled runs until SIGTERM or Ctrl-C."""
    # Until Prefect's runner installs its own handler, SIGTERM must still unwind through the
    # `finally` below (which stops the Prefect server we started), not kill us outright.
    previous = signal.signal(signal.SIGTERM, _exit_on_sigterm)
    try:
        _serve_with_api(config_path, home, cron, timezone, interval, server_port)
    finally:
        signal.signal(signal.SIGTERM, previous)
        print("refnet serve stopped", flush=True)


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(0)


def _serve_with_api(
    config_path: Path, home: Path, cron: str, timezone: str, interval: int | None, port: int
) -> None:
    with prefect_api(home, port) as api_url:
        from prefect.schedules import Cron, Interval
        from prefect.settings import PREFECT_API_URL, temporary_settings

        from flows.config import load_config
        from flows.nightly import nightly, task_runner

        # The runner the config names (e.g. a Dask cluster) serves every scheduled run.
        nightly = nightly.with_options(task_runner=task_runner(load_config(config_path)))
        schedule = (
            Interval(timedelta(seconds=interval), timezone=timezone)
            if interval
            else Cron(cron, timezone=timezone)
        )
        print(
            f"serving {DEPLOYMENT_NAME}: "
            + (f"every {interval} s" if interval else f"cron '{cron}' ({timezone})"),
            flush=True,
        )
        # Prefect reads its settings once at import (validating a cron imports it), so the
        # URL set above must also be pushed into the settings context.
        with temporary_settings({PREFECT_API_URL: api_url}):
            _serve(nightly, config_path, home, schedule)


def _serve(nightly, config_path: Path, home: Path, schedule) -> None:
    from prefect.client.schemas.objects import ConcurrencyLimitConfig, ConcurrencyLimitStrategy

    nightly.serve(
        name=DEPLOYMENT_NAME,
        schedules=[schedule],
        parameters={"config_path": str(config_path.resolve()), "home": str(home)},
        # One nightly at a time, server-side: a run due while one is going is cancelled
        # (the next one catches up from the committed cursors). The run lock still
        # guards against a `refnet run` started by hand.
        global_limit=ConcurrencyLimitConfig(
            limit=1, collision_strategy=ConcurrencyLimitStrategy.CANCEL_NEW
        ),
        # A stopped box leaves its schedule paused (no pile of late runs); serving again
        # resumes it.
        paused=False,
        pause_on_shutdown=True,
        tags=["refnet"],
        print_starting_message=False,
    )
