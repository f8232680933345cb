"""The stored records every layer reads: a version's info and its layout, typed.

A version row keeps two JSON documents (``versions.info``, ``versions.layout``;
``docs/metadata.md`` has them byte by byte). They are written and read here
only: each record is a dataclass with ``to_json`` (a dict for ``json.dumps``)
and ``from_json`` (from ``json.loads``), and the short names of the wire live
in these two functions of each class, nowhere else. Adding a property of a
version (encryption, replication status, ...) is one field and two lines here.

* ``ObjectInfo``: content type, user metadata, stored response headers,
  checksum, storage class, tags, retention, legal hold (and, for a multipart
  upload in progress, the parts' checksum algorithm and type).
* ``ObjectLayout``: where the data is: one erasure-coded ``ShardSet``, or one
  per ``Part`` of a multipart object. ``layouts()`` lists every shard set a
  version references (what GC, heal, the write intents and the manifest walk).
* ``ShardSet``: one object (or part) as the storage wrote it: its geometry, its
  drives (``placement``) and the shards the write missed (``missing``).

Rules of the format, kept by every ``from_json``/``to_json`` pair:

* Keys are written in the order their class lists them (what the writers
  before these classes wrote for a plain PUT); rows written earlier may hold
  them in another order, and readers never depend on it.
* An empty or absent value is not written (no ``"tags": {}``), except the shard
  set's ``missing``, always written.
* Keys a reader does not know are kept (``extra``) and written back after the
  known ones, so a gateway of an older release that rewrites a version's info
  (a tag change) never drops what a newer one stored.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

#: the shard-set format (``"v"``); a reader refuses another
LAYOUT_VERSION = 1
#: a data id becomes "<data_id>.<index>" on the drives (see nodes.shardstore): no path in it
DATA_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,127}")


class RecordError(ValueError):
    """A stored record that does not parse (wrong type, missing key, impossible geometry)."""


def _extra(d: Mapping[str, Any], known: frozenset[str]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if k not in known}


def _mapping(d: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(d, Mapping):
        raise RecordError(f"{what}: expected an object, got {type(d).__name__}")
    return d


def _str_map(d: Mapping[str, Any], key: str) -> dict[str, str]:
    v = d.get(key)
    if v is None:
        return {}
    if not isinstance(v, Mapping):
        raise RecordError(f"{key}: expected an object")
    return dict(v)


# --------------------------------------------------------------------------- checksums and lock


@dataclass(frozen=True)
class Checksum:
    """A flexible checksum (base64 ``value`` of ``algo``: CRC32, SHA256, ...).

    ``type`` is the object-level kind (FULL_OBJECT or COMPOSITE); a part's own
    checksum inside a multipart layout has none.

    >>> Checksum("CRC32", "AAAAAA==", "FULL_OBJECT").to_json()
    {'algo': 'CRC32', 'value': 'AAAAAA==', 'type': 'FULL_OBJECT'}
    >>> Checksum.from_json({"algo": "SHA1", "value": "x"})
    Checksum(algo='SHA1', value='x', type=None)
    """

    algo: str
    value: str
    type: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"algo": self.algo, "value": self.value}
        if self.type is not None:
            out["type"] = self.type
        return out

    @classmethod
    def from_json(cls, d: Any) -> Checksum:
        d = _mapping(d, "checksum")
        try:
            return cls(str(d["algo"]), str(d["value"]), None if d.get("type") is None else str(d["type"]))
        except KeyError as e:
            raise RecordError(f"checksum without {e}") from None

    def untyped(self) -> Checksum:
        """The checksum without its object-level type (how a part's own is kept)."""
        return replace(self, type=None)


@dataclass(frozen=True)
class Retention:
    """Object lock retention: ``mode`` GOVERNANCE or COMPLIANCE, until ``until`` (epoch seconds).

    >>> Retention("GOVERNANCE", 1900000000.5).to_json()
    {'mode': 'GOVERNANCE', 'until': 1900000000.5}
    """

    mode: str
    until: float

    def to_json(self) -> dict[str, Any]:
        return {"mode": self.mode, "until": self.until}

    @classmethod
    def from_json(cls, d: Any) -> Retention:
        d = _mapping(d, "retention")
        try:
            return cls(str(d["mode"]), d["until"])  # the number as stored (no float(): same bytes back)
        except KeyError as e:
            raise RecordError(f"retention without {e}") from None


# --------------------------------------------------------------------------- server-side encryption


_SSE_KEYS = frozenset({"alg", "key_id", "sealed", "iv", "size", "ctx", "kchk", "kv"})


@dataclass(frozen=True)
class Encryption:
    """How a version's (or an upload's) data is encrypted (core/sse.py; docs/encryption.md).

    ``alg`` is ``AES256`` (SSE-S3), ``aws:kms`` (SSE-KMS) or ``SSE-C``; ``sealed``
    is the object's data key sealed by the KMS under ``key_id`` (SSE-S3/KMS) or
    by the customer's key (SSE-C), base64; ``iv`` (base64) makes the package
    keys of one write unique (a multipart object keeps one per part, in its
    ``Part``); ``size`` is the plaintext size; ``ctx`` the SSE-KMS context the
    client gave; ``kchk`` (SSE-C) a keyed check value of the customer key,
    never the key; ``kv`` the master key version that sealed the data key
    (what a re-wrap looks at).

    >>> e = Encryption("AES256", "k", "c2VhbGVk", iv="aXY=", size=5)
    >>> e.to_json()
    {'alg': 'AES256', 'key_id': 'k', 'sealed': 'c2VhbGVk', 'iv': 'aXY=', 'size': 5}
    >>> Encryption.from_json(e.to_json()) == e
    True
    """

    alg: str
    key_id: str
    sealed: str
    iv: str = ""
    size: int = 0
    context: Mapping[str, str] = field(default_factory=dict)
    key_check: str = ""
    key_version: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"alg": self.alg, "key_id": self.key_id, "sealed": self.sealed}
        if self.iv:
            out["iv"] = self.iv
        out["size"] = self.size
        if self.context:
            out["ctx"] = dict(self.context)
        if self.key_check:
            out["kchk"] = self.key_check
        if self.key_version:
            out["kv"] = self.key_version
        out.update(self.extra)
        return out

    @classmethod
    def from_json(cls, d: Any) -> Encryption:
        d = _mapping(d, "sse")
        try:
            return cls(
                str(d["alg"]),
                str(d.get("key_id", "")),
                str(d.get("sealed", "")),
                str(d.get("iv", "")),
                int(d.get("size", 0)),
                _str_map(d, "ctx"),
                str(d.get("kchk", "")),
                str(d.get("kv", "")),
                _extra(d, _SSE_KEYS),
            )
        except (KeyError, TypeError, ValueError) as e:
            raise RecordError(f"invalid sse: {e}") from e


