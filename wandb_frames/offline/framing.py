"""Record framing of W&B transaction logs (``run-<id>.wandb``): pure functions, no I/O.

A ``.wandb`` file is a 7-byte W&B header followed by a LevelDB-style log:

```text
file   := header block*
header := ident ":W&B" (4 bytes) | magic 0xBEE1 (uint16 LE) | version 0 (uint8)
block  := chunk* trailer?          32 KiB each, counted from the start of the file
chunk  := crc (uint32 LE) | length (uint16 LE) | type (uint8) | data[length]
type   := 1 FULL | 2 FIRST | 3 MIDDLE | 4 LAST
```

A record is one FULL chunk or FIRST, MIDDLE*, LAST. A chunk never crosses a block
boundary; when fewer than 7 bytes are left in a block they are zero padding. The
checksum is the **IEEE CRC-32** (``zlib.crc32``, not CRC-32C and not masked) of the type
byte followed by the data, as written by the ``wandb`` 0.31 writer (verified on files it
wrote). ``wandb-core`` flushes whole 32 KiB blocks, so a killed run usually ends at a
block boundary, often inside a fragmented record.

Damage never raises here: :func:`read_frames` returns every whole record it could
verify plus a list of :class:`FrameProblem` describing what was skipped.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, field
from collections.abc import Callable
from typing import Any

__all__ = [
    "BLOCK_SIZE",
    "CHUNK_HEADER_SIZE",
    "FILE_HEADER",
    "FrameProblem",
    "Frames",
    "NotAWandbFileError",
    "Spans",
    "frame_records",
    "read_frames",
    "read_spans",
]

BLOCK_SIZE = 32768
CHUNK_HEADER_SIZE = 7
FILE_HEADER = b":W&B" + struct.pack("<HB", 0xBEE1, 0)

FULL, FIRST, MIDDLE, LAST = 1, 2, 3, 4
_CHUNK = struct.Struct("<IHB")
_TYPE_CRC = {t: zlib.crc32(bytes([t])) for t in (FULL, FIRST, MIDDLE, LAST)}
_crc32: Callable[[Any], int]
try:  # the same CRC-32, faster on short chunks (optional: pip install isal)
    from isal.isal_zlib import crc32 as _crc32
except ImportError:  # pragma: no cover - isal is in the offline extra
    _crc32 = zlib.crc32


class NotAWandbFileError(ValueError):
    """The bytes do not start with the W&B transaction-log header (internal; see reader)."""


@dataclass(frozen=True)
class FrameProblem:
    """Something skipped while framing: ``kind`` is ``torn-tail``, ``crc``, ``bad-chunk`` or ``orphan``."""

    offset: int
    kind: str
    message: str


@dataclass
class Frames:
    """The outcome of framing one file.

    Attributes:
        records: payloads of the whole, checksum-verified records, in file order.
        offsets: file offset of the first chunk of each record (parallel to ``records``).
        problems: what was skipped, in file order.
        end: offset just after the last whole record (where a clean reader would resume).
    """

    records: list[bytes] = field(default_factory=list)
    offsets: list[int] = field(default_factory=list)
    problems: list[FrameProblem] = field(default_factory=list)
    end: int = 0


def _check_header(data: bytes) -> FrameProblem | None:
    head = data[: len(FILE_HEADER)]
    if head == FILE_HEADER:
        return None
    if len(head) < len(FILE_HEADER) and FILE_HEADER.startswith(head):
        return FrameProblem(0, "torn-tail", f"file ends inside its header ({len(head)} of 7 bytes)")
    if head[:4] == FILE_HEADER[:4]:
        raise NotAWandbFileError(f"unsupported W&B log magic/version {head[4:]!r} (expected {FILE_HEADER[4:]!r})")
    raise NotAWandbFileError(f"not a W&B transaction log: expected header {FILE_HEADER!r}, found {head!r}")


def read_frames(data: bytes) -> Frames:
    """Split a ``.wandb`` file's bytes into verified record payloads.

    Args:
        data: the whole file (or any prefix of it).

    Returns:
        A :class:`Frames`; a torn tail, a CRC mismatch or a malformed chunk is recorded in
        ``problems`` and reading goes on where it safely can (after a bad checksum the rest
        of that block is dropped and reading resumes at the next block, as LevelDB does).

    Raises:
        NotAWandbFileError: the bytes are not a W&B transaction log at all.

    Examples:
        >>> read_frames(FILE_HEADER).records
        []
    """
    spans = read_spans(data)
    return Frames(spans.payloads(data), spans.offsets, spans.problems, spans.end)


@dataclass
class Spans:
    """Where the records of a file are, without copying them (what :func:`read_spans` returns).

    Attributes:
        offsets: file offset of the first chunk of each record, in file order.
        joined: by record index, the payload of each record not read by the fast loop (made
            of several chunks, or read after a problem); every other record ``i`` is the data
            of one ``FULL`` chunk: ``data[offsets[i] + 7 : offsets[i] + 7 + length]``, its
            length in the chunk header.
        problems: what was skipped, in file order.
        end: offset just after the last whole record.
    """

    offsets: list[int] = field(default_factory=list)
    joined: dict[int, bytes] = field(default_factory=dict)
    problems: list[FrameProblem] = field(default_factory=list)
    end: int = 0

    def payloads(self, data: bytes) -> list[bytes]:
        """Every record's payload, in file order."""
        out: list[bytes] = []
        for i, offset in enumerate(self.offsets):
            payload = self.joined.get(i)
            if payload is None:
                length = _CHUNK.unpack_from(data, offset)[1]
                payload = data[offset + CHUNK_HEADER_SIZE: offset + CHUNK_HEADER_SIZE + length]
            out.append(payload)
        return out


