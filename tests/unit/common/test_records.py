"""The stored records (s3gw/common/records.py) against the rows existing databases hold.

The JSON texts below were written by s3gw before these records existed (the
code of the previous release: a PutObject with every option, an
erasure-coded object, a tag change, a delete marker, a multipart upload in
progress and completed, a GC queue item). Every one must load, and written
back it must give the same bytes, or (one case: the multipart info, whose
keys the old code happened to write in another order) the same JSON.
"""

from __future__ import annotations

import json

import pytest

from s3gw.common.records import (
    Checksum,
    ObjectInfo,
    ObjectLayout,
    Part,
    RecordError,
    Retention,
    ShardSet,
)
from s3gw.meta.model import PartRecord, UploadRecord
from s3gw.meta.rows import (
    compact_json,
    part_from_row,
    part_params,
    shard_set_from_json,
    shard_set_json,
    upload_from_row,
    upload_params,
    version_from_row,
    version_params,
)

PLACEMENT = '["drive8","drive2","drive6","drive7","drive5","drive3","drive1","drive4","drive9"]'

#: versions.info, as written by PutObject (compact JSON)
INFO_FULL = (
    '{"ct":"text/plain","meta":{"x-amz-meta-a":"1"},"hdr":{"cache-control":"no-cache"},'
    '"ck":{"algo":"CRC32","value":"NhCmhg==","type":"FULL_OBJECT"},"sc":"REDUCED_REDUNDANCY",'
    '"tags":{"t":"v"},"ret":{"mode":"GOVERNANCE","until":4071006245.0},"hold":"ON"}'
)
INFO_PLAIN = '{"ct":"binary/octet-stream"}'
INFO_TAGGED = '{"ct":"binary/octet-stream","tags":{"k":"v"}}'  # PutObjectTagging afterwards
INFO_MARKER = "{}"  # a delete marker
#: versions.layout of an erasure-coded object
LAYOUT_EC = (
    '{"v":1,"data_id":"ce7775e659df4a9d9db4ab983ddd715d","size":200000,"k":6,"m":3,"ec":"isa_l_rs_vand",'
    '"block_size":1048576,"frag_size":174843,"last_frag_size":33414,"stripes":1,"hash":"blake3",'
    f'"placement":{PLACEMENT},"missing":[]}}'
)
#: a completed multipart object: its info (ck last: the old code appended it) and its layout
INFO_MULTIPART_OLD = (
    '{"ct":"a/b","meta":{"x-amz-meta-z":"1"},"tags":{"a":"b"},'
    '"ck":{"algo":"CRC32","value":"FPcpcg==-2","type":"COMPOSITE"}}'
)
LAYOUT_MULTIPART = (
    '{"parts":[{"number":1,"size":5242880,"etag":"25dc625054c138018d0e84cc23647720","layout":{"v":1,'
    '"data_id":"d208062be4954a71a7314fe6f7b16f7a","size":5242880,"k":6,"m":3,"ec":"isa_l_rs_vand",'
    '"block_size":1048576,"frag_size":174843,"last_frag_size":174843,"stripes":5,"hash":"blake3",'
    f'"placement":{PLACEMENT},"missing":[]}},"ck":{{"algo":"CRC32","value":"aXi+nw=="}}}},'
    '{"number":2,"size":1000,"etag":"80e612441605909f790be421c9461323","layout":{"v":1,'
    '"data_id":"fe6db333b0584284b8cde65474434bc8","size":1000,"k":6,"m":3,"ec":"isa_l_rs_vand",'
    '"block_size":1048576,"frag_size":174843,"last_frag_size":247,"stripes":1,"hash":"blake3",'
    f'"placement":{PLACEMENT},"missing":[2]}},"ck":{{"algo":"CRC32","value":"na5ZzQ=="}}}}]}}'
)
#: uploads.info and parts.info / parts.layout / gc_queue.layout (json.dumps' spacing)
UPLOAD_INFO = (
    '{"ct": "a/b", "meta": {"x-amz-meta-z": "1"}, "tags": {"a": "b"}, "ck_algo": "CRC32", "ck_type": "COMPOSITE"}'
)
PART_INFO = '{"ck": {"algo": "SHA1", "value": "qZk+NkcGgWq6PiVxeFDCbJzQ2J0=", "type": "FULL_OBJECT"}}'
SPACED_SHARD_SET = (
    '{"v": 1, "data_id": "e0a2c03d660c4f4291adaeac9ef0e6d4", "size": 3, "k": 6, "m": 3, "ec": "isa_l_rs_vand", '
    '"block_size": 1048576, "frag_size": 174843, "last_frag_size": 81, "stripes": 1, "hash": "blake3", '
    '"placement": ["drive6", "drive5", "drive1", "drive3", "drive9", "drive7", "drive4", "drive8", "drive2"], '
    '"missing": []}'
)


