"""The cache interface: generation-checked entries, invalidated by every write.

An entry is addressed by a namespace, a name and a field: ``("o", "bucket\\0key",
"L")`` is the latest version of an object, ``("o", ..., "V:<id>")`` one named
version, ``("b", "bucket", "")`` a bucket. Invalidation works on a whole
``(namespace, name)``: a write to an object drops every field cached for it.

The race every read-through cache must close: a reader misses, reads the
database (old value), a writer commits and invalidates, *then* the reader fills
the cache with the old value, which would stay there. So a lookup returns, with
the value or the miss, a **token** (the entry's generation when it was looked
up); ``fill`` stores only if the generation is still that token, and an
invalidation always moves the generation on. The reader above holds the token
from before the write, and its fill is refused.

A cache is never needed for correctness: every implementation may answer
"miss" and drop a fill at any time (Redis down, timeouts, evictions).
"""

from __future__ import annotations

import abc
from typing import Any

#: what ``get`` hands back to ``fill``; opaque to callers (None: do not fill)
Token = Any


class Cache(abc.ABC):
    """Generation-checked key/field store (see the module doc)."""

    name = "cache"

    def __init__(self) -> None:
        self.stats = {"hits": 0, "misses": 0, "fills": 0, "stale_fills": 0, "invalidations": 0, "errors": 0}

    async def open(self) -> None:
        return None

    async def close(self) -> None:
        return None

    @abc.abstractmethod
    async def get(self, ns: str, name: str, field: str) -> tuple[bytes | None, Token]:
        """The stored value (or None) and a token for a later ``fill`` (None: don't fill)."""

    @abc.abstractmethod
    async def fill(self, ns: str, name: str, field: str, token: Token, value: bytes) -> None:
        """Store ``value`` only if nothing invalidated ``(ns, name)`` since ``get`` returned ``token``."""

    @abc.abstractmethod
    async def invalidate(self, ns: str, names: list[str]) -> None:
        """Drop every field of these names and move their generations on. Never raises."""

    @abc.abstractmethod
    async def flush(self) -> None:
        """Drop everything (every gateway sharing the cache sees it). Never raises."""

    def describe(self) -> str:
        return self.name


class NullCache(Cache):
    """No cache: every lookup misses."""

    name = "none"

    async def get(self, ns: str, name: str, field: str) -> tuple[bytes | None, Token]:
        return None, None

    async def fill(self, ns: str, name: str, field: str, token: Token, value: bytes) -> None:
        return None

    async def invalidate(self, ns: str, names: list[str]) -> None:
        return None

    async def flush(self) -> None:
        return None
