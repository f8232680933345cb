"""What a write hands the core: the body (``Payload``) and its options (``PutOptions``).

Shared by the object writes (``service.Core``) and the multipart ones
(``multipart.MultipartMixin``), which import this module and not each other.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Protocol

from ..common.records import Retention
from .sse import SSERequest


class Payload(Protocol):
    """A request body: bytes as they arrive, then its trailers once exhausted.

    ``trailers()`` is where the API layer's verifiers (payload SHA-256, chunk
    signatures, Content-Length) raise; it must be awaited after the last chunk
    and before anything is committed.
    """

    def __aiter__(self) -> AsyncIterator[bytes]: ...

    async def trailers(self) -> dict[str, str]: ...


@dataclass
class PutOptions:
    content_type: str = ""
    user_meta: dict[str, str] = field(default_factory=dict)  # "x-amz-meta-foo": "bar"
    headers: dict[str, str] = field(default_factory=dict)  # cache-control, content-disposition, ...
    content_md5: str | None = None  # base64, as sent
    checksum_algo: str | None = None  # "CRC32", ...
    checksum_value: str | None = None  # from the header; else from the trailer
    storage_class: str = ""
    tags: dict[str, str] = field(default_factory=dict)
    if_match: str | None = None
    if_none_match: str | None = None
    retention: Retention | None = None  # from the lock headers
    legal_hold: str | None = None  # "ON" / "OFF"
    checksum_type: str = "FULL_OBJECT"  # FULL_OBJECT, or COMPOSITE for multipart
    sse: SSERequest | None = None  # the encryption the request asks for (None: the bucket's default, if any)
    # a replication request (X-Minio-Source-Replication-Request, authorised for s3:ReplicateObject):
    # the source's version id and modification time, kept; the version is stored as a REPLICA
    replica_version_id: str | None = None
    replica_mtime: float | None = None


class StreamPayload:
    """An internal body (a copy source) that needs no verification."""

    def __init__(self, it: AsyncIterator[bytes]) -> None:
        self._it = it

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._it

    async def trailers(self) -> dict[str, str]:
        return {}


__all__ = ["Payload", "PutOptions", "StreamPayload"]
