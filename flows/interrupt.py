"""Ctrl-C and SIGTERM during `refnet run` / `refnet demo`: stop within seconds, publish nothing.

A terminal's Ctrl-C also reaches Prefect's temporary server (same process group), which then
dies; left to itself the run would spend minutes retrying a dead API. Every write of a run is
atomic (landed batches, cursors after their data, publish by rename), so the safe stop is:
kill the tools we started, record the run as interrupted, and exit at once.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

_lock = threading.Lock()
_groups: set[int] = set()  # process groups of running dbt / Evidence commands
_on_stop: list[Callable[[str], None]] = []


@contextlib.contextmanager
def tracked_group(pgid: int) -> Iterator[None]:
    """A child started with `start_new_session=True`, to be killed if the run is stopped."""
    with _lock:
        _groups.add(pgid)
    try:
        yield
    finally:
        with _lock:
            _groups.discard(pgid)


@contextlib.contextmanager
def on_stop(callback: Callable[[str], None]) -> Iterator[None]:
    """Call `callback(signal name)` if the run is stopped while inside this block."""
    _on_stop.append(callback)
    try:
        yield
    finally:
        with contextlib.suppress(ValueError):
            _on_stop.remove(callback)


def _direct_children() -> list[int]:
    """Our child processes (Prefect's temporary server among them), read from /proc."""
    me, children = os.getpid(), []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            # The command name may hold spaces and parentheses: fields follow the last ')'.
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == me:
                children.append(int(stat.parent.name))
    return children


def _kill_children() -> None:
    with _lock:
        groups = list(_groups)
    for pgid in groups:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGKILL)
    # A signal sent to refnet alone must not leave Prefect's server running without us.
    for pid in _direct_children():
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGTERM)


def _stop(signum: int, frame: object) -> None:
    name = signal.Signals(signum).name
    # A second signal while stopping exits at once.
    signal.signal(signum, lambda *_: os._exit(128 + signum))
    # Recorded before the tools die, so a stage failing on their death cannot record it first.
    for callback in list(_on_stop):
        with contextlib.suppress(Exception):
            callback(name)
    _kill_children()
    sys.stderr.write(
        f"\nrefnet: {name} received, run stopped. Nothing from this run was published: the "
        "previous report stays up, and the next run resumes from the last saved cursors.\n"
    )
    sys.stderr.flush()
    os._exit(128 + signum)


@contextlib.contextmanager
def stop_on_signals() -> Iterator[None]:
    """Install the stop handler for SIGINT and SIGTERM (main thread only) for this block."""
    previous = {sig: signal.signal(sig, _stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
