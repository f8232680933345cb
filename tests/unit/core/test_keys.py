"""core/keys.py: the KMS as the admin surfaces see it: a key's versions with their object counts
(the ``count_objects`` hook the object data path fills), MinIO's key check, the errors."""

from __future__ import annotations

import base64

import pytest

from s3gw.core.keys import KeyAdmin, KmsKeyNotFound, KmsNotConfigured
from s3gw.kms.builtin import BuiltinKMS, parse_secret_key

SECRET = "my-key:" + base64.b64encode(bytes(range(32))).decode()


async def test_status_counts_objects_per_version_through_the_hook() -> None:
    keys = KeyAdmin(BuiltinKMS.from_masters([parse_secret_key(SECRET)], rotation_period=86400))
    st = await keys.status()
    assert st["key_id"] == "my-key" and st["default"] and [v["objects"] for v in st["versions"]] == [None]
    await keys.rotate()

    async def count(key_id: str) -> dict[str, int]:  # what the SSE data path reports
        assert key_id == "my-key"
        return {"1": 7}

    keys.count_objects = count
    st = await keys.status("my-key")
    assert [(v["version"], v["objects"]) for v in st["versions"]] == [("1", 7), ("2", 0)] and st["current"] == "2"
    assert st["rotation_period"] == 86400 and st["next_rotation"] == st["versions"][1]["created"] + 86400


async def test_minios_key_check_and_the_errors() -> None:
    keys = KeyAdmin(BuiltinKMS.from_secret_key(SECRET))
    assert await keys.check() == {"key-id": "my-key", "encryption-error": "", "decryption-error": ""}
    assert "does not exist" in (await keys.check("nope"))["encryption-error"]
    with pytest.raises(KmsKeyNotFound):
        await keys.status("nope")
    none = KeyAdmin(None)
    assert not none.configured
    with pytest.raises(KmsNotConfigured, match="KMS is not configured"):
        await none.status()
