"""What the local backends need to know about runs-frame columns (see docs/architecture.md)."""

from __future__ import annotations

import pyarrow as pa

__all__ = ["JSON_ENCODING_KEY", "JSON_ENCODING_VALUE", "arrow_kind", "is_json_field", "subcolumn_prefixes"]

#: Field metadata key marking a JSON-text column (same value as ``tabular.JSON_ENCODING_KEY``).
JSON_ENCODING_KEY = b"wandb_frames.encoding"
JSON_ENCODING_VALUE = b"json"


def is_json_field(field: pa.Field) -> bool:
    """True for a string column whose cells hold JSON text (mixed kinds or media dicts)."""
    metadata = field.metadata or {}
    return metadata.get(JSON_ENCODING_KEY) == JSON_ENCODING_VALUE


def arrow_kind(typ: pa.DataType) -> str:
    """Mongo type bracket of an Arrow type: number, string, bool, date, list, null or other."""
    if pa.types.is_boolean(typ):
        return "bool"
    if pa.types.is_integer(typ) or pa.types.is_floating(typ) or pa.types.is_decimal(typ):
        return "number"
    if pa.types.is_string(typ) or pa.types.is_large_string(typ) or pa.types.is_string_view(typ):
        return "string"
    if pa.types.is_timestamp(typ) or pa.types.is_date(typ):
        return "date"
    if pa.types.is_list(typ) or pa.types.is_large_list(typ) or pa.types.is_list_view(typ):
        return "list"
    if pa.types.is_null(typ):
        return "null"
    if pa.types.is_dictionary(typ):
        return arrow_kind(typ.value_type)
    return "other"


def _segments(name: str) -> list[str]:
    """Split a column name at unescaped dots, keeping the escapes."""
    parts: list[str] = []
    start = 0
    i = 0
    while i < len(name):
        if name[i] == "\\" and i + 1 < len(name):
            i += 2
            continue
        if name[i] == ".":
            parts.append(name[start:i])
            start = i + 1
        i += 1
    parts.append(name[start:])
    return parts


def subcolumn_prefixes(names: list[str]) -> dict[str, list[str]]:
    """Map each dotted prefix (``config.model``) to the columns beneath it (``config.model.layers``)."""
    out: dict[str, list[str]] = {}
    for name in names:
        segments = _segments(name)
        for i in range(1, len(segments)):
            out.setdefault(".".join(segments[:i]), []).append(name)
    return out


def key_columns(column: str, names: list[str]) -> list[str]:
    """The columns the local backend may read for a key: itself, its subcolumns, its prefixes."""
    segments = _segments(column)
    prefixes = {".".join(segments[:i]) for i in range(1, len(segments))}
    below = column + "."
    return [n for n in names if n == column or n.startswith(below) or n in prefixes]
