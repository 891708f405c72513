"""Dask DataFrames from picklable partition loaders (``dask.dataframe.from_map``).

Each partition is one call ``load(part)`` returning an Arrow table; it is conformed to the
collection's Arrow schema (:func:`~wandb_frames.tabular.unify.conform_table`) and converted
to pandas with the same function as the single-process ``to_pandas()``, so the meta, the
partitions and ``to_pandas()`` share their dtypes. Nothing is called before ``compute``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd
import pyarrow as pa

from wandb_frames.errors import ConfigurationError, SchemaError
from wandb_frames.tabular.dataframes import table_to_pandas
from wandb_frames.tabular.unify import conform_table

if TYPE_CHECKING:
    import dask.dataframe as dd

__all__ = ["PartitionLoader", "dask_frame", "fit_schema", "frame_converter", "import_dask"]

ToPandas = Callable[[pa.Table], pd.DataFrame]


def import_dask() -> Any:
    """``dask.dataframe``, or a ``ConfigurationError`` naming the extra to install."""
    try:
        import dask.dataframe as dd
    except ImportError as exc:
        raise ConfigurationError(
            "to_dask() needs Dask: pip install 'wandb-frames[dask]'"
        ) from exc
    return dd


@dataclass(frozen=True)
class PartitionLoader:
    """The function every partition calls: ``load(part)``, conformed, as pandas (picklable).

    Attributes:
        load: Makes the partition's Arrow table from its part (a picklable spec).
        schema: The collection's Arrow schema.
        to_pandas: Arrow → pandas, the same as the single-process ``to_pandas()``.
        conform: Conform with the runs-frame rule (else the table must cast to ``schema``).
    """

    load: Callable[[Any], pa.Table]
    schema: pa.Schema
    to_pandas: ToPandas
    conform: bool = True

    def __call__(self, part: Any) -> pd.DataFrame:
        table = self.load(part)
        if self.conform:
            table = conform_table(table, self.schema)
        elif not table.schema.equals(self.schema):
            table = fit_schema(table, self.schema)
        frame = self.to_pandas(table)
        start = getattr(part, "start", None)
        if isinstance(start, int):  # the rows' positions in the listing (known divisions)
            frame.index = pd.RangeIndex(start, start + len(frame))
        return frame


def frame_converter(dtype_backend: Any) -> ToPandas:
    """``table_to_pandas`` with ``dtype_backend`` bound (picklable), for partitions and their meta.

    Only backends whose dtypes follow the Arrow types alone: with NumPy columns (``None``) an int
    column becomes ``Int64`` only where a partition holds a null, so partitions would disagree.

    Raises:
        ConfigurationError: ``dtype_backend`` is not ``"pyarrow"`` or ``"numpy_nullable"``.
    """
    if dtype_backend not in ("pyarrow", "numpy_nullable"):
        raise ConfigurationError(
            f"to_dask() needs dtype_backend='pyarrow' or 'numpy_nullable' (got {dtype_backend!r}): "
            "with NumPy columns a partition's dtypes would depend on its values"
        )
    return functools.partial(table_to_pandas, dtype_backend=dtype_backend)


def fit_schema(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """``table`` with ``schema``'s columns, in its order and types (missing ones null).

    Raises:
        SchemaError: ``table`` has a column ``schema`` lacks.
    """
    extra = [name for name in table.column_names if schema.get_field_index(name) < 0]
    if extra:
        raise SchemaError(f"column(s) {extra[:10]} are not in the partitions' schema")
    arrays = [
        table.column(f.name).cast(f.type) if f.name in table.column_names else pa.nulls(table.num_rows, f.type)
        for f in schema
    ]
    return pa.Table.from_arrays(arrays, schema=schema)


def dask_frame(
    load: Callable[[Any], pa.Table],
    parts: Sequence[Any],
    schema: pa.Schema,
    *,
    to_pandas: ToPandas,
    label: str,
    conform: bool = True,
    divisions: Sequence[int] | None = None,
) -> dd.DataFrame:
    """A lazy Dask DataFrame with one partition per part (``load`` runs on the workers).

    Args:
        load: Picklable; ``load(part)`` → the partition's Arrow table.
        parts: One picklable spec per partition (holding no secret).
        schema: The Arrow schema every partition is conformed to (the meta).
        to_pandas: Arrow → pandas for the meta and every partition.
        label: Prefix of the task keys.
        conform: See :class:`PartitionLoader`.
        divisions: Known index bounds (``len(parts) + 1`` values), or None.
    """
    dd = import_dask()
    meta = to_pandas(schema.empty_table())
    if any(isinstance(dtype, pd.CategoricalDtype) for dtype in meta.dtypes):
        from dask.dataframe.utils import clear_known_categories

        meta = clear_known_categories(meta)  # each partition has its own categories
    if divisions is not None:
        meta.index = pd.RangeIndex(0)
    loader = PartitionLoader(load, schema, to_pandas, conform)
    if not parts:
        return dd.from_pandas(meta, npartitions=1)
    return dd.from_map(
        loader, list(parts), meta=meta, label=label,
        divisions=tuple(divisions) if divisions is not None else None, enforce_metadata=False,
    )
