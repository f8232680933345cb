"""``mc admin trace``: a live stream of the requests every gateway process answers, in
madmin's trace format (``TraceInfo`` as JSON lines), at no cost when nobody traces.

**Who publishes.** The telemetry middleware (``observe.py``) sees every request; when
``TraceHub.active`` is false (nobody traces) it does nothing more than read that flag.
When someone does, it builds one ``TraceInfo`` (type ``s3`` for S3 operations, ``internal``
for admin, STS, health and metrics calls; funcname ``s3.GetObject``, ``admin.AddUser``...;
the request's and answer's headers, with signatures and session tokens redacted; sizes and
latency; no bodies; the answering process's id as ``custom.pid``) and publishes it.

**Across worker processes** (``s3gw serve --workers N``: N processes on one port). A
subscriber is served by whichever process took its connection, and must see the requests
the others answer. Each process that has subscribers binds a Unix datagram socket in a
directory private to the gateway (0700, this user's, one per host and port: ``trace_dir``);
every process lists that directory once a second, and while it holds another process's
socket it sends each trace record there (non-blocking: a full or gone subscriber loses
records, as MinIO's trace drops what a slow client cannot take). Nobody tracing: the
directory is empty, nothing is encoded, nothing is sent. A subscriber's filters (types,
errors only, a latency threshold) are applied where it is served.

**The stream** (``GET /minio/admin/v3/trace``, ``admin:ServerTrace``): one JSON document
per line, a space every second while idle (MinIO's keep-alive, which JSON decoders skip),
until the client goes away.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import hashlib
import json
import logging
import os
import re
import socket
import stat
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

log = logging.getLogger(__name__)

# madmin's TraceType bits (madmin-go trace.go)
TRACE_OS, TRACE_STORAGE, TRACE_S3, TRACE_INTERNAL = 1, 2, 4, 8
TRACE_HEALING = 1 << 6
MAX_DATAGRAM = 60 * 1024  # a record larger than this (huge headers) is not sent to other processes
QUEUE = 10000  # records a subscriber may lag behind before losing some
SCAN_INTERVAL = 1.0  # how often a process looks for other processes' subscribers
_REDACT = re.compile(r"(Signature=)[0-9a-fA-F]+")
#: customer-provided encryption keys (SSE-C), of the object and of a copy's source
SSE_C_KEY_HEADERS = (
    "x-amz-server-side-encryption-customer-key",
    "x-amz-copy-source-server-side-encryption-customer-key",
)


def trace_dir(data_dir: str, host: str, port: int) -> str:
    """The directory the processes of the gateway listening on host:port share (0700): under
    its data directory, or, where a socket path there would be too long (108 bytes), under the
    runtime directory."""
    if data_dir:
        path = os.path.join(os.path.abspath(data_dir), "run", "trace")
        if len(path) <= 80:
            return path
    base = os.environ.get("XDG_RUNTIME_DIR") or tempfile.gettempdir()
    tag = hashlib.sha256(f"{os.path.abspath(data_dir)}|{host}:{port}".encode()).hexdigest()[:12]
    return os.path.join(base, f"s3gw-{os.getuid()}-trace-{tag}")


def _private_dir(path: str) -> bool:
    """Create ``path`` 0700, or accept it only if it is a directory of ours that nobody else may use."""
    try:
        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
        os.mkdir(path, 0o700)
    except FileExistsError:
        pass
    except OSError as e:
        log.warning("trace: cannot create %s (%s): traces stay within each process", path, e)
        return False
    st = os.lstat(path)
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid() or stat.S_IMODE(st.st_mode) & 0o077:
        log.warning("trace: %s is not a private directory of this user: traces stay within each process", path)
        return False
    return True


@dataclass
class TraceFilter:
    """What a subscriber asked for (madmin's ServiceTraceOpts): types, errors only, a threshold."""

    types: int = TRACE_S3
    only_errors: bool = False
    threshold_ns: int = 0

    def wants(self, rec: dict[str, Any]) -> bool:
        if not rec.get("type", 0) & self.types:
            return False
        if self.threshold_ns and rec.get("dur", 0) < self.threshold_ns:
            return False
        http = rec.get("http")
        if self.only_errors and http is not None and http["response"].get("statuscode", 0) < 400:
            return False
        return True


class _Subscriber:
    def __init__(self, flt: TraceFilter) -> None:
        self.filter = flt
        self.queue: asyncio.Queue[bytes] = asyncio.Queue(QUEUE)

    def offer(self, rec: dict[str, Any], line: bytes) -> None:
        if self.filter.wants(rec):
            with contextlib.suppress(asyncio.QueueFull):
                self.queue.put_nowait(line)


class TraceHub:
    """This process's trace subscribers, and the way to its sibling processes' (module doc)."""

    def __init__(self, directory: str | None) -> None:
        self.directory = directory if directory and _private_dir(directory) else None
        self._subs: set[_Subscriber] = set()
        self._peers: list[str] = []
        self._own: str | None = None
        self._rx: socket.socket | None = None
        self._tx: socket.socket | None = None
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self.active = False

    # -- life --------------------------------------------------------------------
    async def start(self) -> None:
        if self.directory is not None:
            self._task = asyncio.create_task(self._scan_forever())

    def shutdown(self) -> None:
        """The gateway is stopping: end every subscriber's stream now (it would hold the shutdown)."""
        self._closing = True
        for sub in list(self._subs):
            with contextlib.suppress(asyncio.QueueFull):
                sub.queue.put_nowait(b"")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._close_rx()
        if self._tx is not None:
            self._tx.close()

    def _update(self) -> None:
        self.active = bool(self._subs) or bool(self._peers)

    async def _scan_forever(self) -> None:
        while True:
            try:
                self._scan()
            except OSError as e:
                log.debug("trace: scanning %s: %s", self.directory, e)
            await asyncio.sleep(SCAN_INTERVAL)

    def _scan(self) -> None:
        assert self.directory is not None
        with os.scandir(self.directory) as it:
            self._peers = [e.path for e in it if e.name.endswith(".sock") and e.path != self._own]
        self._update()

    # -- subscribers ---------------------------------------------------------------
    async def subscribe(self, flt: TraceFilter) -> AsyncIterator[bytes | None]:
        """Trace lines for this subscriber; None when a second passed without any (keep-alive)."""
        sub = _Subscriber(flt)
        self._subs.add(sub)
        if len(self._subs) == 1:
            self._open_rx()
        self._update()
        try:
            while not self._closing:
                try:
                    line = await asyncio.wait_for(sub.queue.get(), 1.0)
                except TimeoutError:
                    yield None
                    continue
                if not line:  # shutdown()
                    return
                yield line
        finally:
            self._subs.discard(sub)
            if not self._subs:
                self._close_rx()
            self._update()

    def _open_rx(self) -> None:
        if self.directory is None:
            return
        path = os.path.join(self.directory, f"{os.getpid()}-{id(self):x}.sock")
        rx = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        try:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
            rx.bind(path)
            rx.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
            rx.setblocking(False)
        except OSError as e:
            rx.close()
            log.warning("trace: cannot listen on %s (%s): this subscriber sees this process only", path, e)
            return
        self._rx, self._own = rx, path
        asyncio.get_running_loop().add_reader(rx.fileno(), self._receive)

    def _close_rx(self) -> None:
        if self._rx is None:
            return
        with contextlib.suppress(Exception):
            asyncio.get_running_loop().remove_reader(self._rx.fileno())
        self._rx.close()
        if self._own:
            with contextlib.suppress(OSError):
                os.unlink(self._own)
        self._rx, self._own = None, None

    def _receive(self) -> None:
        assert self._rx is not None
        while True:
            try:
                data = self._rx.recv(MAX_DATAGRAM + 1024)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return
            try:
                rec = json.loads(data)
            except ValueError:
                continue
            for sub in list(self._subs):
                sub.offer(rec, data)

    # -- publishing ------------------------------------------------------------------
    def publish(self, rec: dict[str, Any]) -> None:
        line = json.dumps(rec, separators=(",", ":")).encode() + b"\n"
        for sub in list(self._subs):
            sub.offer(rec, line)
        if not self._peers or len(line) > MAX_DATAGRAM:
            return
        if self._tx is None:
            self._tx = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            self._tx.setblocking(False)
        for peer in list(self._peers):
            try:
                self._tx.sendto(line, peer)
            except (BlockingIOError, InterruptedError):
                pass  # a slow subscriber loses records
            except OSError as e:
                if e.errno in (errno.ECONNREFUSED, errno.ENOENT):  # its process is gone
                    self._peers.remove(peer)
                    if e.errno == errno.ECONNREFUSED:
                        with contextlib.suppress(OSError):
                            os.unlink(peer)
                    self._update()


# --------------------------------------------------------------------------- records


def _go_time(ts: float) -> str:
    """RFC 3339 with nanoseconds, as Go's time.Time marshals (microseconds here)."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _headers(items: Any) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for k, v in items:
        lk = k.lower()
        if lk == "authorization":
            v = _REDACT.sub(r"\1REDACTED", v)
        elif lk in ("x-amz-security-token", *SSE_C_KEY_HEADERS):
            v = "REDACTED"  # SSE-C keys never reach a trace (MinIO redacts them too)
        out.setdefault("-".join(p[:1].upper() + p[1:] for p in k.split("-")), []).append(v)
    return out


def _query(request: web.Request) -> str:
    q = request.query_string
    if "Signature=" in q or "ecurity-Token=" in q or "ecurity-token=" in q:
        q = re.sub(r"((?:X-Amz-)?Signature=)[^&]*", r"\1REDACTED", q)
        q = re.sub(r"((?i:x-amz-security-token)=)[^&]*", r"\1REDACTED", q)
    return q


def record(
    request: web.Request,
    resp: web.StreamResponse | None,
    status: int,
    started: float,
    seconds: float,
    operation: str,
    received: int,
    sent: int,
    node: str,
) -> dict[str, Any]:
    """madmin's TraceInfo for one answered request."""
    s3 = "." not in operation and not operation.startswith("<")
    ns = int(seconds * 1e9)
    req_headers = _headers(request.headers.items())
    resp_headers = _headers(resp.headers.items()) if resp is not None else {}
    return {
        "type": TRACE_S3 if s3 else TRACE_INTERNAL,
        "nodename": node,
        "funcname": ("s3." + operation) if s3 else operation,
        "time": _go_time(started),
        "path": request.raw_path.split("?", 1)[0],
        "dur": ns,
        "bytes": received + sent,
        "custom": {"pid": str(os.getpid())},  # which worker process answered (s3gw serve --workers)
        "http": {
            "request": {
                "time": _go_time(started),
                "proto": f"HTTP/{request.version.major}.{request.version.minor}",
                "method": request.method,
                "path": request.raw_path.split("?", 1)[0],
                "rawquery": _query(request),
                "headers": req_headers,
                "client": request.remote or "",
            },
            "response": {"time": _go_time(started + seconds), "headers": resp_headers, "statuscode": status},
            "stats": {"inputbytes": received, "outputbytes": sent, "latency": ns, "timetofirstbyte": ns},
        },
    }


def operation_name(path: str, s3_operation: str | None) -> str:
    """madmin's funcname without the ``s3.`` prefix: the S3 operation, else the API it belongs to."""
    if s3_operation == "AssumeRole":
        return "sts.AssumeRole"
    if s3_operation:
        return s3_operation
    if path.startswith("/minio/admin/"):
        tail = re.sub(r"^(s3gw/)?v\d+/", "", path.split("/minio/admin/", 1)[1])
        return "admin." + "".join(w.capitalize() for w in re.split(r"[-/]", tail) if w)
    if path.startswith(("/minio/health/", "/health/")):
        return "health." + path.rstrip("/").rsplit("/", 1)[-1].capitalize()
    if path.startswith(("/metrics", "/minio/v2/metrics")):
        return "metrics.Prometheus"
    return "<unknown>"


__all__ = ["TRACE_INTERNAL", "TRACE_S3", "TraceFilter", "TraceHub", "operation_name", "record", "trace_dir"]
