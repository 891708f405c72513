"""The filter syntax tree: frozen, slotted, hashable dataclasses.

Every front end (Mongo JSON in :mod:`.parse`, Python expressions in :mod:`.expr`)
produces these nodes; every backend (:mod:`.to_server`, :mod:`.to_arrow`,
:mod:`.split`) consumes them. Values are normalised at parse time (tuples for
arrays, :class:`Doc` for objects, one shared NaN object, aware UTC datetimes), so
two filters that mean the same thing compare and hash equal. The ``pointer``
field (the JSON pointer of the node in the user's filter, for error messages)
takes no part in equality.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

__all__ = [
    "NAN",
    "All",
    "And",
    "Doc",
    "Eq",
    "Exists",
    "FieldPredicate",
    "Filter",
    "Gt",
    "Gte",
    "In",
    "Key",
    "Logical",
    "Lt",
    "Lte",
    "Ne",
    "Nin",
    "Nor",
    "Not",
    "Or",
    "Regex",
    "Size",
    "TRUE",
    "conjoin",
    "is_nan",
    "kind_of",
]

#: The one NaN object every parsed NaN is replaced by (so equal filters hash equal).
NAN: float = float("nan")


@dataclass(frozen=True, slots=True)
class Doc:
    """An object (dict) operand, as an ordered tuple of ``(key, value)`` pairs."""

    items: tuple[tuple[str, Any], ...]

    def to_dict(self) -> dict[str, Any]:
        """Return the object as a plain dict (nested values unchanged)."""
        return dict(self.items)


def kind_of(value: Any) -> str:
    """Mongo type-bracket of a normalised operand or a decoded value.

    Returns one of ``null``, ``number``, ``string``, ``object``, ``array``, ``bool``, ``date``.
    """
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, datetime):
        return "date"
    if isinstance(value, tuple | list):
        return "array"
    return "object"


@dataclass(frozen=True, slots=True)
class Key:
    """A resolved filter key.

    Attributes:
        column: the runs-frame column (``config.lr``, ``summary.loss``, ``id``).
        server: the key W&B's ``filters`` accept (``config.lr.value``), or None when the
            server cannot reach it (e.g. a key with a literal dot, or a local-only field).
        kind: ``date`` for timestamp run fields, ``tags`` for the tag list, ``any`` otherwise.
    """

    column: str
    server: str | None
    kind: str = "any"


class Filter:
    """Base of every node; ``Filter`` is the root type of a parsed filter."""

    __slots__ = ()
    op: ClassVar[str] = ""


@dataclass(frozen=True, slots=True)
class Logical(Filter):
    """``$and``/``$or``/``$nor`` over two or more children."""

    children: tuple[Filter, ...]
    pointer: str = field(default="", compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class And(Logical):
    """All children hold."""

    op: ClassVar[str] = "$and"


@dataclass(frozen=True, slots=True)
class Or(Logical):
    """At least one child holds."""

    op: ClassVar[str] = "$or"


@dataclass(frozen=True, slots=True)
class Nor(Logical):
    """No child holds."""

    op: ClassVar[str] = "$nor"


@dataclass(frozen=True, slots=True)
class Not(Filter):
    """The child does not hold (Mongo's field-level ``$not``; also ``not`` in expressions)."""

    child: Filter
    pointer: str = field(default="", compare=False, repr=False)
    op: ClassVar[str] = "$not"


@dataclass(frozen=True, slots=True)
class FieldPredicate(Filter):
    """A condition on one key; ``value`` is the normalised operand."""

    key: Key
    value: Any
    pointer: str = field(default="", compare=False, repr=False)
    kind: str = field(default="", repr=False)

    def __post_init__(self) -> None:
        # The type bracket of the operand takes part in equality: {x: 1} != {x: true}.
        object.__setattr__(self, "kind", kind_of(self.value))


@dataclass(frozen=True, slots=True)
class Eq(FieldPredicate):
    """Equal (array fields: contains); a bare value in Mongo JSON."""

    op: ClassVar[str] = "$eq"


@dataclass(frozen=True, slots=True)
class Ne(FieldPredicate):
    """Not equal (array fields: does not contain); matches missing keys."""

    op: ClassVar[str] = "$ne"


@dataclass(frozen=True, slots=True)
class Gt(FieldPredicate):
    """Greater than, within one type bracket."""

    op: ClassVar[str] = "$gt"


@dataclass(frozen=True, slots=True)
class Gte(FieldPredicate):
    """Greater than or equal, within one type bracket."""

    op: ClassVar[str] = "$gte"


@dataclass(frozen=True, slots=True)
class Lt(FieldPredicate):
    """Less than, within one type bracket."""

    op: ClassVar[str] = "$lt"


@dataclass(frozen=True, slots=True)
class Lte(FieldPredicate):
    """Less than or equal, within one type bracket."""

    op: ClassVar[str] = "$lte"


@dataclass(frozen=True, slots=True)
class In(FieldPredicate):
    """Equal to any value of the tuple ``value``."""

    op: ClassVar[str] = "$in"


@dataclass(frozen=True, slots=True)
class Nin(FieldPredicate):
    """Equal to none of the values of the tuple ``value``; matches missing keys."""

    op: ClassVar[str] = "$nin"


@dataclass(frozen=True, slots=True)
class All(FieldPredicate):
    """An array containing every value of the tuple ``value``."""

    op: ClassVar[str] = "$all"


@dataclass(frozen=True, slots=True)
class Exists(FieldPredicate):
    """The key is present (``value`` True) or absent (False)."""

    op: ClassVar[str] = "$exists"


@dataclass(frozen=True, slots=True)
class Size(FieldPredicate):
    """An array of exactly ``value`` elements."""

    op: ClassVar[str] = "$size"


@dataclass(frozen=True, slots=True)
class Regex(FieldPredicate):
    """A string (or an array with a string) matching the RE2 pattern ``value``.

    ``options`` holds Mongo ``$options`` letters (``i``, ``m``, ``s``), sorted.
    """

    options: str = ""
    op: ClassVar[str] = "$regex"


def is_nan(value: Any) -> bool:
    """True for a float NaN."""
    return isinstance(value, float) and math.isnan(value)


#: The filter that matches every run (an empty ``$and``).
TRUE = And(())


def conjoin(children: list[Filter], pointer: str = "") -> Filter:
    """``And`` of children, flattening nested ``And`` (one child: the child itself)."""
    flat: list[Filter] = []
    for child in children:
        if isinstance(child, And):
            flat.extend(child.children)
        else:
            flat.append(child)
    if len(flat) == 1:
        return flat[0]
    return And(tuple(flat), pointer=pointer)
