"""The columnar (template) decoder gives exactly what the per-record decoder gives.

Files in the layouts the template path takes (every history record with the same items; a
summary record per step, sometimes two kinds of them as ``wandb-core`` writes) are generated
with values that are mostly plain JSON numbers and sometimes anything else (NaN, Infinity,
integers past 64 bits, strings, objects, ``1e400``, ``-0``...; summary values that are not
UTF-8), item names as ``key``,
``nested_key`` or paths of several parts, steps in any order, rows that change their keys;
then read with the bulk path and with every record parsed one by one (the reference) and
compared strictly (types, key order, NaN equal to NaN). The test also checks that the
columnar path was taken for many of the examples, and that the history frame built from the
columns equals the one built from the rows.
"""

from __future__ import annotations

import json
import pickle
import warnings
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from offline_support import identical, read_both

from wandb_frames.errors import CorruptRecordWarning
from wandb_frames.history.frames import rows_to_wide
from wandb_frames.offline import framing
from wandb_frames.offline.columns import ColumnBlock, HistoryRows, history_wide
from wandb_frames.offline.framing import frame_records
from wandb_frames.offline.reader import _read, record_class

_NOW = 2e9

_NUMBER_TEXTS = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False).map(json.dumps),
    st.floats(allow_nan=False, allow_infinity=False, width=32).map(repr),
    st.integers(-(2**63), 2**64).map(str),
    st.sampled_from(["-0", "-0.0", "1E5", "1e-7", "0.1", "12345678901234567890", "2.5e+3"]),
)
_LONG_TEXTS = st.integers(90, 140).map(lambda n: "0." + "1" * n)  # items of 128 bytes or more: 2-byte lengths
_OTHER_TEXTS = st.sampled_from(["NaN", "Infinity", "-Infinity", "1e400", str(2**70), '"s"', "true", "null",
                                "[1, 2]", '{"a": 1}', "1,2", "01", "+1", "1.", ".5", " 3", "--1", "1e"])
_TEXTS = st.one_of(_NUMBER_TEXTS, _NUMBER_TEXTS, _NUMBER_TEXTS, _OTHER_TEXTS)
_PATHS = st.sampled_from([("nested", ("loss",)), ("nested", ("acc",)), ("key", "lr"), ("nested", ("val/loss",)),
                          ("nested", ("eval", "f1")), ("nested", ("eval", "acc")), ("key", "é"),
                          ("nested", ("_wandb", "runtime")), ("key", "_runtime"), ("nested", ("_timestamp",)),
                          ("nested", ("eval",)), ("key", "loss")])


def _add(items: Any, kind: str, name: Any, text: str) -> None:
    item = items.add()
    if kind == "key":
        item.key = name
    else:
        item.nested_key.extend(name)
    item.value_json = text


@st.composite
def _run(draw: st.DrawFn) -> list[bytes]:
    record = record_class()
    out: list[bytes] = []
    r = record()
    r.run.run_id, r.run.project = "tpl1", "proj"
    r.run.start_time.FromNanoseconds(1_700_000_000 * 10**9)
    if draw(st.booleans()):
        r.run.summary.update.add(key="eval", value_json="5")
    out.append(r.SerializeToString())
    pattern = draw(st.lists(_PATHS, min_size=1, max_size=5, unique=True))
    step_at = draw(st.integers(0, len(pattern)))
    runtime_summary = draw(st.booleans())  # wandb-core: a _wandb.runtime/_runtime summary record per step
    summary_first = draw(st.booleans())
    with_num = draw(st.booleans())
    only_numbers = draw(st.integers(0, 2)) > 0
    texts = _NUMBER_TEXTS if only_numbers else _TEXTS
    if draw(st.integers(0, 5)) == 0:
        texts = st.one_of(texts, _LONG_TEXTS)
    steps = draw(st.lists(st.integers(-3, 40), min_size=0, max_size=30))
    for i, step in enumerate(steps):
        items = [(kind, name, draw(texts)) for kind, name in pattern]
        if draw(st.integers(0, 25)) == 0:  # a row with other keys
            items = items[:-1] if len(items) > 1 else items + [("key", "extra", "1")]
        items.insert(step_at, ("nested", ("_step",), str(step)))
        h, s, rt = record(), record(), record()
        odd_summary = draw(st.integers(0, 15)) == 0  # a summary value the history does not have
        for kind, name, text in items:
            _add(h.history.item, kind, name, text)
            if odd_summary:
                text, odd_summary = draw(st.sampled_from(['"INVALID"', '"é"', "NaN", '{"a": 1}', ""])), False
            _add(s.summary.update, kind, name, text)
        mode = draw(st.integers(0, 3))
        if mode == 1:
            h.history.step.num = step if step >= 0 else 0
        elif mode == 2:
            h.history.step.SetInParent()
        _add(rt.summary.update, "nested", ("_wandb", "runtime"), str(i))
        _add(rt.summary.update, "key", "_runtime", str(i * 0.5))
        group = ([rt] if runtime_summary else []) + ([s, h] if summary_first else [h, s])
        for message in group:
            if with_num:
                message.num = len(out) + 1
            # "INVALID" becomes bytes that are not UTF-8: W&B's parser rejects such a record
            out.append(message.SerializeToString().replace(b'"INVALID"', b'"\xffNVALID"'))
    if draw(st.integers(0, 5)) == 0 and len(out) > 2:  # a stats record cuts the segment in two
        x = record()
        x.stats.timestamp.FromNanoseconds(1_700_000_100 * 10**9)
        x.stats.item.add(key="cpu", value_json="3")
        out.insert(draw(st.integers(1, len(out) - 1)), x.SerializeToString())
    if draw(st.booleans()):
        e = record()
        e.exit.exit_code = 0
        out.append(e.SerializeToString())
    return out


