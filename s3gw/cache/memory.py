"""In-process cache: for a single gateway process, which then sees every write.

Same rules as the shared cache (``base``): tokens, invalidation of a whole name.
Here the token is a global write clock: every invalidation ticks it and stamps
the name's tombstone with the new value; a fill is accepted only if the name has
not been stamped after the reader's token. Tombstones can be evicted (the cache
is bounded in bytes), so the clock of the newest evicted stamp is kept too, and
a fill for a name without a tombstone is accepted only if no stamp newer than
the token was evicted. No ABA whatever the eviction order.
"""

from __future__ import annotations

from collections import OrderedDict

from .base import Cache, Token


class _Entry:
    __slots__ = ("stamp", "fields", "size")

    def __init__(self, stamp: int) -> None:
        self.stamp = stamp
        self.fields: dict[str, bytes] = {}
        self.size = 64


class MemoryCache(Cache):
    name = "memory"

    def __init__(self, max_bytes: int = 256 << 20) -> None:
        super().__init__()
        self.max_bytes = max_bytes
        self._entries: OrderedDict[tuple[str, str], _Entry] = OrderedDict()
        self._bytes = 0
        self._clock = 0
        self._evicted_stamp = 0

    def describe(self) -> str:
        return f"memory ({self.max_bytes >> 20} MiB)"

    async def get(self, ns: str, name: str, field: str) -> tuple[bytes | None, Token]:
        e = self._entries.get((ns, name))
        if e is not None:
            self._entries.move_to_end((ns, name))
            v = e.fields.get(field)
            if v is not None:
                self.stats["hits"] += 1
                return v, self._clock
        self.stats["misses"] += 1
        return None, self._clock

    async def fill(self, ns: str, name: str, field: str, token: Token, value: bytes) -> None:
        if token is None:
            return
        k = (ns, name)
        e = self._entries.get(k)
        if (e.stamp if e is not None else self._evicted_stamp) > token:
            self.stats["stale_fills"] += 1
            return
        if e is None:   # it inherits the newest evicted stamp: an older token can never fill it later
            e = self._entries[k] = _Entry(self._evicted_stamp)
            self._bytes += e.size
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
        self._clock += 1
        for name in names:
            k = (ns, name)
            old = self._entries.pop(k, None)
            if old is not None:
                self._bytes -= old.size
            e = self._entries[k] = _Entry(self._clock)   # the tombstone
            self._bytes += e.size
            self.stats["invalidations"] += 1
        self._evict()

    async def flush(self) -> None:
        self._clock += 1
        self._entries.clear()
        self._bytes = 0
        self._evicted_stamp = self._clock

    def _evict(self) -> None:
        while self._bytes > self.max_bytes and self._entries:
            _, e = self._entries.popitem(last=False)
            self._bytes -= e.size
            self._evicted_stamp = max(self._evicted_stamp, e.stamp)
