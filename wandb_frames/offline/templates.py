"""Columnar decoding of history/summary segments: numpy over the records' bytes, no object per item.

A run's history records almost always repeat one byte layout: the same items, each with the
same key, in the same order — only the JSON texts of the values (and the step number)
change. Such a record matches a *template*: per item, the bytes before its value
(``0a L`` + its ``key``/``nested_key`` fields, one-byte lengths) followed by ``82 01 VL``
and the value; then, for a history record, nothing, ``12 00`` or ``12 n 08 <varint>``
(its ``HistoryStep``); a summary record has nothing after its items. Templates are read
from one record in Python; every record of the segment is then checked against them with
numpy, all records at once (:func:`_match`): a record matches only if every byte outside its
values is the template's and its lengths add up, so it parses exactly as W&B's ``Record``
would parse it.

A segment (consecutive records that hold only a ``history`` or a ``summary``, see
:mod:`~wandb_frames.offline.segments`) is decoded here when its history records match one
template that has ``_step``, without repeated names, and its summary records at most four;
every value is a JSON number written with ``0-9 + - . e E`` only, and one ``orjson`` call
reads them all (a text that is not one number fails that call, so the count cannot shift).
The rows become one :class:`~wandb_frames.offline.columns.ColumnBlock` (int64/float64
arrays). For the summary only the first and the last record of each template matter: with
no written path a strict prefix of another, the summary after all the writes is the one
after those records' writes (a key enters at its first write, keeps its place, and holds its
last write), so only they are applied, the summary records with the per-record path's own
code. Anything else — NaN/Infinity/strings/objects, typed values, removes, an item or field
the template does not describe, lengths over 127 — declines, and the caller decodes the
segment as before (:func:`wandb_frames.offline.bulk.fold_segment`, else record by record),
so results do not change (``tests/offline/test_templates.py`` checks it on generated files).
"""

from __future__ import annotations

import functools
import importlib
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import orjson

from wandb_frames.offline.columns import Column, ColumnBlock
from wandb_frames.offline.records import _MAX_SECONDS, _MIN_SECONDS, RunFold, _set_path

__all__ = ["PAD", "classify", "fold_columns"]

U8 = npt.NDArray[np.uint8]
I64 = npt.NDArray[np.int64]
B = npt.NDArray[np.bool_]

#: Zero bytes after the joined records, so that reads past a record's end stay in the buffer.
PAD = 512
_MAX_SUMMARY_TEMPLATES = 4
_NUMBER_BYTES = np.zeros(256, dtype=bool)
_NUMBER_BYTES[np.frombuffer(b"0123456789+-.eE", dtype=np.uint8)] = True
_FLOAT_BYTES = np.zeros(256, dtype=bool)
_FLOAT_BYTES[np.frombuffer(b".eE", dtype=np.uint8)] = True


def _varint_skip(buf: U8, pos: I64, active: B, max_bytes: int) -> tuple[I64, I64, B]:
    """Read a varint at ``pos`` where ``active``: ``(position after it, its value, too long)``."""
    value = np.zeros(len(pos), dtype=np.int64)
    pos = pos.copy()
    for k in range(max_bytes):
        byte = buf[pos].astype(np.int64)
        value |= np.where(active, (byte & 0x7F) << (7 * k), 0)
        pos += active
        active = active & (byte >= 0x80)
    return pos, value, active


def classify(buf: U8, starts: I64, ends: I64) -> tuple[npt.NDArray[np.int8], I64]:
    """Per record: ``1`` history, ``2`` summary, ``0`` anything else, and where its body starts.

    A record is history (summary) when its bytes are an optional ``num`` varint field
    (``08``, at most 9 bytes) then one ``history`` (``12``) or ``summary`` (``1a``) field whose
    length reaches exactly the record's end — what ``split_history_summary`` accepts.
    """
    nonempty = ends > starts
    has_num = nonempty & (buf[starts] == 0x08)
    pos, _num, num_long = _varint_skip(buf, starts + has_num, has_num, 9)
    tag = buf[pos]
    pos = pos + 1
    body, length, len_long = _varint_skip(buf, pos, np.ones(len(pos), dtype=bool), 5)
    ok = nonempty & ~num_long & ~len_long & (body <= ends) & (body + length == ends)
    kinds = np.where(ok & (tag == 0x12), 1, np.where(ok & (tag == 0x1A), 2, 0)).astype(np.int8)
    return kinds, body


