"""In-process cache: for a single gateway process, which then sees every write.

Same rules as the shared cache (``base``): tokens, invalidation of a whole name.
Here the token is a global write clock: every invalidation ticks it and stamps
the name's tombstone with the new value; a fill is accepted only if the name has
not been stamped after the reader's token. Tombstones can be evicted (the cache
is bounded in bytes), so the clock of the newest evicted stamp is kept too, and
a fill for a name without a tombstone is accepted only if no stamp newer than
the token was evicted. No ABA whatever the eviction order.

With ``generations`` (``s3gw/cache/shared.py``), several worker processes of one
gateway each keep such a cache, and the generations in shared memory carry every
worker's invalidations to the others: a token also holds the name's shared
generation, a fill needs it unchanged, and a hit is answered only while the
entry's generation is still the shared one.
"""

from __future__ import annotations

from collections import OrderedDict

from .base import Cache, Token
from .shared import Generations


class _Entry:
    __slots__ = ("fields", "gen", "size", "stamp")

    def __init__(self, stamp: int) -> None:
        self.stamp = stamp
        self.fields: dict[str, bytes] = {}
        self.size = 64
        self.gen: tuple[int, int] | None = None  # the shared generation the fields were filled under


class MemoryCache(Cache):
    name = "memory"

    def __init__(self, max_bytes: int = 256 << 20, generations: Generations | None = None) -> None:
        super().__init__()
        self.max_bytes = max_bytes
        self.generations = generations
        self._entries: OrderedDict[tuple[str, str], _Entry] = OrderedDict()
        self._bytes = 0
        self._clock = 0
        self._evicted_stamp = 0

    def describe(self) -> str:
        shared = ", shared by the workers" if self.generations is not None else ""
        return f"memory ({self.max_bytes >> 20} MiB{shared})"

    async def get(self, ns: str, name: str, field: str) -> tuple[bytes | None, Token]:
        gen = self.generations.token(ns, name) if self.generations is not None else None
        e = self._entries.get((ns, name))
        if e is not None:
            self._entries.move_to_end((ns, name))
            v = e.fields.get(field)
            if v is not None and e.gen == gen:
                self.stats["hits"] += 1
                return v, (self._clock, gen)
        self.stats["misses"] += 1
        return None, (self._clock, gen)

    async def fill(self, ns: str, name: str, field: str, token: Token, value: bytes) -> None:
        if token is None:
            return
        clock, gen = token
        k = (ns, name)
        e = self._entries.get(k)
        if (e.stamp if e is not None else self._evicted_stamp) > clock or (
            self.generations is not None and not self.generations.valid(ns, name, gen)
        ):
            self.stats["stale_fills"] += 1
            return
        if e is None:  # it inherits the newest evicted stamp: an older token can never fill it later
            e = self._entries[k] = _Entry(self._evicted_stamp)
            self._bytes += e.size
        if e.gen != gen:
            # another worker invalidated the name since these fields were filled: they go
            for f, v in e.fields.items():
                e.size -= len(v) + len(f)
                self._bytes -= len(v) + len(f)
            e.fields.clear()
            e.gen = gen
        old = e.fields.get(field)
        if old is not None:
            e.size -= len(old) + len(field)
            self._bytes -= len(old) + len(field)
        e.fields[field] = value
        e.size += len(value) + len(field)
        self._bytes += len(value) + len(field)
        self.stats["fills"] += 1
        self._evict()

    async def invalidate(self, ns: str, names: list[str]) -> None:
        if self.generations is not None:
            self.generations.bump(ns, names)
        self._clock += 1
        for name in names:
            k = (ns, name)
            old = self._entries.pop(k, None)
            if old is not None:
                self._bytes -= old.size
            e = self._entries[k] = _Entry(self._clock)  # the tombstone
            self._bytes += e.size
            self.stats["invalidations"] += 1
        self._evict()

    async def flush(self) -> None:
        if self.generations is not None:
            self.generations.flush()
        self._clock += 1
        self._entries.clear()
        self._bytes = 0
        self._evicted_stamp = self._clock

    def _evict(self) -> None:
        while self._bytes > self.max_bytes and self._entries:
            _, e = self._entries.popitem(last=False)
            self._bytes -= e.size
            self._evicted_stamp = max(self._evicted_stamp, e.stamp)
