"""Run-time configuration in SQL (0007_config.sql), written once over the transaction
adapter like ``identity.py``: the values set through the admin API and their history."""

from __future__ import annotations

import abc
import uuid
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from .base import MetaStore
from .tx import Tx

T = TypeVar("T")
TxFn = Callable[[Tx], Coroutine[Any, Any, T]]

#: history rows kept (older ones go when a change is recorded)
HISTORY_KEPT = 100


class ConfigSql(MetaStore):
    """``MetaStore``'s run-time configuration methods over ``_transaction`` / ``_reading``."""

    @abc.abstractmethod
    async def _transaction(self, fn: TxFn[T]) -> T: ...

    @abc.abstractmethod
    async def _reading(self, fn: TxFn[T]) -> T: ...

    async def get_config(self) -> dict[tuple[str, str], str]:
        async def q(tx: Tx) -> dict[tuple[str, str], str]:
            return {(r[0], r[1]): r[2] for r in await tx.fetchall("SELECT subsys, name, value FROM config_kv")}

        return await self._reading(q)

    async def set_config(self, values: dict[tuple[str, str], str | None], history: str | None, now: float) -> str:
        async def tx_(tx: Tx) -> str:
            for (subsys, name), value in values.items():
                if value is None:
                    await tx.execute("DELETE FROM config_kv WHERE subsys = ? AND name = ?", subsys, name)
                elif not await tx.execute(
                    "UPDATE config_kv SET value = ?, updated = ? WHERE subsys = ? AND name = ?",
                    value,
                    now,
                    subsys,
                    name,
                ):
                    await tx.execute(
                        "INSERT INTO config_kv (subsys, name, value, updated) VALUES (?, ?, ?, ?)",
                        subsys,
                        name,
                        value,
                        now,
                    )
            rid = ""
            if history is not None:
                rid = str(uuid.uuid4())
                await tx.execute(
                    "INSERT INTO config_history (restore_id, created, data) VALUES (?, ?, ?)", rid, now, history
                )
                await tx.execute(
                    "DELETE FROM config_history WHERE id NOT IN (SELECT id FROM config_history"
                    " ORDER BY id DESC LIMIT ?)",
                    HISTORY_KEPT,
                )
            return rid

        return await self._transaction(tx_)

    async def config_history(self, limit: int) -> list[tuple[str, float, str]]:
        async def q(tx: Tx) -> list[tuple[str, float, str]]:
            rows = await tx.fetchall(
                "SELECT restore_id, created, data FROM config_history ORDER BY id DESC LIMIT ?", limit
            )
            return [(r[0], r[1], r[2]) for r in rows]

        return await self._reading(q)

    async def get_config_history(self, restore_id: str) -> tuple[float, str] | None:
        async def q(tx: Tx) -> tuple[float, str] | None:
            row = await tx.fetchone("SELECT created, data FROM config_history WHERE restore_id = ?", restore_id)
            return (row[0], row[1]) if row else None

        return await self._reading(q)

    async def clear_config_history(self, restore_id: str | None) -> int:
        async def tx_(tx: Tx) -> int:
            if restore_id is None:
                return await tx.execute("DELETE FROM config_history")
            return await tx.execute("DELETE FROM config_history WHERE restore_id = ?", restore_id)

        return await self._transaction(tx_)
