"""Syntax tree → vectorised pyarrow evaluation over a runs table (Mongo semantics).

One compiler serves two modes:

- **eager** (:func:`mask`): ``pyarrow.compute`` over the table's columns; list columns
  (``tags``) use ``list_flatten``/``list_parent_indices`` and JSON-text columns are
  decoded once per unique value;
- **expression** (:func:`to_arrow_expression`): the same rules as a
  ``pc.Expression`` over the schema, for parquet pushdown; None when a part needs
  list or JSON-text columns.

Rules (see ``docs/filters.md``): null and missing are one (Arrow null); comparisons
hold only within one type bracket (a number never equals a string or a bool); an
array matches when any element does and ``$ne``/``$nin`` mean "no element"; a key
with no column but ``key.*`` columns is an object; a key with neither is missing in
every row. Every result is a non-null boolean (null → False).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from wandb_frames.errors import SchemaError, UnsupportedFilterError
from wandb_frames.filters import nodes
from wandb_frames.filters.columns import arrow_kind, is_json_field, subcolumn_prefixes
from wandb_frames.filters.parse import parse_filter
from wandb_frames.filters.literals import check_operand, integer_comparison, literal, pattern, value_set
from wandb_frames.filters.pyvalues import match_value, strings_in
from wandb_frames.filters.visitor import Visitor

__all__ = ["NotExpressible", "compile_mask", "mask", "to_arrow_expression"]

_CMP = {"$gt": pc.greater, "$gte": pc.greater_equal, "$lt": pc.less, "$lte": pc.less_equal}
_FALSE = pa.scalar(False)
_TRUE = pa.scalar(True)


class NotExpressible(Exception):
    """Internal: the expression mode cannot express a part (list or JSON-text column)."""


@dataclass(frozen=True, slots=True)
class _View:
    kind: str  # number|string|bool|date|object|null|list|json
    data: Any  # array / expression (None for object and null)
    valid: Any  # non-null boolean: the key is present
    arrow_type: pa.DataType | None = None
    sub_valid: Any = None  # json: rows where the key holds an object spread over subcolumns
    path: tuple[str, ...] = ()  # json: segments to walk inside the decoded value


def _binary(a: Any, b: Any, function: str) -> Any:
    # pc.and_/pc.or_ do not build expressions; the & and | operators do (operands are non-null).
    if isinstance(a, pc.Expression) or isinstance(b, pc.Expression):
        return _expr(a) & _expr(b) if function == "and" else _expr(a) | _expr(b)
    return pc.call_function(function, [a, b])


def _expr(x: Any) -> pc.Expression:
    return pc.scalar(x.as_py()) if isinstance(x, pa.Scalar) else x


def _or(parts: list[Any]) -> Any:
    if any(p is _TRUE for p in parts):
        return _TRUE
    parts = [p for p in parts if p is not _FALSE]
    if not parts:
        return _FALSE
    out = parts[0]
    for p in parts[1:]:
        out = _binary(out, p, "or")
    return out


def _and(parts: list[Any]) -> Any:
    if any(p is _FALSE for p in parts):
        return _FALSE
    parts = [p for p in parts if p is not _TRUE]
    if not parts:
        return _TRUE
    out = parts[0]
    for p in parts[1:]:
        out = _binary(out, p, "and")
    return out


def _not(x: Any) -> Any:
    if x is _FALSE:
        return _TRUE
    if x is _TRUE:
        return _FALSE
    return pc.invert(x)


def _false_if_null(x: Any) -> Any:
    return pc.coalesce(x, _FALSE)


class _ArrowCompiler(Visitor[Any]):
    backend = "arrow"

    def __init__(self, schema: pa.Schema, table: pa.Table | None) -> None:
        self.schema = schema
        self.table = table
        self.names = set(schema.names)
        self.prefixes = subcolumn_prefixes(schema.names)

    # -- sources ---------------------------------------------------------------
    def column(self, name: str) -> Any:
        data: Any = pc.field(name) if self.table is None else self.table.column(name)
        typ = self.schema.field(name).type
        if pa.types.is_dictionary(typ):  # pandas categoricals: compare their values
            typ = typ.value_type
            data = data.cast(typ)
        if pa.types.is_decimal(typ):  # compared as numbers, like every other number
            data = data.cast(pa.float64())
        return data

    def column_type(self, name: str) -> pa.DataType:
        typ = self.schema.field(name).type
        typ = typ.value_type if pa.types.is_dictionary(typ) else typ
        return pa.float64() if pa.types.is_decimal(typ) else typ

    def valid(self, data: Any) -> Any:
        return pc.is_valid(data)

    def view(self, key: nodes.Key, pointer: str = "") -> _View:
        name = key.column
        subs = self.prefixes.get(name)
        sub_valid = _or([self.valid(self.column(c)) for c in subs]) if subs else None
        if name in self.names:
            field = self.schema.field(name)
            data = self.column(name)
            valid = self.valid(data)
            if is_json_field(field):
                return _View("json", data, valid, field.type, sub_valid)
            if sub_valid is not None:
                valid = _or([valid, sub_valid])
            typ = self.column_type(name)
            return _View(arrow_kind(typ), data, valid, typ)
        if sub_valid is not None:
            return _View("object", None, sub_valid)
        segments = _split_column(name)
        for i in range(len(segments) - 1, 0, -1):
            prefix = ".".join(segments[:i])
            if prefix in self.names:
                field = self.schema.field(prefix)
                if is_json_field(field):
                    data = self.column(prefix)
                    return _View("json", data, self.valid(data), field.type, None, tuple(segments[i:]))
                if arrow_kind(field.type) == "list":
                    raise UnsupportedFilterError(
                        f"{name!r} reaches into the list column {prefix!r}; not supported locally",
                        backend="arrow",
                        path=pointer,
                    )
                break  # a scalar at the prefix: the key is missing
        return _View("null", None, _FALSE)

    # -- logical -----------------------------------------------------------------
    def visit_And(self, node: nodes.And) -> Any:
        return _and([self.visit(c) for c in node.children])

    def visit_Or(self, node: nodes.Or) -> Any:
        return _or([self.visit(c) for c in node.children])

    def visit_Nor(self, node: nodes.Nor) -> Any:
        return _not(_or([self.visit(c) for c in node.children]))

    def visit_Not(self, node: nodes.Not) -> Any:
        return _not(self.visit(node.child))

    # -- field predicates ----------------------------------------------------------
    def field(self, node: nodes.FieldPredicate) -> Any:
        check_operand(node)
        view = self.view(node.key, node.pointer)
        if isinstance(node, nodes.Exists):
            return self.exists(node, view)
        if view.kind == "json":
            return self.json(node, view)
        if view.kind == "list":
            return self.list(node, view)
        return self.scalar(node, view.data, view.kind, view.valid, view.arrow_type)

    visit_Eq = field
    visit_Ne = field
    visit_Gt = field
    visit_Gte = field
    visit_Lt = field
    visit_Lte = field
    visit_In = field
    visit_Nin = field
    visit_All = field
    visit_Exists = field
    visit_Regex = field
    visit_Size = field

    def exists(self, node: nodes.Exists, view: _View) -> Any:
        """``$exists`` where the frame can tell; UnsupportedFilterError where a null cell hides
        whether the key is missing or holds an explicit null (the server knows the difference)."""
        if view.kind == "null" and view.data is None:  # no column reaches the key: missing in every row
            return _TRUE if not node.value else _FALSE
        if view.kind == "json" and view.path:  # inside JSON text, nulls are kept
            return self.json(node, view)
        present = view.valid
        if view.kind == "json" and view.sub_valid is not None:
            present = _or([present, view.sub_valid])
        if self.table is None:
            raise NotExpressible("$exists needs the data (null cells are ambiguous)")
        if isinstance(present, pa.Scalar):
            absent = 0 if present.as_py() else self.table.num_rows
        else:
            absent = len(present) - pc.sum(pc.cast(present, pa.int64())).as_py() if len(present) else 0
        if absent:
            raise UnsupportedFilterError(
                f"$exists on {node.key.column!r}: the frame holds null in {absent} row(s) and cannot tell "
                "an explicit null from a missing key (W&B can: api.runs sends $exists to the server); "
                'write {"<key>": {"$ne": null}} for "has a non-null value"',
                operator="$exists",
                backend="arrow",
                path=node.pointer,
            )
        return present if node.value else _not(present)

    def scalar(self, node: nodes.FieldPredicate, data: Any, kind: str, valid: Any, typ: Any) -> Any:
        op, value = node.op, node.value
        if kind == "date" and pa.types.is_timestamp(typ) and not _fits_unit(value, typ):
            # an operand beyond the column's unit (years outside 1677-2262 for ns): compare in us,
            # which orders every value of the column the same way against it
            typ = pa.timestamp("us", tz=typ.tz)
            data = data.cast(typ)
        if op == "$ne":
            return _not(self.eq(value, data, kind, valid, typ))
        if op == "$nin":
            return _not(self.isin(value, data, kind, valid, typ))
        if op == "$eq":
            return self.eq(value, data, kind, valid, typ)
        if op == "$in":
            return self.isin(value, data, kind, valid, typ)
        if op == "$all":
            return _and([self.eq(v, data, kind, valid, typ) for v in value])
        if op in _CMP:
            if node.kind != kind or kind in ("object", "null"):
                return _FALSE
            if pa.types.is_integer(typ) and isinstance(value, float):
                rule = integer_comparison(op, value)
                if isinstance(rule, bool):
                    return valid if rule else _FALSE
                op, value = rule
            return _false_if_null(_CMP[op](data, literal(value, typ)))
        if op == "$regex":
            if kind != "string":
                return _FALSE
            return _false_if_null(pc.match_substring_regex(data, pattern(node)))
        if op == "$size":
            return _FALSE
        raise UnsupportedFilterError(  # pragma: no cover - the visitor only routes known ops
            f"{op} is not supported locally", operator=op, backend="arrow", path=node.pointer
        )

    def eq(self, value: Any, data: Any, kind: str, valid: Any, typ: Any) -> Any:
        if value is None:
            return _not(valid)
        if nodes.kind_of(value) != kind or kind in ("object", "null"):
            return _FALSE
        if nodes.is_nan(value):
            return _false_if_null(pc.is_nan(data)) if pa.types.is_floating(typ) else _FALSE
        if pa.types.is_integer(typ) and isinstance(value, float):
            rule = integer_comparison("$eq", value)
            if isinstance(rule, bool):
                return _FALSE
            value = rule[1]
        return _false_if_null(pc.equal(data, literal(value, typ)))

    def isin(self, values: tuple[Any, ...], data: Any, kind: str, valid: Any, typ: Any) -> Any:
        parts: list[Any] = []
        same = [v for v in values if v is not None and nodes.kind_of(v) == kind and not nodes.is_nan(v)]
        if any(v is None for v in values):
            parts.append(_not(valid))
        if any(nodes.is_nan(v) for v in values):
            parts.append(self.eq(nodes.NAN, data, kind, valid, typ))
        if same and kind not in ("object", "null"):
            values_set = value_set(same, typ)
            if len(values_set):
                parts.append(_false_if_null(pc.is_in(data, value_set=values_set)))
        return _or(parts)

    def list(self, node: nodes.FieldPredicate, view: _View) -> Any:
        op = node.op
        if op == "$exists":
            return view.valid if node.value else _not(view.valid)
        if op == "$size":
            return _false_if_null(pc.equal(pc.list_value_length(view.data), node.value))
        if op in ("$ne", "$nin"):
            positive = nodes.Eq if op == "$ne" else nodes.In
            return _not(self.list(positive(node.key, node.value), view))
        if op == "$all":
            return _and([self.list(nodes.Eq(node.key, v), view) for v in node.value])
        elem_type = view.arrow_type.value_type  # type: ignore[union-attr]
        elem_kind = arrow_kind(elem_type)

        def element(values: Any) -> Any:
            return self.scalar(node, values, elem_kind, self.valid(values), elem_type)

        hits = self.any_element(view.data, element)
        if (op == "$eq" and node.value is None) or (op == "$in" and None in node.value):
            hits = _or([_not(view.valid), hits])
        return hits

    def any_element(self, data: Any, predicate: Any) -> Any:
        if self.table is None:
            raise NotExpressible("list element test")
        chunks = data.chunks if isinstance(data, pa.ChunkedArray) else [data]
        out = []
        for chunk in chunks:
            hits = predicate(pc.list_flatten(chunk))
            result = np.zeros(len(chunk), dtype=bool)
            if hits is _TRUE or (isinstance(hits, pa.Scalar) and hits.as_py()):
                parents = pc.list_parent_indices(chunk)
            elif isinstance(hits, pa.Scalar):
                parents = pa.array([], pa.int64())
            else:
                parents = pc.list_parent_indices(chunk).filter(hits)
            result[parents.to_numpy(zero_copy_only=False)] = True
            out.append(pa.array(result))
        return pa.chunked_array(out, pa.bool_())

    def json(self, node: nodes.FieldPredicate, view: _View) -> Any:
        if self.table is None:
            raise NotExpressible("JSON-text column")
        import json as _json

        data = view.data
        arr = data.combine_chunks() if isinstance(data, pa.ChunkedArray) else data
        encoded = pc.dictionary_encode(arr)
        texts: list[str] = encoded.dictionary.to_pylist()
        try:
            roots = [_json.loads(t) for t in texts]
        except (ValueError, RecursionError) as exc:
            raise SchemaError(
                f"the JSON-text column holding {node.key.column!r} has a cell that is not JSON ({exc})",
                column=node.key.column,
            ) from None
        if isinstance(node, nodes.Exists):  # only reached with a path: a null cell is a missing parent
            present = pa.array([_present(r, view.path, node) == node.value for r in roots], pa.bool_())
            return pc.coalesce(pc.take(present, encoded.indices), pa.scalar(not node.value))
        decoded = [_walk(r, view.path, node) for r in roots]
        hits: frozenset[str] = frozenset()
        if node.op == "$regex":
            candidates = sorted({s for v in decoded for s in strings_in(v)})
            if candidates:
                matched = pc.match_substring_regex(pa.array(candidates, pa.string()), pattern(node))
                hits = frozenset(s for s, m in zip(candidates, matched.to_pylist(), strict=True) if m)
        per_value = pa.array([match_value(node, v, hits) for v in decoded], pa.bool_())
        result = pc.take(per_value, encoded.indices)
        when_missing = match_value(node, None, hits)
        if view.sub_valid is not None and not view.path:
            when_object = match_value(node, {}, hits)
            filler = pc.if_else(view.sub_valid, when_object, when_missing)
            return pc.coalesce(result, filler)
        return pc.coalesce(result, pa.scalar(when_missing))

    def visit_Filter(self, node: nodes.Filter) -> Any:  # pragma: no cover - defensive
        raise UnsupportedFilterError(f"{node!r} is not a filter node", backend="arrow")


_NS_RANGE = (datetime(1677, 9, 22, tzinfo=UTC), datetime(2262, 4, 11, tzinfo=UTC))


def _fits_unit(value: Any, typ: pa.TimestampType) -> bool:
    """Whether every date of an operand can be cast to the timestamp unit of a column."""
    if typ.unit != "ns":
        return True
    values = value if isinstance(value, tuple) else (value,)
    return all(not isinstance(v, datetime) or _NS_RANGE[0] <= v <= _NS_RANGE[1] for v in values)


def _split_column(name: str) -> list[str]:
    from wandb_frames.filters.keys import escape_segment, split_key

    return [escape_segment(s) for s in split_key(name)]


def _present(value: Any, path: tuple[str, ...], node: nodes.FieldPredicate) -> bool:
    """Whether the key at ``path`` is present (even as an explicit null) inside a decoded value."""
    *parents, last = path
    parent = _walk(value, tuple(parents), node)
    if isinstance(parent, list):
        _walk(parent, (last,), node)  # raises: reaches into an array
    return isinstance(parent, dict) and last.replace("\\.", ".") in parent


def _walk(value: Any, path: tuple[str, ...], node: nodes.FieldPredicate) -> Any:
    for escaped in path:
        segment = escaped.replace("\\.", ".")
        if isinstance(value, list):
            raise UnsupportedFilterError(
                f"{node.key.column!r} reaches into an array; not supported locally",
                operator=node.op,
                backend="arrow",
                path=node.pointer,
            )
        value = value.get(segment) if isinstance(value, dict) else None
    return value


def _arrow_failure(exc: Exception) -> UnsupportedFilterError:
    return UnsupportedFilterError(
        f"the local backend cannot evaluate this filter on these column types ({exc})", backend="arrow"
    )


def compile_mask(table: pa.Table, f: nodes.Filter) -> Any:
    """The boolean result of ``f`` over ``table`` (an Arrow array or a broadcast scalar)."""
    try:
        return _ArrowCompiler(table.schema, table).visit(f)
    except (pa.ArrowNotImplementedError, pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise _arrow_failure(exc) from None


def mask(table: pa.Table, f: Any) -> pa.ChunkedArray | pa.Array:
    """Evaluate a filter over a runs table: one non-null boolean per row.

    ``f`` is a parsed filter, or anything :func:`~wandb_frames.filters.parse_filter` takes.

    Raises:
        FilterSyntaxError: ``f`` is not a valid filter.
        UnsupportedFilterError: a part the local backend cannot evaluate (array/object
            operands, keys that reach into lists, ``$exists`` on a column with null cells);
            ``split`` routes those to the server.

    Examples:
        >>> import pyarrow as pa
        >>> from wandb_frames.filters import parse_filter
        >>> t = pa.table({"id": ["a", "b"], "config.lr": [0.1, 0.001]})
        >>> mask(t, parse_filter("config.lr > 0.01")).to_pylist()
        [True, False]
    """
    f = parse_filter(f)
    if f is None:
        return pa.array(np.ones(table.num_rows, dtype=bool))
    result = compile_mask(table, f)
    if isinstance(result, pa.Scalar):
        return pa.array(np.full(table.num_rows, bool(result.as_py())))
    return result


def to_arrow_expression(f: Any, schema: pa.Schema) -> pc.Expression | None:
    """The filter as a ``pc.Expression`` over ``schema`` (for parquet pushdown).

    Returns:
        The expression (always a non-null boolean), or None when some part needs list or
        JSON-text columns (evaluate with :func:`mask` after reading instead).

    Raises:
        FilterSyntaxError: ``f`` is not a valid filter.
        UnsupportedFilterError: a part the local backend cannot evaluate at all.
    """
    f = parse_filter(f)
    if f is None:
        return pc.scalar(True)
    try:
        result = _ArrowCompiler(schema, None).visit(f)
    except NotExpressible:
        return None
    except (pa.ArrowNotImplementedError, pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise _arrow_failure(exc) from None
    if isinstance(result, pa.Scalar):
        return pc.scalar(bool(result.as_py()))
    expression: pc.Expression = result
    return expression