@dataclass(frozen=True)
class _Template:
    prefixes: tuple[bytes, ...]  # per item: its bytes between ``0a L`` and ``82 01``
    paths: tuple[tuple[str, ...], ...]


def _template(body: bytes, history: bool) -> _Template | None:
    """The template of one record body, read in Python (None: a form this module does not take)."""
    prefixes: list[bytes] = []
    paths: list[tuple[str, ...]] = []
    pos, size = 0, len(body)
    try:
        while pos < size and body[pos] == 0x0A:
            length = body[pos + 1]
            item = body[pos + 2: pos + 2 + length]
            if length >= 0x80 or len(item) != length:
                return None
            key, nested, q = "", [], 0
            while q < length and item[q] in (0x0A, 0x12):
                field_length = item[q + 1]
                if field_length >= 0x80 or field_length == 0 or q + 2 + field_length > length:
                    return None
                text = item[q + 2: q + 2 + field_length].decode("utf-8")
                if item[q] == 0x0A:
                    key = text
                else:
                    nested.append(text)
                q += 2 + field_length
            if item[q: q + 2] != b"\x82\x01" or item[q + 2] >= 0x80 or q + 3 + item[q + 2] != length:
                return None
            path = tuple(nested) if nested else (key,)
            if not path[0]:
                return None
            prefixes.append(item[:q])
            paths.append(path)
            pos += 2 + length
    except (IndexError, UnicodeDecodeError):
        return None
    if not prefixes or (not history and pos != size):
        return None
    return _Template(tuple(prefixes), tuple(paths))


def _match(buf: U8, starts: I64, ends: I64, template: _Template, history: bool) -> tuple[B, I64, I64]:
    """Which records match ``template`` (all at once), and their values' starts and lengths (records × items)."""
    m, k = len(starts), len(template.prefixes)
    ok = np.ones(m, dtype=bool)
    value_starts = np.empty((m, k), dtype=np.int64)
    value_lengths = np.empty((m, k), dtype=np.int64)
    pos = starts.copy()
    for j, prefix in enumerate(template.prefixes):
        p = len(prefix)
        ok &= buf[pos] == 0x0A
        length = buf[pos + 1].astype(np.int64)
        if p:
            ok &= (buf[(pos + 2)[:, None] + np.arange(p)] == np.frombuffer(prefix, dtype=np.uint8)).all(axis=1)
        q = pos + 2 + p
        value_length = buf[q + 2].astype(np.int64)
        ok &= (buf[q] == 0x82) & (buf[q + 1] == 0x01) & (value_length < 0x80) & (length == p + 3 + value_length)
        value_starts[:, j] = q + 3
        value_lengths[:, j] = value_length
        pos = pos + 2 + length
        ok &= pos <= ends
        pos = np.minimum(pos, ends)
    rest = ends - pos
    if not history:
        return ok & (rest == 0), value_starts, value_lengths
    # nothing, an empty HistoryStep (12 00), or 12 n 08 <varint of n - 1 bytes>
    step = (rest >= 2) & (rest <= 12) & (buf[pos] == 0x12) & (buf[pos + 1].astype(np.int64) == rest - 2)
    with_num = step & (rest >= 4) & (buf[pos + 2] == 0x08)
    for k_ in range(3, 12):
        byte = buf[pos + k_]
        with_num &= (k_ >= rest - 1) | (byte >= 0x80)
        with_num &= (k_ != rest - 1) | (byte < 0x80)
    return ok & ((rest == 0) | (step & (rest == 2)) | with_num), value_starts, value_lengths


def _templates(buf: U8, starts: I64, ends: I64, history: bool,
               limit: int) -> list[tuple[_Template, I64, I64, I64]] | None:
    """Match every record to one of at most ``limit`` templates:
    ``[(template, record indices, value starts, value lengths)]``, or None."""
    remaining = np.arange(len(starts))
    found: list[tuple[_Template, I64, I64, I64]] = []
    while len(remaining):
        if len(found) == limit:
            return None
        first = int(remaining[0])
        template = _template(buf[starts[first]:ends[first]].tobytes(), history)
        if template is None:
            return None
        ok, value_starts, value_lengths = _match(buf, starts[remaining], ends[remaining], template, history)
        if not ok[0]:
            return None
        found.append((template, remaining[ok], value_starts[ok], value_lengths[ok]))
        remaining = remaining[~ok]
    return found


