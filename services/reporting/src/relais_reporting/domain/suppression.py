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

from collections.abc import Iterable, Mapping, Sequence

Constraint = tuple[str, Sequence[str]]  # (total cell, member cells)


def primary(cells: Mapping[str, int], threshold: int) -> set[str]:
    return {k for k, v in cells.items() if 0 < v < threshold}


def suppress_table(
    cells: Mapping[str, int],
    constraints: Sequence[Constraint],
    threshold: int,
    also: Iterable[str] = (),
) -> set[str]:
    """The keys of the cells to withhold so no small count can be seen or recomputed.

    ``also``: cells to hide whatever their value (a region's cell that would give away
    the one hidden cell of one of its PRE), protected like the others.
    """
    hidden = primary(cells, threshold) | {k for k in also if k in cells}
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


def linked_to_parts(parts: Sequence[Mapping[str, tuple[int, bool]]]) -> set[str]:
    """Cells of an aggregate (a region) to hide because they would reveal a part's secret.

    ``parts`` gives, for each part (a PRE), each cell's (count, hidden in that part's own
    table). Where exactly one part hides a cell, the aggregate minus the other parts'
    shown cells would give it back: hide the aggregate's cell too. Where two or more parts
    hide it, only their sum could be found, which the parts' own protection allows.
    """
    hidden_in: dict[str, int] = {}
    for part in parts:
        for key, (_, hidden) in part.items():
            hidden_in[key] = hidden_in.get(key, 0) + int(hidden)
    return {key for key, n in hidden_in.items() if n == 1}


def suppress(value: int, threshold: int) -> int | None:
    """A single count below ``threshold`` (but not zero) could single out a child."""
    return None if 0 < value < threshold else value
