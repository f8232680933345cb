"""Fixtures for the storage tests."""

from __future__ import annotations

import pytest

from s3gw.storage import Storage

from .helpers import BLOCK, ProxyDrive, local_drives


@pytest.fixture
async def storage(tmp_path):
    st = Storage(
        [ProxyDrive(d) for d in local_drives(tmp_path)],
        block_size=BLOCK,
        write_batch_bytes=2 * BLOCK,
        read_batch_bytes=2 * BLOCK,
        read_batch_max_bytes=4 * BLOCK,
    )
    yield st
    await st.close()
