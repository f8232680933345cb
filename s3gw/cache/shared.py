"""Generations shared by the worker processes of one gateway (``s3gw serve --workers N``).

Each worker keeps its own in-process cache (``MemoryCache``); what makes those
caches correct together is one array of 64-bit *generations* in shared memory,
created by the supervisor before the workers start. A name (namespace and
object or bucket name) hashes to a slot. Every invalidation, in any worker,
stores a new value in the slots of the names it touched, *after* the metadata
commit and before the request is answered. A worker:

* takes, with every lookup, the slot's value as part of its token (before it
  reads the database on a miss);
* fills only if the slot still holds that value;
* answers a hit only if the slot still holds the value the entry was filled
  under.

So a write answered by one worker is seen by the next request on any worker:
that request finds the slot changed and reads the database. Names that share a
slot only cost each other misses.

No read-modify-write, so no lock: a value is never reused (the monotonic clock
in nanoseconds, which every process on the machine shares, strictly increasing
within a process, times 64 plus the worker's index), so two workers storing
into one slot at once leave a value that no token taken before either store can
equal. Aligned 8-byte loads and stores are single instructions on the 64-bit
machines this runs on.

Slot 0 is the epoch, moved on by ``flush``: every entry and token carries it too.

>>> g = Generations.create(slots=64)
>>> t = g.token("o", "b\\0k")
>>> g.valid("o", "b\\0k", t)
True
>>> g.bump("o", ["b\\0k"]); g.valid("o", "b\\0k", t)
False
>>> t = g.token("o", "b\\0k"); g.flush(); g.valid("o", "b\\0k", t)
False
"""

from __future__ import annotations

import time
import zlib
from multiprocessing.sharedctypes import RawArray
from typing import Any

#: slots of the default array (8 bytes each: 1 MiB)
DEFAULT_SLOTS = 1 << 17


class Generations:
    """A view of the shared generation array (see the module doc)."""

    def __init__(self, array: Any, index: int = 0) -> None:
        self.array = array
        self.index = index % 64
        self._mv = memoryview(array).cast("B").cast("Q")
        self._slots = len(self._mv) - 1
        self._last = 0

    @classmethod
    def create(cls, slots: int = DEFAULT_SLOTS) -> Generations:
        """A new zeroed array of ``slots`` generations (plus the epoch), for the supervisor to hand
        to its workers (a ``RawArray`` travels to spawned processes as a process argument)."""
        return cls(RawArray("Q", slots + 1))

    def for_worker(self, index: int) -> Generations:
        return Generations(self.array, index)

    def __getstate__(self) -> dict:
        return {"array": self.array, "index": self.index}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["array"], state["index"])  # type: ignore[misc]

    def slot(self, ns: str, name: str) -> int:
        # crc32: the same in every process (Python's hash() of a str is not)
        return 1 + zlib.crc32(f"{ns}\0{name}".encode()) % self._slots

    def _next(self) -> int:
        # unique across workers and never reused: see the module doc
        v = max(time.monotonic_ns() * 64 + self.index, self._last + 64)
        self._last = v
        return v

    def token(self, ns: str, name: str) -> tuple[int, int]:
        return self._mv[0], self._mv[self.slot(ns, name)]

    def valid(self, ns: str, name: str, token: tuple[int, int]) -> bool:
        return token == (self._mv[0], self._mv[self.slot(ns, name)])

    def bump(self, ns: str, names: list[str]) -> None:
        for name in names:
            self._mv[self.slot(ns, name)] = self._next()

    def flush(self) -> None:
        self._mv[0] = self._next()