# --------------------------------------------------------------------------- object info


_INFO_KEYS = frozenset({"ct", "meta", "hdr", "ck", "sc", "tags", "ret", "hold", "ck_algo", "ck_type", "sse", "rs"})


@dataclass
class ObjectInfo:
    """What a version (or an upload in progress, or a part) says about itself besides its data.

    >>> info = ObjectInfo(content_type="text/plain", tags={"a": "b"}, legal_hold="ON")
    >>> info.to_json()
    {'ct': 'text/plain', 'tags': {'a': 'b'}, 'hold': 'ON'}
    >>> ObjectInfo.from_json(info.to_json()) == info
    True
    """

    content_type: str | None = None  # ct: as stored (None: a delete marker, a part)
    user_meta: dict[str, str] = field(default_factory=dict)  # meta: {"x-amz-meta-a": "1"}
    headers: dict[str, str] = field(default_factory=dict)  # hdr: cache-control, expires, ... (lower case)
    checksum: Checksum | None = None  # ck: the object's (a part's) flexible checksum
    storage_class: str | None = None  # sc: absent for STANDARD
    tags: dict[str, str] = field(default_factory=dict)  # tags
    retention: Retention | None = None  # ret
    legal_hold: str | None = None  # hold: "ON" / "OFF"
    checksum_algo: str | None = None  # ck_algo: an upload's parts' algorithm
    checksum_type: str | None = None  # ck_type: FULL_OBJECT / COMPOSITE (uploads)
    sse: Encryption | None = None  # sse: server-side encryption (a part's: its iv and size only)
    # rs: bucket replication: PENDING / COMPLETED / FAILED on the source, REPLICA on a target
    replication_status: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # keys this release does not know, kept

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.content_type is not None:
            out["ct"] = self.content_type
        if self.user_meta:
            out["meta"] = self.user_meta
        if self.headers:
            out["hdr"] = self.headers
        if self.checksum is not None:
            out["ck"] = self.checksum.to_json()
        if self.storage_class is not None:
            out["sc"] = self.storage_class
        if self.tags:
            out["tags"] = self.tags
        if self.retention is not None:
            out["ret"] = self.retention.to_json()
        if self.legal_hold is not None:
            out["hold"] = self.legal_hold
        if self.checksum_algo is not None:
            out["ck_algo"] = self.checksum_algo
        if self.checksum_type is not None:
            out["ck_type"] = self.checksum_type
        if self.sse is not None:
            out["sse"] = self.sse.to_json()
        if self.replication_status is not None:
            out["rs"] = self.replication_status
        out.update(self.extra)
        return out

    @classmethod
    def from_json(cls, d: Any) -> ObjectInfo:
        d = _mapping(d, "info")
        ck, ret, sse = d.get("ck"), d.get("ret"), d.get("sse")
        return cls(
            content_type=d.get("ct"),
            user_meta=_str_map(d, "meta"),
            headers=_str_map(d, "hdr"),
            checksum=Checksum.from_json(ck) if ck else None,
            storage_class=d.get("sc"),
            tags=_str_map(d, "tags"),
            retention=Retention.from_json(ret) if ret else None,
            legal_hold=d.get("hold"),
            checksum_algo=d.get("ck_algo"),
            checksum_type=d.get("ck_type"),
            sse=Encryption.from_json(sse) if sse else None,
            replication_status=d.get("rs"),
            extra=_extra(d, _INFO_KEYS),
        )


