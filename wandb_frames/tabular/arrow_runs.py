"""The run columns of a page straight from the Arrow-read answer (no Python value per cell).

:func:`~wandb_frames.graphql.arrow_page.parse_runs_page` leaves a page's nodes in Arrow
arrays. The run fields (``name``, ``state``, timestamps, ``tags``, ``user.username`` …)
then need no round trip through Python objects: a string field already is the ``str``
column that :func:`~wandb_frames.tabular.columns.column_to_arrow` would build from
:func:`~wandb_frames.tabular.decode.decode_run_columns`, and the W&B timestamp format
parses in Arrow. Exactly the same arrays and kinds, or the Python path: a column whose
values this module does not handle verbatim (a timestamp in another ISO spelling or an
impossible date, null ``tags``) is built from its Python values, as before.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

import pyarrow as pa
import pyarrow.compute as pc

from wandb_frames.tabular.columns import Converted, column_to_arrow
from wandb_frames.tabular.decode import _LATE_FIELDS, _PLAIN_FIELDS, _TAIL_FIELDS, parse_timestamp
from wandb_frames.tabular.schema import arrow_type

__all__ = ["run_columns_from_arrow"]

_WANDB_TIME: Final = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$"
"""The spelling W&B sends (``2026-01-01T00:00:00Z``): parsed in Arrow, any other in Python."""

_FORMAT: Final = "%Y-%m-%dT%H:%M:%SZ"
_TS: Final = arrow_type("ts")
_LIST_STR: Final = arrow_type("list:str")


def _nulls_or(array: pa.Array, kind: str) -> Converted:
    if array.null_count == len(array):
        return pa.nulls(len(array)), "null", False
    return array, kind, False


def _string_column(array: pa.Array) -> Converted:
    return _nulls_or(array, "str")


def _timestamp_column(array: pa.Array) -> Converted:
    if array.null_count == len(array):
        return pa.nulls(len(array)), "null", False
    if pc.all(pc.match_substring_regex(array, _WANDB_TIME)).as_py():
        try:
            parsed = pc.strptime(array, format=_FORMAT, unit="s")
        except pa.ArrowInvalid:
            pass
        else:
            # strptime rolls impossible dates over (February 30th -> March 2nd) where Python
            # raises: only a date that prints back as it came is taken.
            if pc.all(pc.equal(pc.strftime(parsed, format=_FORMAT), array)).as_py():
                return parsed.cast(_TS), "ts", False
    return column_to_arrow([None if v is None else parse_timestamp(v) for v in array.to_pylist()])


def _float_column(array: pa.Array) -> Converted:
    return _nulls_or(array, "float")


def _tags_column(array: pa.Array) -> Converted:
    # Python: null tags -> []; a page without any non-null tag is "list:null".
    if array.null_count == 0 and array.type == _LIST_STR:
        elements = array.flatten()
        if elements.null_count < len(elements):
            return array, "list:str", False
    return column_to_arrow([list(v or ()) for v in array.to_pylist()])


def _user_column(array: pa.Array) -> Converted:
    # flatten(): the struct's own nulls (no user) become nulls of its username
    return _string_column(array.flatten()[array.type.get_field_index("username")])


_Convert = Callable[[pa.Array], Converted]
_HEAD: Final[tuple[tuple[str, str, _Convert], ...]] = tuple((wire, key, _string_column) for wire, key in _PLAIN_FIELDS[:2])
"""``id`` and ``name``; ``entity`` and ``project`` follow them, as in :func:`decode_run_columns`."""
_TAIL: Final[tuple[tuple[str, str, _Convert], ...]] = (
    ("state", "state", _string_column),
    ("createdAt", "created_at", _timestamp_column),
    ("heartbeatAt", "heartbeat_at", _timestamp_column),
    ("computeSeconds", "duration", _float_column),
    ("tags", "tags", _tags_column),
    *((wire, key, _string_column) for wire, key in _LATE_FIELDS),
    ("sweepName", "sweep", _string_column),
    ("user", "user", _user_column),
    *((wire, key, _string_column) for wire, key in _TAIL_FIELDS),
)


def run_columns_from_arrow(nodes: pa.StructArray, *, entity: str, project: str) -> dict[str, Converted]:
    """The run columns of a page of nodes read by Arrow, converted as the Python path would.

    Args:
        nodes: The page's nodes (no null node), as :mod:`~wandb_frames.graphql.arrow_page`
            read them.
        entity: The entity the runs belong to.
        project: The project the runs belong to.

    Returns:
        Run column name → ``(array, kind, precision_lost)``: the same columns, order and
        values as ``column_to_arrow`` over ``decode_run_columns(nodes as dicts)``.

    Raises:
        ProtocolError: A timestamp does not parse.
    """
    size = len(nodes)
    fields = {field.name for field in nodes.type}
    out: dict[str, Converted] = {}
    for wire, key, convert in _HEAD:
        if wire in fields:
            out[key] = convert(nodes.field(wire))
    out["entity"] = (pa.array([entity] * size, pa.string()), "str", False)
    out["project"] = (pa.array([project] * size, pa.string()), "str", False)
    for wire, key, convert in _TAIL:
        if wire in fields:
            out[key] = convert(nodes.field(wire))
    return out
