"""One configuration source (s3gw/config.py): every setting is a schema key with one default, its flag and
its environment variable map onto that key, and docs/metadata.md's table is the schema's own."""

from __future__ import annotations

import argparse
import ast
import base64
import dataclasses
import os
import pathlib
import sys

import pytest

from s3gw import config
from s3gw.cli import build_parser, serve_config

ROOT = pathlib.Path(__file__).resolve().parents[2]
#: serve options that are not settings: the file itself
NOT_KEYS = {"-h", "--help", "--config"}


def serve_parser() -> argparse.ArgumentParser:
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return sub.choices["serve"]


def serve(
    tmp_path: pathlib.Path, *argv: str, env: dict[str, str] | None = None, monkeypatch: pytest.MonkeyPatch | None = None
) -> config.ServerConfig:
    assert monkeypatch is not None
    for name in list(os.environ):
        if name.startswith(("S3GW_", "MINIO_")) or name in ("CONFIG_FILE",):
            monkeypatch.delenv(name)
    for k, v in (env or {}).items():
        monkeypatch.setenv(k, v)
    return serve_config(build_parser().parse_args(["serve", "--data", str(tmp_path), *argv]))


def test_the_docs_table_is_the_schema() -> None:
    """docs/metadata.md holds exactly what `python -m s3gw.config` prints: every key, default, flag, variable."""
    doc = (ROOT / "docs" / "metadata.md").read_text()
    start = doc.index("<!-- config keys:")
    body = doc[doc.index("\n", start) + 1 : doc.index("<!-- end of config keys -->")]
    assert body.strip() == config.doc_table().strip(), (
        "docs/metadata.md's key table is stale: regenerate it with `python -m s3gw.config`"
    )
    for key in config.SCHEMA:
        assert f"| `{key.path}` |" in body, key.path


def test_every_serve_flag_sets_a_key() -> None:
    for action in serve_parser()._actions:
        for flag in action.option_strings:
            if flag in NOT_KEYS:
                continue
            assert flag in config.FLAGS or flag in config.COMPOSITE_FLAGS, f"{flag} maps to no configuration key"
    for flag, path in config.FLAGS.items():
        key = config.KEYS[path]
        assert flag in (key.flag, *key.old_flags)
    for paths in config.COMPOSITE_FLAGS.values():
        assert all(p in config.KEYS for p in paths)


def test_every_key_has_one_variable_and_no_two_keys_share_one() -> None:
    names = [k.env_name for k in config.SCHEMA]
    assert len(names) == len(set(names))
    assert not set(names) & config.ENV_RESERVED
    for name, (path, _) in config.ENV_ALIASES.items():
        assert path in config.KEYS and not name.startswith(config.ENV_PREFIX)


def test_defaults_are_stated_once() -> None:
    """A ServerConfig built in-process (tests, tools) has the schema's defaults, field for field."""
    plain = config.ServerConfig(data_dir="")
    fields = {f.name for f in dataclasses.fields(config.ServerConfig)}
    for path, attr in config.SERVER_FIELDS.items():
        assert attr in fields, attr
        if path != "server.data":
            assert getattr(plain, attr) == config.default(path), path
    db, cache = config.DatabaseSettings(), config.CacheSettings()
    assert (db.port, db.max_connections, db.min_connections, db.max_idle_lifetime, db.timeout) == (
        config.default("database.port"),
        config.default("database.max_connections"),
        config.default("database.max_idle"),
        config.default("database.max_lifetime"),
        config.default("database.timeout"),
    )
    assert (cache.redis_timeout, cache.redis_ttl, cache.memory, cache.memory_max_bytes) == (
        config.default("cache.redis.timeout"),
        config.default("cache.redis.ttl"),
        config.default("cache.memory.enabled"),
        config.default("cache.memory.max_size"),
    )


def test_node_timeouts_say_what_they_time(tmp_path, monkeypatch) -> None:
    """The node read timeout is not the client's body read timeout: own names, old flags still accepted."""
    sc = serve(
        tmp_path, "--read-timeout", "2", "--stall-timeout", "3", "--probe-interval", "0.5", monkeypatch=monkeypatch
    )
    assert (sc.node_read_timeout, sc.node_stall_timeout, sc.node_probe_interval) == (2.0, 3.0, 0.5)
    assert sc.http_read_timeout == config.default("server.read_timeout")
    sc = serve(tmp_path, "--node-read-timeout", "1500ms", "--body-read-timeout", "7s", monkeypatch=monkeypatch)
    assert (sc.node_read_timeout, sc.http_read_timeout) == (1.5, 7.0)
    assert not {f.name for f in dataclasses.fields(config.ServerConfig)} & {
        "read_timeout",
        "stall_timeout",
        "probe_interval",
    }


