"""Flatten decoded runs into flat records (``config.optimizer.lr``) and back.

Rules (each has a named test in ``tests/tabular/test_flatten.py`` and an example in
``docs/frames.md``):

- a top-level key holding a dict (``config``, ``summary``, ``system``, ``metadata``, …) is a
  *section*: its keys become ``<section><sep><key>``; an empty section adds nothing;
  ``config_internal`` is never flattened;
- nested dicts are joined with ``sep``; a dict with a ``_type`` key (media, histogram, table)
  is one value, kept whole; an empty dict ``{}`` is one value, kept as ``{}``;
- lists are values (never exploded);
- literal separators inside a key are kept verbatim; when that makes two leaves of one record
  share a name, the purely nested one keeps the plain name and every other one is written with
  the separator escaped by a backslash (``config.a\\.b``), with one ``FlattenCollisionWarning``.
"""

from __future__ import annotations

import re
import warnings
from collections import Counter
from collections.abc import Iterator, Mapping
from typing import Any, Final

from wandb_frames.errors import ConfigurationError, FlattenCollisionWarning, SchemaError

__all__ = ["flatten_run", "flatten_with_collisions", "iter_leaves", "unflatten"]

SKIPPED_SECTIONS: Final[frozenset[str]] = frozenset({"config_internal"})

# Full names by prefix and key, shared by every call: the same keys come back run after run,
# and a cached name is a string whose hash is already known (~25 % of flatten_run's time).
# Bounded to _MAX_NAMES names in all; a new prefix met when full starts the cache afresh.
_NAMES: dict[str, dict[Any, str]] = {}
_CACHED: list[int] = [0]
_MAX_NAMES: Final = 65536


def _check_sep(sep: str) -> None:
    if not isinstance(sep, str) or not sep or "\\" in sep:
        raise ConfigurationError(f"sep must be a non-empty string without backslashes, got {sep!r}")


def _flatten_into(out: dict[str, Any], prefix: str, mapping: dict[str, Any], sep: str) -> int:
    """Write the leaves of ``mapping`` into ``out`` depth-first; return how many there are.

    The count is ``len`` of each dict minus its branches, so a collision (two leaves with one
    name) shows as ``count != len(out)`` without a membership test per leaf.
    """
    names = _NAMES.get(prefix)
    if names is None:
        if _CACHED[0] >= _MAX_NAMES:
            _NAMES.clear()
            _CACHED[0] = 0
        names = _NAMES[prefix] = {}
    branches = 0
    for key, value in mapping.items():
        name = names.get(key)
        if name is None:
            name = prefix + key  # TypeError for a key that is not a string: the careful path
            if _CACHED[0] < _MAX_NAMES:
                names[key] = name
                _CACHED[0] += 1
        if type(value) is dict and value and "_type" not in value:
            branches += _flatten_into(out, name + sep, value, sep) - 1
        else:
            out[name] = value
    return len(mapping) + branches


def _flatten_fast(run: Mapping[str, Any], sep: str) -> dict[str, Any] | None:
    """Flatten assuming no collisions; ``None`` when one happened (or keys are not strings)."""
    out: dict[str, Any] = {}
    written = 0
    try:
        for key, value in run.items():
            if type(value) is dict and "_type" not in value:
                if value and key not in SKIPPED_SECTIONS:
                    written += _flatten_into(out, key + sep, value, sep)
            else:
                out[key] = value
                written += 1
    except (TypeError, RecursionError):  # non-string keys, very deep nesting: the careful path
        return None
    return out if written == len(out) else None


def _is_branch(value: Any) -> bool:
    return type(value) is dict and bool(value) and "_type" not in value


def iter_leaves(run: Mapping[Any, Any]) -> Iterator[tuple[tuple[str, ...], Any]]:
    """Yield ``(path, value)`` for every leaf of a decoded run, depth-first, keys as strings.

    Args:
        run: A decoded run (or any nested mapping).

    Yields:
        The key path of each leaf (sections included) and its value; media dicts and empty
        dicts are leaves; empty top-level sections and ``config_internal`` yield nothing.
    """
    for top, value in run.items():
        key = top if isinstance(top, str) else str(top)
        if not (type(value) is dict and "_type" not in value):
            yield (key,), value
            continue
        if key in SKIPPED_SECTIONS or not value:
            continue
        stack: list[tuple[tuple[str, ...], Iterator[tuple[Any, Any]]]] = [((key,), iter(value.items()))]
        while stack:
            path, items = stack[-1]
            for sub, child in items:
                child_path = (*path, sub if isinstance(sub, str) else str(sub))
                if _is_branch(child):
                    stack.append((child_path, iter(child.items())))
                    break
                yield child_path, child
            else:
                stack.pop()


