"""Chunk buffers that are also files DuckDB can open: the file is read once, straight into memory DuckDB reads.

DuckDB's JSON reader takes a path, not a Python buffer. With an ordinary buffer each 16 MB chunk was copied
three times: from the page cache into the buffer, from the buffer into a scratch file in /dev/shm (`os.pwrite`,
~6 ms), and from the scratch file into DuckDB. Here each buffer *is* an unlinked file in /dev/shm, mapped into
memory (`mmap`): `readinto` fills the mapping directly (measured ~3.6 ms per 16 MB against ~11 ms into a
bytearray on this machine, and no `pwrite`), and DuckDB opens the same file by its descriptor
(`/proc/self/fd/N`). Before a chunk is parsed its file is cut to the chunk's length (`ftruncate`), so DuckDB sees
exactly the chunk's lines; the pages below stay allocated, so refilling a recycled buffer reserves again only
the few pages past the cut.

Only where the system has both a RAM disk and /proc (Linux); elsewhere `read_chunks` keeps bytearrays and the
scratch-file copy. Nothing is left behind however the process ends: the files are unlinked from the start.

/dev/shm can be small (64 MB in a default Docker container) or filled by others (Ray's object store). Writing
into a mapped page that tmpfs cannot back kills the process with SIGBUS, so every page a buffer will be filled
through is reserved first (`posix_fallocate`, which fails cleanly with ENOSPC); when that fails the chunk gets
a plain bytearray instead, and the ingestion carries on along the slower path.
"""

from __future__ import annotations

import mmap
import os
import queue
import tempfile
from typing import IO

# Where files live in memory, and whether an open file can be named by its descriptor (what DuckDB needs to
# read an unlinked file); also used for `duckdb_lines`' scratch copies.
RAM_DISK = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None
BY_DESCRIPTOR = os.path.isdir("/proc/self/fd")
AVAILABLE = RAM_DISK is not None and BY_DESCRIPTOR
# Room for the partial line carried into the next chunk, so chunks of `chunk_bytes` keep fitting one buffer.
CARRY_ROOM = 1 << 20


class MappedFile(mmap.mmap):
    """A writable mapping of a whole unlinked file in /dev/shm; `path` opens that file (for DuckDB)."""

    file: IO[bytes]
    path: str

    file_size: int

    def cut_file(self, size: int) -> None:
        """The file's length (what DuckDB reads); the mapping keeps its capacity. Never touch the mapping past
        the file's length (SIGBUS): `MappedBuffers.take` reserves the full length again before a refill."""
        os.ftruncate(self.file.fileno(), size)
        self.file_size = size

    def reserve(self, size: int) -> None:
        """Make the file `size` bytes long with every page backed by memory, so the first `size` bytes of the
        mapping are safe to fill (OSError, e.g. ENOSPC, when /dev/shm has no room). Only the pages past the last
        cut were freed: reserving those costs microseconds (the whole 17 MB file: ~1.3 ms)."""
        start = min(self.file_size, size)
        start -= start % mmap.PAGESIZE
        os.posix_fallocate(self.file.fileno(), start, size - start)
        os.ftruncate(self.file.fileno(), size)  # a longer file (after a long line) is cut back to `size`
        self.file_size = size


def descriptor_path(fd: int) -> str:
    """A name for the open file `fd` that other code (DuckDB) can open, also once the file is unlinked."""
    return f"/proc/self/fd/{fd}"


def _mapped(size: int, capacity: int) -> MappedFile:
    """A mapping of `capacity` bytes over a file of `size` bytes, all reserved."""
    file = tempfile.TemporaryFile(dir=RAM_DISK)  # noqa: SIM115 (closed with the mapping, by the garbage collector)
    try:
        os.ftruncate(file.fileno(), capacity)  # Python maps no more than the file holds: map it whole, then cut
        mapping = MappedFile(file.fileno(), capacity)
        mapping.file, mapping.path, mapping.file_size = file, descriptor_path(file.fileno()), 0
        mapping.reserve(size)
    except BaseException:
        file.close()
        raise
    return mapping


class MappedBuffers:
    """Recycled `MappedFile` buffers for one file's chunks: `take` one for reading, `give_back` once parsed."""

    def __init__(self) -> None:
        self._free: queue.SimpleQueue[MappedFile] = queue.SimpleQueue()
        self.fallbacks = 0  # chunks that got a bytearray because /dev/shm had no room

    def take(self, size: int) -> MappedFile | bytearray:
        """A buffer whose first `size` bytes are reserved (safe to fill); a bytearray when /dev/shm cannot
        hold them."""
        try:
            while True:
                try:
                    buffer = self._free.get_nowait()
                except queue.Empty:
                    return _mapped(size, size + CARRY_ROOM)
                if len(buffer) >= size:  # a smaller one (rare: after a line longer than a chunk) is dropped
                    buffer.reserve(size)
                    return buffer
        except OSError:
            self.fallbacks += 1
            return bytearray(size)

    def give_back(self, buffer: MappedFile) -> None:
        self._free.put(buffer)
