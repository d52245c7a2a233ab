"""Progress bars on a terminal, silence in pipes and CI."""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from typing import Callable, Iterator, Optional


def interactive() -> bool:
    """True when stderr is a terminal and we are not in CI."""
    return sys.stderr.isatty() and not os.environ.get("CI")


@contextmanager
def byte_progress(total: int, description: str) -> Iterator[Optional[Callable[[int], None]]]:
    """Yield a callback advancing a bar by bytes read, or None when not on a terminal."""
    if not interactive():
        yield None
        return
    from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn, TransferSpeedColumn

    with Progress("[progress.description]{task.description}", BarColumn(), DownloadColumn(),
                  TransferSpeedColumn(), TimeRemainingColumn(), transient=True,
                  console=_stderr_console()) as bar:
        task = bar.add_task(description, total=total)
        yield lambda n: bar.advance(task, n)


def _stderr_console():
    from rich.console import Console

    return Console(stderr=True)


@contextmanager
def count_progress(total: Optional[int], description: str, done: int = 0) -> Iterator[Callable[[int], None]]:
    """Yield a callback advancing a bar by items done; a no-op callback when not on a terminal."""
    if not interactive():
        yield lambda n=1: None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    with Progress("[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
                  TimeRemainingColumn(), transient=True, console=_stderr_console()) as bar:
        task = bar.add_task(description, total=total, completed=done)
        yield lambda n=1: bar.advance(task, n)


def stdout_console():
    """A rich console for reports: the terminal's width, or wide enough not to squash tables in pipes."""
    from rich.console import Console

    return Console() if sys.stdout.isatty() else Console(width=200)
