"""The targets a compat run talks to, how to tell whether each is available, and
how to start and stop the ones the suite owns.

Names (COMPAT_TARGETS picks among them, comma-separated; default: every available):

- ``s3gw``            this checkout, embedded default (``s3gw serve --data DIR``)
- ``minio``           the pinned MinIO binary (MINIO_BIN, else scripts/go-tools.sh)
- ``minio-container`` MinIO in Docker through testcontainers, when a Docker engine answers
- ``endpoint``        any endpoint: COMPAT_ENDPOINT, COMPAT_ACCESS_KEY, COMPAT_SECRET_KEY
                      (COMPAT_REGION optional)

The reference for comparisons is ``minio`` (else ``minio-container``).

TLS: cases marked ``tls=True`` (SSE-C needs HTTPS) run against a second, HTTPS
instance of ``s3gw`` and ``minio``, started on first use with certificates from a
CA the session makes (trustme); every client verifies that CA (``Target.ca_file``).

Hook for the cluster form of s3gw: ``S3GW_VARIANTS`` maps a target name to the
extra ``s3gw serve`` arguments; add e.g. ``"s3gw-cluster": ["--nodes", ...]``
(or set COMPAT_S3GW_ARGS for the default target) once the flag exists.
"""

from __future__ import annotations

import base64
import os
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

REPO = Path(__file__).resolve().parents[2]
GO_TOOLS = REPO / "scripts" / "go-tools.sh"

# Non-default credentials for the servers the suite starts.
ACCESS_KEY = "compat-root"
SECRET_KEY = "compat-secret-9f3a1c7e55"
REGION = "us-east-1"

ALL_TARGETS = ("s3gw", "minio", "minio-container", "endpoint")
REFERENCES = ("minio", "minio-container")

# s3gw variants: target name -> extra `s3gw serve` arguments (the cluster hook).
S3GW_VARIANTS: dict[str, list[str]] = {
    "s3gw": shlex.split(os.environ.get("COMPAT_S3GW_ARGS", "")),
}

# MinIO's last community image for the container target (overridable).
#: the built-in KMS master key both targets start with (MinIO's MINIO_KMS_SECRET_KEY format)
KMS_KEY_NAME = "compat-key"
KMS_SECRET_KEY = os.environ.get(
    "COMPAT_KMS_SECRET_KEY", KMS_KEY_NAME + ":" + base64.b64encode(b"compat-tests-kms-master-key-32b!").decode()
)
MINIO_IMAGE = os.environ.get("COMPAT_MINIO_IMAGE", "minio/minio:RELEASE.2025-09-07T16-13-09Z")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _conn(port: int, ca_file: str | None):
    import http.client
    import ssl

    if ca_file is None:
        return http.client.HTTPConnection("127.0.0.1", port, timeout=1)
    return http.client.HTTPSConnection("127.0.0.1", port, timeout=1, context=ssl.create_default_context(cafile=ca_file))


def wait_http(port: int, proc: subprocess.Popen | None, timeout: float, log: Path | None = None) -> None:
    """Wait until something answers HTTP on 127.0.0.1:port."""
    import http.client

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            tail = log.read_text(errors="replace")[-2000:] if log and log.exists() else ""
            raise RuntimeError(f"server exited with {proc.returncode}\n{tail}")
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            c.request("GET", "/")
            c.getresponse().read()
            c.close()
            return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"nothing answered on 127.0.0.1:{port} in {timeout}s")


@dataclass
class Target:
    name: str
    url: str
    access_key: str
    secret_key: str
    region: str = REGION
    kind: str = "external"  # s3gw | minio | external
    workdir: Path | None = None
    ca_file: str | None = None  # the CA an https:// target's certificate is verified with
    _stop: Any = None
    cache: dict = field(default_factory=dict)  # clients, mc config dir, ...

    @property
    def hostport(self) -> str:
        return urlsplit(self.url).netloc

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or "127.0.0.1"

    @property
    def port(self) -> int:
        u = urlsplit(self.url)
        return u.port or (443 if u.scheme == "https" else 80)

    @property
    def secure(self) -> bool:
        return self.url.startswith("https")

    def stop(self) -> None:
        if self._stop is not None:
            stop, self._stop = self._stop, None
            stop()


def _stop_proc(proc: subprocess.Popen, *cleanup: Any) -> Any:
    def stop() -> None:
        try:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(15)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        finally:
            for c in cleanup:
                c()

    return stop


# ---------------------------------------------------------------- availability


