"""Pure functions that turn W&B run data into flat, typed Arrow tables (then pandas).

``decode_run_node`` (GraphQL node → decoded run) → ``flatten_run`` (→ flat record) →
``TableAssembler`` / ``runs_to_table`` (→ ``pa.Table``) → ``table_to_pandas`` / ``table_to_polars``. No I/O. The
rules are in ``docs/frames.md``; the contract with other modules in ``docs/architecture.md``.
"""

from __future__ import annotations

from wandb_frames.tabular.decode import (
    decode_run_node,
    decode_run_nodes,
    json_text,
    loads_wandb_json,
    parse_timestamp,
)
from wandb_frames.tabular.flatten import flatten_run, unflatten
from wandb_frames.tabular.dataframes import (
    DtypeBackend,
    json_columns,
    nan_as_null,
    table_to_pandas,
    table_to_polars,
    with_pandas_attrs,
)
from wandb_frames.tabular.frames import TableAssembler, runs_to_table
from wandb_frames.tabular.schema import JSON_ENCODING_KEY, RUN_COLUMNS, empty_runs_table

__all__ = [
    "DtypeBackend",
    "JSON_ENCODING_KEY",
    "RUN_COLUMNS",
    "TableAssembler",
    "decode_run_node",
    "decode_run_nodes",
    "empty_runs_table",
    "flatten_run",
    "json_columns",
    "json_text",
    "loads_wandb_json",
    "nan_as_null",
    "parse_timestamp",
    "runs_to_table",
    "table_to_pandas",
    "table_to_polars",
    "unflatten",
    "with_pandas_attrs",
]
