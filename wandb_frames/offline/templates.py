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
every history value is a JSON number written with ``0-9 + - . e E`` only, and one
``orjson`` call reads them all (a text that is not one number fails that call or changes
the count). The rows become one :class:`~wandb_frames.offline.columns.ColumnBlock`
(int64/float64 arrays). For the summary only the first and the last record of each template
matter: with no written path a strict prefix of another, the summary after all the writes is
the one after those records' writes (a key enters at its first write, keeps its place, and
holds its last write), so only they are applied — history rows from the columns, summary
records' texts with the per-record path's ``_loads_many``; every summary value must still be
UTF-8, as W&B's parser requires (:func:`_valid_utf8`). Anything else — NaN/Infinity/strings/objects, typed values, removes, an item or field
the template does not describe, lengths over 127 — declines, and the caller decodes the
segment as before (:func:`wandb_frames.offline.bulk.fold_segment`, else record by record),
so results do not change (``tests/offline/test_templates.py`` checks it on generated files).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import orjson

from wandb_frames.offline.columns import Column, ColumnBlock
from wandb_frames.offline.framing import CHUNK_HEADER_SIZE, Spans
from wandb_frames.offline.records import _MAX_SECONDS, _MIN_SECONDS, RunFold, _loads_many, _set_path

__all__ = ["PAD", "classify", "fold_columns", "record_buffer"]

U8 = npt.NDArray[np.uint8]
I64 = npt.NDArray[np.int64]
B = npt.NDArray[np.bool_]

#: Bytes after the records in :func:`record_buffer`.
PAD = 512
_PAD_BYTES = b"," + bytes(PAD - 1)
_MAX_SUMMARY_TEMPLATES = 4


def record_buffer(spans: Spans, data: bytes) -> tuple[U8, I64, I64]:
    """The buffer the functions here read, and where each record's payload is in it.

    The file's bytes, then the records that are not one chunk's data (see
    :class:`~wandb_frames.offline.framing.Spans`), then :data:`PAD` bytes (``,`` then
    zeros, so that reads past a record's end stay in the buffer).
    """
    offsets = np.array(spans.offsets, dtype=np.int64)
    raw = np.frombuffer(data, dtype=np.uint8)
    lengths = raw[offsets + 4].astype(np.int64) | (raw[offsets + 5].astype(np.int64) << 8)
    starts = offsets + CHUNK_HEADER_SIZE
    extra: list[bytes] = []
    at = len(data)
    for index, payload in spans.joined.items():
        starts[index], lengths[index] = at, len(payload)
        extra.append(payload)
        at += len(payload)
    buf = np.frombuffer(b"".join([data, *extra, _PAD_BYTES]), dtype=np.uint8)
    return buf, starts, starts + lengths


def _varint_skip(buf: U8, pos: I64, active: B, max_bytes: int) -> tuple[I64, I64, B]:
    """Read a varint at ``pos`` where ``active``: ``(position after it, its value, too long)``."""
    value = np.zeros(len(pos), dtype=np.int64)
    pos = pos.copy()
    for k in range(max_bytes):
        if not active.any():
            break
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


@functools.lru_cache(maxsize=64)
def _words(template: _Template) -> tuple[I64, I64, npt.NDArray[np.uint64], npt.NDArray[np.uint64]]:
    """Per 8-byte word of the items' fixed bytes: its item, its offset in the item, the
    expected value and the mask (the ``L`` and ``VL`` bytes and the bytes past the fixed
    ones are free)."""
    items: list[int] = []
    offsets: list[int] = []
    expected: list[int] = []
    masks: list[int] = []
    for j, prefix in enumerate(template.prefixes):
        fixed = b"\x0a\x00" + prefix + b"\x82\x01\x00"
        free = {1, len(fixed) - 1}
        for at in range(0, len(fixed), 8):
            chunk = fixed[at:at + 8]
            mask = bytes(0 if at + i in free else 0xFF for i in range(len(chunk))).ljust(8, b"\x00")
            items.append(j)
            offsets.append(at)
            expected.append(int.from_bytes(chunk.ljust(8, b"\x00"), "little") & int.from_bytes(mask, "little"))
            masks.append(int.from_bytes(mask, "little"))
    return (np.array(items, dtype=np.int64), np.array(offsets, dtype=np.int64),
            np.array(expected, dtype=np.uint64), np.array(masks, dtype=np.uint64))


def _match(buf: U8, starts: I64, ends: I64, template: _Template, history: bool) -> tuple[B, I64, I64]:
    """Which records match ``template`` (all at once), and their values' starts and lengths (records × items).

    The items' positions follow from their length bytes (one gather per item); then every
    byte outside the values — ``0a L``, the prefix, ``82 01 VL`` — is read in one gather of
    8-byte words and compared with the template's, the lengths are checked to add up, and
    the tail is checked.
    """
    m, k = len(starts), len(template.prefixes)
    sizes = np.array([len(p) for p in template.prefixes], dtype=np.int64)
    item_starts = np.empty((m, k), dtype=np.int64)
    pos = starts
    for j in range(k):
        item_starts[:, j] = pos
        pos = np.minimum(pos + 2 + buf[pos + 1], ends)
    # the fixed bytes of every item (0a L prefix 82 01 VL; L and VL masked out), compared as
    # little-endian 8-byte words read at any offset of the buffer
    word_items, word_offsets, expected, masks = _words(template)
    words = np.ndarray((len(buf) - 7,), dtype="<u8", buffer=buf, strides=(1,))
    ok = ((words[item_starts[:, word_items] + word_offsets] & masks) == expected).all(axis=1)
    lengths = buf[item_starts + 1].astype(np.int64)
    value_lengths = buf[item_starts + sizes + 4].astype(np.int64)
    ok &= ((lengths < 0x80) & (value_lengths < 0x80) & (lengths == sizes + 3 + value_lengths)).all(axis=1)
    ok &= (item_starts[:, -1] + 2 + lengths[:, -1]) <= ends
    value_starts = item_starts + sizes + 5
    rest = ends - pos
    if not history:
        return ok & (rest == 0), value_starts, value_lengths
    # nothing, an empty HistoryStep (12 00), or 12 n 08 <varint of n - 1 bytes>
    tail = buf[pos[:, None] + np.arange(12)]
    step = (rest >= 2) & (rest <= 12) & (tail[:, 0] == 0x12) & (tail[:, 1].astype(np.int64) == rest - 2)
    column = np.arange(12)
    more = tail >= 0x80
    inside = (column >= 3) & (column < (rest - 1)[:, None])
    last = column == (rest - 1)[:, None]
    with_num = step & (rest >= 4) & (tail[:, 2] == 0x08) & (~inside | more).all(axis=1) & (~last | ~more).all(axis=1)
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


