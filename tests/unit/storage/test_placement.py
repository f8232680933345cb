"""Rendezvous placement: stable, distinct, node-spread, minimal movement."""

from __future__ import annotations

from collections import Counter

import pytest

from s3gw.storage import DriveRef, placement


def drives(n: int, nodes: int | None = None) -> list[DriveRef]:
    nodes = nodes or n
    return [DriveRef(f"drive{i}", f"node{i % nodes}") for i in range(n)]


IDS = [f"{i:032x}" for i in range(600)]


def test_stable_and_distinct() -> None:
    ds = drives(12)
    for oid in IDS[:100]:
        p = placement(oid, ds, 9)
        assert len(p) == 9 and len(set(p)) == 9
        assert p == placement(oid, list(reversed(ds)), 9)  # input order does not matter
        assert p == placement(oid, [(d.id, d.node_id) for d in ds], 9)


def test_spreads_load() -> None:
    ds = drives(12)
    load = Counter(d for oid in IDS for d in placement(oid, ds, 9))
    expected = len(IDS) * 9 / 12
    assert all(abs(c - expected) < 0.15 * expected for c in load.values())
    first = Counter(placement(oid, ds, 9)[0] for oid in IDS)
    assert len(first) == 12  # shard 0 lands everywhere


def test_too_few_drives() -> None:
    with pytest.raises(ValueError):
        placement("x", drives(8), 9)


def test_distinct_nodes_when_enough() -> None:
    ds = drives(18, nodes=9)  # 2 drives on each of 9 nodes
    node = {d.id: d.node_id for d in ds}
    for oid in IDS[:200]:
        assert len({node[d] for d in placement(oid, ds, 9)}) == 9


def test_even_spread_when_few_nodes() -> None:
    ds = drives(12, nodes=4)  # 3 drives on each of 4 nodes
    node = {d.id: d.node_id for d in ds}
    for oid in IDS[:200]:
        per = Counter(node[d] for d in placement(oid, ds, 9))
        assert sorted(per.values()) == [2, 2, 2, 3]


def test_single_node_uses_all_drives() -> None:
    ds = [DriveRef(f"drive{i}", "local") for i in range(1, 10)]
    assert sorted(placement("abc", ds, 9)) == sorted(d.id for d in ds)


def test_minimal_movement_on_add() -> None:
    before = drives(12)
    after = before + [DriveRef("drive12", "node12")]
    moved = 0
    for oid in IDS:
        a, b = set(placement(oid, before, 9)), set(placement(oid, after, 9))
        assert len(a - b) <= 1 and (not a - b or b - a == {"drive12"})
        moved += bool(a - b)
    # the new drive takes its fair share, n/N = 9/13 of objects, one shard each
    assert abs(moved / len(IDS) - 9 / 13) < 0.08


def test_minimal_movement_on_remove() -> None:
    before = drives(13)
    after = [d for d in before if d.id != "drive5"]
    for oid in IDS:
        a, b = set(placement(oid, before, 9)), set(placement(oid, after, 9))
        if "drive5" not in a:
            assert a == b
        else:
            assert len(b - a) == 1
