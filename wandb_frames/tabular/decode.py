"""Decode W&B GraphQL ``Run`` nodes into plain "decoded run" dicts.

W&B's wire names (camelCase, JSON strings, the config ``{"value", "desc"}`` envelope) stay in
this module; everything after it sees snake_case keys and Python values.
"""

from __future__ import annotations

import gc
import json
import math
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from operator import itemgetter
from typing import Any, Final

import orjson

from wandb_frames.errors import ProtocolError

__all__ = [
    "CONFIG_INTERNAL_KEYS",
    "decode_run_columns",
    "decode_run_node",
    "decode_run_nodes",
    "decode_sections",
    "json_text",
    "loads_wandb_json",
    "parse_timestamp",
]

_VALUE: Final = itemgetter("value")

CONFIG_INTERNAL_KEYS: Final[frozenset[str]] = frozenset({"_wandb", "wandb_version"})
"""Config keys W&B keeps for itself; they go to ``config_internal``, never to ``config.*``."""

# (GraphQL field, decoded key) for fields copied as they are.
_PLAIN_FIELDS: Final[tuple[tuple[str, str], ...]] = (
    ("name", "id"),
    ("displayName", "name"),
    ("state", "state"),
)
_LATE_FIELDS: Final[tuple[tuple[str, str], ...]] = (
    ("group", "group"),
    ("jobType", "job_type"),
)
_TAIL_FIELDS: Final[tuple[tuple[str, str], ...]] = (
    ("host", "host"),
    ("notes", "notes"),
    ("commit", "commit"),
)
_JSON_FIELDS: Final[tuple[tuple[str, str], ...]] = (
    ("summaryMetrics", "summary"),
    ("systemMetrics", "system"),
)


def loads_wandb_json(text: str | bytes | bytearray | memoryview | Mapping[str, Any] | None) -> Any:
    """Parse a W&B JSON string: orjson first, the standard library for W&B's extensions.

    W&B's JSON strings may hold bare ``NaN``, ``Infinity`` and ``-Infinity`` and raw control
    characters inside strings, which strict parsers (orjson) reject; those texts are parsed
    again with ``json.loads(strict=False)``, as the official client does.

    Args:
        text: The JSON text (a ``memoryview`` holds its UTF-8 bytes); ``None`` gives ``{}``; an
            already-decoded mapping passes through.

    Returns:
        The decoded value.

    Raises:
        ProtocolError: The text is not JSON even with W&B's extensions.

    Examples:
        >>> loads_wandb_json('{"loss": NaN}')
        {'loss': nan}
        >>> loads_wandb_json(None)
        {}
    """
    if type(text) is not str and type(text) is not memoryview:  # the common cases: no ABC check
        if text is None:
            return {}
        if isinstance(text, Mapping):
            return dict(text)
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        if type(text) is memoryview:  # UTF-8 bytes of a text (arrow_page): parse it as that text
            try:
                text = str(text, "utf-8")
            except UnicodeDecodeError as exc:
                raise ProtocolError(f"W&B sent a JSON string that does not parse: {exc}") from exc
    try:
        # json.loads(text, strict=False) builds a decoder per call; bytes still go through it
        # (it detects their encoding)
        return _LENIENT.decode(text) if type(text) is str else json.loads(text, strict=False)
    except (ValueError, RecursionError) as exc:
        raise ProtocolError(f"W&B sent a JSON string that does not parse: {exc}") from exc


_LENIENT: Final = json.JSONDecoder(strict=False)
"""The standard library's decoder with raw control characters allowed in strings."""


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("utf-8", "backslashreplace")
    if isinstance(value, tuple | set | frozenset):
        return list(value)
    return str(value)


# One encoder each, built once: ``json.dumps`` with options builds a new one per call.
_ENCODER: Final = json.JSONEncoder(
    ensure_ascii=False, separators=(",", ":"), allow_nan=True, default=_json_default
)
_ASCII_ENCODER: Final = json.JSONEncoder(
    ensure_ascii=True, separators=(",", ":"), allow_nan=True, default=_json_default
)


_ORJSON_SAME: Final[frozenset[type]] = frozenset({str, int, bool, type(None)})
"""Value types for which ``orjson.dumps`` gives exactly the encoder's compact text."""

_ORJSON_LEAVES: Final[frozenset[type]] = _ORJSON_SAME | {float}
"""Leaf types orjson writes like the encoder, floats only up to :data:`_SPELLED_APART`."""

