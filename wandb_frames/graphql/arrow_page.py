"""Parse a ``RunsPage`` answer with Arrow's JSON reader, off the GIL (the table listing's reader).

orjson holds the GIL for the whole parse: a page of 1,000 runs (~9 MB, mostly the escaped
JSON strings ``config`` and ``summaryMetrics``) costs the caller's thread ~17 ms, during which
it cannot flatten the previous page. Arrow's reader releases the GIL, so the thread that
reads the answer parses it too, while the caller works. The JSON-string fields then stay in
Arrow's buffer: the caller gets ``memoryview`` slices of it, which orjson parses without a
copy (and without re-encoding the ``str`` that the outer parse would have built).

Exactness first: :func:`parse_runs_page` accepts only an answer that matches the explicit
schema built from the query's own selection (the GraphQL types of each field) and returns
``None`` for anything else, so that the answer is parsed by orjson as before and fails, or
not, exactly as it always did: an ``errors`` key or any field not selected, a field of
another kind, a null ``data``/``project``/``runs``/edge/node, a string that is not UTF-8, a
non-finite number (Arrow reads a bare ``NaN`` that orjson refuses), a repeated key. A selected field that an answer lacks reads as null (a GraphQL server always sends the
fields selected).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pa_json

__all__ = [
    "JSON_STRING_FIELDS",
    "MIN_BYTES",
    "RUN_FIELD_TYPES",
    "ArrowNodes",
    "page_data",
    "page_nodes",
    "parse_runs_page",
    "runs_page_schema",
]

MIN_BYTES = 4 << 20
"""Answers smaller than this are left to orjson. A small answer's orjson parse is short, and
Arrow's reader has fixed costs per answer: at 50 runs per page (0.44 MB answers, 200 pages)
the listing's CPU rose from ~1.6 to 2.2 s; at 1,000 runs (8.7 MB) the caller's thread saves
~17 ms per page. 4 MiB is ~500 runs of the benchmark's ~220 keys."""

_STRING: Final = pa.string()

RUN_FIELD_TYPES: Final[tuple[tuple[str, pa.DataType], ...]] = (
    ("name", _STRING),
    ("displayName", _STRING),
    ("state", _STRING),
    ("createdAt", _STRING),
    ("heartbeatAt", _STRING),
    ("computeSeconds", pa.float64()),
    ("tags", pa.list_(_STRING)),
    ("group", _STRING),
    ("jobType", _STRING),
    ("sweepName", _STRING),
    ("host", _STRING),
    ("notes", _STRING),
    ("commit", _STRING),
    ("user", pa.struct([("username", _STRING)])),
)
"""The ``RunFields`` fragment's fields, in its order, as Arrow types (a test checks the fragment)."""

JSON_STRING_FIELDS: Final[tuple[tuple[str, str], ...]] = (
    ("config", "withConfig"),
    ("summaryMetrics", "withSummary"),
    ("systemMetrics", "withSystem"),
)
"""The ``JSONString`` fields a ``RunsPage`` node may carry, in selection order, with their flag."""

_TEXT_FIELDS: Final = frozenset(name for name, _ in JSON_STRING_FIELDS)


def runs_page_schema(variables: Mapping[str, Any]) -> pa.Schema | None:
    """The explicit Arrow schema of a ``RunsPage`` answer to ``variables``.

    Returns:
        The schema; ``None`` when the answer selects run files (``withMetadata``), which
        this reader does not cover.
    """
    if variables.get("withMetadata"):
        return None
    fields = list(RUN_FIELD_TYPES)
    fields += [(name, _STRING) for name, flag in JSON_STRING_FIELDS if variables.get(flag)]
    page_info = pa.struct([("endCursor", _STRING), ("hasNextPage", pa.bool_())])
    edge = pa.struct([("cursor", _STRING), ("node", pa.struct(fields))])
    runs = pa.struct([("pageInfo", page_info), ("edges", pa.list_(edge))])
    project = [("runCount", pa.int64())] if variables.get("withCount") else []
    project.append(("runs", runs))
    return pa.schema([("data", pa.struct([("project", pa.struct(project))]))])


def _nodes(data: pa.StructArray) -> pa.StructArray | None:
    """The page's nodes, or ``None`` when a level on the way (or an edge or node) is null."""
    project = data.field("project")
    if data.null_count or project.null_count:
        return None
    runs = project.field("runs")
    if runs.null_count:
        return None
    edges = runs.field("edges")
    if edges.null_count:
        return None
    items = edges.flatten()
    if items.null_count:
        return None
    nodes = items.field("node")
    return None if nodes.null_count else nodes


