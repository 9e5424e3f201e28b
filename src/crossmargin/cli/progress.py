"""Progress of work that can take minutes, on stderr so that stdout stays the command's answer.

On a terminal a live bar (cleared when done); in a log or a pipe, where a bar would be noise,
a line at each tenth of the work, so a long CI job still shows it is moving. Work too short to
matter (``long_from`` units or fewer) shows nothing in a log, and a bar only on a terminal.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn


@contextmanager
def progress(
    total: int, label: str, unit: str, *, long_from: int = 0, bar_from: int = 0
) -> Iterator[Callable[[int], None]]:
    """Yield ``advance(n)``, to be called as each ``n`` units of ``total`` are done.

    ``long_from``: below this many units the work is quick, and a log gets no progress lines;
    ``bar_from``: below this many, a terminal gets no bar either.
    """
    console = Console(stderr=True)
    if console.is_terminal and total < bar_from:

        def quiet(n: int = 1) -> None:
            pass

        yield quiet
        return
    if console.is_terminal:
        columns = (TextColumn(label), BarColumn(), MofNCompleteColumn(), TextColumn(unit))
        with Progress(*columns, TimeElapsedColumn(), TimeRemainingColumn(), console=console, transient=True) as bar:
            task = bar.add_task(label, total=total)

            def advance_bar(n: int = 1) -> None:
                bar.advance(task, n)

            yield advance_bar
        return
    if total < long_from or total <= 0:

        def ignore(n: int = 1) -> None:
            pass

        yield ignore
        return
    done = [0]

    def advance(n: int = 1) -> None:
        before, done[0] = done[0], done[0] + n
        if done[0] * 10 // total != before * 10 // total:
            print(f"{label}: {done[0]:,}/{total:,} {unit}", file=sys.stderr, flush=True)

    yield advance
