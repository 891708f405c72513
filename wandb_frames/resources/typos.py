"""Names that match nothing known: a typo'd filter key, ``columns=`` entry or ``keys=`` metric.

A misspelt name otherwise fails silently (zero rows, an all-null column, an empty history);
here it raises an :class:`~wandb_frames.errors.UnknownKeyWarning` naming the closest known
names (``difflib``), attributed to the user's line.
"""

from __future__ import annotations

import difflib
import fnmatch
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from wandb_frames import filters as wff
from wandb_frames.errors import UnknownKeyWarning, warn_at_user
from wandb_frames.filters.nodes import FieldPredicate, Logical, Not

__all__ = ["check_history_keys", "check_listing_names", "closest", "filter_columns", "is_known", "warn_unknown_keys"]

_SECTIONS = ("config.", "summary.", "system.")
_GLOB = set("*?[")


def closest(name: str, known: Iterable[str], n: int = 3) -> list[str]:
    """The known names closest to ``name`` (same section first), best first."""
    pool = sorted(set(known))
    found = difflib.get_close_matches(name, pool, n=n, cutoff=0.6)
    section, _, tail = name.partition(".")
    if section + "." in _SECTIONS and tail:
        tails = {k.partition(".")[2]: k for k in pool if k.startswith(section + ".")}
        for match in difflib.get_close_matches(tail, list(tails), n=n, cutoff=0.6):
            if tails[match] not in found:
                found.append(tails[match])
    return found[:n]


def is_known(name: str, columns: Iterable[str]) -> bool:
    """Whether ``name`` is a column or a prefix of nested columns (``config.optimizer``)."""
    names = set(columns)
    return name in names or any(c.startswith(name + ".") for c in names)


def filter_columns(spec: Mapping[str, Any] | str | None) -> list[str]:
    """The frame columns a filter names (``config.lr``, ``summary.loss``), in order, once each."""
    parsed = wff.parse_filter(spec) if spec else None
    out: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, Logical):
            for child in node.children:
                walk(child)
        elif isinstance(node, Not):
            walk(node.child)
        elif isinstance(node, FieldPredicate) and node.key.column not in out:
            out.append(node.key.column)

    walk(parsed)
    return out


def _warn(kind: str, name: str, where: str, suggestions: Sequence[str]) -> None:
    hint = f"; did you mean {', '.join(repr(s) for s in suggestions)}?" if suggestions else ""
    message = f"{kind} {name!r} matches nothing known in {where}{hint}"
    warning = UnknownKeyWarning(message, key=name, suggestions=suggestions)
    warn_at_user(warning, UnknownKeyWarning)


def check_listing_names(
    filters: Mapping[str, Any] | str | None, columns: Sequence[str] | None, sep: str,
    fetched: Sequence[str], sample: Callable[[], Sequence[str]], where: str,
) -> None:
    """Warn for each filter key and ``columns=`` entry that no run is known to have.

    ``fetched`` are the columns of the fetched runs; only when a name is missing there,
    ``sample()`` (one unfiltered page of the project) is asked, so that a key only absent
    from the *matching* runs does not warn, and the suggestions come from real names.
    """
    dotted = [c.replace(sep, ".") for c in fetched] if sep != "." else list(fetched)
    suspects: list[tuple[str, str]] = [
        ("filter key", name) for name in filter_columns(filters) if name.startswith(_SECTIONS)
        and not is_known(name, dotted)
    ]
    for entry in columns or ():
        if _GLOB & set(entry):
            if not any(fnmatch.fnmatchcase(c, entry) for c in fetched):
                suspects.append(("columns= entry", entry))
        elif not is_known(entry, fetched):
            suspects.append(("columns= entry", entry))
    if not suspects:
        return
    known = list(sample())
    for kind, name in suspects:
        pool = known if kind == "columns= entry" else [c.replace(sep, ".") for c in known]
        glob = bool(_GLOB & set(name))
        if (glob and any(fnmatch.fnmatchcase(c, name) for c in pool)) or (not glob and is_known(name, pool)):
            continue
        _warn(kind, name, where, [] if glob else closest(name, pool))


def check_history_keys(keys: Sequence[str] | None, seen: Iterable[str],
                       history_keys: Callable[[], Iterable[str]], where: str) -> None:
    """Warn for each ``keys=`` metric absent from the rows and from the run's ``historyKeys``."""
    missing = [k for k in keys or () if k not in set(seen)]
    if not missing:
        return
    known = list(history_keys())
    for name in missing:
        if name not in known:
            _warn("history key", name, where, closest(name, known))


def warn_unknown_keys(unknown: Sequence[str], known: Iterable[str], where: str) -> None:
    """Warn for each ``keys=`` metric that no run has logged, suggesting the closest that some did."""
    pool = list(known)
    for name in unknown:
        _warn("history key", name, where, closest(name, pool))
