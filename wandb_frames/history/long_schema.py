"""The long history frame's schema and the rules for which wide columns are metrics.

Shared by :mod:`~wandb_frames.history.frames` (conversions) and
:mod:`~wandb_frames.history.melt` (the zero-copy melt), which both build on it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import pyarrow as pa

__all__ = [
    "DROPPED_PREFIXES",
    "INDEX_COLUMNS",
    "LONG_SCHEMA",
    "METRIC_TYPE",
    "LongPart",
    "empty_long",
    "flatten_structs",
    "is_metric_name",
    "is_numeric_type",
    "numeric_metric_columns",
]

#: Dictionary-encoded metric names: 20 metrics over 10⁷ rows cost 4 bytes a row, not ~12.
METRIC_TYPE = pa.dictionary(pa.int32(), pa.string())

LONG_SCHEMA = pa.schema(
    [
        pa.field("run_id", pa.string()),
        pa.field("_step", pa.int64()),
        pa.field("metric", METRIC_TYPE),
        pa.field("value", pa.float64()),
        pa.field("_timestamp", pa.float64()),
        pa.field("_runtime", pa.float64()),
    ]
)

#: Columns of every row that are not metrics.
INDEX_COLUMNS = ("_step", "_timestamp", "_runtime")
#: Wide columns under these prefixes are W&B internals, never metrics.
DROPPED_PREFIXES = ("_wandb",)


@dataclass
class LongPart:
    """A long table plus what was left out of it.

    Attributes:
        table: Rows in :data:`LONG_SCHEMA` (possibly with extra run columns appended later).
        skipped: metric name → number of non-numeric values (strings, media, lists) left out.
    """

    table: pa.Table
    skipped: dict[str, int] = field(default_factory=dict)


def empty_long() -> pa.Table:
    """Return an empty table in :data:`LONG_SCHEMA`."""
    return LONG_SCHEMA.empty_table()



def is_metric_name(name: str) -> bool:
    """Whether a wide column is a metric (not ``_step``/``_timestamp``/``_runtime``/``run_id``/``_wandb…``)."""
    return not (name in INDEX_COLUMNS or name == "run_id" or name.startswith(DROPPED_PREFIXES))


def numeric_metric_columns(
    wide: pa.Table, keys: Sequence[str] | None, skipped: dict[str, int]
) -> Iterator[tuple[str, pa.ChunkedArray]]:
    """The columns of a (flattened) wide table that melt into metrics, in table order.

    Metric names only (:func:`is_metric_name`), and only ``keys`` when given; all-null
    columns are left out; a non-numeric column is left out with its count of non-null
    values recorded in ``skipped`` (such values are never melted).
    """
    wanted = None if keys is None else set(keys)
    for name in wide.column_names:
        if not is_metric_name(name) or (wanted is not None and name not in wanted):
            continue
        col = wide.column(name)
        if pa.types.is_null(col.type):
            continue
        if not is_numeric_type(col.type):
            count = len(col) - col.null_count
            if count:
                skipped[name] = count
            continue
        yield name, col


def flatten_structs(table: pa.Table) -> pa.Table:
    """Flatten struct columns (recursively) into ``parent.child`` columns, as pyarrow does."""
    while any(pa.types.is_struct(f.type) for f in table.schema):
        table = table.flatten()
    return table


def is_numeric_type(t: pa.DataType) -> bool:
    """Whether a column of type ``t`` holds numbers (ints, floats, bools, decimals) for ``value``."""
    return bool(
        pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_boolean(t) or pa.types.is_decimal(t)
    )
