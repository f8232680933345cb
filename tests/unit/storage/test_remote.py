"""The remote drive against an in-process node server: the same contract as a
local drive, plus what only the wire adds (secret, proof, truncated and
corrupted uploads), and heal onto a replacement drive."""

from __future__ import annotations

import os
import ssl

import pytest
from aiohttp import web

from nodes import bitrot
from nodes.errors import ChecksumMismatch, DiskFull, ShardNotFound
from nodes.protocol import BodyMac, end_record
from nodes.server import NodeServer
from s3gw.storage import Storage
from s3gw.storage.remote import NodeClient, NodeRefused, NodeUnreachable, RemoteDrive
from tests.waiting import async_wait_until

from .helpers import BLOCK, local_drives

SECRET = b"unit-test-cluster-secret"


async def start_node(tmp_path, secret: bytes = SECRET, node_id: str = "n1", tls: ssl.SSLContext | None = None, **kw):
    server = NodeServer.from_dirs(node_id, [str(tmp_path / node_id)], secret, fsync=False, **kw)
    runner = web.AppRunner(server.app())
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=tls)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    return runner, f"{'https' if tls else 'http'}://127.0.0.1:{port}", server


@pytest.fixture
async def node(tmp_path):
    runner, url, server = await start_node(tmp_path)
    client = NodeClient(url, SECRET)
    await client.probe()
    yield client, server
    await client.close()
    await runner.cleanup()


async def frames(blocks: list[bytes], algo: str = "sha256"):
    fn = bitrot.algorithm(algo).fn
    for b in blocks:
        yield [fn(b), b]


async def test_write_read_stat_scrub_delete_list(node) -> None:
    client, server = node
    assert client.online and client.node_id == "n1" and list(client.drives) == ["d1"]
    d = RemoteDrive(client, "d1", "n1/d1")
    blocks = [os.urandom(100), os.urandom(100), os.urandom(7)]
    st = await d.write_shard("abc.0", frames(blocks), block_size=100, hash_algo="sha256")
    assert (st.blocks, st.last_block_size) == (3, 7)
    got = await d.read_blocks("abc.0", 1, 3, block_size=100, hash_algo="sha256")
    assert [bytes(b) if b is not None else None for b in got] == [blocks[1], blocks[2], None]
    assert (await d.stat_shard("abc.0")).blocks == 3
    assert await d.scrub_shard("abc.0") == []
    assert [n async for n in d.list_shards()] == ["abc.0"]
    # bitrot on the node's disk: the gateway-side verification catches it
    path = server.drives["d1"].path("abc.0")
    raw = bytearray(open(path, "rb").read())
    raw[-3] ^= 1
    open(path, "wb").write(raw)
    got = await d.read_blocks("abc.0", 0, 3, block_size=100, hash_algo="sha256")
    assert got[2] is None and bytes(got[0]) == blocks[0]
    assert await d.scrub_shard("abc.0") == [2]
    assert await d.delete_shard("abc.0") is True
    assert await d.delete_shard("abc.0") is False
    with pytest.raises(ShardNotFound):
        await d.stat_shard("abc.0")
    cap = await d.capacity()
    assert cap.total > 0


async def test_truncated_or_corrupt_upload_commits_nothing(node) -> None:
    client, server = node
    fn = bitrot.algorithm("sha256").fn
    good = fn(b"x" * 16) + b"x" * 16
    path = "/v1/drives/d1/shards/t.0"
    q = {"block_size": 16, "hash": "sha256"}

    def sealed(frames: bytes, count: int | None = None, mac_of: bytes | None = None):
        """An upload body: the frames, then an end record (a MAC over ``mac_of``, by default the frames)."""

        async def body(sig: str, algo: str):
            m = BodyMac(SECRET, sig, algo)
            m.update(frames if mac_of is None else mac_of)
            n = len(frames) if count is None else count
            yield frames + end_record(n, m.digest(n))

        return body

    async def unsealed(sig: str, algo: str):
        yield good

    with pytest.raises(Exception):  # no end record: a dropped upload
        await client.request("PUT", path, q, upload=unsealed)
    with pytest.raises(Exception):  # end record with the wrong length
        await client.request("PUT", path, q, upload=sealed(good, count=5))
    bad = fn(b"y" * 16) + b"x" * 16  # hash mismatch: corrupted in transit
    with pytest.raises(ChecksumMismatch):
        await client.request("PUT", path, q, upload=sealed(bad))
    forged = fn(b"z" * 16) + b"z" * 16  # hashes fixed up, body MAC not: altered in transit
    with pytest.raises(NodeRefused):
        await client.request("PUT", path, q, upload=sealed(forged, mac_of=good))
    assert list(server.drives["d1"].list_shards()) == []
    assert os.listdir(server.drives["d1"].tmp_dir) == []
    await client.request("PUT", path, q, upload=sealed(good))
    assert list(server.drives["d1"].list_shards()) == ["t.0"]


async def test_aborted_stream_leaves_nothing(node) -> None:
    client, server = node
    d = RemoteDrive(client, "d1", "n1/d1")

    async def failing():
        yield [b"h" * 32, b"x" * 100]
        raise RuntimeError("the object writer gave up")

    with pytest.raises(Exception):
        await d.write_shard("ab.1", failing(), block_size=100, hash_algo="sha256")

    async def tmp_empty() -> bool:  # the node notices the dropped upload on its own time
        return not os.listdir(server.drives["d1"].tmp_dir)

    await async_wait_until(tmp_empty, "the node to drop the aborted upload's temporary file")
    assert list(server.drives["d1"].list_shards()) == []
    assert os.listdir(server.drives["d1"].tmp_dir) == []


