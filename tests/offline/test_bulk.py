"""The bulk history/summary decoder gives exactly what the per-record decoder gives.

Files are generated (W&B's ``Record`` messages in our framing), read twice — with the bulk
path and with every record parsed one by one (``bulk=False``, the reference) — and compared
strictly: same values and types (NaN equal to NaN), same key order in every dict, same
warnings.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from offline_support import Generated, identical, read_both

from wandb_frames.offline.bulk import decode_items, fold_segment
from wandb_frames.offline.framing import frame_records
from wandb_frames.offline.reader import _read, record_class
from wandb_frames.offline.records import RunFold
from wandb_frames.offline.segments import split_history_summary

_NOW = 2e9


# ---------------------------------------------------------------- generated records
_TEXTS = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False).map(json.dumps),
    st.integers(-(2**70), 2**70).map(str),
    st.sampled_from(["NaN", "Infinity", "-Infinity", "true", "null", '"e1"', '{"a": 1, "b": [1, 2]}',
                     '{"_type": "histogram", "bins": [1]}', "not json", "1,2", "[1", "2]", "-0", "1e400",
                     '{"a": 1, "a": 2}', " 3 ", "0.1"]),
)
_NAMES = st.sampled_from(["loss", "acc", "_step", "_timestamp", "_runtime", "eval", "val/loss", "é"])
_PATHS = st.one_of(
    _NAMES.map(lambda n: ("nested", [n])),
    _NAMES.map(lambda n: ("key", n)),
    st.lists(_NAMES, min_size=2, max_size=3).map(lambda p: ("nested", p)),
)


@st.composite
def _item(draw: st.DrawFn, messy: bool = False) -> dict[str, Any]:
    kind, name = draw(_PATHS)
    item: dict[str, Any] = {kind: name, "value_json": draw(_TEXTS)}
    if messy and draw(st.integers(0, 30)) == 0:  # a typed value, an empty or a nameless item
        item[draw(st.sampled_from(["number", "text", "none_value", "empty", "nameless"]))] = True
    return item


def _fill(target: Any, item: dict[str, Any], *, typed: bool) -> None:
    if item.get("empty"):
        return
    if not item.get("nameless"):
        if "nested" in item:
            target.nested_key.extend(item["nested"])
        else:
            target.key = item["key"]
    target.value_json = item["value_json"]
    if typed and item.get("number"):
        target.number = 1.5
    if typed and item.get("text"):
        target.text = "x"


@st.composite
def _records(draw: st.DrawFn) -> list[bytes]:
    record = record_class()
    out: list[bytes] = []
    r = record()
    r.run.run_id, r.run.project, r.run.entity = "bulk1", "proj", "ent"
    r.run.start_time.FromNanoseconds(1_700_000_000 * 10**9)
    out.append(r.SerializeToString())
    messy = draw(st.integers(0, 3)) == 0
    pattern = draw(st.lists(_item(messy), min_size=1, max_size=6))
    if draw(st.integers(0, 4)):  # W&B writes _step in every history row
        pattern.insert(draw(st.integers(0, len(pattern))), {"nested": ["_step"], "value_json": "0"})
    steps = draw(st.integers(0, 25))
    with_num = draw(st.booleans())
    for step in range(steps):
        regular = draw(st.integers(0, 4)) > 0
        items = [dict(it, value_json=draw(_TEXTS)) for it in pattern] if regular else draw(
            st.lists(_item(messy), max_size=6)) + [{"nested": ["_step"], "value_json": str(step)}]
        kinds = draw(st.sampled_from(["sh", "h", "hs", "s", "shx", "other"]))
        for kind in kinds:
            r = record()
            if with_num:
                r.num = step * 4 + len(out)
            if kind == "s":
                for it in items:
                    _fill(r.summary.update.add(), it, typed=False)
                if messy and draw(st.integers(0, 12)) == 0:
                    r.summary.remove.add().key = draw(_NAMES)
            elif kind == "h":
                for it in items:
                    _fill(r.history.item.add(), it, typed=True)
                if draw(st.booleans()):
                    r.history.step.num = step
            elif kind == "x":
                r.stats.timestamp.FromNanoseconds((1_700_000_000 + step) * 10**9)
                item = r.stats.item.add()
                item.key, item.value_json = "cpu", draw(_TEXTS)
            else:
                item = r.config.update.add()
                item.key, item.value_json = "lr", draw(_TEXTS)
            out.append(r.SerializeToString())
    if messy and draw(st.booleans()):  # an unparsable record inside a segment
        out.insert(len(out) // 2, b"\x12\x05\x0a\x03\x12\x01\xff")
    if draw(st.booleans()):
        r = record()
        r.exit.exit_code = draw(st.sampled_from([0, 1]))
        out.append(r.SerializeToString())
    return out


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                   HealthCheck.too_slow])
@given(payloads=_records())
def test_bulk_equals_per_record_decoding(tmp_path: Path, payloads: list[bytes]) -> None:
    path = tmp_path / "run-bulk1.wandb"
    path.write_bytes(frame_records(payloads))
    bulk, reference = read_both(path)
    assert identical(bulk, reference)


# ---------------------------------------------------------------- the fast path is taken
def _segment(payloads: list[bytes]) -> tuple[list[bool], list[bytes]]:
    found = [split_history_summary(p) for p in payloads]
    assert all(f is not None for f in found)
    return [f[0] for f in found if f], [f[1] for f in found if f]


def test_bench_and_wandb_core_layouts_take_the_bulk_path() -> None:
    record = record_class()
    payloads = []
    for step in range(10):
        s, h = record(), record()
        s.num, h.num = 2 * step + 1, 2 * step + 2
        for name, value in (("loss", 1 / (step + 1)), ("_step", step), ("_timestamp", 1.7e9 + step)):
            u = s.summary.update.add()
            u.nested_key.append(name)
            u.value_json = json.dumps(value)
            i = h.history.item.add()
            i.nested_key.append(name)
            i.value_json = json.dumps(value)
        r = record()  # wandb-core's runtime summary: nested path and key-style item
        u = r.summary.update.add()
        u.nested_key.extend(["_wandb", "runtime"])
        u.value_json = str(step)
        r.summary.update.add(key="_runtime", value_json=str(step))
        h.history.step.SetInParent()
        payloads += [r.SerializeToString(), s.SerializeToString(), h.SerializeToString()]
    kinds, bodies = _segment(payloads)
    fold = RunFold("x")
    assert fold_segment(fold, kinds, bodies)
    reference = RunFold("x")
    for payload in payloads:
        reference.add(record.FromString(payload))
    assert identical(fold.history, reference.history)
    assert identical(fold.summary, reference.summary)
    assert fold.last_seen == reference.last_seen and fold.count == reference.count == 30


@pytest.mark.parametrize("change", ["typed", "remove", "empty_item", "info", "bad_utf8"])
def test_records_the_views_cannot_prove_go_record_by_record(change: str) -> None:
    record = record_class()
    r = record()
    item = r.history.item.add(key="loss", value_json="1")
    if change == "typed":
        item.number = 2.0
    if change == "empty_item":
        r.history.item.add()
    body = r.history.SerializeToString()
    if change == "remove":
        s = record()
        s.summary.update.add(key="loss", value_json="1")
        s.summary.remove.add(key="loss")
        assert decode_items([s.summary.SerializeToString()], history=False) is None
        return
    if change == "info":
        body += b"\xc2\x0c\x00"  # _info = 200, empty
    if change == "bad_utf8":
        body = body.replace(b"loss", b"lo\xffs")
    assert decode_items([body], history=True) is None


def test_real_wandb_files_read_the_same_both_ways(generated: Generated) -> None:
    files = sorted(generated.wandb_dir.glob("*/run-*.wandb"))
    assert len(files) >= 4
    for path in files:
        bulk, reference = read_both(path)
        assert identical(bulk, reference), path


def test_a_timestamp_past_year_9999_is_not_a_heartbeat(tmp_path: Path) -> None:
    record = record_class()
    r, h = record(), record()
    r.run.run_id = "far"
    r.run.start_time.FromNanoseconds(1_700_000_000 * 10**9)
    h.history.item.add(key="_timestamp", value_json="1e300")
    h.history.item.add(key="_step", value_json="0")
    path = tmp_path / "run-far.wandb"
    path.write_bytes(frame_records([r.SerializeToString(), h.SerializeToString()]))
    rec = _read(path, include_files=False, running_window=300.0, now=_NOW).record
    assert rec["heartbeat_at"] == rec["created_at"]
    assert rec["history"][0]["_timestamp"] == 1e300


@pytest.mark.parametrize(("payload", "expected"), [
    (b"", None),
    (b"\x08", None),
    (b"\x08\x80", None),
    (b"\x12", None),
    (b"\x12\x00", (True, b"")),
    (b"\x1a\x01a", (False, b"a")),
    (b"\x1a\x02a", None),  # shorter than its length
    (b"\x12\x00\x12\x00", None),  # a second field
    (b"\x22\x00", None),  # another record kind
    (b"\x08\x96\x01\x12\xac\x02" + bytes(300), (True, bytes(300))),  # num 150, a 2-byte length
    (b"\x08" + b"\x80" * 12 + b"\x01\x12\x00", None),  # a num varint longer than protobuf allows
])
def test_split_history_summary(payload: bytes, expected: tuple[bool, bytes] | None) -> None:
    assert split_history_summary(payload) == expected
