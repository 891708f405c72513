"""Bulk decoding of ``history`` and ``summary`` records: one protobuf parse for many records.

The per-record path (:meth:`RunFold.add`) makes one protobuf object per record and per item
and runs Python per item; a run of 1,000 steps has ~16,000 items. Here a *segment* of
consecutive history/summary records is decoded in two C-level parses with **view**
messages (built at run time from ``descriptor_pb2``; same field numbers as W&B's, every
field ``repeated``):

1. the records' bodies, joined with an empty item ``0a 00`` after each record, are parsed as
   ``Bodies`` (``repeated bytes item = 1``): every item's bytes in file order, ``b""``
   marking the end of each record;
2. the items, joined with an empty ``key``/``nested_key``/``value_json`` after each item,
   are parsed as ``Items``: flat lists of keys, nested-key parts and JSON values where every
   item's own fields are followed by one ``""`` of each.

The ``""`` markers make the flat lists checkable: each item must have exactly one non-empty
``value_json``; its name is its one ``nested_key`` part (checked as for the values), or its
``key``, or — located with numpy at the markers — its several nested-key parts; a history
item must carry no typed value (``number``, ``text``…). Anything else — a typed value, a
``remove``, an empty item, key or key part, an ``_info`` field, bytes the views cannot
parse, a history row without ``_step`` (its record's step would be needed) — makes
:func:`fold_segment` decline and the caller replays the segment record by record, so
results are identical to the per-record path by construction (``tests/offline/test_bulk.py``
checks it on generated files). Values are JSON-decoded in one
``orjson`` call per segment; when that fails (W&B's ``NaN``/``Infinity``), record by record
with the per-record path's own ``_loads_many`` (see :meth:`ItemBatch.decoded`).
"""

from __future__ import annotations

import functools
import importlib
from bisect import bisect_right
from dataclasses import dataclass, field
from itertools import accumulate, compress
from typing import Any

import numpy as np
import orjson

from wandb_frames.offline.records import RunFold, _loads_many, _set_path

__all__ = ["ItemBatch", "decode_items", "fold_segment"]

_RECORD_END = b"\x0a\x00"  # Bodies: an empty item after each record
_ITEM_END = b"\x0a\x00\x12\x00\x82\x01\x00"  # Items: empty key, nested_key, value_json after each item
_TYPED_VALUES = ("none", "boolean", "integer", "number", "text", "json")


@functools.cache
def _views() -> tuple[Any, Any, Any]:
    """The ``HistoryBodies``, ``SummaryBodies`` and ``Items`` view classes (built once per process)."""
    descriptor_pb2 = importlib.import_module("google.protobuf.descriptor_pb2")
    descriptor_pool = importlib.import_module("google.protobuf.descriptor_pool")
    message_factory = importlib.import_module("google.protobuf.message_factory")
    fdp = descriptor_pb2.FileDescriptorProto(
        name="wandb_frames_offline_views.proto", package="wandb_frames_offline_views", syntax="proto3"
    )
    t = descriptor_pb2.FieldDescriptorProto
    step = fdp.message_type.add(name="Step")  # HistoryStep: validated like the real parse does
    step.field.add(name="num", number=1, type=t.TYPE_INT64, label=t.LABEL_REPEATED)
    layouts = {
        # HistoryRecord (item, step, _info) / SummaryRecord (update, remove, _info)
        "HistoryBodies": [("item", 1, t.TYPE_BYTES), ("step", 2, t.TYPE_MESSAGE), ("info", 200, t.TYPE_BYTES)],
        "SummaryBodies": [("item", 1, t.TYPE_BYTES), ("remove", 2, t.TYPE_BYTES), ("info", 200, t.TYPE_BYTES)],
        # HistoryItem / SummaryItem (a summary item has no typed values; they would be unknown)
        "Items": [("key", 1, t.TYPE_STRING), ("nested_key", 2, t.TYPE_STRING), ("none", 3, t.TYPE_INT32),
                  ("boolean", 4, t.TYPE_BOOL), ("integer", 5, t.TYPE_SINT64), ("number", 6, t.TYPE_DOUBLE),
                  ("text", 7, t.TYPE_STRING), ("json", 8, t.TYPE_STRING), ("value_json", 16, t.TYPE_STRING)],
    }
    for name, fields in layouts.items():
        message = fdp.message_type.add(name=name)
        for field_name, number, kind in fields:
            field = message.field.add(name=field_name, number=number, type=kind, label=t.LABEL_REPEATED)
            if kind == t.TYPE_MESSAGE:
                field.type_name = ".wandb_frames_offline_views.Step"
    pool = descriptor_pool.DescriptorPool()
    pool.Add(fdp)

    def cls(name: str) -> Any:
        return message_factory.GetMessageClass(pool.FindMessageTypeByName(f"wandb_frames_offline_views.{name}"))

    return cls("HistoryBodies"), cls("SummaryBodies"), cls("Items")


