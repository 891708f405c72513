"""GraphQL execution for the local server: schema with resolvers, cached documents, error mapping."""

from __future__ import annotations

import dataclasses
import threading
from collections import OrderedDict
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Final

from graphql import (
    DocumentNode,
    GraphQLError,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLSchema,
    OperationDefinitionNode,
    Undefined,
    build_schema,
    default_field_resolver,
    execute_sync,
    parse,
    validate,
)
from graphql.execution.executor import Executor

from wandb_frames.testing import artifact_files, catalog, resolvers
from wandb_frames.testing.mongo import ServerFilterError

__all__ = ["SCHEMA_PATH", "Prepared", "Reply", "execute_request", "load_schema", "prepare"]

SCHEMA_PATH = Path(__file__).with_name("schema.graphql")
_DOC_CACHE_SIZE = 512


@lru_cache(maxsize=1)
def load_schema() -> GraphQLSchema:
    """The server schema (``schema.graphql``) with every resolver attached (built once)."""
    schema = build_schema(SCHEMA_PATH.read_text(encoding="utf-8"))
    for table in (resolvers.RESOLVERS, catalog.RESOLVERS, artifact_files.RESOLVERS):
        for type_name, fields in table.items():
            gql_type: Any = schema.type_map[type_name]
            for field_name, fn in fields.items():
                gql_type.fields[field_name].resolve = fn
    for name in ("Node", "ArtifactCollection", "ArtifactCreator"):
        abstract: Any = schema.type_map[name]
        abstract.resolve_type = catalog.resolve_type
    return schema


class _LeafFastExecutor(Executor[Any]):
    """graphql-core's executor with a shortcut for the most common fields: plain scalars and objects.

    A field with no resolver of its own, no arguments and a scalar type (nullable or not), read from
    a ``dict`` source, resolves to ``source.get(name)`` coerced by the scalar, exactly as
    the default resolver and ``complete_value`` would do, without building a
    ``GraphQLResolveInfo`` and walking the completion steps (a runs listing is mostly such
    fields: ~3x faster for them). The same holds for a plain object (a ``dict``) or a list of
    them under such a field (a listing's ``edges`` and ``node``): their sub-selection is
    executed at once, without resolve info or type dispatch (a 10,000-run ID listing answers
    ~30 % sooner). Anything else, and any value the shortcut does not handle verbatim (a
    callable, an exception, a failed coercion, a null where the type forbids one), takes the
    full path, which also reports errors. ``tests/server/test_engine_executor.py`` runs every
    document both ways.
    """

    def execute_field(
        self,
        parent_type: Any,
        source: Any,
        field_details_list: Any,
        path: Any,
        position_context: Any,
    ) -> Any:
        if type(source) is dict and len(field_details_list) == 1:
            node = field_details_list[0].node
            if not node.arguments:
                name = node.name.value
                field = parent_type.fields.get(name)
                if (
                    field is not None
                    and field.resolve is None
                    and not field.args
                    and self.field_resolver is default_field_resolver
                    and self.middleware_manager is None
                ):
                    if node.selection_set is None:
                        scalar = field.type
                        nullable = type(scalar) is GraphQLScalarType
                        if not nullable and type(scalar) is GraphQLNonNull:
                            scalar = scalar.of_type
                        if type(scalar) is GraphQLScalarType:
                            value = source.get(name)
                            if value is None and nullable:
                                return None
                            if value is not None and not callable(value) and not isinstance(value, Exception):
                                try:
                                    coerced = scalar.coerce_output_value(value)
                                except Exception:  # noqa: BLE001  # the full path reports it, located
                                    coerced = None
                                if coerced is not None and coerced is not Undefined:
                                    return coerced
                    else:
                        done = self._plain_composite(field.type, source.get(name), field_details_list, path,
                                                     position_context)
                        if done is not _NOT_PLAIN:
                            return done
        return super().execute_field(parent_type, source, field_details_list, path, position_context)

    def _plain_composite(
        self, return_type: Any, value: Any, field_details_list: Any, path: Any, position_context: Any
    ) -> Any:
        """An object (a ``dict``) or a list of objects under a field with a sub-selection, completed
        as ``complete_value`` would, without its per-field resolve info and type dispatch; or
        :data:`_NOT_PLAIN` when the value is anything else (the full path takes it).

        Errors are handled where the full path handles them: a list item's at the item (null if
        the item type allows it), anything else at this field.
        """
        inner, nullable = return_type, True
        if type(inner) is GraphQLNonNull:
            inner, nullable = inner.of_type, False
        if value is None:
            return None if nullable else _NOT_PLAIN
        if type(inner) is GraphQLObjectType:
            if inner.is_type_of is not None or type(value) is not dict:
                return _NOT_PLAIN
            try:
                return self.collect_and_execute_subfields(inner, field_details_list, path, value, position_context)
            except Exception as raw_error:  # noqa: BLE001  # as execute_field: located, this field nulled
                self.handle_field_error(raw_error, return_type, field_details_list, path)
                return None
        if type(inner) is not GraphQLList or type(value) is not list:
            return _NOT_PLAIN
        item_type = inner.of_type
        item = item_type.of_type if type(item_type) is GraphQLNonNull else item_type
        if type(item) is not GraphQLObjectType or item.is_type_of is not None \
                or any(type(v) is not dict for v in value):
            return _NOT_PLAIN
        try:
            completed: list[Any] = []
            for index, entry in enumerate(value):
                item_path = path.add_key(index, None)
                try:
                    completed.append(self.collect_and_execute_subfields(
                        item, field_details_list, item_path, entry, position_context))
                except Exception as raw_error:  # noqa: BLE001  # as complete_list_item_value
                    self.handle_field_error(raw_error, item_type, field_details_list, item_path)
                    completed.append(None)
            return completed
        except Exception as raw_error:  # noqa: BLE001  # a non-null item's error: this field's
            self.handle_field_error(raw_error, return_type, field_details_list, path)
            return None