_TAKEN: list[bool] = []


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                    HealthCheck.too_slow])
@given(payloads=_run())
def test_columnar_path_equals_per_record_decoding(tmp_path: Path, payloads: list[bytes]) -> None:
    path = tmp_path / "run-tpl1.wandb"
    path.write_bytes(frame_records(payloads))
    bulk, reference = read_both(path)
    assert identical(bulk, reference)
    history = bulk[2]["history"]
    assert isinstance(history, HistoryRows)
    _TAKEN.append(any(isinstance(p, ColumnBlock) for p in history.parts))
    # the history frame's wide table from the columns is the one from the rows
    wide, expected = history_wide(history), rows_to_wide(list(reference[2]["history"]))[0]
    assert wide.schema == expected.schema and identical(wide.to_pydict(), expected.to_pydict())


def test_the_columnar_path_was_taken() -> None:
    if not _TAKEN:
        pytest.skip("runs after the property test")
    assert sum(_TAKEN) >= len(_TAKEN) // 8, (sum(_TAKEN), len(_TAKEN))  # ~30 % in practice


def test_bench_layout_is_one_column_block(tmp_path: Path) -> None:
    record = record_class()
    payloads = []
    for step in range(50):
        s, h = record(), record()
        for name, value in (("loss", 1 / (step + 1)), ("_step", step), ("_timestamp", 1.7e9 + step)):
            _add(s.summary.update, "nested", (name,), json.dumps(value))
            _add(h.history.item, "nested", (name,), json.dumps(value))
        h.history.step.num = step
        payloads += [s.SerializeToString(), h.SerializeToString()]
    path = tmp_path / "run-b.wandb"
    path.write_bytes(frame_records(payloads))
    run = _read(path, include_files=False, running_window=300.0, now=_NOW)
    history = run.record["history"]
    assert isinstance(history, HistoryRows)
    [block] = history.parts
    assert isinstance(block, ColumnBlock) and block.names == ("loss", "_step", "_timestamp")
    assert [c.dtype for c in block.columns if isinstance(c, np.ndarray)] == [np.float64, np.int64, np.float64]
    assert history[-1] == {"loss": 1 / 50, "_step": 49, "_timestamp": 1.7e9 + 49}
    assert run.record["summary"] == {"loss": 1 / 50, "_step": 49, "_timestamp": 1.7e9 + 49}


def test_real_wandb_files_take_the_columnar_path(generated: Any) -> None:
    files = sorted(generated.wandb_dir.glob("*/run-*.wandb"))
    blocks = 0
    for path in files:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", CorruptRecordWarning)  # the crashed run's torn tail
            run = _read(path, include_files=False, running_window=300.0, now=_NOW)
        history = run.record["history"]
        assert isinstance(history, HistoryRows)
        blocks += sum(isinstance(p, ColumnBlock) for p in history.parts)
    assert blocks > 0


def test_history_rows_is_a_sequence_of_row_dicts() -> None:
    block = ColumnBlock(("_step", "loss"), (np.array([0, 1]), [0.5, "x"]), 2)
    rows = HistoryRows([{"_step": -1}])
    rows.add_block(block)
    rows.append({"a": 1})
    expected = [{"_step": -1}, {"_step": 0, "loss": 0.5}, {"_step": 1, "loss": "x"}, {"a": 1}]
    assert rows == expected and list(rows) == expected and len(rows) == 4
    assert rows[1] == expected[1] and rows[-1] == {"a": 1} and rows[1:3] == expected[1:3]
    assert type(rows[1]["_step"]) is int
    back = pickle.loads(pickle.dumps(rows))
    assert back == rows and back.parts[1].names == ("_step", "loss")
    only = HistoryRows()
    only.add_block(ColumnBlock(("_step",), (np.array([3, 4]),), 2))
    assert only[-1] == {"_step": 4} and only[0] == {"_step": 3} and only != [{"_step": 3}]
    with pytest.raises(IndexError):
        only[2]
    assert bool(HistoryRows()) is False and HistoryRows() == []


@given(st.binary(max_size=600))
def test_the_fast_crc_is_zlibs(data: bytes) -> None:
    assert framing._crc32(data) == zlib.crc32(data)
    assert framing._crc32(memoryview(data)[1:]) == zlib.crc32(data[1:])


def test_history_wide_from_columns_and_from_rows_agree_with_gaps() -> None:
    rows = HistoryRows()
    rows.add_block(ColumnBlock(("_step", "a", "_wandb.x"), (np.array([0, 1]), np.array([1.5, -0.0]), [1, 2]), 2))
    rows.add_block(ColumnBlock(("_step", "b", "_runtime"), (np.array([2]), [2**60 + 1], np.array([3.0])), 1))
    wide = history_wide(rows)
    assert wide.equals(rows_to_wide(list(rows))[0])
    assert wide.column("a").to_pylist() == [1.5, -0.0, None]
    assert wide.schema.field("_step").type == pa.int64()
