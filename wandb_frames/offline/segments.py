"""Fold a file's records into a :class:`RunFold`: history/summary records in bulk, the rest one by one.

A record whose payload is exactly ``[num] history`` or ``[num] summary`` (the Record's
``num`` field, then one ``history``/``summary`` field filling the rest) joins the current
*segment*; any other record ends it (which records those are is decided for the whole file
at once: :func:`wandb_frames.offline.templates.classify`). A segment of a few records or
more goes through :func:`wandb_frames.offline.templates.fold_columns` (history as columns),
then, when that declines, :func:`wandb_frames.offline.bulk.fold_segment`; when that declines
too, and for every other record, each record is parsed with W&B's ``Record`` class and
applied with :meth:`RunFold.add` — the reference path, so results are the same either way.
Records are read in place from one buffer (:func:`~wandb_frames.offline.templates.record_buffer`).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

import numpy as np

from wandb_frames.offline.bulk import fold_segment
from wandb_frames.offline.framing import Spans
from wandb_frames.offline.records import RunFold
from wandb_frames.offline.templates import classify, fold_columns, record_buffer

__all__ = ["fold_frames", "split_history_summary"]

_NUM, _HISTORY, _SUMMARY = 0x08, 0x12, 0x1A
_MIN_SEGMENT = 4  # below this, two bulk parses cost more than per-record parsing


def split_history_summary(payload: bytes) -> tuple[bool, bytes] | None:
    """``(is_history, body)`` when ``payload`` is a ``Record`` holding only ``num`` and one
    ``history`` or ``summary`` field; None otherwise.

    Examples:
        >>> split_history_summary(bytes([0x08, 0x05, 0x12, 0x02, 0x0A, 0x00]))
        (True, b'\\n\\x00')
        >>> split_history_summary(bytes([0x22, 0x00])) is None
        True
    """
    try:
        tag = payload[0]
        i = 0
        if tag == _NUM:  # skip the record number (a varint)
            i = 1
            while payload[i] & 0x80:
                i += 1
            i += 1
            if i > 10:
                return None
            tag = payload[i]
        if tag != _HISTORY and tag != _SUMMARY:
            return None
        length = payload[i + 1]
        j = i + 2
        if length & 0x80:  # a longer field: its length is a varint of up to 5 bytes
            length &= 0x7F
            shift = 7
            while True:
                byte = payload[j]
                length |= (byte & 0x7F) << shift
                j += 1
                if byte < 0x80:
                    break
                shift += 7
                if shift > 28:
                    return None
    except IndexError:  # empty or cut short
        return None
    if j + length != len(payload):
        return None
    return tag == _HISTORY, payload[j:]


def fold_frames(fold: RunFold, spans: Spans, data: bytes, *, parse: Callable[[bytes], Any],
                bulk: bool = True) -> list[str]:
    """Apply every record of a file to ``fold`` in file order.

    Args:
        fold: the run being read.
        spans: where the file's records are (:func:`~wandb_frames.offline.framing.read_spans`).
        data: the file's bytes.
        parse: W&B's ``Record.FromString``.
        bulk: decode history/summary segments in bulk (False: every record one by one).

    Returns:
        One message per record that could not be parsed (skipped).
    """
    decode_error: type[Exception] = importlib.import_module("google.protobuf.message").DecodeError
    bad: list[str] = []
    offsets = spans.offsets
    if not offsets:
        return bad
    buf, starts, ends = record_buffer(spans, data)

    def one(k: int) -> None:
        try:
            message: Any = parse(buf[starts[k]:ends[k]].tobytes())
        except decode_error as exc:
            bad.append(f"unparsable record at byte {offsets[k]}: {exc}")
            return
        fold.add(message)

    if not bulk:
        for k in range(len(offsets)):
            one(k)
        return bad
    kinds, body_starts = classify(buf, starts, ends)
    in_segment = kinds > 0
    bounds = [0, *(np.flatnonzero(in_segment[1:] != in_segment[:-1]) + 1).tolist(), len(offsets)]
    for start, end in zip(bounds[:-1], bounds[1:], strict=True):
        if not in_segment[start] or end - start < _MIN_SEGMENT:
            for k in range(start, end):
                one(k)
            continue
        if fold_columns(fold, buf, body_starts[start:end], ends[start:end], kinds[start:end]):
            continue
        bodies = [buf[b:e].tobytes() for b, e in zip(body_starts[start:end].tolist(), ends[start:end].tolist(),
                                                    strict=True)]
        if not fold_segment(fold, (kinds[start:end] == 1).tolist(), bodies):
            for k in range(start, end):
                one(k)
    return bad
