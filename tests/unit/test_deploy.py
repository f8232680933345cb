"""docker-compose.yml and the configuration files it mounts agree with the CLI and the README.

No Docker here: the file is parsed, and every s3gw command in it is parsed by the
CLI's own parser, checked against the README's "Production" commands, and the
mounted configuration is validated by ``s3gw config check`` (with the secrets
it names stood in by temporary files).
"""

from __future__ import annotations

import pathlib
import re
import shlex

import pytest
import yaml

from s3gw import config
from s3gw.cli import build_parser, main

ROOT = pathlib.Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
S3GW = {name: svc for name, svc in SERVICES.items() if svc.get("image", "").startswith("s3gw/")}
GUIDE_CONFIG = pathlib.Path(__file__).with_name("guide_config.yaml")


def readme_commands() -> set[str]:
    text = (ROOT / "README.md").read_text()
    section = text.split("## Production", 1)[1].split("\n## ", 1)[0]
    out = set()
    for block in re.findall(r"```sh\n(.*?)```", section, re.S):
        for line in block.splitlines():
            line = line.split("  #", 1)[0].strip()
            if line.startswith("s3gw "):
                out.add(" ".join(shlex.split(line)))
    return out


def test_the_services_of_the_guide_are_there() -> None:
    assert {"postgres", "redis", "prometheus", "gateway1", "gateway2"} <= set(SERVICES)
    nodes = sorted(n for n in S3GW if S3GW[n]["command"][0] == "node")
    assert nodes == [f"node{i}" for i in range(1, 10)]
    # each node has a volume of its own
    vols = [S3GW[n]["volumes"][0].split(":")[0] for n in nodes]
    assert len(set(vols)) == 9 and all(v in COMPOSE["volumes"] for v in vols)
    gateways = [n for n in S3GW if S3GW[n]["command"][0] == "serve"]
    assert gateways == ["gateway1", "gateway2"]


def test_every_s3gw_command_parses_and_is_the_readmes() -> None:
    readme = readme_commands()
    parser = build_parser()
    for name, svc in S3GW.items():
        args = parser.parse_args(svc["command"])  # SystemExit here: a flag the CLI does not have
        line = " ".join(["s3gw", *svc["command"]])
        assert re.sub(r"node\d", "node1", line) in readme, f"{name}: `{line}` is not in the README's Production section"
        if args.command == "node":
            assert args.address == ("0.0.0.0", 9090) and args.secret_file.startswith("/run/secrets/")
            assert args.node_id == name and args.data == ["/data"]
            assert f"{name}:/data" in svc["volumes"]


def test_ports_and_scrape_targets_match_the_config() -> None:
    doc = yaml.safe_load((ROOT / "deploy" / "config.yaml").read_text())
    assert doc["security"]["encryption"]["encryption_in_transit"] is True  # HTTPS only: the TLS port is the port
    port = doc["server"]["tls_port"]
    host_ports = []
    for name in ("gateway1", "gateway2"):
        (mapping,) = SERVICES[name]["ports"]
        ip, host, container = mapping.split(":")
        assert ip == "127.0.0.1" and int(container) == port
        host_ports.append(int(host))
    assert len(set(host_ports)) == 2
    assert doc["storage"]["nodes"] == [f"https://node{i}:9090" for i in range(1, 10)]
    prom = yaml.safe_load((ROOT / "deploy" / "prometheus.yml").read_text())
    assert all(job["scheme"] == "https" and job["tls_config"]["ca_file"] for job in prom["scrape_configs"])
    targets = {t for job in prom["scrape_configs"] for sc in job["static_configs"] for t in sc["targets"]}
    assert {f"gateway{i}:{port}" for i in (1, 2)} | {f"node{i}:9090" for i in range(1, 10)} == targets
    mounted = {v.split(":")[0] for v in SERVICES["prometheus"]["volumes"]}
    assert "./deploy/prometheus.yml" in mounted


