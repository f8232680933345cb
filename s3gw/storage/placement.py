"""Placement: which drives hold the shards of an object.

Rendezvous hashing (highest random weight): every drive gets a score
``H(data_id, drive_id)`` and the object goes to the best scoring drives. The
score of a drive for an object never depends on the other drives, so adding a
drive only moves the objects for which the new drive scores into the top
``n`` — about ``n / (drives + 1)`` of them, one shard each — and removing one
only moves the objects it held.

Shards are spread over distinct nodes when there are enough nodes: drives are
taken in score order, but always from a node that holds the fewest shards of
this object so far. With at least ``n`` nodes every shard is on its own node;
with fewer, shards are spread as evenly as possible (e.g. 9 shards on 4 nodes:
3, 2, 2, 2), so losing one node loses as few shards as possible.

The placement is stored with each version, so this is consulted only for new
writes: changing the drive list never moves existing data implicitly.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import NamedTuple, Protocol


class DriveRef(NamedTuple):
    id: str
    node_id: str


class _HasIds(Protocol):
    id: str
    node_id: str


def score(data_id: str, drive_id: str) -> int:
    """The rendezvous weight of a drive for an object: 64 bits of
    BLAKE2b(data_id NUL drive_id). Stable across processes and versions
    (never Python's ``hash``, which is salted per process).

    >>> score("3f2a", "drive1") == score("3f2a", "drive1")
    True
    """
    h = hashlib.blake2b(f"{data_id}\0{drive_id}".encode(), digest_size=8).digest()
    return int.from_bytes(h, "big")


def placement(data_id: str, drives: Iterable[_HasIds | tuple[str, str]], n: int) -> list[str]:
    """The ``n`` drive ids for an object, shard 0 first.

    ``drives`` are objects with ``id`` and ``node_id`` (or ``(id, node_id)``
    tuples). Raises ValueError when there are fewer than ``n`` distinct drives.

    >>> p = placement("obj", [DriveRef(f"d{i}", f"n{i % 3}") for i in range(9)], 3)
    >>> len(p), len(set(p)), len({int(d[1:]) % 3 for d in p})   # 3 drives, 3 nodes
    (3, 3, 3)
    """
    refs: dict[str, str] = {}
    for d in drives:
        did, node = (d[0], d[1]) if isinstance(d, tuple) else (d.id, d.node_id)
        refs[did] = node
    if n > len(refs):
        raise ValueError(f"need {n} drives, have {len(refs)}")
    ranked = sorted(refs, key=lambda did: (score(data_id, did), did), reverse=True)
    used: dict[str, int] = {}
    chosen: list[str] = []
    remaining = ranked
    while len(chosen) < n:
        # Best scoring drive among the nodes used least so far.
        least = min(used.get(refs[d], 0) for d in remaining)
        pick = next(d for d in remaining if used.get(refs[d], 0) == least)
        chosen.append(pick)
        used[refs[pick]] = used.get(refs[pick], 0) + 1
        remaining = [d for d in remaining if d != pick]
    return chosen