async def test_secret_is_checked_both_ways(tmp_path) -> None:
    runner, url, _ = await start_node(tmp_path)
    try:
        wrong = NodeClient(url, b"another-secret-entirely")
        assert await wrong.probe() == {}
        assert not wrong.online and "refused" in wrong.last_error
        with pytest.raises(NodeRefused):
            await wrong.request("GET", "/v1/health")
        await wrong.close()
    finally:
        await runner.cleanup()
    # a "node" that does not hold the secret cannot prove it: refused too
    runner, url, _ = await start_node(tmp_path, secret=b"impostor-secret-123456", node_id="n2")
    try:
        client = NodeClient(url, SECRET)
        with pytest.raises(NodeRefused):
            await client.request("GET", "/v1/health")
        await client.close()
    finally:
        await runner.cleanup()
    dead = NodeClient(url, SECRET, connect_timeout=1)
    with pytest.raises(NodeUnreachable):
        await dead.request("GET", "/v1/health")
    await dead.close()


async def test_full_drive_answers_disk_full(tmp_path) -> None:
    runner, url, _ = await start_node(tmp_path, reserve_bytes=1 << 60)
    client = NodeClient(url, SECRET)
    try:
        d = RemoteDrive(client, "d1", "n1/d1")
        with pytest.raises(DiskFull):
            await d.write_shard("f.0", frames([b"a" * 10]), block_size=10, hash_algo="sha256")
    finally:
        await client.close()
        await runner.cleanup()


async def test_cluster_storage_over_nine_nodes(tmp_path) -> None:
    """Storage over nine in-process nodes: placement on distinct nodes, a node
    going down is skipped for new placements, reads fall back to parity."""
    nodes = [await start_node(tmp_path, node_id=f"n{i}") for i in range(9)]
    st = Storage.cluster_form([u for _, u, _ in nodes], SECRET, block_size=BLOCK, probe_interval=3600)
    try:
        await st.start()
        assert len(st.drives) == 9 and st.write_quorum_possible()
        data = os.urandom(5 * BLOCK + 99)
        w = await st.open_writer("d0", st.new_placement("d0"))
        await w.write(data)
        layout = await w.commit()
        assert list(layout.missing) == [] and len({p.split("/")[0] for p in layout.placement}) == 9
        # three nodes down: still readable; the prober's view decides placement
        for runner, _, _ in nodes[:3]:
            await runner.cleanup()
        assert b"".join([c async for c in st.read(layout)]) == data
        await st.cluster.probe_all()
        # writes still taken, with parity raised by the three down (MinIO's putObject)
        assert st.write_quorum_possible() and st.read_quorum_possible()
        down = {f"n{i}/d1" for i in range(3)}
        p = st.new_placement("d1")
        assert set(p[6:]) == down and not set(p[:6]) & down  # online drives first
        w = await st.open_writer("d1", p)
        await w.write(data)
        raised = await w.commit()
        assert (raised.k, raised.m, raised.missing) == (3, 6, (6, 7, 8))
        # three more nodes down: the object written 3+6 on the six left still reads
        for runner, _, _ in nodes[3:6]:
            await runner.cleanup()
        await st.cluster.probe_all()
        assert not st.write_quorum_possible() and not st.read_quorum_possible()
        assert b"".join([c async for c in st.read(raised)]) == data
    finally:
        await st.close()
        for runner, _, _ in nodes[6:]:
            await runner.cleanup()


async def test_heal_onto_a_replacement_drive(tmp_path) -> None:
    """A drive that is gone from the set: its shard is rebuilt on a drive not yet
    holding one, and the new placement is returned for the caller to store."""
    st = Storage(local_drives(tmp_path, n=10), block_size=BLOCK)
    try:
        data = os.urandom(3 * BLOCK + 5)
        pl = st.new_placement("obj")
        w = await st.open_writer("obj", pl)
        await w.write(data)
        layout = await w.commit()
        spare = next(d.id for d in st.drives if d.id not in pl)
        gone = pl[4]
        st.remove_drive(gone)
        res = await st.heal_object(layout)
        assert res.bad == [4] and res.healed == [4] and res.complete
        assert res.layout is not None and res.layout.placement[4] == spare
        assert await st.verify(res.layout, deep=True) == []
        assert b"".join([c async for c in st.read(res.layout)]) == data
        assert st.drive(spare).store.stat("obj.4").blocks == 4
    finally:
        await st.close()


async def test_tls_between_gateway_and_nodes(tmp_path) -> None:
    """https:// node URLs, verified against the CA given to the gateway (``--node-ca-file``)."""
    import trustme  # a test extra (pyproject.toml): missing is a failure, not a skip

    ca = trustme.CA()
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(tls)
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    runner, url, server = await start_node(tmp_path, tls=tls)
    try:
        assert url.startswith("https://")
        st = Storage.cluster_form(
            [url], SECRET, ca_file=str(ca_file), data_shards=1, parity_shards=0, block_size=BLOCK, probe_interval=3600
        )
        try:
            await st.start()
            assert st.cluster.nodes[0].online, st.cluster.info()
            data = os.urandom(2 * BLOCK + 7)
            w = await st.open_writer("tls", st.new_placement("tls"))
            await w.write(data)
            layout = await w.commit()
            assert b"".join([c async for c in st.read(layout)]) == data
        finally:
            await st.close()
        # a gateway that does not trust the node's CA refuses it; plain HTTP does not reach it
        for client in (NodeClient(url, SECRET), NodeClient(url.replace("https:", "http:"), SECRET)):
            try:
                assert await client.probe() == {} and not client.online
            finally:
                await client.close()
    finally:
        await runner.cleanup()
