"""A run's history as column blocks: ``RunRecord["history"]`` without one dict per step.

The readers keep what the columnar decoder (:mod:`~wandb_frames.offline.templates`) gives —
per block of rows that all have the same keys in the same order, one column per key — and
make row dicts only when someone asks for rows. :class:`HistoryRows` is the ``Sequence`` of
row dicts that ``RunRecord["history"]`` holds: ``len``, indexing, iteration and ``==``
behave as for the list of dicts the per-record reader builds (the rows are built on first
access, once), while :func:`history_wide` builds the wide table of ``LocalRuns.histories``
straight from the columns (numpy, no Python per row), exactly as
:func:`wandb_frames.history.frames.rows_to_wide` builds it from the rows.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import repeat
from typing import Any, overload

import numpy as np
import pyarrow as pa

from wandb_frames.history.frames import rows_to_wide
from wandb_frames.history.long_schema import DROPPED_PREFIXES

__all__ = ["ColumnBlock", "HistoryRows", "history_wide"]

Column = np.ndarray[Any, Any] | list[Any]


@dataclass(frozen=True, eq=False)
class ColumnBlock:
    """Consecutive history rows with the same keys in the same order.

    Attributes:
        names: every row's keys, in row order (no duplicates).
        columns: per key, its values: an ``int64`` or ``float64`` array (the values are
            Python ``int``/``float`` of those exact values), else a list of the values.
        length: the number of rows.
    """

    names: tuple[str, ...]
    columns: tuple[Column, ...]
    length: int

    def rows(self) -> list[dict[str, Any]]:
        """The rows as dicts (values as Python objects, keys in ``names`` order)."""
        listed = [c.tolist() if isinstance(c, np.ndarray) else c for c in self.columns]
        return list(map(dict, map(zip, repeat(self.names), zip(*listed, strict=True))))


class HistoryRows(Sequence[dict[str, Any]]):
    """A run's history rows, stored as plain rows and :class:`ColumnBlock` s in row order.

    A read-only ``Sequence`` of row dicts to its users (equal to a list of the same dicts);
    the readers add to it with :meth:`append`, :meth:`extend` and :meth:`add_block`.
    """

    __slots__ = ("_parts", "_rows")

    def __init__(self, rows: Sequence[dict[str, Any]] = ()) -> None:
        self._parts: list[list[dict[str, Any]] | ColumnBlock] = [list(rows)] if rows else []
        self._rows: list[dict[str, Any]] | None = None

    # ------------------------------------------------------------ building
    def append(self, row: dict[str, Any]) -> None:
        """Add one row at the end."""
        self._rows = None
        if not self._parts or isinstance(self._parts[-1], ColumnBlock):
            self._parts.append([])
        last = self._parts[-1]
        assert isinstance(last, list)
        last.append(row)

    def extend(self, rows: Sequence[dict[str, Any]]) -> None:
        """Add rows at the end."""
        if rows:
            self._rows = None
            self._parts.append(list(rows))

    def add_block(self, block: ColumnBlock) -> None:
        """Add a block of columns at the end."""
        if block.length:
            self._rows = None
            self._parts.append(block)

    @property
    def parts(self) -> list[list[dict[str, Any]] | ColumnBlock]:
        """The stored parts, in row order (lists of rows and column blocks)."""
        return list(self._parts)

    # ------------------------------------------------------------ Sequence
    def _materialized(self) -> list[dict[str, Any]]:
        if self._rows is None:
            rows: list[dict[str, Any]] = []
            for part in self._parts:
                rows += part.rows() if isinstance(part, ColumnBlock) else part
            self._rows = rows
        return self._rows

    def __len__(self) -> int:
        return sum(p.length if isinstance(p, ColumnBlock) else len(p) for p in self._parts)

    @overload
    def __getitem__(self, index: int) -> dict[str, Any]: ...

    @overload
    def __getitem__(self, index: slice) -> list[dict[str, Any]]: ...

    def __getitem__(self, index: int | slice) -> dict[str, Any] | list[dict[str, Any]]:
        if self._rows is None and isinstance(index, int) and len(self._parts) == 1:
            part = self._parts[0]  # one row of one block (e.g. the last row's _runtime) without the others
            if isinstance(part, ColumnBlock):
                row = range(part.length)[index]
                return {name: _item(column, row) for name, column in zip(part.names, part.columns, strict=True)}
        return self._materialized()[index]

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self._materialized())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, HistoryRows | list | tuple):
            return self._materialized() == list(other)
        return NotImplemented

    def __hash__(self) -> int:  # mutable, like list
        raise TypeError("unhashable type: 'HistoryRows'")

    def __repr__(self) -> str:
        return f"HistoryRows({self._materialized()!r})"

    def __getstate__(self) -> list[list[dict[str, Any]] | ColumnBlock]:
        return self._parts

    def __setstate__(self, state: list[list[dict[str, Any]] | ColumnBlock]) -> None:
        self._parts = state
        self._rows = None


def _item(column: Column, row: int) -> Any:
    return column[row].item() if isinstance(column, np.ndarray) else column[row]


def _float_values(column: Column) -> np.ndarray[Any, np.dtype[np.float64]]:
    if isinstance(column, np.ndarray):
        return column.astype(np.float64, copy=False)
    return np.asarray([float(v) for v in column], dtype=np.float64)


def history_wide(rows: Sequence[dict[str, Any]]) -> pa.Table:
    """The wide table of :func:`~wandb_frames.history.frames.rows_to_wide` for these rows.

    From the columns when ``rows`` is a :class:`HistoryRows` made of column blocks only
    (their values are numbers: ``int``/``float``, never ``bool``/``None``), else from the rows.
    """
    if not isinstance(rows, HistoryRows) or not all(isinstance(p, ColumnBlock) for p in rows.parts):
        return rows_to_wide(rows)[0]
    blocks = [p for p in rows.parts if isinstance(p, ColumnBlock)]
    n = sum(b.length for b in blocks)
    where: dict[str, list[tuple[int, Column]]] = {}
    offset = 0
    for block in blocks:
        for name, column in zip(block.names, block.columns, strict=True):
            if not name.startswith(DROPPED_PREFIXES):
                where.setdefault(name, []).append((offset, column))
        offset += block.length
    arrays: dict[str, pa.Array] = {}

    def scatter(name: str, as_int: bool) -> pa.Array:
        vals = np.zeros(n)
        mask = np.ones(n, dtype=bool)
        for start, column in where.pop(name, []):
            end = start + len(column)
            vals[start:end] = _float_values(column)
            mask[start:end] = False
        if as_int:
            return pa.array(vals.astype(np.int64), mask=mask, type=pa.int64())
        return pa.array(vals, mask=mask, type=pa.float64())

    for name in ("_step", "_timestamp", "_runtime"):
        arrays[name] = scatter(name, name == "_step")
    for name in sorted(where):
        arrays[name] = scatter(name, False)
    return pa.table(arrays)