def version_row(info: str, layout: str | None, inline: bytes | None = None) -> tuple:
    return ("b", b"k", "v1", 3, 1, int(info == INFO_MARKER), 5, "e" * 32, 1.5, info, layout, inline)


@pytest.mark.parametrize(
    "info, layout, inline",
    [
        (INFO_FULL, None, b"hello"),
        (INFO_PLAIN, LAYOUT_EC, None),
        (INFO_TAGGED, None, b"x"),
        (INFO_MARKER, None, None),
        (INFO_PLAIN, LAYOUT_MULTIPART, None),
    ],
)
def test_old_version_rows_load_and_write_back_the_same_bytes(
    info: str, layout: str | None, inline: bytes | None
) -> None:
    rec = version_from_row(version_row(info, layout, inline))
    params = version_params(rec)
    assert params[9] == info
    assert params[10] == layout


def test_old_multipart_info_loads_and_writes_back_the_same_json() -> None:
    rec = version_from_row(version_row(INFO_MULTIPART_OLD, LAYOUT_MULTIPART))
    assert rec.info == ObjectInfo(
        content_type="a/b",
        user_meta={"x-amz-meta-z": "1"},
        tags={"a": "b"},
        checksum=Checksum("CRC32", "FPcpcg==-2", "COMPOSITE"),
    )
    written = version_params(rec)[9]
    assert json.loads(written) == json.loads(INFO_MULTIPART_OLD)
    # the keys in the order the record lists them (the order of a plain PUT)
    assert list(json.loads(written)) == ["ct", "meta", "ck", "tags"]


def test_typed_fields_of_old_rows() -> None:
    rec = version_from_row(version_row(INFO_FULL, None, b"hello"))
    info = rec.info
    assert (info.content_type, info.user_meta, info.headers) == (
        "text/plain",
        {"x-amz-meta-a": "1"},
        {"cache-control": "no-cache"},
    )
    assert info.checksum == Checksum("CRC32", "NhCmhg==", "FULL_OBJECT")
    assert (info.storage_class, info.tags, info.legal_hold) == ("REDUCED_REDUNDANCY", {"t": "v"}, "ON")
    assert info.retention == Retention("GOVERNANCE", 4071006245.0)
    assert rec.layout is None and rec.layouts() == []

    mp = version_from_row(version_row(INFO_PLAIN, LAYOUT_MULTIPART)).layout
    assert mp is not None and mp.shards is None and mp.parts is not None
    assert [(p.number, p.size, p.checksum) for p in mp.parts] == [
        (1, 5242880, Checksum("CRC32", "aXi+nw==")),
        (2, 1000, Checksum("CRC32", "na5ZzQ==")),
    ]
    assert [s.data_id for s in mp.layouts()] == ["d208062be4954a71a7314fe6f7b16f7a", "fe6db333b0584284b8cde65474434bc8"]
    assert mp.parts[1].shards.missing == (2,) and mp.parts[0].shards.stripes == 5
    assert mp.segments()[1] == (1000, mp.parts[1].shards)

    ec = version_from_row(version_row(INFO_PLAIN, LAYOUT_EC)).layout
    assert ec is not None and ec.parts is None and ec.layouts() == [ec.shards]
    assert ec.shards is not None and (ec.shards.k, ec.shards.m, ec.shards.n) == (6, 3, 9)


def test_upload_part_and_queue_rows() -> None:
    up = upload_from_row(("u1", "b", b"mp", 1.0, UPLOAD_INFO))
    assert (up.info.checksum_algo, up.info.checksum_type) == ("CRC32", "COMPOSITE")
    assert upload_params(up)[4] == UPLOAD_INFO
    part = part_from_row(("u1", 1, 3, "e", 1.0, PART_INFO, SPACED_SHARD_SET))
    assert part.info.checksum == Checksum("SHA1", "qZk+NkcGgWq6PiVxeFDCbJzQ2J0=", "FULL_OBJECT")
    assert part_params(part)[5:] == (PART_INFO, SPACED_SHARD_SET)
    assert shard_set_json(shard_set_from_json(SPACED_SHARD_SET)) == SPACED_SHARD_SET
    assert isinstance(part, PartRecord) and isinstance(up, UploadRecord)


