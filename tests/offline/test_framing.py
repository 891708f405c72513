"""The block/chunk framing of ``.wandb`` files, without the SDK: round trips, prefixes, damage."""

from __future__ import annotations

import struct
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wandb_frames.offline.framing import (
    BLOCK_SIZE,
    CHUNK_HEADER_SIZE,
    FILE_HEADER,
    NotAWandbFileError,
    frame_records,
    read_frames,
)

_POOL = bytes(range(256)) * 300
_big = st.builds(lambda start, n: _POOL[start : start + n], st.integers(0, 255), st.integers(0, 70000))
payloads = st.lists(st.one_of(st.binary(max_size=64), _big), max_size=6)


@settings(max_examples=40, deadline=None)
@given(payloads)
def test_round_trip(records: list[bytes]) -> None:
    frames = read_frames(frame_records(records))
    assert frames.records == records
    assert frames.problems == []


@settings(max_examples=60, deadline=None)
@given(payloads, st.data())
def test_any_prefix_gives_a_prefix_of_the_records(records: list[bytes], data: st.DataObject) -> None:
    blob = frame_records(records)
    cut = data.draw(st.integers(0, len(blob)))
    frames = read_frames(blob[:cut])
    assert frames.records == records[: len(frames.records)]
    assert all(p.kind == "torn-tail" for p in frames.problems)
    assert frames.end <= cut
    if cut == len(blob):
        assert frames.records == records


def test_chunk_crc_is_ieee_crc32_of_type_and_data() -> None:
    blob = frame_records([b"hello"])
    crc, length, ctype = struct.unpack_from("<IHB", blob, len(FILE_HEADER))
    assert (length, ctype) == (5, 1)
    assert crc == zlib.crc32(b"\x01hello")


def test_block_trailer_padding_is_skipped() -> None:
    # First record leaves exactly 6 bytes in block 0: the next chunk must start at block 1.
    first = b"a" * (BLOCK_SIZE - len(FILE_HEADER) - CHUNK_HEADER_SIZE - 6)
    blob = frame_records([first, b"second"])
    assert blob[BLOCK_SIZE - 6 : BLOCK_SIZE] == bytes(6)
    assert read_frames(blob).records == [first, b"second"]


def test_record_spanning_blocks_uses_first_middle_last() -> None:
    big = bytes(range(256)) * 300  # 76,800 bytes: FIRST, MIDDLE, LAST
    blob = frame_records([big, b"after"])
    types = [blob[len(FILE_HEADER) + 6], blob[BLOCK_SIZE + 6], blob[2 * BLOCK_SIZE + 6]]
    assert types == [2, 3, 4]
    assert read_frames(blob).records == [big, b"after"]


def test_crc_mismatch_is_reported_and_later_blocks_are_kept() -> None:
    records = [b"x" * 100, b"y" * 40000, b"z" * 50]
    blob = bytearray(frame_records(records))
    blob[len(FILE_HEADER) + CHUNK_HEADER_SIZE + 3] ^= 0xFF  # inside the first record's data
    frames = read_frames(bytes(blob))
    kinds = [p.kind for p in frames.problems]
    assert "crc" in kinds
    assert b"x" * 100 not in frames.records
    # the big record's FIRST chunk was in the damaged block: its continuation is an orphan,
    # the last record (in block 1) survives
    assert frames.records == [b"z" * 50]


def test_header_checks() -> None:
    assert read_frames(b"").problems[0].kind == "torn-tail"
    assert read_frames(FILE_HEADER[:3]).records == []
    with pytest.raises(NotAWandbFileError):
        read_frames(b"PK\x03\x04 not a wandb file")
    with pytest.raises(NotAWandbFileError, match="version"):
        read_frames(b":W&B" + struct.pack("<HB", 0xBEE1, 9))


def test_zero_filled_tail_is_not_damage() -> None:
    blob = frame_records([b"one"]) + bytes(100)
    frames = read_frames(blob)
    assert frames.records == [b"one"]
    assert frames.problems == []
