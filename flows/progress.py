"""Progress bars for a run started from a terminal; silent everywhere else (logs, schedules)."""

from __future__ import annotations

import contextlib
import sys
import threading
from collections.abc import Iterator

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)


class RunProgress:
    """What the nightly flow reports as it goes; this base class shows nothing."""

    def start_stage(self, name: str, total: int | None = None) -> None: ...

    def advance(self, name: str, detail: str = "") -> None: ...

    def end_stage(self, name: str, ok: bool) -> None: ...

    def close(self) -> None: ...


class RichProgress(RunProgress):
    """One line per stage on stderr: a bar for extraction (streams), a spinner for the rest."""

    def __init__(self, console: Console | None = None) -> None:
        self._progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description:<10}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[detail]}"),
            TimeElapsedColumn(),
            console=console or Console(stderr=True),
            transient=False,
        )
        self._tasks: dict[str, int] = {}
        self._lock = threading.Lock()  # extraction reports from several task threads
        self._progress.start()

    def start_stage(self, name: str, total: int | None = None) -> None:
        with self._lock:
            self._tasks[name] = self._progress.add_task(name, total=total, detail="")

    def advance(self, name: str, detail: str = "") -> None:
        with self._lock:
            if name in self._tasks:
                self._progress.update(self._tasks[name], advance=1, detail=detail)

    def end_stage(self, name: str, ok: bool) -> None:
        with self._lock:
            task = self._tasks.get(name)
            if task is None:
                return
            total = self._progress.tasks[task].total
            self._progress.update(
                task,
                total=total or 1,
                completed=total or 1,
                detail="ok" if ok else "[red]failed[/]",
            )
            self._progress.stop_task(task)

    def close(self) -> None:
        self._progress.stop()


_current: RunProgress = RunProgress()


def current() -> RunProgress:
    return _current


@contextlib.contextmanager
def shown_on_tty(enabled: bool | None = None) -> Iterator[RunProgress]:
    """Show progress bars for the block when stderr is a terminal (or when `enabled`)."""
    global _current
    show = sys.stderr.isatty() if enabled is None else enabled
    progress: RunProgress = RichProgress() if show else RunProgress()
    previous, _current = _current, progress
    try:
        yield progress
    finally:
        progress.close()
        _current = previous
