"""Real PostgreSQL and Redis servers for the tests, on loopback, in throwaway directories.

Nothing is mocked at the database or cache boundary: the PostgreSQL contract
tests, the multi-gateway tests and the cache tests talk to the servers started
here, from Debian's ``postgresql`` and ``redis-server`` packages
(``scripts/setup.sh`` installs them when missing).

Missing binaries are a test *failure*, never a skip: a CI machine without them
must go red, not quietly test less. (A developer who knowingly runs without them
can set ``S3GW_TEST_NO_SERVICES=1``; those tests are then skipped, and say so.)

PostgreSQL refuses to run as root, so as root the server runs as the
``postgres`` system user the Debian package creates (through ``runuser``). The
cluster is made with an ICU ``en-US`` default collation on purpose: text would
sort linguistically there, so the tests prove the store orders keys by bytes
anyway.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from tests.tlscerts import Pair
from tests.waiting import SCALE, deadline

PG_SUPERUSER = "s3gw"
SKIP_ENV = "S3GW_TEST_NO_SERVICES"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop_process(proc: subprocess.Popen, grace: float = 10) -> None:
    """Terminate ``proc`` if it still runs; kill it when it has not exited ``grace`` seconds later."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def wait_port(port: int, proc: subprocess.Popen | None = None, timeout: float = 120.0) -> None:
    """Until something listens on ``port`` (a process started on a busy machine may take long);
    fails at once if ``proc`` exits."""
    end = deadline(timeout)
    while time.monotonic() < end:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listening on 127.0.0.1:{port} after {timeout * SCALE:.0f}s")


def missing_service(what: str, hint: str) -> None:
    """Fail (or, when the developer asked for it, skip) a test that needs a server we cannot start."""
    msg = f"{what} is not installed: {hint} (scripts/setup.sh installs it)"
    if os.environ.get(SKIP_ENV) == "1":
        pytest.skip(f"{msg}; skipped because {SKIP_ENV}=1")
    pytest.fail(msg, pytrace=False)