# --------------------------------------------------------------------------- layouts


_SHARD_SET_KEYS = frozenset(
    {
        "v",
        "data_id",
        "size",
        "k",
        "m",
        "ec",
        "block_size",
        "frag_size",
        "last_frag_size",
        "stripes",
        "hash",
        "placement",
        "missing",
    }
)


def valid_data_id(data_id: object) -> bool:
    """A data id names shard files: ASCII letters, digits, ``_`` and ``-``, at most 128.

    >>> valid_data_id("9b1f0c2d"), valid_data_id("../x"), valid_data_id("")
    (True, False, False)
    """
    return isinstance(data_id, str) and DATA_ID_RE.fullmatch(data_id) is not None


@dataclass(frozen=True)
class ShardSet:
    """One erasure-coded object (or part) as the storage wrote it: everything needed to read it back.

    ``frag_size`` is the length of each fragment (= shard block) of a full
    stripe, ``last_frag_size`` that of the final stripe (equal when the size is
    a multiple of the block size, 0 for an empty object). Shard ``i`` lives on
    drive ``placement[i]``; ``missing`` lists the shards the write could not
    make durable (healed later).

    >>> s = ShardSet("d1", 5, 2, 1, "stripe", 4, 2, 1, "blake3", ("a", "b", "c"))
    >>> s.n, s.stripes, s.to_json()["placement"]
    (3, 2, ['a', 'b', 'c'])
    >>> ShardSet.from_json(s.to_json()) == s
    True
    """

    data_id: str
    size: int
    k: int
    m: int
    ec: str
    block_size: int
    frag_size: int
    last_frag_size: int
    hash: str
    placement: tuple[str, ...]
    missing: tuple[int, ...] = ()
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def n(self) -> int:
        return self.k + self.m

    @property
    def stripes(self) -> int:
        """Stripes (= blocks per shard): ``storage.erasure.stripe_count``."""
        return -(-self.size // self.block_size)

    def to_json(self) -> dict[str, Any]:
        return {
            "v": LAYOUT_VERSION,
            "data_id": self.data_id,
            "size": self.size,
            "k": self.k,
            "m": self.m,
            "ec": self.ec,
            "block_size": self.block_size,
            "frag_size": self.frag_size,
            "last_frag_size": self.last_frag_size,
            "stripes": self.stripes,
            "hash": self.hash,
            "placement": list(self.placement),
            "missing": list(self.missing),
            **self.extra,
        }

    @classmethod
    def from_json(cls, d: Any) -> ShardSet:
        """Parse and check a stored shard set: its geometry must be possible and its data id a file name."""
        d = _mapping(d, "shard set")
        try:
            if d.get("v", LAYOUT_VERSION) != LAYOUT_VERSION:
                raise ValueError(f"layout version {d.get('v')}")
            s = cls(
                str(d["data_id"]),
                int(d["size"]),
                int(d["k"]),
                int(d["m"]),
                str(d["ec"]),
                int(d["block_size"]),
                int(d["frag_size"]),
                int(d["last_frag_size"]),
                str(d["hash"]),
                tuple(str(p) for p in d["placement"]),
                tuple(sorted(int(i) for i in d.get("missing", ()))),
                _extra(d, _SHARD_SET_KEYS),
            )
        except (KeyError, TypeError, ValueError) as e:
            raise RecordError(f"invalid layout: {e}") from e
        if (
            s.size < 0
            or s.k < 1
            or s.m < 0
            or s.block_size < 1
            or len(s.placement) != s.n
            or not valid_data_id(s.data_id)
        ):
            raise RecordError("invalid layout: inconsistent layout")
        return s


_PART_KEYS = frozenset({"number", "size", "etag", "layout", "ck", "iv"})


@dataclass(frozen=True)
class Part:
    """One part of a multipart object: its number as uploaded, size, ETag, shard set and own checksum.

    An encrypted object's part: ``size`` is its plaintext size (the shard set's
    is the ciphertext's) and ``iv`` (base64) the one its write drew (core/sse.py).
    """

    number: int
    size: int
    etag: str
    shards: ShardSet
    checksum: Checksum | None = None  # algorithm and value only (no type)
    iv: str = ""  # an encrypted object's part: the iv of its packages
    extra: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "number": self.number,
            "size": self.size,
            "etag": self.etag,
            "layout": self.shards.to_json(),
        }
        if self.checksum is not None:
            out["ck"] = self.checksum.to_json()
        if self.iv:
            out["iv"] = self.iv
        out.update(self.extra)
        return out

    @classmethod
    def from_json(cls, d: Any) -> Part:
        d = _mapping(d, "part")
        try:
            ck = d.get("ck")
            return cls(
                int(d["number"]),
                int(d["size"]),
                str(d["etag"]),
                ShardSet.from_json(d["layout"]),
                Checksum.from_json(ck) if ck else None,
                str(d.get("iv", "")),
                _extra(d, _PART_KEYS),
            )
        except (KeyError, TypeError, ValueError) as e:
            if isinstance(e, RecordError):
                raise
            raise RecordError(f"invalid part: {e}") from e


