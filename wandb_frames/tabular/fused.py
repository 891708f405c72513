"""Flatten a page of decoded runs straight into columns (the fast path of ``TableAssembler``).

Same rules and result as :func:`~wandb_frames.tabular.flatten.flatten_run` followed by a
transpose (see that module); only faster: no flat dict per run, names built once per
distinct key, collisions checked only for names written from keys containing the separator.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from operator import itemgetter
from typing import Any, Final

from wandb_frames.tabular.decode import (
    decode_run_columns,
    decode_run_node,
    decode_sections,
    decode_sections_enveloped,
)
from wandb_frames.tabular.schema import RUN_COLUMNS
from wandb_frames.tabular.flatten import SKIPPED_SECTIONS, flatten_with_collisions

__all__ = ["flatten_to_columns", "nodes_to_columns", "sections_to_columns"]


_VALUE: Final = itemgetter("value")


class _Unsafe(Exception):
    """A key that is not a string, or a collision: take the careful path for this run."""


def _put(columns: dict[str, list[Any]], name: str, value: Any, row: int, size: int) -> None:
    column = columns.get(name)
    if column is None:
        column = columns[name] = [None] * size
    column[row] = value


def _fill_literal(
    columns: dict[str, list[Any]], risky: list[str], mapping: dict[Any, Any], prefix: str, sep: str,
    row: int, size: int,
) -> None:
    """Write the leaves under a key containing ``sep``; every name is recorded in ``risky``."""
    for key, value in mapping.items():
        if type(key) is not str:
            raise _Unsafe
        name = prefix + key
        if type(value) is dict and value and "_type" not in value:
            _fill_literal(columns, risky, value, name + sep, sep, row, size)
            continue
        risky.append(name)
        _put(columns, name, value, row, size)


_Caches = dict[str, tuple[dict[Any, list[Any]], dict[Any, str], dict[str, str]]]
"""Per prefix: key → its column (leaves), key → the prefix of its children (branches), and
key → name for the leaf keys containing the separator (also in the leaves)."""


def _new_leaf(
    columns: dict[str, list[Any]],
    cached: tuple[dict[Any, list[Any]], dict[Any, str], dict[str, str]],
    nested: set[str],
    key: Any,
    value: Any,
    prefix: str,
    sep: str,
    row: int,
    size: int,
) -> None:
    """Write a leaf whose key is not cached at ``prefix`` yet, and cache it."""
    if type(key) is not str:
        raise _Unsafe
    name = prefix + key
    column = columns.get(name)
    if column is None:
        column = columns[name] = [None] * size
    column[row] = value
    cached[0][key] = column
    if sep in key:  # a literal separator: may collide with a nested name (recorded per run)
        cached[2][key] = name
    else:
        nested.add(name)


def _fill_section(
    columns: dict[str, list[Any]],
    caches: _Caches,
    risky: list[str],
    nested: set[str],
    mapping: dict[Any, Any],
    unwrap: bool,
    prefix: str,
    sep: str,
    row: int,
    size: int,
) -> None:
    """Write the leaves of ``mapping`` into their columns: one dict subscript per known leaf.

    With ``unwrap``, the values are W&B's config envelopes, unwrapped on the way (one
    subscript each, no unwrapped copy); a value that is not an envelope raises
    ``KeyError``/``TypeError``. A leaf key containing ``sep`` is cached like the others; its
    name is added to ``risky`` after the loop, when the mapping holds it as a leaf.
    """
    cached = caches.get(prefix)
    if cached is None:
        cached = caches[prefix] = ({}, {}, {})
    leaves, branches, literals = cached
    for key, value in mapping.items():
        if unwrap:
            value = value["value"]  # KeyError/TypeError for a value that is no envelope, as itemgetter
        if type(value) is dict and value and "_type" not in value:
            child = branches.get(key)
            if child is None:
                if type(key) is not str:
                    raise _Unsafe
                if sep in key:  # a literal separator: may collide with a nested name
                    _fill_literal(columns, risky, value, prefix + key + sep, sep, row, size)
                    continue
                child = branches[key] = prefix + key + sep
            _fill_section(columns, caches, risky, nested, value, False, child, sep, row, size)
            continue
        try:
            leaves[key][row] = value
        except KeyError:
            _new_leaf(columns, cached, nested, key, value, prefix, sep, row, size)
    if literals:
        for key, name in literals.items():
            if key in mapping:
                value = mapping[key]["value"] if unwrap else mapping[key]
                if not (type(value) is dict and value and "_type" not in value):
                    risky.append(name)


def _nested_leaf(run: dict[str, Any], name: str, sep: str) -> bool:
    """Whether splitting ``name`` at every ``sep`` is the path of a leaf of ``run``."""
    parts = name.split(sep)
    node: Any = run
    last = len(parts) - 1
    for depth, part in enumerate(parts):
        if type(node) is not dict or part not in node:
            return False
        value = node[part]
        opens = type(value) is dict and "_type" not in value and (depth > 0 or part not in SKIPPED_SECTIONS)
        if depth == last:
            return not opens if depth == 0 else not (opens and value)
        if not (opens and value):
            return False
        node = value
    return False


def _collides(run: dict[str, Any], risky: list[str], sep: str) -> bool:
    """Whether a name written from a literal-separator key was written twice in ``run``."""
    return len(set(risky)) != len(risky) or any(_nested_leaf(run, name, sep) for name in risky)


def _fill_run(
    columns: dict[str, list[Any]],
    caches: _Caches,
    top: dict[Any, str],
    risky: list[str],
    nested: set[str],
    run: dict[Any, Any],
    sep: str,
    row: int,
    size: int,
    envelopes: bool,
) -> None:
    """Write one run's leaves; with ``envelopes``, ``run["config"]`` still holds W&B's envelopes.

    The envelopes are unwrapped while the config is walked (no unwrapped copy); a value
    that is not an envelope raises ``KeyError``/``TypeError``.
    """
    cached = caches.get("")  # the run's own fields ("" is never a section prefix)
    if cached is None:
        cached = caches[""] = ({}, {}, {})
    leaves = cached[0]
    for key, value in run.items():
        if type(value) is dict and "_type" not in value:
            if value and key not in SKIPPED_SECTIONS:
                prefix = top.get(key)
                if prefix is None:
                    if type(key) is not str:
                        raise _Unsafe
                    if sep in key:
                        _fill_literal(columns, risky, value, key + sep, sep, row, size)
                        continue
                    prefix = top[key] = key + sep
                unwrap = envelopes and key == "config"
                _fill_section(columns, caches, risky, nested, value, unwrap, prefix, sep, row, size)
            continue
        column = leaves.get(key)
        if column is None:
            if type(key) is not str:
                raise _Unsafe
            if sep in key:
                risky.append(key)
                _put(columns, key, value, row, size)
                continue
            column = columns.get(key)
            if column is None:
                column = columns[key] = [None] * size
            leaves[key] = column
            nested.add(key)
        column[row] = value
    # A literal name collides only with a name written twice, or with one also written from
    # plain keys (recorded in ``nested`` when first met): check the run only then.
    if risky and (not nested.isdisjoint(risky) or len(set(risky)) != len(risky)):
        if envelopes and "config" in run:
            config = run["config"]
            run = {**run, "config": dict(zip(config, map(_VALUE, config.values())))}
        if _collides(run, risky, sep):
            raise _Unsafe


def flatten_to_columns(
    runs: Sequence[Mapping[str, Any]], *, sep: str = "."
) -> tuple[dict[str, list[Any]], list[str]]:
    """Flatten a page of decoded runs straight into columns (no flat record per run).

    The same result as transposing ``[flatten_run(r) for r in runs]`` (column order = first
    appearance, missing cells ``None``), without building the flat dicts: each leaf goes
    into its column list at once, and full names are built once per distinct key. Names
    written from keys containing ``sep`` are checked for collisions after each run; a run
    with a collision (or a key that is not a string, or very deep nesting) is rolled back
    (columns it created are removed, its cells of literal names cleared) and written again
    from :func:`flatten_with_collisions`.

    Args:
        runs: Decoded runs (see :func:`decode_run_node`).
        sep: The separator joining nested keys (validated by the caller).

    Returns:
        ``(columns, escaped)``: name → one value per run, and the names escaped because of
        collisions (see :func:`flatten_with_collisions`), in order, without repeats.
    """
    return _to_columns(runs, len(runs), sep, None)


def nodes_to_columns(
    nodes: Sequence[Mapping[str, Any]], *, entity: str, project: str, sep: str = "."
) -> tuple[dict[str, list[Any]], list[str]]:
    """Decode a page of GraphQL ``Run`` nodes and flatten them into columns, node by node.

    The same result as ``flatten_to_columns(decode_run_nodes(nodes, ...), sep=sep)``, but each
    node is decoded, flattened and dropped before the next one: its dicts are read while
    still in the CPU caches and freed young (the cyclic collector never scans them), and no
    page of decoded runs is kept.

    Args:
        nodes: The nodes of one page (JSON strings still encoded).
        entity: The entity the runs belong to.
        project: The project the runs belong to.
        sep: The separator joining nested keys (validated by the caller).

    Returns:
        ``(columns, escaped)`` as :func:`flatten_to_columns`.

    Raises:
        ProtocolError: A JSON string or a timestamp does not parse.
    """

    if not any(sep in name for name in RUN_COLUMNS):
        # The run fields column by column, only the JSON sections node by node.
        run_columns = decode_run_columns(nodes, entity=entity, project=project)
        if run_columns is not None:
            columns, escaped = sections_to_columns(nodes, sep=sep)
            return {**run_columns, **columns}, escaped

    def decode(node: Mapping[str, Any]) -> dict[str, Any]:
        return decode_run_node(node, entity=entity, project=project)

    return _to_columns(nodes, len(nodes), sep, decode)


def sections_to_columns(
    nodes: Sequence[Mapping[str, Any]], *, sep: str = "."
) -> tuple[dict[str, list[Any]], list[str]]:
    """Flatten only the JSON sections of a page of nodes (``config.*``, ``summary.*``, ``system.*``).

    The columns :func:`nodes_to_columns` gives after the run columns, when no run column name
    contains ``sep`` (the caller checks).
    """
    return _to_columns(nodes, len(nodes), sep, decode_sections, decode_sections_enveloped)


def _to_columns(
    items: Iterable[Any],
    size: int,
    sep: str,
    decode: Callable[[Mapping[str, Any]], dict[str, Any]] | None,
    decode_enveloped: Callable[[Mapping[str, Any]], dict[str, Any] | None] | None = None,
) -> tuple[dict[str, list[Any]], list[str]]:
    """Fill columns from ``items`` (runs, or nodes decoded by ``decode``).

    With ``decode_enveloped``, each node is first decoded keeping the config's envelopes
    (see :func:`decode_sections_enveloped`); a run that fails on the fast path (collision,
    non-string key, a config value that is no envelope) is rolled back and written from
    ``decode(item)`` by :func:`flatten_with_collisions`; after a value that is no envelope,
    the rest of the page is decoded with ``decode`` alone.
    """
    columns: dict[str, list[Any]] = {}
    caches: _Caches = {}
    top: dict[Any, str] = {}
    escaped: dict[str, None] = {}
    nested: set[str] = set()
    for row, item in enumerate(items):
        run: Any = None if decode_enveloped is None else decode_enveloped(item)
        envelopes = run is not None
        if not envelopes:
            run = item if decode is None else decode(item)
        existing = len(columns)
        risky: list[str] = []
        try:
            if type(run) is not dict:
                raise _Unsafe
            _fill_run(columns, caches, top, risky, nested, run, sep, row, size, envelopes)
        except (_Unsafe, RecursionError, KeyError, TypeError) as exc:
            if not envelopes and isinstance(exc, KeyError | TypeError):
                raise  # only a config value that is no envelope raises these
            for name in list(columns)[existing:]:  # columns this run created: a suffix
                del columns[name]
            caches.clear()  # they may point at removed columns
            for name in risky:
                column = columns.get(name)
                if column is not None:
                    column[row] = None
            if envelopes:
                run = item if decode is None else decode(item)
                if isinstance(exc, KeyError | TypeError):
                    decode_enveloped = None  # configs of this page are not all envelopes
            flat, collided = flatten_with_collisions(run, sep=sep)
            escaped.update(dict.fromkeys(collided))
            for name, value in flat.items():
                _put(columns, name, value, row, size)
    return columns, list(escaped)
