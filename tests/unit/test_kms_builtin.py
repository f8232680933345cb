"""The built-in KMS: sealed data keys open only with their key, version and context."""

from __future__ import annotations

import base64

import pytest

from s3gw.kms import KeyNotFound, KMSError
from s3gw.kms.builtin import BuiltinKMS, derive_version, parse_key_file, parse_secret_key
from s3gw.meta.sqlite import SqliteMeta

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


# --------------------------------------------------------------------------- versions in the metadata store

OTHER = "my-key:" + base64.b64encode(bytes(range(1, 33))).decode()


async def _store(path) -> SqliteMeta:
    meta = SqliteMeta(str(path))
    await meta.open()
    return meta


async def test_versions_survive_a_restart_and_are_shared_by_every_gateway(tmp_path) -> None:
    db = tmp_path / "s3gw.db"
    meta_a, meta_b = await _store(db), await _store(db)  # two gateways on one metadata store
    try:
        ctx = {"bucket": "b", "key": "k"}
        a = BuiltinKMS.from_masters([parse_secret_key(SECRET)], meta_a)
        await a.load()
        b = BuiltinKMS.from_masters([parse_secret_key(SECRET)], meta_b)
        await b.load()
        assert (await b.status("my-key")).versions == ["1"]
        old = await a.generate_data_key("my-key", ctx)
        st = await a.rotate("my-key")
        assert st.versions == ["1", "2"] and st.current == "2" and set(st.created) == {"1", "2"}
        new = await a.generate_data_key("my-key", ctx)
        assert new.version == "2"
        # b opens what a sealed under the version a just made, before it has even looked
        assert await b.decrypt_data_key("my-key", new.sealed, ctx) == new.plaintext
        st_b = await b.status("my-key")  # and sees it as current when it looks
        assert (st_b.versions, st_b.current) == (["1", "2"], "2")
        assert (await b.generate_data_key("my-key", ctx)).version == "2"
    finally:
        await meta_a.close()
        await meta_b.close()
    meta = await _store(db)  # a restart: the versions are still there, the old data keys still open
    try:
        again = BuiltinKMS.from_masters([parse_secret_key(SECRET)], meta)
        await again.load()
        assert (await again.status("my-key")).current == "2"
        assert await again.decrypt_data_key("my-key", old.sealed, ctx) == old.plaintext
        assert await again.decrypt_data_key("my-key", new.sealed, ctx) == new.plaintext
    finally:
        await meta.close()


async def test_another_secret_under_the_same_name_is_refused(tmp_path) -> None:
    meta = await _store(tmp_path / "s3gw.db")
    try:
        await BuiltinKMS.from_masters([parse_secret_key(SECRET)], meta).load()
        with pytest.raises(KMSError, match="not the one"):
            await BuiltinKMS.from_masters([parse_secret_key(OTHER)], meta).load()
    finally:
        await meta.close()


async def test_rotation_when_the_period_is_over(tmp_path) -> None:
    meta = await _store(tmp_path / "s3gw.db")
    try:
        kms = BuiltinKMS.from_masters([parse_secret_key(SECRET)], meta, rotation_period=90 * 86400)
        await kms.load()
        made = (await kms.status("my-key")).created["1"]
        assert await kms.rotate_due(now=made + 89 * 86400) == []
        assert await kms.rotate_due(now=made + 90 * 86400) == ["my-key"]
        st = await kms.status("my-key")
        assert st.current == "2" and st.rotation_enabled
        assert kms.next_rotation("my-key") == st.created["2"] + 90 * 86400
        # a period of 0: only on request
        off = BuiltinKMS.from_masters([parse_secret_key(SECRET)], meta)
        await off.load()
        assert await off.rotate_due(now=made + 10**9) == [] and (await off.status("my-key")).current == "2"
    finally:
        await meta.close()


def test_version_keys_are_derived_and_distinct() -> None:
    master = bytes(range(32))
    keys = {derive_version(master, "my-key", v) for v in range(1, 50)}
    assert len(keys) == 49 and derive_version(master, "my-key", 1) == master
    assert derive_version(master, "other", 2) != derive_version(master, "my-key", 2)


def test_key_file_format() -> None:
    a, b = SECRET, "second:" + base64.b64encode(bytes(32)).decode()
    assert [n for n, _ in parse_key_file(f"# master keys\n{a}\n\n{b}\n")] == ["my-key", "second"]
    for bad, why in (("", "no key"), (f"{a}\n{a}\n", "twice"), (f"{a}\nbroken\n", "line 2")):
        with pytest.raises(ValueError, match=why):
            parse_key_file(bad)