_SPELLED_APART: Final[tuple[bytes, ...]] = (b"e-", b".0000", b"null")
"""Where orjson's text may differ from the encoder's, found in orjson's text (conservatively).

orjson writes floats in [1e-5, 1e-4) as ``0.00001`` (the encoder: ``1e-05``), pads no
negative exponent (``1e-9``; the encoder: ``1e-09``) and writes NaN/±Infinity as ``null``;
every other float is the same shortest round-trip text. A match elsewhere (inside a string,
a real ``null``) only sends the value to the encoder. Substring tests, not a regular
expression: they scan in C at memchr speed (a regex scan cost more than the encoding).
"""


def _orjson_text(value: dict[Any, Any] | list[Any]) -> str | None:
    """orjson's text of a dict or list of JSON scalars (or of lists of them), if the encoder's.

    ``None`` when the value holds anything else, or when orjson's text may differ.
    """
    types = set(map(type, value.values() if type(value) is dict else value))
    if list in types:
        types.discard(list)
        for item in value.values() if type(value) is dict else value:
            if type(item) is list:
                types.update(map(type, item))
    if not _ORJSON_LEAVES.issuperset(types):
        return None
    try:
        text = orjson.dumps(value)  # non-str keys, ints beyond 64 bits, lone surrogates: raise
    except orjson.JSONEncodeError:
        return None
    if float in types and any(map(text.__contains__, _SPELLED_APART)):
        return None
    return text.decode()


def json_text(value: Any, *, ascii_only: bool = False) -> str:
    """Return the compact JSON text of a value as stored in JSON-text columns.

    NaN and ±Infinity are written as ``NaN``, ``Infinity`` and ``-Infinity`` (as W&B does);
    datetimes as ISO strings; key order is kept.

    Args:
        value: Any JSON-like Python value.
        ascii_only: Escape non-ASCII characters (used for strings with lone surrogates,
            which UTF-8 cannot store).

    Returns:
        JSON text without spaces, e.g. ``{"a":[1,2.5,NaN]}``.

    Examples:
        >>> json_text({"a": [1, 2.5, float("nan")], "b": "auto"})
        '{"a":[1,2.5,NaN],"b":"auto"}'
    """
    kind = type(value)
    if kind is float:
        if math.isfinite(value):
            return repr(value)
        return "NaN" if value != value else ("Infinity" if value > 0 else "-Infinity")
    if not ascii_only:
        # orjson writes the same text as the encoder below for JSON scalars and for flat
        # dicts and lists of them (most media dicts, e.g. a histogram), ~5x faster; floats
        # it spells differently and anything else go to the encoder.
        if kind in _ORJSON_SAME:
            try:
                return orjson.dumps(value).decode()
            except orjson.JSONEncodeError:  # ints beyond 64 bits, lone surrogates
                pass
        elif kind is dict or kind is list:
            text = _orjson_text(value)
            if text is not None:
                return text
    return (_ASCII_ENCODER if ascii_only else _ENCODER).encode(value)


def parse_timestamp(value: str | datetime) -> datetime:
    """Parse a W&B timestamp into a tz-aware UTC datetime.

    Naive values mean UTC; ``Z`` and ``+00:00`` (or any offset) are accepted; fractions beyond
    microseconds are truncated.

    Args:
        value: An ISO 8601 string or a datetime.

    Returns:
        A datetime with ``tzinfo=UTC``.

    Raises:
        ProtocolError: The value is not an ISO 8601 timestamp.

    Examples:
        >>> parse_timestamp("2023-11-05T17:46:35")
        datetime.datetime(2023, 11, 5, 17, 46, 35, tzinfo=datetime.timezone.utc)
    """
    if type(value) is not str and isinstance(value, datetime):
        parsed = value
    else:
        try:
            parsed = datetime.fromisoformat(value)
        except (TypeError, ValueError) as exc:
            raise ProtocolError(f"expected an ISO 8601 timestamp, got {value!r}") from exc
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _load_config(raw: Any) -> dict[str, Any]:
    config = loads_wandb_json(raw)
    if not isinstance(config, dict):
        raise ProtocolError(f"expected the run config to be a JSON object, got {type(config).__name__}")
    return config