def _numbers(buf: U8, value_starts: I64, value_lengths: I64) -> list[Column] | None:
    """Decode the values, one column per item (``value_starts``: records × items), or None
    when a value is not a JSON number written with ``0-9 + - . e E``."""
    m, k = value_starts.shape
    starts = value_starts.T.ravel()
    lengths = value_lengths.T.ravel()
    n = len(lengths)
    if n == 0 or not lengths.all():
        return None
    total = int(lengths.sum())
    offsets = np.cumsum(lengths) - lengths
    text = buf[np.repeat(starts - offsets, lengths) + np.arange(total)]
    if not _NUMBER_BYTES[text].all():
        return None
    joined = np.full(total + n + 1, ord(","), dtype=np.uint8)
    joined[0], joined[-1] = ord("["), ord("]")
    joined[np.arange(1, total + 1) + np.repeat(np.arange(n), lengths)] = text
    try:
        values: list[Any] = orjson.loads(joined.tobytes())
    except orjson.JSONDecodeError:
        return None
    if len(values) != n:
        return None
    floats = np.logical_or.reduceat(_FLOAT_BYTES[text], offsets).reshape(k, m).sum(axis=1)
    columns: list[Column] = []
    for j in range(k):
        column = values[j * m:(j + 1) * m]
        if floats[j] == m:
            columns.append(np.array(column, dtype=np.float64))
            continue
        if floats[j] == 0:
            try:
                columns.append(np.array(column, dtype=np.int64))
                continue
            except OverflowError:  # an integer past int64 (orjson reads up to uint64)
                pass
        columns.append(column)
    return columns


def _prefix_free(paths: set[tuple[str, ...]]) -> bool:
    """No path is a strict prefix of another (then writes commute but for first-write order)."""
    return not any(path[:i] in paths for path in paths for i in range(1, len(path)))


@functools.cache
def _summary_record() -> Any:
    return importlib.import_module("wandb.proto.wandb_internal_pb2").SummaryRecord


def _value(column: Column, row: int) -> Any:
    return column[row].item() if isinstance(column, np.ndarray) else column[row]


def fold_columns(fold: RunFold, buf: U8, starts: I64, ends: I64, kinds: npt.NDArray[np.int8]) -> bool:
    """Apply a segment's records (bodies ``buf[starts:ends]``, ``kinds`` 1 history / 2 summary)
    to ``fold`` as :meth:`RunFold.add` would, history as one column block.

    Returns:
        False (``fold`` untouched) when the segment is not in the form this module decodes.
    """
    history = np.flatnonzero(kinds == 1)
    summary = np.flatnonzero(kinds == 2)
    if not len(history):
        return False
    found = _templates(buf, starts[history], ends[history], True, 1)
    if found is None:
        return False
    template, _rows, value_starts, value_lengths = found[0]
    names = tuple(".".join(path) for path in template.paths)
    if len(set(names)) != len(names) or "_step" not in names:
        return False
    summaries = _templates(buf, starts[summary], ends[summary], False, _MAX_SUMMARY_TEMPLATES) if len(summary) else []
    if summaries is None:
        return False
    if not _prefix_free({*template.paths, *(p for t, *_ in summaries for p in t.paths)}):
        return False
    columns = _numbers(buf, value_starts, value_lengths)
    if columns is None:
        return False
    # commit: the summary from the first and last record of each template, in file order
    at: dict[int, int] = {int(history[0]): 0, int(history[-1]): len(history) - 1}  # position -> history row
    for _template_, records, _s, _l in summaries:
        at.setdefault(int(summary[records[0]]), -1)
        at.setdefault(int(summary[records[-1]]), -1)
    parse = _summary_record().FromString
    for position in sorted(at):
        row = at[position]
        if row < 0:
            fold._on_summary(parse(buf[starts[position]:ends[position]].tobytes()))
        else:
            for path, column in zip(template.paths, columns, strict=True):
                _set_path(fold.summary, path, _value(column, row))
    stamps = columns[names.index("_timestamp")] if "_timestamp" in names else None
    if isinstance(stamps, np.ndarray):
        seconds = stamps.astype(np.float64)
        seconds = seconds[(seconds > _MIN_SECONDS) & (seconds < _MAX_SECONDS)]
        if len(seconds):
            fold._see(float(seconds.max()))
    elif stamps is not None:
        for stamp in stamps:
            fold._see(float(stamp))
    fold.history.add_block(ColumnBlock(names, tuple(columns), len(history)))
    fold.count += len(kinds)
    return True