def selected() -> list[str]:
    raw = os.environ.get("COMPAT_TARGETS", "").strip()
    if not raw:
        return list(ALL_TARGETS)
    names = [n.strip() for n in raw.split(",") if n.strip()]
    unknown = [n for n in names if n not in ALL_TARGETS and n not in S3GW_VARIANTS]
    if unknown:
        raise ValueError(f"COMPAT_TARGETS: unknown target(s) {unknown}; known: {list(ALL_TARGETS)}")
    return names


_tool_cache: dict[str, str | None] = {}
_tool_error: dict[str, str] = {}


def go_tool(name: str) -> str | None:
    """Path of the pinned minio/mc binary: MINIO_BIN / MC_BIN, else scripts/go-tools.sh."""
    if name in _tool_cache:
        return _tool_cache[name]
    env_path = os.environ.get(f"{name.upper()}_BIN")
    path: str | None = None
    if env_path:
        path = env_path if os.access(env_path, os.X_OK) else None
        if path is None:
            _tool_error[name] = f"{name.upper()}_BIN={env_path} is not executable"
    else:
        try:
            out = subprocess.run(["bash", str(GO_TOOLS), name], capture_output=True, text=True, timeout=1800)
            if out.returncode == 0:
                path = out.stdout.split()[-1]
            else:
                _tool_error[name] = f"scripts/go-tools.sh {name} failed: {out.stderr.strip()[-300:]}"
        except (OSError, subprocess.TimeoutExpired) as e:
            _tool_error[name] = f"scripts/go-tools.sh {name}: {e}"
    _tool_cache[name] = path
    return path


def tool_error(name: str) -> str:
    return _tool_error.get(name, f"{name} not available")


def docker_answers() -> tuple[bool, str]:
    try:
        import docker  # type: ignore
        import testcontainers.minio  # type: ignore  # noqa: F401
    except ImportError as e:
        return False, f"testcontainers/docker not installed ({e})"
    try:
        client = docker.from_env(timeout=3)
        client.ping()
        client.close()
        return True, ""
    except Exception as e:  # noqa: BLE001 - any failure means "no engine"
        return False, f"no Docker engine answers ({type(e).__name__})"


def availability() -> dict[str, tuple[bool, str]]:
    """name -> (available, reason when not), for every selected target."""
    out: dict[str, tuple[bool, str]] = {}
    for name in selected():
        if name in S3GW_VARIANTS:
            r = subprocess.run(
                [sys.executable, "-c", "import s3gw.server, s3gw.cli"],
                cwd=REPO,
                capture_output=True,
                text=True,
                env=_s3gw_env(),
            )
            out[name] = (r.returncode == 0, "s3gw does not import yet: " + r.stderr.strip()[-300:])
        elif name == "minio":
            ok = go_tool("minio") is not None
            out[name] = (ok, tool_error("minio"))
        elif name == "minio-container":
            out[name] = docker_answers()
        elif name == "endpoint":
            ok = all(os.environ.get(k) for k in ("COMPAT_ENDPOINT", "COMPAT_ACCESS_KEY", "COMPAT_SECRET_KEY"))
            out[name] = (ok, "COMPAT_ENDPOINT, COMPAT_ACCESS_KEY and COMPAT_SECRET_KEY are not all set")
    return out


# ---------------------------------------------------------------- starting


def _s3gw_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return env


@dataclass
class Certs:
    """A CA made for this session and a server certificate it issued for 127.0.0.1."""

    ca: str
    cert: str
    key: str


def make_certs(base: Path) -> Certs:
    import trustme

    d = base / "tls"
    d.mkdir(parents=True, exist_ok=True)
    ca = trustme.CA()
    leaf = ca.issue_cert("127.0.0.1", "localhost")
    paths = Certs(str(d / "ca.crt"), str(d / "public.crt"), str(d / "private.key"))
    ca.cert_pem.write_to_path(paths.ca)
    Path(paths.cert).write_bytes(b"".join(b.bytes() for b in leaf.cert_chain_pems))
    leaf.private_key_pem.write_to_path(paths.key)
    os.chmod(paths.key, 0o600)
    return paths


