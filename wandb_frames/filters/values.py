"""Operands and texts of a filter, checked and normalised (shared by both front ends).

Both front ends (Mongo JSON in :mod:`.parse`, Python expressions in :mod:`.expr`) turn
the user's literals into the canonical operand values of :mod:`.nodes` here, so a value
means the same whichever way it was written. Everything that could make a backend
fail later is refused now: text that is not valid Unicode (lone surrogates), numbers no
JSON number can carry, dates that leave the calendar once converted to UTC, ``NaT``,
objects nested deeper than :data:`MAX_DEPTH`, values that are not JSON-like.
"""

from __future__ import annotations

import math
import numbers
import reprlib
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from wandb_frames.errors import FilterSyntaxError
from wandb_frames.filters import nodes

__all__ = [
    "MAX_DEPTH",
    "check_regex",
    "check_text",
    "date_value",
    "normalize_value",
    "pointer_join",
    "safe_repr",
]

#: How deeply a filter may nest (objects and arrays, or nested conditions of an expression).
#: MongoDB refuses documents nested deeper than 100 levels; ours stays below so that the
#: compiled filter (``$not`` becomes ``$nor: [...]``, one level more) is still accepted.
MAX_DEPTH = 64

_INT64 = (-(2**63), 2**63)
_REPR = reprlib.Repr()
_REPR.maxlevel = 3
_REPR.maxstring = 60
_REPR.maxother = 60


def safe_repr(value: Any) -> str:
    """A short repr for messages: bounded in size and depth, never raising."""
    try:
        return _REPR.repr(value)
    except Exception:  # a user object whose __repr__ fails still gets a message
        return f"<{type(value).__name__} object>"


def pointer_join(pointer: str, part: str | int) -> str:
    """Append one reference token to a JSON pointer (RFC 6901 escaping)."""
    token = str(part).replace("~", "~0").replace("/", "~1")
    return f"{pointer}/{token}"


def check_text(text: str, what: str = "string") -> None:
    """Raise ValueError unless ``text`` is valid Unicode (encodable as UTF-8: no lone surrogates)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError(
            f"the {what} {safe_repr(text)} is not valid Unicode (a lone surrogate at position "
            f"{exc.start}); W&B and Arrow only take UTF-8 text"
        ) from None


def too_deep(what: str = "the filter") -> str:
    """The message for nesting beyond :data:`MAX_DEPTH`."""
    return f"{what} is nested more than {MAX_DEPTH} levels deep; flatten it (e.g. one $and of many parts)"


def check_regex(pattern: str, pointer: str, root: Any) -> None:
    """Raise FilterSyntaxError unless ``pattern`` compiles as RE2 (pyarrow's regex engine)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    try:
        check_text(pattern, "regular expression")
    except ValueError as exc:
        raise FilterSyntaxError(str(exc), path=pointer, filter=root) from None
    try:
        pc.match_substring_regex(pa.array([""], pa.string()), pattern)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise FilterSyntaxError(
            f"invalid regular expression {safe_repr(pattern)} (W&B uses RE2 syntax: no "
            f"look-around or back-references): {exc}",
            path=pointer,
            filter=root,
        ) from exc


def _number(value: Any) -> int | float:
    """An int within int64, or a float (what a JSON number becomes at W&B's server)."""
    if isinstance(value, numbers.Integral):
        number = int(value)
        if _INT64[0] <= number < _INT64[1]:
            return number
        # W&B's server reads JSON numbers beyond int64 as doubles; so do we.
        value = number
    try:
        result = float(value)
    except OverflowError:
        raise ValueError(
            f"the number {safe_repr(value)} is beyond the range of a double (about 1.8e308); "
            "no W&B value can be compared with it"
        ) from None
    return nodes.NAN if math.isnan(result) else result


def _plain_datetime(value: datetime) -> datetime:
    """A ``datetime`` (not a subclass such as ``pd.Timestamp``), in UTC; ValueError for NaT."""
    if value != value:  # pd.NaT: a datetime subclass that equals nothing, not even itself
        raise ValueError("NaT (not-a-time) is not a date; compare with a date, or use {key: null}")
    try:
        plain = datetime(
            value.year, value.month, value.day, value.hour, value.minute, value.second,
            value.microsecond, tzinfo=value.tzinfo, fold=value.fold,
        )
        return plain.replace(tzinfo=UTC) if plain.tzinfo is None else plain.astimezone(UTC)
    except (OverflowError, ValueError, TypeError, ArithmeticError) as exc:
        raise ValueError(
            f"the date {safe_repr(value)} is outside the years 1-9999 once converted to UTC ({exc})"
        ) from None


def normalize_value(value: Any, depth: int = 0) -> Any:
    """Normalise an operand: tuples for arrays, Doc for objects, one NaN, int64 or float numbers.

    A datetime compared with a non-date key becomes its naive-UTC ISO string (what the
    server is sent).

    Raises:
        TypeError: a value that is not JSON-like.
        ValueError: a value no backend can compare: invalid Unicode, a number beyond a
            double, a date outside the calendar in UTC, NaT, nesting beyond MAX_DEPTH.
    """
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        check_text(value)
        return str(value)
    if type(value).__name__ == "bool_":  # numpy.bool_
        return bool(value)
    if isinstance(value, numbers.Real):
        return _number(value)
    if isinstance(value, datetime):
        return _plain_datetime(value).replace(tzinfo=None).isoformat()
    if isinstance(value, list | tuple | Mapping):
        if depth >= MAX_DEPTH:
            raise ValueError(too_deep("this value"))
        if not isinstance(value, Mapping):
            return tuple(normalize_value(v, depth + 1) for v in value)
        items: list[tuple[str, Any]] = []
        for k, v in value.items():
            if not isinstance(k, str):
                raise TypeError(f"object keys must be strings, not {safe_repr(k)}")
            check_text(k, "object key")
            if k.startswith("$"):
                raise TypeError(f"operator {k} inside a value object; move it up next to the key")
            items.append((str(k), normalize_value(v, depth + 1)))
        return nodes.Doc(tuple(items))
    raise TypeError(f"unsupported value {safe_repr(value)} of type {type(value).__name__} (use JSON values)")


def date_value(value: Any, depth: int = 0) -> Any:
    """A date operand (ISO string or datetime, or a list of them) as aware UTC datetimes.

    Raises:
        ValueError: not a date, or a date outside the years 1-9999 once in UTC.
    """
    if value is None:
        return None
    if isinstance(value, list | tuple):
        if depth >= MAX_DEPTH:
            raise ValueError(too_deep("this value"))
        return tuple(date_value(v, depth + 1) for v in value)
    if isinstance(value, datetime):
        return _plain_datetime(value)
    if isinstance(value, str):
        check_text(value)
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise ValueError(
                f"{safe_repr(value)} is not an ISO-8601 date; write e.g. '2024-05-01' or "
                "'2024-05-01T12:00:00Z'"
            ) from None
        return _plain_datetime(parsed)
    raise ValueError(
        f"dates are compared with ISO strings or datetimes, not {type(value).__name__} {safe_repr(value)}"
    )


def operand_value(key: nodes.Key, value: Any, pointer: str, root: Any, depth: int = 0) -> Any:
    """The normalised operand for ``key`` (dates for date keys).

    Raises:
        FilterSyntaxError: the value cannot be compared (see :func:`normalize_value`).
    """
    try:
        if key.kind == "date":
            return date_value(value, depth)
        return normalize_value(value, depth)
    except (TypeError, ValueError) as exc:
        raise FilterSyntaxError(str(exc), path=pointer, filter=root) from None
