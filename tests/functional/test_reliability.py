"""Reliability of the embedded form (docs/reliability.md): a GET in progress is never cut
short by an overwrite or a delete, wiped drives are seen, formatted again and healed
without a restart, temp files left by a crash are swept while running, and write
intents settle in fault-free runs."""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import subprocess
import sys
import urllib.error
import urllib.request

import pytest
from botocore.exceptions import ClientError

from tests.conftest import Server, start_server
from tests.functional.conftest import s3_client
from tests.functional.test_durability import SlowPut, writing_shards
from tests.reliability_helpers import MiB, churned_reads, sizes_by_data_id
from tests.waiting import wait_until


def admin_info(srv: Server) -> dict:
    cp = subprocess.run(
        [sys.executable, "-m", "s3gw.cli", "admin", "info", "--json", "--endpoint", srv.url],
        env={**os.environ, "S3GW_ROOT_USER": srv.access_key, "S3GW_ROOT_PASSWORD": srv.secret_key},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return json.loads(cp.stdout)


def health(srv: Server, path: str) -> int:
    try:
        with urllib.request.urlopen(srv.url + path, timeout=30) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


def drive_files(srv: Server, drive: str, sub: str = "shards") -> list[str]:
    out = []
    for dirpath, _, files in os.walk(os.path.join(srv.data, drive, sub)):
        out += [os.path.join(dirpath, f) for f in files if not f.startswith(".probe")]
    return out


@pytest.fixture
def own(tmp_path, request):
    srv = start_server(str(tmp_path), *getattr(request, "param", ()))
    yield srv
    srv.stop()


# -------------------------------------------------------------------- 1: reads never cut short


@pytest.mark.parametrize("own", [(), ("--gc-grace", "0")], indirect=True, ids=["gc-grace", "in-process"])
def test_get_is_never_cut_short_by_overwrites_and_deletes(own: Server) -> None:
    """A 20 MiB GET read slowly while another client overwrites and deletes the key over and
    over returns the whole original every time: protected by the GC grace (default), and
    with no grace at all by the gateway's own record of the reads in progress."""
    s3 = s3_client(own)
    s3.create_bucket(Bucket="reads")
    problems = churned_reads(own.url, s3, "reads")
    assert problems == []


# -------------------------------------------------------------------- 3: drives watched


@pytest.mark.parametrize(
    "own", [("--node-probe-interval", "0.5", "--heal-interval", "0.5", "--scan-pace", "0.2")], indirect=True
)
def test_a_wiped_drive_is_seen_formatted_and_healed_without_a_restart(own: Server) -> None:
    s3 = s3_client(own)
    s3.create_bucket(Bucket="wipe")
    blobs = {f"k{i:02d}": os.urandom(300_000 + i) for i in range(24)}
    for k, v in blobs.items():
        s3.put_object(Bucket="wipe", Key=k, Body=v)
    assert len(drive_files(own, "drive3")) == len(blobs)
    shutil.rmtree(os.path.join(own.data, "drive3"))
    # seen: reported unformatted, then healing (formatted again, shards being rebuilt at the
    # scanner's pace of 0.2 s per object); the store stays writable and readable meanwhile
    seen = wait_until(
        lambda: {d["id"]: d["status"] for d in admin_info(own)["drives"]}["drive3"],
        "drive3 to be reported unformatted or healing",
        until=lambda st: st in ("unformatted", "healing"),
    )
    assert health(own, "/minio/health/cluster") == 200 and health(own, "/health/ready") == 200
    s3.put_object(Bucket="wipe", Key="during", Body=os.urandom(300_000))
    info = wait_until(
        lambda: admin_info(own),
        "drive3 to be healed",
        timeout=240,
        until=lambda i: (
            {d["id"]: d["status"] for d in i["drives"]}["drive3"] == "online" and not i["healing"]["drives_healing"]
        ),
    )
    assert info["healing"]["drives_formatted"] == 1, (seen, info["healing"])
    assert os.path.exists(os.path.join(own.data, "drive3", "drive.json"))
    assert len(drive_files(own, "drive3")) >= len(blobs)
    for k, v in blobs.items():
        assert s3.get_object(Bucket="wipe", Key=k)["Body"].read() == v


@pytest.mark.parametrize("own", [("--node-probe-interval", "0.5")], indirect=True)
def test_four_wiped_drives_lose_quorum_and_writes_are_refused(own: Server) -> None:
    s3 = s3_client(own)
    s3.create_bucket(Bucket="wipe4")
    s3.put_object(Bucket="wipe4", Key="old", Body=os.urandom(300_000))
    assert health(own, "/minio/health/cluster") == 200
    for i in (2, 4, 6, 8):
        shutil.rmtree(os.path.join(own.data, f"drive{i}"))
    wait_until(
        lambda: health(own, "/minio/health/cluster"), "the write quorum to be reported lost", until=lambda st: st == 503
    )
    assert health(own, "/minio/health/cluster/read") == 503
    assert health(own, "/health/ready") == 503
    for key, size in (("new-big", 2 * MiB), ("new-small", 10)):
        with pytest.raises(ClientError) as e:
            s3.put_object(Bucket="wipe4", Key=key, Body=os.urandom(size))
        assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503
        assert e.value.response["Error"]["Code"] == "SlowDownWrite"
    # too many at once: left for the operator, not formatted behind their back
    drives = {d["id"]: d["status"] for d in admin_info(own)["drives"]}
    assert [drives[f"drive{i}"] for i in (2, 4, 6, 8)] == ["unformatted"] * 4
    assert not os.path.exists(os.path.join(own.data, "drive2"))
    for key in ("new-big", "new-small"):
        with pytest.raises(ClientError):
            s3.head_object(Bucket="wipe4", Key=key)


# -------------------------------------------------------------------- also: writes with parity drives down


def shards_per_drive(srv: Server) -> dict[str, dict[str, int]]:
    """Data id -> drive -> shard files of it there."""
    out: dict[str, dict[str, int]] = {}
    for i in range(1, 10):
        for f in drive_files(srv, f"drive{i}"):
            data_id = os.path.basename(f).rsplit(".", 1)[0]
            out.setdefault(data_id, {}).setdefault(f"drive{i}", 0)
            out[data_id][f"drive{i}"] += 1
    return out


def move_drives(srv: Server, drives: list[str], away: bool) -> None:
    """Make drive folders unavailable (an unmounted disk) or bring them back."""
    for d in drives:
        a, b = os.path.join(srv.data, d), os.path.join(srv.data, d + ".away")
        os.rename(*((a, b) if away else (b, a)))


def drive_statuses(srv: Server) -> dict[str, str]:
    return {d["id"]: d["status"] for d in admin_info(srv)["drives"]}


def shard_bytes(srv: Server) -> dict[str, list[int]]:
    """Data id -> the sizes of its shard files (on every drive)."""
    return sizes_by_data_id(f for i in range(1, 10) for f in drive_files(srv, f"drive{i}"))


KMS_KEY = "parity-key:" + base64.b64encode(b"p" * 32).decode()


def test_writes_with_three_drives_down_raise_parity_and_heal_back(tmp_path) -> None:
    """Three of nine drive folders unavailable: PUTs (sharded, encrypted, inline) and a multipart
    upload (one part before, one during) are taken, written with parity raised onto the six drives
    left, and read back exactly. Once the drives are back, heal re-encodes what was written 3+6
    into the normal 6+3 layout within seconds (nine shards of every shard set, each about a sixth
    of it: the disk usage is back to 1.5 times the data, the 3+6 shards collected), the bytes read
    back the same, and the objects survive losing three *other* drives."""
    own = start_server(
        str(tmp_path),
        *("--node-probe-interval", "0.5", "--heal-interval", "0.5", "--gc-grace", "0"),
        env={"S3GW_KMS_SECRET_KEY": KMS_KEY},
    )
    try:
        _raise_parity_and_heal_back(own)
    finally:
        own.stop()


def _raise_parity_and_heal_back(own: Server) -> None:
    s3 = s3_client(own)
    s3.create_bucket(Bucket="parity")
    part1 = os.urandom(5 * MiB + 3)
    up = s3.create_multipart_upload(Bucket="parity", Key="mp")["UploadId"]
    e1 = s3.upload_part(Bucket="parity", Key="mp", UploadId=up, PartNumber=1, Body=part1)["ETag"]
    (first,) = shards_per_drive(own)  # part 1, 6+3 on all nine
    down = ["drive7", "drive8", "drive9"]
    move_drives(own, down, away=True)
    wait_until(
        lambda: drive_statuses(own),
        "the three drives to be seen down",
        until=lambda st: all(st[d] != "online" for d in down) and sum(v == "online" for v in st.values()) == 6,
    )
    assert health(own, "/minio/health/cluster") == 200
    blobs = {"big": os.urandom(3 * MiB + 5), "small": b"inline", "empty": b""}
    for k, v in blobs.items():
        s3.put_object(Bucket="parity", Key=k, Body=v)
    blobs["enc"] = os.urandom(2 * MiB + 11)
    s3.put_object(Bucket="parity", Key="enc", Body=blobs["enc"], ServerSideEncryption="AES256")
    part2 = os.urandom(MiB + 7)
    e2 = s3.upload_part(Bucket="parity", Key="mp", UploadId=up, PartNumber=2, Body=part2)["ETag"]
    s3.complete_multipart_upload(
        Bucket="parity",
        Key="mp",
        UploadId=up,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": e1}, {"PartNumber": 2, "ETag": e2}]},
    )
    blobs["mp"] = part1 + part2

    def check() -> None:
        for k, v in blobs.items():
            assert s3.get_object(Bucket="parity", Key=k)["Body"].read() == v, k
        assert (
            s3.get_object(Bucket="parity", Key="mp", Range="bytes=5242870-5242900")["Body"].read()
            == blobs["mp"][5242870:5242901]
        )

    check()
    during = shards_per_drive(own)
    assert len(during) == 4  # big, enc, and the two parts
    written_down = [d for d in during if d != first]
    # big, enc and part 2: 3+6, six shards on the six drives up, each half the object
    assert [sorted(during[d]) for d in written_down] == [[f"drive{i}" for i in range(1, 7)]] * 3
    sizes = {"big": len(blobs["big"]), "enc": len(blobs["enc"]), "part2": len(part2)}  # (enc: about its plaintext)

    def about(shard: int, n: int, k: int) -> bool:  # a k-th of n bytes, with the block hashes and the header
        return abs(shard - n / k) < 0.02 * n / k + 1024

    raised = shard_bytes(own)
    for data_id in written_down:  # a third of its object or part each
        assert any(about(raised[data_id][0], n, 3) for n in sizes.values()), raised[data_id]
    move_drives(own, down, away=False)
    wait_until(
        lambda: shards_per_drive(own),
        "heal to re-encode what was written 3+6 as 6+3 on all nine drives, the 3+6 shards collected",
        timeout=240,
        until=lambda per: (
            len(per) == 4
            and first in per
            and not set(per) & set(written_down)
            and all(v == {f"drive{i}": 1 for i in range(1, 10)} for v in per.values())
        ),
    )
    healed = shard_bytes(own)
    for data_id in set(healed) - {first}:  # a sixth of its object or part each
        per = healed[data_id]
        assert len(set(per)) == 1 and any(about(per[0], n, 6) for n in sizes.values()), per
    stored = sum(sizes.values()) + len(part1)
    assert sum(map(sum, healed.values())) < 1.52 * stored  # 1.5 times the data again (+ hashes, headers)
    check()
    # three other drives lost: every object still reads
    others = ["drive1", "drive2", "drive3"]
    move_drives(own, others, away=True)
    wait_until(
        lambda: drive_statuses(own),
        "the three other drives to be seen down",
        until=lambda st: all(st[d] != "online" for d in others),
    )
    check()
    move_drives(own, others, away=False)


# -------------------------------------------------------------------- 4: temp files swept


def test_temp_files_of_a_crash_are_swept_while_running(tmp_path) -> None:
    srv = start_server(str(tmp_path))
    try:
        s3 = s3_client(srv)
        s3.create_bucket(Bucket="crash")
        put = SlowPut(srv.port, "crash", "obj", srv.access_key, srv.secret_key)
        drives = [os.path.join(str(tmp_path), f"drive{i}") for i in range(1, 10)]
        wait_until(lambda: writing_shards(drives), "the PUT's shards to be in progress on all nine drives")
        os.kill(srv.proc.pid, signal.SIGKILL)
        put.close()
        srv.proc.wait()
    finally:
        srv.stop()
    left = [f for d in range(1, 10) for f in drive_files(srv, f"drive{d}", "tmp")]
    assert len(left) == 9
    # fresh temp files survive the start (younger than the grace); the sweeper takes them later
    srv2 = start_server(str(tmp_path), "--tmp-grace", "3", port=srv.port)
    try:
        wait_until(
            lambda: [f for d in range(1, 10) for f in drive_files(srv2, f"drive{d}", "tmp")],
            "the temp files to be swept",
            until=lambda files: files == [],
        )
        assert s3_client(srv2).list_objects_v2(Bucket="crash").get("KeyCount") == 0
    finally:
        srv2.stop()


# -------------------------------------------------------------------- 5: write intents settle


def test_write_intents_settle_in_a_fault_free_run(own: Server) -> None:
    """Multipart parts (completed, aborted, replaced), a PUT whose Content-MD5 does not match,
    a PUT whose client goes away: no write intent is left once they are done (the orphan
    reaper's grace is an hour here, so only the writes themselves can clear them)."""
    s3 = s3_client(own)
    s3.create_bucket(Bucket="intents")
    part = os.urandom(5 * MiB)
    up = s3.create_multipart_upload(Bucket="intents", Key="mp")["UploadId"]
    e1 = s3.upload_part(Bucket="intents", Key="mp", UploadId=up, PartNumber=1, Body=part)["ETag"]
    s3.upload_part(Bucket="intents", Key="mp", UploadId=up, PartNumber=1, Body=part)  # replaced
    e1 = s3.upload_part(Bucket="intents", Key="mp", UploadId=up, PartNumber=1, Body=part)["ETag"]
    e2 = s3.upload_part(Bucket="intents", Key="mp", UploadId=up, PartNumber=2, Body=b"tail" * 1000)["ETag"]
    s3.complete_multipart_upload(
        Bucket="intents",
        Key="mp",
        UploadId=up,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": e1}, {"PartNumber": 2, "ETag": e2}]},
    )
    up2 = s3.create_multipart_upload(Bucket="intents", Key="gone")["UploadId"]
    s3.upload_part(Bucket="intents", Key="gone", UploadId=up2, PartNumber=1, Body=part)
    s3.abort_multipart_upload(Bucket="intents", Key="gone", UploadId=up2)
    up3 = s3.create_multipart_upload(Bucket="intents", Key="copy")["UploadId"]
    e3 = s3.upload_part_copy(
        Bucket="intents", Key="copy", UploadId=up3, PartNumber=1, CopySource={"Bucket": "intents", "Key": "mp"}
    )["CopyPartResult"]["ETag"]
    s3.complete_multipart_upload(
        Bucket="intents", Key="copy", UploadId=up3, MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": e3}]}
    )
    s3.copy_object(Bucket="intents", Key="copied", CopySource={"Bucket": "intents", "Key": "mp"})
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket="intents", Key="bad-md5", Body=os.urandom(MiB), ContentMD5="1B2M2Y8AsgTpgAmY7PhCfg==")
    assert e.value.response["Error"]["Code"] == "BadDigest"
    put = SlowPut(own.port, "intents", "cut-off", own.access_key, own.secret_key)
    put.close()  # the client goes away mid-body
    s3.put_object(Bucket="intents", Key="plain", Body=os.urandom(MiB))
    wait_until(
        lambda: admin_info(own)["healing"]["write_intents"], "the write intents to settle", until=lambda n: n == 0
    )