def _decode_error() -> type[Exception]:
    error: type[Exception] = importlib.import_module("google.protobuf.message").DecodeError
    return error


@dataclass
class ItemBatch:
    """The items of a segment's records of one kind, flat and in file order.

    Attributes:
        counts: number of items of each record.
        names: every item's name: its one ``nested_key`` part or its ``key``, or the parts
            of a longer path joined with ``.`` (the history row's column).
        multi: the paths of several parts, by item index (most batches have none).
        texts: every item's ``value_json`` (None for a summary batch of one-part names,
            whose values are read through :meth:`value_at`).
        values: the decoded JSON values (see :meth:`decoded`).
        pattern: see :meth:`regular`.
        item_bytes: every item's serialized bytes.
    """

    counts: list[int]
    names: list[str]
    multi: dict[int, tuple[str, ...]]
    texts: list[str] | None
    values: list[Any] | None = None
    pattern: list[str] | None = None
    item_bytes: list[bytes] | None = None
    ends: list[int] | None = None
    record_values: dict[int, list[Any]] = field(default_factory=dict)
    flat: Any = None  # the parsed Items view, for texts listed later

    def load_texts(self) -> bool:
        """List every item's value text if not done yet (False: not one per item)."""
        if self.texts is None:
            self.texts = _one_each(list(self.flat.value_json), len(self.names)) if self.flat is not None else None
        return self.texts is not None

    def value_at(self, index: int) -> Any:
        """One item's value, decoded with its record's other values as record by record.

        Summary values are only read for each key's last write; without their texts (see
        :func:`decode_items`), the item's record is parsed with W&B's own ``SummaryItem``.
        """
        if self.texts is not None:
            return self.decoded()[index]
        if self.ends is None:
            self.ends = list(accumulate(self.counts))
        record = bisect_right(self.ends, index)
        start = self.ends[record] - self.counts[record]
        if record not in self.record_values:
            item_class = importlib.import_module("wandb.proto.wandb_internal_pb2").SummaryItem
            items = [item_class.FromString(b) for b in (self.item_bytes or [])[start:self.ends[record]]]
            self.record_values[record] = _loads_many([item.value_json for item in items])
        return self.record_values[record][index - start]

    def decoded(self) -> list[Any]:
        """Every item's JSON value (decoded on first use), exactly as record by record.

        The per-record path decodes each record's texts in one ``orjson`` call and, when
        that fails, each text with the lenient stdlib decoder — whose results can differ
        (an integer beyond 64 bits). A batch that ``orjson`` reads whole gives every
        record's values alike; otherwise each record is decoded on its own, as before.
        """
        if self.values is None:
            texts = self.texts
            assert texts is not None, "a history batch always has its texts"
            try:
                values: list[Any] = orjson.loads("[" + ",".join(texts) + "]")
            except orjson.JSONDecodeError:
                values = []
            if len(values) != len(texts):
                values = []
                start = 0
                for count in self.counts:
                    values += _loads_many(texts[start:start + count])
                    start += count
            self.values = values
        return self.values

    def regular(self) -> list[str] | None:
        """The names of every record when all records have the same names in the same order."""
        names, counts = self.names, self.counts
        if self.pattern is None and counts and counts[0]:
            k = counts[0]
            if counts.count(k) == len(counts) and names[:k] * len(counts) == names:
                self.pattern = names[:k]
        return self.pattern


