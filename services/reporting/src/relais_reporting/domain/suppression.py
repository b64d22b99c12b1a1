"""Small-cell protection: primary and complementary suppression of count tables.

See docs/decisions/0005-small-cell-suppression.md. A table is a set of named cells and a
list of additive constraints (a total cell and the cells that sum to it). Counts in
``1 .. threshold-1`` are suppressed (primary). Then, while some constraint has exactly one
suppressed cell among its total and members, one more cell of it is suppressed
(complementary): the smallest shown non-zero member, else a shown zero member, else the
total. Repeating until nothing changes covers the knock-on effects across rows and
columns of a two-way table.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

Constraint = tuple[str, Sequence[str]]  # (total cell, member cells)


def primary(cells: Mapping[str, int], threshold: int) -> set[str]:
    return {k for k, v in cells.items() if 0 < v < threshold}


def suppress_table(
    cells: Mapping[str, int], constraints: Sequence[Constraint], threshold: int
) -> set[str]:
    """The keys of the cells to withhold so no small count can be seen or recomputed."""
    hidden = primary(cells, threshold)
    changed = True
    while changed:
        changed = False
        for total, members in constraints:
            group = [total, *members]
            if sum(1 for k in group if k in hidden) != 1:
                continue
            shown = [k for k in members if k not in hidden]
            nonzero = sorted((k for k in shown if cells[k] > 0), key=lambda k: (cells[k], k))
            zero = sorted(k for k in shown if cells[k] == 0)
            pick = (nonzero or zero or [total])[0]
            if pick in hidden:  # only the total was left and it is hidden: nothing to add
                continue
            hidden.add(pick)
            changed = True
    return hidden


def suppress(value: int, threshold: int) -> int | None:
    """A single count below ``threshold`` (but not zero) could single out a child."""
    return None if 0 < value < threshold else value
