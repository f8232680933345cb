"""Data survives restarts, lost and corrupted shards, and a crash mid-write; memory stays bounded."""

from __future__ import annotations

import hashlib
import os
import pathlib
import random
import signal
import socket

import pytest
from botocore.exceptions import ClientError

from tests.conftest import start_server
from tests.functional.conftest import s3_client
from tests.sigv4_client import amz_now, sign
from tests.waiting import wait_until


def shard_files(data_dir: str) -> dict[int, list[pathlib.Path]]:
    """Committed shard files per drive number (drive1..drive9)."""
    out: dict[int, list[pathlib.Path]] = {}
    for drive in sorted(pathlib.Path(data_dir).glob("drive*")):
        n = int(drive.name[len("drive") :])
        out[n] = [p for p in (drive / "shards").rglob("*") if p.is_file()]
    return out


@pytest.fixture
def own_server(tmp_path):
    srv = start_server(str(tmp_path))
    yield srv
    srv.stop()


def test_restart_keeps_everything(own_server, tmp_path) -> None:
    s3 = s3_client(own_server)
    s3.create_bucket(Bucket="keep")
    blobs = {f"k{i}": os.urandom(size) for i, size in enumerate([0, 10, 200_000, 3 << 20])}
    for k, v in blobs.items():
        s3.put_object(Bucket="keep", Key=k, Body=v, Metadata={"n": k})
    own_server.stop()
    srv2 = start_server(own_server.data, port=own_server.port)
    try:
        s3 = s3_client(srv2)
        assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == ["keep"]
        for k, v in blobs.items():
            got = s3.get_object(Bucket="keep", Key=k)
            assert got["Body"].read() == v and got["Metadata"] == {"n": k}
    finally:
        srv2.stop()


def test_lost_and_corrupt_shards_are_served_around(own_server) -> None:
    s3 = s3_client(own_server)
    s3.create_bucket(Bucket="faults")
    data = os.urandom(7 * (1 << 20) + 333)
    s3.put_object(Bucket="faults", Key="obj", Body=data)
    files = shard_files(own_server.data)
    with_shards = [d for d, fs in files.items() if fs]
    assert len(with_shards) == 9, "a 6+3 object has a shard on every one of the nine drives"
    victims = random.Random(7).sample(with_shards, 3)
    # corrupt one drive's shard in the middle, truncate another, delete the third
    corrupt = files[victims[0]][0]
    raw = bytearray(corrupt.read_bytes())
    for i in range(100, len(raw), 4096):
        raw[i] ^= 0xFF
    corrupt.write_bytes(bytes(raw))
    trunc = files[victims[1]][0]
    trunc.write_bytes(trunc.read_bytes()[: trunc.stat().st_size // 2])
    files[victims[2]][0].unlink()
    got = s3.get_object(Bucket="faults", Key="obj")["Body"].read()
    assert hashlib.sha256(got).digest() == hashlib.sha256(data).digest()
    part = s3.get_object(Bucket="faults", Key="obj", Range="bytes=3000000-6000000")["Body"].read()
    assert part == data[3000000:6000001]
    # a fourth lost shard is one too many: an error, never wrong bytes
    files[[d for d in with_shards if d not in victims][0]][0].unlink()
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket="faults", Key="obj")["Body"].read()
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503


def test_crash_mid_put_leaves_old_object(tmp_path) -> None:
    srv = start_server(str(tmp_path))
    try:
        s3 = s3_client(srv)
        s3.create_bucket(Bucket="crash")
        old = os.urandom(2 << 20)
        s3.put_object(Bucket="crash", Key="obj", Body=old)

        put = SlowPut(srv.port, "crash", "obj", srv.access_key, srv.secret_key)
        # killed while the shards of the new version are being written on every drive
        wait_until(
            lambda: writing_shards([os.path.join(str(tmp_path), f"drive{i}") for i in range(1, 10)]),
            "the PUT's shards to be in progress on all nine drives",
        )
        os.kill(srv.proc.pid, signal.SIGKILL)
        put.close()
        srv.proc.wait()
    finally:
        srv.stop()
    srv2 = start_server(str(tmp_path), port=srv.port)
    try:
        s3 = s3_client(srv2)
        assert s3.get_object(Bucket="crash", Key="obj")["Body"].read() == old
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket="crash").get("Contents", [])]
        assert keys == ["obj"]
    finally:
        srv2.stop()


class SlowPut:
    """A signed PUT (UNSIGNED-PAYLOAD) over a raw socket that sends ``send`` bytes of the
    ``total`` its Content-Length announces, then stalls: the server dies under it.

    The default sends two whole 6 MiB stripes (6 data blocks of 1 MiB), so the server
    is writing shard files by then, not just buffering. (A raw socket, not boto3: an
    SDK may buffer or refuse a body it cannot rewind.)
    """

    def __init__(
        self, port: int, bucket: str, key: str, access: str, secret: str, send: int = 12 << 20, total: int = 16 << 20
    ) -> None:
        path = f"/{bucket}/{key}"
        headers, *_ = sign(
            "PUT", path, [], {"host": f"127.0.0.1:{port}"}, "UNSIGNED-PAYLOAD", access, secret, amz_now()
        )
        headers["content-length"] = str(total)
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=60)
        head = f"PUT {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
        self.sock.sendall(head.encode())
        for _ in range(send >> 20):
            self.sock.sendall(os.urandom(1 << 20))

    def close(self) -> None:
        self.sock.close()


def writing_shards(data_dirs: list[str]) -> bool:
    """Whether a shard is being written (a temporary file, not a drive probe) in every drive folder given."""

    def busy(d: str) -> bool:
        tmp = os.path.join(d, "tmp")
        return os.path.isdir(tmp) and any(not f.startswith(".probe") for f in os.listdir(tmp))

    return all(busy(d) for d in data_dirs)


def vm_hwm_kib(pid: int) -> int:
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM")


def test_streaming_keeps_memory_bounded(own_server, tmp_path) -> None:
    """A 512 MiB PUT and GET raise the server's peak RSS by well under 100 MiB (bench/ measures 2 GiB)."""
    s3 = s3_client(own_server)
    s3.create_bucket(Bucket="mem")
    s3.put_object(Bucket="mem", Key="warm", Body=os.urandom(8 << 20))
    s3.get_object(Bucket="mem", Key="warm")["Body"].read()
    before = vm_hwm_kib(own_server.proc.pid)
    size = 512 << 20
    src = tmp_path / "big.bin"
    with open(src, "wb") as f:
        chunk = os.urandom(1 << 20)
        for _ in range(size >> 20):
            f.write(chunk)
    s3_plain = s3_client(own_server, request_checksum_calculation="when_required")
    with open(src, "rb") as f:
        s3_plain.put_object(Bucket="mem", Key="big", Body=f, ContentLength=size)
    src.unlink()
    resp = s3.get_object(Bucket="mem", Key="big")["Body"]
    total = 0
    while True:
        piece = resp.read(1 << 20)
        if not piece:
            break
        total += len(piece)
    assert total == size
    grown_mib = (vm_hwm_kib(own_server.proc.pid) - before) / 1024
    assert grown_mib < 100, f"server peak memory grew by {grown_mib:.0f} MiB"