def pg_bindir() -> str | None:
    """The newest /usr/lib/postgresql/N/bin with initdb and pg_ctl, or the ones on PATH."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if found:
        return os.path.dirname(found[-1])
    initdb = shutil.which("initdb")
    return os.path.dirname(os.path.realpath(initdb)) if initdb else None


# --------------------------------------------------------------------------- PostgreSQL


@dataclass
class PgServer:
    """One PostgreSQL cluster: start, stop (fast or immediate), freeze, thaw."""

    bindir: str
    datadir: str
    port: int
    password: str
    run_as: str | None  # system user when we are root
    host: str = "127.0.0.1"
    user: str = PG_SUPERUSER
    log: str = ""
    ssl_dir: str = ""  # TLS on (ssl = on): server.crt and server.key here (``start_postgres(tls=...)``)
    _n: int = field(default=0, repr=False)

    def _cmd(self, *argv: str) -> list[str]:
        prefix = ["runuser", "-u", self.run_as, "--"] if self.run_as else []
        return prefix + list(argv)

    def start(self) -> None:
        opts = " ".join(
            [
                f"-c port={self.port}",
                "-c listen_addresses=127.0.0.1",
                f"-c unix_socket_directories={self.datadir}",
                # speed for tests; a crash of the *process* still loses nothing (the OS keeps the pages)
                "-c fsync=off",
                "-c full_page_writes=off",
                "-c max_connections=300",
                "-c shared_buffers=64MB",
                *(
                    [
                        "-c ssl=on",
                        f"-c ssl_cert_file={self.ssl_dir}/server.crt",
                        f"-c ssl_key_file={self.ssl_dir}/server.key",
                    ]
                    if self.ssl_dir
                    else []
                ),
            ]
        )
        subprocess.run(
            self._cmd(
                f"{self.bindir}/pg_ctl", "-D", self.datadir, "-l", self.log, "-w", "-t", "300", "-o", opts, "start"
            ),
            check=True,
            stdout=subprocess.DEVNULL,
        )

    def stop(self, mode: str = "fast") -> None:
        """``fast``: clean shutdown; ``immediate``: like a crash (WAL replay on the next start)."""
        self.thaw()
        subprocess.run(
            self._cmd(f"{self.bindir}/pg_ctl", "-D", self.datadir, "-m", mode, "-w", "-t", "300", "stop"),
            check=False,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def _pids(self) -> list[int]:
        try:
            with open(os.path.join(self.datadir, "postmaster.pid")) as f:
                master = int(f.readline())
        except (OSError, ValueError):
            return []
        out = subprocess.run(["pgrep", "-P", str(master)], capture_output=True, text=True).stdout.split()
        return [master, *map(int, out)]

    def freeze(self) -> None:
        """SIGSTOP every server process: connections stay open and nothing answers (a hung database)."""
        for pid in self._pids():
            os.kill(pid, signal.SIGSTOP)

    def thaw(self) -> None:
        for pid in self._pids():
            try:
                os.kill(pid, signal.SIGCONT)
            except ProcessLookupError:
                pass

    def dsn(self, database: str = "postgres") -> str:
        return f"postgresql://{self.user}:{self.password}@{self.host}:{self.port}/{database}"

    def psql(self, sql: str, database: str = "postgres") -> str:
        env = {**os.environ, "PGPASSWORD": self.password}
        out = subprocess.run(
            [
                f"{self.bindir}/psql",
                "-X",
                "-q",
                "-At",
                "-v",
                "ON_ERROR_STOP=1",
                "-h",
                self.host,
                "-p",
                str(self.port),
                "-U",
                self.user,
                "-d",
                database,
                "-c",
                sql,
            ],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        )
        return out.stdout

    def new_database(self, prefix: str = "t") -> str:
        """A fresh, empty database (the store's migrations create the schema)."""
        self._n += 1
        name = f"{prefix}_{os.getpid()}_{self._n}_{secrets.token_hex(3)}"
        self.psql(f'CREATE DATABASE "{name}" TEMPLATE template0 STRATEGY FILE_COPY')
        return name

    def destroy(self) -> None:
        self.stop("immediate")
        shutil.rmtree(self.datadir, ignore_errors=True)


def start_postgres(tls: Pair | None = None) -> PgServer:
    """A fresh cluster; with ``tls`` (tests/tlscerts.py), serving TLS with that certificate (ssl = on;
    clients may still connect in plain text: sslmode is the client's choice)."""
    bindir = pg_bindir()
    if bindir is None:
        missing_service("PostgreSQL (initdb, pg_ctl)", "apt-get install postgresql")
    assert bindir is not None
    run_as = None
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            missing_service("the postgres system user", "it comes with Debian's postgresql package")
        run_as = "postgres"
    datadir = tempfile.mkdtemp(prefix="s3gw-pg-")
    password = secrets.token_hex(12)
    pwfile = os.path.join(datadir, "pw")
    with open(pwfile, "w") as f:
        f.write(password + "\n")
    os.chmod(datadir, 0o700)
    if run_as:
        ent = pwd.getpwnam(run_as)
        os.chown(datadir, ent.pw_uid, ent.pw_gid)
        os.chown(pwfile, ent.pw_uid, ent.pw_gid)
    cluster = os.path.join(datadir, "cluster")
    srv = PgServer(
        bindir=bindir,
        datadir=cluster,
        port=free_port(),
        password=password,
        run_as=run_as,
        log=os.path.join(datadir, "server.log"),
    )
    if tls is not None:  # the key must be the server user's own, 0600 (PostgreSQL refuses it otherwise)
        srv.ssl_dir = os.path.join(datadir, "ssl")
        tls.write(srv.ssl_dir, cert="server.crt", key="server.key")
        os.chmod(os.path.join(srv.ssl_dir, "server.key"), 0o600)
        if run_as:
            ent = pwd.getpwnam(run_as)
            for name in ("", "server.crt", "server.key", "ca.crt"):
                os.chown(os.path.join(srv.ssl_dir, name), ent.pw_uid, ent.pw_gid)
    init = srv._cmd(
        f"{bindir}/initdb",
        "-D",
        cluster,
        "-U",
        PG_SUPERUSER,
        f"--pwfile={pwfile}",
        "--auth-local=trust",
        "--auth-host=scram-sha-256",
        "-E",
        "UTF8",
        "--locale=C.UTF-8",
        "--locale-provider=icu",
        "--icu-locale=en-US",
        "--no-sync",
    )
    res = subprocess.run(init, capture_output=True, text=True)
    if res.returncode != 0:  # an older PostgreSQL without ICU options: linguistic libc locales are absent here anyway
        init = [a for a in init if not a.startswith(("--locale-provider", "--icu-locale"))]
        subprocess.run(init, check=True, capture_output=True)
    os.unlink(pwfile)
    srv.start()
    return srv


@pytest.fixture(scope="session")
def postgres() -> Iterator[PgServer]:
    """The shared PostgreSQL of the session; tests take their own database from it."""
    srv = start_postgres()
    yield srv
    srv.destroy()
    shutil.rmtree(os.path.dirname(srv.datadir), ignore_errors=True)


@pytest.fixture
def private_postgres() -> Iterator[PgServer]:
    """A PostgreSQL of this test alone, which it may stop, crash or freeze."""
    srv = start_postgres()
    yield srv
    srv.destroy()
    shutil.rmtree(os.path.dirname(srv.datadir), ignore_errors=True)


# --------------------------------------------------------------------------- Redis


@dataclass
class RedisServer:
    port: int
    password: str
    datadir: str
    proc: subprocess.Popen | None = None
    host: str = "127.0.0.1"
    tls: Pair | None = None  # TLS only (tls-port; the plain port closed), with this certificate

    @property
    def endpoint(self) -> str:
        return f"{self.host}:{self.port}"

    def start(self) -> None:
        exe = shutil.which("redis-server")
        if exe is None:
            missing_service("redis-server", "apt-get install redis-server")
        assert exe is not None
        log = open(os.path.join(self.datadir, "redis.log"), "ab")
        if self.tls is not None:
            files = self.tls.write(os.path.join(self.datadir, "tls"))
            # clients are not asked for certificates; they verify the server's
            ports = ["--port", "0", "--tls-port", str(self.port), "--tls-auth-clients", "no"]
            ports += [
                "--tls-cert-file",
                files["cert"],
                "--tls-key-file",
                files["key"],
                "--tls-ca-cert-file",
                files["ca"],
            ]
        else:
            ports = ["--port", str(self.port)]
        self.proc = subprocess.Popen(
            [
                exe,
                *ports,
                "--bind",
                "127.0.0.1",
                "--dir",
                self.datadir,
                "--save",
                "",
                "--appendonly",
                "no",
                "--requirepass",
                self.password,
                "--daemonize",
                "no",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        wait_port(self.port, self.proc)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.thaw()
            stop_process(self.proc)
        self.proc = None

    def freeze(self) -> None:
        """SIGSTOP: connections stay open and nothing answers (a slow or hung cache)."""
        if self.proc is not None:
            os.kill(self.proc.pid, signal.SIGSTOP)

    def thaw(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGCONT)

    def command(self, *args: str) -> bytes:
        """One command through a raw socket (RESP), for test set-up and inspection."""
        parts = [b"AUTH", self.password.encode()], [a.encode() for a in args]
        with socket.create_connection((self.host, self.port), timeout=5) as raw:
            s = raw
            if self.tls is not None:
                ctx = ssl.create_default_context(cadata=self.tls.ca.cert_pem.bytes().decode())
                s = ctx.wrap_socket(raw, server_hostname=self.host)
            out = b""
            # over TLS a half-close would end the TLS session too: QUIT makes the server close instead
            for cmd in (*parts, [b"QUIT"]) if self.tls is not None else parts:
                s.sendall(b"*%d\r\n" % len(cmd) + b"".join(b"$%d\r\n%s\r\n" % (len(c), c) for c in cmd))
            if self.tls is None:
                s.shutdown(socket.SHUT_WR)
            with contextlib.suppress(ssl.SSLEOFError):
                while chunk := s.recv(65536):
                    out += chunk
        return out


def start_redis(password: str | None = None, tls: Pair | None = None) -> RedisServer:
    srv = RedisServer(
        port=free_port(),
        password=password or secrets.token_hex(12),
        datadir=tempfile.mkdtemp(prefix="s3gw-redis-"),
        tls=tls,
    )
    srv.start()
    return srv


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    srv = start_redis()
    yield srv
    srv.stop()
    shutil.rmtree(srv.datadir, ignore_errors=True)


@pytest.fixture
def private_redis() -> Iterator[RedisServer]:
    srv = start_redis()
    yield srv
    srv.stop()
    shutil.rmtree(srv.datadir, ignore_errors=True)
