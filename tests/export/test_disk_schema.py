"""``export.disk_schema`` / ``memory_schema``: what is written for polars, and undone on reading."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
from hypothesis import given
from hypothesis import strategies as st

from wandb_frames.export import (
    POLARS_CATEGORICAL,
    disk_schema,
    from_disk,
    memory_schema,
    read_parquet,
    to_disk,
    write_parquet,
)
from wandb_frames.history import LONG_SCHEMA

INDEX_TYPES = [pa.int8(), pa.int16(), pa.int32(), pa.int64(), pa.uint8(), pa.uint16(), pa.uint32(), pa.uint64()]
TEXT_DICTIONARIES = st.builds(pa.dictionary, st.sampled_from(INDEX_TYPES),
                              st.sampled_from([pa.string(), pa.large_string()]), st.booleans())
OTHER_TYPES = st.sampled_from([pa.string(), pa.int64(), pa.float64(), pa.dictionary(pa.int32(), pa.int64()),
                               pa.list_(pa.string()), pa.struct([pa.field("a", pa.dictionary(pa.int32(), pa.string()))])])
FIELD_METADATA = st.one_of(st.none(), st.just({b"wandb_frames.encoding": b"json"}))


@st.composite
def schemas(draw: st.DrawFn) -> pa.Schema:
    types = draw(st.lists(st.one_of(TEXT_DICTIONARIES, OTHER_TYPES), max_size=6))
    fields = [pa.field(f"c{i}", t, draw(st.booleans()), metadata=draw(FIELD_METADATA)) for i, t in enumerate(types)]
    return pa.schema(fields, metadata=draw(st.one_of(st.none(), st.just({b"k": b"v"}))))


def _is_text_dictionary(t: pa.DataType) -> bool:
    return pa.types.is_dictionary(t) and t.value_type in (pa.string(), pa.large_string())


@given(schemas())
def test_only_top_level_text_dictionaries_change_and_reading_undoes_it(schema: pa.Schema) -> None:
    disk = disk_schema(schema)
    assert disk_schema(disk).equals(disk, check_metadata=True)  # idempotent
    assert disk.metadata == schema.metadata
    back = memory_schema(disk)
    for before, written, read in zip(schema, disk, back, strict=True):
        assert before.name == written.name == read.name and before.nullable == written.nullable == read.nullable
        if _is_text_dictionary(before.type):
            assert written.type == pa.dictionary(pa.uint32(), before.type.value_type, before.type.ordered)
            assert written.metadata == {**(before.metadata or {}), **POLARS_CATEGORICAL}
            assert read.type == pa.dictionary(pa.int32(), before.type.value_type, before.type.ordered)
            assert read.metadata == before.metadata
        else:
            assert written.equals(before, check_metadata=True) and read.equals(before, check_metadata=True)
    # pyarrow's own types (int32 indices) survive the round trip exactly
    if all(f.type.index_type == pa.int32() for f in schema if _is_text_dictionary(f.type)):
        assert back.equals(schema, check_metadata=True)


def test_schemas_without_text_dictionaries_are_returned_as_they_are() -> None:
    plain = pa.schema([pa.field("run_id", pa.string()), pa.field("value", pa.float64())])
    assert disk_schema(plain) is plain and memory_schema(plain) is plain
    assert memory_schema(LONG_SCHEMA) is LONG_SCHEMA
    table = plain.empty_table()
    assert to_disk(table) is table and from_disk(table) is table


def test_a_long_table_round_trips_through_a_file(tmp_path: Path) -> None:
    table = pa.table({
        "run_id": ["a", "a", "b"], "_step": [0, 1, 0],
        "metric": pa.array(["loss", "loss", "acc"]).dictionary_encode(),
        "value": [1.0, float("nan"), 0.5], "_timestamp": [1.0, 2.0, 3.0], "_runtime": [0.0, 1.0, 0.0],
    }, schema=LONG_SCHEMA)
    path = write_parquet(table, tmp_path / "long.parquet")
    on_disk = pq.read_schema(path).field("metric")
    assert on_disk.type == pa.dictionary(pa.uint32(), pa.string()) and on_disk.metadata == POLARS_CATEGORICAL
    assert from_disk(pq.read_table(path)).schema.remove_metadata().equals(LONG_SCHEMA, check_metadata=True)
    back = read_parquet(path)
    assert back.schema.remove_metadata().equals(LONG_SCHEMA, check_metadata=True)
    assert back.column("metric").to_pylist() == ["loss", "loss", "acc"]
    assert back.column("value").is_nan().to_pylist() == [False, True, False]
    frame = pl.read_parquet(path)
    assert frame.schema["metric"] == pl.Categorical and frame["metric"].cast(pl.String).to_list() == ["loss", "loss", "acc"]
