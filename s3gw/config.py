"""The configuration: one declarative schema, read from a YAML file, the environment and the command line.

    s3gw serve --config /etc/s3gw/config.yaml
    s3gw config check /etc/s3gw/config.yaml
    python -m s3gw.config          # the table of every key (docs/metadata.md holds it)

Every setting of the gateway is declared once in ``SCHEMA``: its key, type,
default and what it does, and the ``s3gw serve`` flag and environment variable
that set it. The keys of the deployment guide's ``config.yaml`` are all
accepted as written; the few that name a feature s3gw does not have
(``storage.replication``) are accepted with a warning that says so. ``server_config`` turns the validated values into the
``ServerConfig`` the composition root (``s3gw/server.py``) builds from; its
defaults are the schema's.

Precedence, lowest first: defaults, the file, environment variables (``S3GW_``
+ the key path in capitals, dots as underscores: ``S3GW_SERVER_PORT=9000``,
``S3GW_CACHE_REDIS_ENDPOINTS=a:6379,b:6379``; a few keys keep an older name,
``S3GW_ACCESS_LOG`` for ``log.access``; MinIO's name, where it has one, below
the ``S3GW_*`` one), then command-line flags given explicitly.

Secrets are never read from the YAML in plain text (unless
``security.allow_plaintext_secrets: true``): they come from the environment or
from files named in it or in the YAML (``*_file`` keys; ``*_FILE`` variables,
the Docker/Kubernetes secrets convention; ``s3gw/credentials.py``):

=================  =========================================  =================================
secret             environment                                file
=================  =========================================  =================================
DB password        S3GW_DB_PASSWORD, DB_PASSWORD              database.password_file, S3GW_DB_PASSWORD_FILE
Redis password     S3GW_REDIS_PASSWORD                        cache.redis.password_file, S3GW_REDIS_PASSWORD_FILE
root credentials   S3GW_ROOT_USER/_PASSWORD, MINIO_ROOT_*     security.root_user_file/root_password_file, S3GW_ROOT_*_FILE
cluster secret     S3GW_CLUSTER_SECRET                        storage.secret_file, S3GW_CLUSTER_SECRET_FILE
metrics token      S3GW_METRICS_TOKEN                         metrics.token_file, S3GW_METRICS_TOKEN_FILE
KMS master keys    S3GW_KMS_SECRET_KEY, MINIO_KMS_SECRET_KEY  security.encryption.key_file, S3GW_KMS_SECRET_KEY_FILE
=================  =========================================  =================================

Unknown keys and bad values stop the start with a message naming the key.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from .credentials import DEFAULT_PASSWORD, DEFAULT_USER, old_root_credentials, read_secret, root_credentials, secret
from .kms.builtin import parse_key_file, parse_secret_key
from .kms.settings import KMSSettings

ENV_PREFIX = "S3GW_"


class ConfigError(ValueError):
    """A bad configuration: the message names the key (or variable) and what is wrong."""


# --------------------------------------------------------------------------- value parsers


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, None: 1}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGT]i?B?|B)?\s*$", re.I)


def parse_duration(v: Any) -> float:
    """Seconds, from a number (seconds) or Go-style text.

    >>> parse_duration("30s"), parse_duration("1h"), parse_duration("500ms"), parse_duration(2), parse_duration("2160h")
    (30.0, 3600.0, 0.5, 2.0, 7776000.0)
    """
    if isinstance(v, bool):
        raise ValueError("expected a duration like 30s, 500ms, 1h")
    if isinstance(v, (int, float)):
        return float(v)
    m = _DURATION.match(str(v))
    if not m:
        raise ValueError(f"expected a duration like 30s, 500ms, 1h, not {v!r}")
    return float(m.group(1)) * _UNITS[m.group(2)]


def parse_size(v: Any) -> int:
    """Bytes, from a number or text with a unit (KiB/MiB/GiB are 1024-based, KB/MB/GB 1000-based).

    >>> parse_size(67108864), parse_size("64MiB"), parse_size("1MB"), parse_size("4k")
    (67108864, 67108864, 1000000, 4096)
    """
    if isinstance(v, bool):
        raise ValueError("expected a size like 1048576 or 64MiB")
    if isinstance(v, int):
        return v
    m = _SIZE.match(str(v))
    if not m:
        raise ValueError(f"expected a size like 1048576 or 64MiB, not {v!r}")
    unit = (m.group(2) or "B").upper()
    if unit == "B":
        mult = 1
    else:
        power = "KMGT".index(unit[0]) + 1
        mult = (1000 if unit.endswith("B") and "I" not in unit else 1024) ** power
    return int(float(m.group(1)) * mult)


def _int(lo: int | None = None, hi: int | None = None) -> Callable[[Any], int]:
    def parse(v: Any) -> int:
        if isinstance(v, bool) or not isinstance(v, (int, str)):
            raise ValueError(f"expected an integer, not {v!r}")
        try:
            n = int(v)
        except ValueError:
            raise ValueError(f"expected an integer, not {v!r}") from None
        if lo is not None and n < lo or hi is not None and n > hi:
            raise ValueError(f"{n} is out of range [{lo if lo is not None else ''}, {hi if hi is not None else ''}]")
        return n

    return parse


def _bool(v: Any) -> bool:
    if isinstance(v, bool):
        return v
    if isinstance(v, str) and v.lower() in ("true", "yes", "on", "1", "false", "no", "off", "0"):
        return v.lower() in ("true", "yes", "on", "1")
    raise ValueError(f"expected true or false, not {v!r}")


def _str(v: Any) -> str:
    if isinstance(v, (dict, list)) or v is None:
        raise ValueError(f"expected a string, not {v!r}")
    return str(v)


def _enum(*choices: str) -> Callable[[Any], str]:
    def parse(v: Any) -> str:
        s = _str(v).lower()
        if s not in choices:
            raise ValueError(f"expected one of {', '.join(choices)}, not {v!r}")
        return s

    return parse


def _list(v: Any) -> list[str]:
    if isinstance(v, str):
        return [p.strip() for p in v.split(",") if p.strip()]
    if not isinstance(v, list):
        raise ValueError(f"expected a list, not {v!r}")
    return [_str(x) for x in v]


def _origins(v: Any) -> list[str]:
    """CORS origins: a list, or text with commas (MinIO's form). An empty entry is an error, as in MinIO;
    empty text is MinIO's default, any origin."""
    if isinstance(v, str):
        if not v.strip():
            return ["*"]
        items = [p.strip() for p in v.split(",")]
    elif isinstance(v, list):
        items = [_str(x).strip() for x in v]
    else:
        raise ValueError(f"expected a list of origins, not {v!r}")
    if any(not p for p in items):
        raise ValueError("an empty origin in the list")
    return items


def _networks(v: Any) -> list[str]:
    """Addresses or CIDR networks (``10.0.0.0/8``, ``2001:db8::1``), as a list or comma-separated."""
    out = []
    for item in _list(v):
        try:
            out.append(str(ipaddress.ip_network(item, strict=False)))
        except ValueError:
            raise ValueError(f"{item!r} is not an IP address or network") from None
    return out


def _dur(lo: float = 0.0) -> Callable[[Any], float]:
    def parse(v: Any) -> float:
        d = parse_duration(v)
        if d < lo:
            raise ValueError(f"must be at least {lo}s")
        return d

    _KINDS[parse] = "duration"
    return parse


_KINDS: dict[Callable[[Any], Any], str] = {parse_duration: "duration", parse_size: "size"}


def _workers(v: Any) -> int:
    if isinstance(v, str) and v.lower() == "auto":
        return 0
    return _int(0, 256)(v)


def _log_dest(v: Any) -> str:
    """Where a JSON log goes: stderr, stdout, off, or a file path (empty: stderr).

    >>> _log_dest(False), _log_dest("off"), _log_dest(""), _log_dest("/var/log/s3gw/access.log")
    ('off', 'off', 'stderr', '/var/log/s3gw/access.log')
    """
    if v is False:  # YAML reads a bare `off` (file or variable) as false
        return "off"
    if v is True:
        raise ValueError("expected stderr, stdout, off or a file, not true")
    return _str(v) or "stderr"


def _metrics_auth(v: Any) -> str:
    return _enum("bearer", "public")(v or "bearer")


def _minio_prometheus_auth(v: str) -> str:
    """MinIO's MINIO_PROMETHEUS_AUTH_TYPE: ``public``, or anything else (``jwt``) for a bearer token."""
    return "public" if v.strip().lower() == "public" else "bearer"


# --------------------------------------------------------------------------- the schema


# --------------------------------------------------------------------------- notification targets

#: the settings each kind of notification target takes (MinIO's names, lower case; ``*_file``: a secret's file)
NOTIFY_FIELDS: dict[str, tuple[str, ...]] = {
    "webhook": (
        "enable",
        "endpoint",
        "auth_token",
        "auth_token_file",
        "queue_dir",
        "queue_limit",
        "client_cert",
        "client_key",
        "comment",
    ),
    "redis": (
        "enable",
        "address",
        "key",
        "format",
        "password",
        "password_file",
        "user",
        "queue_dir",
        "queue_limit",
        "comment",
    ),
    "postgresql": (
        "enable",
        "connection_string",
        "connection_string_file",
        "table",
        "format",
        "queue_dir",
        "queue_limit",
        "max_open_connections",
        "comment",
    ),
}
NOTIFY_REQUIRED = {"webhook": ("endpoint",), "redis": ("address", "key"), "postgresql": ("connection_string", "table")}
NOTIFY_SECRETS = {"auth_token", "password", "connection_string"}
#: the environment's name of each kind (MINIO_NOTIFY_POSTGRES_*: the target is "postgresql")
NOTIFY_ENV_KINDS = {"WEBHOOK": "webhook", "REDIS": "redis", "POSTGRES": "postgresql"}
_NOTIFY_ENV = re.compile(r"^(MINIO|S3GW)_NOTIFY_(WEBHOOK|REDIS|POSTGRES)_([A-Z0-9_]+)$")
_TARGET_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_ON = ("on", "true", "yes", "1")


def _notify_targets(kind: str) -> Callable[[Any], dict[str, dict[str, str]]]:
    """``notify.<kind>``: target id -> its settings (a mapping of MinIO's field names)."""

    def parse(v: Any) -> dict[str, dict[str, str]]:
        if v in (None, ""):
            return {}
        if not isinstance(v, Mapping):
            raise ValueError("expected a mapping of target id -> settings")
        out: dict[str, dict[str, str]] = {}
        for tid, settings in v.items():
            tid = str(tid)
            if not _TARGET_ID.match(tid):
                raise ValueError(f"target id {tid!r}: letters, digits, '-' and '_' only")
            if not isinstance(settings, Mapping):
                raise ValueError(f"{tid}: expected a mapping of settings")
            unknown = sorted(set(map(str, settings)) - set(NOTIFY_FIELDS[kind]))
            if unknown:
                raise ValueError(f"{tid}: unknown setting {unknown[0]} (known: {', '.join(NOTIFY_FIELDS[kind])})")
            out[tid] = {str(k): ("on" if x is True else "off" if x is False else str(x)) for k, x in settings.items()}
        return out

    return parse


def _notify_env_field(kind: str, rest: str) -> tuple[str, str] | None:
    """(field, target id) of the tail of a MINIO_NOTIFY_<KIND>_ variable: the longest field name
    it starts with, then nothing (MinIO's default target, id ``_``) or ``_<ID>``."""
    for f in sorted(NOTIFY_FIELDS[kind], key=len, reverse=True):
        up = f.upper()
        if rest == up:
            return f, "_"
        if rest.startswith(up + "_") and len(rest) > len(up) + 1:
            return f, rest[len(up) + 1 :]
    return None


def notify_targets(cfg: Config, env: Mapping[str, str]) -> tuple[tuple[str, str, dict[str, str]], ...]:
    """The enabled notification targets, (kind, id, settings), from ``notify.*`` and the
    environment (``MINIO_NOTIFY_WEBHOOK_ENDPOINT_<ID>``, ..., and the same under ``S3GW_``,
    which wins). A target set in the environment needs its ``ENABLE`` on, as in MinIO; one in
    the file is on unless ``enable: off``. ``*_file`` settings are read here."""
    found: dict[tuple[str, str], dict[str, str]] = {}
    for kind in NOTIFY_FIELDS:
        for tid, settings in cfg[f"notify.{kind}"].items():
            for f in NOTIFY_SECRETS & set(settings):
                if settings[f] and not cfg["security.allow_plaintext_secrets"]:
                    raise ConfigError(
                        f"{cfg.source[f'notify.{kind}']}: notify.{kind}.{tid}.{f}: secrets are not read from the "
                        f"configuration in plain text; use {f}_file or the environment "
                        "(or set security.allow_plaintext_secrets: true)"
                    )
            found[(kind, tid)] = {"enable": "on", **settings}
    for prefix in ("MINIO", "S3GW"):  # S3GW_ wins
        for name, value in sorted(env.items()):
            m = _NOTIFY_ENV.match(name)
            if not m or m.group(1) != prefix:
                continue
            kind = NOTIFY_ENV_KINDS[m.group(2)]
            parsed = _notify_env_field(kind, m.group(3))
            if parsed is None:
                raise ConfigError(f"environment: {name} names no {kind} notification setting")
            f, tid = parsed
            if not _TARGET_ID.match(tid):
                raise ConfigError(f"environment: {name}: target id {tid!r}: letters, digits, '-' and '_' only")
            found.setdefault((kind, tid), {"enable": "off"})[f] = value
    out = []
    for (kind, tid), settings in sorted(found.items()):
        if settings.get("enable", "off").lower() not in _ON:
            continue
        for f in [k for k in settings if k.endswith("_file")]:
            path = settings.pop(f)
            try:
                with open(path) as fh:
                    settings[f[: -len("_file")]] = fh.read().strip()
            except OSError as e:
                raise ConfigError(f"notify.{kind}.{tid}.{f}: cannot read {path}: {e.strerror}") from None
        missing = [f for f in NOTIFY_REQUIRED[kind] if not settings.get(f)]
        if missing:
            raise ConfigError(f"notify.{kind}.{tid}: {missing[0]} is required for an enabled {kind} target")
        fmt = settings.get("format", "")
        if fmt and fmt not in ("namespace", "access"):
            raise ConfigError(f"notify.{kind}.{tid}.format: namespace or access, not {fmt!r}")
        out.append((kind, tid, settings))
    return tuple(out)


@dataclass(frozen=True)
class Key:
    """One setting: its key path, parser, default and meaning, and the flag and variable that set it."""

    path: str
    parse: Callable[[Any], Any]
    default: Any
    help: str
    secret: bool = False  # plain-text secrets are refused unless allowed
    no_effect: str = ""  # accepted for the guide's sake; warn with this reason
    flag: str = ""  # the `s3gw serve` option that sets it ("": none)
    old_flags: tuple[str, ...] = ()  # earlier names of that option, still accepted
    env: str = ""  # its variable when not the derived S3GW_<PATH> (an older, documented name)
    metavar: str = ""
    many: bool = False  # the flag may be repeated, each time one more item of a list

    @property
    def env_name(self) -> str:
        """``S3GW_`` + the key path in capitals, dots as underscores, unless the key keeps an older name."""
        return self.env or ENV_PREFIX + self.path.replace(".", "_").upper()

    @property
    def dest(self) -> str:
        """The argparse attribute of its flag (``--node-read-timeout`` -> ``node_read_timeout``)."""
        return self.flag.lstrip("-").replace("-", "_")


SCHEMA: list[Key] = [
    # server
    Key(
        "server.host",
        _str,
        "127.0.0.1",
        "listen address (0.0.0.0: every interface; then root credentials are required)",
    ),
    Key("server.port", _int(1, 65535), 8080, "HTTP port of the S3 API"),
    Key("server.tls_port", _int(1, 65535), 8443, "HTTPS port, when security.tls is set"),
    Key(
        "server.read_timeout",
        _dur(),
        30.0,
        "longest wait for the next piece of a request body (0: none)",
        flag="--body-read-timeout",
        metavar="DURATION",
    ),
    Key(
        "server.write_timeout",
        _dur(),
        30.0,
        "longest wait for a client to take the next piece of a response (0: none)",
        flag="--body-write-timeout",
        metavar="DURATION",
    ),
    Key(
        "server.read_header_timeout",
        _dur(),
        30.0,
        "longest a client may take from the first to the last byte of a request head; then the connection is "
        "closed (0: none)",
        flag="--read-header-timeout",
        metavar="DURATION",
    ),
    Key(
        "server.idle_timeout",
        _dur(),
        30.0,
        "a connection with no request in progress is closed after this long (0: never)",
        flag="--idle-timeout",
        metavar="DURATION",
    ),
    Key(
        "server.max_connections",
        _int(0, 1_000_000),
        4096,
        "open client connections per gateway process; past it a connection is answered 503 SlowDown (0: no cap)",
        flag="--max-connections",
        metavar="N",
    ),
    Key(
        "server.max_requests",
        _int(0, 1_000_000),
        1024,
        "requests in progress per gateway process; past it a request is answered 503 SlowDown (0: no cap)",
        flag="--max-requests",
        metavar="N",
    ),
    Key(
        "server.workers",
        _workers,
        "auto",
        "gateway processes sharing the port (auto: one per core)",
        flag="--workers",
        metavar="N",
    ),
    Key(
        "server.event_loop",
        _enum("auto", "asyncio", "uvloop"),
        "auto",
        "event loop: uvloop (faster sockets) or asyncio; auto: uvloop when it is installed",
        flag="--event-loop",
        metavar="LOOP",
    ),
    Key(
        "server.data", _str, "", "data directory: embedded drives and the SQLite metadata", flag="--data", metavar="DIR"
    ),
    Key("server.region", _str, "us-east-1", "the region the gateway answers for", flag="--region"),
    Key("server.domains", _list, [], "domains for virtual-hosted-style requests", flag="--domain", many=True),
    Key(
        "server.trusted_proxies",
        _networks,
        [],
        "proxies (addresses or CIDR networks) whose `X-Forwarded-For` gives `aws:SourceIp` (docs/policies.md); "
        "none: the peer address",
    ),
    # the S3 API
    Key(
        "api.cors_allow_origin",
        _origins,
        ["*"],
        "origins browsers may call the API from (CORS, docs/operations.md); a list or comma-separated text, "
        "`*` as wildcard (`https://*.example.com`)",
        flag="--cors-allow-origin",
        metavar="ORIGINS",
    ),
    Key(
        "api.stale_uploads_expiry",
        _dur(),
        86400.0,
        "multipart uploads not completed this long after they began are aborted, in every bucket (MinIO's "
        "default: 24h; 0: never)",
        flag="--stale-uploads-expiry",
        metavar="DURATION",
    ),
    Key(
        "api.stale_uploads_cleanup_interval",
        _dur(1.0),
        6 * 3600.0,
        "time between sweeps for stale multipart uploads (one gateway sweeps at a time)",
        flag="--stale-uploads-cleanup-interval",
        metavar="DURATION",
    ),
    # lifecycle (docs/data-management.md)
    Key(
        "lifecycle.interval",
        _dur(0.1),
        3600.0,
        "time between lifecycle passes over a bucket (one gateway applies a bucket's rules at a time)",
        flag="--lifecycle-interval",
        metavar="DURATION",
    ),
    Key(
        "lifecycle.day_seconds",
        _dur(1.0),
        86400.0,
        'the length of a lifecycle "day" in seconds: 86400 in production; tests shorten it so rules '
        "measured in days run in seconds",
        metavar="DURATION",
    ),
    # bucket replication (core/replicate.py)
    Key(
        "replication.lag_warning",
        _dur(1.0),
        600.0,
        "bucket replication: /health/ready warns when the oldest queued copy is older than this",
        flag="--replication-lag-warning",
        metavar="DURATION",
    ),
    # database
    Key(
        "database.driver",
        _enum("sqlite", "postgres"),
        "",
        "sqlite or postgres (default: postgres when database.host is set)",
    ),
    Key("database.path", _str, "", "SQLite file (default: DATA/meta/s3gw.db)"),
    Key("database.host", _str, "", "PostgreSQL host"),
    Key("database.port", _int(1, 65535), 5432, "PostgreSQL port"),
    Key("database.name", _str, "s3gw", "PostgreSQL database"),
    Key("database.user", _str, "s3gw", "PostgreSQL role"),
    Key(
        "database.password",
        _str,
        "",
        "plain-text password: refused unless security.allow_plaintext_secrets",
        secret=True,
    ),
    Key("database.password_file", _str, "", "file holding the PostgreSQL password"),
    Key(
        "database.sslmode",
        _enum("disable", "allow", "prefer", "require", "verify-ca", "verify-full"),
        "prefer",
        "TLS to PostgreSQL, as libpq's sslmode (verify-full: the server's certificate and host name are checked)",
    ),
    Key(
        "database.ca_file",
        _str,
        "",
        "PEM CA bundle to verify PostgreSQL's certificate with (libpq's sslrootcert; verify-ca and verify-full; "
        "empty: the system's CAs)",
    ),
    Key("database.max_connections", _int(1, 10000), 20, "connection pool size, per gateway process"),
    Key("database.max_idle", _int(0, 10000), 2, "connections kept open while idle (the pool's minimum)"),
    Key("database.max_lifetime", _dur(), 300.0, "an idle connection is closed after this long"),
    Key("database.timeout", _dur(0.1), 10.0, "longest a metadata operation may take (then 503)"),
    Key("database.connect_timeout", _dur(0.1), 5.0, "longest a new connection may take"),
    Key("database.startup_wait", _dur(), 30.0, "how long a starting gateway waits for the database"),
    Key(
        "database.auto_migrate",
        _bool,
        True,
        "apply pending migrations at start (else: refuse, run `s3gw meta migrate`)",
    ),
    # storage
    Key("storage.erasure_coding.data_shards", _int(1, 32), 6, "k: data shards per stripe"),
    Key("storage.erasure_coding.parity_shards", _int(0, 16), 3, "m: parity shards per stripe"),
    Key(
        "storage.erasure_coding.chunk_size",
        parse_size,
        1 << 20,
        "erasure block size in bytes (a stripe of k fragments)",
    ),
    Key("storage.drives", _int(1, 1024), 9, "embedded drives under the data directory"),
    Key(
        "storage.nodes",
        _list,
        [],
        "storage node URLs, comma separated (empty: the embedded drives)",
        flag="--nodes",
        metavar="URLS",
    ),
    Key(
        "storage.secret_file",
        _str,
        "",
        "file holding the cluster secret shared with the nodes",
        flag="--secret-file",
        metavar="FILE",
    ),
    Key(
        "storage.node_ca_file",
        _str,
        "",
        "PEM CA bundle to verify https:// storage nodes with (empty: the system's CAs)",
        flag="--node-ca-file",
        metavar="FILE",
    ),
    Key(
        "storage.node_probe_interval",
        _dur(),
        2.0,
        "time between health probes of every storage node (embedded: of every drive)",
        flag="--node-probe-interval",
        old_flags=("--probe-interval",),
        metavar="DURATION",
    ),
    Key(
        "storage.node_read_timeout",
        _dur(),
        10.0,
        "longest a storage node may take to answer a shard read (of a first 4 MiB read batch; "
        "larger read-ahead batches get as much per byte) before parity is read instead",
        flag="--node-read-timeout",
        old_flags=("--read-timeout",),
        metavar="DURATION",
    ),
    Key(
        "storage.node_stall_timeout",
        _dur(),
        15.0,
        "longest a storage node may stall a shard upload before its shard counts as failed",
        flag="--node-stall-timeout",
        old_flags=("--stall-timeout",),
        metavar="DURATION",
    ),
    Key(
        "storage.tmp_grace",
        _dur(1.0),
        3600.0,
        "embedded drives: temp files of writes cut off (a crash) older than this are removed (at start, then "
        "periodically)",
        flag="--tmp-grace",
        metavar="DURATION",
    ),
    Key(
        "storage.replication.factor",
        _int(1, 16),
        1,
        "",
        no_effect="s3gw protects data by erasure coding, not replication",
    ),
    Key(
        "storage.replication.cross_region",
        _bool,
        False,
        "",
        no_effect="replication is configured per bucket with `s3gw admin replicate add` and "
        "PutBucketReplication (docs/data-management.md)",
    ),
    # background repair (docs/cluster.md)
    Key(
        "repair.heal_interval",
        _dur(),
        5.0,
        "time between passes over the heal queue",
        flag="--heal-interval",
        metavar="DURATION",
    ),
    Key(
        "repair.scan_interval",
        _dur(),
        3600.0,
        "time between scanner passes over every version",
        flag="--scan-interval",
        metavar="DURATION",
    ),
    Key("repair.scan_pace", _dur(), 0.01, "the scanner's pause per object", flag="--scan-pace", metavar="DURATION"),
    Key(
        "repair.deep_scan_every",
        _int(0, 1_000_000),
        0,
        "every Nth scanner pass checks every block's hash (0: never)",
        flag="--deep-scan-every",
        metavar="N",
    ),
    Key(
        "repair.orphan_grace",
        _dur(),
        3600.0,
        "how old an uncommitted write must be before its shards are removed",
        flag="--orphan-grace",
        metavar="DURATION",
    ),
    Key(
        "repair.gc_grace",
        _dur(),
        3600.0,
        "how long the shards of an overwritten or deleted version are kept before GC removes them: a read "
        "that began before the change has that long to finish on any gateway (reads on the same gateway are "
        "never cut)",
        flag="--gc-grace",
        metavar="DURATION",
    ),
    # cache
    Key("cache.redis.endpoints", _list, [], "Redis servers (host:port); names are spread over them"),
    Key("cache.redis.pool_size", _int(1, 10000), 50, "connections per Redis server, per gateway process"),
    Key("cache.redis.timeout", _dur(0.001), 0.1, "longest a cache call may take before the gateway goes on without it"),
    Key("cache.redis.ttl", _dur(1.0), 60.0, "lifetime of a cached entry (a safety net: writes invalidate at once)"),
    Key("cache.redis.db", _int(0, 1024), 0, "Redis database number"),
    Key("cache.redis.username", _str, "", "Redis ACL user"),
    Key(
        "cache.redis.password",
        _str,
        "",
        "plain-text password: refused unless security.allow_plaintext_secrets",
        secret=True,
    ),
    Key("cache.redis.password_file", _str, "", "file holding the Redis password (AUTH)"),
    Key("cache.redis.tls", _bool, False, "TLS to Redis (the server's certificate and host name are verified)"),
    Key("cache.redis.ca_file", _str, "", "PEM CA bundle to verify Redis's certificate with (empty: the system's CAs)"),
    Key("cache.redis.prefix", _str, "s3gw:", "key prefix (several deployments on one Redis)"),
    Key(
        "cache.memory.enabled",
        _enum("auto", "true", "false"),
        "auto",
        "in-process cache; auto: on for one SQLite gateway process, off otherwise (it cannot see other gateways' writes)",
    ),
    Key("cache.memory.max_size", parse_size, 256 << 20, "bytes of the in-process cache"),
    # metrics and usage (docs/operations.md)
    Key(
        "metrics.auth",
        _metrics_auth,
        "bearer",
        "metrics endpoints: bearer (a token: the static one, or a JWT as `mc admin prometheus generate` makes) "
        "or public",
        flag="--metrics-auth",
        metavar="bearer|public",
    ),
    Key("metrics.token_file", _str, "", "file holding the static bearer token for the metrics endpoints"),
    Key(
        "metrics.token_max_lifetime",
        _dur(),
        100 * 365 * 86400.0,
        "a metrics JWT that expires later than this from now is refused (the default: what mc generates)",
        flag="--metrics-token-max-lifetime",
        metavar="DURATION",
    ),
    Key(
        "metrics.usage_interval",
        _dur(),
        1.0,
        "how long a gateway reuses a bucket usage answer (usage is exact, from counters the writes keep)",
        flag="--usage-interval",
        env="S3GW_USAGE_INTERVAL",
        metavar="DURATION",
    ),
    # bucket notifications (docs/data-management.md): targets, and the outbox sender
    Key(
        "notify.webhook",
        _notify_targets("webhook"),
        {},
        "webhook targets: id -> {endpoint, auth_token_file, ...}; also MINIO_NOTIFY_WEBHOOK_*_<ID>",
    ),
    Key(
        "notify.redis",
        _notify_targets("redis"),
        {},
        "Redis targets: id -> {address, key, format, password_file, user}; also MINIO_NOTIFY_REDIS_*_<ID>",
    ),
    Key(
        "notify.postgresql",
        _notify_targets("postgresql"),
        {},
        "PostgreSQL targets: id -> {connection_string(_file), table, format}; also MINIO_NOTIFY_POSTGRES_*_<ID>",
    ),
    Key("notify.concurrency", _int(1, 256), 4, "events delivered at once by a gateway's sender"),
    Key("notify.max_attempts", _int(1, 1000000), 20, "delivery attempts before an event is kept as dead"),
    Key("notify.retry_interval", _dur(0.01), 1.0, "first retry delay; doubles each attempt"),
    Key("notify.retry_max", _dur(0.01), 300.0, "longest retry delay"),
    Key("notify.timeout", _dur(0.1), 10.0, "how long one delivery may take before it counts as failed"),
    # logs (docs/operations.md)
    Key(
        "log.level",
        _enum("debug", "info", "warning", "error", "critical"),
        "info",
        "level of the process log on stderr",
        flag="--log-level",
        metavar="LEVEL",
    ),
    Key(
        "log.access",
        _log_dest,
        "off",
        "JSON access log, a line per request: stderr, stdout, a file, or off",
        flag="--access-log",
        env="S3GW_ACCESS_LOG",
        metavar="DEST",
    ),
    Key(
        "log.audit",
        _log_dest,
        "off",
        "JSON audit log of writes and admin actions: stderr, stdout, a file, or off",
        flag="--audit-log",
        env="S3GW_AUDIT_LOG",
        metavar="DEST",
    ),
    # security
    Key("security.tls.cert_file", _str, "", "PEM certificate chain for HTTPS"),
    Key("security.tls.key_file", _str, "", "PEM private key for HTTPS"),
    Key(
        "security.tls.reload_interval",
        _dur(),
        10.0,
        "how often the certificate files are checked; a changed pair serves new connections (SIGHUP: at once; "
        "0: only on SIGHUP)",
    ),
    Key(
        "security.encryption.encryption_in_transit",
        _bool,
        False,
        "refuse to start while any hop is plain text: no HTTPS certificate, http:// storage nodes, PostgreSQL "
        "sslmode below require, Redis without TLS; the plain-HTTP port is then not opened",
    ),
    Key("security.root_user_file", _str, "", "file holding the root access key"),
    Key("security.root_password_file", _str, "", "file holding the root secret key"),
    Key(
        "security.allow_plaintext_secrets", _bool, False, "accept database.password / cache.redis.password in the file"
    ),
    # key management for server-side encryption (docs/encryption.md, "Key management")
    Key(
        "security.encryption.kms_endpoint",
        _str,
        "",
        "AWS-KMS-protocol endpoint (`https://kms.REGION.amazonaws.com`); empty: the built-in KMS when a master "
        "key is given (S3GW_KMS_SECRET_KEY or security.encryption.key_file), else none",
    ),
    Key(
        "security.encryption.kms_key_id",
        _str,
        "",
        "the default master key (SSE-S3, SSE-KMS without a key id): an AWS key id, ARN or `alias/NAME` "
        "(empty: `alias/s3gw`), or a built-in key's name (empty: the first one)",
    ),
    Key(
        "security.encryption.kms_region",
        _str,
        "",
        "AWS KMS region (empty: the endpoint's, else AWS_REGION, else us-east-1); credentials: AWS_ACCESS_KEY_ID / "
        "AWS_SECRET_ACCESS_KEY, AWS_PROFILE, web identity or the instance role",
    ),
    Key(
        "security.encryption.kms_timeout",
        _dur(0.1),
        5.0,
        "longest wait to connect to or hear from the AWS KMS per try (2 tries; then the request answers 503)",
    ),
    Key(
        "security.encryption.key_file",
        _str,
        "",
        "built-in KMS: file of master keys, one `NAME:BASE64` (32 bytes) per line, the first the default "
        "(S3GW_KMS_SECRET_KEY holds one the same way)",
    ),
    Key(
        "security.encryption.key_rotation_period",
        _dur(),
        2160 * 3600.0,
        "a new master key version every period (built-in KMS; AWS KMS: EnableKeyRotation with it, 90 to 2560 "
        "days); 0: only `s3gw admin kms rotate`",
    ),
]
KEYS: dict[str, Key] = {k.path: k for k in SCHEMA}
SECTIONS = {k.path.split(".")[0] for k in SCHEMA}
#: environment variable -> key path (S3GW_CACHE_REDIS_ENDPOINTS -> cache.redis.endpoints, S3GW_ACCESS_LOG -> log.access)
ENV_KEYS: dict[str, str] = {k.env_name: k.path for k in SCHEMA}
#: MinIO's names for the same settings, honoured under the S3GW_* variables (which win): name -> (key, converter)
ENV_ALIASES: dict[str, tuple[str, Callable[[str], Any] | None]] = {
    "MINIO_API_CORS_ALLOW_ORIGIN": ("api.cors_allow_origin", None),
    "MINIO_API_STALE_UPLOADS_EXPIRY": ("api.stale_uploads_expiry", None),
    "MINIO_API_STALE_UPLOADS_CLEANUP_INTERVAL": ("api.stale_uploads_cleanup_interval", None),
    "MINIO_PROMETHEUS_AUTH_TYPE": ("metrics.auth", _minio_prometheus_auth),
}
#: variables with a meaning of their own (secrets, the file itself), never config overrides
ENV_RESERVED = {
    "S3GW_CONFIG",
    "S3GW_ROOT_USER",
    "S3GW_ROOT_PASSWORD",
    "S3GW_ROOT_USER_FILE",
    "S3GW_ROOT_PASSWORD_FILE",
    "S3GW_ROOT_USER_OLD",
    "S3GW_ROOT_PASSWORD_OLD",
    "S3GW_DB_PASSWORD",
    "S3GW_DB_PASSWORD_FILE",
    "S3GW_REDIS_PASSWORD",
    "S3GW_REDIS_PASSWORD_FILE",
    "S3GW_CLUSTER_SECRET",
    "S3GW_CLUSTER_SECRET_FILE",
    "S3GW_METRICS_TOKEN",
    "S3GW_ENDPOINT",
    "S3GW_KMS_SECRET_KEY",
    "S3GW_KMS_SECRET_KEY_FILE",
}
#: `s3gw serve` flag (and its older names) -> key path
FLAGS: dict[str, str] = {f: k.path for k in SCHEMA for f in ((k.flag, *k.old_flags) if k.flag else ())}
#: flags that set several keys at once (s3gw/cli.py parses them)
COMPOSITE_FLAGS: dict[str, tuple[str, ...]] = {"--address": ("server.host", "server.port")}


def default(path: str) -> Any:
    """The schema's default of a key (lists as tuples: what the settings below hold)."""
    v = KEYS[path].default
    return tuple(v) if isinstance(v, list) else v


# --------------------------------------------------------------------------- loading


@dataclass
class Config:
    """Validated values by key path, where each came from, and warnings for the operator."""

    values: dict[str, Any]
    source: dict[str, str]
    warnings: list[str] = field(default_factory=list)
    path: str = ""

    def __getitem__(self, path: str) -> Any:
        return self.values[path]

    def set(self, path: str, value: Any, source: str) -> None:
        self.values[path] = _parse(KEYS[path], value, source)
        self.source[path] = source


def _parse(key: Key, value: Any, where: str) -> Any:
    try:
        return key.parse(value)
    except ValueError as e:
        raise ConfigError(f"{where}: {key.path}: {e}") from None


def _flatten(doc: Any, prefix: str, out: dict[str, Any], where: str) -> None:
    if not isinstance(doc, Mapping):
        raise ConfigError(f"{where}: {prefix or 'the document'} must be a mapping of keys, not {type(doc).__name__}")
    for k, v in doc.items():
        path = f"{prefix}.{k}" if prefix else str(k)
        if path in KEYS:
            out[path] = v
        elif isinstance(v, Mapping) and any(p.startswith(path + ".") for p in KEYS):
            _flatten(v, path, out, where)
        else:
            near = [p for p in KEYS if p.startswith(path.rsplit(".", 1)[0] + ".")] if "." in path else sorted(SECTIONS)
            hint = f" (known here: {', '.join(sorted(near))})" if near else ""
            raise ConfigError(f"{where}: unknown key {path}{hint}")


def load(path: str | None, env: Mapping[str, str] | None = None) -> Config:
    """Defaults, then the file (if any), then the environment's overrides; validated. Raise ConfigError."""
    env = os.environ if env is None else env
    cfg = Config({k.path: k.default for k in SCHEMA}, {k.path: "default" for k in SCHEMA}, path=path or "")
    if path:
        try:
            with open(path) as f:
                doc = yaml.safe_load(f)
        except OSError as e:
            raise ConfigError(f"{path}: cannot read: {e.strerror}") from None
        except yaml.YAMLError as e:
            raise ConfigError(f"{path}: not valid YAML: {e}") from None
        flat: dict[str, Any] = {}
        _flatten(doc or {}, "", flat, path)
        for p, v in flat.items():
            cfg.set(p, v, path)
    for name, (path_, convert) in ENV_ALIASES.items():
        if name in env:
            cfg.set(path_, convert(env[name]) if convert else env[name], f"environment {name}")
    for name, value in env.items():
        p = ENV_KEYS.get(name)
        if p is None:
            if (
                name.startswith(ENV_PREFIX)
                and name not in ENV_RESERVED
                and not _NOTIFY_ENV.match(name)
                and name[len(ENV_PREFIX) :].split("_")[0].lower() in SECTIONS
            ):
                raise ConfigError(f"environment: {name} names no configuration key")
            continue
        try:
            parsed = yaml.safe_load(value) if value.strip() else ""
        except yaml.YAMLError:  # not YAML ("*", "a: b: c"): the text as written
            parsed = value
        cfg.set(p, parsed, f"environment {name}")
    check(cfg)
    return cfg


def check(cfg: Config) -> None:
    """Cross-key rules; fills ``cfg.warnings`` (anew each time). Raise ConfigError."""
    v = cfg.values
    cfg.warnings = []
    for key in SCHEMA:
        if cfg.source[key.path] == "default":
            continue
        if key.secret and v[key.path] and not v["security.allow_plaintext_secrets"]:
            alt = {
                "database.password": "S3GW_DB_PASSWORD or database.password_file",
                "cache.redis.password": "S3GW_REDIS_PASSWORD or cache.redis.password_file",
            }[key.path]
            raise ConfigError(
                f"{cfg.source[key.path]}: {key.path}: secrets are not read from the configuration "
                f"in plain text; use {alt} (or set security.allow_plaintext_secrets: true)"
            )
        if key.no_effect:
            cfg.warnings.append(f"{key.path}: accepted, has no effect: {key.no_effect}")
    if v["database.driver"] == "postgres" and not v["database.host"]:
        raise ConfigError("database.host: required when database.driver is postgres")
    if v["database.driver"] == "sqlite" and v["database.host"]:
        raise ConfigError("database.host: set, but database.driver is sqlite")
    if bool(v["security.tls.cert_file"]) != bool(v["security.tls.key_file"]):
        raise ConfigError("security.tls: cert_file and key_file go together")
    for p in (k.path for k in SCHEMA if k.path.endswith("_file")):
        if v[p] and not os.path.isfile(v[p]):
            raise ConfigError(f"{cfg.source[p]}: {p}: no such file: {v[p]}")
    k, m = v["storage.erasure_coding.data_shards"], v["storage.erasure_coding.parity_shards"]
    if not v["storage.nodes"] and v["storage.drives"] < k + m:
        raise ConfigError(f"storage.drives: {k}+{m} erasure coding needs {k + m} drives, not {v['storage.drives']}")
    cs = v["storage.erasure_coding.chunk_size"]
    if not 4096 <= cs <= 256 << 20:
        raise ConfigError(f"storage.erasure_coding.chunk_size: {cs} is out of range [4 KiB, 256 MiB]")
    if v["database.max_idle"] > v["database.max_connections"]:
        cfg.warnings.append("database.max_idle: larger than database.max_connections; using max_connections")


# --------------------------------------------------------------------------- secrets


def _given(cfg: Config, path: str) -> bool:
    """The key was set on the command line (a flag given explicitly wins over the environment's secrets)."""
    return cfg.source[path] == "command line"


def cluster_secret(cfg: Config, env: Mapping[str, str]) -> bytes | None:
    s = secret(
        env,
        ("S3GW_CLUSTER_SECRET",),
        ("S3GW_CLUSTER_SECRET_FILE",),
        cfg["storage.secret_file"],
        "storage.secret_file",
        file_first=_given(cfg, "storage.secret_file"),
    )
    return s.encode() if s else None


def metrics_token(cfg: Config, env: Mapping[str, str]) -> str:
    return secret(env, ("S3GW_METRICS_TOKEN",), (), cfg["metrics.token_file"], "metrics.token_file") or ""


# --------------------------------------------------------------------------- the settings the server is built from


@dataclass
class DatabaseSettings:
    """Where the metadata lives: the embedded SQLite file (default) or PostgreSQL (``database.*``)."""

    driver: str = "sqlite"  # "sqlite" | "postgres" (the schema's "": chosen by database.host)
    path: str = default("database.path")  # sqlite: the file (default DATA/meta/s3gw.db)
    host: str = default("database.host")
    port: int = default("database.port")
    name: str = default("database.name")
    user: str = default("database.user")
    password: str | None = None  # from the environment or a file, never the YAML
    sslmode: str = default("database.sslmode")
    ca_file: str = default("database.ca_file")  # verify-ca / verify-full: the CA bundle (libpq's sslrootcert)
    max_connections: int = default("database.max_connections")
    min_connections: int = default("database.max_idle")
    max_idle_lifetime: float = default("database.max_lifetime")
    timeout: float = default("database.timeout")
    connect_timeout: float = default("database.connect_timeout")
    startup_wait: float = default("database.startup_wait")
    auto_migrate: bool = default("database.auto_migrate")


@dataclass
class CacheSettings:
    """The metadata cache (``cache.*``): Redis when endpoints are given, else in-process or none."""

    redis_endpoints: tuple[str, ...] = default("cache.redis.endpoints")
    redis_password: str | None = None
    redis_username: str | None = None
    redis_db: int = default("cache.redis.db")
    redis_pool_size: int = default("cache.redis.pool_size")
    redis_timeout: float = default("cache.redis.timeout")
    redis_ttl: float = default("cache.redis.ttl")
    redis_tls: bool = default("cache.redis.tls")
    redis_ca_file: str = default("cache.redis.ca_file")
    redis_prefix: str = default("cache.redis.prefix")
    memory: str = default("cache.memory.enabled")  # "auto" | "true" | "false"
    memory_max_bytes: int = default("cache.memory.max_size")


@dataclass
class ServerConfig:
    """Everything the composition root builds a gateway from; each default is the schema's (``SERVER_FIELDS``)."""

    data_dir: str
    host: str = default("server.host")
    port: int = default("server.port")
    access_key: str = DEFAULT_USER
    secret_key: str = DEFAULT_PASSWORD
    region: str = default("server.region")
    domains: tuple[str, ...] = default("server.domains")
    trusted_proxies: tuple[str, ...] = default("server.trusted_proxies")  # X-Forwarded-For gives aws:SourceIp
    drives: int = default("storage.drives")
    data_shards: int = default("storage.erasure_coding.data_shards")
    parity_shards: int = default("storage.erasure_coding.parity_shards")
    block_size: int = default("storage.erasure_coding.chunk_size")
    extra_credentials: dict[str, str] = field(default_factory=dict)
    # cluster form: storage node URLs and the cluster secret (empty: embedded local drives)
    nodes: tuple[str, ...] = default("storage.nodes")
    node_secret: bytes | None = None
    node_ca_file: str = default("storage.node_ca_file")
    node_probe_interval: float = default("storage.node_probe_interval")
    node_read_timeout: float = default("storage.node_read_timeout")
    node_stall_timeout: float = default("storage.node_stall_timeout")
    tmp_grace: float = default("storage.tmp_grace")
    # repair (core/repair.py)
    heal_interval: float = default("repair.heal_interval")
    scan_interval: float = default("repair.scan_interval")
    scan_pace: float = default("repair.scan_pace")
    deep_scan_every: int = default("repair.deep_scan_every")
    orphan_grace: float = default("repair.orphan_grace")
    gc_grace: float = default("repair.gc_grace")
    # lifecycle (core/expiry.py)
    lifecycle_interval: float = default("lifecycle.interval")
    lifecycle_day: float = default("lifecycle.day_seconds")
    replication_lag_warning: float = default("replication.lag_warning")
    stale_uploads_expiry: float = default("api.stale_uploads_expiry")
    stale_uploads_interval: float = default("api.stale_uploads_cleanup_interval")
    # production: metadata, cache, processes, TLS
    database: DatabaseSettings = field(default_factory=DatabaseSettings)
    cache: CacheSettings = field(default_factory=CacheSettings)
    workers: int = 1  # `s3gw serve` takes server.workers (default auto: one per core)
    tls_cert: str = default("security.tls.cert_file")
    tls_key: str = default("security.tls.key_file")
    tls_port: int = default("server.tls_port")
    tls_reload_interval: float = default("security.tls.reload_interval")
    encryption_in_transit: bool = default("security.encryption.encryption_in_transit")
    # slow and greedy clients (api/guard.py, docs/operations.md)
    http_read_timeout: float = default("server.read_timeout")
    http_write_timeout: float = default("server.write_timeout")
    read_header_timeout: float = default("server.read_header_timeout")
    idle_timeout: float = default("server.idle_timeout")
    max_connections: int = default("server.max_connections")
    max_requests: int = default("server.max_requests")
    event_loop: str = default("server.event_loop")
    # operations (docs/operations.md): metrics auth, usage refresh, logs, root credential rotation
    metrics_auth: str = default("metrics.auth")
    metrics_token: str = ""
    metrics_token_max_lifetime: float = default("metrics.token_max_lifetime")
    usage_interval: float = default("metrics.usage_interval")
    old_root: tuple[str, str] | None = None  # S3GW_ROOT_USER_OLD / _PASSWORD_OLD: re-seal user secrets
    log_level: str = default("log.level")
    access_log: str = default("log.access")
    audit_log: str = default("log.audit")
    # bucket notifications (core/notify.py): targets (kind, id, settings) and the sender
    notify_targets: tuple[tuple[str, str, dict[str, str]], ...] = ()
    notify_concurrency: int = default("notify.concurrency")
    notify_max_attempts: int = default("notify.max_attempts")
    notify_retry_interval: float = default("notify.retry_interval")
    notify_retry_max: float = default("notify.retry_max")
    notify_timeout: float = default("notify.timeout")
    # browsers (api/cors.py): origins allowed to call the API
    cors_allow_origins: tuple[str, ...] = default("api.cors_allow_origin")
    # key management for server-side encryption (s3gw/kms/factory.py)
    kms: KMSSettings = field(default_factory=KMSSettings)


#: key -> the ServerConfig field it sets as it is (lists become tuples); the other keys are read by
#: database_settings, cache_settings and server_config below, or have no effect
SERVER_FIELDS: dict[str, str] = {
    "server.data": "data_dir",
    "server.host": "host",
    "server.port": "port",
    "server.tls_port": "tls_port",
    "server.region": "region",
    "server.domains": "domains",
    "server.trusted_proxies": "trusted_proxies",
    "server.read_timeout": "http_read_timeout",
    "server.write_timeout": "http_write_timeout",
    "server.read_header_timeout": "read_header_timeout",
    "server.idle_timeout": "idle_timeout",
    "server.max_connections": "max_connections",
    "server.max_requests": "max_requests",
    "server.event_loop": "event_loop",
    "api.cors_allow_origin": "cors_allow_origins",
    "storage.drives": "drives",
    "storage.erasure_coding.data_shards": "data_shards",
    "storage.erasure_coding.parity_shards": "parity_shards",
    "storage.erasure_coding.chunk_size": "block_size",
    "storage.node_ca_file": "node_ca_file",
    "storage.node_probe_interval": "node_probe_interval",
    "storage.node_read_timeout": "node_read_timeout",
    "storage.node_stall_timeout": "node_stall_timeout",
    "repair.heal_interval": "heal_interval",
    "repair.scan_interval": "scan_interval",
    "repair.scan_pace": "scan_pace",
    "repair.deep_scan_every": "deep_scan_every",
    "repair.orphan_grace": "orphan_grace",
    "repair.gc_grace": "gc_grace",
    "lifecycle.interval": "lifecycle_interval",
    "lifecycle.day_seconds": "lifecycle_day",
    "replication.lag_warning": "replication_lag_warning",
    "api.stale_uploads_expiry": "stale_uploads_expiry",
    "api.stale_uploads_cleanup_interval": "stale_uploads_interval",
    "storage.tmp_grace": "tmp_grace",
    "metrics.auth": "metrics_auth",
    "metrics.token_max_lifetime": "metrics_token_max_lifetime",
    "metrics.usage_interval": "usage_interval",
    "log.level": "log_level",
    "log.access": "access_log",
    "log.audit": "audit_log",
    "security.tls.cert_file": "tls_cert",
    "security.tls.key_file": "tls_key",
    "security.tls.reload_interval": "tls_reload_interval",
    "security.encryption.encryption_in_transit": "encryption_in_transit",
    "notify.concurrency": "notify_concurrency",
    "notify.max_attempts": "notify_max_attempts",
    "notify.retry_interval": "notify_retry_interval",
    "notify.retry_max": "notify_retry_max",
    "notify.timeout": "notify_timeout",
}


#: PostgreSQL sslmodes that may send the metadata in plain text (libpq: allow and prefer fall back to it)
PLAIN_SSLMODES = ("disable", "allow", "prefer")


def plain_text_hops(sc: ServerConfig) -> list[str]:
    """Every connection of this gateway that would carry data unencrypted, named for the operator
    (``security.encryption.encryption_in_transit`` refuses to start while this is not empty).

    >>> plain_text_hops(ServerConfig("DATA"))  # the embedded default: only the clients' hop
    ['clients -> gateway: no HTTPS certificate (set security.tls.cert_file and key_file)']
    >>> sc = ServerConfig("DATA", tls_cert="c.pem", tls_key="k.pem", nodes=("https://n1:9090", "http://n2:9090"))
    >>> sc.database = DatabaseSettings(driver="postgres", host="db", sslmode="prefer")
    >>> sc.cache = CacheSettings(redis_endpoints=("r1:6379",))
    >>> for hop in plain_text_hops(sc): print(hop)
    gateway -> storage nodes http://n2:9090: plain HTTP (use https:// node URLs, storage.node_ca_file)
    gateway -> PostgreSQL db:5432: database.sslmode is prefer (use require, verify-ca or verify-full)
    gateway -> Redis r1:6379: cache.redis.tls is false
    >>> sc.kms = KMSSettings(endpoint="http://127.0.0.1:4566")
    >>> plain_text_hops(sc)[-1]
    'gateway -> KMS http://127.0.0.1:4566: plain HTTP (use an https:// kms_endpoint)'
    """
    hops = []
    if not sc.tls_cert:
        hops.append("clients -> gateway: no HTTPS certificate (set security.tls.cert_file and key_file)")
    plain = [u for u in sc.nodes if not u.lower().startswith("https://")]
    if plain:
        hops.append(
            f"gateway -> storage nodes {', '.join(plain)}: plain HTTP (use https:// node URLs, storage.node_ca_file)"
        )
    db = sc.database
    if db.driver == "postgres" and db.sslmode in PLAIN_SSLMODES:
        hops.append(
            f"gateway -> PostgreSQL {db.host}:{db.port}: database.sslmode is {db.sslmode} "
            "(use require, verify-ca or verify-full)"
        )
    if sc.cache.redis_endpoints and not sc.cache.redis_tls:
        hops.append(f"gateway -> Redis {', '.join(sc.cache.redis_endpoints)}: cache.redis.tls is false")
    if sc.kms.endpoint and not sc.kms.endpoint.lower().startswith("https://"):
        hops.append(f"gateway -> KMS {sc.kms.endpoint}: plain HTTP (use an https:// kms_endpoint)")
    return hops


def database_settings(cfg: Config, env: Mapping[str, str], data_dir: str) -> DatabaseSettings:
    v = cfg.values
    driver = v["database.driver"] or ("postgres" if v["database.host"] else "sqlite")
    if driver == "sqlite":
        return DatabaseSettings(
            driver="sqlite",
            path=v["database.path"] or os.path.join(data_dir, "meta", "s3gw.db"),
            auto_migrate=v["database.auto_migrate"],
        )
    password = (
        secret(
            env,
            ("S3GW_DB_PASSWORD", "DB_PASSWORD"),
            ("S3GW_DB_PASSWORD_FILE",),
            v["database.password_file"],
            "database.password_file",
        )
        or v["database.password"]
        or None
    )
    return DatabaseSettings(
        driver="postgres",
        host=v["database.host"],
        port=v["database.port"],
        name=v["database.name"],
        user=v["database.user"],
        password=password,
        sslmode=v["database.sslmode"],
        ca_file=v["database.ca_file"],
        max_connections=v["database.max_connections"],
        min_connections=min(v["database.max_idle"], v["database.max_connections"]),
        max_idle_lifetime=v["database.max_lifetime"],
        timeout=v["database.timeout"],
        connect_timeout=v["database.connect_timeout"],
        startup_wait=v["database.startup_wait"],
        auto_migrate=v["database.auto_migrate"],
    )


def cache_settings(cfg: Config, env: Mapping[str, str]) -> CacheSettings:
    v = cfg.values
    password = (
        secret(
            env,
            ("S3GW_REDIS_PASSWORD",),
            ("S3GW_REDIS_PASSWORD_FILE",),
            v["cache.redis.password_file"],
            "cache.redis.password_file",
        )
        or v["cache.redis.password"]
        or None
    )
    return CacheSettings(
        redis_endpoints=tuple(v["cache.redis.endpoints"]),
        redis_password=password,
        redis_username=v["cache.redis.username"] or None,
        redis_db=v["cache.redis.db"],
        redis_pool_size=v["cache.redis.pool_size"],
        redis_timeout=v["cache.redis.timeout"],
        redis_ttl=v["cache.redis.ttl"],
        redis_tls=v["cache.redis.tls"],
        redis_ca_file=v["cache.redis.ca_file"],
        redis_prefix=v["cache.redis.prefix"],
        memory=v["cache.memory.enabled"],
        memory_max_bytes=v["cache.memory.max_size"],
    )


def kms_settings(cfg: Config, env: Mapping[str, str]) -> KMSSettings:
    """The KMS: an AWS-KMS-protocol endpoint, or built-in master keys from S3GW_KMS_SECRET_KEY
    (MINIO_KMS_SECRET_KEY, S3GW_KMS_SECRET_KEY_FILE) and security.encryption.key_file."""
    v = cfg.values
    masters: list[tuple[str, bytes]] = []
    text = secret(env, ("S3GW_KMS_SECRET_KEY", "MINIO_KMS_SECRET_KEY"), ("S3GW_KMS_SECRET_KEY_FILE",), "", "")
    if text:
        try:
            masters.append(parse_secret_key(text))
        except ValueError as e:
            raise ConfigError(f"S3GW_KMS_SECRET_KEY: {e}") from None
    if v["security.encryption.key_file"]:
        path = v["security.encryption.key_file"]
        try:
            for name, key in parse_key_file(read_secret(path, "security.encryption.key_file")):
                if name in dict(masters):
                    raise ValueError(f"key {name!r} is also in S3GW_KMS_SECRET_KEY")
                masters.append((name, key))
        except ValueError as e:
            raise ConfigError(f"security.encryption.key_file: {path}: {e}") from None
    if v["security.encryption.kms_endpoint"] and masters:
        raise ConfigError(
            "security.encryption.kms_endpoint: set, and built-in master keys too (S3GW_KMS_SECRET_KEY or "
            "security.encryption.key_file): one KMS only"
        )
    key_id = v["security.encryption.kms_key_id"]
    if masters and key_id and key_id not in dict(masters):
        raise ConfigError(f"security.encryption.kms_key_id: no master key named {key_id!r}")
    return KMSSettings(
        endpoint=v["security.encryption.kms_endpoint"],
        region=v["security.encryption.kms_region"],
        key_id=key_id,
        timeout=v["security.encryption.kms_timeout"],
        master_keys=masters,
        key_rotation_period=v["security.encryption.key_rotation_period"],
    )


def server_config(cfg: Config, env: Mapping[str, str] | None = None, *, require_data: bool = True) -> ServerConfig:
    """The gateway's ServerConfig from a validated Config (secrets resolved here).

    ``require_data=False`` (``s3gw config check``): a missing data directory is
    a warning, since ``--data`` can still supply it.
    """
    env = os.environ if env is None else env
    v = cfg.values
    data = v["server.data"]
    db_driver = v["database.driver"] or ("postgres" if v["database.host"] else "sqlite")
    if not data and (db_driver == "sqlite" or not v["storage.nodes"]):
        msg = "server.data: a data directory is needed (--data) for " + (
            "the SQLite metadata" if db_driver == "sqlite" else "the embedded drives"
        )
        if require_data:
            raise ConfigError(msg)
        cfg.warnings.append(msg + "; give --data when serving")
    sc = ServerConfig(data_dir=data)
    for path, attr in SERVER_FIELDS.items():
        setattr(sc, attr, tuple(v[path]) if isinstance(v[path], list) else v[path])
    sc.access_key, sc.secret_key = root_credentials(
        env, cfg["security.root_user_file"], cfg["security.root_password_file"]
    )
    sc.old_root = old_root_credentials(env, (sc.access_key, sc.secret_key))
    sc.database = database_settings(cfg, env, data)
    sc.cache = cache_settings(cfg, env)
    sc.workers = _workers(v["server.workers"]) or (os.cpu_count() or 1)
    sc.metrics_token = metrics_token(cfg, env)
    sc.kms = kms_settings(cfg, env)
    sc.notify_targets = notify_targets(cfg, env)
    if v["storage.nodes"]:
        secret_ = cluster_secret(cfg, env)
        if not secret_:
            raise ConfigError(
                "storage.secret_file: storage.nodes needs the cluster secret "
                "(--secret-file, storage.secret_file, S3GW_CLUSTER_SECRET_FILE or S3GW_CLUSTER_SECRET)"
            )
        if len(secret_) < 16:
            raise ConfigError("storage.secret_file: the cluster secret must be at least 16 bytes")
        sc.nodes, sc.node_secret = tuple(v["storage.nodes"]), secret_
    if sc.encryption_in_transit and (hops := plain_text_hops(sc)):
        raise ConfigError(
            "security.encryption.encryption_in_transit: refusing to start with plain-text hops:\n  " + "\n  ".join(hops)
        )
    return sc


# --------------------------------------------------------------------------- describing it


def describe(cfg: Config) -> str:
    """Every key with its value and where it came from (secrets are never values here)."""
    lines = []
    for k in SCHEMA:
        val = cfg.values[k.path]
        if k.secret and val:
            val = "<set>"
        lines.append(f"{k.path} = {val!r}" + ("" if cfg.source[k.path] == "default" else f"   ({cfg.source[k.path]})"))
    return "\n".join(lines)


def shown(key: Key, value: Any = None) -> str:
    """A value as the docs write it (the key's default when none is given).

    >>> shown(KEYS["server.read_timeout"]), shown(KEYS["storage.erasure_coding.chunk_size"])
    ('30s', '1 MiB')
    >>> shown(KEYS["metrics.token_max_lifetime"]), shown(KEYS["server.data"]), shown(KEYS["api.cors_allow_origin"])
    ('36500d', '—', '["*"]')
    """
    v = key.default if value is None else value
    kind = _KINDS.get(key.parse, "")
    if isinstance(v, bool):
        return "true" if v else "false"
    if v == "":
        return "—"
    if isinstance(v, (list, tuple)):
        return json.dumps(list(v))
    if kind == "duration":
        return f"{v / 86400:g}d" if v >= 86400 and v % 86400 == 0 else f"{v:g}s"
    if kind == "size":
        for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
            if v >= size and v % size == 0:
                return f"{v // size} {unit}"
    return str(v)


def doc_table() -> str:
    """The table of every key that docs/metadata.md holds (``python -m s3gw.config`` prints it)."""
    rows = ["| key | default | flag (`s3gw serve`) | environment | meaning |", "|---|---|---|---|---|"]
    aliases: dict[str, list[str]] = {}
    for name, (path, _) in ENV_ALIASES.items():
        aliases.setdefault(path, []).append(name)
    for k in SCHEMA:
        flags = ", ".join(f"`{f}`" for f in ((k.flag, *k.old_flags) if k.flag else ()))
        flags = flags or ", ".join(f"`{f}`" for f, paths in COMPOSITE_FLAGS.items() if k.path in paths)
        envs = ", ".join(f"`{e}`" for e in (k.env_name, *aliases.get(k.path, [])))
        meaning = f"accepted, no effect: {k.no_effect}" if k.no_effect else k.help
        rows.append(f"| `{k.path}` | {shown(k)} | {flags} | {envs} | {meaning} |")
    return "\n".join(rows)


if __name__ == "__main__":
    print(doc_table())