def parse_runs_page(body: bytes, schema: pa.Schema) -> pa.StructArray | None:
    """Parse an answer's body into its ``data`` (one row), releasing the GIL; ``None`` if unsure.

    ``None`` means: parse this body with orjson instead (see the module's notes).
    """
    if not body:
        return None
    try:
        table = pa_json.read_json(
            pa.BufferReader(body),
            read_options=pa_json.ReadOptions(use_threads=False, block_size=len(body) + 1),
            parse_options=pa_json.ParseOptions(explicit_schema=schema, unexpected_field_behavior="error"),
        )
        if table.num_rows != 1:
            return None
        table.validate(full=True)  # every string UTF-8: Arrow's reader does not check, orjson does
        column = table.column("data")
        data = column.chunk(0) if column.num_chunks == 1 else column.combine_chunks()
        nodes = _nodes(data)
        if nodes is None:
            return None
        seconds = nodes.field("computeSeconds")
        if len(seconds) > seconds.null_count and not pc.all(pc.is_finite(seconds)).as_py():
            return None
    except Exception:  # noqa: BLE001  # whatever Arrow refuses, orjson parses (or refuses) as before
        return None
    return data


def _text_views(array: pa.StringArray) -> list[memoryview | None]:
    """Each string as a zero-copy ``memoryview`` of its UTF-8 bytes (nulls stay ``None``)."""
    size = len(array)
    _, offsets_buffer, data_buffer = array.buffers()
    start = array.offset
    offsets = memoryview(offsets_buffer).cast("i")[start : start + size + 1].tolist()
    data = memoryview(data_buffer if data_buffer is not None else b"")
    views: list[memoryview | None] = [data[a:b] for a, b in zip(offsets, offsets[1:])]
    if array.null_count:
        for row, valid in enumerate(array.is_valid().to_pylist()):
            if not valid:
                views[row] = None
    return views


class ArrowNodes(list[dict[str, Any]]):
    """A page's nodes, light, with the Arrow array they were read from (see :func:`page_data`).

    Each dict holds only ``name`` and the JSON strings (``memoryview`` s): a table reads the
    other run fields from :attr:`arrow` (:mod:`~wandb_frames.tabular.arrow_runs`), where row
    ``i`` is node ``i``; :meth:`full` gives the nodes as orjson would.
    """

    __slots__ = ("arrow",)

    def __init__(self, nodes: list[dict[str, Any]], arrow: pa.StructArray) -> None:
        super().__init__(nodes)
        self.arrow = arrow

    def take(self, rows: list[int]) -> ArrowNodes:
        """The nodes at ``rows``, in that order (with their Arrow rows)."""
        return ArrowNodes([self[row] for row in rows], self.arrow.take(pa.array(rows, pa.int64())))

    def full(self) -> list[dict[str, Any]]:
        """Every node with every selected field (``computeSeconds`` a float, JSON strings ``str``)."""
        return list(self.arrow.to_pylist())


def page_nodes(data: pa.StructArray) -> pa.StructArray:
    """The nodes of what :func:`parse_runs_page` returned, one per edge."""
    return data.field("project").field("runs").field("edges").flatten().field("node")


def page_data(data: pa.StructArray, *, light: bool = False) -> dict[str, Any]:
    """The answer's ``data`` as orjson would give it, but with the JSON strings as memoryviews.

    Args:
        data: What :func:`parse_runs_page` returned (not ``None``).
        light: Nodes with only ``name`` and the JSON strings (for :class:`ArrowNodes`).

    Returns:
        ``{"project": {["runCount": n,] "runs": {"pageInfo": {...}, "edges": [...]}}}``: the
        same keys, in the same order, and the same values, except that each node's
        ``config``/``summaryMetrics``/``systemMetrics`` is a ``memoryview`` of the text's
        UTF-8 bytes instead of a ``str``.
    """
    project_array = data.field("project")
    runs = project_array.field("runs")
    items = runs.field("edges").flatten()
    nodes = items.field("node")
    names = [field.name for field in nodes.type if not light or field.name == "name" or field.name in _TEXT_FIELDS]
    columns = [
        _text_views(nodes.field(name)) if name in _TEXT_FIELDS else nodes.field(name).to_pylist()
        for name in names
    ]
    node_dicts = [dict(zip(names, row)) for row in zip(*columns)]  # names: never empty ("name")
    edges = [
        {"cursor": cursor, "node": node}
        for cursor, node in zip(items.field("cursor").to_pylist(), node_dicts)
    ]
    project: dict[str, Any] = {}
    if project_array.type.get_field_index("runCount") >= 0:
        project["runCount"] = project_array.field("runCount")[0].as_py()
    project["runs"] = {"pageInfo": runs.field("pageInfo")[0].as_py(), "edges": edges}
    return {"project": project}