def _decode_config(raw: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    config = _load_config(raw)
    user: dict[str, Any] | None = None
    # Every value an envelope (as W&B stores config): unwrap in C. Decoded from JSON text,
    # only a dict answers ["value"] (str, list, numbers and None raise TypeError); a mapping
    # passed in may hold other objects that do, so its values' types are checked first.
    if type(raw) is str or type(raw) is memoryview or set(map(type, config.values())) == {dict}:
        try:
            user = dict(zip(config, map(_VALUE, config.values())))
        except (KeyError, TypeError):
            user = None
    if user is None:
        user = {
            key: value["value"] if isinstance(value, dict) and "value" in value else value
            for key, value in config.items()
        }
    present = [key for key in CONFIG_INTERNAL_KEYS if key in user]  # two lookups, not a pass over user
    if not present:
        return user, {}
    if len(present) > 1:  # keep the config's own order (a C-level scan of its keys)
        order = list(user)
        present.sort(key=order.index)
    return user, {key: user.pop(key) for key in present}


def _decode_object(raw: Any, field: str) -> dict[str, Any]:
    decoded = loads_wandb_json(raw)
    if decoded is None:
        return {}
    if not isinstance(decoded, dict):
        raise ProtocolError(f"expected {field} to be a JSON object, got {type(decoded).__name__}")
    return decoded


def _copy(node: Mapping[str, Any], out: dict[str, Any], fields: tuple[tuple[str, str], ...]) -> None:
    for wire, key in fields:
        if wire in node:
            out[key] = node[wire]


def _timestamp_or_none(value: Any) -> datetime | None:
    return None if value is None else parse_timestamp(value)


def decode_run_node(node: Mapping[str, Any], *, entity: str, project: str) -> dict[str, Any]:
    """Decode one GraphQL ``Run`` node into a decoded run.

    Run fields become the snake_case run columns (``name`` → ``id``, ``displayName`` →
    ``name``, ``sweepName`` → ``sweep``, ``computeSeconds`` → ``duration``,
    ``user.username`` → ``user``; timestamps → tz-aware UTC datetimes; ``tags`` null → ``[]``).
    ``config`` is unwrapped one level (``{"value", "desc"}`` removed) with ``_wandb`` and
    ``wandb_version`` moved to ``config_internal``; ``summaryMetrics`` → ``summary`` and
    ``systemMetrics`` → ``system`` as dicts. Fields the node lacks (not selected) are absent.

    Args:
        node: The node as returned by GraphQL (JSON strings still encoded).
        entity: The entity the run belongs to.
        project: The project the run belongs to.

    Returns:
        The decoded run dict, keys in ``RUN_COLUMNS`` order, then the dict sections.

    Raises:
        ProtocolError: A JSON string or a timestamp does not parse.

    Examples:
        >>> run = decode_run_node(
        ...     {"name": "a1", "config": '{"lr": {"value": 0.1, "desc": null}}'},
        ...     entity="e", project="p")
        >>> run["id"], run["config"]
        ('a1', {'lr': 0.1})
    """
    out: dict[str, Any] = {}
    _copy(node, out, _PLAIN_FIELDS)
    if "state" in out:
        # keep entity/project in column order: id, name, entity, project, state
        state = out.pop("state")
        out["entity"], out["project"], out["state"] = entity, project, state
    else:
        out["entity"], out["project"] = entity, project
    if "createdAt" in node:
        out["created_at"] = _timestamp_or_none(node["createdAt"])
    if "heartbeatAt" in node:
        out["heartbeat_at"] = _timestamp_or_none(node["heartbeatAt"])
    if "computeSeconds" in node:
        seconds = node["computeSeconds"]
        out["duration"] = None if seconds is None else float(seconds)
    if "tags" in node:
        out["tags"] = list(node["tags"] or ())
    _copy(node, out, _LATE_FIELDS)
    if "sweepName" in node:
        out["sweep"] = node["sweepName"]
    elif "sweep" in node and isinstance(node["sweep"], Mapping):
        out["sweep"] = node["sweep"].get("name")
    if "user" in node:
        user = node["user"]
        out["user"] = user.get("username") if type(user) is dict or isinstance(user, Mapping) else None
    _copy(node, out, _TAIL_FIELDS)
    out.update(decode_sections(node))
    return out


def decode_sections(node: Mapping[str, Any]) -> dict[str, Any]:
    """Decode only a node's JSON sections: ``config`` (+ ``config_internal``), ``summary``, ``system``.

    The same values, in the same order, as the tail of :func:`decode_run_node`.

    Raises:
        ProtocolError: A JSON string does not parse.
    """
    out: dict[str, Any] = {}
    if "config" in node:
        out["config"], out["config_internal"] = _decode_config(node["config"])
    for wire, key in _JSON_FIELDS:
        if wire in node:
            out[key] = _decode_object(node[wire], wire)
    return out


def decode_sections_enveloped(node: Mapping[str, Any]) -> dict[str, Any] | None:
    """:func:`decode_sections` for a flattener that unwraps the config's envelopes itself.

    ``config`` is the parsed config JSON as W&B stores it (``{key: {"value": …, "desc": …}}``)
    without W&B's internal keys, so no unwrapped copy is built; ``summary`` and ``system``
    are as in :func:`decode_sections`; no ``config_internal``. ``None`` when the node's
    config is not a JSON string (then decode with :func:`decode_sections`).

    Raises:
        ProtocolError: A JSON string does not parse.
    """
    out: dict[str, Any] = {}
    if "config" in node:
        raw = node["config"]
        if type(raw) is not str and type(raw) is not memoryview:
            return None
        config = out["config"] = _load_config(raw)
        for key in CONFIG_INTERNAL_KEYS:
            config.pop(key, None)
    for wire, key in _JSON_FIELDS:
        if wire in node:
            out[key] = _decode_object(node[wire], wire)
    return out


def _username(user: Any) -> Any:
    return user.get("username") if type(user) is dict or isinstance(user, Mapping) else None


def decode_run_columns(
    nodes: Sequence[Mapping[str, Any]], *, entity: str, project: str
) -> dict[str, list[Any]] | None:
    """Decode the run fields of a page column by column (the run columns of :func:`decode_run_node`).

    Every node of a GraphQL answer has the same fields, so each run column is one pass over
    the page (``map``/``itemgetter`` in C for the plain ones) instead of a dict per run.

    Returns:
        Run column name → one value per node, exactly the values :func:`decode_run_node`
        gives; ``None`` when the nodes are not all dicts with the same fields or carry a
        ``sweep`` object instead of ``sweepName`` (then decode node by node).

    Raises:
        ProtocolError: A timestamp does not parse.
    """
    if not nodes or type(nodes[0]) is not dict:
        return None
    fields = nodes[0].keys()
    if not all(type(node) is dict and node.keys() == fields for node in nodes):
        return None
    if "sweep" in fields and "sweepName" not in fields:
        return None
    size = len(nodes)

    def column(wire: str) -> list[Any]:
        return list(map(itemgetter(wire), nodes))

    out: dict[str, list[Any]] = {}
    if "name" in fields:
        out["id"] = column("name")
    if "displayName" in fields:
        out["name"] = column("displayName")
    out["entity"], out["project"] = [entity] * size, [project] * size
    if "state" in fields:
        out["state"] = column("state")
    if "createdAt" in fields:
        out["created_at"] = list(map(_timestamp_or_none, column("createdAt")))
    if "heartbeatAt" in fields:
        out["heartbeat_at"] = list(map(_timestamp_or_none, column("heartbeatAt")))
    if "computeSeconds" in fields:
        out["duration"] = [None if v is None else float(v) for v in column("computeSeconds")]
    if "tags" in fields:
        out["tags"] = [list(v or ()) for v in column("tags")]
    for wire, key in _LATE_FIELDS:
        if wire in fields:
            out[key] = column(wire)
    if "sweepName" in fields:
        out["sweep"] = column("sweepName")
    if "user" in fields:
        out["user"] = list(map(_username, column("user")))
    for wire, key in _TAIL_FIELDS:
        if wire in fields:
            out[key] = column(wire)
    return out


def decode_run_nodes(nodes: Sequence[Mapping[str, Any]], *, entity: str, project: str) -> list[dict[str, Any]]:
    """Decode a page of GraphQL ``Run`` nodes (see :func:`decode_run_node`).

    The cyclic garbage collector is paused for the page: decoding allocates hundreds of
    thousands of containers that all stay alive, which makes the collector scan them over
    and over for nothing (~10 % of the decoding time); it is re-enabled afterwards when it
    was enabled before.

    Args:
        nodes: The nodes of one page, in order.
        entity: The entity the runs belong to.
        project: The project the runs belong to.

    Returns:
        One decoded run per node, in order.

    Raises:
        ProtocolError: A JSON string or a timestamp does not parse.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        return [decode_run_node(node, entity=entity, project=project) for node in nodes]
    finally:
        if enabled:
            gc.enable()
