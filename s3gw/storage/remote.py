"""The remote form of the drive interface: drives of storage nodes over HTTP,
and the cluster that tracks which nodes are up.

``RemoteDrive`` is the straight mapping of ``Drive`` onto the node protocol
(``nodes/protocol.py``, ``nodes/server.py``): a shard write is one streamed
PUT, a block-range read one GET whose frames are verified *here*, against
their bitrot hashes, so corruption on the disk or on the wire is caught the
same way. Node errors come back as the node error vocabulary (rebuilt from the
JSON ``code``), so ``Storage`` cannot tell a remote drive from a local one.

``Cluster`` probes every node periodically (``GET /v1/health``); a node that
refuses a probe's connection, refuses our secret, cannot prove it holds the
secret, or drops a connection is marked down at once, one whose probes time
out after ``PROBE_MISSES`` rounds in a row, and new placements skip it until a
probe succeeds again. Drives are learned from the probes: their ids are
``<node id>/<drive name>`` as the node reports them.
"""

from __future__ import annotations

import asyncio
import json
import logging
import ssl
import time
from collections.abc import AsyncIterable, AsyncIterator, Callable, Sequence
from typing import Any, cast
from urllib.parse import quote

import aiohttp
from yarl import URL

from nodes.errors import ERRORS_BY_CODE, DriveError, NodeError
from nodes.protocol import (
    API,
    AUTH_HEADER,
    BODY_MACS,
    BODY_NONE,
    PROOF_HEADER,
    BodyMac,
    check_proof,
    end_record,
    sign_request,
)
from nodes.shardstore import Capacity, ShardHeader, ShardStat, verify_frames

from .drive import Drive

log = logging.getLogger(__name__)

Buffer = bytes | bytearray | memoryview

#: health probes that time out in a row before a node is marked down (NodeClient.probe)
PROBE_MISSES = 3

#: an upload body, made once the request is signed: (signature, MAC algorithm) -> the bytes to send
Upload = Callable[[str, str], AsyncIterable[bytes]]


def tls_context(ca_file: str | None) -> ssl.SSLContext | None:
    """How https:// node URLs are verified: against ``ca_file`` (PEM), else the system's CAs."""
    return ssl.create_default_context(cafile=ca_file) if ca_file else None


class NodeUnreachable(DriveError):
    code = "DriveError"


class NodeRefused(DriveError):
    """The node refused our secret, or answered without proving it holds it."""

    code = "DriveError"


def _error_from(status: int, body: bytes) -> NodeError:
    try:
        doc = json.loads(body)
        code, message = str(doc.get("code", "")), str(doc.get("message", ""))
    except (ValueError, AttributeError):
        code, message = "", body[:200].decode("utf-8", "replace")
    if code in ("Unauthorized", "Forbidden") or status in (401, 403):
        return NodeRefused(f"node refused the request ({status}): {message}")
    cls = ERRORS_BY_CODE.get(code)
    if cls is None:
        cls = DriveError
    return cls(message or f"HTTP {status}")


