"""The storage-node wire protocol, shared by the node daemon and its client.

Everything here is pure (no I/O), so the gateway's remote drive
(``s3gw/storage/remote.py``) and the daemon (``nodes/server.py``) agree on it by
construction.

Authentication (every request, health included)
------------------------------------------------

Nodes and gateways share one *cluster secret*. A request carries::

    x-s3gw-node-auth: <unix seconds>:<nonce>:<body>:<hex HMAC-SHA256(secret, STRING)>
    STRING = "s3gw-node-v2\\n" METHOD "\\n" RAW-PATH-AND-QUERY "\\n" SECONDS "\\n" NONCE "\\n" BODY

``NONCE`` is 32 random hex digits, new for every request. ``BODY`` says how the
body is authenticated: ``none`` (the request has no body; a node refuses one
that has), or, for a shard upload, the algorithm of the MAC the upload stream
ends with (``blake3`` or ``sha256``, below). No header, or one that does not
parse: 401. A signature that does not match, a clock more than ``MAX_SKEW``
seconds away, or a nonce the node has already seen within that window (a
replay: ``ReplayGuard``): 403. Nothing is read or touched before the check
passes. Every answer then carries::

    x-s3gw-node-proof: <hex HMAC-SHA256(secret, "s3gw-node-proof\\n" + request signature)>

so the gateway refuses a "node" that does not hold the secret, too (an
impostor cannot produce the proof for a fresh request signature).

Shard upload stream
-------------------

``PUT .../shards/<name>?block_size=B&hash=ALGO`` sends the frames of the shard
back to back (``hash(block) || block``, every block ``B`` bytes but the last),
then a 48-byte *end record*: ``b"S3GWEND2"``, the number of frame bytes before
it (u64 little-endian), and the 32-byte *body MAC* over the frames and that
count (``BodyMac``: keyed BLAKE3 or HMAC-SHA256, with a key derived from the
secret and this request's signature, so a body can neither be altered nor
moved to another request). The node computes the MAC as the frames arrive and
commits only when the stream ends with a matching end record, so a body
altered in transit, or a gateway that dies mid-upload (a truncated body), never
leaves a committed shard behind. Nothing is buffered: see ``FrameSplitter``.

TLS
---

Nodes serve HTTPS with ``s3gw node --tls-cert/--tls-key``; gateways name them
``https://...`` and verify them with ``--node-ca-file`` (or the system's CAs).
The MACs above hold either way; TLS adds confidentiality and hides the
requests from anyone on the network.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import struct
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

try:  # optional, preferred (as for the bitrot hashes)
    import blake3 as _blake3
except ImportError:  # pragma: no cover - depends on the environment
    _blake3 = None  # type: ignore[assignment]

AUTH_HEADER = "x-s3gw-node-auth"
PROOF_HEADER = "x-s3gw-node-proof"
PROTOCOL_VERSION = "s3gw-node-v2"  # the first line of every signed request: the node protocol, not a release
MAX_SKEW = 300  # seconds
MIN_SECRET = 16  # bytes
API = "/v1"

BODY_NONE = "none"
#: MAC algorithms of an upload stream, preferred first
BODY_MACS = ("blake3", "sha256") if _blake3 is not None else ("sha256",)
_BODY_MODES = {BODY_NONE, "blake3", "sha256"}

END_MAGIC = b"S3GWEND2"
END_RECORD = struct.Struct("<8sQ32s")
END_LEN = END_RECORD.size  # 48

_NONCE = re.compile(r"[0-9a-f]{32}")
_SIG = re.compile(r"[0-9a-f]{64}")

#: node error code -> HTTP status (the client rebuilds the error from the code)
STATUS_BY_CODE = {
    "InvalidShardName": 400,
    "BadRequest": 400,
    "UnsupportedHash": 400,
    "ShardIncomplete": 400,
    "Unauthorized": 401,
    "Forbidden": 403,
    "ShardNotFound": 404,
    "DriveNotFound": 404,
    "ChecksumMismatch": 409,
    "DriveError": 503,
    "DiskFull": 507,
    "NodeError": 500,
}


class AuthFailure(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def load_secret(path: str) -> bytes:
    """The cluster secret from a file (surrounding whitespace stripped)."""
    with open(path, "rb") as f:
        secret = f.read().strip()
    if len(secret) < MIN_SECRET:
        raise ValueError(f"{path}: the cluster secret must be at least {MIN_SECRET} bytes")
    return secret


def is_digits(text: str, max_len: int) -> bool:
    """ASCII digits only, 1 to ``max_len`` of them (``str.isdigit`` takes "²" and other scripts' digits).

    >>> is_digits("1700000000", 12), is_digits("²", 12), is_digits("١٢", 12), is_digits("9" * 13, 12)
    (True, False, False, False)
    """
    return 0 < len(text) <= max_len and text.isascii() and text.isdigit()


def _mac(secret: bytes, msg: str) -> str:
    return hmac.new(secret, msg.encode(), hashlib.sha256).hexdigest()


def string_to_sign(method: str, raw_path: str, ts: int, nonce: str, body: str) -> str:
    """
    >>> string_to_sign("GET", "/v1/health", 1700000000, "0" * 32, "none")
    's3gw-node-v2\\nGET\\n/v1/health\\n1700000000\\n00000000000000000000000000000000\\nnone'
    """
    return f"{PROTOCOL_VERSION}\n{method.upper()}\n{raw_path}\n{ts}\n{nonce}\n{body}"


def sign_request(
    secret: bytes,
    method: str,
    raw_path: str,
    now: float | None = None,
    *,
    body: str = BODY_NONE,
    nonce: str | None = None,
) -> tuple[str, str]:
    """(header value, signature) for a request to ``raw_path`` (path and query,
    exactly as sent on the wire); ``body``: ``BODY_NONE`` or an upload's MAC algorithm."""
    ts = int(time.time() if now is None else now)
    nonce = nonce or secrets.token_hex(16)
    sig = _mac(secret, string_to_sign(method, raw_path, ts, nonce, body))
    return f"{ts}:{nonce}:{body}:{sig}", sig


@dataclass(frozen=True)
class Signed:
    """What an authenticated request's header said."""

    sig: str
    ts: int
    nonce: str
    body: str


def verify_request(secret: bytes, method: str, raw_path: str, header: str | None, now: float | None = None) -> Signed:
    """The request's signed fields when ``header`` authenticates it, else AuthFailure
    (401 without credentials, 403 with wrong ones). Replays are ``ReplayGuard``'s.

    >>> s = b"k" * 16
    >>> h, sig = sign_request(s, "GET", "/v1/health", now=1000)
    >>> verify_request(s, "GET", "/v1/health", h, now=1001).sig == sig
    True
    >>> verify_request(b"x" * 16, "GET", "/v1/health", h, now=1001)
    Traceback (most recent call last):
    ...
    nodes.protocol.AuthFailure: bad node signature
    """
    if not header:
        raise AuthFailure(401, "missing node credentials")
    parts = header.split(":")
    if len(parts) != 4:
        raise AuthFailure(401, "malformed node credentials")
    ts_s, nonce, body, sig = parts
    if not is_digits(ts_s, 12) or not _NONCE.fullmatch(nonce) or body not in _BODY_MODES or not _SIG.fullmatch(sig):
        raise AuthFailure(401, "malformed node credentials")
    ts = int(ts_s)
    t = time.time() if now is None else now
    if abs(t - ts) > MAX_SKEW:
        raise AuthFailure(403, "node request time too skewed")
    want = _mac(secret, string_to_sign(method, raw_path, ts, nonce, body))
    if not hmac.compare_digest(want, sig):
        raise AuthFailure(403, "bad node signature")
    return Signed(sig, ts, nonce, body)


class ReplayGuard:
    """The nonces of authenticated requests, each kept until its timestamp leaves
    the skew window (after which the timestamp check refuses it anyway); a nonce
    seen twice is a replay. Bounded: past ``max_entries`` live nonces new
    requests are refused (503) rather than the guard forgetting a live one.

    >>> g = ReplayGuard()
    >>> g.check(Signed("s", 1000, "a" * 32, "none"), now=1000)
    >>> g.check(Signed("s", 1000, "a" * 32, "none"), now=1001)
    Traceback (most recent call last):
    ...
    nodes.protocol.AuthFailure: replayed node request
    >>> g.check(Signed("s", 1000, "a" * 32, "none"), now=1000 + MAX_SKEW + 1) is None  # (the skew check refuses it)
    True
    """

    def __init__(self, max_entries: int = 1_000_000) -> None:
        self.max_entries = max_entries
        self._seen: OrderedDict[str, float] = OrderedDict()  # nonce -> when it may be forgotten

    def check(self, signed: Signed, now: float | None = None) -> None:
        t = time.time() if now is None else now
        # entries are in arrival order; forget the expired ones at the front
        while self._seen:
            nonce, until = next(iter(self._seen.items()))
            if until >= t:
                break
            self._seen.popitem(last=False)
        if signed.nonce in self._seen:
            raise AuthFailure(403, "replayed node request")
        if len(self._seen) >= self.max_entries:
            raise AuthFailure(503, "too many node requests within the replay window")
        self._seen[signed.nonce] = signed.ts + MAX_SKEW

    def __len__(self) -> int:
        return len(self._seen)


def proof(secret: bytes, request_sig: str) -> str:
    return _mac(secret, "s3gw-node-proof\n" + request_sig)


def check_proof(secret: bytes, request_sig: str, value: str | None) -> bool:
    return value is not None and hmac.compare_digest(proof(secret, request_sig), value)


class BodyMac:
    """The MAC of an upload stream: keyed by the secret, bound to one request's signature.

    ``update`` with the frames as they go (hashing releases the GIL: callers run
    it off the event loop); ``digest`` with the frame byte count, as the end record
    carries it.

    >>> m = BodyMac(b"k" * 16, "sig", "sha256"); m.update(b"frames")
    >>> len(m.digest(6))
    32
    """

    def __init__(self, secret: bytes, request_sig: str, algo: str) -> None:
        key = hmac.new(secret, f"s3gw-node-body\n{request_sig}".encode(), hashlib.sha256).digest()
        self._h: Any
        if algo == "blake3" and _blake3 is not None:
            self._h = _blake3.blake3(key=key)
        elif algo == "sha256":
            self._h = hmac.new(key, digestmod=hashlib.sha256)
        else:
            raise ValueError(f"body MAC {algo!r} is not available")

    def update(self, data: Any) -> None:
        self._h.update(data)

    def digest(self, frame_bytes: int) -> bytes:
        self._h.update(struct.pack("<Q", frame_bytes))
        return bytes(self._h.digest())[:32]


def end_record(frame_bytes: int, mac: bytes) -> bytes:
    return END_RECORD.pack(END_MAGIC, frame_bytes, mac)


class StreamError(ValueError):
    """The upload stream is not frames followed by a matching end record."""


class FrameSplitter:
    """Cuts an upload stream into whole frames as it arrives.

    Full frames (``hash_len + block_size`` bytes) are released as soon as
    enough bytes are buffered, always holding back the last ``END_LEN`` bytes,
    which may be the end record. ``finish`` checks the end record and returns
    the final (possibly short) frame.

    >>> fs = FrameSplitter(block_size=4, hash_len=2)    # frames of 6 bytes
    >>> body = b"hhabcd" + b"hhxy" + end_record(10, b"m" * 32)
    >>> fs.feed(body[:13]), fs.feed(body[13:])
    ([], [(b'hhabcd', 4)])
    >>> fs.finish(), fs.end_mac == b"m" * 32
    ([(b'hhxy', 2)], True)
    >>> FrameSplitter(4, 2).feed(b"hhab") or "nothing yet"
    'nothing yet'
    """

    def __init__(self, block_size: int, hash_len: int) -> None:
        self.block_size = block_size
        self.hash_len = hash_len
        self.stride = block_size + hash_len
        self._buf = bytearray()
        self.frame_bytes = 0
        self.end_mac = b""  # the body MAC of the end record, once ``finish`` has read it

    def feed(self, data: bytes) -> list[tuple[bytes, int]]:
        """Whole frames now available: (frames back to back, block length of each)
        -- one entry holding every complete frame, or none."""
        self._buf += data
        avail = len(self._buf) - END_LEN
        n = avail // self.stride if avail > 0 else 0
        if n == 0:
            return []
        take = n * self.stride
        out = bytes(self._buf[:take])
        del self._buf[:take]
        self.frame_bytes += take
        return [(out, self.block_size)] if n == 1 else [(out, -n)]

    def finish(self) -> list[tuple[bytes, int]]:
        """Check the end record; the final frame (if any), as (bytes, block length)."""
        if len(self._buf) < END_LEN:
            raise StreamError("upload ended without its end record")
        magic, total, mac = END_RECORD.unpack_from(self._buf, len(self._buf) - END_LEN)
        rest = bytes(self._buf[:-END_LEN])
        if magic != END_MAGIC or total != self.frame_bytes + len(rest):
            raise StreamError("upload truncated or malformed (end record mismatch)")
        self.end_mac = mac
        self._buf = bytearray()
        if not rest:
            return []
        if len(rest) > self.stride or len(rest) <= self.hash_len:
            raise StreamError("malformed last frame")
        self.frame_bytes += len(rest)
        return [(rest, len(rest) - self.hash_len)]


def frame_lengths(entry: tuple[bytes, int], block_size: int) -> list[int]:
    """Block lengths of a ``FrameSplitter`` entry (a negative count means that
    many full frames).

    >>> frame_lengths((b"", -3), 4), frame_lengths((b"", 2), 4)
    ([4, 4, 4], [2])
    """
    data, n = entry
    return [block_size] * (-n) if n < 0 else [n]
