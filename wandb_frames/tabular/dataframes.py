"""Arrow tables to pandas and polars DataFrames, with the rule for missing values.

The Arrow table (``to_arrow()``, parquet) is exact: a NaN loss (a diverged run) and a metric
the run never logged (null) are different values there. A pandas frame follows pandas'
convention instead, where NaN *is* missing: ``isna()``, ``dropna()``, ``mean()``,
``groupby().mean()``, ``describe()`` and scikit-learn treat a NaN metric like an absent one.
±Infinity stay values everywhere.

``dtype_backend`` is pandas' own option (``pd.read_parquet(..., dtype_backend=...)``):

========================  ==========================================================
``None`` (default)        NumPy columns, as ``pd.read_parquet`` gives: float64 (null → NaN),
                          int64, bool, ``datetime64[us, UTC]``, pandas' ``str``; an int or
                          bool column with a missing value becomes pandas' nullable ``Int64``
                          / ``boolean`` (exact, where float64 would round integers beyond
                          ±2**53, e.g. 64-bit random seeds); lists are object columns of
                          tuples (hashable: ``nunique``, ``value_counts``, ``groupby`` work);
                          a column null in every row is an object column of ``None``.
``"numpy_nullable"``      pandas' nullable dtypes (``Float64``, ``Int64``, ``boolean``,
                          ``string``), NaN → ``<NA>``; lists as tuples.
``"pyarrow"``             ``pd.ArrowDtype`` columns, NaN → null.
========================  ==========================================================

Dictionary columns (a history's ``metric``) become pandas categoricals with every backend.
:func:`table_to_polars` keeps the table exact: polars itself keeps NaN apart from null.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final, Literal, get_args

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from wandb_frames.errors import ConfigurationError
from wandb_frames.tabular.schema import JSON_ENCODING_KEY

if TYPE_CHECKING:
    import polars as pl

__all__ = [
    "DtypeBackend",
    "json_columns",
    "nan_as_null",
    "table_to_pandas",
    "table_to_polars",
    "with_pandas_attrs",
]

DtypeBackend = Literal["numpy_nullable", "pyarrow"]
"""pandas' ``dtype_backend`` values; ``None`` means NumPy columns (pandas' default)."""

ATTRS_KEY: Final = "wandb_frames"
"""The ``df.attrs`` key of a frame's wandb-frames details (``{"json_columns": [...]}``)."""

_NULLABLE: Final[dict[pa.DataType, Any]] = {
    pa.int8(): pd.Int8Dtype(),
    pa.int16(): pd.Int16Dtype(),
    pa.int32(): pd.Int32Dtype(),
    pa.int64(): pd.Int64Dtype(),
    pa.uint8(): pd.UInt8Dtype(),
    pa.uint16(): pd.UInt16Dtype(),
    pa.uint32(): pd.UInt32Dtype(),
    pa.uint64(): pd.UInt64Dtype(),
    pa.bool_(): pd.BooleanDtype(),
    pa.float32(): pd.Float32Dtype(),
    pa.float64(): pd.Float64Dtype(),
    pa.string(): pd.StringDtype(),
    pa.large_string(): pd.StringDtype(),
}
"""Arrow type → pandas nullable dtype, as ``pd.read_parquet(dtype_backend="numpy_nullable")``."""


def json_columns(table: pa.Table) -> list[str]:
    """Return the names of the JSON-text columns of a table (field metadata ``json``)."""
    return [
        field.name
        for field in table.schema
        if field.metadata is not None and field.metadata.get(JSON_ENCODING_KEY) == b"json"
    ]


def nan_as_null(table: pa.Table) -> pa.Table:
    """``table`` with every NaN of its floating-point columns made null (±Infinity kept).

    Field metadata and the schema metadata are kept.

    Examples:
        >>> nan_as_null(pa.table({"x": [1.0, float("nan"), None]}))["x"].to_pylist()
        [1.0, None, None]
    """
    columns: list[pa.ChunkedArray] = []
    changed = False
    for field, column in zip(table.schema, table.columns, strict=True):
        if pa.types.is_floating(field.type) and column.null_count < len(column):
            nan = pc.is_nan(column)
            if pc.any(nan).as_py():
                column = pc.if_else(nan, pa.scalar(None, field.type), column)
                changed = True
        columns.append(column)
    return pa.Table.from_arrays(columns, schema=table.schema) if changed else table


def _arrow_dtype(arrow_type: pa.DataType) -> Any:
    return None if pa.types.is_dictionary(arrow_type) else pd.ArrowDtype(arrow_type)


def _mapper(dtype_backend: DtypeBackend | None) -> Callable[[pa.DataType], Any] | None:
    if dtype_backend is None:
        return None
    if dtype_backend == "pyarrow":
        return _arrow_dtype
    if dtype_backend == "numpy_nullable":
        return _NULLABLE.get
    choices = ", ".join(repr(choice) for choice in (None, *get_args(DtypeBackend)))
    raise ConfigurationError(f"dtype_backend must be one of {choices}; got {dtype_backend!r}")