def test_cli_only_knobs_come_from_the_file_and_the_environment_too(tmp_path, monkeypatch) -> None:
    f = tmp_path / "c.yaml"
    f.write_text(
        "repair:\n  heal_interval: 500ms\n  orphan_grace: 1h\n  deep_scan_every: 4\nstorage:\n  node_read_timeout: 4s\n"
    )
    sc = serve(tmp_path, "--config", str(f), env={"S3GW_REPAIR_SCAN_PACE": "0.5"}, monkeypatch=monkeypatch)
    assert (sc.heal_interval, sc.orphan_grace, sc.deep_scan_every, sc.node_read_timeout, sc.scan_pace) == (
        0.5,
        3600.0,
        4,
        4.0,
        0.5,
    )
    sc = serve(
        tmp_path,
        "--config",
        str(f),
        "--heal-interval",
        "2",
        env={"S3GW_REPAIR_HEAL_INTERVAL": "9"},
        monkeypatch=monkeypatch,
    )
    assert sc.heal_interval == 2.0  # the flag wins over the environment and the file
    with pytest.raises(SystemExit):  # a bad value is refused by the flag's own key
        build_parser().parse_args(["serve", "--heal-interval", "soon"])


def test_environment_only_knobs_are_keys_with_their_old_names(tmp_path, monkeypatch) -> None:
    token = tmp_path / "token"
    token.write_text("tok-from-file\n")
    sc = serve(
        tmp_path,
        env={
            "S3GW_METRICS_AUTH": "public",
            "S3GW_ACCESS_LOG": "off",
            "S3GW_AUDIT_LOG": "stdout",
            "S3GW_USAGE_INTERVAL": "0",
            "S3GW_METRICS_TOKEN_MAX_LIFETIME": "1h",
            "S3GW_METRICS_TOKEN_FILE": str(token),
        },
        monkeypatch=monkeypatch,
    )
    assert (
        sc.metrics_auth,
        sc.access_log,
        sc.audit_log,
        sc.usage_interval,
        sc.metrics_token_max_lifetime,
        sc.metrics_token,
    ) == ("public", "off", "stdout", 0.0, 3600.0, "tok-from-file")
    sc = serve(
        tmp_path,
        "--metrics-auth",
        "bearer",
        "--access-log",
        "stderr",
        "--usage-interval",
        "5",
        env={
            "S3GW_METRICS_AUTH": "public",
            "S3GW_ACCESS_LOG": "off",
            "S3GW_USAGE_INTERVAL": "0",
            "S3GW_METRICS_TOKEN": "tok-env",
            "S3GW_METRICS_TOKEN_FILE": str(token),
        },
        monkeypatch=monkeypatch,
    )
    assert (sc.metrics_auth, sc.access_log, sc.usage_interval, sc.metrics_token) == ("bearer", "stderr", 5.0, "tok-env")
    assert (
        serve(tmp_path, env={"MINIO_PROMETHEUS_AUTH_TYPE": "public"}, monkeypatch=monkeypatch).metrics_auth == "public"
    )
    assert serve(tmp_path, env={"MINIO_PROMETHEUS_AUTH_TYPE": "jwt"}, monkeypatch=monkeypatch).metrics_auth == "bearer"
    f = tmp_path / "c.yaml"
    f.write_text("metrics:\n  auth: public\n  usage_interval: 2m\nlog:\n  access: off\n  level: warning\n")
    sc = serve(tmp_path, "--config", str(f), monkeypatch=monkeypatch)
    assert (sc.metrics_auth, sc.usage_interval, sc.access_log, sc.log_level) == ("public", 120.0, "off", "warning")
    with pytest.raises(config.ConfigError, match="S3GW_METRICS_AUTH.*metrics.auth"):
        config.load(None, {"S3GW_METRICS_AUTH": "open"})
    with pytest.raises(config.ConfigError, match="S3GW_METRICS_TOKN names no configuration key"):
        config.load(None, {"S3GW_METRICS_TOKN": "x"})
    config.load(None, {"S3GW_METRICS_TOKEN": "a secret, never a key"})