def start_s3gw(name: str, base: Path, tls: Certs | None = None) -> Target:
    label = f"{name}-tls" if tls else name
    data = base / label
    data.mkdir(parents=True, exist_ok=True)
    port = free_port()
    env = {
        **_s3gw_env(),
        "S3GW_ROOT_USER": ACCESS_KEY,
        "S3GW_ROOT_PASSWORD": SECRET_KEY,
        "S3GW_KMS_SECRET_KEY": KMS_SECRET_KEY,
    }
    env.pop("MINIO_ROOT_USER", None)
    env.pop("MINIO_ROOT_PASSWORD", None)
    url = f"http://127.0.0.1:{port}"
    if tls:
        # HTTPS on its own port beside the plain one (which only the readiness wait uses)
        tls_port = free_port()
        env.update(
            S3GW_SECURITY_TLS_CERT_FILE=tls.cert,
            S3GW_SECURITY_TLS_KEY_FILE=tls.key,
            S3GW_SERVER_TLS_PORT=str(tls_port),
        )
        url = f"https://127.0.0.1:{tls_port}"
    log = base / f"{label}.log"
    with open(log, "ab") as logf:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "s3gw.cli",
                "serve",
                "--data",
                str(data),
                "--address",
                f"127.0.0.1:{port}",
                *S3GW_VARIANTS[name],
            ],
            cwd=REPO,
            env=env,
            stdout=logf,
            stderr=subprocess.STDOUT,
        )
    t = Target(
        label,
        url,
        ACCESS_KEY,
        SECRET_KEY,
        kind="s3gw",
        workdir=base,
        ca_file=tls.ca if tls else None,
        _stop=_stop_proc(proc),
    )
    try:
        wait_http(port, proc, 300, log)
    except BaseException:
        t.stop()
        raise
    return t


def start_minio(base: Path, tls: Certs | None = None) -> Target:
    binary = go_tool("minio")
    assert binary, tool_error("minio")
    label = "minio-tls" if tls else "minio"
    root = base / label
    for i in range(1, 5):
        (root / f"d{i}").mkdir(parents=True, exist_ok=True)
    port, console = free_port(), free_port()
    env = {
        **os.environ,
        "MINIO_CI_CD": "1",
        "MINIO_UPDATE": "off",
        "MINIO_BROWSER": "off",
        "MINIO_ROOT_USER": ACCESS_KEY,
        "MINIO_ROOT_PASSWORD": SECRET_KEY,
        "MINIO_KMS_SECRET_KEY": KMS_SECRET_KEY,
    }
    certs_dir: list[str] = []
    if tls:
        # MinIO serves HTTPS only when its certs dir holds public.crt and private.key
        d = root / "certs"
        (d / "CAs").mkdir(parents=True, exist_ok=True)
        shutil.copy(tls.cert, d / "public.crt")
        shutil.copy(tls.key, d / "private.key")
        shutil.copy(tls.ca, d / "CAs" / "ca.crt")
        certs_dir = ["--certs-dir", str(d)]
    log = base / f"{label}.log"
    with open(log, "ab") as logf:
        proc = subprocess.Popen(
            [
                binary,
                "server",
                "--quiet",
                *certs_dir,
                "--address",
                f"127.0.0.1:{port}",
                "--console-address",
                f"127.0.0.1:{console}",
                f"{root}/d{{1...4}}",
            ],
            env=env,
            stdout=logf,
            stderr=subprocess.STDOUT,
        )
    t = Target(
        label,
        f"{'https' if tls else 'http'}://127.0.0.1:{port}",
        ACCESS_KEY,
        SECRET_KEY,
        kind="minio",
        workdir=base,
        ca_file=tls.ca if tls else None,
        _stop=_stop_proc(proc),
    )
    try:
        wait_minio_ready(port, proc, log, ca_file=t.ca_file)
    except BaseException:
        t.stop()
        raise
    return t


def wait_minio_ready(
    port: int, proc: subprocess.Popen | None, log: Path | None, timeout: float = 300, ca_file: str | None = None
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            tail = log.read_text(errors="replace")[-2000:] if log and log.exists() else ""
            raise RuntimeError(f"minio exited with {proc.returncode}\n{tail}")
        try:
            c = _conn(port, ca_file)
            c.request("GET", "/minio/health/ready")
            status = c.getresponse().status
            c.close()
            if status == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"minio on 127.0.0.1:{port} not ready in {timeout}s")


