"""The transaction adapter: what the shared S3 state machine (``sql.py``) asks of a backend.

The state machine (versioning, delete markers, multipart complete/abort, ...)
is written once, as ``async`` code against ``Tx``: one open transaction on one
connection. Each backend gives its own ``Tx`` and runs the same code its way:

- PostgreSQL (``postgres.PgTx``): every statement is awaited on a pooled
  asyncpg connection, inside the transaction ``PostgresMeta`` opened (and
  retries, and maps to ``MetaUnavailable``).
- SQLite (``sqlite.SqliteTx``): every statement runs at once on the store's one
  connection, so its methods never suspend and the whole coroutine runs to its
  end in one step (``run_sync``), on the store's worker thread and inside its
  ``BEGIN IMMEDIATE``: one thread hop per transaction, as before, not one per
  statement. (Awaiting anything that really suspends there is a bug, and
  ``run_sync`` says so.)

SQL in the shared code uses ``?`` placeholders; ``numbered`` rewrites them as
PostgreSQL's ``$1 … $n`` (once per statement text). What genuinely differs
between the dialects is a method or attribute of ``Tx``: row locks
(``share_lock``), the per-key lock (``lock_key``), and ``DELETE … RETURNING``
(``delete_returning``).
"""

from __future__ import annotations

import functools
from collections.abc import Coroutine, Sequence
from typing import Any, Protocol, TypeVar

from .rows import Row

T = TypeVar("T")


class Tx(Protocol):
    """One open transaction on one connection; statements use ``?`` placeholders."""

    #: Appended to a ``SELECT`` of a parent row (a bucket, an upload) the
    #: transaction then writes under: PostgreSQL's `` FOR KEY SHARE`` keeps the
    #: row from being deleted until commit while other writers share it. Empty
    #: where a write transaction holds the whole database (SQLite).
    share_lock: str

    async def fetchone(self, sql: str, *args: Any) -> Row | None: ...

    async def fetchall(self, sql: str, *args: Any) -> list[Row]: ...

    async def execute(self, sql: str, *args: Any) -> int:
        """Run one statement; the number of rows it inserted, updated or deleted."""
        ...

    async def executemany(self, sql: str, args: Sequence[Sequence[Any]]) -> None: ...

    async def delete_returning(self, table: str, where: str, cols: str, *args: Any) -> list[Row]:
        """``DELETE FROM table WHERE where``, returning ``cols`` of the rows deleted."""
        ...

    async def lock_key(self, bucket: str, kb: bytes) -> None:
        """Serialise, until commit, the transactions that read-then-write one object key's versions
        (PostgreSQL: an advisory lock; SQLite: nothing to do, one writer at a time)."""
        ...


def placeholders(n: int) -> str:
    """``n`` parameter markers.

    >>> placeholders(3)
    '?,?,?'
    """
    return ",".join("?" * n)


@functools.lru_cache(maxsize=1024)
def numbered(sql: str) -> str:
    """``?`` placeholders as PostgreSQL's ``$1, $2, …``; a ``?`` inside quotes is text.

    >>> numbered("UPDATE t SET a = ? WHERE b = ? AND c <> '?' AND d = ?")
    "UPDATE t SET a = $1 WHERE b = $2 AND c <> '?' AND d = $3"
    """
    out: list[str] = []
    n, quote = 0, ""
    for ch in sql:
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
        elif ch == "?":
            n += 1
            out.append(f"${n}")
            continue
        out.append(ch)
    return "".join(out)


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine that never suspends to its end, here and now, without an event loop.

    >>> async def add(a, b):
    ...     return a + b
    >>> run_sync(add(1, 2))
    3
    """
    try:
        coro.send(None)
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]
    coro.close()
    raise RuntimeError("a transaction run synchronously waited on something (SqliteTx methods never suspend)")