class NodeClient:
    """One storage node: its URL, what the last probe said, and signed requests."""

    def __init__(
        self,
        url: str,
        secret: bytes,
        *,
        connect_timeout: float = 3.0,
        probe_timeout: float = 3.0,
        read_timeout: float = 30.0,
        write_timeout: float = 60.0,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.secret = secret
        self.ssl_context = ssl_context  # https:// URLs: verified against it (None: system CAs)
        self.connect_timeout = connect_timeout
        self.probe_timeout = probe_timeout
        self.read_timeout = read_timeout
        self.write_timeout = write_timeout
        self.node_id: str | None = None
        self.online = False
        self.last_error: str | None = "not probed yet"
        self.last_probe = 0.0
        self.last_seen = 0.0
        self.missed = 0  # health probes timed out in a row
        self.came_up = 0  # times a probe found it up after it was down
        self.drives: dict[str, dict[str, Any]] = {}  # drive name -> last health report
        self._session: aiohttp.ClientSession | None = None

    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(
                    limit=64, force_close=False, ssl=self.ssl_context if self.ssl_context is not None else True
                ),
                auto_decompress=False,
                skip_auto_headers=("Accept-Encoding", "User-Agent"),
            )
        return self._session

    def mark_down(self, why: str) -> None:
        if self.online:
            log.warning("node %s (%s) marked down: %s", self.node_id, self.url, why)
        self.online = False
        self.last_error = why

    @staticmethod
    def raw_path(path: str, query: dict[str, Any] | None = None) -> str:
        """Path and query exactly as sent (and signed).

        >>> NodeClient.raw_path("/v1/drives/d1/shards/ab.0", {"first": 0, "count": 2})
        '/v1/drives/d1/shards/ab.0?count=2&first=0'
        """
        if not query:
            return path
        qs = "&".join(f"{quote(str(k), safe='')}={quote(str(v), safe='')}" for k, v in sorted(query.items()))
        return f"{path}?{qs}"

    def _prepare(
        self, method: str, path: str, query: dict[str, Any] | None, body: str = BODY_NONE
    ) -> tuple[URL, dict[str, Any], str]:
        raw = self.raw_path(path, query)
        header, sig = sign_request(self.secret, method, raw, body=body)
        return URL(self.url + raw, encoded=True), {AUTH_HEADER: header}, sig

    async def request(
        self,
        method: str,
        path: str,
        query: dict[str, Any] | None = None,
        *,
        upload: Upload | None = None,
        timeout: aiohttp.ClientTimeout | None = None,
    ) -> tuple[int, Any, bytes]:
        """(status, headers, body) of a verified answer; NodeError for an error
        answer, NodeUnreachable / NodeRefused as their names say. ``upload``
        makes the body of a shard PUT from the request's signature (its end
        record carries the body MAC, nodes/protocol.py)."""
        algo = BODY_MACS[0] if upload is not None else BODY_NONE
        url, headers, sig = self._prepare(method, path, query, algo)
        data = upload(sig, algo) if upload is not None else None
        timeout = timeout or aiohttp.ClientTimeout(
            total=None, sock_connect=self.connect_timeout, sock_read=self.read_timeout
        )
        try:
            async with self.session().request(method, url, headers=headers, data=data, timeout=timeout) as resp:
                body = await resp.read()
                status, rheaders = resp.status, resp.headers
        except (aiohttp.ClientConnectorError, aiohttp.ServerDisconnectedError, ConnectionResetError) as e:
            self.mark_down(f"unreachable: {e}")
            raise NodeUnreachable(f"node {self.url} unreachable: {e}") from e
        except aiohttp.ClientError as e:
            raise DriveError(f"node {self.url}: {type(e).__name__}: {e}") from e
        if not check_proof(self.secret, sig, rheaders.get(PROOF_HEADER)):
            err = (
                _error_from(status, body)
                if status in (401, 403)
                else NodeRefused(f"node {self.url} did not prove it holds the cluster secret")
            )
            self.mark_down(str(err))
            raise err
        if status >= 300:
            raise _error_from(status, body)
        return status, rheaders, body

    async def json(self, method: str, path: str, query: dict[str, Any] | None = None, **kw: Any) -> Any:
        _, _, body = await self.request(method, path, query, **kw)
        return json.loads(body)

    async def probe(self) -> dict[str, Any]:
        """GET /v1/health; updates the node's state. Never raises.

        A node that refuses the connection, refuses our secret or answers
        garbage is marked down at once. A probe that merely times out is a
        *miss*: a node busy with fsyncs on a loaded machine can be slow to
        answer its health check, and flapping it offline would refuse writes
        for nothing. ``PROBE_MISSES`` misses in a row mark it down (a hung
        node, SIGSTOPped say, is down after that many probe rounds; its
        requests meanwhile end at their own timeouts).
        """
        self.last_probe = time.time()
        try:
            doc = await asyncio.wait_for(
                self.json("GET", f"{API}/health", timeout=aiohttp.ClientTimeout(total=self.probe_timeout)),
                self.probe_timeout + 1,
            )
        except (TimeoutError, aiohttp.ServerTimeoutError) as e:
            self.missed += 1
            why = f"health probe timed out ({self.missed} in a row){': ' + str(e) if str(e) else ''}"
            if self.missed >= PROBE_MISSES or not self.online:
                self.mark_down(why)
            else:
                log.info("node %s (%s): %s", self.node_id, self.url, why)
            return {}
        except Exception as e:  # unreachable, refused, garbage
            self.mark_down(f"{type(e).__name__}: {e}" if str(e) else type(e).__name__)
            return {}
        if not self.online:
            log.info("node %s (%s) is up", doc.get("node_id"), self.url)
            self.came_up += 1
        self.node_id = str(doc["node_id"])
        self.drives = {d["name"]: d for d in doc.get("drives", [])}
        self.online = True
        self.missed = 0
        self.last_error = None
        self.last_seen = time.time()
        return dict(doc)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()