def read_spans(data: bytes) -> Spans:
    """:func:`read_frames` without copying: where each record is (see :class:`Spans`).

    The common case — a ``FULL`` chunk inside the current block — runs in a tight loop that
    only checks the checksum and notes the chunk's offset: the checksum is the CRC-32 of the
    file's bytes from the type byte (the header's last byte) to the end of the data, computed
    in place on a ``memoryview`` (``isal``'s CRC-32 when installed, ~3x faster than
    ``zlib``'s on these ~200-byte chunks; the same function). Any other chunk goes through
    the general loop, which reports what it skips.
    """
    out = Spans(end=len(FILE_HEADER))
    problem = _check_header(data)
    if problem is not None:
        out.end = 0
        out.problems.append(problem)
        return out
    size = len(data)
    view = memoryview(data)
    pos = len(FILE_HEADER)
    parts: list[bytes] = []
    start = -1  # offset of the FIRST chunk of the record being assembled
    offsets, joined = out.offsets, out.joined
    unpack, crc32 = _CHUNK.unpack_from, _crc32
    add_offset = offsets.append
    while pos < size:
        if start < 0:
            block_end = min(pos - pos % BLOCK_SIZE + BLOCK_SIZE, size)
            limit = block_end - CHUNK_HEADER_SIZE
            begin = pos
            while pos <= limit:
                crc, length, ctype = unpack(data, pos)
                end = pos + 7 + length  # CHUNK_HEADER_SIZE, as a constant
                if ctype != 1 or end > block_end or crc32(view[pos + 6:end]) != crc:  # FULL
                    break
                add_offset(pos)
                pos = end
            if pos != begin:
                out.end = pos
            if pos >= size:
                break
        room = BLOCK_SIZE - pos % BLOCK_SIZE
        if room < CHUNK_HEADER_SIZE:  # block trailer: zero padding
            pos += room
            continue
        if size - pos < CHUNK_HEADER_SIZE:
            if any(data[pos:]):
                out.problems.append(FrameProblem(pos, "torn-tail", "file ends inside a chunk header"))
            break
        crc, length, ctype = unpack(data, pos)
        body = pos + CHUNK_HEADER_SIZE
        if ctype == 0 and length == 0 and crc == 0:  # preallocated / zero-filled rest of block
            pos += room
            continue
        if ctype not in _TYPE_CRC or CHUNK_HEADER_SIZE + length > room:
            out.problems.append(
                FrameProblem(pos, "bad-chunk", f"malformed chunk (type {ctype}, length {length}); rest of block skipped")
            )
            parts, start = [], -1
            pos += room
            continue
        if body + length > size:
            out.problems.append(
                FrameProblem(pos, "torn-tail", f"file ends inside a chunk ({size - body} of {length} bytes)")
            )
            break
        chunk = data[body : body + length]
        if zlib.crc32(chunk, _TYPE_CRC[ctype]) != crc:
            out.problems.append(FrameProblem(pos, "crc", "CRC-32 mismatch; rest of block skipped"))
            parts, start = [], -1
            pos += room
            continue
        pos = body + length
        if ctype == FULL or ctype == FIRST:
            if start >= 0:
                out.problems.append(FrameProblem(start, "orphan", "record without its LAST chunk dropped"))
            if ctype == FULL:
                joined[len(offsets)] = chunk
                offsets.append(pos - length - CHUNK_HEADER_SIZE)
                out.end = pos
                parts, start = [], -1
            else:
                parts, start = [chunk], pos - length - CHUNK_HEADER_SIZE
        elif start < 0:
            out.problems.append(FrameProblem(pos - length - CHUNK_HEADER_SIZE, "orphan", "continuation chunk without FIRST skipped"))
        elif ctype == MIDDLE:
            parts.append(chunk)
        else:
            parts.append(chunk)
            joined[len(offsets)] = b"".join(parts)
            offsets.append(start)
            out.end = pos
            parts, start = [], -1
    if start >= 0:
        out.problems.append(FrameProblem(start, "torn-tail", "file ends inside a fragmented record"))
    return out


def frame_records(payloads: list[bytes]) -> bytes:
    """Write payloads in the ``.wandb`` framing (header, 32 KiB blocks, CRC-32 chunks).

    The inverse of :func:`read_frames`; used by tests and benchmarks to make files without
    the W&B SDK.

    Args:
        payloads: serialised ``Record`` messages.

    Returns:
        The file's bytes.
    """
    out = bytearray(FILE_HEADER)
    for payload in payloads:
        rest = memoryview(payload)
        first = True
        while True:
            room = BLOCK_SIZE - len(out) % BLOCK_SIZE
            if room < CHUNK_HEADER_SIZE:
                out += bytes(room)
                room = BLOCK_SIZE
            n = min(len(rest), room - CHUNK_HEADER_SIZE)
            last = n == len(rest)
            ctype = (FULL if last else FIRST) if first else (LAST if last else MIDDLE)
            chunk = bytes(rest[:n])
            out += _CHUNK.pack(zlib.crc32(chunk, _TYPE_CRC[ctype]), n, ctype) + chunk
            rest = rest[n:]
            first = False
            if last:
                break
    return bytes(out)
