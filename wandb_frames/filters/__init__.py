"""One filter language (W&B's MongoDB-style ``filters``), compiled to the server and to pyarrow.

>>> from wandb_frames.filters import parse_filter, to_server
>>> f = parse_filter("config.lr > 1e-3 and state == 'finished'")
>>> to_server(f)
{'$and': [{'config.lr.value': {'$gt': 0.001}}, {'state': 'finished'}]}

See ``docs/filters.md`` for the operator and key tables and the semantics.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from wandb_frames.filters.nodes import Filter
from wandb_frames.filters.order import Order, order_to_server, parse_order, sort_table
from wandb_frames.filters.parse import parse_filter
from wandb_frames.filters.split import FilterPlan, split
from wandb_frames.filters.to_arrow import mask, to_arrow_expression
from wandb_frames.filters.to_server import to_server, to_server_json

__all__ = [
    "Filter",
    "FilterPlan",
    "Order",
    "apply",
    "mask",
    "order_to_server",
    "parse_filter",
    "parse_order",
    "sort_table",
    "split",
    "to_arrow_expression",
    "to_server",
    "to_server_json",
]


def apply(data: Any, spec: Any) -> Any:
    """Rows of a runs table or DataFrame where the filter holds, in their original order.

    Args:
        data: a ``pa.Table`` or a ``pd.DataFrame`` (runs-frame columns).
        spec: Mongo JSON, an expression string, a parsed filter, or None (keep all rows).

    Returns:
        The same type as ``data``.

    Raises:
        FilterSyntaxError: the filter is malformed.
        UnsupportedFilterError: a part the local backend cannot evaluate.

    Examples:
        >>> t = pa.table({"id": ["a", "b"], "state": ["finished", "crashed"]})
        >>> apply(t, {"state": "finished"})["id"].to_pylist()
        ['a']
    """
    if isinstance(data, pa.Table):
        f = parse_filter(spec)
        return data if f is None else data.filter(mask(data, f))
    from wandb_frames.filters.accessor import apply_frame

    return apply_frame(data, spec)