@dataclass(frozen=True)
class ObjectLayout:
    """Where a version's data is: one shard set (``shards``), or one per part (``parts``).

    On the wire a single shard set is its own JSON; a multipart object's is
    ``{"parts": [...]}``.

    >>> s = ShardSet("d1", 5, 2, 1, "stripe", 4, 2, 1, "blake3", ("a", "b", "c"))
    >>> one = ObjectLayout.single(s)
    >>> [x.data_id for x in one.layouts()], ObjectLayout.from_json(one.to_json()) == one
    (['d1'], True)
    >>> two = ObjectLayout.multipart([Part(1, 5, "e", s), Part(2, 5, "f", s)])
    >>> list(two.to_json()), len(two.layouts())
    (['parts'], 2)
    """

    shards: ShardSet | None = None
    parts: tuple[Part, ...] | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)  # beside "parts" (a multipart layout)

    def __post_init__(self) -> None:
        if (self.shards is None) == (self.parts is None):
            raise RecordError("a layout is one shard set or a list of parts")

    @classmethod
    def single(cls, shards: ShardSet) -> ObjectLayout:
        return cls(shards=shards)

    @classmethod
    def multipart(cls, parts: list[Part] | tuple[Part, ...]) -> ObjectLayout:
        return cls(parts=tuple(parts))

    def layouts(self) -> list[ShardSet]:
        """Every shard set this version references, in the order of its bytes."""
        if self.parts is not None:
            return [p.shards for p in self.parts]
        assert self.shards is not None
        return [self.shards]

    def segments(self) -> list[tuple[int, ShardSet]]:
        """(bytes, shard set) in the order of the object's bytes."""
        if self.parts is not None:
            return [(p.size, p.shards) for p in self.parts]
        assert self.shards is not None
        return [(self.shards.size, self.shards)]

    def with_layout(self, index: int, shards: ShardSet) -> ObjectLayout:
        """This layout with its ``index``-th shard set (as ``layouts()`` lists them) replaced."""
        if self.parts is None:
            if index != 0:
                raise IndexError(index)
            return replace(self, shards=shards)
        parts = list(self.parts)
        parts[index] = replace(parts[index], shards=shards)
        return replace(self, parts=tuple(parts))

    def to_json(self) -> dict[str, Any]:
        if self.parts is not None:
            return {"parts": [p.to_json() for p in self.parts], **self.extra}
        assert self.shards is not None
        return self.shards.to_json()

    @classmethod
    def from_json(cls, d: Any) -> ObjectLayout:
        d = _mapping(d, "layout")
        if "parts" in d:
            parts = d["parts"]
            if not isinstance(parts, list):
                raise RecordError("layout: parts is not a list")
            return cls(parts=tuple(Part.from_json(p) for p in parts), extra=_extra(d, frozenset({"parts"})))
        return cls(shards=ShardSet.from_json(d))


__all__ = [
    "DATA_ID_RE",
    "LAYOUT_VERSION",
    "Checksum",
    "Encryption",
    "ObjectInfo",
    "ObjectLayout",
    "Part",
    "RecordError",
    "Retention",
    "ShardSet",
    "valid_data_id",
]
