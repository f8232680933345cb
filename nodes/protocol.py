"""The storage-node wire protocol, shared by the node daemon and its client.

Everything here is pure (no I/O), so the gateway's remote drive
(``s3gw/storage/remote.py``) and the daemon (``nodes/server.py``) agree on it by
construction.

Authentication (every request, health included)
------------------------------------------------

Nodes and gateways share one *cluster secret*. A request carries::

    x-s3gw-node-auth: <unix seconds>:<hex HMAC-SHA256(secret, STRING)>
    STRING = "s3gw-node-v1\\n" METHOD "\\n" RAW-PATH-AND-QUERY "\\n" SECONDS

No header, or one that does not parse: 401. A signature that does not match,
or a clock more than ``MAX_SKEW`` seconds away: 403. Nothing is read or
touched before the check passes. Every answer then carries::

    x-s3gw-node-proof: <hex HMAC-SHA256(secret, "s3gw-node-proof\\n" + request signature)>

so the gateway refuses a "node" that does not hold the secret, too (an
impostor cannot produce the proof for a fresh request signature). Bodies are not
covered by the MAC: shard bytes are protected end to end by their bitrot hashes
(checked by the node on the way in and by the gateway on the way out), and the
upload stream ends with an explicit end record (below). A captured request can
be replayed within the skew window; the protocol is meant for a private network
(MinIO's internode RPC makes the same trade with its short-lived JWTs).

Shard upload stream
-------------------

``PUT .../shards/<name>?block_size=B&hash=ALGO`` sends the frames of the shard
back to back (``hash(block) || block``, every block ``B`` bytes but the last),
then a 16-byte *end record*: ``b"S3GWEND1"`` and the number of frame bytes
before it (u64 little-endian). The node commits only when the stream ends with
a matching end record, so a gateway that dies mid-upload (a truncated body)
never leaves a committed shard behind. See ``FrameSplitter``.
"""

from __future__ import annotations

import hashlib
import hmac
import struct
import time

AUTH_HEADER = "x-s3gw-node-auth"
PROOF_HEADER = "x-s3gw-node-proof"
MAX_SKEW = 300           # seconds
MIN_SECRET = 16          # bytes
API = "/v1"

END_MAGIC = b"S3GWEND1"
END_RECORD = struct.Struct("<8sQ")
END_LEN = END_RECORD.size  # 16

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


def string_to_sign(method: str, raw_path: str, ts: int) -> str:
    """
    >>> string_to_sign("GET", "/v1/health", 1700000000)
    's3gw-node-v1\\nGET\\n/v1/health\\n1700000000'
    """
    return f"s3gw-node-v1\n{method.upper()}\n{raw_path}\n{ts}"


def sign_request(secret: bytes, method: str, raw_path: str, now: float | None = None) -> tuple[str, str]:
    """(header value, signature) for a request to ``raw_path`` (path and query,
    exactly as sent on the wire)."""
    ts = int(time.time() if now is None else now)
    sig = _mac(secret, string_to_sign(method, raw_path, ts))
    return f"{ts}:{sig}", sig


def verify_request(secret: bytes, method: str, raw_path: str, header: str | None,
                   now: float | None = None) -> str:
    """The request's signature when ``header`` authenticates it, else AuthFailure
    (401 without credentials, 403 with wrong ones).

    >>> s = b"k" * 16
    >>> h, sig = sign_request(s, "GET", "/v1/health", now=1000)
    >>> verify_request(s, "GET", "/v1/health", h, now=1001) == sig
    True
    >>> verify_request(b"x" * 16, "GET", "/v1/health", h, now=1001)
    Traceback (most recent call last):
    ...
    nodes.protocol.AuthFailure: bad node signature
    """
    if not header:
        raise AuthFailure(401, "missing node credentials")
    ts_s, sep, sig = header.partition(":")
    if not sep or not is_digits(ts_s, 12) or len(sig) != 64:
        raise AuthFailure(401, "malformed node credentials")
    ts = int(ts_s)
    t = time.time() if now is None else now
    if abs(t - ts) > MAX_SKEW:
        raise AuthFailure(403, "node request time too skewed")
    want = _mac(secret, string_to_sign(method, raw_path, ts))
    if not hmac.compare_digest(want, sig):
        raise AuthFailure(403, "bad node signature")
    return sig


def proof(secret: bytes, request_sig: str) -> str:
    return _mac(secret, "s3gw-node-proof\n" + request_sig)


def check_proof(secret: bytes, request_sig: str, value: str | None) -> bool:
    return value is not None and hmac.compare_digest(proof(secret, request_sig), value)


def end_record(frame_bytes: int) -> bytes:
    return END_RECORD.pack(END_MAGIC, frame_bytes)


class StreamError(ValueError):
    """The upload stream is not frames followed by a matching end record."""


class FrameSplitter:
    """Cuts an upload stream into whole frames as it arrives.

    Full frames (``hash_len + block_size`` bytes) are released as soon as
    enough bytes are buffered, always holding back the last ``END_LEN`` bytes,
    which may be the end record. ``finish`` checks the end record and returns
    the final (possibly short) frame.

    >>> fs = FrameSplitter(block_size=4, hash_len=2)    # frames of 6 bytes
    >>> body = b"hhabcd" + b"hhxy" + end_record(10)
    >>> fs.feed(body[:13]), fs.feed(body[13:])
    ([], [(b'hhabcd', 4)])
    >>> fs.finish()
    [(b'hhxy', 2)]
    >>> FrameSplitter(4, 2).feed(b"hhab") or "nothing yet"
    'nothing yet'
    """

    def __init__(self, block_size: int, hash_len: int) -> None:
        self.block_size = block_size
        self.hash_len = hash_len
        self.stride = block_size + hash_len
        self._buf = bytearray()
        self.frame_bytes = 0

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
        magic, total = END_RECORD.unpack_from(self._buf, len(self._buf) - END_LEN)
        rest = bytes(self._buf[:-END_LEN])
        if magic != END_MAGIC or total != self.frame_bytes + len(rest):
            raise StreamError("upload truncated or malformed (end record mismatch)")
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
