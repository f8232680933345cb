"""Core errors say what went wrong and to what (bucket, key, version, the record found), never HTTP:
the API renders headers from this context (tests/unit/api/test_errors.py)."""

from __future__ import annotations

import pytest

from s3gw.core import errors as E
from s3gw.core.conditions import Conditions
from s3gw.core.ranges import parse_range
from s3gw.core.service import Core, PutOptions
from s3gw.meta.sqlite import SqliteMeta
from s3gw.storage import Storage


class Body:
    """A request body (the core's Payload) from bytes."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    async def __aiter__(self):
        yield self.data

    async def trailers(self) -> dict[str, str]:
        return {}


@pytest.fixture
async def core(tmp_path):
    meta = SqliteMeta(str(tmp_path / "meta.db"))
    await meta.open()
    storage = Storage.local(str(tmp_path), fsync=False)
    c = Core(meta, storage)
    await c.create_bucket("bkt")
    yield c
    await storage.close()
    await meta.close()


async def test_missing_things_are_named(core: Core) -> None:
    with pytest.raises(E.NoSuchBucket) as e:
        await core.get_record("nobkt", "k", None)
    assert (e.value.bucket, e.value.key, e.value.record) == ("nobkt", "", None)
    with pytest.raises(E.NoSuchKey) as e:
        await core.get_record("bkt", "absent", None)
    assert (e.value.bucket, e.value.key, e.value.version_id, e.value.record) == ("bkt", "absent", None, None)
    vid = "0b7e4c3a-4f4e-4c55-9d8d-1f0e2a3b4c5d"
    with pytest.raises(E.NoSuchVersion) as e:
        await core.get_record("bkt", "absent", vid)
    assert (e.value.key, e.value.version_id) == ("absent", vid)
    with pytest.raises(E.NoSuchUpload) as e:
        await core.list_parts("bkt", "k", "no-such-upload", 0, 10)
    assert (e.value.bucket, e.value.key) == ("bkt", "k")


async def test_a_delete_marker_is_the_record_of_the_error(core: Core) -> None:
    await core.set_versioning("bkt", "Enabled")
    await core.put_object("bkt", "k", Body(b"x"), PutOptions())
    _, marker = await core.delete_object("bkt", "k")
    assert marker is not None and marker.delete_marker
    with pytest.raises(E.NoSuchKey) as e:
        await core.get_object("bkt", "k")
    assert e.value.record == marker and (e.value.key, e.value.version_id) == ("k", marker.version_id)
    with pytest.raises(E.MethodNotAllowed) as e2:
        await core.get_object("bkt", "k", version_id=marker.version_id)
    assert e2.value.record == marker


async def test_read_failures_carry_the_version_read(core: Core) -> None:
    rec = await core.put_object("bkt", "k", Body(b"hello"), PutOptions())
    with pytest.raises(E.NotModified) as e:
        await core.get_object("bkt", "k", cond=Conditions(if_none_match=f'"{rec.etag}"'))
    assert e.value.record is not None and e.value.record.etag == rec.etag
    with pytest.raises(E.PreconditionFailed) as e3:
        await core.get_object("bkt", "k", cond=Conditions(if_match='"0000"'))
    assert e3.value.record is not None and e3.value.record.version_id == rec.version_id
    with pytest.raises(E.RangeWithPartNumber) as e4:
        await core.get_object("bkt", "k", range_header="bytes=0-1", part_number=1)
    assert e4.value.code == "InvalidRequest" and e4.value.record is not None
    with pytest.raises(E.InvalidRange) as e5:
        await core.get_object("bkt", "k", range_header="bytes=10-20")
    assert e5.value.object_size == 5
    with pytest.raises(E.InvalidRange) as e6:
        parse_range("bytes=-0", 7)
    assert e6.value.object_size == 7
