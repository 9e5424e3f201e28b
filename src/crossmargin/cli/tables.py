"""Tables that fit the terminal without cutting a number.

Rich shrinks a table wider than the terminal by wrapping or cutting its cells, which turns
``4918775.08122`` into ``4918775.08…``: a figure that reads as another figure. Here a table
never shrinks a cell. When its columns do not fit the width, they continue in a second table
below the first (the key columns, such as the symbol, repeated), so every figure stays whole
and every row stays readable at 80 columns. Units go in the header, on a line of their own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rich.console import Console
from rich.table import Table
from rich.text import Text

Cell = str | Text


@dataclass(frozen=True)
class Column:
    """A column: its header (``\\n`` starts a line, e.g. for the unit), alignment, whether it
    identifies the row (key columns are repeated in every part of a split table), and a label
    shared by neighbours that belong together (prices, amounts) so a split falls between them."""

    header: str
    justify: str = "right"
    key: bool = False
    together: str = ""


def _units(columns: Sequence[Column], indices: list[int]) -> list[list[int]]:
    """Runs of neighbouring columns with the same ``together`` label (unlabelled: one each),
    kept in one part of a split table where the width allows."""
    units: list[list[int]] = []
    for index in indices:
        label = columns[index].together
        if units and label and columns[units[-1][-1]].together == label:
            units[-1].append(index)
        else:
            units.append([index])
    return units


def _width(cell: Cell) -> int:
    text = cell.plain if isinstance(cell, Text) else cell
    return max((len(line) for line in text.split("\n")), default=0)


def fit_tables(title: str, columns: Sequence[Column], rows: Sequence[Sequence[Cell]], width: int) -> list[Table]:
    """One table, or several when the columns are wider than ``width`` (none of them cut)."""
    needed = [max([_width(column.header), *(_width(row[i]) for row in rows)]) for i, column in enumerate(columns)]
    keys = [i for i, column in enumerate(columns) if column.key]
    rest = [i for i, column in enumerate(columns) if not column.key]

    def total(indices: list[int]) -> int:  # each cell: one space either side and a rule between
        return sum(needed[i] for i in indices) + 3 * len(indices) + 1

    groups: list[list[int]] = []
    for unit in _units(columns, rest):
        if groups and total(keys + groups[-1] + unit) <= width:
            groups[-1] += unit  # the whole unit joins the part before
            continue
        for index in unit:  # a new part, the unit split only if it is wider than the width
            if groups and groups[-1][-1] in unit and total(keys + groups[-1] + [index]) <= width:
                groups[-1].append(index)
            else:
                groups.append([index])
    tables = []
    for number, group in enumerate(groups or [[]]):
        chosen = keys + group
        heading = title if number == 0 else f"{title} (continued)"
        table = Table(title=Text(heading) if heading else None)
        for i in chosen:
            column = columns[i]
            table.add_column(column.header, justify=column.justify, no_wrap=True, min_width=needed[i])  # type: ignore[arg-type]
        for row in rows:
            table.add_row(*(row[i] for i in chosen))
        tables.append(table)
    return tables


def print_fitted(console: Console, title: str, columns: Sequence[Column], rows: Sequence[Sequence[Cell]]) -> None:
    """Print :func:`fit_tables` at the console's width."""
    for table in fit_tables(title, columns, rows, console.width):
        console.print(table)


def unit_header(name: str, unit: str | None) -> str:
    """``name`` with its unit on the line below, or alone when there is none."""
    return name if not unit else f"{name}\n({unit})"