def test_secrets_are_files_and_named_by_the_config(tmp_path) -> None:
    text = (ROOT / "deploy" / "config.yaml").read_text()
    secrets = set(re.findall(r"/run/secrets/(\w+)", text))
    assert secrets <= set(COMPOSE["secrets"])
    for name in ("gateway1", "gateway2", "migrate"):
        assert secrets <= set(SERVICES[name]["secrets"]), name
    assert "password:" not in text.replace("password_file:", "")


def test_the_mounted_config_passes_config_check(tmp_path, capsys) -> None:
    text = (ROOT / "deploy" / "config.yaml").read_text()
    for name in set(re.findall(r"/run/secrets/(\w+)", text)):
        (tmp_path / name).write_text("s3gw-secret-" + name + "-0123456789abcdef")
    for name in set(re.findall(r"/etc/s3gw/tls/([\w.]+)", text)):  # deploy/make-secrets.sh's certificates
        (tmp_path / name).write_text("PEM")
    local = tmp_path / "config.yaml"
    local.write_text(text.replace("/run/secrets/", f"{tmp_path}/").replace("/etc/s3gw/tls/", f"{tmp_path}/"))
    assert main(["config", "check", str(local)]) == 0
    out = capsys.readouterr().out
    assert "postgres s3gw@postgres:5432/s3gw" in out and "redis redis:6379" in out and "9 nodes" in out
    conf = config.load(str(local), {})
    assert conf["server.workers"] == 2 and conf["cache.redis.endpoints"] == ["redis:6379"]
    sc = config.server_config(conf, {})
    assert sc.encryption_in_transit and config.plain_text_hops(sc) == []  # it would start: every hop TLS
    assert (sc.database.sslmode, sc.cache.redis_tls) == ("verify-full", True)


def test_every_tls_file_is_one_make_secrets_makes_and_is_mounted() -> None:
    """The certificates deploy/config.yaml and the compose commands name come from deploy/make-secrets.sh,
    through the one read-only mount of deploy/secrets/tls."""
    made = set(re.findall(r"^cert (\w+) ", (ROOT / "deploy" / "make-secrets.sh").read_text(), re.M))
    assert made == {"gateway", "node", "postgres", "redis"}
    text = (ROOT / "deploy" / "config.yaml").read_text() + (ROOT / "docker-compose.yml").read_text()
    for name in set(re.findall(r"/etc/s3gw/tls/([\w.]+)", text)):
        stem = name.rsplit(".", 1)[0]
        assert name == "ca.crt" or stem in made, name
    mount = "./deploy/secrets/tls:/etc/s3gw/tls:ro"
    for name in (*S3GW, "postgres", "redis", "prometheus"):
        assert mount in SERVICES[name].get("volumes", []), name


def test_the_deployment_guides_config_yaml_works_as_written(tmp_path, capsys) -> None:
    """The guide's ConfigMap, verbatim but for where its TLS files live."""
    (tmp_path / "tls.crt").write_text("cert")
    (tmp_path / "tls.key").write_text("key")
    local = tmp_path / "config.yaml"
    local.write_text(GUIDE_CONFIG.read_text().replace("/etc/tls/", f"{tmp_path}/"))
    assert main(["config", "check", str(local)]) == 0
    err = capsys.readouterr().err
    for key in ("storage.replication.factor", "storage.replication.cross_region"):
        assert f"warning: {key}: accepted, has no effect" in err
    assert "security.encryption" not in err  # the KMS endpoint and the rotation period are honoured
    conf = config.load(str(local), {"DB_PASSWORD": "from-the-k8s-secret"})
    sc = config.server_config(conf, {"DB_PASSWORD": "from-the-k8s-secret"}, require_data=False)
    assert (sc.port, sc.http_read_timeout, sc.http_write_timeout) == (8080, 30.0, 30.0)
    db = sc.database
    assert (
        db.driver,
        db.host,
        db.port,
        db.name,
        db.max_connections,
        db.min_connections,
        db.max_idle_lifetime,
        db.password,
    ) == ("postgres", "metadata-db.objectstore.local", 5432, "objectstore", 100, 10, 3600.0, "from-the-k8s-secret")
    assert (sc.data_shards, sc.parity_shards, sc.block_size) == (6, 3, 64 << 20)
    # the guide's KMS: AWS KMS in us-west-1, rotated every 90 days
    assert (sc.kms.endpoint, sc.kms.key_rotation_period) == ("https://kms.us-west-1.amazonaws.com", 90 * 86400.0)
    assert sc.cache.redis_endpoints == tuple(f"cache-00{i}.objectstore.local:6379" for i in (1, 2, 3))
    assert sc.cache.redis_pool_size == 50
    assert sc.tls_cert.endswith("tls.crt") and sc.tls_key.endswith("tls.key")


