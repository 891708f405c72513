"""Operands as Arrow values for the local backend (scalars, value sets, regex patterns)."""

from __future__ import annotations

import math
from typing import Any

import pyarrow as pa

from wandb_frames.errors import UnsupportedFilterError
from wandb_frames.filters import nodes

__all__ = ["check_operand", "integer_comparison", "literal", "pattern", "value_set"]

_INT64 = (-(2**63), 2**63)


def check_operand(node: nodes.FieldPredicate) -> None:
    """Raise UnsupportedFilterError for array/object operands (left to the server)."""
    values = node.value if isinstance(node.value, tuple) and node.op in ("$in", "$nin", "$all") else (node.value,)
    for v in values:
        if isinstance(v, tuple | nodes.Doc):
            raise UnsupportedFilterError(
                f"{node.op} with an array or object operand is evaluated by the server only "
                "(whole-array / object equality)",
                operator=node.op,
                backend="arrow",
                path=node.pointer,
            )


def pattern(node: nodes.FieldPredicate) -> str:
    """The RE2 pattern with ``$options`` as inline flags."""
    options = getattr(node, "options", "")
    return f"(?{options}){node.value}" if options else str(node.value)


def literal(value: Any, typ: Any) -> pa.Scalar:
    """An operand as a scalar comparable with a column of type ``typ``."""
    if pa.types.is_timestamp(typ):
        naive = value if typ.tz is not None else value.replace(tzinfo=None)
        return pa.scalar(naive, type=pa.timestamp("us", tz=typ.tz)).cast(typ)
    if pa.types.is_integer(typ) and isinstance(value, int) and not _INT64[0] <= value < _INT64[1]:
        return pa.scalar(float(value))
    if pa.types.is_floating(typ) and isinstance(value, int) and not isinstance(value, bool):
        return pa.scalar(float(value))  # Arrow will not cast an int64 beyond 2**53 to double
    return pa.scalar(value)


def integer_comparison(op: str, value: float) -> tuple[str, int] | bool:
    """``integer_column <op> value`` for a float operand, as the same comparison with an int.

    Arrow refuses to compare int64 values beyond 2**53 with a double, and a double
    operand beyond int64 cannot become an int; so the float is replaced by the integer
    bound that selects the same integers (``x > 1.5`` is ``x > 1``), or by a constant:
    True (every row holding a number), False (none).
    """
    if math.isnan(value):
        return False
    inside = _INT64[0] <= value < _INT64[1]
    if op == "$eq":
        return ("$eq", int(value)) if inside and value.is_integer() else False
    if not inside:  # beyond every int64 value (or infinite)
        above = value > 0
        return not above if op in ("$gt", "$gte") else above
    if value.is_integer():
        return (op, int(value))
    rounded = {"$gt": math.floor(value), "$gte": math.ceil(value), "$lt": math.ceil(value), "$lte": math.floor(value)}
    return (op, int(rounded[op]))


def value_set(values: list[Any], typ: Any) -> pa.Array:
    """Same-bracket ``$in`` values as an array of the column type (unrepresentable ones dropped)."""
    if pa.types.is_integer(typ):
        ints = [int(v) for v in values if float(v).is_integer() and -(2**63) <= v < 2**63]
        return pa.array(ints, pa.int64()).cast(typ, safe=False) if ints else pa.array([], typ)
    if pa.types.is_floating(typ):
        return pa.array([float(v) for v in values], typ)
    if pa.types.is_timestamp(typ):
        return pa.array([literal(v, typ) for v in values], typ)
    return pa.array(values).cast(typ)