def _one_each(values: list[str], n: int) -> list[str] | None:
    """The ``x`` of ``values`` = ``[x1, "", x2, "", …]`` with ``n`` non-empty ``x`` (one field
    per item), else None.

    ``n`` empty strings among ``2n`` values, none at an even position, puts one at every odd
    position: one count and one scan of the ``x`` instead of a check of each half.
    """
    if len(values) != 2 * n:
        return None
    firsts = values[0::2]
    return firsts if values.count("") == n and all(firsts) else None


def _counts(items: list[bytes], records: int) -> list[int] | None:
    """Items per record from the ``b""`` record ends (None: an item was itself empty)."""
    if items.count(b"") != records:
        return None
    counts: list[int] = []
    start = 0
    index = items.index
    for _ in range(records):
        end = index(b"", start)
        counts.append(end - start)
        start = end + 1
    return counts


def decode_items(bodies: list[bytes], *, history: bool) -> ItemBatch | None:
    """Decode the items of many ``HistoryRecord``/``SummaryRecord`` bodies at once.

    Args:
        bodies: the records' serialized bodies (the bytes inside ``Record.history`` or
            ``Record.summary``), in file order.
        history: the bodies are history records (else summary records).

    Returns:
        The items, or None when any record needs the per-record path (see the module doc).
    """
    history_view, summary_view, items_view = _views()
    error = _decode_error()
    try:
        outer = (history_view if history else summary_view).FromString(_RECORD_END.join(bodies) + _RECORD_END)
        if len(outer.info) or (not history and len(outer.remove)):
            return None
        items = list(outer.item)
        counts = _counts(items, len(bodies))
        if counts is None:
            return None
        if len(items) == len(bodies):
            return ItemBatch(counts, [], {}, [], [])
        item_bytes = list(filter(None, items))  # without the record ends
        n = len(item_bytes)
        flat = items_view.FromString(_ITEM_END.join(item_bytes) + _ITEM_END)
    except error:
        return None
    if any(len(getattr(flat, name)) for name in _TYPED_VALUES):
        return None
    texts: list[str] | None = None
    if history:  # every value makes a row; a summary's values are read for the last writes (load_texts)
        texts = _one_each(list(flat.value_json), n)
        if texts is None:
            return None
    # every item adds one "" to each list: a list of n entries means no item has that field
    nested = list(flat.nested_key)
    names = _one_each(nested, n) if len(flat.key) == n else None
    if names is not None:
        return ItemBatch(counts, names, {}, texts, item_bytes=item_bytes, flat=flat)
    keys = list(flat.key)
    names = _one_each(keys, n) if len(nested) == n else None
    if names is not None:
        return ItemBatch(counts, names, {}, texts, item_bytes=item_bytes, flat=flat)
    grouped = _group(nested, keys, n)
    if grouped is None:
        return None
    names, multi = grouped
    return ItemBatch(counts, names, multi, texts, item_bytes=item_bytes, flat=flat)