@pytest.mark.parametrize(
    "doc, message",
    [
        ("server:\n  prot: 80\n", "unknown key server.prot"),
        ("server:\n  port: eighty\n", "server.port: expected an integer"),
        ("server:\n  port: 70000\n", "server.port: 70000 is out of range"),
        ("server:\n  read_timeout: soon\n", "server.read_timeout: expected a duration"),
        ("database:\n  host: db\n  password: hunter2\n", "database.password: secrets are not read"),
        ("cache:\n  redis:\n    password: hunter2\n", "cache.redis.password: secrets are not read"),
        ("database:\n  password_file: /nonexistent/pw\n", "database.password_file: no such file"),
        ("storage:\n  erasure_coding:\n    chunk_size: 12\n", "storage.erasure_coding.chunk_size"),
        ("storage:\n  erasure_coding:\n    data_shards: 8\n", "storage.drives: 8+3 erasure coding needs 11 drives"),
        ("security:\n  tls:\n    cert_file: /x\n", "security.tls: cert_file and key_file go together"),
        ("- a\n- b\n", "must be a mapping"),
        ("server: [\n", "not valid YAML"),
    ],
)
def test_bad_files_stop_with_the_key_named(tmp_path, capsys, doc, message) -> None:
    f = tmp_path / "c.yaml"
    f.write_text(doc)
    assert main(["config", "check", str(f)]) == 2
    assert message in capsys.readouterr().err


def test_environment_overrides_and_their_errors(tmp_path) -> None:
    f = tmp_path / "c.yaml"
    f.write_text("server:\n  port: 8080\ncache:\n  redis:\n    endpoints: [a:1]\n")
    conf = config.load(
        str(f),
        {
            "S3GW_SERVER_PORT": "9000",
            "S3GW_CACHE_REDIS_ENDPOINTS": "r1:6379,r2:6379",
            "S3GW_STORAGE_ERASURE_CODING_PARITY_SHARDS": "2",
            "S3GW_ROOT_USER": "not-a-key",
        },
    )
    assert conf["server.port"] == 9000 and conf["cache.redis.endpoints"] == ["r1:6379", "r2:6379"]
    assert conf["storage.erasure_coding.parity_shards"] == 2
    assert conf.source["server.port"] == "environment S3GW_SERVER_PORT"
    with pytest.raises(config.ConfigError, match="S3GW_DATABASE_HOTS names no configuration key"):
        config.load(None, {"S3GW_DATABASE_HOTS": "x"})
    with pytest.raises(config.ConfigError, match="S3GW_SERVER_WORKERS.*server.workers"):
        config.load(None, {"S3GW_SERVER_WORKERS": "many"})


def test_secrets_come_from_the_environment_or_files(tmp_path) -> None:
    pw = tmp_path / "pw"
    pw.write_text("from-a-file\n")
    conf = config.load(None, {})
    conf.set("database.host", "db", "test")
    conf.set("server.data", str(tmp_path), "test")
    assert config.server_config(conf, {"S3GW_DB_PASSWORD": "env"}).database.password == "env"
    assert config.server_config(conf, {"S3GW_DB_PASSWORD_FILE": str(pw)}).database.password == "from-a-file"
    conf.set("database.password_file", str(pw), "test")
    assert config.server_config(conf, {}).database.password == "from-a-file"
    sc = config.server_config(conf, {"S3GW_ROOT_USER_FILE": str(pw), "MINIO_ROOT_PASSWORD": "p" * 12})
    assert (sc.access_key, sc.secret_key) == ("from-a-file", "p" * 12)
    assert "hunter2" not in config.describe(conf)


