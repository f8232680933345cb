"""The built-in KMS: sealed data keys open only with their key, version and context."""

from __future__ import annotations

import base64

import pytest

from s3gw.kms import KeyNotFound, KMSError
from s3gw.kms.builtin import BuiltinKMS, parse_secret_key

SECRET = "my-key:" + base64.b64encode(bytes(range(32))).decode()


def test_parse_secret_key_refuses_bad_input() -> None:
    assert parse_secret_key(SECRET) == ("my-key", bytes(range(32)))
    for bad in ("nocolon", ":" + SECRET.split(":")[1], "k:not-base64!", "k:" + base64.b64encode(b"short").decode()):
        with pytest.raises(ValueError):
            parse_secret_key(bad)


async def test_data_key_round_trip_bound_to_context() -> None:
    kms = BuiltinKMS.from_secret_key(SECRET)
    ctx = {"bucket": "b", "key": "k"}
    dk = await kms.generate_data_key("my-key", ctx)
    assert len(dk.plaintext) == 32 and dk.plaintext not in dk.sealed
    assert await kms.decrypt_data_key("my-key", dk.sealed, ctx) == dk.plaintext
    with pytest.raises(KMSError):
        await kms.decrypt_data_key("my-key", dk.sealed, {"bucket": "b", "key": "other"})
    with pytest.raises(KeyNotFound):
        await kms.generate_data_key("nope", ctx)


async def test_rotation_keeps_old_versions_and_rewrap_moves_to_current() -> None:
    kms = BuiltinKMS.from_secret_key(SECRET)
    ctx = {"bucket": "b", "key": "k"}
    old = await kms.generate_data_key("my-key", ctx)
    status = await kms.rotate("my-key")
    assert status.versions == ["1", "2"] and status.current == "2"
    assert await kms.decrypt_data_key("my-key", old.sealed, ctx) == old.plaintext
    new = await kms.reencrypt("my-key", old.sealed, ctx)
    assert new.version == "2" and new.plaintext == old.plaintext
    assert await kms.decrypt_data_key("my-key", new.sealed, ctx) == old.plaintext