_NOT_PLAIN: Final = object()
""":meth:`_LeafFastExecutor._plain_composite`'s answer for a value it leaves to the full path."""


FAST_EXECUTOR: type[Executor[Any]] = _LeafFastExecutor
"""The executor the server runs documents with (``graphql.execution.Executor`` is the reference)."""

check_executor = False
"""Tests set this: every query is also run by graphql-core's own executor, and must agree."""
executor_mismatches: list[str] = []
"""Operations whose answer differed from the reference executor's (read by the tests)."""


def _is_query(document: DocumentNode, name: str | None) -> bool:
    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode) and (
            name is None or (definition.name is not None and definition.name.value == name)
        ):
            return definition.operation.value == "query"
    return False


def _compare_with_reference(
    result: Any, document: DocumentNode, context: Any, variables: dict[str, Any], name: str | None
) -> None:
    if isinstance(context, resolvers.Context) and context.on_runs_page is not None:
        context = dataclasses.replace(context, on_runs_page=None)  # the check serves no page
    reference = execute_sync(load_schema(), document, None, context, variables, name, executor_class=Executor)
    ours = (result.data, [e.formatted for e in result.errors or ()])
    theirs = (reference.data, [e.formatted for e in reference.errors or ()])
    if ours != theirs:
        executor_mismatches.append(f"{name}: {ours!r:.300} != {theirs!r:.300}")


@dataclass(frozen=True)
class Prepared:
    """A parsed and validated document: its operations and their declared variables."""

    document: DocumentNode | None
    errors: tuple[dict[str, Any], ...]
    operations: dict[str, frozenset[str]]  # operation name ("" when anonymous) -> variable names


_cache: OrderedDict[str, Prepared] = OrderedDict()
_cache_lock = threading.Lock()


def prepare(query: str) -> Prepared:
    """Parse and validate ``query`` against the schema (cached per document text)."""
    with _cache_lock:
        hit = _cache.get(query)
        if hit is not None:
            _cache.move_to_end(query)
            return hit
    try:
        document = parse(query)
    except GraphQLError as exc:
        prepared = Prepared(None, (dict(exc.formatted),), {})
    else:
        errors = validate(load_schema(), document)
        operations = {
            (d.name.value if d.name else ""): frozenset(v.variable.name.value for v in d.variable_definitions or ())
            for d in document.definitions
            if isinstance(d, OperationDefinitionNode)
        }
        prepared = Prepared(None if errors else document, tuple(dict(e.formatted) for e in errors), operations)
    with _cache_lock:
        _cache[query] = prepared
        while len(_cache) > _DOC_CACHE_SIZE:
            _cache.popitem(last=False)
    return prepared


def operation_name(prepared: Prepared, requested: Any) -> str | None:
    """The operation to run: ``requested`` when non-empty, else the document's only operation."""
    if isinstance(requested, str) and requested:
        return requested
    if len(prepared.operations) == 1:
        return next(iter(prepared.operations)) or None
    return None


@dataclass(frozen=True)
class Reply:
    """HTTP status and JSON payload of one GraphQL request."""

    status: int
    payload: dict[str, Any]


def _error(status: int, message: str) -> Reply:
    return Reply(status, {"errors": [{"message": message}], "data": None})


def execute_request(body: Any, context: resolvers.Context) -> tuple[str | None, Reply]:
    """Run one GraphQL request body; returns ``(operation name, reply)``. Never raises for bad input."""
    if not isinstance(body, dict) or not isinstance(body.get("query"), str):
        return None, _error(400, "request body must be a JSON object with a 'query' string")
    variables = body.get("variables")
    if variables is None:
        variables = {}
    if not isinstance(variables, dict):
        return None, _error(400, "'variables' must be a JSON object")
    prepared = prepare(body["query"])
    name = operation_name(prepared, body.get("operationName"))
    if prepared.document is None:
        return name, Reply(400, {"errors": list(prepared.errors), "data": None})
    declared = prepared.operations.get(name or "")
    if declared is None:
        return name, _error(400, f"unknown operation {name!r}" if name else "operation name required")
    used = {k: v for k, v in variables.items() if k in declared}
    result = execute_sync(
        load_schema(), prepared.document, None, context, used, name, executor_class=FAST_EXECUTOR
    )
    if check_executor and _is_query(prepared.document, name):
        _compare_with_reference(result, prepared.document, context, used, name)
    if not result.errors:
        return name, Reply(200, {"data": result.data})
    for err in result.errors:
        original = err.original_error
        if isinstance(original, ServerFilterError):
            return name, Reply(original.status, {"errors": [{"message": original.message,
                                                            "path": list(err.path or [])}], "data": None})
    errors = [e.formatted for e in result.errors]
    status = 400 if result.data is None and all(not e.path for e in result.errors) else 200
    return name, Reply(status, {"errors": errors, "data": result.data})