def _joined(buf: U8, starts: I64, lengths: I64) -> bytes:
    """The texts ``buf[starts[i]:starts[i] + lengths[i]]`` (none empty), each followed by a ``,``.

    One numpy gather: the indices are a cumulative sum of jumps (``+1`` inside a text, to
    the ``,`` at ``buf[comma]`` after it, back to the next text's start).
    """
    comma = len(buf) - PAD  # the "," just after the records (see record_buffer)
    out_starts = np.cumsum(lengths + 1) - (lengths + 1)
    out_commas = out_starts + lengths
    jumps = np.ones(int(out_commas[-1]) + 1, dtype=np.int64)
    jumps[out_starts[1:]] = starts[1:] - comma
    jumps[out_starts[0]] = starts[0]
    jumps[out_commas] = comma - (starts + lengths - 1)
    return buf[np.cumsum(jumps)].tobytes()


def _valid_utf8(buf: U8, value_starts: I64, value_lengths: I64) -> bool:
    """Whether every value is valid UTF-8 (W&B's parser rejects a record with one that is not).

    Joined with ``,`` (never part of a multi-byte sequence), the whole is valid if and only if
    each value is."""
    starts, lengths = value_starts.ravel(), value_lengths.ravel()
    order = np.argsort(starts, kind="stable")
    starts, lengths = starts[order], lengths[order]
    # only values holding a byte >= 0x80 can be invalid: look for those first (the buffer has
    # such bytes anyway, in the chunk headers)
    low, high = int(starts[0]), int(starts[-1] + lengths[-1])
    marks = np.flatnonzero(buf[low:high] >= 0x80) + low
    at = np.searchsorted(starts, marks, side="right") - 1
    inside = (at >= 0) & (marks < (starts + lengths)[np.maximum(at, 0)])
    if not inside.any():
        return True
    keep = lengths > 0
    try:
        _joined(buf, starts[keep], lengths[keep]).decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _numbers(buf: U8, value_starts: I64, value_lengths: I64) -> list[Column] | None:
    """Decode the values, one column per item (``value_starts``: records × items), or None
    when a value is not a JSON number written with ``0-9 + - . e E``.

    The texts are gathered with a ``,`` after each (:func:`_joined`) and read by one
    ``orjson`` call; a text holding a ``,`` would add a value, so the count check rules it out.
    """
    m, k = value_starts.shape
    starts = value_starts.ravel()
    lengths = value_lengths.ravel()
    n = len(lengths)
    if n == 0 or not lengths.all():
        return None
    raw = _joined(buf, starts, lengths)
    if raw.translate(None, b"0123456789+-.eE,"):  # a byte that is not part of a plain number
        return None
    try:
        values: list[Any] = orjson.loads(b"[" + raw[:-1] + b"]")
    except orjson.JSONDecodeError:
        return None
    if len(values) != n:
        return None
    # a value is a float when its text has a . e or E: between two commas once digits and signs are gone
    marks = np.flatnonzero(np.frombuffer(raw.translate(None, b"0123456789+-"), dtype=np.uint8) == ord(","))
    floats = (np.diff(marks, prepend=-1) > 1).reshape(m, k).sum(axis=0)
    columns: list[Column] = []
    as_floats = np.array(values, dtype=np.float64).reshape(m, k) if (floats == m).sum() > 1 else None
    for j in range(k):
        if floats[j] == m:
            columns.append(np.ascontiguousarray(as_floats[:, j]) if as_floats is not None
                           else np.array(values[j::k], dtype=np.float64))
            continue
        column = values[j::k]
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
    # every summary value must be UTF-8, as for W&B's parser (history values are ASCII numbers)
    if summaries and not all(_valid_utf8(buf, s, n) for _t, _r, s, n in summaries):
        return False
    # commit: the summary from the first and last record of each template, in file order
    at: dict[int, tuple[int, int]] = {int(history[0]): (-1, 0), int(history[-1]): (-1, len(history) - 1)}
    for which, (_t, records, _s, _n) in enumerate(summaries):
        at.setdefault(int(summary[records[0]]), (which, 0))
        at.setdefault(int(summary[records[-1]]), (which, len(records) - 1))
    for position in sorted(at):
        which, row = at[position]
        if which < 0:
            for path, column in zip(template.paths, columns, strict=True):
                _set_path(fold.summary, path, _value(column, row))
            continue
        summary_template, _records, value_starts_s, value_lengths_s = summaries[which]
        texts = [buf[a:a + n].tobytes().decode("utf-8")
                 for a, n in zip(value_starts_s[row].tolist(), value_lengths_s[row].tolist(), strict=True)]
        for path, value in zip(summary_template.paths, _loads_many(texts), strict=True):
            _set_path(fold.summary, path, value)
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
