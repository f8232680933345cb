"""A PostgreSQL failure during COMMIT (issue 14, defect 6): the answer to the COMMIT of a
write is lost although the write committed (failpoint ``commit-reply-lost``: the
transaction commits, then its connection is dropped). The write must not answer 503
when it took effect, and when the outcome stays unknown the client's retry of the same
PUT must not store the object twice. A real PostgreSQL (``private_postgres``), real drives.
"""

from __future__ import annotations

import os

import pytest

from s3gw.core import errors as E
from s3gw.core.conditions import Conditions
from s3gw.core.multipart import MIN_PART_SIZE, CompletedPart
from s3gw.core.service import Core, PutOptions
from s3gw.meta.base import MetaUnavailable
from s3gw.meta.postgres import PostgresMeta
from s3gw.storage import Storage
from tests.unit.core.test_repair import BLOCK, Body
from tests.waiting import async_wait_until


@pytest.fixture
async def core(private_postgres, tmp_path):
    meta = PostgresMeta(private_postgres.dsn(), timeout=5.0, connect_timeout=2.0)
    await meta.open()
    storage = Storage.local(str(tmp_path), block_size=BLOCK, fsync=False)
    c = Core(meta, storage)
    await c.create_bucket("bkt")
    await c.set_versioning("bkt", "Enabled")
    yield c
    for t in list(c._settling):
        t.cancel()
    await storage.close()
    await meta.close()


async def versions(core: Core, key: str) -> list[str]:
    page = await core.list_versions("bkt", key, "", "", "", 100)
    return [v.version_id for v in page.entries if v.key == key]


async def read(core: Core, key: str) -> bytes:
    r = await core.get_object("bkt", key)
    return b"".join([c async for c in r.body])


async def test_a_commit_whose_answer_was_lost_succeeds(core: Core, monkeypatch) -> None:
    """The COMMIT landed, its answer was lost: the PUT finds out and succeeds (not 503)."""
    data = os.urandom(3 * BLOCK + 5)
    monkeypatch.setenv("S3GW_FAILPOINT", "commit-reply-lost")
    rec = await core.put_object("bkt", "k", Body(data), PutOptions())
    monkeypatch.delenv("S3GW_FAILPOINT")
    assert await versions(core, "k") == [rec.version_id]
    assert await read(core, "k") == data


async def test_an_unknown_outcome_is_503_and_the_retry_stores_it_once(core: Core, monkeypatch) -> None:
    """The store does not answer again in time to tell (settle_time shorter than the 1 s
    the store fails fast after an outage): 503 with the outcome unknown. The client's
    retry of the same PUT is answered with the version that did commit: one version, not two."""
    data = os.urandom(2 * BLOCK + 7)
    core.settle_time = 0.2
    monkeypatch.setenv("S3GW_FAILPOINT", "commit-reply-lost")
    with pytest.raises(E.OutcomeUnknown):
        await core.put_object("bkt", "k", Body(data), PutOptions())
    monkeypatch.delenv("S3GW_FAILPOINT")
    core.settle_time = 10.0
    # the client retries once the service answers again (the store fails fast for a moment)
    await async_wait_until(core.meta.ping, "the store to answer again", ignore=(MetaUnavailable,), until=lambda _: True)
    again = await core.put_object("bkt", "k", Body(data), PutOptions())
    assert await versions(core, "k") == [again.version_id]
    assert await read(core, "k") == data


async def test_a_copy_whose_commit_answer_was_lost_succeeds(core: Core, monkeypatch) -> None:
    """CopyObject goes through the same commit: a lost COMMIT answer is found out, not a 503."""
    data = os.urandom(2 * BLOCK + 3)
    await core.put_object("bkt", "src", Body(data), PutOptions())
    monkeypatch.setenv("S3GW_FAILPOINT", "commit-reply-lost")
    _, dst = await core.copy_object(
        "bkt", "src", None, "bkt", "dst", cond=Conditions(), replace_meta=False, replace_tags=False, opts=PutOptions()
    )
    monkeypatch.delenv("S3GW_FAILPOINT")
    assert await versions(core, "dst") == [dst.version_id]
    assert await read(core, "dst") == data


async def test_a_complete_whose_commit_answer_was_lost_succeeds(core: Core, monkeypatch) -> None:
    """CompleteMultipartUpload too: the object is there once, answered as stored."""
    first, last = os.urandom(MIN_PART_SIZE), os.urandom(BLOCK + 9)
    up = await core.create_upload("bkt", "mp", PutOptions())
    p1 = await core.upload_part("bkt", "mp", up.upload_id, 1, Body(first), PutOptions())
    p2 = await core.upload_part("bkt", "mp", up.upload_id, 2, Body(last), PutOptions())
    monkeypatch.setenv("S3GW_FAILPOINT", "commit-reply-lost")
    rec = await core.complete_upload("bkt", "mp", up.upload_id, [CompletedPart(1, p1.etag), CompletedPart(2, p2.etag)])
    monkeypatch.delenv("S3GW_FAILPOINT")
    assert await versions(core, "mp") == [rec.version_id]
    assert await read(core, "mp") == first + last
