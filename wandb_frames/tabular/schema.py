"""Column kinds, their Arrow types, the widening table and the run columns' fixed types.

A *kind* is what one column holds in one page: ``null``, ``bool``, ``int``, ``float``,
``str``, ``ts`` (timestamp), ``list:<elem>`` (an Arrow list of one scalar kind), or one of
the JSON-text kinds: ``jlist`` (lists that cannot share an element type), ``jdict``
(media/``_type`` dicts and empty dicts) and ``mixed`` (values of different kinds: JSON text
*and* a :class:`~wandb_frames.errors.LossyConversionWarning`).

Pages are converted with their own kinds; :func:`merge_kinds` folds kinds across pages into
the column's final kind (the published widening table in ``docs/frames.md``).
"""

from __future__ import annotations

from typing import Final

import pyarrow as pa

__all__ = [
    "JSON_ENCODING_KEY",
    "JSON_KINDS",
    "RUN_COLUMNS",
    "RUN_COLUMN_KINDS",
    "arrow_type",
    "empty_runs_table",
    "field_for",
    "merge_kinds",
]

JSON_ENCODING_KEY: Final[bytes] = b"wandb_frames.encoding"
"""Arrow field-metadata key; the value ``b"json"`` marks a column of JSON text."""

_JSON_METADATA: Final[dict[bytes, bytes]] = {JSON_ENCODING_KEY: b"json"}

RUN_COLUMNS: Final[tuple[str, ...]] = (
    "id",
    "name",
    "entity",
    "project",
    "state",
    "created_at",
    "heartbeat_at",
    "duration",
    "tags",
    "group",
    "job_type",
    "sweep",
    "user",
    "host",
    "notes",
    "commit",
)

RUN_COLUMN_KINDS: Final[dict[str, str]] = {
    "id": "str",
    "name": "str",
    "entity": "str",
    "project": "str",
    "state": "str",
    "created_at": "ts",
    "heartbeat_at": "ts",
    "duration": "float",
    "tags": "list:str",
    "group": "str",
    "job_type": "str",
    "sweep": "str",
    "user": "str",
    "host": "str",
    "notes": "str",
    "commit": "str",
}

JSON_KINDS: Final[frozenset[str]] = frozenset({"jlist", "jdict", "mixed"})

_TIMESTAMP: Final = pa.timestamp("us", tz="UTC")

_SCALAR_TYPES: Final[dict[str, pa.DataType]] = {
    "null": pa.null(),
    "bool": pa.bool_(),
    "int": pa.int64(),
    "float": pa.float64(),
    "str": pa.string(),
    "ts": _TIMESTAMP,
}

_LIST_TYPES: Final[dict[str, pa.DataType]] = {
    f"list:{elem}": pa.list_(_SCALAR_TYPES[elem]) for elem in ("null", "bool", "int", "float", "str")
}


def arrow_type(kind: str) -> pa.DataType:
    """Return the Arrow type that stores a column of ``kind``.

    Args:
        kind: A column kind (see the module docstring).

    Returns:
        The Arrow data type; every JSON-text kind maps to ``pa.string()``.
    """
    if kind in JSON_KINDS:
        return pa.string()
    scalar = _SCALAR_TYPES.get(kind)
    if scalar is not None:
        return scalar
    return _LIST_TYPES[kind]


def field_for(name: str, kind: str) -> pa.Field:
    """Return the Arrow field for column ``name`` of ``kind``; JSON kinds carry the JSON metadata.

    Args:
        name: Column name.
        kind: Column kind.

    Returns:
        A nullable field, with ``{JSON_ENCODING_KEY: b"json"}`` metadata for JSON-text kinds.
    """
    if kind in JSON_KINDS:
        return pa.field(name, pa.string(), metadata=_JSON_METADATA)
    return pa.field(name, arrow_type(kind))


def _merge_elem(a: str, b: str) -> str | None:
    if a == b:
        return a
    if a == "null":
        return b
    if b == "null":
        return a
    if {a, b} == {"int", "float"}:
        return "float"
    return None


def _is_list(kind: str) -> bool:
    return kind == "jlist" or kind.startswith("list:")


def merge_kinds(a: str, b: str) -> str:
    """Fold two kinds of one column into the kind that holds both (the widening table).

    Args:
        a: One kind.
        b: Another kind.

    Returns:
        ``null`` + X → X; ``int`` + ``float`` → ``float``; lists merge their element kinds
        (``list:int`` + ``list:float`` → ``list:float``) or, when the elements cannot share a
        type, become ``jlist``; two different kinds otherwise → ``mixed``.

    Examples:
        >>> merge_kinds("int", "float")
        'float'
        >>> merge_kinds("bool", "int")
        'mixed'
        >>> merge_kinds("list:int", "list:str")
        'jlist'
    """
    if a == b:
        return a
    if a == "null":
        return b
    if b == "null":
        return a
    if a == "mixed" or b == "mixed":
        return "mixed"
    if {a, b} == {"int", "float"}:
        return "float"
    if _is_list(a) and _is_list(b):
        if a == "jlist" or b == "jlist":
            return "jlist"
        elem = _merge_elem(a[5:], b[5:])
        return "jlist" if elem is None else f"list:{elem}"
    return "mixed"


def empty_runs_table() -> pa.Table:
    """Return a zero-row table with every run column and its contract type.

    Returns:
        A ``pa.Table`` whose schema is the run columns of ``RUN_COLUMNS``, in order.

    Examples:
        >>> empty_runs_table().num_rows
        0
        >>> str(empty_runs_table().schema.field("created_at").type)
        'timestamp[us, tz=UTC]'
    """
    schema = pa.schema([field_for(name, RUN_COLUMN_KINDS[name]) for name in RUN_COLUMNS])
    return schema.empty_table()
