"""Which streams a log may hold: a Bloom filter, so that asking about a stream that does not exist costs no read.

Most questions a server asks its log about one stream are about streams that do not exist yet — the answer to a
new request id, the holds of a trip a participant has not seen — and each used to cost a query. The filter says
"certainly absent" (no query) or "maybe present" (query). It grows as streams are added: when the newest filter is
full, a new one twice its size takes the additions, and a question asks every one (a scalable Bloom filter), so
it never needs the log again after it is built.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

HASHES = 4  # bit positions per stream id
BITS_PER_ID = 16  # with 4 hashes: about one "maybe" in 400 for an absent id, at capacity
FIRST_BITS = 1 << 20  # 128 KiB: room for 65,536 stream ids before a second filter


class _Bloom:
    """One fixed-size Bloom filter (its size a power of two)."""

    __slots__ = ("bits", "capacity", "count", "mask")

    def __init__(self, nbits: int) -> None:
        self.bits = bytearray(nbits // 8)
        self.mask = nbits - 1
        self.capacity = nbits // BITS_PER_ID
        self.count = 0

    def add(self, h1: int, h2: int) -> None:
        for i in range(HASHES):
            position = (h1 + i * h2) & self.mask
            self.bits[position >> 3] |= 1 << (position & 7)
        self.count += 1

    def might_contain(self, h1: int, h2: int) -> bool:
        for i in range(HASHES):
            position = (h1 + i * h2) & self.mask
            if not self.bits[position >> 3] & (1 << (position & 7)):
                return False
        return True


def _hashes(stream_id: str) -> tuple[int, int]:
    digest = hashlib.blake2b(stream_id.encode(), digest_size=16).digest()
    return int.from_bytes(digest[:8], "little"), int.from_bytes(digest[8:], "little") | 1  # odd: every position


class StreamFilter:
    """The stream ids of a log, as a set that may say "maybe" for an id it never saw (never "no" for one it did)."""

    def __init__(self, ids: Iterable[str] = (), expected: int = 0) -> None:
        nbits = FIRST_BITS
        while nbits // BITS_PER_ID < expected:
            nbits *= 2
        self._filters = [_Bloom(nbits)]
        for stream_id in ids:
            self.add(stream_id)

    def add(self, stream_id: str) -> None:
        """Remember a stream (adding one twice is harmless)."""
        newest = self._filters[-1]
        if newest.count >= newest.capacity:
            newest = _Bloom((newest.mask + 1) * 2)
            self._filters.append(newest)
        newest.add(*_hashes(stream_id))

    def __contains__(self, stream_id: object) -> bool:
        """False: the log certainly has no such stream. True: it may."""
        if not isinstance(stream_id, str):
            return False
        h1, h2 = _hashes(stream_id)
        return any(f.might_contain(h1, h2) for f in self._filters)

    @property
    def nbytes(self) -> int:
        """The memory its bits take."""
        return sum(len(f.bits) for f in self._filters)