class RemoteDrive(Drive):
    """Drive ``name`` (``d1`` ...) of a storage node."""

    def __init__(self, node: NodeClient, name: str, drive_id: str) -> None:
        self.node = node
        self.name = name
        self.id = drive_id
        self.node_id = node.node_id or node.url

    def _path(self, shard: str = "", suffix: str = "") -> str:
        base = f"{API}/drives/{self.name}"
        return f"{base}/shards/{shard}{suffix}" if shard else base

    @property
    def online(self) -> bool:
        d = self.node.drives.get(self.name)
        return self.node.online and bool(d and d.get("ok"))

    async def write_shard(
        self, name: str, frames: AsyncIterable[Sequence[Buffer]], *, block_size: int, hash_algo: str
    ) -> ShardStat:
        secret = self.node.secret

        async def body(sig: str, algo: str) -> AsyncIterator[bytes]:
            # streamed as it comes, MACed on the way (off the event loop: hashing releases the GIL)
            loop = asyncio.get_running_loop()
            mac = BodyMac(secret, sig, algo)
            total = 0
            async for batch in frames:
                chunk = b"".join(batch)
                total += len(chunk)
                await loop.run_in_executor(None, mac.update, chunk)
                yield chunk
            yield end_record(total, mac.digest(total))

        timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=self.node.connect_timeout, sock_read=self.node.write_timeout
        )
        doc = await self.node.json(
            "PUT", self._path(name), {"block_size": block_size, "hash": hash_algo}, upload=body, timeout=timeout
        )
        return ShardStat(**doc)

    async def read_blocks(
        self, name: str, first: int, count: int, *, block_size: int | None = None, hash_algo: str | None = None
    ) -> list[Buffer | None]:
        q: dict[str, Any] = {"first": first, "count": count}
        if block_size is not None:
            q["block_size"] = block_size
        if hash_algo is not None:
            q["hash"] = hash_algo
        _, h, data = await self.node.request("GET", self._path(name), q)
        try:
            header = ShardHeader(name, int(h["x-s3gw-block-size"]), h["x-s3gw-hash"], int(h["x-s3gw-hash-len"]))
            lengths = [int(x) for x in h["x-s3gw-lengths"].split(",") if x] if count else []
        except (KeyError, ValueError) as e:
            raise DriveError(f"malformed frames answer from {self.node.url}: {e}") from e
        if len(lengths) != count:
            raise DriveError(f"node {self.node.url} answered {len(lengths)} blocks, asked {count}")
        # Verification hashes every byte: off the event loop (blake3 releases the GIL).
        blocks = await asyncio.get_running_loop().run_in_executor(None, verify_frames, header, data, lengths)
        return cast("list[Buffer | None]", blocks)  # list is invariant: memoryviews are Buffers

    async def stat_shard(self, name: str) -> ShardStat:
        return ShardStat(**await self.node.json("GET", self._path(name, "/stat")))

    async def scrub_shard(self, name: str) -> list[int]:
        timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=self.node.connect_timeout, sock_read=max(self.node.read_timeout, 300.0)
        )
        doc = await self.node.json("POST", self._path(name, "/scrub"), timeout=timeout)
        return [int(i) for i in doc["bad"]]

    async def delete_shard(self, name: str) -> bool:
        return bool((await self.node.json("DELETE", self._path(name)))["deleted"])

    async def list_shards(self, prefix: str = "") -> AsyncIterator[str]:
        for fan in range(256):
            q = {"fan": f"{fan:02x}", **({"prefix": prefix} if prefix else {})}
            for n in (await self.node.json("GET", f"{self._path()}/list", q))["names"]:
                yield n

    async def capacity(self) -> Capacity:
        return Capacity(**await self.node.json("GET", f"{self._path()}/capacity"))

    async def health(self) -> dict[str, Any]:
        d = self.node.drives.get(self.name, {})
        return {
            "id": self.id,
            "node_id": self.node_id,
            "url": self.node.url,
            **{k: v for k, v in d.items() if k not in ("name", "drive_id")},
            "ok": self.online,
            "error": self.node.last_error or d.get("error"),
        }


