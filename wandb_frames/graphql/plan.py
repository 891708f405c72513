"""What a runs listing asks for: the filter/order split and the column projection.

Pure values built before any request: :func:`plan_query` validates the filter and order
and splits them between the server and local evaluation; :class:`Projection` turns a
``columns=`` selection into server-side ``config(keys:)``/``summaryMetrics(keys:)``.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from wandb_frames import filters as wff
from wandb_frames.errors import ConfigurationError, UnsupportedFilterError

__all__ = ["Projection", "QueryPlan", "plan_query"]

_SECTIONS = {"config": "config", "summary": "summary", "system": "system", "metadata": "metadata"}
_GLOB = frozenset("*?[")


@dataclass(frozen=True, slots=True)
class QueryPlan:
    """The validated filter and order: what the server evaluates and what is left locally."""

    server_filters: str
    server_order: str
    local: wff.Filter | None = None
    order: wff.Order | None = None
    filter_plan: wff.FilterPlan | None = None
    sort_locally: bool = False

    @property
    def exact_on_server(self) -> bool:
        """True when the server alone decides which runs match and in which order."""
        return self.local is None and not self.sort_locally


def plan_query(filters: Mapping[str, Any] | str | None, order: str | None) -> QueryPlan:
    """Validate ``filters``/``order`` and split them between the server and local evaluation.

    Raises:
        FilterError: An invalid filter or order (before any request).
    """
    plan = wff.split(wff.parse_filter(filters))
    parsed_order = wff.parse_order(order or "+created_at")
    try:
        server_order, sort_locally = wff.order_to_server(parsed_order), False
    except UnsupportedFilterError:
        # The server cannot sort by this key (e.g. ``notes``): fetch in creation order, sort here.
        server_order, sort_locally = "+created_at", True
    return QueryPlan(
        server_filters=wff.to_server_json(plan.server),
        server_order=server_order,
        local=plan.local,
        order=parsed_order,
        filter_plan=plan,
        sort_locally=sort_locally,
    )


@dataclass(frozen=True, slots=True)
class Projection:
    """Which heavy fields to fetch for a ``columns=`` selection (None: everything)."""

    columns: tuple[str, ...] | None = None
    config_keys: tuple[str, ...] | None = None
    summary_keys: tuple[str, ...] | None = None
    with_config: bool = True
    with_summary: bool = True
    with_system: bool = True
    with_metadata: bool = False

    @classmethod
    def from_columns(
        cls, columns: Sequence[str] | None, *, sep: str = ".", everything: bool = False
    ) -> Projection:
        """Derive server-side projection from column names/globs (``everything``: no pruning)."""
        if columns is None:
            return cls()
        if isinstance(columns, str) or not all(isinstance(c, str) and c for c in columns):
            raise ConfigurationError("columns must be a list of column names or globs")
        wanted: dict[str, set[str] | None] = {"config": set(), "summary": set()}
        present = {section: False for section in _SECTIONS}
        for column in columns:
            head, _, rest = column.partition(sep)
            if column[:1] in _GLOB or (head in _SECTIONS and not rest) or (head[-1:] in _GLOB):
                present = {section: True for section in _SECTIONS}
                wanted = {"config": None, "summary": None}
                continue
            if head not in _SECTIONS:
                continue
            present[head] = True
            if head in wanted:
                keys = wanted[head]
                if keys is None or _GLOB & set(rest):
                    wanted[head] = None
                else:
                    # W&B keys may hold the separator literally ("val.acc"): ask for every
                    # prefix that could be the top-level key (an escaped separator is literal).
                    parts = rest.replace("\\" + sep, "\0").split(sep)
                    for i in range(1, len(parts) + 1):
                        keys.add(sep.join(parts[:i]).replace("\0", sep))
        if everything:
            return cls(columns=tuple(columns), with_metadata=present["metadata"])
        return cls(
            columns=tuple(columns),
            config_keys=None if wanted["config"] is None else tuple(sorted(wanted["config"])),
            summary_keys=None if wanted["summary"] is None else tuple(sorted(wanted["summary"])),
            with_config=present["config"],
            with_summary=present["summary"],
            with_system=present["system"],
            with_metadata=present["metadata"],
        )

    def select(self, table: pa.Table) -> pa.Table:
        """Keep the selected columns (globs expanded in table order); absent names are null."""
        if self.columns is None:
            return table
        names: list[str] = []
        for column in self.columns:
            if _GLOB & set(column):
                names.extend(n for n in table.column_names if fnmatch.fnmatchcase(n, column))
            else:
                names.append(column)
        unique = list(dict.fromkeys(names))
        arrays = [
            table.column(n) if n in table.column_names else pa.nulls(table.num_rows) for n in unique
        ]
        return pa.Table.from_arrays(
            arrays,
            schema=pa.schema(
                [table.schema.field(n) if n in table.column_names else pa.field(n, pa.null())
                 for n in unique]
            ),
        )
