"""The transaction adapter (s3gw/meta/tx.py) and the rule it serves: the S3 state machine
(versioning, delete markers, multipart) exists once, in s3gw/meta/sql.py, for every SQL backend."""

from __future__ import annotations

import asyncio
import inspect

import pytest

from s3gw.meta import tx
from s3gw.meta.postgres import PgTx, PostgresMeta
from s3gw.meta.sql import SqlMetaStore
from s3gw.meta.sqlite import SqliteMeta, SqliteTx

#: transactions written once in SqlMetaStore: a backend that defines one again has a second copy
SHARED = (
    "get_version",
    "put_version",
    "delete_object",
    "update_info",
    "update_layout",
    "enqueue_gc",
    "create_upload",
    "get_upload",
    "put_part",
    "list_parts",
    "abort_upload",
    "complete_upload",
)


@pytest.mark.parametrize("backend", [SqliteMeta, PostgresMeta])
def test_backends_do_not_copy_the_state_machine(backend: type) -> None:
    assert issubclass(backend, SqlMetaStore)
    copies = [name for name in SHARED if name in backend.__dict__]
    assert not copies, f"{backend.__name__} defines {copies} again: change s3gw/meta/sql.py instead"
    for name in SHARED:
        assert name in SqlMetaStore.__dict__


@pytest.mark.parametrize("adapter", [SqliteTx, PgTx])
def test_adapters_have_the_tx_interface(adapter: type) -> None:
    """Each backend's adapter has every member of ``tx.Tx``, with the same parameters."""
    members = [m for m in vars(tx.Tx) if not m.startswith("_")] + ["share_lock"]
    for name in members:
        assert hasattr(adapter, name), f"{adapter.__name__} lacks {name}"
        want = getattr(tx.Tx, name, None)
        if callable(want):
            got = getattr(adapter, name)
            assert inspect.iscoroutinefunction(got), name
            assert list(inspect.signature(got).parameters) == list(inspect.signature(want).parameters), name
    assert isinstance(adapter.share_lock, str)


def test_numbered_placeholders() -> None:
    assert tx.numbered("SELECT 1") == "SELECT 1"
    assert tx.numbered("INSERT INTO t (a, b) VALUES (?,?)") == "INSERT INTO t (a, b) VALUES ($1,$2)"
    assert tx.numbered("SELECT '?', \"a?\" FROM t WHERE x = ?") == "SELECT '?', \"a?\" FROM t WHERE x = $1"


def test_run_sync_refuses_a_coroutine_that_suspends() -> None:
    async def suspends() -> int:
        await asyncio.sleep(0)
        return 1

    with pytest.raises(RuntimeError, match="waited on something"):
        tx.run_sync(suspends())


def test_run_sync_passes_errors_through() -> None:
    async def fails() -> None:
        raise KeyError("x")

    with pytest.raises(KeyError):
        tx.run_sync(fails())
