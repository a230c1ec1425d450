"""One nightly run per data directory: a second one exits with a clear message."""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
from collections.abc import Iterator
from pathlib import Path

# Homes this process already holds: `refnet run` takes the lock before Prefect starts (so a
# second run fails in a second, not after a server start-up) and the flow takes it again.
_held: set[Path] = set()
_held_guard = threading.Lock()


class RunLocked(Exception):
    """Another run holds the data directory."""


@contextlib.contextmanager
def run_lock(home: Path) -> Iterator[None]:
    """Hold `<home>/run.lock` for the length of a run; the kernel releases it if we die."""
    home = Path(home).resolve()
    with _held_guard:
        if home in _held:
            reentered = True
        else:
            reentered = False
    if reentered:
        yield
        return
    home.mkdir(parents=True, exist_ok=True)
    path = home / "run.lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
            raise RunLocked(
                f"another refnet run is using {home} (pid {holder} holds {path}); it will "
                "publish when done. Wait for it, or stop it, then run again."
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        with _held_guard:
            _held.add(home)
        try:
            yield
        finally:
            with _held_guard:
                _held.discard(home)
    finally:
        os.close(fd)