def test_without_a_config_file_serve_is_the_embedded_default(tmp_path) -> None:
    from s3gw.cli import serve_config

    args = build_parser().parse_args(["serve", "--data", str(tmp_path), "--address", "127.0.0.1:9999"])
    sc = serve_config(args)
    assert (sc.data_dir, sc.host, sc.port, sc.workers, sc.nodes) == (str(tmp_path), "127.0.0.1", 9999, 1, ())
    assert sc.database.driver == "sqlite" and not sc.cache.redis_endpoints
    with pytest.raises(config.ConfigError, match="server.data"):
        serve_config(build_parser().parse_args(["serve"]))


#: config key -> ServerConfig field, for the slow-client limits (security issue, hole 7)
CLIENT_LIMITS = {
    "server.read_timeout": "http_read_timeout",
    "server.write_timeout": "http_write_timeout",
    "server.read_header_timeout": "read_header_timeout",
    "server.idle_timeout": "idle_timeout",
    "server.max_connections": "max_connections",
    "server.max_requests": "max_requests",
}


def test_client_limits_are_on_by_default_and_the_same_everywhere(tmp_path) -> None:
    """The schema's defaults are ServerConfig's (a gateway built in-process gets them too), and flags set them."""
    from s3gw.cli import serve_config
    from s3gw.config import ServerConfig

    plain = ServerConfig(data_dir=str(tmp_path))
    served = serve_config(build_parser().parse_args(["serve", "--data", str(tmp_path)]))
    for key, field in CLIENT_LIMITS.items():
        assert config.KEYS[key].default == getattr(plain, field) == getattr(served, field), key
        assert getattr(plain, field) > 0, f"{key} is off by default"
    flags = serve_config(
        build_parser().parse_args(
            [
                "serve",
                "--data",
                str(tmp_path),
                "--read-header-timeout",
                "2s",
                "--idle-timeout",
                "500ms",
                "--body-read-timeout",
                "3",
                "--body-write-timeout",
                "4s",
                "--max-connections",
                "7",
                "--max-requests",
                "5",
            ]
        )
    )
    assert (
        flags.read_header_timeout,
        flags.idle_timeout,
        flags.http_read_timeout,
        flags.http_write_timeout,
        flags.max_connections,
        flags.max_requests,
    ) == (2.0, 0.5, 3.0, 4.0, 7, 5)


def test_every_config_key_is_documented() -> None:
    doc = (ROOT / "docs" / "metadata.md").read_text()
    missing = [k.path for k in config.SCHEMA if f"`{k.path}`" not in doc]
    assert not missing, f"docs/metadata.md lacks {missing}"


def test_serve_refuses_a_bad_config_and_a_newer_schema(tmp_path, capsys) -> None:
    import asyncio
    import sqlite3

    from s3gw.meta.sqlite import SqliteMeta
    from tests.conftest import free_port

    bad = tmp_path / "bad.yaml"
    bad.write_text("database:\n  max_conections: 5\n")
    assert main(["serve", "--config", str(bad), "--data", str(tmp_path)]) == 2
    assert "unknown key database.max_conections" in capsys.readouterr().err

    store = SqliteMeta(str(tmp_path / "meta" / "s3gw.db"))
    asyncio.run(store.open())
    asyncio.run(store.close())
    with sqlite3.connect(tmp_path / "meta" / "s3gw.db") as db:
        db.execute("INSERT INTO schema_version VALUES (999)")
    assert main(["serve", "--data", str(tmp_path), "--address", f"127.0.0.1:{free_port()}"]) == 2
    assert "newer than this s3gw knows" in capsys.readouterr().err