def flatten_with_collisions(run: Mapping[str, Any], *, sep: str = ".") -> tuple[dict[str, Any], list[str]]:
    """Flatten a decoded run and report collisions instead of warning about them.

    Args:
        run: A decoded run.
        sep: The separator joining nested keys.

    Returns:
        The flat record and the escaped names written because of collisions (empty if none).
    """
    fast = _flatten_fast(run, sep)
    if fast is not None:
        return fast, []
    leaves = list(iter_leaves(run))
    plain = [sep.join(path) for path, _ in leaves]
    counts = Counter(plain)
    escaped_sep = "\\" + sep
    out: dict[str, Any] = {}
    escaped: list[str] = []
    for (path, value), name in zip(leaves, plain, strict=True):
        if counts[name] > 1 and any(sep in part for part in path):
            name = sep.join(part.replace(sep, escaped_sep) for part in path)
            escaped.append(name)
        out[name] = value
    return out, escaped


def flatten_run(run: Mapping[str, Any], *, sep: str = ".") -> dict[str, Any]:
    """Flatten a decoded run into one flat record.

    Args:
        run: A decoded run (see :func:`decode_run_node`).
        sep: The separator joining nested keys.

    Returns:
        ``{"id": …, "config.optimizer.lr": 0.1, "summary.img": {"_type": …}, …}``.

    Raises:
        ConfigurationError: ``sep`` is empty or contains a backslash.

    Warns:
        FlattenCollisionWarning: A literal key containing ``sep`` met a nested key of the same
            name; the literal one is written escaped (``config.a\\.b``).

    Examples:
        >>> flatten_run({"id": "r1", "config": {"opt": {"lr": 0.1}, "tags": []}})
        {'id': 'r1', 'config.opt.lr': 0.1, 'config.tags': []}
    """
    _check_sep(sep)
    flat, escaped = flatten_with_collisions(run, sep=sep)
    if escaped:
        warnings.warn(collision_message(escaped), FlattenCollisionWarning, stacklevel=2)
    return flat


def collision_message(escaped: list[str], *, limit: int = 10) -> str:
    """Return the ``FlattenCollisionWarning`` text for the escaped column names."""
    names = ", ".join(escaped[:limit]) + (f" and {len(escaped) - limit} more" if len(escaped) > limit else "")
    return (
        "keys containing the separator collided with nested keys of the same name; the nested "
        f"ones keep the plain names and the literal ones were written escaped: {names}"
    )


def unflatten(flat: Mapping[str, Any], *, sep: str = ".") -> dict[str, Any]:
    """Rebuild nested dicts from a flat record (the inverse of :func:`flatten_run`).

    Names are split at every separator not preceded by a backslash, and ``\\<sep>`` becomes a
    literal ``sep`` inside a key. The inverse is exact when no key contains ``sep`` or a
    backslash; keys containing ``sep`` come back nested unless they were escaped.

    Args:
        flat: A flat record, e.g. one table row with its null cells removed.
        sep: The separator used to flatten.

    Returns:
        The nested dict.

    Raises:
        SchemaError: A name is both a value and a prefix of other names.

    Examples:
        >>> unflatten({"id": "r1", "config.opt.lr": 0.1, "config.a\\\\.b": 2})
        {'id': 'r1', 'config': {'opt': {'lr': 0.1}, 'a.b': 2}}
    """
    _check_sep(sep)
    splitter = re.compile(r"(?<!\\)" + re.escape(sep))
    escaped_sep = "\\" + sep
    out: dict[str, Any] = {}
    built: set[int] = {id(out)}
    for name, value in flat.items():
        parts = [part.replace(escaped_sep, sep) for part in splitter.split(name)]
        node = out
        for part in parts[:-1]:
            child: Any = node.get(part)
            if child is None and part not in node:
                child = node[part] = {}
                built.add(id(child))
            elif id(child) not in built:
                raise SchemaError(f"{name!r} nests under a name that holds a value", column=name)
            node = child
        if parts[-1] in node:
            raise SchemaError(f"{name!r} names a value and a nested group at once", column=name)
        node[parts[-1]] = value
    return out