def wait_serving(t: Target, timeout: float = 300) -> None:
    """Wait until an authenticated ListBuckets succeeds: MinIO answers its health
    checks a moment before it stops refusing requests with XMinioServerNotInitialized."""
    import boto3
    from botocore.config import Config

    s3 = boto3.client(
        "s3",
        endpoint_url=t.url,
        aws_access_key_id=t.access_key,
        aws_secret_access_key=t.secret_key,
        region_name=t.region,
        verify=t.ca_file if t.ca_file else None,
        config=Config(retries={"max_attempts": 1}, connect_timeout=2, read_timeout=10),
    )
    deadline = time.monotonic() + timeout
    while True:
        try:
            s3.list_buckets()
            return
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def start_minio_container() -> Target:
    from testcontainers.minio import MinioContainer  # type: ignore

    port = free_port()
    c = MinioContainer(image=MINIO_IMAGE, access_key=ACCESS_KEY, secret_key=SECRET_KEY)
    # Publish on loopback only.
    c.with_bind_ports(9000, ("127.0.0.1", port))
    c.with_env("MINIO_CI_CD", "1").with_env("MINIO_UPDATE", "off").with_env("MINIO_BROWSER", "off")
    c.with_env("MINIO_KMS_SECRET_KEY", KMS_SECRET_KEY)  # the encryption cases (cases/encryption.py)
    c.start()
    t = Target("minio-container", f"http://127.0.0.1:{port}", ACCESS_KEY, SECRET_KEY, kind="minio", _stop=c.stop)
    try:
        wait_minio_ready(port, None, None)
    except BaseException:
        t.stop()
        raise
    return t


def endpoint_target() -> Target:
    return Target(
        "endpoint",
        os.environ["COMPAT_ENDPOINT"].rstrip("/"),
        os.environ["COMPAT_ACCESS_KEY"],
        os.environ["COMPAT_SECRET_KEY"],
        os.environ.get("COMPAT_REGION", REGION),
    )


class TLSUnavailable(Exception):
    """The target has no HTTPS instance for the TLS cases."""


class Pool:
    """Starts targets on first use; ``close()`` stops all of them and removes temp dirs."""

    def __init__(self) -> None:
        self.base = Path(tempfile.mkdtemp(prefix="s3compat-"))
        self.targets: dict[str, Target] = {}
        self.errors: dict[str, str] = {}
        self._certs: Certs | None = None

    @property
    def certs(self) -> Certs:
        if self._certs is None:
            self._certs = make_certs(self.base)
        return self._certs

    def get(self, name: str, tls: bool = False) -> Target:
        """The target ``name``; with ``tls``, its HTTPS instance (another server, started on
        first use; ``endpoint`` is used as it is when its URL is https://)."""
        if tls and name != "endpoint":
            return self._get_tls(name)
        if name in self.errors:
            raise RuntimeError(f"target {name} failed to start: {self.errors[name]}")
        if name not in self.targets:
            try:
                if name in S3GW_VARIANTS:
                    t = start_s3gw(name, self.base)
                elif name == "minio":
                    t = start_minio(self.base)
                elif name == "minio-container":
                    t = start_minio_container()
                elif name == "endpoint":
                    t = endpoint_target()
                else:
                    raise KeyError(name)
            except Exception as e:
                self.errors[name] = f"{type(e).__name__}: {e}"
                raise
            try:
                wait_serving(t)
            except Exception as e:
                t.stop()
                self.errors[name] = f"{type(e).__name__}: {e}"
                raise
            if t.workdir is None:
                t.workdir = self.base  # CLI configs (aws, mc) live here and go with it
            self.targets[name] = t
        t = self.targets[name]
        if tls and not t.secure:
            raise TLSUnavailable(f"COMPAT_ENDPOINT {t.url} is not https://")
        return t

    def _get_tls(self, name: str) -> Target:
        key = f"{name}@tls"
        if key in self.errors:
            raise RuntimeError(f"target {name} over TLS failed to start: {self.errors[key]}")
        if key not in self.targets:
            if name not in S3GW_VARIANTS and name != "minio":
                raise TLSUnavailable(f"no TLS instance of {name} (only s3gw and the minio binary have one)")
            t = None
            try:
                if name in S3GW_VARIANTS:
                    t = start_s3gw(name, self.base, self.certs)
                else:
                    t = start_minio(self.base, self.certs)
                wait_serving(t)
            except Exception as e:
                if t is not None:
                    t.stop()
                self.errors[key] = f"{type(e).__name__}: {e}"
                raise
            self.targets[key] = t
        return self.targets[key]

    def close(self, keep_logs: Path | None = None) -> None:
        for t in list(self.targets.values()):
            for fin in t.cache.get("finalizers", []):
                try:
                    fin()
                except Exception:  # noqa: BLE001 - best effort: the server goes away next
                    pass
            try:
                t.stop()
            except Exception:  # noqa: BLE001 - keep stopping the others
                pass
        self.targets.clear()
        if keep_logs is not None:
            keep_logs.mkdir(parents=True, exist_ok=True)
            for log in self.base.glob("*.log"):
                shutil.copy(log, keep_logs / log.name)
        shutil.rmtree(self.base, ignore_errors=True)
