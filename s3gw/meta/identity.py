"""Credentials and groups in SQL, written once over the transaction adapter (``tx.Tx``).

Users, service accounts and temporary credentials share ``iam_users``
(``UserRecord.kind``; 0004_users.sql, 0006_identity.sql); groups are
``iam_groups`` and ``iam_group_members``. ``SqlMetaStore`` inherits these
methods, so SQLite and PostgreSQL run the same statements (``?`` placeholders,
numbered for PostgreSQL by the adapter). Listings are sorted here by the UTF-8
bytes of the name (S3's order, and the same on both backends whatever their
collation); they are small (people and their keys, not objects).

What must hold together is done in one transaction: removing a user removes its
service accounts, temporary credentials and memberships; a service account is
only created under a user that exists; only users become group members.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from .base import GroupMissing, GroupNotEmpty, MetaStore, UserMissing
from .model import GroupRecord, UserRecord
from .rows import GROUP_COLS, USER_COLS, compact_json, group_from_row, user_from_row, user_params
from .tx import Tx, placeholders

T = TypeVar("T")
TxFn = Callable[[Tx], Coroutine[Any, Any, T]]

_INSERT_USER = f"INSERT INTO iam_users ({USER_COLS}) VALUES ({placeholders(len(USER_COLS.split(',')))})"
_UPDATABLE = {"secret_enc", "key_id", "status", "policies", "updated", "expires", "info"}


def _utf8_order(name: str) -> bytes:
    return name.encode()


class IdentitySql(MetaStore):
    """``MetaStore``'s credential and group methods over ``_transaction`` / ``_reading``."""

    @abc.abstractmethod
    async def _transaction(self, fn: TxFn[T]) -> T: ...

    @abc.abstractmethod
    async def _reading(self, fn: TxFn[T]) -> T: ...

    # -- credentials ------------------------------------------------------------
    async def get_user(self, access_key: str) -> UserRecord | None:
        async def q(tx: Tx) -> UserRecord | None:
            row = await tx.fetchone(f"SELECT {USER_COLS} FROM iam_users WHERE access_key = ?", access_key)
            return user_from_row(row) if row else None

        return await self._reading(q)

    async def list_users(self, kind: str = "user") -> list[UserRecord]:
        async def q(tx: Tx) -> list[UserRecord]:
            rows = await tx.fetchall(f"SELECT {USER_COLS} FROM iam_users WHERE kind = ?", kind)
            return sorted((user_from_row(r) for r in rows), key=lambda u: _utf8_order(u.access_key))

        return await self._reading(q)

    async def put_user(self, rec: UserRecord) -> bool:
        async def tx_(tx: Tx) -> bool:
            if await tx.execute(_INSERT_USER + " ON CONFLICT (access_key) DO NOTHING", *user_params(rec)):
                return True
            await tx.execute(
                "UPDATE iam_users SET secret_enc = ?, key_id = ?, status = ?, policies = ?, updated = ?,"
                " kind = ?, parent = ?, expires = ?, info = ? WHERE access_key = ?",
                rec.secret_enc,
                rec.key_id,
                rec.status,
                ",".join(rec.policies),
                rec.updated,
                rec.kind,
                rec.parent,
                rec.expires,
                compact_json(rec.info),
                rec.access_key,
            )
            return False

        return await self._transaction(tx_)

    async def add_credential(self, rec: UserRecord, *, stored_parent: bool = True) -> bool:
        async def tx_(tx: Tx) -> bool:
            if rec.parent is not None and stored_parent:
                # a credential's parent is a user, never another credential
                row = await tx.fetchone("SELECT kind FROM iam_users WHERE access_key = ?" + tx.share_lock, rec.parent)
                if row is None or row[0] != "user":
                    raise UserMissing(rec.parent)
            return await tx.execute(_INSERT_USER + " ON CONFLICT (access_key) DO NOTHING", *user_params(rec)) > 0

        return await self._transaction(tx_)

    async def update_user(self, access_key: str, **fields: Any) -> bool:
        assert set(fields) <= _UPDATABLE, fields
        vals = [",".join(v) if k == "policies" else compact_json(v) if k == "info" else v for k, v in fields.items()]
        sets = ", ".join(f"{k} = ?" for k in fields)

        async def tx_(tx: Tx) -> bool:
            return await tx.execute(f"UPDATE iam_users SET {sets} WHERE access_key = ?", *vals, access_key) > 0

        return await self._transaction(tx_)

    async def delete_user(self, access_key: str) -> bool:
        async def tx_(tx: Tx) -> bool:
            gone = await tx.execute("DELETE FROM iam_users WHERE access_key = ?", access_key) > 0
            await tx.execute("DELETE FROM iam_users WHERE parent = ?", access_key)
            await tx.execute("DELETE FROM iam_group_members WHERE access_key = ?", access_key)
            return gone

        return await self._transaction(tx_)

    async def list_credentials(self, parent: str, kind: str) -> list[UserRecord]:
        async def q(tx: Tx) -> list[UserRecord]:
            rows = await tx.fetchall(f"SELECT {USER_COLS} FROM iam_users WHERE parent = ? AND kind = ?", parent, kind)
            return sorted((user_from_row(r) for r in rows), key=lambda u: _utf8_order(u.access_key))

        return await self._reading(q)

    async def purge_expired(self, kind: str, now: float) -> int:
        async def tx_(tx: Tx) -> int:
            return await tx.execute("DELETE FROM iam_users WHERE kind = ? AND expires > 0 AND expires < ?", kind, now)

        return await self._transaction(tx_)

    # -- groups -------------------------------------------------------------------
    async def get_group(self, name: str) -> GroupRecord | None:
        async def q(tx: Tx) -> GroupRecord | None:
            row = await tx.fetchone(f"SELECT {GROUP_COLS} FROM iam_groups WHERE name = ?", name)
            if row is None:
                return None
            members = [
                r[0] for r in await tx.fetchall("SELECT access_key FROM iam_group_members WHERE group_name = ?", name)
            ]
            return group_from_row(row, sorted(members, key=_utf8_order))

        return await self._reading(q)

    async def list_groups(self) -> list[str]:
        async def q(tx: Tx) -> list[str]:
            return sorted((r[0] for r in await tx.fetchall("SELECT name FROM iam_groups")), key=_utf8_order)

        return await self._reading(q)

    async def groups_of(self, access_key: str) -> list[GroupRecord]:
        async def q(tx: Tx) -> list[GroupRecord]:
            rows = await tx.fetchall(
                f"SELECT {', '.join('g.' + c.strip() for c in GROUP_COLS.split(','))} FROM iam_groups g"
                " JOIN iam_group_members m ON m.group_name = g.name WHERE m.access_key = ?",
                access_key,
            )
            return sorted((group_from_row(r, []) for r in rows), key=lambda g: _utf8_order(g.name))

        return await self._reading(q)

    async def add_members(self, group: str, members: list[str], now: float) -> None:
        async def tx_(tx: Tx) -> None:
            for m in members:
                row = await tx.fetchone("SELECT kind FROM iam_users WHERE access_key = ?" + tx.share_lock, m)
                if row is None or row[0] != "user":
                    raise UserMissing(m)
            if not await tx.execute(
                "INSERT INTO iam_groups (name, status, policies, created, updated)"
                " VALUES (?, 'enabled', '', ?, ?) ON CONFLICT (name) DO NOTHING",
                group,
                now,
                now,
            ):
                await tx.execute("UPDATE iam_groups SET updated = ? WHERE name = ?", now, group)
            for m in dict.fromkeys(members):
                await tx.execute(
                    "INSERT INTO iam_group_members (group_name, access_key) VALUES (?, ?)"
                    " ON CONFLICT (group_name, access_key) DO NOTHING",
                    group,
                    m,
                )

        await self._transaction(tx_)

    async def remove_members(self, group: str, members: list[str], now: float) -> None:
        async def tx_(tx: Tx) -> None:
            if await tx.fetchone("SELECT 1 FROM iam_groups WHERE name = ?", group) is None:
                raise GroupMissing(group)
            if not members:
                if await tx.fetchone("SELECT 1 FROM iam_group_members WHERE group_name = ?", group) is not None:
                    raise GroupNotEmpty(group)
                await tx.execute("DELETE FROM iam_groups WHERE name = ?", group)
                return
            for m in members:
                if await tx.fetchone("SELECT 1 FROM iam_users WHERE access_key = ? AND kind = 'user'", m) is None:
                    raise UserMissing(m)
            for m in members:
                await tx.execute("DELETE FROM iam_group_members WHERE group_name = ? AND access_key = ?", group, m)
            await tx.execute("UPDATE iam_groups SET updated = ? WHERE name = ?", now, group)

        await self._transaction(tx_)

    async def update_group(
        self, name: str, now: float, *, status: str | None = None, policies: list[str] | None = None
    ) -> bool:
        sets, vals = ["updated = ?"], [now]
        if status is not None:
            sets.append("status = ?")
            vals.append(status)  # type: ignore[arg-type]
        if policies is not None:
            sets.append("policies = ?")
            vals.append(",".join(policies))  # type: ignore[arg-type]

        async def tx_(tx: Tx) -> bool:
            return await tx.execute(f"UPDATE iam_groups SET {', '.join(sets)} WHERE name = ?", *vals, name) > 0

        return await self._transaction(tx_)