def _group(nested: list[str], keys: list[str], n: int) -> tuple[list[str], dict[int, tuple[str, ...]]] | None:
    """Each item's name from the flat ``nested_key`` and ``key`` lists (each item's own
    entries, then one ``""``), as the per-record path reads it: the nested-key parts when
    there are any (joined with ``.``; kept as a path in ``multi`` when several), else the
    last ``key``, else ``""``. None when an entry is itself empty (ambiguous)."""
    if nested.count("") != n or keys.count("") != n:
        return None
    parts = np.array(nested, dtype=object)
    key_parts = np.array(keys, dtype=object)
    ends = np.flatnonzero(parts == "")  # the "" after each item
    key_ends = np.flatnonzero(key_parts == "")
    sizes = np.diff(ends, prepend=-1) - 1
    key_sizes = np.diff(key_ends, prepend=-1) - 1
    names = np.full(n, "", dtype=object)
    one = sizes == 1
    names[one] = parts[ends[one] - 1]
    by_key = (sizes == 0) & (key_sizes > 0)
    names[by_key] = key_parts[key_ends[by_key] - 1]
    multi: dict[int, tuple[str, ...]] = {}
    for i in np.flatnonzero(sizes > 1).tolist():
        end = int(ends[i])
        path = tuple(nested[end - int(sizes[i]):end])
        multi[i] = path
        names[i] = ".".join(path)
    return names.tolist(), multi


def _rows(batch: ItemBatch) -> list[dict[str, Any]]:
    """One dict per history record (nested paths joined with ``.``; the last value of a key wins)."""
    names = batch.names
    values = batch.decoded()
    counts = batch.counts
    pattern = batch.regular()
    if pattern is not None:
        # every record has the same keys in the same order: rows straight from the flat values
        k = len(pattern)
        return list(map(dict, map(zip, [pattern] * len(counts), zip(*[iter(values)] * k, strict=True))))
    rows: list[dict[str, Any]] = []
    start = 0
    for count in counts:
        end = start + count
        rows.append(dict(zip(names[start:end], values[start:end], strict=True)))
        start = end
    return rows


def _update_summary(summary: dict[str, Any], batch: ItemBatch, start: int, end: int) -> None:
    if not batch.multi:
        summary.update(zip(batch.names[start:end], batch.decoded()[start:end], strict=True))
        return
    values, multi = batch.decoded(), batch.multi
    for i in range(start, end):
        path = multi.get(i)
        if path is None:
            summary[batch.names[i]] = values[i]
        else:
            _set_path(summary, path, values[i])


def _summary_in_order(summary: dict[str, Any], is_history: list[bool], batches: tuple[ItemBatch, ItemBatch]) -> None:
    """Apply both batches' items to ``summary`` as if one by one in file order."""
    cursor = [0, 0]
    ordinal = [0, 0]
    for record_is_history in is_history:
        which = 0 if record_is_history else 1
        batch = batches[which]
        end = cursor[which] + batch.counts[ordinal[which]]
        _update_summary(summary, batch, cursor[which], end)
        cursor[which], ordinal[which] = end, ordinal[which] + 1


def _writes(batch: ItemBatch, positions: list[int]) -> tuple[dict[str, tuple[int, int]], dict[str, tuple[int, int]]]:
    """Per key, ``(record position, item index)`` of its first and of its last write."""
    pattern = batch.regular()
    if pattern is not None:
        k, last_record = len(pattern), len(positions) - 1
        first_at = dict(zip(reversed(pattern), range(k - 1, -1, -1), strict=True))
        last_at = dict(zip(pattern, range(k), strict=True))
        return ({key: (positions[0], j) for key, j in first_at.items()},
                {key: (positions[-1], last_record * k + j) for key, j in last_at.items()})
    names = batch.names or []
    records = np.repeat(np.asarray(positions, dtype=np.int64), batch.counts).tolist()
    first_index = dict(zip(reversed(names), range(len(names) - 1, -1, -1), strict=True))
    last_index = dict(zip(names, range(len(names)), strict=True))
    return ({key: (records[i], i) for key, i in first_index.items()},
            {key: (records[i], i) for key, i in last_index.items()})


