"""Property tests: flatten_run loses no leaf, unflatten inverts it, the assembler keeps every value."""

from __future__ import annotations

import math
import os
import warnings
from typing import Any

import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wandb_frames.errors import FlattenCollisionWarning, LossyConversionWarning
from wandb_frames.tabular import JSON_ENCODING_KEY, RUN_COLUMNS, TableAssembler, flatten_run, loads_wandb_json, unflatten
from wandb_frames.tabular.flatten import iter_leaves

settings.register_profile("tabular-default", max_examples=200, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("tabular-ci", max_examples=1000, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
# HYPOTHESIS_PROFILE=ci (the project's switch, default under CI=true) raises the example count.
_CI = os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev") == "ci"
PROFILE = settings.get_profile("tabular-ci" if _CI else "tabular-default")

AWKWARD = st.sampled_from([".", "/", " ", "é", "-", "_", "$", "\n", "🙂", "a", "b", "0"])
SAFE_KEYS = st.text(alphabet=st.sampled_from(["/", " ", "é", "-", "_", "$", "\n", "🙂", "a", "b", "0"]), max_size=4)
DOTTED_KEYS = st.text(alphabet=AWKWARD, max_size=4)
MEDIA = st.fixed_dictionaries({"_type": st.sampled_from(["image-file", "histogram", "table-file"])},
                              optional={"path": st.text(max_size=5), "bins": st.lists(st.integers(), max_size=3)})
FLOATS = st.floats(allow_nan=True, allow_infinity=True)
INTS = st.one_of(st.integers(-(2**63), 2**63 - 1), st.integers(-3, 3), st.integers(2**63, 2**70))
SCALARS = st.one_of(st.none(), st.booleans(), INTS, FLOATS, st.text(max_size=5))
SCALAR_LISTS = st.lists(SCALARS, max_size=3)


def nested(keys: st.SearchStrategy[str]) -> st.SearchStrategy[dict[str, Any]]:
    leaves: st.SearchStrategy[Any] = st.one_of(SCALARS, SCALAR_LISTS, MEDIA, st.just({}))
    return st.recursive(
        st.dictionaries(keys, leaves, max_size=4),
        lambda children: st.dictionaries(keys, st.one_of(leaves, children), max_size=4),
        max_leaves=20,
    )


def decoded_runs(keys: st.SearchStrategy[str]) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {"id": st.text(max_size=4), "config": nested(keys), "summary": nested(keys)},
        optional={"tags": st.lists(st.text(max_size=3), max_size=2), "system": nested(keys)},
    )


def _without_empty_sections(run: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in run.items() if not (type(v) is dict and not v and "_type" not in v)}


@PROFILE
@given(decoded_runs(SAFE_KEYS))
def test_unflatten_inverts_flatten_without_separators_in_keys(run: dict[str, Any]) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        flat = flatten_run(run)
    assert unflatten(flat) == _without_empty_sections(run)


@PROFILE
@given(decoded_runs(DOTTED_KEYS))
def test_flatten_loses_no_leaf_with_awkward_keys(run: dict[str, Any]) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        flat = flatten_run(run)
    leaves = list(iter_leaves(run))
    assert len(flat) == len(leaves)
    escaped = False
    for (path, value), (name, flat_value) in zip(leaves, flat.items(), strict=True):
        assert flat_value is value
        if name != ".".join(path):
            escaped = True
            assert name == ".".join(part.replace(".", "\\.") for part in path)
            node: Any = unflatten({name: value})  # an escaped name comes back to its literal keys
            for part in path:
                node = node[part]
            assert node is value
    assert escaped == any(w.category is FlattenCollisionWarning for w in caught)


# ---- the assembler ---------------------------------------------------------------------------

CELL_VALUES: st.SearchStrategy[Any] = st.one_of(SCALARS, SCALAR_LISTS, MEDIA, st.just({}), st.lists(SCALAR_LISTS, max_size=2))
RECORDS = st.lists(st.dictionaries(st.sampled_from(["c0", "c1", "c2", "c3"]), CELL_VALUES, max_size=4), max_size=12)
INT64 = range(-(2**63), 2**63)


def _kind(value: Any) -> str:
    if type(value) is bool:
        return "bool"
    if type(value) is int:
        return "int" if value in INT64 else "big"
    if type(value) is float:
        return "float"
    if type(value) is str:
        return "str"
    if type(value) is list:
        return "list"
    return "dict"


def _expected_type(values: list[Any]) -> tuple[pa.DataType, bool]:
    """The documented type of a column of these values (independent oracle); (type, mixed)."""
    kinds = {_kind(v) for v in values if v is not None}
    if not kinds:
        return pa.null(), False
    if kinds in ({"bool"}, {"int"}, {"float"}, {"str"}):
        return {"bool": pa.bool_(), "int": pa.int64(), "float": pa.float64(), "str": pa.string()}[kinds.pop()], False
    if kinds == {"int", "float"}:
        return pa.float64(), False
    if kinds == {"list"}:
        elems = {_kind(x) for v in values if v for x in v if x is not None}
        for group, arrow in (
            (set(), pa.null()), ({"bool"}, pa.bool_()), ({"int"}, pa.int64()), ({"float"}, pa.float64()),
            ({"int", "float"}, pa.float64()), ({"str"}, pa.string()),
        ):
            if elems == group:
                return pa.list_(arrow), False
        return pa.string(), False
    if kinds == {"dict"}:
        return pa.string(), False
    return pa.string(), True


def _equal(cell: Any, value: Any) -> bool:
    if type(value) is float and math.isnan(value):
        return type(cell) is float and math.isnan(cell)
    if type(value) is int and type(cell) is float:
        return cell == float(value)
    if type(value) is list and type(cell) is list:
        return len(cell) == len(value) and all(_equal(c, v) for c, v in zip(cell, value, strict=True))
    if type(value) is dict and type(cell) is dict:
        return cell.keys() == value.keys() and all(_equal(cell[k], value[k]) for k in value)
    return type(cell) is type(value) and bool(cell == value)


@PROFILE
@given(RECORDS, st.lists(st.integers(1, 5), min_size=1, max_size=12))
def test_assembler_keeps_every_value_and_documented_types(records: list[dict[str, Any]], cuts: list[int]) -> None:
    assembler = TableAssembler()
    start = 0
    for size in cuts * 12:
        if start >= len(records):
            break
        assembler.add(records[start : start + size])
        start += size
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        table = assembler.finish()
    mixed_names: list[str] = []
    for w in caught:
        if w.category is LossyConversionWarning and "different kinds" in str(w.message):
            mixed_names.extend(str(w.message).split(": ", 1)[1].split(", "))
    if not records:
        assert table.num_rows == 0
        return
    assert table.num_rows == len(records)
    names = list(dict.fromkeys(k for r in records for k in r))
    if not names:  # rows without keys: kept as rows of null run columns
        assert table.column_names == list(RUN_COLUMNS)
        assert all(table.column(n).null_count == len(records) for n in RUN_COLUMNS)
        return
    assert table.column_names == names
    for name in names:
        values = [r.get(name) for r in records]
        field = table.schema.field(name)
        expected, mixed = _expected_type(values)
        assert field.type == expected, (name, values)
        is_json = (field.metadata or {}).get(JSON_ENCODING_KEY) == b"json"
        assert is_json == (expected == pa.string() and any(_kind(v) != "str" for v in values if v is not None))
        assert (name in mixed_names) == mixed, (name, values)
        for cell, value in zip(table.column(name).to_pylist(), values, strict=True):
            if value is None:
                assert cell is None
            elif is_json:
                assert _equal(loads_wandb_json(cell), value), (cell, value)
            else:
                assert _equal(cell, value), (cell, value)