def test_keys_this_release_does_not_know_are_kept() -> None:
    """A newer release's fields survive a rewrite by this one (a tag change of a replicated object)."""
    info = ObjectInfo.from_json({"ct": "x", "repl": {"status": "PENDING"}, "tags": {"a": "b"}})
    assert info.extra == {"repl": {"status": "PENDING"}}
    info.tags = {}
    assert info.to_json() == {"ct": "x", "repl": {"status": "PENDING"}}
    # and inside a known record: an encryption's
    sse = {"alg": "AES256", "key_id": "k", "sealed": "cw==", "iv": "aQ==", "size": 3, "wrap": 2}
    info = ObjectInfo.from_json({"ct": "x", "sse": sse})
    assert info.sse is not None and info.sse.size == 3 and info.sse.extra == {"wrap": 2}
    assert info.to_json() == {"ct": "x", "sse": sse}
    stored = json.loads(LAYOUT_MULTIPART)
    stored["repl"] = "PENDING"
    stored["parts"][0]["layout"]["tier"] = "warm"
    stored["parts"][1]["enc"] = 1
    assert ObjectLayout.from_json(stored).to_json() == stored


def test_new_records_write_what_the_old_writers_wrote() -> None:
    info = ObjectInfo(
        content_type="text/plain",
        user_meta={"x-amz-meta-a": "1"},
        headers={"cache-control": "no-cache"},
        checksum=Checksum("CRC32", "NhCmhg==", "FULL_OBJECT"),
        storage_class="REDUCED_REDUNDANCY",
        tags={"t": "v"},
        retention=Retention("GOVERNANCE", 4071006245.0),
        legal_hold="ON",
    )
    assert compact_json(info.to_json()) == INFO_FULL
    assert compact_json(ObjectInfo().to_json()) == INFO_MARKER
    shards = ShardSet.from_json(json.loads(LAYOUT_EC))
    built = ShardSet(shards.data_id, 200000, 6, 3, "isa_l_rs_vand", 1048576, 174843, 33414, "blake3", shards.placement)
    assert compact_json(ObjectLayout.single(built).to_json()) == LAYOUT_EC


#: the smallest shard set there is (one data shard on drive "d"); the cases below change one thing
SMALLEST = {
    "data_id": "a",
    "size": 1,
    "k": 1,
    "m": 0,
    "ec": "stripe",
    "block_size": 1,
    "frag_size": 1,
    "last_frag_size": 1,
    "hash": "blake3",
    "placement": ["d"],
}


@pytest.mark.parametrize(
    "bad",
    [
        {**SMALLEST, "data_id": "../etc"},
        {**SMALLEST, "k": 2},  # placement shorter than k+m
        {"v": 2, **SMALLEST},  # a format this release does not read
        {"size": 3},
        [],
    ],
)
def test_impossible_shard_sets_are_refused(bad: object) -> None:
    ShardSet.from_json(SMALLEST)  # what each case changes is what is wrong
    with pytest.raises(RecordError):
        ShardSet.from_json(bad)


def test_a_layout_is_one_shard_set_or_parts() -> None:
    s = ShardSet.from_json(json.loads(LAYOUT_EC))
    with pytest.raises(RecordError):
        ObjectLayout()
    with pytest.raises(RecordError):
        ObjectLayout(shards=s, parts=(Part(1, 1, "e", s),))
    with pytest.raises(RecordError):
        ObjectLayout.from_json({"parts": [{"number": 1, "size": 1}]})  # a part without its shard set
    two = ObjectLayout.multipart([Part(1, 1, "e", s), Part(2, 1, "f", s)])
    other = ShardSet.from_json({**json.loads(LAYOUT_EC), "data_id": "other"})
    moved = two.with_layout(1, other)
    assert [x.data_id for x in moved.layouts()] == [s.data_id, "other"] and two.parts[1].shards == s
    assert ObjectLayout.single(s).with_layout(0, other).layouts() == [other]
