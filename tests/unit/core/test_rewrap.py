"""Re-wrapping data keys (``Core.rewrap_keys``, ``s3gw admin kms rewrap``): after the built-in KMS
rotates its master key, every SSE-S3/SSE-KMS version's sealed data key is re-sealed under the new
version, no data rewritten, every object still readable; a second run finds nothing to do.
Real SQLite metadata and real drives; the built-in KMS."""

from __future__ import annotations

import os

import pytest

from s3gw.core.service import Core, PutOptions
from s3gw.core.sse import SSERequest
from s3gw.kms.builtin import BuiltinKMS
from s3gw.meta.sqlite import SqliteMeta
from s3gw.storage import Storage
from tests.unit.core.test_repair import BLOCK, Body


@pytest.fixture
async def core(tmp_path):
    meta = SqliteMeta(str(tmp_path / "meta.db"))
    await meta.open()
    storage = Storage.local(str(tmp_path), block_size=BLOCK, fsync=False)
    c = Core(meta, storage)
    c.kms = BuiltinKMS.from_secret_key("k1:" + "A" * 43 + "=")
    await c.create_bucket("bkt")
    await c.set_versioning("bkt", "Enabled")
    yield c
    await storage.close()
    await meta.close()


async def read(core: Core, key: str, version_id: str | None = None) -> bytes:
    r = await core.get_object("bkt", key, version_id=version_id)
    assert r.body is not None
    return b"".join([c async for c in r.body])


async def test_rotate_then_rewrap_keeps_every_object_readable(core: Core) -> None:
    small, big = b"small object", os.urandom(300_000)
    old = await core.put_object("bkt", "a", Body(small), PutOptions(sse=SSERequest("AES256")))
    await core.put_object("bkt", "a", Body(big), PutOptions(sse=SSERequest("aws:kms", context={"p": "q"})))
    await core.put_object("bkt", "plain", Body(b"plain"), PutOptions())
    assert core.kms is not None
    await core.kms.rotate("k1")
    # written after the rotation: already under version 2
    await core.put_object("bkt", "new", Body(b"new"), PutOptions(sse=SSERequest("AES256")))
    summary = await core.rewrap_keys()
    assert (summary.scanned, summary.encrypted, summary.rewrapped, summary.current, summary.failed) == (4, 3, 2, 1, 0)
    for key in ("a", "new"):
        rec = await core.get_record("bkt", key, None)
        assert rec.info.sse is not None and rec.info.sse.key_version == "2"
    assert await read(core, "a") == big
    assert await read(core, "a", old.version_id) == small
    assert await read(core, "plain") == b"plain"
    again = await core.rewrap_keys("bkt")
    assert (again.rewrapped, again.current) == (0, 3)
