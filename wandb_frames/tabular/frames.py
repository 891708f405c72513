"""Assemble flat records into one typed Arrow table, page by page.

Each page added to a :class:`TableAssembler` is converted to Arrow at once (the Python dicts
can be freed); :meth:`TableAssembler.finish` merges the pages' kinds into one schema and
conforms each page's chunk to it.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping, Sequence
from itertools import chain
from typing import Any, Final

import pyarrow as pa

from wandb_frames.errors import ConfigurationError, FlattenCollisionWarning, LossyConversionWarning, warn_at_user
from wandb_frames.tabular.arrow_runs import run_columns_from_arrow
from wandb_frames.tabular.columns import Converted, column_to_arrow, conform_chunk
from wandb_frames.tabular.dataframes import json_columns, table_to_pandas
from wandb_frames.tabular.flatten import _check_sep, collision_message
from wandb_frames.tabular.fused import flatten_to_columns, nodes_to_columns, sections_to_columns
from wandb_frames.tabular.schema import (
    JSON_KINDS,
    RUN_COLUMN_KINDS,
    RUN_COLUMNS,
    empty_runs_table,
    field_for,
    merge_kinds,
)

__all__ = ["TableAssembler", "json_columns", "runs_to_table", "table_to_pandas"]  # the last two: from .dataframes

GROUPS: Final[tuple[str, ...]] = ("config", "summary", "system", "metadata")
"""Column groups after the run columns, in order; anything else comes last."""


def _page_columns(records: Sequence[Mapping[str, Any]]) -> dict[str, list[Any]]:
    """Transpose records into columns; a key missing from a record gives ``None``."""
    size = len(records)
    columns: dict[str, list[Any]] = {}
    for row, record in enumerate(records):
        for key, value in record.items():
            column = columns.get(key)
            if column is None:
                column = columns[key] = [None] * size
            column[row] = value
    return columns


def _names(columns: Iterable[str], limit: int = 20) -> str:
    names = list(columns)
    text = ", ".join(names[:limit])
    return text + (f" and {len(names) - limit} more" if len(names) > limit else "")


class TableAssembler:
    """Build one typed ``pa.Table`` from pages of flat records.

    Column types are inferred across all pages (see ``docs/frames.md``); column order is the
    run columns present (in ``RUN_COLUMNS`` order), then ``config.*``, ``summary.*``,
    ``system.*``, ``metadata.*`` and any other column, each group in order of first
    appearance (scanning pages, records and each record's keys in order).

    Examples:
        >>> asm = TableAssembler()
        >>> asm.add([{"id": "a", "config.lr": 1}])
        >>> asm.add([{"id": "b", "config.lr": 0.5}])
        >>> asm.finish().column("config.lr").to_pylist()
        [1.0, 0.5]
    """

    def __init__(self, *, sep: str = ".") -> None:
        """Create an empty assembler.

        Args:
            sep: The separator the records were flattened with (decides the column groups).

        Raises:
            ConfigurationError: ``sep`` is empty or contains a backslash.
        """
        _check_sep(sep)
        self._sep = sep
        self._kinds: dict[str, str] = {}  # insertion order = first appearance
        self._pages: list[tuple[int, dict[str, tuple[pa.Array, str]]]] = []
        self._precision_lost: dict[str, None] = {}

    @property
    def num_rows(self) -> int:
        """Rows added so far."""
        return sum(size for size, _ in self._pages)

    def add(self, flat_records: Sequence[Mapping[str, Any]]) -> None:
        """Convert one page of flat records to Arrow and keep it.

        Args:
            flat_records: Flat records (see :func:`flatten_run`); missing keys mean null.
        """
        size = len(flat_records)
        if size == 0:
            return
        self._add_columns(size, _page_columns(flat_records))

    def add_runs(self, runs: Sequence[Mapping[str, Any]]) -> None:
        """Flatten one page of decoded runs and convert it to Arrow (the fast path).

        Equivalent to ``add([flatten_run(r, sep=sep) for r in runs])``, but the runs are
        flattened straight into columns (see :func:`flatten_to_columns`), without a flat
        dict per run.

        Args:
            runs: Decoded runs (see :func:`decode_run_node`).

        Warns:
            FlattenCollisionWarning: Once, naming the escaped columns, if keys collided.
        """
        escaped = self._add_runs(runs)
        if escaped:
            warnings.warn(collision_message(escaped), FlattenCollisionWarning, stacklevel=2)

    def add_nodes(self, nodes: Sequence[Mapping[str, Any]], *, entity: str, project: str) -> None:
        """Decode one page of GraphQL ``Run`` nodes and add it (the fastest path to a table).

        Equivalent to ``add_runs(decode_run_nodes(nodes, entity=entity, project=project))``,
        but no decoded run outlives its own flattening (see :func:`nodes_to_columns`): use it
        when only the table is wanted, not the decoded runs.

        Args:
            nodes: The nodes of one page, as GraphQL returned them; or an
                :class:`~wandb_frames.graphql.arrow_page.ArrowNodes` page, whose run fields are
                read from its Arrow array (:func:`~wandb_frames.tabular.arrow_runs.run_columns_from_arrow`).
            entity: The entity the runs belong to.
            project: The project the runs belong to.

        Raises:
            ProtocolError: A JSON string or a timestamp does not parse (nothing of the page is
                added).

        Warns:
            FlattenCollisionWarning: Once, naming the escaped columns, if keys collided.
        """
        if not nodes:
            return
        # An ArrowNodes page (light dicts: name and JSON strings) has its run fields in Arrow.
        arrow = getattr(nodes, "arrow", None)
        if arrow is not None and not any(self._sep in name for name in RUN_COLUMNS):
            converted = run_columns_from_arrow(arrow, entity=entity, project=project)
            columns, escaped = sections_to_columns(nodes, sep=self._sep)
            self._add_columns(len(nodes), columns, converted)
        else:
            full = nodes if arrow is None else arrow.to_pylist()  # light ArrowNodes dicts: rebuild
            columns, escaped = nodes_to_columns(full, entity=entity, project=project, sep=self._sep)
            self._add_columns(len(nodes), columns)
        if escaped:
            warnings.warn(collision_message(escaped), FlattenCollisionWarning, stacklevel=2)

    def _add_runs(self, runs: Sequence[Mapping[str, Any]]) -> list[str]:
        """:meth:`add_runs` without the warning; returns the escaped names."""
        if not runs:
            return []
        columns, escaped = flatten_to_columns(runs, sep=self._sep)
        self._add_columns(len(runs), columns)
        return escaped

    def _add_columns(
        self, size: int, columns: dict[str, list[Any]], converted: Mapping[str, Converted] | None = None
    ) -> None:
        """Convert and keep one page: the ``converted`` columns (already Arrow) first, then ``columns``."""
        page: dict[str, tuple[pa.Array, str]] = {}
        kinds = self._kinds
        entries = chain(
            (converted or {}).items(), ((name, column_to_arrow(values)) for name, values in columns.items())
        )
        for name, (array, kind, lost) in entries:
            page[name] = (array, kind)
            previous = kinds.get(name)
            kinds[name] = kind if previous is None else merge_kinds(previous, kind)
            if lost:
                self._precision_lost[name] = None
        self._pages.append((size, page))

    def _ordered_names(self) -> list[str]:
        groups: dict[str, list[str]] = {group: [] for group in GROUPS}
        prefixes = [(group + self._sep, group) for group in GROUPS]
        others: list[str] = []
        for name in self._kinds:
            if name in RUN_COLUMN_KINDS:
                continue
            for prefix, group in prefixes:
                if name.startswith(prefix):
                    groups[group].append(name)
                    break
            else:
                others.append(name)
        ordered = [name for name in RUN_COLUMNS if name in self._kinds]
        for group in GROUPS:
            ordered.extend(groups[group])
        return ordered + others

    def _final_kind(self, name: str) -> str:
        kind = self._kinds[name]
        contract = RUN_COLUMN_KINDS.get(name)
        if contract is not None:
            widened = merge_kinds(kind, contract)
            if widened not in JSON_KINDS:
                return widened
        return kind

    def finish(self) -> pa.Table:
        """Return the table of every page added, with one schema.

        Returns:
            The table; with no rows, :func:`empty_runs_table`; with rows but no keys at all,
            the run columns, all null.

        Warns:
            LossyConversionWarning: Once for the columns that held values of different kinds
                (stored as JSON text), and once for the int columns widened to float64 where
                an int beyond ±2**53 was rounded.
        """
        return self._finish()

    def _finish(self) -> pa.Table:
        """:meth:`finish`, warning at the level of the caller's caller."""
        if not self._pages:
            return empty_runs_table()
        if not self._kinds:  # rows without any key: keep the rows, as nulls in the run columns
            schema = empty_runs_table().schema
            size = self.num_rows
            return pa.Table.from_arrays([pa.nulls(size, field.type) for field in schema], schema=schema)
        fields: list[pa.Field] = []
        columns: list[pa.ChunkedArray] = []
        mixed: list[str] = []
        for name in self._ordered_names():
            final = self._final_kind(name)
            field = field_for(name, final)
            chunks: list[pa.Array] = []
            for size, page in self._pages:
                entry = page.get(name)
                if entry is None:
                    chunks.append(pa.nulls(size, field.type))
                    continue
                chunk, lost = conform_chunk(entry[0], entry[1], final)
                if lost:
                    self._precision_lost[name] = None
                chunks.append(chunk)
            if final == "mixed":
                mixed.append(name)
            fields.append(field)
            columns.append(pa.chunked_array(chunks, type=field.type))
        if mixed:
            warn_at_user(
                "columns holding values of different kinds (or integers outside int64) were "
                "stored as JSON text (field metadata wandb_frames.encoding=json): " + _names(mixed),
                LossyConversionWarning,
            )
        if self._precision_lost:
            warn_at_user(
                "integers beyond ±2**53 were rounded to the nearest float64 in columns that also "
                "hold floats: " + _names(self._precision_lost),
                LossyConversionWarning,
            )
        return pa.Table.from_arrays(columns, schema=pa.schema(fields))


def runs_to_table(runs: Iterable[Mapping[str, Any]], *, sep: str = ".", page_size: int = 1000) -> pa.Table:
    """Flatten decoded runs and assemble them into one typed table.

    Args:
        runs: Decoded runs (see :func:`decode_run_node`), consumed once.
        sep: The separator joining nested keys.
        page_size: Runs converted to Arrow at a time (bounds the Python objects alive).

    Returns:
        One row per run; :func:`empty_runs_table` when there is none.

    Raises:
        ConfigurationError: ``sep`` is invalid or ``page_size`` < 1.

    Warns:
        FlattenCollisionWarning: Once, naming the escaped columns, if keys collided.
        LossyConversionWarning: See :meth:`TableAssembler.finish`.

    Examples:
        >>> table = runs_to_table([{"id": "a", "config": {"opt": {"lr": 0.1}}}])
        >>> table.column_names
        ['id', 'config.opt.lr']
    """
    if not isinstance(page_size, int) or page_size < 1:
        raise ConfigurationError(f"page_size must be a positive int, got {page_size!r}")
    assembler = TableAssembler(sep=sep)
    escaped: dict[str, None] = {}
    page: list[Mapping[str, Any]] = []
    for run in runs:
        page.append(run)
        if len(page) >= page_size:
            escaped.update(dict.fromkeys(assembler._add_runs(page)))
            page = []
    escaped.update(dict.fromkeys(assembler._add_runs(page)))
    del page
    if escaped:
        warnings.warn(collision_message(list(escaped)), FlattenCollisionWarning, stacklevel=2)
    return assembler._finish()