def _summary_by_last_write(summary: dict[str, Any], is_history: list[bool],
                           batches: tuple[ItemBatch, ItemBatch]) -> None:
    """The same result as :func:`_summary_in_order` when no one-part name is also the first
    part of a longer path, without Python per one-part item: per key, the last write wins;
    new keys enter in first-write order; longer paths are then applied one by one (their
    top-level key entering, as an empty dict, at its first write)."""
    first: dict[str, tuple[int, int]] = {}
    latest: dict[str, tuple[int, int, int]] = {}  # key -> (record position, item, batch)
    tops: dict[str, str] = {}  # joined name of a longer path -> its first part
    nested_writes: list[tuple[int, int, int, tuple[str, ...]]] = []
    selectors = (is_history, [not h for h in is_history])
    for which, batch in enumerate(batches):
        if not batch.names:
            continue
        positions = list(compress(range(len(is_history)), selectors[which]))
        first_writes, last_writes = _writes(batch, positions)
        for key, at in first_writes.items():
            if key not in first or first[key] > at:
                first[key] = at
        for key, (record, item) in last_writes.items():
            if key not in latest or latest[key][0] < record:
                latest[key] = (record, item, which)
        if batch.multi:
            records = np.repeat(np.asarray(positions, dtype=np.int64), batch.counts)
            for i, path in batch.multi.items():
                tops[batch.names[i]] = path[0]
                nested_writes.append((int(records[i]), i, which, path))
    for key in sorted(first, key=first.__getitem__):
        top = tops.get(key)
        if top is None:
            _record, item, which = latest[key]
            summary[key] = batches[which].value_at(item)
        elif top not in summary:
            summary[top] = {}  # what the first _set_path under ``top`` makes
    for _record, i, which, path in sorted(nested_writes):
        _set_path(summary, path, batches[which].decoded()[i])


def _one_part_names(batch: ItemBatch) -> set[str]:
    if not batch.multi:
        return set(batch.names)
    keep = np.ones(len(batch.names), dtype=bool)
    keep[list(batch.multi)] = False
    return set(np.asarray(batch.names, dtype=object)[keep].tolist())


def _summary_writes_commute(batches: tuple[ItemBatch, ItemBatch]) -> bool:
    """Whether :func:`_summary_by_last_write` applies: no one-part name is also the first
    part (or the joined name) of a longer path, and the longer paths' values can be read."""
    if not (batches[0].multi or batches[1].multi):
        return True
    singles = _one_part_names(batches[0]) | _one_part_names(batches[1])
    for batch in batches:
        for i, path in batch.multi.items():
            if path[0] in singles or batch.names[i] in singles:
                return False
    return all(b.load_texts() for b in batches if b.multi)


def fold_segment(fold: RunFold, is_history: list[bool], bodies: list[bytes]) -> bool:
    """Apply consecutive history/summary records to ``fold`` as :meth:`RunFold.add` would.

    Args:
        fold: the run being read.
        is_history: per record, history (True) or summary (False).
        bodies: per record, the serialized ``HistoryRecord``/``SummaryRecord``.

    Returns:
        False (and ``fold`` untouched) when the records need the per-record path.
    """
    history_bodies = [b for b, h in zip(bodies, is_history, strict=True) if h]
    summary_bodies = [b for b, h in zip(bodies, is_history, strict=True) if not h]
    history = decode_items(history_bodies, history=True) if history_bodies else ItemBatch([], [], {}, [], [])
    if history is None:
        return False
    summary_batch = decode_items(summary_bodies, history=False) if summary_bodies else ItemBatch([], [], {}, [], [])
    if summary_batch is None:
        return False
    rows = _rows(history)
    if not all(["_step" in row for row in rows]):  # the record's step would be needed
        return False
    batches = (history, summary_batch)
    by_last_write = _summary_writes_commute(batches)
    if not by_last_write and not summary_batch.load_texts():
        return False
    # commit, in file order
    if by_last_write:
        _summary_by_last_write(fold.summary, is_history, batches)
    else:
        _summary_in_order(fold.summary, is_history, batches)
    for row in rows:
        ts = row.get("_timestamp")
        if isinstance(ts, int | float) and not isinstance(ts, bool):
            fold._see(float(ts))
    fold.history.extend(rows)
    fold.count += len(bodies)
    return True
