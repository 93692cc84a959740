"""A rich progress bar that can be switched off: one context manager yielding `advance(n)`."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)


@contextmanager
def progress_bar(
    enabled: bool, description: str, total: float | None
) -> Iterator[Callable[[float], None]]:
    """Show a transient bar while the block runs; yields `advance(amount)` (a no-op if disabled).

    Args:
        enabled: False gives a silent no-op.
        description: the label in front of the bar.
        total: the amount at completion, or None when unknown.
    """
    if not enabled:
        yield lambda amount: None
        return
    columns = [
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    ]
    with Progress(*columns, transient=True) as bar:
        task = bar.add_task(description, total=total)
        yield lambda amount: bar.advance(task, amount)
