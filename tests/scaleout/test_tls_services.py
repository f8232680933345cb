"""TLS to the metadata database and the cache, against real servers started with certificates
from a throwaway CA (tests/services.py, tests/tlscerts.py): PostgreSQL with ``ssl = on`` and the
gateway on ``database.sslmode: verify-full`` with ``database.ca_file``; Redis on its TLS port only,
the gateway on ``cache.redis.tls`` with ``cache.redis.ca_file``. With every hop TLS,
``encryption_in_transit: true`` starts; a server whose certificate does not verify is refused."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator

import boto3
import pytest
from botocore.config import Config

from tests.conftest import ACCESS_KEY, SECRET_KEY, free_port
from tests.scaleout.conftest import Deployment
from tests.services import PgServer, RedisServer, start_postgres, start_redis
from tests.tlscerts import Pair, issue
from tests.waiting import wait_until


@pytest.fixture(scope="module")
def servers_pair() -> Pair:
    return issue()  # one CA; its certificate names 127.0.0.1 and localhost


@pytest.fixture(scope="module")
def tls_postgres(servers_pair: Pair) -> Iterator[PgServer]:
    srv = start_postgres(tls=servers_pair)
    yield srv
    srv.destroy()
    shutil.rmtree(os.path.dirname(srv.datadir), ignore_errors=True)


@pytest.fixture(scope="module")
def tls_redis(servers_pair: Pair) -> Iterator[RedisServer]:
    srv = start_redis(tls=servers_pair)
    yield srv
    srv.stop()
    shutil.rmtree(srv.datadir, ignore_errors=True)


@pytest.fixture
def tls_deployment(tmp_path, tls_postgres, tls_redis, servers_pair) -> Iterator[Deployment]:
    dep = Deployment(root=str(tmp_path), pg=tls_postgres, redis=tls_redis, database=tls_postgres.new_database("tls"))
    ca = servers_pair.write(str(tmp_path / "servers"))["ca"]
    dep.extra = {
        "database.sslmode": "verify-full",
        "database.ca_file": ca,
        "cache.redis.tls": True,
        "cache.redis.ca_file": ca,
        "cache.redis.timeout": "2s",  # a TLS handshake on a busy test machine
    }
    yield dep
    dep.stop()


def test_every_hop_tls_with_encryption_in_transit(tls_deployment: Deployment, tmp_path) -> None:
    dep = tls_deployment
    gw_files = issue().write(str(tmp_path / "gateway"))  # the clients' CA: another one
    port = free_port()  # HTTPS only: the plain port is never opened, so it is the one the start waits for
    dep.start(
        port=port,
        **{
            "server.tls_port": port,
            "security.tls.cert_file": gw_files["cert"],
            "security.tls.key_file": gw_files["key"],
            "security.encryption.encryption_in_transit": True,
        },
    )
    s3 = boto3.client(
        "s3",
        endpoint_url=f"https://127.0.0.1:{port}",
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        region_name="us-east-1",
        verify=gw_files["ca"],
        config=Config(retries={"total_max_attempts": 1}),
    )
    s3.create_bucket(Bucket="tls-hops")
    s3.put_object(Bucket="tls-hops", Key="k", Body=b"over every hop")
    for _ in range(3):
        assert s3.get_object(Bucket="tls-hops", Key="k")["Body"].read() == b"over every hop"
    # PostgreSQL: every connection of the gateway to its database is TLS
    rows = dep.pg.psql(
        f"SELECT s.ssl FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) WHERE a.datname = '{dep.database}'"
    ).split()
    assert rows and set(rows) == {"t"}, rows
    # Redis listens on TLS only: entries under the deployment's prefix came over it
    keys = wait_until(
        lambda: dep.redis.command("KEYS", f"{dep.database}:*"),  # type: ignore[union-attr]
        "the cache to hold entries",
        until=lambda out: dep.database.encode() in out,
    )
    assert keys


def test_postgres_certificate_of_another_ca_is_refused(tls_deployment: Deployment, tmp_path) -> None:
    dep = tls_deployment
    dep.extra["database.ca_file"] = issue().write(str(tmp_path / "other"))["ca"]
    dep.extra["database.startup_wait"] = "1s"
    with pytest.raises(RuntimeError, match="process exited"):
        dep.start()
    log = open(next(iter(sorted((tmp_path).glob("gateway-*.log"))))).read()
    assert "certificate verify failed" in log and "Traceback" not in log, log[-2000:]


def test_redis_certificate_of_another_ca_is_not_used(tls_deployment: Deployment, tmp_path) -> None:
    """The cache is optional: a Redis that does not verify is never talked to, the gateway goes on without it."""
    dep = tls_deployment
    dep.extra["cache.redis.ca_file"] = issue().write(str(tmp_path / "other"))["ca"]
    gw = dep.start()
    s3 = gw.s3()
    s3.create_bucket(Bucket="no-cache")
    s3.put_object(Bucket="no-cache", Key="k", Body=b"still served")
    assert s3.get_object(Bucket="no-cache", Key="k")["Body"].read() == b"still served"
    wait_until(gw.logs, "the refused Redis in the log", until=lambda text: "certificate verify failed" in text)
    assert dep.database.encode() not in dep.redis.command("KEYS", f"{dep.database}:*")  # type: ignore[union-attr]


def test_verify_full_checks_the_host_name_verify_ca_does_not(tmp_path) -> None:
    """A PostgreSQL whose certificate (from the trusted CA) names another host: verify-ca accepts it,
    verify-full refuses it."""
    pair = issue(None, "db.elsewhere.test")
    pg = start_postgres(tls=pair)
    try:
        dep = Deployment(root=str(tmp_path), pg=pg, database=pg.new_database("names"))
        ca = pair.write(str(tmp_path / "ca"))["ca"]
        dep.extra = {"database.ca_file": ca, "database.startup_wait": "1s"}
        gw = dep.start(**{"database.sslmode": "verify-ca"})
        gw.s3().create_bucket(Bucket="verify-ca")
        gw.stop()
        with pytest.raises(RuntimeError, match="process exited"):
            dep.start(**{"database.sslmode": "verify-full"})
        logs = [p.read_text() for p in sorted(tmp_path.glob("gateway-*.log"))]
        assert any("mismatch" in text or "doesn't match" in text for text in logs), logs[-1][-2000:]
    finally:
        pg.destroy()
        shutil.rmtree(os.path.dirname(pg.datadir), ignore_errors=True)
