"""The pandas ``wb`` accessor: ``df.wb.where(filter)`` and ``df.wb.sort(order)``.

The only module of :mod:`wandb_frames.filters` that imports pandas. Importing it
registers the accessor. A frame converted from a runs table loses Arrow field
metadata, so JSON-text columns are recognised through
``df.attrs["wandb_frames"]["json_columns"]`` (a list of column names), which
``wandb_frames.tabular.table_to_pandas`` sets.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from wandb_frames.errors import SchemaError, UnsupportedFilterError
from wandb_frames.filters import nodes
from wandb_frames.filters.columns import JSON_ENCODING_KEY, JSON_ENCODING_VALUE, key_columns
from wandb_frames.filters.order import Order, parse_order, sort_table
from wandb_frames.filters.parse import parse_filter
from wandb_frames.filters.to_arrow import mask

__all__ = ["RunsAccessor", "apply_frame", "frame_to_table", "sort_frame"]


def _keys(f: nodes.Filter) -> list[str]:
    if isinstance(f, nodes.Logical):
        return [k for c in f.children for k in _keys(c)]
    if isinstance(f, nodes.Not):
        return _keys(f.child)
    if isinstance(f, nodes.FieldPredicate):
        return [f.key.column]
    return []


def _null_tests(f: nodes.Filter) -> list[tuple[str, str]]:
    """``(column, operator)`` of every predicate whose answer tells null from other values
    (``$eq``/``$ne`` null, ``$in``/``$nin`` holding null, ``$exists``)."""
    if isinstance(f, nodes.Logical):
        return [t for c in f.children for t in _null_tests(c)]
    if isinstance(f, nodes.Not):
        return _null_tests(f.child)
    if isinstance(f, (nodes.Eq, nodes.Ne)) and f.value is None:
        return [(f.key.column, f.op)]
    if isinstance(f, (nodes.In, nodes.Nin)) and any(v is None for v in f.value):
        return [(f.key.column, f.op)]
    if isinstance(f, nodes.Exists):
        return [(f.key.column, f.op)]
    return []


def _check_nan_is_missing(df: pd.DataFrame, f: nodes.Filter) -> None:
    """One answer per question: in a pandas float column NaN is missing (``to_pandas()``'s rule),
    so a diverged run (NaN) and a run without the value look the same there; a filter that
    tells them apart (W&B's server does) is declined rather than answered differently."""
    for column, op in _null_tests(f):
        if column in df.columns and pd.api.types.is_float_dtype(df[column].dtype) and df[column].isna().any():
            raise UnsupportedFilterError(
                f"{op} null on {column!r}: in a pandas frame NaN is missing too, so a NaN value and "
                "a missing one cannot be told apart here; filter the Arrow table "
                "(wandb_frames.filters.apply(runs.to_arrow(), ...)) or on the server (api.runs(filters=...))",
                operator=op,
                backend="pandas",
            )


def frame_to_table(df: pd.DataFrame, columns: list[str] | None = None) -> pa.Table:
    """Arrow view of (some columns of) a runs frame, with JSON-text columns marked.

    Only string-named columns are read (a filter key always names a string column).

    Raises:
        SchemaError: a selected column Arrow cannot represent (e.g. mixed Python objects).
    """
    names = [c for c in df.columns if isinstance(c, str)]
    wanted = None if columns is None else set(columns)
    selected = list(dict.fromkeys(c for c in names if wanted is None or c in wanted))
    try:
        table = pa.Table.from_pandas(df[selected], preserve_index=False)
    except (pa.ArrowException, TypeError, ValueError, OverflowError):
        table = None
    if table is None or table.num_columns != len(selected):
        _explain_unreadable(df, selected)
        raise SchemaError("the frame cannot be read as Arrow for filtering")  # pragma: no cover
    info = df.attrs.get("wandb_frames")
    json_columns = set(info.get("json_columns", ())) if isinstance(info, dict) else set()
    fields = [
        f.with_metadata({JSON_ENCODING_KEY: JSON_ENCODING_VALUE}) if f.name in json_columns else f
        for f in table.schema
    ]
    return table.cast(pa.schema(fields))


def _explain_unreadable(df: pd.DataFrame, selected: list[str]) -> None:
    """Raise a SchemaError naming the first column Arrow cannot read (or a duplicated name)."""
    for name in selected:
        column = df[name]
        if isinstance(column, pd.DataFrame):
            raise SchemaError(f"the frame has more than one column named {name!r}", column=name)
        try:
            pa.Table.from_pandas(column.to_frame(), preserve_index=False)
        except (pa.ArrowException, TypeError, ValueError, OverflowError) as exc:
            raise SchemaError(
                f"column {name!r} cannot be read as Arrow for filtering ({type(exc).__name__}: {exc}); "
                "give it one type per column (runs frames from wandb-frames always do)",
                column=name,
            ) from None


def apply_frame(df: pd.DataFrame, spec: Any) -> pd.DataFrame:
    """Rows of ``df`` where the filter holds (order and index kept).

    A key with no column in ``df`` is missing in every row (as on the server: no rows for
    ``{key: 1}``, every row for ``{key: {"$exists": false}}`` or ``$ne``).

    Raises:
        UnsupportedFilterError: a null test (``$eq``/``$ne`` null, ``$in``/``$nin`` with null,
            ``$exists``) on a float column holding NaN: NaN is missing in a pandas frame.
    """
    f = parse_filter(spec)
    if f is None:
        return df
    _check_nan_is_missing(df, f)
    names = [c for c in df.columns if isinstance(c, str)]
    needed = sorted({c for k in _keys(f) for c in key_columns(k, names)})
    table = frame_to_table(df, needed)
    if table.num_columns == 0:  # no key has a column: a table of as many rows, holding nothing
        table = pa.table({"": pa.nulls(len(df))})
    selected = np.asarray(mask(table, f).to_numpy(zero_copy_only=False), dtype=bool)
    return df[selected]


def sort_frame(df: pd.DataFrame, order: str | Order) -> pd.DataFrame:
    """``df`` sorted like the server (Mongo order, stable, ties by ``id``)."""
    o = parse_order(order)
    names = [str(c) for c in df.columns]
    needed = [c for c in (o.column, "id") if c in names]
    table = frame_to_table(df, needed).append_column("__row", pa.array(np.arange(len(df))))
    positions = sort_table(table, o).column("__row").to_numpy()
    result: pd.DataFrame = df.iloc[positions]
    return result


@pd.api.extensions.register_dataframe_accessor("wb")
class RunsAccessor:
    """``df.wb``: wandb-frames helpers on a runs DataFrame."""

    def __init__(self, df: pd.DataFrame) -> None:
        self._df = df

    def where(self, spec: Any) -> pd.DataFrame:
        """Rows where the filter (Mongo JSON, expression string or parsed filter) holds."""
        return apply_frame(self._df, spec)

    def sort(self, order: str | Order) -> pd.DataFrame:
        """Rows in the server's order for ``order`` (e.g. ``"-summary.loss"``)."""
        return sort_frame(self._df, order)