def table_to_pandas(table: pa.Table, *, dtype_backend: DtypeBackend | None = None) -> pd.DataFrame:
    """Convert a runs (or history, or collection) table to pandas; NaN is missing there.

    Args:
        table: A table from :func:`runs_to_table`, :meth:`TableAssembler.finish`, a history or
            a parquet file.
        dtype_backend: ``None`` for NumPy columns (nullable ``Int64``/``boolean`` where an int
            or bool column has a missing value), ``"numpy_nullable"`` or ``"pyarrow"``; see
            the module docstring.

    Returns:
        The DataFrame; ``df.attrs["wandb_frames"]["json_columns"]`` lists the JSON-text columns.

    Raises:
        ConfigurationError: ``dtype_backend`` is not one of the above.

    Examples:
        >>> table = pa.table({"seed": [2**53 + 1, None], "loss": [float("nan"), 0.5]})
        >>> df = table_to_pandas(table)
        >>> [str(t) for t in df.dtypes], df["seed"].iloc[0], df["loss"].isna().tolist()
        (['Int64', 'float64'], np.int64(9007199254740993), [True, False])
        >>> str(table_to_pandas(table, dtype_backend="pyarrow")["loss"].dtype)
        'double[pyarrow]'
    """
    mapper = _mapper(dtype_backend)
    frame: pd.DataFrame = (table if dtype_backend is None else nan_as_null(table)).to_pandas(types_mapper=mapper)
    if dtype_backend != "pyarrow":
        _fix_object_columns(frame, table, nullable=dtype_backend is None)
    frame.attrs[ATTRS_KEY] = {"json_columns": json_columns(table)}
    return frame


def _is_list(arrow_type: pa.DataType) -> bool:
    return bool(
        pa.types.is_list(arrow_type) or pa.types.is_large_list(arrow_type) or pa.types.is_fixed_size_list(arrow_type)
    )


def _fix_object_columns(frame: pd.DataFrame, table: pa.Table, *, nullable: bool) -> None:
    """Give a NumPy-backed ``frame`` tuples for lists and, if ``nullable``, exact ints and bools.

    Lists become tuples of Python values (NumPy arrays in object columns break ``==``,
    ``replace`` and hashing; tuples are hashable, so ``nunique``, ``drop_duplicates``,
    ``value_counts`` and ``groupby`` work). NumPy has no missing int or bool: an int or bool
    column with a null becomes pandas' nullable ``Int64`` / ``boolean`` (float64 would round
    integers beyond ±2**53).
    """
    names = list(frame.columns)
    aligned = names == table.column_names  # else pandas metadata moved columns into the index
    for index, (field, column) in enumerate(zip(table.schema, table.columns, strict=True)):
        if aligned:
            position = index
        elif names.count(field.name) == 1:
            position = names.index(field.name)
        else:
            continue
        arrow_type = field.type
        if _is_list(arrow_type):
            tuples = [None if value is None else tuple(value) for value in column.to_pylist()]
            frame.isetitem(position, pd.Series(tuples, dtype=object).array)
        elif nullable and column.null_count and (pa.types.is_integer(arrow_type) or pa.types.is_boolean(arrow_type)):
            exact = column.to_pandas(types_mapper=_NULLABLE.get)
            frame.isetitem(position, exact.array)


def with_pandas_attrs(table: pa.Table) -> pa.Table:
    """``table`` with its JSON-text column names in pyarrow's pandas metadata.

    ``table.to_pandas()`` (pyarrow's own method) then sets
    ``df.attrs["wandb_frames"]["json_columns"]``, so ``df.wb.where`` decodes those columns as
    it does on :func:`table_to_pandas` frames. Existing pandas metadata (a table written from
    a DataFrame) is kept; a table without JSON-text columns is returned as is.
    """
    names = json_columns(table)
    if not names:
        return table
    metadata = dict(table.schema.metadata or {})
    pandas_metadata: dict[str, Any] = table.schema.pandas_metadata or {
        "index_columns": [],
        "column_indexes": [],
        "columns": [],
    }
    attributes = dict(pandas_metadata.get("attributes") or {})
    attributes[ATTRS_KEY] = {**attributes.get(ATTRS_KEY, {}), "json_columns": names}
    pandas_metadata = {**pandas_metadata, "attributes": attributes}
    metadata[b"pandas"] = json.dumps(pandas_metadata).encode()
    return table.replace_schema_metadata(metadata)


def table_to_polars(table: pa.Table) -> pl.DataFrame:
    """Convert a runs (or history) table to a polars DataFrame, values exact.

    Polars keeps NaN apart from null as Arrow does (``drop_nulls`` keeps a NaN loss;
    ``fill_nan(None)`` makes it missing). Lists become ``List`` columns, dictionary columns
    ``Categorical``, timestamps ``Datetime("us", "UTC")``. Arrow field metadata (the
    JSON-text marker) does not carry over: :func:`json_columns` of the table names them.

    Raises:
        ConfigurationError: polars is not installed (``pip install 'wandb-frames[polars]'``).
    """
    try:
        import polars as pl
    except ImportError as exc:
        raise ConfigurationError("to_polars() needs polars: pip install 'wandb-frames[polars]'") from exc
    frame = pl.from_arrow(table, rechunk=False)
    assert isinstance(frame, pl.DataFrame)  # a Table always gives a DataFrame
    return frame