class Cluster:
    """The storage nodes, their health, and the drives they report."""

    def __init__(
        self,
        urls: Sequence[str],
        secret: bytes,
        *,
        probe_interval: float = 2.0,
        ca_file: str | None = None,
        **client_options: Any,
    ) -> None:
        if not urls:
            raise ValueError("a cluster needs at least one node URL")
        ctx = tls_context(ca_file)
        self.nodes = [NodeClient(u, secret, ssl_context=ctx, **client_options) for u in urls]
        self.probe_interval = probe_interval
        self.drives: dict[str, RemoteDrive] = {}
        self._task: asyncio.Task[Any] | None = None
        self._on_drive: Any = None

    async def probe_all(self) -> None:
        await asyncio.gather(*(n.probe() for n in self.nodes))
        for node in self.nodes:
            if node.node_id is None:
                continue
            for name in node.drives:
                did = f"{node.node_id}/{name}"
                d = self.drives.get(did)
                if d is None or d.node is not node:
                    d = RemoteDrive(node, name, did)
                    self.drives[did] = d
                    if self._on_drive is not None:
                        self._on_drive(d)

    async def start(self, on_drive: Any) -> None:
        """First probe of every node (the gateway starts even with nodes down),
        then one probe round every ``probe_interval`` seconds."""
        self._on_drive = on_drive
        for d in self.drives.values():
            on_drive(d)
        await self.probe_all()
        self._task = asyncio.create_task(self._loop(), name="node prober")

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.probe_interval)
            try:
                await self.probe_all()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("node probe round failed")

    def state(self, drive_id: str) -> str:
        """'online', 'offline' (known, or possibly on a node not reached yet), or
        'gone' (its node answers and does not have it, or no configured node is it)."""
        d = self.drives.get(drive_id)
        if d is not None:
            if d.online:
                return "online"
            if d.node.online and d.name not in d.node.drives:
                return "gone"
            return "offline"
        node_id = drive_id.rpartition("/")[0]
        if any(n.node_id is None for n in self.nodes):
            return "offline"  # an unreached node may be that one
        if any(n.node_id == node_id for n in self.nodes):
            return "offline" if not any(n.node_id == node_id and n.online for n in self.nodes) else "gone"
        return "gone"

    @property
    def epoch(self) -> int:
        """Grows whenever a node comes (back) up."""
        return sum(n.came_up for n in self.nodes)

    def info(self) -> list[dict[str, Any]]:
        return [
            {
                "url": n.url,
                "node_id": n.node_id,
                "online": n.online,
                "error": n.last_error,
                "last_seen": n.last_seen,
                "drives": sorted(n.drives),
            }
            for n in self.nodes
        ]

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        await asyncio.gather(*(n.close() for n in self.nodes))