def test_old_root_credentials_for_a_rotation(tmp_path, monkeypatch) -> None:
    env = {"S3GW_ROOT_USER": "new-root", "S3GW_ROOT_PASSWORD": "new-password-0123", "S3GW_ROOT_PASSWORD_OLD": "old-pw"}
    assert serve(tmp_path, env=env, monkeypatch=monkeypatch).old_root == ("new-root", "old-pw")
    assert serve(tmp_path, env={}, monkeypatch=monkeypatch).old_root is None


def test_a_secret_file_given_as_a_flag_wins(tmp_path, monkeypatch) -> None:
    f = tmp_path / "secret"
    f.write_text("from-the-flag-0123456789")
    sc = serve(
        tmp_path,
        "--nodes",
        "http://127.0.0.1:1,http://127.0.0.1:2",
        "--secret-file",
        str(f),
        env={"S3GW_CLUSTER_SECRET": "from-the-environment-0123"},
        monkeypatch=monkeypatch,
    )
    assert sc.nodes == ("http://127.0.0.1:1", "http://127.0.0.1:2") and sc.node_secret == b"from-the-flag-0123456789"
    sc = serve(
        tmp_path,
        "--nodes",
        "http://127.0.0.1:1",
        env={"S3GW_CLUSTER_SECRET": "from-the-environment-0123"},
        monkeypatch=monkeypatch,
    )
    assert sc.node_secret == b"from-the-environment-0123"
    with pytest.raises(config.ConfigError, match="storage.nodes needs the cluster secret"):
        serve(tmp_path, "--nodes", "http://127.0.0.1:1", monkeypatch=monkeypatch)


def test_the_composition_root_imports_the_config_not_the_reverse() -> None:
    """config.py knows nothing of the server; credentials.py is standard library only (ops/ loads it)."""

    def imported(path: pathlib.Path) -> set[str]:
        out = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                out.add("." * node.level + (node.module or ""))
            elif isinstance(node, ast.Import):
                out.update(a.name for a in node.names)
        return out

    assert imported(ROOT / "s3gw" / "config.py") & {".server", ".cli", ".workers"} == set()
    assert ".config" in imported(ROOT / "s3gw" / "server.py")
    stdlib = set(sys.stdlib_module_names) | {"__future__"}
    assert {m.split(".")[0] for m in imported(ROOT / "s3gw" / "credentials.py")} <= stdlib


def test_one_root_credentials_function() -> None:
    """Defined once (s3gw/credentials.py); the server, the CLI and the ops scripts all call it."""
    defs = [
        p
        for d in ("s3gw", "nodes", "ops")
        for p in (ROOT / d).rglob("*.py")
        if any(
            isinstance(n, ast.FunctionDef) and n.name == "root_credentials" for n in ast.walk(ast.parse(p.read_text()))
        )
    ]
    assert [p.relative_to(ROOT).as_posix() for p in defs] == ["s3gw/credentials.py"]


def test_the_kms_settings(tmp_path) -> None:
    """security.encryption.*: built-in master keys from S3GW_KMS_SECRET_KEY (MinIO's variable too) and a key
    file, or an AWS KMS endpoint (its region from the endpoint), never both; the guide's 90 days by default."""
    key = lambda name, fill: f"{name}:" + base64.b64encode(bytes([fill]) * 32).decode()  # noqa: E731
    none = config.server_config(config.load(None, {}), {}, require_data=False).kms
    assert not none.configured and none.key_rotation_period == 2160 * 3600
    env = {"MINIO_KMS_SECRET_KEY": key("minio-key", 1)}
    sc = config.server_config(config.load(None, env), env, require_data=False)
    assert [n for n, _ in sc.kms.master_keys] == ["minio-key"]
    keys = tmp_path / "kms.keys"
    keys.write_text(key("k2", 2) + "\n" + key("k3", 3) + "\n")
    env = {"S3GW_KMS_SECRET_KEY": key("k1", 1), "S3GW_SECURITY_ENCRYPTION_KEY_FILE": str(keys)}
    sc = config.server_config(config.load(None, env), env, require_data=False)
    assert [n for n, _ in sc.kms.master_keys] == ["k1", "k2", "k3"] and "secret" not in repr(sc.kms)
    bad = [
        {"S3GW_KMS_SECRET_KEY": "k1:short"},
        {**env, "S3GW_SECURITY_ENCRYPTION_KMS_ENDPOINT": "https://kms.eu-west-1.amazonaws.com"},
        {**env, "S3GW_SECURITY_ENCRYPTION_KMS_KEY_ID": "nope"},
    ]
    for e in bad:
        with pytest.raises(config.ConfigError):
            config.server_config(config.load(None, e), e, require_data=False)
    env = {"S3GW_SECURITY_ENCRYPTION_KMS_ENDPOINT": "https://kms.eu-west-1.amazonaws.com"}
    aws = config.server_config(config.load(None, env), env, require_data=False).kms
    assert (aws.endpoint, aws.key_id, aws.master_keys) == ("https://kms.eu-west-1.amazonaws.com", "", [])


