"""Run-time configuration: the part of a gateway's configuration an operator may change
while it runs (``mc admin config get|set|reset|history|restore``), in MinIO's KV format
(``api requests_max=512 cors_allow_origin=https://app.example.com``).

* **What can change** (``SCHEMA``): the API's in-flight request cap, CORS origins and
  expiry of stale multipart uploads, the
  heal worker's interval, the scanner's cycle, pace and deep-scan cadence. A few static
  keys (the region, the erasure coding) are shown too, read-only: they are fixed when a
  deployment starts, and setting them is refused.
* **Where it lives**: values set at run time are rows of the metadata store
  (``config_kv``, migration 0007), overriding each gateway's start-up configuration; a
  reset removes the row (the start-up value applies again). Each change is recorded
  (``config_history``, the last 100) and can be restored.
* **How every gateway follows**: each gateway process reads the rows once a second
  (``follow``) and applies what changed through the appliers the server registered
  (``on``); the process that made a change applies it at once. A gateway that cannot read
  the store keeps what it has.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..meta.base import MetaStore
from .iam import IamError

log = logging.getLogger(__name__)

POLL = 1.0


class ConfigError(IamError):
    """A configuration change that cannot be made: MinIO answers these XMinioAdminConfigBadJSON."""

    code = "XMinioAdminConfigBadJSON"
    status = 400


class NoSuchRestore(IamError):
    code = "XMinioConfigError"  # MinIO: the history entry is not found
    status = 404


# --------------------------------------------------------------------------- values

_GO_DURATION = re.compile(r"(\d+(?:\.\d*)?)(ns|us|µs|ms|s|m|h)")
_UNIT = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(text: str) -> float:
    """Go's time.Duration text in seconds (``1h30m``, ``250ms``, ``0s``).

    >>> parse_duration("1m30s"), parse_duration("250ms"), parse_duration("0")
    (90.0, 0.25, 0.0)
    """
    if text == "0":
        return 0.0
    if not text or len(text) > 64:
        raise ValueError(f"invalid duration {text!r}")
    pos, total = 0, 0.0
    for m in _GO_DURATION.finditer(text):
        if m.start() != pos:
            raise ValueError(f"invalid duration {text!r}")
        total += float(m.group(1)) * _UNIT[m.group(2)]
        pos = m.end()
    if pos != len(text):
        raise ValueError(f"invalid duration {text!r}")
    return total


def format_duration(seconds: float) -> str:
    """Seconds as Go prints a duration (``1h0m0s`` style, shortest exact form here).

    >>> format_duration(3600), format_duration(90), format_duration(0.01), format_duration(5)
    ('1h', '1m30s', '10ms', '5s')
    """
    if seconds == 0:
        return "0s"
    if seconds < 1:
        ms = seconds * 1000
        return f"{ms:g}ms" if ms >= 1 else f"{seconds * 1e6:g}us"
    whole = int(seconds)
    frac = seconds - whole
    h, rest = divmod(whole, 3600)
    m, s = divmod(rest, 60)
    out = (f"{h}h" if h else "") + (f"{m}m" if m else "")
    if s or frac or not out:
        out += f"{s + frac:g}s"
    return out


@dataclass(frozen=True)
class Key:
    subsys: str
    name: str
    kind: str  # duration | count | origins | text
    help: str
    static: bool = False
    minimum: float = 0.0

    def parse(self, raw: str) -> Any:
        """The typed value of ``raw``; ValueError with MinIO-like words when it is not one."""
        if self.kind == "duration":
            v = parse_duration(raw)
            if v < self.minimum:
                raise ValueError(f"{self.subsys} {self.name} must be at least {format_duration(self.minimum)}")
            return v
        if self.kind == "count":
            if not raw.isascii() or not raw.isdigit() or len(raw) > 9:
                raise ValueError(f"{self.subsys} {self.name}: '{raw}' is not a whole number")
            return int(raw)
        if self.kind == "origins":
            origins = tuple(o.strip() for o in raw.split(",") if o.strip())
            if not origins or any(len(o) > 512 or any(c in o for c in ' \t\r\n"') for o in origins):
                raise ValueError(f"{self.subsys} {self.name}: '{raw}' is not a list of origins")
            return origins
        return raw

    def render(self, value: Any) -> str:
        if self.kind == "duration":
            return format_duration(float(value))
        if self.kind == "origins":
            return ",".join(value)
        return str(value)


#: sub-system -> (its description, its keys)
SCHEMA: dict[str, tuple[str, tuple[Key, ...]]] = {
    "api": (
        "manage global HTTP API call specific features",
        (
            Key(
                "api",
                "requests_max",
                "count",
                "set the maximum number of concurrent requests per gateway process, "
                "0 for no limit (s3gw's server.max_requests)",
            ),
            Key("api", "cors_allow_origin", "origins", "set comma separated list of origins allowed for CORS requests"),
            Key(
                "api",
                "stale_uploads_expiry",
                "duration",
                "set to expire stale multipart uploads older than this values, 0 for never (s3gw's "
                "api.stale_uploads_expiry)",
            ),
            Key(
                "api",
                "stale_uploads_cleanup_interval",
                "duration",
                "set to change intervals when stale multipart uploads are expired",
                minimum=1.0,
            ),
        ),
    ),
    "heal": (
        "manage object healing frequency and bitrot verification checks",
        (
            Key(
                "heal",
                "interval",
                "duration",
                "seconds between drains of the heal queue (s3gw's heal_interval)",
                minimum=0.05,
            ),
        ),
    ),
    "scanner": (
        "manage namespace scanning for usage calculation, lifecycle, healing and more",
        (
            Key("scanner", "cycle", "duration", "time between scanner cycles (s3gw's scan_interval)", minimum=1.0),
            Key("scanner", "pace", "duration", "pause between two versions scanned (s3gw's scan_pace)"),
            Key("scanner", "deep_every", "count", "every Nth cycle reads and verifies every shard, 0 for never"),
        ),
    ),
    "site": (
        "label the server and its location",
        (Key("site", "region", "text", 'name of the location of the server e.g. "us-west-1" (static)', static=True),),
    ),
    "storage_class": (
        "define object level redundancy",
        (
            Key(
                "storage_class",
                "standard",
                "text",
                "erasure coding of new objects, EC:parity (static: fixed by the deployment's storage.erasure_coding)",
                static=True,
            ),
        ),
    ),
}
KEYS: dict[tuple[str, str], Key] = {(k.subsys, k.name): k for _, keys in SCHEMA.values() for k in keys}

_LINE = re.compile(r'([A-Za-z0-9_]+)=("(?:[^"\\]|\\.)*"|[^\s"]*)')


def parse_kv(text: str) -> list[tuple[str, dict[str, str]]]:
    """MinIO's KV input: lines of ``subsys[:target] key=value key2="a value"``; comments skipped.

    >>> parse_kv('api requests_max=8 cors_allow_origin="https://a.b"')
    [('api', {'requests_max': '8', 'cors_allow_origin': 'https://a.b'})]
    """
    out = []
    for raw_line in text.splitlines():
        line = raw_line.strip()
        if not line or line.startswith("#"):
            continue
        subsys, _, rest = line.partition(" ")
        if ":" in subsys:
            raise ConfigError(f"sub-system '{subsys.split(':', 1)[0]}' does not support multiple targets")
        kvs: dict[str, str] = {}
        pos = 0
        rest = rest.strip()
        for m in _LINE.finditer(rest):
            if rest[pos : m.start()].strip():
                raise ConfigError(f"invalid config input: '{rest[pos : m.start()].strip()}'")
            v = m.group(2)
            kvs[m.group(1)] = v[1:-1].replace('\\"', '"') if v.startswith('"') else v
            pos = m.end()
        if rest[pos:].strip():
            raise ConfigError(f"invalid config input: '{rest[pos:].strip()}'")
        out.append((subsys, kvs))
    return out


def _check_subsys(subsys: str) -> None:
    if subsys not in SCHEMA:
        raise ConfigError(f"unknown sub-system {subsys}")


# --------------------------------------------------------------------------- the service


class RuntimeConfig:
    """The run-time configuration of one gateway process (module doc)."""

    def __init__(self, meta: MetaStore, startup: dict[tuple[str, str], Any]) -> None:
        self.meta = meta
        self.startup = dict(startup)  # (subsys, key) -> typed start-up value
        self._stored: dict[tuple[str, str], str] = {}
        self._appliers: dict[tuple[str, str], Callable[[Any], None]] = {}
        self._applied: dict[tuple[str, str], Any] = {}

    def on(self, subsys: str, name: str, apply: Callable[[Any], None]) -> None:
        """Call ``apply(value)`` whenever the effective value of subsys.name changes (and now)."""
        self._appliers[(subsys, name)] = apply

    def value(self, subsys: str, name: str) -> Any:
        key = KEYS[(subsys, name)]
        raw = self._stored.get((subsys, name))
        if raw is not None and not key.static:
            try:
                return key.parse(raw)
            except ValueError:
                log.error("config %s %s: stored value %r does not parse: the start-up value holds", subsys, name, raw)
        return self.startup[(subsys, name)]

    def _apply(self) -> None:
        for k, fn in self._appliers.items():
            v = self.value(*k)
            if self._applied.get(k, object()) != v:
                try:
                    fn(v)
                except Exception:  # noqa: BLE001 - one bad applier must not stop the others
                    log.exception("config %s %s: applying %r failed", k[0], k[1], v)
                self._applied[k] = v

    async def refresh(self) -> None:
        self._stored = await self.meta.get_config()
        self._apply()

    async def follow(self, interval: float = POLL) -> None:
        """Apply what other gateways (or processes) change, polling the store."""
        while True:
            try:
                await self.refresh()
            except Exception as e:  # noqa: BLE001 - an outage: keep what we have
                log.debug("config poll: %s", e)
            await asyncio.sleep(interval)

    # -- the admin API's operations ----------------------------------------------------
    def render(self, subsys: str = "") -> str:
        """MinIO's get-config-kv text: one line per sub-system, ``subsys k=v ...``."""
        names = [subsys] if subsys else list(SCHEMA)
        for n in names:
            _check_subsys(n)
        lines = []
        for n in names:
            parts = []
            for key in SCHEMA[n][1]:
                v = key.render(self.value(n, key.name))
                parts.append(f'{key.name}="{v}"' if (" " in v or not v) else f"{key.name}={v}")
            lines.append(f"{n} " + " ".join(parts))
        return "\n".join(lines) + "\n"

    async def set(self, text: str) -> None:
        """Set values from KV text; all or nothing. Static keys, unknown ones, bad values: refused."""
        changes: dict[tuple[str, str], str | None] = {}
        for subsys, kvs in parse_kv(text):
            _check_subsys(subsys)
            if not kvs:
                raise ConfigError(f"no keys given for sub-system '{subsys}'")
            unknown = [k for k in kvs if (subsys, k) not in KEYS]
            if unknown:
                bad = " ".join(f"{k}={kvs[k]}" for k in unknown)
                raise ConfigError(
                    f"found invalid keys ({bad}) for '{subsys}' sub-system, use 'mc admin config "
                    f"reset myminio {subsys}' to fix invalid keys"
                )
            for name, raw in kvs.items():
                key = KEYS[(subsys, name)]
                if key.static and raw == key.render(self.value(subsys, name)):
                    continue  # an exported configuration given back: static keys unchanged
                if key.static:
                    raise ConfigError(f"'{subsys} {name}' is static in s3gw: set it in the configuration and restart")
                try:
                    key.parse(raw)
                except ValueError as e:
                    raise ConfigError(str(e)) from None
                changes[(subsys, name)] = raw
        if not changes:
            return
        await self.meta.set_config(changes, text.strip(), time.time())
        await self.refresh()

    async def reset(self, text: str) -> None:
        """``subsys`` (every key) or ``subsys key ...``: back to the start-up values."""
        changes: dict[tuple[str, str], str | None] = {}
        for raw_line in text.splitlines():
            words = raw_line.split()
            if not words:
                continue
            subsys, names = words[0], words[1:]
            _check_subsys(subsys)
            for n in names:
                if "=" in n or (subsys, n) not in KEYS:
                    raise ConfigError(f"found invalid keys ({n}) for '{subsys}' sub-system")
            for key in SCHEMA[subsys][1]:
                if not names or key.name in names:
                    changes[(subsys, key.name)] = None
        if not changes:
            raise ConfigError("no configuration given")
        await self.meta.set_config(changes, None, time.time())
        await self.refresh()

    async def history(self, count: int) -> list[tuple[str, float, str]]:
        return await self.meta.config_history(max(1, min(count, 1000)))

    async def restore(self, restore_id: str) -> None:
        entry = await self.meta.get_config_history(restore_id)
        if entry is None:
            raise NoSuchRestore(f"Unable to find configuration history for {restore_id}")
        await self.set(entry[1])

    async def clear_history(self, restore_id: str) -> None:
        await self.meta.clear_config_history(None if restore_id == "all" else restore_id)

    def help(self, subsys: str = "", key: str = "") -> dict[str, Any]:
        """madmin's Help document: the sub-systems, or one sub-system's keys (or one key)."""
        if not subsys:
            return {
                "subSys": "",
                "description": "",
                "multipleTargets": False,
                "keysHelp": [
                    {"key": n, "description": d, "optional": False, "type": "string", "multipleTargets": False}
                    for n, (d, _) in SCHEMA.items()
                ],
            }
        _check_subsys(subsys)
        desc, keys = SCHEMA[subsys]
        if key and (subsys, key) not in KEYS:
            raise ConfigError(f"unknown key {key} for sub-system {subsys}")
        return {
            "subSys": subsys,
            "description": desc,
            "multipleTargets": False,
            "keysHelp": [
                {
                    "key": k.name,
                    "description": k.help,
                    "optional": True,
                    "type": "duration"
                    if k.kind == "duration"
                    else "number"
                    if k.kind == "count"
                    else "csv"
                    if k.kind == "origins"
                    else "string",
                    "multipleTargets": False,
                }
                for k in keys
                if not key or k.name == key
            ],
        }


__all__ = ["ConfigError", "KEYS", "RuntimeConfig", "SCHEMA", "format_duration", "parse_duration", "parse_kv"]