def test_encryption_in_transit_names_every_plain_hop(tmp_path, monkeypatch) -> None:
    """security.encryption.encryption_in_transit: one error listing each plain-text hop, none once all are TLS."""
    cert, key, secret = tmp_path / "tls.crt", tmp_path / "tls.key", tmp_path / "secret"
    for f in (cert, key):
        f.write_text("PEM")
    secret.write_text("cluster-secret-0123456789")
    on = {"S3GW_SECURITY_ENCRYPTION_ENCRYPTION_IN_TRANSIT": "true"}
    plain = {
        **on,
        "S3GW_DATABASE_HOST": "db.example",
        "S3GW_DB_PASSWORD": "pw",
        "S3GW_CACHE_REDIS_ENDPOINTS": "r1:6379,r2:6379",
    }
    nodes = ("--nodes", "https://n1:9090,http://n2:9090,HTTP://n3:9090", "--secret-file", str(secret))
    for sslmode in ("disable", "allow", "prefer"):
        with pytest.raises(config.ConfigError) as e:
            serve(tmp_path, *nodes, env={**plain, "S3GW_DATABASE_SSLMODE": sslmode}, monkeypatch=monkeypatch)
        msg = str(e.value)
        assert msg.startswith("security.encryption.encryption_in_transit: refusing to start with plain-text hops")
        assert "clients -> gateway: no HTTPS certificate" in msg
        assert "storage nodes http://n2:9090, HTTP://n3:9090:" in msg and "n1" not in msg
        assert f"PostgreSQL db.example:5432: database.sslmode is {sslmode}" in msg
        assert "Redis r1:6379, r2:6379: cache.redis.tls is false" in msg
    # each hop made TLS in turn: exactly the others are still named
    tls = {"S3GW_SECURITY_TLS_CERT_FILE": str(cert), "S3GW_SECURITY_TLS_KEY_FILE": str(key)}
    with pytest.raises(config.ConfigError) as e:
        serve(tmp_path, *nodes, env={**plain, **tls, "S3GW_DATABASE_SSLMODE": "require"}, monkeypatch=monkeypatch)
    assert "no HTTPS certificate" not in str(e.value) and "PostgreSQL" not in str(e.value)
    assert "storage nodes" in str(e.value) and "Redis" in str(e.value)
    https = ("--nodes", "https://n1:9090,https://n2:9090", "--secret-file", str(secret))
    for sslmode in ("require", "verify-ca", "verify-full"):
        env = {**plain, **tls, "S3GW_DATABASE_SSLMODE": sslmode, "S3GW_CACHE_REDIS_TLS": "true"}
        sc = serve(tmp_path, *https, env=env, monkeypatch=monkeypatch)
        assert sc.encryption_in_transit and config.plain_text_hops(sc) == []
    # the embedded default (local drives, SQLite) needs only the certificate
    assert serve(tmp_path, env={**on, **tls}, monkeypatch=monkeypatch).encryption_in_transit
    with pytest.raises(config.ConfigError, match="no HTTPS certificate"):
        serve(tmp_path, env=on, monkeypatch=monkeypatch)
    # off (the default): plain hops are allowed
    assert not serve(
        tmp_path,
        *nodes,
        env={**plain, "S3GW_SECURITY_ENCRYPTION_ENCRYPTION_IN_TRANSIT": "false"},
        monkeypatch=monkeypatch,
    ).encryption_in_transit


def test_serve_runs_one_worker_per_core_unless_told(tmp_path, monkeypatch) -> None:
    assert serve(tmp_path, monkeypatch=monkeypatch).workers == (os.cpu_count() or 1)
    assert serve(tmp_path, "--workers", "1", monkeypatch=monkeypatch).workers == 1
    assert serve(tmp_path, env={"S3GW_SERVER_WORKERS": "1"}, monkeypatch=monkeypatch).workers == 1
    assert serve(tmp_path, "--workers", "auto", monkeypatch=monkeypatch).workers == (os.cpu_count() or 1)
